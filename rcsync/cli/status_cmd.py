"""`status` and `conflicts`: what is in the archive, what is waiting, what collided."""

from __future__ import annotations

from typing import Any

import click

from rcsync.cli.app import App
from rcsync.cli.options import extension_option, json_option
from rcsync.cli.output import local_time, plural

pass_app = click.make_pass_decorator(App)


@click.command()
@json_option
@extension_option
@pass_app
def status(app: App, as_json: bool, extension: str | None) -> None:
    """Messages by type and availability, pending edits, conflicts, last pull/push, login.

    Works on a read-only database too. Times are local; --json gives them in UTC.

    \b
    Examples:
      rcsync status
      rcsync status --json | jq .pending
      rcsync status --extension 102
    """
    if as_json:
        app.output.json(status_report(app, extension))
        return
    _print_report(app, status_report(app, extension))


def status_report(app: App, extension: str | None = None) -> dict[str, Any]:
    """The report; with `extension` (a number) its ``extensions`` list has only that one."""
    import datetime as dt

    from rcsync.api.tokens import login_state
    from rcsync.store.retention import empty_retention, retention_report
    from rcsync.store.status import collect_status, empty_status

    if not app.database_path.exists():
        # Nothing pulled yet: report that (and the login state), and create nothing.
        report = empty_status(app.config) | {"retention": empty_retention()}
    else:
        conn = app.read_connection()
        try:
            report = collect_status(conn, app.config)
            report["retention"] = retention_report(conn, dt.datetime.now(dt.UTC))
            if extension is not None:
                report["extensions"] = _only(conn, extension)
        finally:
            conn.close()
    # The login line comes from the API's token store (no network); it closes the report.
    return report | {"login": login_state(app.config)}


def _only(conn: Any, number: str) -> list[dict[str, Any]]:
    from rcsync.errors import ExtensionAccessError
    from rcsync.store.status import extension_id_for, extensions

    found = extension_id_for(conn, number)
    if found is None:
        raise ExtensionAccessError(f"extension {number} is not in this archive")
    return extensions(conn, found)


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
    _print_extensions(app, report.get("extensions", []))
    show(f"channel      {_channel_line(app, report.get('notifications'))}")
    show(f"login        {report['login']}")
    retention = report["retention"]
    show(f"retention    {retention['summary']}")
    for warning in retention["warnings"]:
        show(f"  warning: {warning}")


def _print_extensions(app: App, entries: list[dict[str, Any]]) -> None:
    """One line per extension of an account archive (a single one says nothing new)."""
    if len(entries) < 2 and not any(e["remote_gone"] for e in entries):
        return
    app.output.result(f"extensions   {len(entries):,}")
    for e in entries:
        gone = "  gone from RingCentral (archive kept)" if e["remote_gone"] else ""
        pulled = local_time(e["last_pulled"], seconds=True) or "never"
        name = f" {e['name']}" if e["name"] else ""
        app.output.result(
            f"  {e['number'] or e['id']:<6}{name}: {e['messages']:,} messages,"
            f" last pulled {pulled}{gone}"
        )


# What a running watch's channel records; a record in any of them left by a watch that no
# longer runs is stale (`stopped` and `unavailable` stay true after the watch ends). The
# values of `rcsync.watch.channel.State`, not imported: `status` starts without the API.
_LIVE_STATES = ("connecting", "connected", "reconnecting")


def _channel_line(app: App, channel: dict[str, Any] | None) -> str:
    """The WebSocket channel as the last `watch` recorded it."""
    if not app.config.sync.push_notifications:
        return "off ([sync] push_notifications = false)"
    if channel is None:
        return "not used yet (rcsync watch subscribes)"
    state = str(channel.get("state", "?"))
    recorded = local_time(channel.get("updated"), seconds=True)
    if state in _LIVE_STATES and channel.get("running") is False:
        # The watch that wrote this was killed without a word: say what it last said.
        if state == "connected":
            since = local_time(channel.get("connected_since"), seconds=True)
            state = f"not running (last connected since {since}, until {recorded} or later)"
        else:
            state = f"not running (last {state} at {recorded})"
    elif state == "connected":
        state += f" since {local_time(channel.get('connected_since'), seconds=True)}"
    elif channel.get("detail"):
        state += f" ({channel['detail']})"
    if state.startswith("stopped"):
        state += f" at {recorded}"
    events = plural(int(channel.get("events") or 0), "event")
    last = local_time(channel.get("last_event"), seconds=True)
    line = f"{state}; {events} received" + (f", last {last}" if last else "")
    if channel.get("subscription_updated"):
        # The mirrored extensions changed mid-watch and the subscription followed.
        updated = local_time(channel.get("subscription_updated"), seconds=True)
        change = channel.get("subscription_change")
        line += f"; subscription updated {updated}" + (f" ({change})" if change else "")
    return line


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
