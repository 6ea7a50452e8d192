"""Exports of the archive that people open and other tools ingest: html, jsonl, csv, smsxml.

`export` takes one consistent snapshot of the database (`source.snapshot`), streams the
selected messages through the format's writer into a temporary sibling of the destination
(`destination.staged`) and renames it into place at the end, so an interrupted or failed
export never leaves something that looks complete. Memory stays flat in the number of
messages. The formats are described in each writer's module and in the README.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsync.config import home_path
from rcsync.errors import ExportError
from rcsync.export import csv_format, jsonl, smsxml
from rcsync.export.base import ExportFormat, Job, Tally
from rcsync.export.destination import size_of, staged
from rcsync.export.filters import build_filters
from rcsync.progress import NullProgress, Progress
from rcsync.store.archive import Filters, count_messages, snapshot

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "ExportError",
    "ExportFormat",
    "ExportSummary",
    "Filters",
    "build_filters",
    "export",
    "parse_format",
]


def _html(job: Job) -> None:
    from rcsync.export.html import write  # Jinja2 is imported only when needed

    write(job)


WRITERS: dict[ExportFormat, Callable[[Job], None]] = {
    ExportFormat.HTML: _html,
    ExportFormat.JSONL: jsonl.write,
    ExportFormat.CSV: csv_format.write,
    ExportFormat.SMSXML: smsxml.write,
}


@dataclass(frozen=True)
class ExportSummary:
    format: ExportFormat
    path: Path
    messages: int
    conversations: int
    attachments: int
    missing_attachments: int
    bytes: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"], data["path"] = str(self.format), str(self.path)
        data["seconds"] = round(self.seconds, 3)
        return data

    def describe(self) -> str:
        parts = [f"exported {self.messages:,} messages"]
        if self.conversations:
            parts.append(f"in {self.conversations:,} conversations")
        if self.attachments:
            parts.append(f"with {self.attachments:,} attachments")
        line = " ".join(parts) + f" to {self.path} ({self.bytes / 1e6:.1f} MB)"
        if self.missing_attachments:
            line += f"; {self.missing_attachments:,} attachments not downloaded"
        return line


def parse_format(value: str) -> ExportFormat:
    try:
        return ExportFormat(value.strip().lower())
    except ValueError:
        names = ", ".join(f.value for f in ExportFormat)
        raise ExportError(f"unknown export format {value!r}: expected one of {names}") from None


def _format_filters(fmt: ExportFormat, filters: Filters) -> Filters:
    if fmt is not ExportFormat.SMSXML:
        return filters
    other = [t for t in filters.types if t != smsxml.SMS_TYPE]
    if other:
        raise ExportError(f"smsxml holds SMS/MMS only, not {', '.join(other)}")
    return replace(filters, types=(smsxml.SMS_TYPE,))


def export(
    engine: Engine,
    fmt: ExportFormat,
    out: Path,
    *,
    files_dir: Path,
    filters: Filters | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the selected messages to ``out`` (a file, or a folder for html)."""
    started = time.monotonic()
    chosen = _format_filters(fmt, filters or Filters())
    progress = progress or NullProgress()
    tally = Tally()
    with snapshot(engine) as conn, staged(out, folder=fmt.is_folder, force=force) as target:
        progress.start("exporting", count_messages(conn, chosen))
        job = Job(conn, chosen, target, files_dir, progress, tally)
        try:
            WRITERS[fmt](job)
        finally:
            progress.finish()
    final = home_path(out)
    return ExportSummary(
        fmt,
        final,
        tally.messages,
        tally.conversations,
        tally.attachments,
        tally.missing_attachments,
        size_of(final),
        time.monotonic() - started,
    )
