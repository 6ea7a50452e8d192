"""The `watch` loop: runs the scheduler's steps against the engine until a stop request.

`Runner` asks `rcsync.watch.schedule` what to do next and does it: a CHECK reads what is
pending (`rcsync.store.pending`), a PUSH or PULL calls the engine through `EngineWorker`.
Notices of the notification channel (`rcsync.watch.notices`: hints, channel up/down) are fed
to the scheduler between steps.
Between steps it blocks in `Waker.wait` until a file event, a stop request or the next
deadline: no polling. Errors are sorted by `classify`: transient ones are retried with
backoff, the delete guard holds the push back until new edits, the rest end the watch.
No printing; the CLI sets up the log handlers.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from rcsync.config import Config
from rcsync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DatabaseError,
    GuardError,
    LockedError,
    NetworkError,
    SchemaTooNewError,
    StepIncomplete,
    StopRequested,
)
from rcsync.progress import NullProgress, Progress, WaitReason, wait_line
from rcsync.store import is_busy_error
from rcsync.store.pending import pending_summary
from rcsync.watch.notices import Hint, Inbox
from rcsync.watch.schedule import Outcome, Pending, Scheduler, Step, StepKind

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rcsync.api import MessageStoreClient
    from rcsync.sync.pull import PullSummary
    from rcsync.sync.push import PushSummary

log = logging.getLogger("rcsync.watch")
#: Waits shorter than this are not logged.
SHORT_WAIT = 1.0


class Waker:
    """Where other threads (the file watcher, signal handlers) tell the loop something happened.

    The loop blocks in `wait` until a change, a stop request or a timeout: no polling.
    Stopping is a `threading.Event`, so any thread can ask whether a stop was requested.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._changes = 0
        self._nudged = False
        self.stop_requested = threading.Event()

    def notify_change(self) -> None:
        with self._cond:
            self._changes += 1
            self._cond.notify_all()

    def nudge(self) -> None:
        """Wake the loop without a database change (a notice waits in the inbox). Remembered
        until the next `wait`, so a nudge just before the loop blocks is not lost."""
        with self._cond:
            self._nudged = True
            self._cond.notify_all()

    def request_stop(self) -> None:
        self.stop_requested.set()
        with self._cond:
            self._cond.notify_all()

    def wait(self, timeout: float | None) -> int:
        """Block until a change or a stop (or `timeout` seconds); return changes since last call."""
        with self._cond:
            if self._changes == 0 and not self._nudged and not self.stop_requested.is_set():
                self._cond.wait(timeout)
            changes, self._changes = self._changes, 0
            self._nudged = False
            return changes

    def take_changes(self) -> int:
        with self._cond:
            changes, self._changes = self._changes, 0
            return changes


class Worker(Protocol):
    """The engine as the loop sees it. Each call is one complete, committed step."""

    def pending(self) -> Pending:
        """Cheap: how many edits are pending and the newest edit time."""

    def push(self) -> Outcome:
        """Send pending edits."""

    def pull(self) -> Outcome:
        """Incremental pull (messages only)."""

    def attachments(self, interrupt: Callable[[], bool]) -> Outcome:
        """The attachment phase; ends early (``finished=False``) once `interrupt` says so."""

    def pull_extensions(self, extensions: frozenset[str]) -> Outcome:
        """Incremental pull of the mirrored extensions among `extensions` (a notification's)."""


def interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A `time.sleep` for the API client that ends the step when a stop is requested."""

    def sleep(seconds: float) -> None:
        if stop.wait(max(seconds, 0.0)):
            raise StopRequested("stop requested")

    return sleep


class Verdict(enum.Enum):
    RETRY = "retry"  # transient: back off and try again
    BLOCKED = "blocked"  # needs the user; warn, do not retry before new edits or a sweep
    FATAL = "fatal"  # stop the watch and report


_TRANSIENT = (
    StepIncomplete,
    ApiError,
    NetworkError,
    DatabaseError,
    LockedError,
    httpx.TransportError,
)


def classify(exc: BaseException) -> Verdict:
    """Sort an engine error: what keeps `watch` going and what ends it."""
    if isinstance(exc, AuthError | ConfigError | SchemaTooNewError):
        return Verdict.FATAL  # an expired login that could not be refreshed, a bad setup
    if isinstance(exc, GuardError):
        return Verdict.BLOCKED
    if isinstance(exc, _TRANSIENT) or is_busy_error(exc):
        return Verdict.RETRY  # 5xx, 429, connection trouble, a user's long write transaction
    return Verdict.FATAL  # a bug: better a clear stop than a loop repeating it


def retry_hint(exc: BaseException) -> float:
    """A server-given minimum wait (429 Retry-After), when the error carries one."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


