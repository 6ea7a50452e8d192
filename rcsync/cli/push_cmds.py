"""`push`, `sync`, and the local edit helpers `mark`, `delete`, `restore`, `pending`, `revert`.

The helpers only edit the database (as any SQLite client could); `push`/`sync` send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from rcsync.cli.app import App
from rcsync.cli.hooking import hooked
from rcsync.cli.options import extension_option, force_option, json_option
from rcsync.cli.output import local_time, plural, say_what_is_done
from rcsync.types import MessageType, iso_utc

if TYPE_CHECKING:
    from rcsync.store import edits

pass_app = click.make_pass_decorator(App)

_SEND_HINT = "run `rcsync push` to send"


_plural = plural


# --- push / sync ---------------------------------------------------------------------------


@click.command()
@click.option(
    "-n", "--dry-run", is_flag=True, help="Print the plan and the requests; change nothing."
)
@force_option
@json_option
@extension_option
@pass_app
def push(app: App, dry_run: bool, force: bool, as_json: bool, extension: str | None) -> None:
    """Send pending local edits (read status, trash, purge, restore) to RingCentral.

    \b
    Example:
      sqlite3 messages.db "UPDATE message SET read_status='Read' WHERE type='SMS'"
      rcsync push --dry-run
      rcsync push
      rcsync push --extension 102
    """
    from rcsync.sync.account import push_account
    from rcsync.sync.hooks import Event

    app.require_credentials()
    with app.engine().connect() as conn:
        extension_id = app.extension_id(conn, extension)
    progress = app.progress()
    with (
        hooked(app, Event.PUSH) as outcome,
        app.engine_lock("push", can_wait=False),
        say_what_is_done(progress, "`rcsync push` sends the rest"),
    ):
        summary = push_account(
            app.engine(),
            app.client(),
            app.config,
            dry_run=dry_run,
            force=force,
            progress=progress,
            extension=extension_id,
        )
        outcome.summary = summary.as_dict()
        outcome.dry_run = dry_run
    if as_json:
        app.output.json(summary.as_dict())
        return
    _print_plan(app, summary.plan, dry_run=dry_run, guard=summary.guard)
    for error in summary.errors:
        app.output.warn(error)
    app.output.result(summary.line())
    _conflict_hint(app, summary.conflicts)


def _print_plan(app: App, lines: list[str], *, dry_run: bool, guard: str | None) -> None:
    if dry_run:
        app.output.echo("plan:" if lines else "plan: nothing to send")
        for line in lines:
            app.output.echo(f"  {line}")
        if guard:
            app.output.warn(f"without --force, push would stop: {guard}")
    elif lines:
        app.output.info("sent: " + "; ".join(lines))


@click.command()
@click.option(
    "-n", "--dry-run", is_flag=True, help="Print the push plan; change nothing (no pull)."
)
@force_option
@json_option
@extension_option
@pass_app
def sync(app: App, dry_run: bool, force: bool, as_json: bool, extension: str | None) -> None:
    """Push local edits, then pull remote changes (pulling first when that is one cheap
    incremental request and there is something to push).

    \b
    Example:
      rcsync sync
    """
    from rcsync.sync.hooks import Event
    from rcsync.sync.reconcile import sync as run_sync

    app.require_credentials()
    progress = app.progress()
    with (
        hooked(app, Event.SYNC) as outcome,
        app.engine_lock("sync", can_wait=False),
        say_what_is_done(progress, "`rcsync sync` goes on from there"),
    ):
        summary = run_sync(
            app.engine(),
            app.client(),
            app.config,
            dry_run=dry_run,
            force=force,
            progress=progress,
            extension=extension,
        )
        outcome.summary, outcome.new = summary.as_dict(), summary.new
        outcome.dry_run = dry_run
    if as_json:
        app.output.json(summary.as_dict())
        return
    _print_plan(app, summary.push.plan, dry_run=dry_run, guard=summary.push.guard)
    for error in summary.push.errors:
        app.output.warn(error)
    app.output.result(summary.line())
    _conflict_hint(app, summary.conflicts)


def _conflict_hint(app: App, new: int) -> None:
    """The run counts its own conflicts; `status` counts all recorded: say both."""
    if not new:
        return
    from rcsync.store.status import count_conflicts

    with app.engine().connect() as conn:
        total = count_conflicts(conn)
    app.output.info(f"{plural(total, 'conflict')} recorded in all; `rcsync conflicts` lists them")


# --- local edits ---------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    # click.DateTime has whole seconds: the milliseconds are always .000.
    return iso_utc(value)


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """IDS... plus the filters; combined with AND."""
    options = [
        click.argument("ids", nargs=-1, type=int),
        click.option("--conversation", help="Messages of this conversation id."),
        click.option(
            "--before",
            type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
            help="Messages created before this date (UTC), e.g. 2024-01-31.",
        ),
        click.option(
            "--type",
            "type_",
            type=click.Choice([t.value for t in MessageType]),
            help="Messages of this type.",
        ),
        click.option(
            "--from",
            "from_number",
            metavar="NUMBER",
            help="Messages from this phone number, e.g. +15550100.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _selection(
    ids: tuple[int, ...],
    conversation: str | None,
    before: dt.datetime | None,
    type_: str | None,
    from_number: str | None,
) -> edits.Selection:
    from rcsync.store import edits

    return edits.Selection(ids, conversation, _iso(before), type_, from_number)


def _report(app: App, count: edits.EditCount, done: str, already: str) -> None:
    """`done` has "{n}" where the count of messages goes."""
    line = done.format(n=_plural(count.changed, "message"))
    if count.unchanged:
        line += f" ({count.unchanged:,} {already})"
    app.output.result(line + (f"; {_SEND_HINT}" if count.changed else ""))


@click.command()
@click.argument("status", type=click.Choice(["read", "unread"]))
@selection_options
@pass_app
def mark(app: App, /, status: str, ids: tuple[int, ...], **filters: Any) -> None:
    """Mark messages read or unread locally (sent by the next push).

    \b
    Examples:
      rcsync mark read 1400000036307 1400000036308
      rcsync mark unread --conversation 4567 --before 2024-01-01
    """
    from rcsync.store import edits

    with app.engine(create=False).begin() as conn:
        chosen = edits.select(conn, _selection(ids, **filters))
        count = edits.mark(conn, chosen, status.capitalize())
    _report(app, count, "marked {n} " + status, f"already {status} or purged")


@click.command()
@click.option("--purge", is_flag=True, help="Purge (gone for good) instead of moving to trash.")
@selection_options
@pass_app
def delete(app: App, /, purge: bool, ids: tuple[int, ...], **filters: Any) -> None:
    """Move messages to the trash (or purge them) locally (sent by the next push).

    \b
    Examples:
      rcsync delete 1400000036307
      rcsync delete --purge --type Fax --before 2020-01-01
    """
    from rcsync.store import edits

    with app.engine(create=False).begin() as conn:
        chosen = edits.select(conn, _selection(ids, **filters))
        count = edits.delete(conn, chosen, purge=purge)
    _report(
        app,
        count,
        "purged {n}" if purge else "trashed {n}",
        "already purged" if purge else "not alive",
    )


@click.command()
@selection_options
@pass_app
def restore(app: App, /, ids: tuple[int, ...], **filters: Any) -> None:
    """Restore trashed messages locally (sent by the next push).

    \b
    Example:
      rcsync restore 1400000036307
    """
    from rcsync.store import edits

    with app.engine(create=False).begin() as conn:
        chosen = edits.select(conn, _selection(ids, **filters))
        count = edits.restore(conn, chosen)
    _report(app, count, "restored {n}", "not in the trash, or purged")


@click.command()
@json_option
@extension_option
@pass_app
def pending(app: App, as_json: bool, extension: str | None) -> None:
    """List local edits not yet confirmed by RingCentral.

    \b
    Example:
      rcsync pending --json
    """
    from rcsync.store import edits
    from rcsync.store.extensions import extensions_of

    with app.engine(create=False).connect() as conn:
        rows = edits.pending(conn)
        extension_id = app.extension_id(conn, extension)
        if extension_id is not None:
            owners = extensions_of(conn, [r.message_id for r in rows])
            rows = [r for r in rows if owners.get(r.message_id) == extension_id]
    if as_json:
        app.output.json([vars(r) for r in rows])
        return
    app.output.table(
        ["message", "field", "from", "to", "since", "attempts", "last error"],
        [
            (
                r.message_id,
                r.field,
                r.old_value,
                r.new_value,
                local_time(r.since),
                r.attempts,
                r.last_error,
            )
            for r in rows
        ],
        always=True,  # the list is what was asked for: shown even with -q
    )
    app.output.result(f"{_plural(len(rows), 'pending edit')}" + (f"; {_SEND_HINT}" if rows else ""))


@click.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Revert every pending edit.")
@pass_app
def revert(app: App, ids: tuple[int, ...], all_: bool) -> None:
    """Drop pending edits before they are pushed (a deleted row comes back).

    \b
    Examples:
      rcsync revert 1400000036307
      rcsync revert --all
    """
    if bool(ids) == all_:
        raise click.UsageError("give message ids or --all (not both)")
    from rcsync.store import edits

    with app.engine(create=False).begin() as conn:
        count = edits.revert(conn, None if all_ else list(ids))
    app.output.result(f"reverted pending edits of {_plural(count, 'message')}")


COMMANDS: list[click.Command] = [push, sync, mark, delete, restore, pending, revert]
