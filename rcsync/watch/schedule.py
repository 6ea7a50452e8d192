"""The `watch` loop: a pure scheduler deciding the next step, and the runner that does it.

The scheduler knows nothing of threads, clocks or databases; it is fed facts (a file changed
at t, a check found these pending edits, a push/pull finished or failed at t) and answers
"what now": PUSH, PULL, CHECK (cheap look at the pending edits) or WAIT until t. Tests drive
it with a fake clock; the runner drives it with `time.monotonic` and a `Waker`.

Rules, in priority order:

* After a failure nothing happens until the backoff delay has passed (`rcsync.watch.backoff`).
* A wanted push goes first; each successful push is followed at once by a pull, so the base
  of every field is fresh before the next edit is judged. While steps fail, the one that did
  not fail last goes first, so a broken pull never holds edits back, nor the reverse.
* Every ``interval`` seconds (and at start) comes a *sweep*: push whatever is pending, then
  pull. The sweep also retries edits that an earlier push left pending (rejected by the
  server, or stopped by the delete guard), at most once per interval.
* File changes are debounced: a CHECK runs once the database has been quiet for ``quiet``
  seconds, or ``max_delay`` after the first change of a burst, whichever is first. A burst
  of 500 UPDATEs is therefore one check and one push.
* A CHECK wants a push only if some pending edit is newer than the newest edit already
  handed to a push (the *watermark*). Our own pushes and pulls write the database too, so
  they wake us; the check then finds nothing new and costs one query, never a loop.
"""

from __future__ import annotations

import enum
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import sqlalchemy.exc

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
from rcsync.watch.backoff import Backoff

log = logging.getLogger("rcsync.watch")


class StepKind(enum.Enum):
    PUSH = "push"
    PULL = "pull"
    CHECK = "check"
    WAIT = "wait"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    until: float = math.inf  # WAIT: sleep until this time (monotonic seconds)
    sweep: bool = False  # CHECK: push anything pending, even edits already attempted


@dataclass(frozen=True)
class Pending:
    """What the cheap check found: how many edits are pending and when the newest was made."""

    count: int = 0
    newest: str | None = None  # ISO-8601 UTC text from the edit-capturing triggers

    def newer_than(self, watermark: str | None) -> bool:
        if self.count == 0 or self.newest is None:
            return False
        return watermark is None or self.newest > watermark


@dataclass
class Scheduler:
    interval: float
    now: float
    quiet: float = 0.2
    max_delay: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)
    pull_due_at: float = field(init=False)
    sweep_due: bool = field(init=False, default=True)
    push_wanted: bool = field(init=False, default=False)
    first_change: float | None = field(init=False, default=None)
    last_change: float | None = field(init=False, default=None)
    retry_at: float | None = field(init=False, default=None)
    watermark: str | None = field(init=False, default=None)
    failing: set[StepKind] = field(init=False, default_factory=set)
    last_failed: StepKind | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.pull_due_at = self.now  # a sweep and a pull at start
        # ...and a check after the first quiet period: a commit in flight while the watcher
        # started may have written its WAL (the event we would have seen) before the watch
        # existed, yet become visible only after the sweep looked.
        self.first_change = self.last_change = self.now

    # --- the decision -------------------------------------------------------------------

    def next_step(self, now: float) -> Step:
        if self.retry_at is not None and now < self.retry_at:
            return Step(StepKind.WAIT, until=self.retry_at)
        # Neither direction may starve the other while failing: when a push is wanted and a
        # pull is due, the one that did not fail last goes first.
        if self.push_wanted and not (self.last_failed is StepKind.PUSH and now >= self.pull_due_at):
            return Step(StepKind.PUSH)
        due = self.check_due_at()
        if due is not None and now >= due:
            return Step(StepKind.CHECK)
        if now >= self.pull_due_at:
            if self.sweep_due:
                return Step(StepKind.CHECK, sweep=True)
            return Step(StepKind.PULL)
        return Step(
            StepKind.WAIT, until=min(due if due is not None else math.inf, self.pull_due_at)
        )

    def check_due_at(self) -> float | None:
        if self.first_change is None or self.last_change is None:
            return None
        return min(self.last_change + self.quiet, self.first_change + self.max_delay)

    # --- facts --------------------------------------------------------------------------

    def changed(self, now: float) -> None:
        """The database files changed (any process, including ours)."""
        if self.first_change is None:
            self.first_change = now
        self.last_change = now

    def checked(self, pending: Pending, *, sweep: bool, started: float) -> bool:
        """A CHECK that began at `started` found `pending`; returns whether a push is wanted.

        A file event can come a moment before the commit it belongs to is visible (the WAL
        is written before its index), so changes newer than `quiet` before the check are
        looked at once more after a quiet period; older ones are settled.
        """
        if self.last_change is not None and self.last_change > started - self.quiet:
            self.first_change = self.last_change
        else:
            self.first_change = self.last_change = None
        if sweep:
            self.sweep_due = False
        wanted = pending.count > 0 and (sweep or pending.newer_than(self.watermark))
        if wanted:
            self.push_wanted = True
            if pending.newest is not None and (
                self.watermark is None or pending.newest > self.watermark
            ):
                self.watermark = pending.newest
        self._succeeded(StepKind.CHECK)
        return wanted

    def pushed(self, now: float) -> None:
        """A push finished (or gave up on what it could not send): pull now, no sweep."""
        self.push_wanted = False
        self.pull_due_at = now
        self.sweep_due = False
        self._succeeded(StepKind.PUSH)

    def push_blocked(self) -> None:
        """The push needs the user (delete guard): leave it pending until new edits or a sweep."""
        self.push_wanted = False

    def pulled(self, now: float) -> None:
        self.pull_due_at = now + self.interval
        self.sweep_due = True
        self._succeeded(StepKind.PULL)

    def failed(self, now: float, kind: StepKind, *, at_least: float = 0.0) -> float:
        """A step failed for a reason worth retrying; returns the delay before the retry."""
        self.failing.add(kind)
        self.last_failed = kind
        delay = self.backoff.next_delay(at_least=at_least)
        self.retry_at = now + delay
        return delay

    def _succeeded(self, kind: StepKind) -> None:
        """A step worked. The backoff restarts only once no kind of step is failing, so a push
        the server keeps refusing is retried ever more slowly, whatever pulls do meanwhile."""
        self.retry_at = None
        self.failing.discard(kind)
        if self.last_failed is kind:
            self.last_failed = None
        if not self.failing:
            self.backoff.reset()