class Wakeable(Protocol):
    stop_requested: threading.Event

    def wait(self, timeout: float | None) -> int: ...

    def take_changes(self) -> int: ...


@dataclass
class Runner:
    """Runs the scheduler's steps against a worker until a stop is requested."""

    worker: Worker
    scheduler: Scheduler
    waker: Wakeable
    clock: Callable[[], float] = time.monotonic
    classifier: Callable[[BaseException], Verdict] = classify
    inbox: Inbox | None = None  # the notification channel's notices, when it runs
    # Told after every pull: the channel brings its subscription in line with the mirrored
    # extensions, which a pull may have changed (a user added, one gone).
    after_pull: Callable[[], None] | None = None

    def run(self) -> None:
        """Return when a stop was requested; raise the error that ended the watch otherwise."""
        stop = self.waker.stop_requested
        while not stop.is_set():
            self._note_notices()
            self._note_changes(self.waker.take_changes())
            now = self.clock()
            step = self.scheduler.next_step(now)
            if step.kind is StepKind.WAIT:
                timeout = None if math.isinf(step.until) else max(step.until - now, 0.0)
                self._note_changes(self.waker.wait(timeout))
            else:
                self._attempt(step)

    def _note_notices(self) -> None:
        if self.inbox is None:
            return
        for notice in self.inbox.take():
            if isinstance(notice, Hint):
                self.scheduler.notified(notice.extensions)
            else:
                self.scheduler.channel(notice.up)

    def _note_changes(self, count: int) -> None:
        if count:
            self.scheduler.changed(self.clock())

    def _attempt(self, step: Step) -> None:
        try:
            self._perform(step)
        except Exception as exc:
            if isinstance(exc, StopRequested) and self.waker.stop_requested.is_set():
                log.info(
                    "%s interrupted by the stop request; the rest stays pending", step.kind.value
                )
                return
            verdict = self.classifier(exc)
            if verdict is Verdict.FATAL:
                raise
            reason = _reason(exc)
            if verdict is Verdict.BLOCKED:
                self.scheduler.push_blocked()
                log.warning("%s held back: %s", step.kind.value, reason)
                return
            delay = self.scheduler.failed(self.clock(), step.kind, at_least=retry_hint(exc))
            log.warning("%s failed, retry in %.1f s: %s", step.kind.value, delay, reason)

    def _perform(self, step: Step) -> None:
        if step.kind is StepKind.CHECK:
            started = self.clock()
            pending = self.worker.pending()
            wanted = self.scheduler.checked(pending, sweep=step.sweep, started=started)
            log.debug(
                "check%s: %d pending%s",
                " (sweep)" if step.sweep else "",
                pending.count,
                ", pushing" if wanted else "",
            )
        elif step.kind is StepKind.PUSH:
            self._report(self.worker.push())
            self.scheduler.pushed(self.clock())
        elif step.kind is StepKind.PULL:
            if step.extensions is None:
                self._report(self.worker.pull())
            else:
                self._report(self.worker.pull_extensions(step.extensions))
            self.scheduler.pulled(self.clock(), step.extensions)
            if self.after_pull is not None:
                self.after_pull()
        elif step.kind is StepKind.ATTACHMENTS:
            outcome = self.worker.attachments(self._attachments_interrupted)
            self._report(outcome)
            self.scheduler.attachments_ran(finished=outcome.finished)

    def _attachments_interrupted(self) -> bool:
        """Asked between downloads: edits and pulls go first (and a stop ends it all)."""
        if self.waker.stop_requested.is_set():
            return True
        return self.scheduler.interrupts_attachments(self.worker.pending(), self.clock())

    @staticmethod
    def _report(outcome: Outcome) -> None:
        log.log(logging.INFO if outcome.count else logging.DEBUG, "%s", outcome.summary)
        for note in outcome.notes:
            log.info("%s", note)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# --- the engine behind the loop ------------------------------------------------------------


def read_pending(engine: Engine) -> Pending:
    """The cheap check: one O(pending) query (see `rcsync.store.pending`)."""
    with engine.connect() as conn:
        count, newest = pending_summary(conn)
    return Pending(count=count, newest=newest)


def pull_outcome(summary: PullSummary) -> Outcome:
    count = summary.new + summary.updated
    parts = [f"{summary.new} new", f"{summary.updated} updated"]
    if summary.remote_deleted or summary.purged:
        parts.append(f"{summary.remote_deleted} deleted, {summary.purged} purged remotely")
    if summary.attachments_downloaded:
        parts.append(f"{summary.attachments_downloaded} attachments")
    notes: tuple[str, ...] = ()
    if summary.conflicts:
        notes = (
            f"conflict: {summary.conflicts} field(s) changed on both sides; see the conflict table",
        )
    return Outcome(count, f"pulled {count} ({', '.join(parts)})", notes)


