"""Notifications in the watch loop: hints pull at once, the channel's health stretches the
periodic pull into a safety net, and notices cross threads without being lost."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rcsync.watch.notices import ChannelState, Hint, Inbox
from rcsync.watch.runner import Runner, Waker
from rcsync.watch.schedule import Outcome, Pending, Scheduler, StepKind

EXT = frozenset({"409563008"})


def settled(interval: float = 300.0, safety: float | None = 3600.0) -> Scheduler:
    """A scheduler past its start: swept, pulled at t=0, nothing pending."""
    s = Scheduler(interval=interval, now=0.0, safety_interval=safety)
    assert s.next_step(0.0).sweep
    s.checked(Pending(), sweep=True, started=0.0)
    assert s.next_step(0.0).kind is StepKind.PULL
    s.pulled(0.0)
    s.checked(Pending(), sweep=False, started=0.5)  # the start's delayed check
    return s


def test_a_hint_pulls_the_named_extensions_at_once_without_a_sweep() -> None:
    s = settled()
    assert s.next_step(10.0).kind is StepKind.WAIT
    s.notified(EXT)
    step = s.next_step(10.0)
    assert (step.kind, step.extensions, step.sweep) == (StepKind.PULL, EXT, False)
    s.pulled(10.1, EXT)
    after = s.next_step(10.2)
    assert after.kind is StepKind.WAIT and after.until == 300.0  # the periodic timer is kept


def test_a_hint_for_every_extension_absorbs_narrower_ones() -> None:
    s = settled()
    s.notified(EXT)
    s.notified(None)
    s.notified(frozenset({"1"}))
    step = s.next_step(5.0)
    assert step.kind is StepKind.PULL and step.extensions is None
    s.pulled(5.1, None)
    assert s.next_step(5.2).kind is StepKind.WAIT


def test_a_pull_of_some_extensions_leaves_the_others_hinted() -> None:
    s = settled()
    s.notified(frozenset({"1", "2"}))
    s.pulled(1.0, frozenset({"1"}))
    step = s.next_step(1.0)
    assert step.kind is StepKind.PULL and step.extensions == frozenset({"2"})


def test_a_wanted_push_goes_before_a_hinted_pull() -> None:
    s = settled()
    s.changed(20.0)
    assert s.next_step(20.2).kind is StepKind.CHECK
    s.checked(Pending(1, "2026-01-01T00:00:00Z"), sweep=False, started=20.2)
    s.notified(EXT)
    assert s.next_step(20.3).kind is StepKind.PUSH


def test_a_failed_hinted_pull_is_retried_after_the_backoff() -> None:
    s = settled()
    s.notified(EXT)
    delay = s.failed(10.0, StepKind.PULL)
    assert s.next_step(10.0).kind is StepKind.WAIT
    step = s.next_step(10.0 + delay)
    assert step.kind is StepKind.PULL and step.extensions == EXT


def test_with_the_channel_up_the_echo_of_a_push_shares_the_pull_after_it() -> None:
    s = settled()
    s.echo_wait = 1.0
    s.channel(up=True)
    s.changed(20.0)
    s.checked(Pending(1, "2026-01-01T00:00:00Z"), sweep=False, started=20.2)
    assert s.next_step(20.2).kind is StepKind.PUSH
    s.pushed(20.3)
    s.notified(EXT)  # our own write, notified
    assert s.next_step(20.31) == s.next_step(20.31)
    wait = s.next_step(20.31)
    assert wait.kind is StepKind.WAIT and wait.until == 21.3
    pull = s.next_step(21.3)
    assert pull.kind is StepKind.PULL and pull.extensions is None
    s.pulled(21.4, None)
    assert s.next_step(21.4).kind is StepKind.WAIT  # the echo was settled by that one pull


def test_a_new_edit_during_the_echo_wait_is_pushed_after_the_pull() -> None:
    s = settled()
    s.echo_wait = 1.0
    s.channel(up=True)
    s.checked(Pending(1, "2026-01-01T00:00:00Z"), sweep=False, started=20.0)
    s.pushed(20.1)
    s.checked(Pending(1, "2026-01-01T00:00:01Z"), sweep=False, started=20.4)
    assert s.next_step(20.4).kind is StepKind.PULL  # the base is fresh before the next push
    s.pulled(20.5, None)
    assert s.next_step(20.5).kind is StepKind.PUSH


def test_a_healthy_channel_makes_the_periodic_pull_a_safety_net() -> None:
    s = settled(interval=300.0, safety=3600.0)
    s.channel(up=True)
    assert s.next_step(400.0) == s.next_step(400.0)  # pure
    assert s.next_step(400.0).kind is StepKind.WAIT
    assert s.next_step(400.0).until == 3600.0
    s.channel(up=False)  # reconnecting: polling as without notifications, overdue at once
    assert s.next_step(400.0).kind is StepKind.CHECK and s.next_step(400.0).sweep


def test_without_notifications_the_interval_is_unchanged() -> None:
    s = settled(interval=300.0, safety=None)
    s.channel(up=True)
    assert s.next_step(10.0).until == 300.0


def test_a_safety_interval_shorter_than_the_interval_never_pulls_more_often() -> None:
    s = settled(interval=7200.0, safety=3600.0)
    s.channel(up=True)
    assert s.next_step(10.0).until == 7200.0


@dataclass
class Worker:
    calls: list[tuple[str, frozenset[str] | None]] = field(default_factory=list)

    def pending(self) -> Pending:
        return Pending()

    def push(self) -> Outcome:
        self.calls.append(("push", None))
        return Outcome(0, "pushed 0")

    def pull(self) -> Outcome:
        self.calls.append(("pull", None))
        return Outcome(0, "pulled 0")

    def pull_extensions(self, extensions: frozenset[str]) -> Outcome:
        self.calls.append(("pull", extensions))
        return Outcome(1, "pulled 1")


class OneRound:
    """A Wakeable that stops the loop the second time it is asked to wait."""

    def __init__(self) -> None:
        self.stop_requested = threading.Event()
        self.waits = 0

    def wait(self, timeout: float | None) -> int:
        self.waits += 1
        if self.waits >= 2:
            self.stop_requested.set()
        return 0

    def take_changes(self) -> int:
        return 0


def test_the_runner_feeds_notices_to_the_scheduler_and_pulls_what_they_name() -> None:
    worker, waker = Worker(), OneRound()
    inbox = Inbox(lambda: None)
    s = settled()
    inbox.post(ChannelState(up=True))
    inbox.post(Hint(EXT))
    Runner(worker, s, waker, clock=lambda: 10.0, inbox=inbox).run()
    assert worker.calls == [("pull", EXT)]
    assert s.channel_up and s.next_step(10.0).until == 3600.0


def test_a_nudge_just_before_the_loop_waits_is_not_lost() -> None:
    waker = Waker()
    waker.nudge()  # posted between the loop's look at the inbox and its wait
    done = threading.Event()

    def loop_wait() -> None:
        waker.wait(None)
        done.set()

    thread = threading.Thread(target=loop_wait, daemon=True)
    thread.start()
    thread.join(10)
    assert done.is_set()  # woke at once; without the remembered nudge it would block forever
    waker.request_stop()
