"""`pull` and `search`: parse options, call one library function, print."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from rcsync.cli.app import App, private_umask
from rcsync.cli.hooking import hooked
from rcsync.cli.options import extension_option, json_option, wait_option
from rcsync.cli.output import local_time, say_what_is_done
from rcsync.types import Availability, MessageType, ReadStatus, SearchOrder

if TYPE_CHECKING:
    from rcsync.store.search import Hit
    from rcsync.sync.pull import PullSummary

pass_app = click.make_pass_decorator(App)


def format_summary(s: PullSummary) -> str:
    """One line, e.g. ``pulled 12,345 messages (12,000 new, 345 updated), 2,100 attachments
    (35.2 MB) in 14.2 s``."""
    return f"{s.describe()} in {s.seconds:.1f} s"


@click.command()
@click.option(
    "--full",
    is_flag=True,
    help="Full resync: list the whole history again (keeps local-only data, "
    "pending edits and deleted rows).",
)
@click.option(
    "--no-attachments",
    is_flag=True,
    help="Messages only: download no attachment this time (a later pull fetches them).",
)
@click.option(
    "--attachments-only",
    is_flag=True,
    help="Only the attachments still missing (no message sync): e.g. after "
    "`--no-attachments`, or beside a `watch` that does not download them.",
)
@wait_option
@json_option
@extension_option
@pass_app
def pull(
    app: App,
    full: bool,
    no_attachments: bool,
    attachments_only: bool,
    wait: bool,
    as_json: bool,
    extension: str | None,
) -> None:
    """Mirror remote → local: the whole history the first time, then only changes.

    Messages first, then the attachments; a download never spends the part of the
    rate limit that pending edits need, so a `push` meanwhile goes out at once. Logs in
    by itself when a JWT is configured. An interrupted pull resumes where it stopped
    (Ctrl-C is safe: what was stored stays).

    \b
    Examples:
      rcsync pull
      rcsync pull --no-attachments
      rcsync pull --attachments-only
      rcsync pull --full
      rcsync pull -q --json | jq .new
      rcsync pull --extension 102
    """
    from rcsync.sync.account import pull_account_messages
    from rcsync.sync.hooks import Event
    from rcsync.sync.pull import PullSummary, pull_attachments

    if attachments_only and (no_attachments or full):
        other = "--no-attachments" if no_attachments else "--full"
        raise click.UsageError(f"--attachments-only and {other} exclude each other")
    app.require_credentials()
    config = app.config
    progress = app.progress()
    with (
        hooked(app, Event.PULL) as outcome,
        say_what_is_done(progress, "`rcsync pull` resumes where this one stopped"),
    ):
        summary = PullSummary(attachments_only=True)
        if not attachments_only:
            with app.engine_lock("pull", wait=wait):
                summary = pull_account_messages(
                    app.engine(),
                    app.client(),
                    config,
                    full=full,
                    progress=progress,
                    only=extension,
                )
        # Without the engine lock (downloads have a lock of their own): a `push` or a
        # `sync` may run meanwhile, and the downloads leave them their rate-limit share.
        if attachments_only or (config.sync.download_attachments and not no_attachments):
            engine = app.engine(create=not attachments_only)  # nothing to fetch in a new one
            with private_umask():  # the files are as private as the database
                files = pull_attachments(engine, app.client(), config, progress=progress)
            summary.add_attachments_of(files)
        outcome.summary, outcome.new = summary_json(summary, app), summary.new
    if as_json:
        app.output.json(summary_json(summary, app))
        return
    # Each extension's line was said as it finished (`sync.account`: a note on stderr);
    # saying them all again here printed every one, a deleted user's too, twice.
    app.output.echo(format_summary(summary))


def summary_json(s: PullSummary, app: App) -> dict[str, Any]:
    """The pull's counts, the same names as its fields, plus where they were stored."""
    from rcsync.sync.account import AccountPullSummary

    out = {
        **dataclasses.asdict(s),
        "messages": s.messages,
        "database": str(app.database_path),
    }
    if isinstance(s, AccountPullSummary):
        out["extensions"] = [e.as_dict() for e in s.extensions]
    return out


