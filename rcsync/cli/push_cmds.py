"""`push` and `sync` (placeholders until the push engine lands)."""

from __future__ import annotations

import click

from rcsync.cli.placeholder import not_yet


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
def push(dry_run: bool) -> None:
    """Send pending local edits to RingCentral.

    \b
    Example:
      rcsync push --dry-run
    """
    raise not_yet("push")


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
def sync(dry_run: bool) -> None:
    """Push local edits, then pull remote changes.

    \b
    Example:
      rcsync sync
    """
    raise not_yet("sync")


COMMANDS: list[click.Command] = [push, sync]
