"""Running `[hooks]` around a command: after it, with its outcome (`rcsync.sync.hooks`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rcsync.cli.app import App
from rcsync.errors import RcsyncError

if TYPE_CHECKING:
    from rcsync.sync.hooks import Event


@dataclass
class Outcome:
    """What the command tells its hooks; `error` set means on_failure (verify's problems)."""

    summary: dict[str, Any] = field(default_factory=dict)
    new: int = 0
    error: str | None = None
    # A dry run did not do the work its hooks report on: none run after it.
    dry_run: bool = False


@contextmanager
def hooked(app: App, event: Event) -> Iterator[Outcome]:
    """Run the hooks after the block: on_failure when it raised (then the error goes on)."""
    outcome = Outcome()
    try:
        yield outcome
    except Exception as exc:
        _run(app, event, outcome, " ".join(str(exc).split()) or type(exc).__name__)
        raise
    if not outcome.dry_run:
        _run(app, event, outcome, outcome.error)


def _run(app: App, event: Event, outcome: Outcome, error: str | None) -> None:
    try:
        config = app.config.hooks
    except RcsyncError:
        return  # the configuration itself is what failed: that error is the one to show
    if not (config.on_success or config.on_failure or config.on_new_messages):
        return
    from rcsync.sync.hooks import run_hooks

    for run in run_hooks(config, event, outcome.summary, new=outcome.new, error=error):
        if not run.ok:
            app.output.warn(run.describe())