def attachments_outcome(summary: PullSummary) -> Outcome:
    """``downloaded 40 attachments (3.1 MB); 6,634 left, edits first``."""
    line = summary.describe().replace("pulled", "downloaded", 1)
    if summary.attachments_left:
        line = line.replace(" left for later", " left, edits first")
    return Outcome(summary.attachments_downloaded, line, finished=summary.attachments_left == 0)


def push_outcome(summary: PushSummary) -> Outcome:
    if summary.failed:
        reason = summary.errors[0] if summary.errors else "see pending_change.last_error"
        raise StepIncomplete(f"pushed {summary.pushed}, {summary.failed} failed: {reason}")
    notes = tuple(summary.errors)
    if summary.conflicts:
        notes += (
            f"conflict: {summary.conflicts} field(s) changed on both sides; see the conflict table",
        )
    detail = f" ({summary.settled} settled without a write)" if summary.settled else ""
    if summary.stopped:
        detail += f"; stopped early; {summary.left} edits left pending"
    return Outcome(summary.pushed + summary.settled, f"pushed {summary.pushed}{detail}", notes)


class LogProgress(NullProgress):
    """A `Progress` for a daemon: no bars, but the engines' notes and waits go to the log."""

    def start(self, phase: str, total: int | None = None) -> None:
        log.debug("%s: started%s", phase, "" if total is None else f" ({total})")

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

    def note(self, message: str) -> None:
        log.info("%s", message)

    def waiting(self, reason: WaitReason, seconds: float | None, detail: str) -> None:
        # Each wait is a log line at the default level (a daemon that pauses a minute
        # says why); waits under a second are pacing, not news.
        if seconds is None or seconds >= SHORT_WAIT:
            log.info("%s", wait_line(reason, seconds, detail))


@dataclass
class EngineWorker:
    """The real engine behind the loop's `Worker` protocol.

    `stop` (the watch's stop request) ends a long push between its write batches.
    """

    engine: Engine
    client: MessageStoreClient
    config: Config
    force: bool = False
    progress: Progress | None = None
    stop: threading.Event | None = None

    def pending(self) -> Pending:
        return read_pending(self.engine)

    def push(self) -> Outcome:
        from rcsync.sync.account import push_account

        try:
            # Each edit to its own extension's paths (account archives).
            summary = push_account(
                self.engine,
                self.client,
                self.config,
                force=self.force,
                progress=self.progress or NullProgress(),
                stop=self.stop,
            )
            outcome = push_outcome(summary)
        except Exception as exc:
            self._hooks("push", {}, error=_reason(exc))
            raise
        self._hooks("push", summary.as_dict())
        return outcome

    def pull(self) -> Outcome:
        """Every configured extension of an account archive (just the login's by default)."""
        return self._pull(None)

    def _pull(self, extensions: frozenset[str] | None) -> Outcome:
        from rcsync.sync.account import pull_account_messages

        try:
            summary = pull_account_messages(
                self.engine,
                self.client,
                self.config,
                progress=self.progress or NullProgress(),
                extensions=extensions,
            )
        except Exception as exc:
            self._hooks("pull", {}, error=_reason(exc))
            raise
        self._hooks("pull", dataclasses.asdict(summary), new=summary.new)
        return pull_outcome(summary)

    def _hooks(
        self, step: str, summary: dict[str, Any], *, new: int = 0, error: str | None = None
    ) -> None:
        """`[hooks]` after each step (RCSYNC_EVENT=watch, the step in the summary); a
        failing hook is logged and never stops the watch."""
        from rcsync.sync.hooks import Event, run_hooks

        payload = {"step": step, **summary}
        for run in run_hooks(self.config.hooks, Event.WATCH, payload, new=new, error=error):
            if not run.ok:
                log.warning("%s", run.describe())

    def attachments(self, interrupt: Callable[[], bool]) -> Outcome:
        from rcsync.sync.edits_first import EditsFirst
        from rcsync.sync.pull import pull_attachments

        progress = self.progress or NullProgress()
        gate = EditsFirst(
            self.engine,
            self.config,
            budget=self.client.budget,
            progress=progress,
            interrupt=interrupt,
            star=self.client.star_bulk,
        )
        summary = pull_attachments(
            self.engine, self.client, self.config, progress=progress, gate=gate
        )
        return attachments_outcome(summary)

    def pull_extensions(self, extensions: frozenset[str]) -> Outcome:
        """An ISync of only the mirrored extensions among `extensions` (a notification's):
        one request per extension named, however many the archive mirrors. A single-
        extension archive mirrors the login's own (`~`), which every event names: its
        ordinary incremental pull."""
        return self._pull(extensions)
