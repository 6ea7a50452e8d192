"""`demo`: the whole main job on the built-in emulator, with nothing configured."""

from __future__ import annotations

import click

from rcsync.cli.placeholder import not_yet


@click.command()
@click.option("--dir", "directory", type=click.Path(), help="Keep the demo here (default: temp).")
def demo(directory: str | None) -> None:
    """Mirror a generated message store from the built-in emulator, then show it.

    \b
    Example:
      rcsync demo --dir ./rcsync-demo
    """
    raise not_yet("demo")


COMMANDS: list[click.Command] = [demo]
