"""`status`: what is in the archive, what is waiting, and when we last talked to RingCentral."""

from __future__ import annotations

from typing import Any

import click

from rcsync.cli.app import App
from rcsync.cli.options import json_option
from rcsync.store.status import collect_status, empty_status

pass_app = click.make_pass_decorator(App)


@click.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Messages by type and availability, pending edits, conflicts, last pull/push, login.

    \b
    Examples:
      rcsync status
      rcsync status --json | jq .pending
    """
    if as_json:
        app.output.json(status_report(app))
        return
    print_status(app)


def status_report(app: App) -> dict[str, Any]:
    if not app.database_path.exists():
        # Nothing pulled yet: report that (and the login state), and create nothing.
        return empty_status(app.config)
    with app.engine(create=False).connect() as conn:
        return collect_status(conn, app.config)


def print_status(app: App) -> None:
    _print_report(app, status_report(app))


def _print_report(app: App, report: dict[str, Any]) -> None:
    out = app.output
    exists = "" if report.get("database_exists", True) else "  (none yet: run rcsync pull)"
    out.echo(f"database     {report['database']}{exists}")
    out.echo(f"messages     {report['messages']['total']:,}")
    for mtype, by_avail in sorted(report["messages"]["by_type"].items()):
        parts = ", ".join(f"{n:,} {a}" for a, n in sorted(by_avail.items()))
        out.echo(f"  {mtype:<10} {parts}")
    att = report["attachments"]
    out.echo(
        f"attachments  {att['downloaded']:,} downloaded ({att['bytes']:,} bytes),"
        f" {att['skipped']:,} skipped by settings or gone remotely,"
        f" {att['waiting']:,} still to fetch"
    )
    out.echo(f"pending      {report['pending']['total']:,} local edits waiting to be pushed")
    for field, n in sorted(report["pending"]["by_field"].items()):
        out.echo(f"  {field:<12} {n:,}")
    out.echo(f"conflicts    {report['conflicts']:,} recorded")
    out.echo(f"last pull    {report['last_pull'] or 'never'}")
    out.echo(f"last push    {report['last_push'] or 'never'}")
    out.echo(f"login        {report['login']}")


COMMANDS: list[click.Command] = [status]
