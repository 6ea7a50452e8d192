"""`export`: parse options, run one export, print its summary."""

from __future__ import annotations

from pathlib import Path

import click

from rcsync.cli.app import App

pass_app = click.make_pass_decorator(App)

FORMATS = ("html", "jsonl", "csv", "smsxml")


@click.command()
# A plain argument, checked by the library: an unknown format is bad input (one line, exit 1).
@click.argument("fmt", metavar="{" + "|".join(FORMATS) + "}")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Destination: a folder for html, a file for the others.",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Only this message type (SMS, Fax, VoiceMail, Pager); repeat for several.",
)
@click.option("--since", metavar="DATE", help="Messages from this date or time on (UTC).")
@click.option("--until", metavar="DATE", help="Messages up to this date (inclusive) or time.")
@click.option(
    "--conversation",
    metavar="ID",
    help="One conversation: its conversation_id, or with:NUMBER for voicemail/fax.",
)
@click.option(
    "--extension",
    metavar="ID",
    help="Only messages of this extension: its id, or its number (e.g. 102).",
)
@click.option("--force", is_flag=True, help="Replace an existing file or non-empty folder.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@pass_app
def export(
    app: App,
    fmt: str,
    out: Path,
    types: tuple[str, ...],
    since: str | None,
    until: str | None,
    conversation: str | None,
    extension: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Export the archive: a browsable HTML folder, JSON lines, CSV or an SMS backup.

    \b
    FORMAT is one of:
      html    a folder (index.html + one page per conversation, voicemail playable,
              faxes and pictures beside); opens offline from file://
      jsonl   one message per line: every column, the raw record, attachment paths
      csv     the columns a person reads (see the README)
      smsxml  SMS Backup & Restore XML (SMS/MMS only), for Android and other archivers

    \b
    Examples:
      rcsync export html --out ~/messages-html
      rcsync export csv --out 2024.csv --since 2024-01-01 --until 2024-12-31
      rcsync export smsxml --out sms.xml --json
    """
    from rcsync.export import build_filters, parse_format
    from rcsync.export import export as run_export

    filters = build_filters(
        types=types, since=since, until=until, conversation=conversation, extension=extension
    )
    summary = run_export(
        app.engine(create=False),
        parse_format(fmt),
        out,
        files_dir=app.config.database.files_dir,
        filters=filters,
        force=force,
        progress=app.output.progress(),
    )
    if as_json:
        app.output.json(summary.to_json())
    else:
        app.output.echo(summary.describe())


COMMANDS: list[click.Command] = [export]
