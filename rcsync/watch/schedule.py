"""The scheduler of `watch`. PURE: no clock, no threads, no I/O.

It is fed facts (a file changed at t, a check found these pending edits, a push/pull
finished or failed at t) and answers "what now": PUSH, PULL, CHECK (cheap look at the
pending edits) or WAIT until t. Tests drive it with a fake clock; `rcsync.watch.runner`
drives it with `time.monotonic` and a `Waker`.

Rules, in priority order:

* After a failure nothing happens until the backoff delay has passed (`rcsync.watch.backoff`).
* A wanted push goes first; each successful push is followed at once by a pull, so the base
  of every field is fresh before the next edit is judged. While steps fail, the one that did
  not fail last goes first, so a broken pull never holds edits back, nor the reverse.
* Every ``interval`` seconds (and at start) comes a *sweep*: push whatever is pending, then
  pull. The sweep also retries edits that an earlier push left pending (rejected by the
  server, or stopped by the delete guard), at most once per interval.
* Attachments (when the watch downloads them) are a phase of their own after each pull,
  last in priority: it ends early (`interrupts_attachments`) as soon as an edit newer than
  the watermark waits or a pull is due, and goes on after the push and the pull.
* A notification (an event of the WebSocket channel, a hint) wants a pull of the extensions it
  names, at once, after any wanted push and before the periodic pull; it brings no sweep.
  Hints that come while a pull runs are fed after it, so they get a pull of their own.
* Our own push is notified too. With the channel up, the pull after a push waits
  ``echo_wait`` seconds so that the echo (and any other event meanwhile) is covered by that
  one pull rather than a second; a new edit in that time still waits for the pull first.
* While the notification channel is healthy the periodic pull is only a safety net and comes
  every ``safety_interval`` seconds instead of ``interval`` (the stream can die silently);
  when the channel goes down the next periodic pull is due ``interval`` after the last one.
* File changes are debounced: a CHECK runs once the database has been quiet for ``quiet``
  seconds, or ``max_delay`` after the first change of a burst, whichever is first. A burst
  of 500 UPDATEs is therefore one check and one push.
* A CHECK wants a push only if some pending edit is newer than the newest edit already
  handed to a push (the *watermark*). Our own pushes and pulls write the database too, so
  they wake us; the check then finds nothing new and costs one query, never a loop.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from rcsync.watch.backoff import Backoff


class StepKind(enum.Enum):
    PUSH = "push"
    PULL = "pull"
    ATTACHMENTS = "attachments"
    CHECK = "check"
    WAIT = "wait"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    until: float = math.inf  # WAIT: sleep until this time (monotonic seconds)
    sweep: bool = False  # CHECK: push anything pending, even edits already attempted
    # PULL: only these extensions (a notification named them); None = every extension.
    extensions: frozenset[str] | None = None


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
    attachments: bool = False  # download attachments after the pulls
    attachments_due: bool = field(init=False, default=False)
    # The periodic pull's period while the notification channel is up (None: `interval`).
    safety_interval: float | None = None
    # With the channel up, the pull after a push waits this long for the push's own event.
    echo_wait: float = 0.0
    pull_due_at: float = field(init=False)
    sweep_due: bool = field(init=False, default=True)
    push_wanted: bool = field(init=False, default=False)
    first_change: float | None = field(init=False, default=None)
    last_change: float | None = field(init=False, default=None)
    retry_at: float | None = field(init=False, default=None)
    watermark: str | None = field(init=False, default=None)
    failing: set[StepKind] = field(init=False, default_factory=set)
    last_failed: StepKind | None = field(init=False, default=None)
    channel_up: bool = field(init=False, default=False)
    last_pull: float | None = field(init=False, default=None)
    # Extensions notifications asked to pull: a set, None for every one; empty = no hint.
    hinted: frozenset[str] | None = field(init=False, default=frozenset())
    echo_pull: bool = field(init=False, default=False)  # a post-push pull waits for its echo

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
        if self.push_wanted and self.echo_pull:
            return Step(StepKind.PULL)  # the pull after a push still comes before the next
        if self.push_wanted and not (self.last_failed is StepKind.PUSH and now >= self.pull_due_at):
            return Step(StepKind.PUSH)
        due = self.check_due_at()
        if due is not None and now >= due:
            return Step(StepKind.CHECK)
        if (self.hinted is None or self.hinted) and not self.echo_pull:
            return Step(StepKind.PULL, extensions=self.hinted)
        if now >= self.pull_due_at:
            if self.sweep_due:
                return Step(StepKind.CHECK, sweep=True)
            return Step(StepKind.PULL)
        if self.attachments_due:
            return Step(StepKind.ATTACHMENTS)
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
        """A push finished (or gave up on what it could not send): pull now, no sweep.
        With the channel up, `echo_wait` later: the notification of our own write comes
        meanwhile and is absorbed by that pull instead of costing another."""
        self.push_wanted = False
        self.pull_due_at = now + (self.echo_wait if self.channel_up else 0.0)
        self.echo_pull = self.channel_up and self.echo_wait > 0
        self.sweep_due = False
        self._succeeded(StepKind.PUSH)

    def push_blocked(self) -> None:
        """The push needs the user (delete guard): leave it pending until new edits or a sweep."""
        self.push_wanted = False

    def pulled(self, now: float, extensions: frozenset[str] | None = None) -> None:
        """A pull of `extensions` (None: all) finished. Only a pull of every extension
        restarts the periodic timer; either settles the hints it covered."""
        if extensions is None:
            self.hinted = frozenset()
            self.echo_pull = False
            self.last_pull = now
            self.pull_due_at = now + self.period()
            self.sweep_due = True
        elif self.hinted is not None:
            self.hinted = self.hinted - extensions
        self.attachments_due = self.attachments
        self._succeeded(StepKind.PULL)

    def notified(self, extensions: frozenset[str] | None) -> None:
        """A notification named changes in `extensions` (None: every one, e.g. events lost)."""
        if extensions is None or self.hinted is None:
            self.hinted = None
        else:
            self.hinted = self.hinted | extensions

    def channel(self, up: bool) -> None:
        """The notification channel came up or went down: the periodic pull follows."""
        self.channel_up = up
        if self.last_pull is not None:
            self.pull_due_at = self.last_pull + self.period()

    def period(self) -> float:
        """Seconds between periodic pulls now."""
        if self.channel_up and self.safety_interval is not None:
            return max(self.safety_interval, self.interval)
        return self.interval

    def interrupts_attachments(self, pending: Pending, now: float) -> bool:
        """Whether the attachment phase should end now: an edit waits that no push was
        handed yet, or a pull is due (the phase goes on after them)."""
        return pending.newer_than(self.watermark) or now >= self.pull_due_at

    def attachments_ran(self, *, finished: bool) -> None:
        """The attachment phase ended: all done (`finished`), or stopped to let edits or a
        pull go first (it is due again after them)."""
        self.attachments_due = not finished
        self._succeeded(StepKind.ATTACHMENTS)

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


@dataclass(frozen=True)
class Outcome:
    """What a push or pull did: a count, the headline log line, and notable details."""

    count: int
    summary: str  # "pushed 3", "pulled 12"
    notes: tuple[str, ...] = ()  # "conflict on 123 read_status: kept local", rejections
    finished: bool = True  # False: the step stopped early on purpose (edits first)
