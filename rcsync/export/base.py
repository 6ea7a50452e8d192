"""What every export format shares: the format names, the context a writer gets, its tally."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsync.progress import NullProgress, Progress
from rcsync.store.archive import Filters

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


class ExportFormat(StrEnum):
    HTML = "html"
    JSONL = "jsonl"
    CSV = "csv"
    SMSXML = "smsxml"

    @property
    def is_folder(self) -> bool:
        return self is ExportFormat.HTML


@dataclass
class Tally:
    messages: int = 0
    conversations: int = 0
    attachments: int = 0  # files copied beside the export, or embedded in it
    missing_attachments: int = 0  # listed but not downloaded (or the file is gone)


@dataclass
class Job:
    """One export run, as a writer sees it."""

    conn: Connection
    filters: Filters
    target: Path  # the temporary file or folder to fill
    files_dir: Path  # the archive's attachments folder ([database] files)
    progress: Progress = field(default_factory=NullProgress)
    tally: Tally = field(default_factory=Tally)

    def attachment_file(self, attachment: dict[str, Any]) -> Path | None:
        """The downloaded file of an attachment row, if it is there.

        One that should be there and is not (never downloaded, or the file was removed) is
        counted as missing; one skipped on purpose (``attachment.skipped``) is not.
        """
        rel = attachment.get("path")
        path = self.files_dir / str(rel) if rel else None
        if path is not None and path.is_file():
            return path
        if path is not None or not attachment.get("skipped"):
            self.tally.missing_attachments += 1
        return None


def epoch_ms(iso: str) -> int:
    """``2024-01-01T22:22:53.830Z`` -> milliseconds since 1970 (SMS Backup & Restore dates)."""
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)
