"""Everything the CLI shows: messages, JSON documents, tables, progress bars.

Progress bars are drawn only on a terminal and never with -q; errors always go to stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import click


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages``, ``1,463 messages`` (`many` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


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


class TerminalProgress:
    """A `rcsync.progress.Progress` drawing a one-line bar with count and rate on stderr."""

    def __init__(self, out: Output, *, min_interval: float = 0.1) -> None:
        self.out = out
        self.phase = ""
        self.total: int | None = None
        self.done = 0
        self.started = 0.0
        self._last_draw = 0.0
        self._min_interval = min_interval
        self._drawn = False

    def start(self, phase: str, total: int | None = None) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.started = time.monotonic()
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        if self._drawn:
            click.echo("", file=self.out.stderr)
            self._drawn = False

    def note(self, message: str) -> None:
        if self.out.quiet:
            return
        if self._drawn:
            click.echo("", file=self.out.stderr)
            self._drawn = False
        self.out.info(message)

    def _draw(self, *, force: bool = False) -> None:
        if not self.out.interactive:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = f"{self.phase:<12} [{bar:<30}] {self.done:>9,}/{self.total:,}"
        else:
            text = f"{self.phase:<12} {self.done:>9,}"
        text += f"  {rate:,.0f}/s"
        click.echo("\r" + text + "\x1b[K", file=self.out.stderr, nl=False)
        self._drawn = True
