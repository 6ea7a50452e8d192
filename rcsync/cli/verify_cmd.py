"""`verify`: compare the archive with RingCentral (and, --deep, its files with their hashes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from rcsync.cli.app import App
from rcsync.cli.hooking import hooked
from rcsync.cli.options import extension_option, json_option, wait_option
from rcsync.cli.output import say_what_is_done

if TYPE_CHECKING:
    from rcsync.sync.verify import Finding

pass_app = click.make_pass_decorator(App)

#: Findings printed one per line before the summary; the rest are counted (--json has all).
SHOW = 50
#: Notes (pending edits, messages kept here only) listed one by one up to this many.
NOTES_SHOWN = 10


@click.command()
@click.option("--deep", is_flag=True, help="Also re-hash every downloaded file (sha256, size).")
@click.option(
    "--repair", is_flag=True, help="Re-fetch missing or corrupt files and merge what drifted."
)
@wait_option
@json_option
@extension_option
@pass_app
def verify(
    app: App, deep: bool, repair: bool, wait: bool, as_json: bool, extension: str | None
) -> None:
    """Check that the archive holds everything RingCentral holds, as RingCentral holds it.

    Lists the whole history (1,000 messages a request) and reports every difference by
    message id with its fix: missing here or drifted (`rcsync pull`, or --repair), a
    pending edit (`rcsync push`); messages kept here that RingCentral no longer has are
    noted only: the archive outlives RingCentral's retention. In an account archive every
    mirrored extension is listed on its own (--extension: only that one) and reported by
    number. Exit status 0 when nothing is wrong, 1 otherwise.

    \b
    Examples:
      rcsync verify
      rcsync verify --deep
      rcsync verify --deep --repair
      rcsync verify --extension 102
      rcsync verify --json | jq '.findings[] | select(.problem)'
    """
    from rcsync.sync.hooks import Event
    from rcsync.sync.verify import verify_archive

    app.require_credentials()
    # An archive to check: never an empty one made here.
    with app.engine(create=False).connect() as conn:
        extension_id = app.extension_id(conn, extension)
    progress = app.progress()
    with (
        hooked(app, Event.VERIFY) as outcome,
        app.engine_lock("verify", wait=wait),
        say_what_is_done(progress, "`rcsync verify` starts over"),
    ):
        report = verify_archive(
            app.engine(create=False),
            app.client(),
            app.config,
            extension_id=extension_id,
            deep=deep,
            repair=repair,
            progress=progress,
        )
        outcome.summary = report.as_dict()
        outcome.error = None if report.ok else report.line()
    if as_json:
        app.output.json(report.as_dict())
    else:
        _print_findings(app, report.findings)
        if len(report.extensions) > 1 or report.unverified:
            for part in report.extensions:
                app.output.info(part.line())
        app.output.result(report.line())
    if not report.ok:
        click.get_current_context().exit(1)


def _print_findings(app: App, findings: list[Finding]) -> None:
    """Problems one per line (the first SHOW); notes one per line only when few, else
    counted by kind: an old archive's thousands of "gone remotely" must not bury a problem."""
    problems = [f for f in findings if f.problem]
    notes = [f for f in findings if not f.problem]
    for finding in problems[:SHOW]:
        app.output.result(finding.describe())
    if len(problems) > SHOW:
        app.output.result(f"… and {len(problems) - SHOW:,} more problems (--json lists all)")
    if len(notes) <= NOTES_SHOWN:
        for finding in notes:
            app.output.info(finding.describe())
        return
    counts: dict[str, int] = {}
    for finding in notes:
        counts[finding.kind.value] = counts.get(finding.kind.value, 0) + 1
    listed = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items()))
    app.output.info(f"notes: {listed} (--json lists them)")


COMMANDS: list[click.Command] = [verify]
