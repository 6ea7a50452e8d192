"""The watch's attachment phase on the simulated clock: edits and pulls go first.

A worker whose attachment phase "downloads" one file every 1.5 s (RingCentral's 40 a
minute) and asks the loop's `interrupt` before each, as `rcsync.sync.edits_first` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rcsync.watch.backoff import Backoff
from rcsync.watch.runner import Runner
from rcsync.watch.schedule import Outcome, Pending, Scheduler, Step, StepKind
from tests.engine.watch.test_watchloop import Clock, FakeWorker, SimWaker

PER_FILE = 1.5


@dataclass
class DownloadingWorker(FakeWorker):
    files: int = 0  # attachments still to download

    def attachments(self, interrupt: Callable[[], bool]) -> Outcome:
        self.calls.append(("attachments", self.clock.t))
        done = 0
        while self.files:
            if interrupt():
                return Outcome(done, f"downloaded {done}", finished=False)
            self.clock.t += PER_FILE
            self.files -= 1
            done += 1
            self.waker.at(self.clock.t)  # each file is a commit: our own write wakes us
        return Outcome(done, f"downloaded {done}")


def make(
    files: int, *, interval: float = 300.0, end: float = 400.0
) -> tuple[DownloadingWorker, Runner]:
    clock = Clock()
    waker = SimWaker(clock, end=clock.t + end)
    worker = DownloadingWorker(clock, waker, files=files)
    scheduler = Scheduler(
        interval=interval, now=clock.t, backoff=Backoff(rng=lambda: 0.5), attachments=True
    )
    return worker, Runner(worker, scheduler, waker, clock=clock)


def test_an_edit_during_the_downloads_is_pushed_within_a_second_then_they_go_on() -> None:
    worker, runner = make(files=200)
    worker.edit(1030.0)  # 30 s into the first downloads
    runner.run()
    [push] = worker.ops("push")
    assert 1030.0 < push <= 1030.0 + PER_FILE + 1.0  # the file in flight, then the debounce
    kinds = [k for k, _t in worker.calls if k != "check"]
    # sweep: pull, attachments; the edit: push, pull, attachments again (where they stopped).
    assert kinds[:5] == ["pull", "attachments", "push", "pull", "attachments"]
    assert worker.files == 0 and worker.pushed_edits == [1]


def test_a_due_pull_ends_the_phase_and_the_phase_goes_on_after_it() -> None:
    worker, runner = make(files=100, interval=60.0, end=200.0)
    runner.run()
    pulls = worker.ops("pull")
    assert pulls[1] - pulls[0] <= 60.0 + PER_FILE + 0.1  # on time, despite 150 s of files
    assert worker.files == 0
    assert len(worker.ops("attachments")) >= 3


def test_without_attachments_configured_there_is_no_attachment_step() -> None:
    scheduler = Scheduler(interval=60.0, now=0.0)
    scheduler.checked(Pending(), sweep=True, started=1.0)  # the start's sweep: nothing
    scheduler.pulled(1.0)
    assert scheduler.next_step(1.5) == Step(StepKind.WAIT, until=61.0)
    assert not scheduler.attachments_due


def test_a_finished_phase_waits_for_the_next_pull() -> None:
    scheduler = Scheduler(interval=60.0, now=0.0, attachments=True)
    scheduler.checked(Pending(), sweep=True, started=1.0)
    scheduler.pulled(1.0)
    assert scheduler.next_step(1.5).kind is StepKind.ATTACHMENTS
    scheduler.attachments_ran(finished=True)
    assert scheduler.next_step(1.5) == Step(StepKind.WAIT, until=61.0)
    scheduler.attachments_ran(finished=False)
    assert scheduler.next_step(1.5).kind is StepKind.ATTACHMENTS
