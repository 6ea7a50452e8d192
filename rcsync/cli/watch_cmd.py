"""`watch` (placeholder until the watcher lands)."""

from __future__ import annotations

import click

from rcsync.cli.placeholder import not_yet


@click.command()
def watch() -> None:
    """Run until stopped: push edits as the database changes, pull periodically.

    \b
    Example:
      rcsync watch
    """
    raise not_yet("watch")


COMMANDS: list[click.Command] = [watch]
