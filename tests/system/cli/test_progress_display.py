"""The CLI's progress display: the status line (bar, count, elapsed, ETA, the wait), its fit
to the terminal, one line per long wait without a terminal, and the Ctrl-C report.

A fake clock drives every time shown; a StringIO that says it is a terminal stands for one.
"""

from __future__ import annotations

import io

import pytest

from rcsync.cli.output import Output, TerminalProgress, fit, say_what_is_done
from rcsync.progress import WaitReason, duration, plural, wait_line

RATE = "RingCentral rate limit (Medium, 40/min)"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _display(
    *, tty: bool = True, width: int = 120, verbosity: int = 0
) -> tuple[TerminalProgress, io.StringIO, FakeClock]:
    err: io.StringIO = Tty() if tty else io.StringIO()
    clock = FakeClock()
    out = Output(verbosity, stdout=io.StringIO(), stderr=err)
    return TerminalProgress(out, clock=clock, width=lambda: width), err, clock


def _last_frame(err: io.StringIO) -> str:
    return err.getvalue().split("\r")[-1].replace("\x1b[K", "")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.2, "4 s"), (58, "58 s"), (125, "2 min 5 s"), (720, "12 min"), (10_020, "2 h 47 min")],
)
def test_durations_read_like_a_person_says_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_each_wait_says_what_it_waits_for() -> None:
    assert wait_line(WaitReason.RATE_LIMIT, 58, RATE) == f"{RATE}: waiting 58 s"
    penalty = wait_line(WaitReason.PENALTY, 61, RATE)
    assert penalty == f"{RATE} exceeded (HTTP 429): waiting 61 s"
    assert (
        wait_line(WaitReason.RETRY, 4, "server unreachable, retry 3/4")
        == "server unreachable, retry 3/4 in 4 s"
    )
    lock = "database locked by rcsync watch (pid 123)"
    assert wait_line(WaitReason.LOCK, None, lock) == f"{lock}: waiting"


def test_the_status_line_has_count_elapsed_and_eta() -> None:
    progress, err, clock = _display()
    progress.start("attachments", 200)
    clock.t += 60
    progress.advance(40)
    line = _last_frame(err)
    assert line.startswith("attachments  [")
    assert " 20%" in line and "40/200" in line
    # 40 in 60 s: the 160 left take 240 s.
    assert "60 s elapsed, ETA 4 min" in line


def test_no_eta_before_the_rate_means_anything() -> None:
    progress, err, clock = _display()
    progress.start("attachments", 200)
    clock.t += 0.5
    progress.advance(40)  # a first burst is always fast
    assert "ETA" not in _last_frame(err)


def test_a_wait_redraws_the_count_of_the_burst_and_names_the_wait() -> None:
    progress, err, clock = _display()
    progress.start("attachments", 6554)
    progress.advance(1)
    clock.t += 0.01  # the rest of the burst comes faster than the redraw interval
    progress.advance(39)
    assert "40/6,554" not in _last_frame(err)  # throttled: the line still says 1
    progress.waiting(WaitReason.RATE_LIMIT, 58, RATE)
    line = _last_frame(err)
    assert "40/6,554" in line and line.endswith(f"{RATE}: waiting 58 s")
    clock.t += 58
    progress.advance(1)
    assert "waiting" not in _last_frame(err)  # work moved on


def test_the_line_fits_the_terminal_dropping_the_bar_first() -> None:
    progress, err, clock = _display(width=70)
    progress.start("attachments", 6554)
    clock.t += 10
    progress.advance(40)
    progress.waiting(WaitReason.RATE_LIMIT, 58, RATE)
    line = _last_frame(err)
    assert len(line) <= 69
    assert "[" not in line and "40/6,554" in line and line.endswith(": waiting 58 s")
    narrow, err2, _ = _display(width=50)
    narrow.start("attachments", 10)
    narrow.waiting(WaitReason.RATE_LIMIT, 58, RATE)
    # The detail is cut, never how long the wait is.
    assert _last_frame(err2) == "attachments  0/10  rate limit (Med…: waiting 58 s"  # 49 columns
    narrower, err3, _ = _display(width=36)
    narrower.start("attachments", 10)
    narrower.waiting(WaitReason.RATE_LIMIT, 58, RATE)
    assert _last_frame(err3) == "attachments  0/10  waiting 58 s"
    assert fit("abcdef", 4) == "abc…"


