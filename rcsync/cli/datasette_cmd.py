"""`datasette`: write the Datasette configuration beside the database, then serve it."""

from __future__ import annotations

import os
import sys

import click

from rcsync.cli.app import App

pass_app = click.make_pass_decorator(App)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--config-only",
    is_flag=True,
    help="Only write the configuration and print the Datasette command; do not serve.",
)
@click.argument("datasette_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- DATASETTE ARGS]")
@pass_app
def datasette(
    app: App, port: int, host: str, config_only: bool, datasette_args: tuple[str, ...]
) -> None:
    """Browse, search and edit the archive in Datasette (pip install 'rcsync[datasette]').

    Writes the configuration beside the database (NAME.datasette.json: descriptions,
    facets, reading views, canned queries to mark read/unread, trash and restore) and
    serves the database with the attachments folder mounted at /files/, so voicemail
    plays and faxes open. Edits made there are pushed like any other SQL edit.

    \b
    Examples:
      rcsync datasette
      rcsync datasette --port 8080 -- --setting sql_time_limit_ms 5000
    """
    from rcsync.export.datasette import command

    app.engine(create=False)  # the schema (views, FTS) is current before Datasette opens it
    args = command(
        app.database_path,
        app.config.database.files_dir,
        host=host,
        port=port,
        extra=tuple(a for a in datasette_args if a != "--"),
    )
    if config_only:
        app.output.result(" ".join(args))
        return
    app.output.info(f"Datasette on http://{host}:{port}/ (Ctrl-C stops it)")
    app.close()  # Datasette opens the database itself
    sys.stdout.flush()
    sys.stderr.flush()
    # Become Datasette (no child left behind when this process is stopped or killed).
    os.execv(args[0], args)


COMMANDS: list[click.Command] = [datasette]
