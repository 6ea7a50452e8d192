"""The watch loop on a fake clock: debounce, own writes, sweeps, backoff, fatal errors, stop.

`Sim` is a deterministic world: a scripted timeline of file changes and a stop, a clock that
only moves when the loop waits, and a fake worker whose pushes and pulls write "the
database" (i.e. cause file events, as our own transactions do).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import pytest

from rcsync.errors import (
    ApiError,
    AuthError,
    GuardError,
    NetworkError,
    RateLimitedError,
    ServerError,
)
from rcsync.watch.backoff import Backoff
from rcsync.watch.runner import Runner, Verdict, Waker, classify
from rcsync.watch.schedule import Outcome, Pending, Scheduler, StepKind


@dataclass
class Clock:
    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class SimWaker:
    """A Waker whose wait() jumps the fake clock to the next scripted event."""

    clock: Clock
    events: list[tuple[float, str]] = field(default_factory=list)  # (time, "change"|"stop")
    stop_requested: threading.Event = field(default_factory=threading.Event)
    waits: list[float | None] = field(default_factory=list)
    changes: int = 0
    end: float = 10_000.0

    def at(self, t: float, what: str = "change") -> None:
        self.events.append((t, what))
        self.events.sort()

    def _deliver_due(self) -> None:
        while self.events and self.events[0][0] <= self.clock.t:
            _, what = self.events.pop(0)
            if what == "stop":
                self.stop_requested.set()
            else:
                self.changes += 1

    def take_changes(self) -> int:
        self._deliver_due()
        n, self.changes = self.changes, 0
        return n

    def wait(self, timeout: float | None) -> int:
        self.waits.append(timeout)
        target = self.end if timeout is None else self.clock.t + timeout
        if self.events and self.events[0][0] < target:
            target = self.events[0][0]
        if target >= self.end:
            self.stop_requested.set()  # the simulation is over
            target = self.end
        self.clock.t = max(self.clock.t, target)
        return self.take_changes()


@dataclass
class FakeWorker:
    clock: Clock
    waker: SimWaker
    pending_edits: list[str] = field(default_factory=list)  # edited_at of each pending edit
    calls: list[tuple[str, float]] = field(default_factory=list)
    pushed_edits: list[int] = field(default_factory=list)
    errors: dict[str, list[BaseException]] = field(default_factory=dict)
    op_seconds: float = 0.05
    rejected: int = 0  # this many edits stay pending after each push (server said no)

    def edit(self, t: float, n: int = 1) -> None:
        """A user edit at time t: the trigger records it, the file changes."""
        self.waker.at(t)
        self._edits_at.append((t, n))

    _edits_at: list[tuple[float, int]] = field(default_factory=list)

    visible_after: float = 0.0  # a commit becomes visible this long after its file event

    def _apply_edits(self) -> None:
        for t, n in list(self._edits_at):
            if t + self.visible_after <= self.clock.t:
                self.pending_edits += [f"{t:012.3f}"] * n
                self._edits_at.remove((t, n))

    def _maybe_fail(self, op: str) -> None:
        queue = self.errors.get(op)
        if queue:
            raise queue.pop(0)

    def pending(self) -> Pending:
        self._apply_edits()
        self.calls.append(("check", self.clock.t))
        self._maybe_fail("check")
        return Pending(len(self.pending_edits), max(self.pending_edits, default=None))

    def push(self) -> Outcome:
        self._apply_edits()
        self.calls.append(("push", self.clock.t))
        self._maybe_fail("push")
        self.clock.t += self.op_seconds
        sent = len(self.pending_edits) - self.rejected
        self.pushed_edits.append(sent)
        self.pending_edits = self.pending_edits[: self.rejected]
        self.waker.at(self.clock.t)  # our own commit wakes the watcher
        return Outcome(sent, f"pushed {sent}")

    def pull(self) -> Outcome:
        self.calls.append(("pull", self.clock.t))
        self._maybe_fail("pull")
        self.clock.t += self.op_seconds
        self.waker.at(self.clock.t)  # our own commit wakes the watcher
        return Outcome(0, "pulled 0")

    def ops(self, kind: str) -> list[float]:
        return [t for k, t in self.calls if k == kind]


def make(
    interval: float = 60.0, end: float = 1200.0, jitter: float = 0.5
) -> tuple[Clock, SimWaker, FakeWorker, Runner]:
    clock = Clock()
    waker = SimWaker(clock, end=clock.t + end)
    worker = FakeWorker(clock, waker)
    sched = Scheduler(interval=interval, now=clock.t, backoff=Backoff(rng=lambda: jitter))
    return clock, waker, worker, Runner(worker, sched, waker, clock=clock)


def test_start_sweeps_then_pulls_then_sleeps_until_the_interval() -> None:
    _clock, waker, worker, runner = make(interval=60, end=200)
    runner.run()
    pulls = worker.ops("pull")
    assert pulls[0] == 1000.0
    assert [round(b - a, 2) for a, b in itertools.pairwise(pulls)] == [60.05, 60.05, 60.05]
    assert worker.ops("push") == []
    # Idle: every wait is long (debounce of our own pull's write, then the interval).
    assert all(w is None or w >= 0.2 - 1e-9 for w in waker.waits)
    assert len(waker.waits) < 20


def test_burst_of_500_edits_is_one_push_followed_by_a_pull() -> None:
    _clock, _waker, worker, runner = make(end=30)
    for i in range(500):
        worker.edit(1010.0 + i * 0.001)  # 500 UPDATEs in half a second
    runner.run()
    assert worker.pushed_edits == [500]
    push_t = worker.ops("push")[0]
    assert 1010.499 + 0.2 - 1e-6 <= push_t <= 1011.0 + 1e-6  # quiet 200 ms, at most 1 s
    assert any(t >= push_t for t in worker.ops("pull")[1:])  # pulled right after the push


def test_a_long_stream_of_edits_is_pushed_within_max_delay() -> None:
    _clock, _waker, worker, runner = make(end=30)
    for i in range(40):
        worker.edit(1010.0 + i * 0.1)  # never 200 ms of quiet for 4 s
    runner.run()
    first = worker.ops("push")[0]
    assert first <= 1011.0 + 1e-6
    assert sum(worker.pushed_edits) == 40
    assert 2 <= len(worker.pushed_edits) <= 6  # batched, not one push per edit


def test_own_writes_cost_one_check_and_never_a_push() -> None:
    _clock, _waker, worker, runner = make(interval=60, end=600)
    worker.edit(1100.0)
    runner.run()
    assert worker.pushed_edits == [1]
    # ~10 pulls in 600 s, each followed by a check of its own write; no extra pushes/pulls.
    assert len(worker.ops("pull")) <= 12
    assert len(worker.ops("check")) <= 2 * len(worker.ops("pull")) + 2


def test_edits_the_server_rejected_are_not_retried_on_every_wake() -> None:
    _clock, _waker, worker, runner = make(interval=60, end=300)
    worker.rejected = 1
    worker.edit(1010.0, n=3)
    runner.run()
    # Pushed once on the edit; the one rejected edit is retried only by the periodic sweeps.
    assert worker.pushed_edits[0] == 2
    assert len(worker.ops("push")) <= 1 + 300 / 60 + 1


def test_new_edit_after_rejected_one_is_still_pushed_promptly() -> None:
    _clock, _waker, worker, runner = make(interval=300, end=100)
    worker.rejected = 1
    worker.edit(1010.0, n=2)
    worker.edit(1050.0)
    runner.run()
    pushes = worker.ops("push")
    assert len(pushes) == 2 and 1050.2 - 1e-6 <= pushes[1] <= 1051.0


@pytest.mark.parametrize(
    "exc",
    [
        NetworkError("connection refused"),
        ServerError("HTTP 503", status=503),
        RateLimitedError("HTTP 429", status=429),
        ApiError("HTTP 400", status=400),
    ],
)
def test_transient_errors_back_off_with_growing_capped_delays(exc: Exception) -> None:
    _clock, _waker, worker, runner = make(interval=3600, end=4000)
    worker.errors["pull"] = [exc] * 12
    runner.run()
    pulls = worker.ops("pull")
    gaps = [b - a for a, b in itertools.pairwise(pulls)]
    # jitter 0.5 → 3/4 of the ceiling: 1.5, 3, 6, ... capped at 225 (= 0.75 * 300)
    assert gaps[:4] == pytest.approx([1.5, 3.0, 6.0, 12.0], abs=0.01)
    assert max(gaps[:12]) == pytest.approx(225.0, abs=0.01)
    assert len(pulls) == 13  # 12 failures, then the success
    assert min(gaps) >= 1.0  # never a tight loop


def test_jitter_spreads_delays_between_half_and_full_ceiling() -> None:
    seq = iter([0.0, 1.0, 0.0, 1.0, 0.25, 0.0])
    b = Backoff(rng=lambda: next(seq))
    assert [b.next_delay() for _ in range(5)] == [1.0, 4.0, 4.0, 16.0, 20.0]
    b.reset()
    assert b.next_delay() == 1.0
    assert Backoff(rng=lambda: 1.0, failures=200).next_delay() == 300.0
    assert Backoff(rng=lambda: 0.0).next_delay(at_least=30) == 30.0


def test_a_success_resets_the_backoff() -> None:
    _clock, _waker, worker, runner = make(interval=3600, end=100)
    worker.errors["check"] = [NetworkError("x")] * 3
    worker.edit(1050.0)
    runner.run()
    assert runner.scheduler.backoff.failures == 0
    assert worker.pushed_edits == [1]


def test_push_failure_is_retried_and_nothing_is_lost() -> None:
    _clock, _waker, worker, runner = make(interval=3600, end=200)
    worker.errors["push"] = [ServerError("503"), NetworkError("reset")]
    worker.edit(1010.0, n=5)
    runner.run()
    assert worker.pushed_edits == [5]
    assert len(worker.ops("push")) == 3


def test_auth_error_ends_the_watch() -> None:
    _clock, _waker, worker, runner = make()
    worker.errors["pull"] = [AuthError("token expired; run `rcsync login`")]
    with pytest.raises(AuthError):
        runner.run()


def test_a_bug_ends_the_watch_instead_of_looping() -> None:
    _clock, _waker, worker, runner = make()
    worker.errors["pull"] = [KeyError("oops")]
    with pytest.raises(KeyError):
        runner.run()


def test_delete_guard_holds_the_push_back_until_the_next_sweep() -> None:
    _clock, _waker, worker, runner = make(interval=60, end=100)
    worker.errors["push"] = [GuardError("would trash 500 messages; use --force")]
    worker.edit(1010.0)
    runner.run()
    pushes = worker.ops("push")
    assert len(pushes) == 2 and pushes[1] >= 1060.0  # next sweep, not a loop


def test_stop_is_checked_between_steps() -> None:
    clock, waker, worker, runner = make(end=1000)
    waker.at(1005.0, "stop")
    runner.run()
    assert clock.t == 1005.0
    assert len(worker.ops("pull")) == 1


def test_classify() -> None:
    import sqlalchemy.exc

    assert classify(AuthError("x")) is Verdict.FATAL
    assert classify(GuardError("x")) is Verdict.BLOCKED
    assert classify(sqlalchemy.exc.OperationalError("s", {}, Exception("locked"))) is Verdict.RETRY
    assert classify(ValueError("bug")) is Verdict.FATAL


def test_scheduler_waits_for_quiet_then_checks() -> None:
    s = Scheduler(interval=100, now=0.0)
    s.checked(Pending(), sweep=True, started=0.0)
    s.pulled(0.0)
    assert s.next_step(0.1).until == pytest.approx(0.2)  # start-up: one more look after quiet
    assert s.next_step(0.2).kind is StepKind.CHECK
    s.checked(Pending(), sweep=False, started=0.2)
    assert s.next_step(1.0).kind is StepKind.WAIT and s.next_step(1.0).until == 100.0
    s.changed(10.0)
    assert s.next_step(10.1).until == pytest.approx(10.2)
    s.changed(10.15)
    assert s.next_step(10.2).until == pytest.approx(10.35)
    assert s.next_step(10.35).kind is StepKind.CHECK


def test_real_waker_blocks_until_notified() -> None:
    waker = Waker()
    threading.Timer(0.05, waker.notify_change).start()
    assert waker.wait(5.0) == 1
    threading.Timer(0.05, waker.request_stop).start()
    assert waker.wait(5.0) == 0 and waker.stop_requested.is_set()
    assert waker.wait(5.0) == 0  # already stopped: returns at once


def test_a_push_that_keeps_failing_slows_down_and_does_not_starve_pulls() -> None:
    _clock, _waker, worker, runner = make(interval=60, end=3000)
    worker.errors["push"] = [ServerError("HTTP 500", status=500)] * 1000
    worker.edit(1010.0)
    runner.run()
    pushes = worker.ops("push")
    gaps = [b - a for a, b in itertools.pairwise(pushes)]
    assert len(pushes) < 60  # about one per interval once the backoff is high, never a spin
    assert min(gaps) >= 1.0
    pulls = worker.ops("pull")
    assert max(b - a for a, b in itertools.pairwise(pulls)) <= 60 + 300 + 1


def test_a_stop_during_a_wait_inside_a_step_ends_the_step_quietly() -> None:
    from rcsync.errors import StopRequested
    from rcsync.watch.runner import interruptible_sleep

    clock, waker, worker, runner = make(end=100)
    sleep = interruptible_sleep(waker.stop_requested)
    sleep(0)  # no stop yet: returns
    waker.stop_requested.set()
    with pytest.raises(StopRequested):
        sleep(30)
    waker.stop_requested.clear()

    def push_then_stop() -> Outcome:
        waker.stop_requested.set()
        sleep(60)  # the client pacing its requests
        raise AssertionError("unreachable")

    worker.push = push_then_stop  # type: ignore[method-assign]
    worker.edit(1010.0)
    runner.run()  # returns, no exception
    assert clock.t < 1012.0


def test_edits_are_still_pushed_while_pulls_keep_failing() -> None:
    _clock, _waker, worker, runner = make(interval=60, end=200)
    worker.errors["pull"] = [ServerError("HTTP 500", status=500)] * 1000
    worker.edit(1020.0, n=2)
    runner.run()
    assert worker.pushed_edits[:1] == [2]
    assert worker.ops("push")[0] < 1020.0 + 60  # within the backoff, not held by the pulls
    pulls = worker.ops("pull")
    assert min(b - a for a, b in itertools.pairwise(pulls)) >= 1.0


def test_an_event_seen_before_its_commit_is_visible_is_checked_again() -> None:
    # The edit's file event comes at the very moment of the start sweep, and its commit only
    # becomes visible 50 ms later: the sweep sees nothing, a later check must see it.
    _clock, _waker, worker, runner = make(interval=3600, end=100)
    worker.visible_after = 0.05
    worker.errors["pull"] = [NetworkError("down")] * 5  # no own writes to wake it by chance
    worker.edit(1000.0)
    runner.run()
    assert worker.pushed_edits == [1]
    assert worker.ops("push")[0] <= 1000.0 + 1.5 + 0.1  # right after the first backoff