def test_the_total_ends_at_what_was_stored() -> None:
    progress, err, _ = _display()
    progress.start("messages", 1000)
    progress.discount(13)  # first heard of as purged: not stored
    progress.advance(987)
    progress.finish()
    assert "987/987" in err.getvalue()
    assert progress.phases[-1].total == 987


def test_without_a_terminal_long_waits_get_one_line_and_short_ones_none() -> None:
    progress, err, _ = _display(tty=False)
    progress.start("attachments", 100)
    progress.advance(40)
    progress.waiting(WaitReason.RATE_LIMIT, 1.5, RATE)
    progress.waiting(WaitReason.RATE_LIMIT, 58, RATE)
    progress.waiting(WaitReason.LOCK, None, "database locked by rcsync watch (pid 1)")
    assert err.getvalue().splitlines() == [
        f"{RATE}: waiting 58 s (40 of 100 attachments done)",
        "database locked by rcsync watch (pid 1): waiting (40 of 100 attachments done)",
    ]


@pytest.mark.parametrize("tty", [True, False])
def test_quiet_shows_no_wait(tty: bool) -> None:
    progress, err, _ = _display(tty=tty, verbosity=-1)
    progress.start("attachments", 100)
    progress.waiting(WaitReason.RATE_LIMIT, 58, RATE)
    progress.note("a note")
    assert err.getvalue() == ""


def test_ctrl_c_says_what_is_done_and_how_to_resume() -> None:
    progress, err, _ = _display(tty=False)
    with pytest.raises(KeyboardInterrupt), say_what_is_done(progress, "`rcsync pull` resumes"):
        progress.start("messages", 3)
        progress.advance(3)
        progress.finish()
        progress.start("attachments", 6674)
        progress.advance(40)
        raise KeyboardInterrupt
    assert err.getvalue().splitlines()[-1] == (
        "interrupted: 3 of 3 messages, 40 of 6,674 attachments done; `rcsync pull` resumes"
    )


def test_plurals() -> None:
    assert [plural(n, "request") for n in (0, 1, 2, 1463)] == [
        "0 requests",
        "1 request",
        "2 requests",
        "1,463 requests",
    ]


def test_a_wait_under_a_second_only_redraws_the_count() -> None:
    progress, err, clock = _display()
    progress.start("attachments", 10)
    progress.advance(1)
    clock.t += 0.01
    progress.advance(1)
    progress.waiting(WaitReason.RATE_LIMIT, 0.3, RATE)
    assert "2/10" in _last_frame(err) and "waiting" not in err.getvalue()


def test_a_wait_before_any_phase_is_a_line_of_its_own_on_a_terminal() -> None:
    progress, err, _ = _display()
    progress.waiting(WaitReason.LOCK, None, "database locked by rcsync watch (pid 7)")
    assert err.getvalue() == "database locked by rcsync watch (pid 7): waiting\n"


def test_the_eta_counts_the_wait_after_a_burst() -> None:
    progress, err, clock = _display()
    progress.start("attachments", 970)
    clock.t += 2
    progress.advance(40)  # a burst of 40 in 2 s...
    progress.waiting(WaitReason.RATE_LIMIT, 60, RATE)  # ...then a minute's wait
    clock.t += 3
    progress.finish()  # (Ctrl-C: the line is drawn once more)
    # 930 left at 40 per 62 s: 24 min, not 930 / 8 per s = 2 min.
    assert "ETA 24 min" in err.getvalue()


def test_a_note_replaces_a_line_that_says_nothing_yet() -> None:
    progress, err, _ = _display()
    progress.start("messages")
    progress.note("full pull: 3,000 messages, then attachments")
    progress.advance(5)
    progress.note("later")
    screen = _render(err.getvalue())
    assert screen == [
        "full pull: 3,000 messages, then attachments",
        "messages     5  0 s elapsed",
        "later",
        "messages     5  0 s elapsed",
    ]


def _render(stream: str) -> list[str]:
    """What a terminal shows: each line as its last carriage-return redraw left it."""
    return [
        line.split("\r")[-1].replace("\x1b[K", "")
        for line in stream.split("\n")
        if line.split("\r")[-1].replace("\x1b[K", "")
    ]


def test_hints_are_for_a_terminal_only() -> None:
    for tty in (True, False):
        progress, err, _ = _display(tty=tty)
        progress.hint("6,674 attachments: about 2 h 47 min")
        assert ("6,674" in err.getvalue()) is tty