def _highlight(hit: Hit, styled: bool) -> str:
    from rcsync.store.search import MARK_END, MARK_START

    if not styled:
        return hit.snippet
    out, rest = [], hit.marked
    while MARK_START in rest:
        before, _, rest = rest.partition(MARK_START)
        word, _, rest = rest.partition(MARK_END)
        out += [before, click.style(word, bold=True)]
    return "".join([*out, rest]).replace("\n", " ")


def _state(hit: Hit) -> str:
    """What a person scanning results needs: unread, in the trash, purged."""
    if hit.availability == Availability.PURGED:
        return "purged"
    if hit.availability == Availability.DELETED:
        return "trash"
    return "unread" if hit.read_status == ReadStatus.UNREAD else ""


def _line(hit: Hit, styled: bool) -> str:
    snippet = _highlight(hit, styled).replace("\n", " ")
    return (
        f"{hit.id}  {local_time(hit.creation_time)}  {hit.type:<9} {_state(hit):<6}  "
        f"{hit.who}: {snippet}"
    )


def _since_utc(value: dt.datetime | None) -> str | None:
    """--since is typed in local time (people's time); the database holds UTC."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@click.command()
@click.argument("query")
@json_option
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many results.",
)
@click.option(
    "--type",
    "message_type",
    default=None,
    type=click.Choice([t.value for t in MessageType], case_sensitive=False),
    help="Only this message type.",
)
@click.option("--from", "sender", metavar="NAME|NUMBER", help="Only from this sender (part of).")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    help="Only messages created since this local date/time, e.g. 2024-01-31.",
)
@click.option("--conversation", metavar="ID", help="Only this conversation.")
@click.option("--unread", is_flag=True, help="Only unread messages.")
@click.option(
    "--order",
    type=click.Choice([o.value for o in SearchOrder]),
    default=SearchOrder.NEWEST.value,
    show_default=True,
    help="newest: the highest message ids (newest where ids follow creation), shown"
    " newest first (fast on any archive); relevance: best-ranked first (FTS5 bm25; ranks"
    " every match, so slower on a word in much of the archive).",
)
@extension_option
@pass_app
def search(
    app: App,
    query: str,
    as_json: bool,
    limit: int,
    message_type: str | None,
    sender: str | None,
    since: dt.datetime | None,
    conversation: str | None,
    unread: bool,
    order: str,
    extension: str | None,
) -> None:
    """Full-text search over the archive: subjects, SMS text, voicemail transcriptions.

    QUERY uses SQLite FTS5 syntax (words, "exact phrase", OR, NOT, prefix*); a query it
    cannot parse (such as 16:45) is searched for as its words. Each result starts with the
    message id (for `rcsync mark`, `delete`...); newest first (--order relevance: best
    match first); times are local (UTC in --json).

    \b
    Examples:
      rcsync search dentist
      rcsync search '"call me back"' --type VoiceMail --json
      rcsync search invoice --from Alice --since 2024-01-01 --unread
    """
    from rcsync.store.search import SearchFilters, search_with_total

    with app.reader().connect() as conn:
        extension_id = app.extension_id(conn, extension)
        filters = SearchFilters(
            message_type, sender, _since_utc(since), conversation, unread, extension_id
        )
        found = search_with_total(
            conn, query, limit=limit, filters=filters, order=SearchOrder(order)
        )
    hits = found.hits
    if as_json:
        app.output.json(
            {
                "query": query,
                "count": len(hits),
                "total": found.total,
                "results": [h.to_json() for h in hits],
            }
        )
        return
    styled = app.output.stdout.isatty()
    for hit in hits:
        app.output.result(_line(hit, styled))
    if not hits:
        app.output.info(f"no messages match {query!r}")
    elif found.total > len(hits):
        app.output.info(f"showing {len(hits):,} of {found.total:,} (--limit)")


COMMANDS: list[click.Command] = [pull, search]
