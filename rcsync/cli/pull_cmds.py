"""`pull` and `search` (placeholders until the pull engine lands)."""

from __future__ import annotations

import click

from rcsync.cli.placeholder import not_yet


@click.command()
@click.option("--full", is_flag=True, help="Full resync (keeps local data and pending edits).")
def pull(full: bool) -> None:
    """Mirror remote → local.

    \b
    Example:
      rcsync pull
    """
    raise not_yet("pull")


@click.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def search(query: str, as_json: bool) -> None:
    """Full-text search over the archive.

    \b
    Example:
      rcsync search "dentist"
    """
    raise not_yet("search")


COMMANDS: list[click.Command] = [pull, search]
