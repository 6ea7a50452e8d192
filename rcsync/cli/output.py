"""Everything the CLI shows: messages, JSON documents, tables, progress bars.

Progress bars are drawn only on a terminal and never with -q; errors always go to stderr.
Waits (rate limits, retries, the engine lock) are shown on the bar's line on a terminal,
and as one stderr line each (when longer than `WAIT_LINE_AFTER`) without one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import click

from rcsync.progress import WaitReason, duration, plural, wait_line

__all__ = ["Output", "TerminalProgress", "plural"]


def fit(text: str, width: int) -> str:
    """`text` cut to `width` columns (an ellipsis says it was cut): a line that wraps
    breaks the carriage-return redraw."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def local_time(utc: str | None, *, seconds: bool = False) -> str:
    """An ISO-8601 UTC timestamp as the user's local wall-clock time (people read these;
    JSON keeps UTC). Unparseable text is returned as it is."""
    if not utc:
        return ""
    try:
        when = dt.datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return utc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


class Output:
    def __init__(
        self, verbosity: int = 0, *, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.verbosity = verbosity
        self._stdout = stdout
        self._stderr = stderr

    @property
    def stdout(self) -> TextIO:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def interactive(self) -> bool:
        return not self.quiet and self.stderr.isatty()

    def echo(self, text: str = "") -> None:
        """Normal output (suppressed by -q)."""
        if not self.quiet:
            click.echo(text, file=self.stdout)

    def result(self, text: str) -> None:
        """Output that is the point of the command (search hits); shown even with -q."""
        click.echo(text, file=self.stdout)

    def info(self, text: str) -> None:
        """Side remarks on stderr (suppressed by -q)."""
        if not self.quiet:
            click.echo(text, file=self.stderr)

    def debug(self, text: str) -> None:
        if self.verbosity > 0:
            click.echo(text, file=self.stderr)

    def error(self, text: str) -> None:
        click.echo(f"rcsync: error: {text}", file=self.stderr)

    def warn(self, text: str) -> None:
        click.echo(f"rcsync: warning: {text}", file=self.stderr)

    def json(self, document: Any) -> None:
        click.echo(
            json.dumps(document, indent=2, ensure_ascii=False, default=str), file=self.stdout
        )

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, always: bool = False
    ) -> None:
        """Aligned columns; `always`: the table is the command's result, shown even with -q."""
        if self.quiet and not always:
            return
        show = self.result if always else self.echo
        cells = [[("" if v is None else str(v)) for v in row] for row in rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        show(line.rstrip())
        show("  ".join("-" * w for w in widths))
        for r in cells:
            show("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())

    def progress(self) -> TerminalProgress:
        return TerminalProgress(self)


#: Without a terminal, a wait is worth a line only when a person would notice it.
WAIT_LINE_AFTER = 2.0
#: On a terminal, shorter waits only redraw the count.
SHORT_WAIT = 1.0
#: The ETA is shown once the rate has had time to settle (the first burst is always fast).
ETA_AFTER = 3.0
BAR_WIDTH = 24
PHASE_WIDTH = len("attachments")  # the phases' bars line up


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


@dataclass
class _Wait:
    reason: WaitReason
    seconds: float | None
    detail: str


@dataclass(frozen=True)
class PhaseCount:
    phase: str
    done: int
    total: int | None

    def describe(self) -> str:
        if self.total is None:
            return f"{self.done:,} {self.phase}"
        return f"{self.done:,} of {self.total:,} {self.phase}"


class TerminalProgress:
    """A `rcsync.progress.Progress` drawing one status line on stderr: phase, bar, count,
    elapsed time, ETA, and what the run waits for. Inject `clock`/`width` in tests."""

    def __init__(
        self,
        out: Output,
        *,
        min_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] | None = None,
    ) -> None:
        self.out = out
        self.phase = ""
        self.total: int | None = None
        self.done = 0
        self.started = 0.0
        self.phases: list[PhaseCount] = []  # finished phases, for the Ctrl-C report
        self._wait: _Wait | None = None
        self._paced_until = 0.0  # when the latest announced wait of this phase ends
        self._last_draw = float("-inf")
        self._min_interval = min_interval
        self._clock = clock
        self._width = width or (lambda: _terminal_width(self.out.stderr))
        self._drawn = False

    # --- the Progress protocol --------------------------------------------------------

    def start(self, phase: str, total: int | None = None) -> None:
        self.phase, self.total, self.done, self._wait = phase, total, 0, None
        self.started = self._paced_until = self._clock()
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        shown = self._wait is not None
        self._wait = None  # work moved on: the wait is over, and must not stay on screen
        self._draw(force=shown)

    def discount(self, n: int) -> None:
        if self.total is not None:
            self.total = max(self.total - n, self.done)

    def finish(self) -> None:
        if self.phase:
            self.phases.append(PhaseCount(self.phase, self.done, self.total))
        self._wait = None
        self._draw(force=True)
        self._end_line()
        self.phase = ""

    def note(self, message: str) -> None:
        if self.out.quiet:
            return
        if self._drawn and self.done == 0:
            # A line that says nothing yet is overwritten, not left above the note.
            click.echo("\r\x1b[K", file=self.out.stderr, nl=False)
            self._drawn = False
        elif self._drawn:
            self._draw(force=True)  # the line left above the note shows the true count
        self._end_line()
        self.out.info(message)
        self._draw(force=True)

    def hint(self, message: str) -> None:
        # Only for a person at a terminal: a cron job's or a script's stderr stays errors.
        if self.out.interactive:
            self.note(message)

    def waiting(self, reason: WaitReason, seconds: float | None, detail: str) -> None:
        if self.out.quiet:
            return
        if seconds is not None:
            self._paced_until = max(self._paced_until, self._clock() + seconds)
        if self.out.interactive and self.phase:  # before a phase there is no line to use
            # A wait under a second would flash "waiting 0 s"; the count is redrawn anyway.
            short = seconds is not None and seconds < SHORT_WAIT
            self._wait = None if short else _Wait(reason, seconds, detail)
            self._draw(force=True)  # the count of the burst just done, and the wait
        elif seconds is None or seconds > WAIT_LINE_AFTER:
            where = f" ({self.current().describe()} done)" if self.phase else ""
            self.out.info(wait_line(reason, seconds, detail) + where)

    # --- reports ------------------------------------------------------------------------

    def current(self) -> PhaseCount:
        return PhaseCount(self.phase, self.done, self.total)

    def done_so_far(self) -> str:
        """``3,000 of 20,000 messages, 40 of 6,674 attachments``: for the Ctrl-C line."""
        counts = [*self.phases, *([self.current()] if self.phase else [])]
        return ", ".join(c.describe() for c in counts if c.done or c.total)

    def interrupted(self) -> None:
        self._end_line()

    def status_line(self) -> str:
        """The line the terminal shows now (without the redraw codes), fitted to the width."""
        now = self._clock()
        elapsed = max(now - self.started, 0.0)
        count = f"{self.done:,}" + ("" if self.total is None else f"/{self.total:,}")
        times = f"{duration(elapsed)} elapsed"
        eta = self._eta(elapsed)
        if eta is not None:
            times += f", ETA {duration(eta)}"
        bar = self._bar()
        width = max(self._width() - 1, 20)  # the last column would wrap on some terminals
        phase = f"{self.phase:<{PHASE_WIDTH}}"
        # What goes first when the terminal is narrow: the bar, then the times, then the
        # wait's detail is cut; the wait's length (what the user needs to know) stays.
        texts = [
            "  ".join(p for p in (phase, *parts) if p)
            for parts in ((bar, count, times), ("", count, times), ("", count, ""))
        ]
        wait = None if self._wait is None else wait_line(**vars(self._wait))
        for text in texts:
            line = text if wait is None else f"{text}  {wait}"
            if len(line) <= width:
                return line
        cut = self._cut_wait(width - len(texts[-1]) - 2)
        return fit(texts[-1] if cut is None else f"{texts[-1]}  {cut}", width)

    def _cut_wait(self, room: int) -> str | None:
        """The wait in `room` columns with its detail cut or dropped (never its length)."""
        if self._wait is None:
            return None
        tail = wait_line(self._wait.reason, self._wait.seconds, "")
        cut = room - len(tail)
        if cut < 12:  # too little of the detail would be left to say anything: its length
            return tail.removeprefix(": ")
        return fit(self._wait.detail.removeprefix("RingCentral "), cut) + tail

    def _bar(self) -> str:
        if not self.total:
            return ""
        filled = int(min(self.done / self.total, 1.0) * BAR_WIDTH)
        percent = min(self.done * 100 // self.total, 100)
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:>3}%"

    def _eta(self, elapsed: float) -> float | None:
        if not self.total or self.done <= 0 or self.done >= self.total or elapsed < ETA_AFTER:
            return None
        # Under a rate limit the pace is a burst *and its wait*: 40 done in 2 s then 61 s
        # of waiting is 40 a minute, not 20 a second.
        span = max(elapsed, self._paced_until - self.started)
        return max(self.total - self.done, 0) * span / self.done

    def _draw(self, *, force: bool = False) -> None:
        if not self.out.interactive or not self.phase:
            return
        now = self._clock()
        if not force and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        click.echo("\r" + self.status_line() + "\x1b[K", file=self.out.stderr, nl=False)
        self._drawn = True

    def _end_line(self) -> None:
        if self._drawn:
            click.echo("", file=self.out.stderr)
            self._drawn = False


@contextmanager
def say_what_is_done(progress: TerminalProgress, resume: str) -> Iterator[None]:
    """On Ctrl-C: what was done and how to go on (`resume`), then the interrupt goes up
    (the command group exits 130). Everything counted was committed as it came."""
    try:
        yield
    except KeyboardInterrupt:
        progress.interrupted()
        done = progress.done_so_far()
        progress.out.info(f"interrupted: {done or 'nothing'} done; {resume}")
        raise
