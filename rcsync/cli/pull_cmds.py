"""`pull` and `search`: parse options, call one library function, print."""

from __future__ import annotations

import click

from rcsync.cli.app import App
from rcsync.search import MARK_END, MARK_START, Hit
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
@click.option("--wait", is_flag=True, help="Wait for another rcsync working on this database.")
@pass_app
def pull(app: App, full: bool, wait: bool) -> None:
    """Mirror remote → local: the whole history the first time, then only changes.

    Logs in by itself when a JWT is configured. An interrupted pull resumes where it
    stopped.

    \b
    Examples:
      rcsync pull
      rcsync pull --full
    """
    from rcsync.api import build_client
    from rcsync.sync.pull import pull as run_pull

    app.require_credentials()
    with app.engine_lock("pull", wait=wait):
        client = build_client(app.config.ringcentral, insecure=app.insecure)
        with client:
            summary = run_pull(
                app.engine(), client, app.config, full=full, progress=app.output.progress()
            )
    app.output.echo(format_summary(summary))


def _highlight(hit: Hit, styled: bool) -> str:
    if not styled:
        return hit.snippet
    out, rest = [], hit.marked
    while MARK_START in rest:
        before, _, rest = rest.partition(MARK_START)
        word, _, rest = rest.partition(MARK_END)
        out += [before, click.style(word, bold=True)]
    return "".join([*out, rest]).replace("\n", " ")


def _line(hit: Hit, styled: bool) -> str:
    when = hit.creation_time[:16].replace("T", " ")
    snippet = _highlight(hit, styled).replace("\n", " ")
    return f"{when}  {hit.type:<9} {hit.who}: {snippet}"


@click.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
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
    metavar="TYPE",
    help="Only this message type (SMS, Fax, VoiceMail, Pager).",
)
@pass_app
def search(app: App, query: str, as_json: bool, limit: int, message_type: str | None) -> None:
    """Full-text search over the archive: subjects, SMS text, voicemail transcriptions.

    QUERY uses SQLite FTS5 syntax (words, "exact phrase", OR, NOT, prefix*); anything
    it cannot parse is searched for literally.

    \b
    Examples:
      rcsync search dentist
      rcsync search '"call me back"' --type VoiceMail --json
    """
    from rcsync.search import search as run_search

    with app.engine(create=False).connect() as conn:
        hits = run_search(conn, query, limit=limit, message_type=message_type)
    if as_json:
        app.output.json(
            {"query": query, "count": len(hits), "results": [h.to_json() for h in hits]}
        )
        return
    styled = app.output.stdout.isatty()
    for hit in hits:
        app.output.result(_line(hit, styled))
    if not hits:
        app.output.info(f"no messages match {query!r}")


COMMANDS: list[click.Command] = [pull, search]
