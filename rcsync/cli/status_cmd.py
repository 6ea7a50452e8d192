"""`status` and `conflicts`: what is in the archive, what is waiting, what collided."""

from __future__ import annotations

from typing import Any

import click

from rcsync.cli.app import App
from rcsync.cli.options import json_option
from rcsync.cli.output import local_time, plural

pass_app = click.make_pass_decorator(App)


@click.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Messages by type and availability, pending edits, conflicts, last pull/push, login.

    Works on a read-only database too. Times are local; --json gives them in UTC.

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
    from rcsync.api.tokens import login_state
    from rcsync.store.status import collect_status, empty_status

    if not app.database_path.exists():
        # Nothing pulled yet: report that (and the login state), and create nothing.
        report = empty_status(app.config)
    else:
        conn = app.read_connection()
        try:
            report = collect_status(conn, app.config)
        finally:
            conn.close()
    # The login line comes from the API's token store (no network); it closes the report.
    return report | {"login": login_state(app.config)}


def print_status(app: App) -> None:
    _print_report(app, status_report(app))


def _print_report(app: App, report: dict[str, Any]) -> None:
    # The report is what `status` is for: shown even with -q.
    show = app.output.result
    exists = "" if report.get("database_exists", True) else "  (none yet: run rcsync pull)"
    show(f"database     {report['database']}{exists}")
    show(f"messages     {report['messages']['total']:,}")
    for mtype, by_avail in sorted(report["messages"]["by_type"].items()):
        parts = ", ".join(f"{n:,} {a}" for a, n in sorted(by_avail.items()))
        show(f"  {mtype:<10} {parts}")
    att = report["attachments"]
    show(
        f"attachments  {att['downloaded']:,} downloaded ({att['bytes']:,} bytes),"
        f" {att['skipped']:,} skipped by settings or gone remotely,"
        f" {att['waiting']:,} still to fetch"
    )
    pending = report["pending"]["total"]
    show(f"pending      {plural(pending, 'local edit')} waiting to be pushed")
    for field, n in sorted(report["pending"]["by_field"].items()):
        show(f"  {field:<12} {n:,}")
    conflicts = report["conflicts"]
    hint = " (`rcsync conflicts` lists them)" if conflicts else ""
    show(f"conflicts    {conflicts:,} recorded{hint}")
    show(f"last pull    {local_time(report['last_pull'], seconds=True) or 'never'}")
    show(f"last push    {local_time(report['last_push'], seconds=True) or 'never'}")
    show(f"channel      {_channel_line(app, report.get('notifications'))}")
    show(f"login        {report['login']}")


def _channel_line(app: App, channel: dict[str, Any] | None) -> str:
    """The WebSocket channel as the last `watch` recorded it."""
    if not app.config.sync.push_notifications:
        return "off ([sync] push_notifications = false)"
    if channel is None:
        return "not used yet (rcsync watch subscribes)"
    state = str(channel.get("state", "?"))
    if state == "connected":
        state += f" since {local_time(channel.get('connected_since'), seconds=True)}"
    elif channel.get("detail"):
        state += f" ({channel['detail']})"
    if state.startswith("stopped"):
        state += f" at {local_time(channel.get('updated'), seconds=True)}"
    events = plural(int(channel.get("events") or 0), "event")
    last = local_time(channel.get("last_event"), seconds=True)
    return f"{state}; {events} received" + (f", last {last}" if last else "")


@click.command()
@json_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many, newest first.",
)
@pass_app
def conflicts(app: App, as_json: bool, limit: int) -> None:
    """List the recorded conflicts: a field changed both here and on RingCentral.

    Each row says both values and what rcsync did ([sync] conflict_policy).

    \b
    Examples:
      rcsync conflicts
      rcsync conflicts --json | jq '.conflicts[].message_id'
    """
    from rcsync.store.status import list_conflicts

    rows: list[dict[str, Any]] = []
    total = 0
    if app.database_path.exists():
        conn = app.read_connection()
        try:
            rows, total = list_conflicts(conn, limit=limit)
        finally:
            conn.close()
    if as_json:
        app.output.json({"count": total, "conflicts": rows})
        return
    app.output.table(
        ["detected", "message", "field", "local", "remote", "resolution"],
        [
            (
                local_time(r["detected_at"]),
                r["message_id"],
                r["field"],
                r["local_value"],
                r["remote_value"],
                r["resolution"],
            )
            for r in rows
        ],
        always=True,
    )
    shown = f"showing {len(rows):,} of {total:,} (--limit)" if total > len(rows) else ""
    app.output.result(plural(total, "conflict") + " recorded" + (f"; {shown}" if shown else ""))


COMMANDS: list[click.Command] = [status, conflicts]