class Waker:
    """Where other threads (the file watcher, signal handlers) tell the loop something happened.

    The loop blocks in `wait` until a change, a stop request or a timeout: no polling.
    Stopping is a `threading.Event`, so any thread can ask whether a stop was requested.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._changes = 0
        self.stop_requested = threading.Event()

    def notify_change(self) -> None:
        with self._cond:
            self._changes += 1
            self._cond.notify_all()

    def request_stop(self) -> None:
        self.stop_requested.set()
        with self._cond:
            self._cond.notify_all()

    def wait(self, timeout: float | None) -> int:
        """Block until a change or a stop (or `timeout` seconds); return changes since last call."""
        with self._cond:
            if self._changes == 0 and not self.stop_requested.is_set():
                self._cond.wait(timeout)
            changes, self._changes = self._changes, 0
            return changes

    def take_changes(self) -> int:
        with self._cond:
            changes, self._changes = self._changes, 0
            return changes


@dataclass(frozen=True)
class Outcome:
    """What a push or pull did: a count, the headline log line, and notable details."""

    count: int
    summary: str  # "pushed 3", "pulled 12"
    notes: tuple[str, ...] = ()  # "conflict on 123 read_status: kept local", rejections


class Worker(Protocol):
    """The engine as the loop sees it. Each call is one complete, committed step."""

    def pending(self) -> Pending:
        """Cheap: how many edits are pending and the newest edit time."""

    def push(self) -> Outcome:
        """Send pending edits."""

    def pull(self) -> Outcome:
        """Incremental pull."""


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
    sqlalchemy.exc.OperationalError,
    sqlite3.OperationalError,
)


def classify(exc: BaseException) -> Verdict:
    """Sort an engine error: what keeps `watch` going and what ends it."""
    if isinstance(exc, AuthError | ConfigError | SchemaTooNewError):
        return Verdict.FATAL  # an expired login that could not be refreshed, a bad setup
    if isinstance(exc, GuardError):
        return Verdict.BLOCKED
    if isinstance(exc, _TRANSIENT):
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

    def run(self) -> None:
        """Return when a stop was requested; raise the error that ended the watch otherwise."""
        stop = self.waker.stop_requested
        while not stop.is_set():
            self._note_changes(self.waker.take_changes())
            now = self.clock()
            step = self.scheduler.next_step(now)
            if step.kind is StepKind.WAIT:
                timeout = None if math.isinf(step.until) else max(step.until - now, 0.0)
                self._note_changes(self.waker.wait(timeout))
            else:
                self._attempt(step)

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
            self._report(self.worker.pull())
            self.scheduler.pulled(self.clock())

    @staticmethod
    def _report(outcome: Outcome) -> None:
        log.log(logging.INFO if outcome.count else logging.DEBUG, "%s", outcome.summary)
        for note in outcome.notes:
            log.info("%s", note)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
