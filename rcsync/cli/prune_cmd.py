"""`prune`: trash (or purge) on RingCentral old messages the archive provably holds."""

from __future__ import annotations

import click

from rcsync.cli.app import App
from rcsync.cli.hooking import hooked
from rcsync.cli.options import extension_option, force_option, json_option
from rcsync.cli.output import say_what_is_done
from rcsync.types import MessageType

pass_app = click.make_pass_decorator(App)


@click.command()
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Only messages created more than DAYS days ago.",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in MessageType], case_sensitive=False),
    help="Only this message type (repeatable; default: every type mirrored).",
)
@click.option("--purge", is_flag=True, help="Purge (gone for good) instead of trashing.")
@click.option(
    "-n", "--dry-run", is_flag=True, help="Hash the files and print the plan; change nothing."
)
@force_option
@json_option
@extension_option
@pass_app
def prune(
    app: App,
    days: int,
    types: tuple[str, ...],
    purge: bool,
    dry_run: bool,
    force: bool,
    as_json: bool,
    extension: str | None,
) -> None:
    """Free RingCentral of old messages the archive provably holds; the archive keeps them.

    Only messages whose row is complete and whose every file matches its recorded sha256
    now (hashed in this run) are trashed (or purged); never one with a pending edit or a
    conflict. It is a push like any other: the delete guard ([sync] delete_guard) asks for
    --force, and an interrupted prune is finished safely by the next `rcsync push`. In an
    account archive each message is pruned on its own extension's paths; --extension
    prunes that extension's messages only.

    \b
    Examples:
      rcsync prune --older-than 365 --dry-run
      rcsync prune --older-than 365 --type Fax --type VoiceMail
      rcsync prune --older-than 730 --purge --force
      rcsync prune --older-than 365 --extension 102
    """
    from rcsync.sync.account import RoutingClient
    from rcsync.sync.hooks import Event
    from rcsync.sync.prune import prune as run_prune

    app.require_credentials()
    # An archive to check: never an empty one made here.
    with app.engine(create=False).connect() as conn:
        extension_id = app.extension_id(conn, extension)
    progress = app.progress()
    with (
        hooked(app, Event.PRUNE) as outcome,
        app.engine_lock("prune", can_wait=False),
        say_what_is_done(progress, "`rcsync push` sends what was staged"),
    ):
        engine = app.engine(create=False)
        summary = run_prune(
            engine,
            # Each trash/purge (and its read-back) on its message's extension paths.
            RoutingClient(engine, app.client()),
            app.config,
            older_than_days=days,
            types=list(types),  # click's Choice gives the canonical spelling
            purge=purge,
            dry_run=dry_run,
            force=force,
            extension_id=extension_id,
            progress=progress,
        )
        outcome.summary = summary.as_dict()
        outcome.dry_run = dry_run
    if as_json:
        app.output.json(summary.as_dict())
        return
    if dry_run:
        lines = summary.push.plan
        app.output.echo("plan:" if lines else "plan: nothing to send")
        for line in lines:
            app.output.echo(f"  {line}")
        if summary.push.guard:
            app.output.warn(f"without --force, prune would stop: {summary.push.guard}")
    for error in summary.push.errors:
        app.output.warn(error)
    if summary.bad_files:
        shown = ", ".join(str(i) for i in summary.bad_files[:5])
        app.output.warn(
            f"files of {len(summary.bad_files):,} messages failed their hash check (e.g. "
            f"{shown}): not pruned; `rcsync verify --deep --repair` fetches them again"
        )
    app.output.result(summary.line())


COMMANDS: list[click.Command] = [prune]
