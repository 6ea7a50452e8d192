"""Bootstrapping attachments from RingCentral's message-store export: the rules. PURE.

The export (ACCOUNT-PUSH-EXPORT.md §1) packs "attachments of MMS or Fax messages, or
voicemail binary file" into zips laid out as
``account/{acc}/extension/{ext}/message-store/{messageId}/content/{name}.{suffix}``, where
``name`` is the attachment id (in the docs' sample a voicemail's attachment id equals its
message id, hence ``{messageId}.wav``). Its ``message-store.json`` files are not read at all:
their phone numbers may be masked (``+3351234XXXX``), and the message rows come from the
API alone, so nothing of the export can reach a message column.

An entry counts as an attachment only when it matches the API's record of it: the message
id and attachment id, the extension whose folder it is in (the one the message row belongs
to: an admin's export holds every extension's store, and a message id in another user's
folder is another user's copy, or a mix-up), a suffix that fits the content type, and the
size. Anything else stays missing and is fetched through the content endpoint as before.

The progress of a bootstrap (task id, attempts, archives done) lives in
``sync_state[EXPORT]`` as `ExportState` JSON, so an interrupted one resumes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from rcsync.types import UseExport, iso_utc

#: Attachment types the export carries (not transcriptions, not SMS Text parts).
PACKED_TYPES = frozenset({"AudioRecording", "RenderedDocument", "MmsAttachment"})
#: With ``use_export = "auto"``: more missing files than this are worth an export task
#: (a few Heavy requests and minutes of waiting) rather than 40 content requests a minute.
EXPORT_AFTER = 300
#: Tasks created (and failed) for one bootstrap before the content endpoint takes over.
MAX_TASK_ATTEMPTS = 3
#: After giving up, the export is not tried again for this long.
RETRY_AFTER = dt.timedelta(hours=24)
#: Polling: the docs' sample polls every 10 s; longer tasks are polled less often.
FIRST_POLL, MAX_POLL, POLL_GROWTH = 10.0, 60.0, 1.5
#: A task that has not finished after this long counts as failed.
MAX_TASK_WAIT = 4 * 3600.0
#: After its status or archive list could not be read (5xx, no connection, after the
#: client's retries), the task is not polled again for this long: watch runs an attachment
#: phase after every event, and each poll of an unreachable task is up to five Heavy
#: requests (10 a minute) and one more line saying the same.
UNREACHABLE_WAIT = dt.timedelta(minutes=10)
#: A second either side of the window: RingCentral's dateTo may be exclusive.
_MARGIN = dt.timedelta(seconds=1)

_ENTRY = re.compile(
    r"^account/(?P<acc>[^/]+)/extension/(?P<ext>[^/]+)/message-store/(?P<mid>[0-9]+)"
    r"/content/(?P<stem>[^/.]+)(?:\.(?P<suffix>[A-Za-z0-9]+))?$"
)
# Suffixes RingCentral may give each content type (lower case).
_SUFFIXES: Mapping[str, frozenset[str]] = {
    "audio/x-wav": frozenset({"wav"}),
    "audio/wav": frozenset({"wav"}),
    "audio/wave": frozenset({"wav"}),
    "audio/mpeg": frozenset({"mp3"}),
    "audio/mp3": frozenset({"mp3"}),
    "application/pdf": frozenset({"pdf"}),
    "image/png": frozenset({"png"}),
    "image/jpeg": frozenset({"jpg", "jpeg"}),
    "image/gif": frozenset({"gif"}),
    "image/tiff": frozenset({"tif", "tiff"}),
    "text/plain": frozenset({"txt"}),
}


class ArchiveStatus(StrEnum):
    PENDING = "pending"  # not (wholly) downloaded yet; a .part may exist
    DOWNLOADED = "downloaded"  # on disk, complete; its files not all taken yet
    DONE = "done"  # its files were taken (or it could not be read): never fetched again


@dataclass(frozen=True)
class ArchiveState:
    uri: str
    size: int
    status: ArchiveStatus = ArchiveStatus.PENDING
    downloads: int = 0  # whole downloads so far (a corrupt zip is fetched again once)


@dataclass(frozen=True)
class ExportState:
    """One bootstrap's progress (stored as JSON in sync_state[EXPORT])."""

    date_from: str
    date_to: str
    message_types: tuple[str, ...] = ()
    task_id: str | None = None
    attempts: int = 0  # tasks created so far
    archives: tuple[ArchiveState, ...] = ()
    gave_up_at: str | None = None  # the export failed MAX_TASK_ATTEMPTS times
    finished_at: str | None = None  # every archive done
    failures: tuple[str, ...] = field(default=())  # why each attempt failed
    unreachable_at: str | None = None  # its task could not be read then (see UNREACHABLE_WAIT)

    def to_json(self) -> str:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["archives"] = [
            {"uri": a.uri, "size": a.size, "status": a.status.value, "downloads": a.downloads}
            for a in self.archives
        ]
        data["message_types"] = list(self.message_types)
        data["failures"] = list(self.failures)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ExportState:
        data: dict[str, Any] = json.loads(text)
        data["archives"] = tuple(
            ArchiveState(a["uri"], int(a["size"]), ArchiveStatus(a["status"]), a["downloads"])
            for a in data.get("archives", ())
        )
        data["message_types"] = tuple(data.get("message_types", ()))
        data["failures"] = tuple(data.get("failures", ()))
        return cls(**data)

    def failed(self, why: str) -> ExportState:
        """This attempt's task is over without archives; the next attempt creates another."""
        return replace(self, task_id=None, archives=(), failures=(*self.failures, why))

    @property
    def exhausted(self) -> bool:
        return self.task_id is None and self.attempts >= MAX_TASK_ATTEMPTS

    def with_archive(self, index: int, archive: ArchiveState) -> ExportState:
        archives = list(self.archives)
        archives[index] = archive
        return replace(self, archives=tuple(archives))


def wanted(mode: UseExport, missing: int, *, resuming: bool) -> bool:
    """Is an export worth it for `missing` files the export carries?"""
    if mode is UseExport.NEVER or missing == 0:
        return False
    return resuming or mode is UseExport.ALWAYS or missing > EXPORT_AFTER


def may_retry(state: ExportState | None, now: dt.datetime) -> bool:
    """A previous bootstrap gave up (or finished): try again only after `RETRY_AFTER`.

    A finished one too: what is still missing after an export was not in it, and another
    export of the same window would not have it either.
    """
    if state is None:
        return True
    last = state.gave_up_at or state.finished_at
    if last is None:
        return True
    return now - dt.datetime.fromisoformat(last) >= RETRY_AFTER


def may_poll(state: ExportState, now: dt.datetime) -> bool:
    """May the kept task be asked about again (`UNREACHABLE_WAIT` after it could not be)?"""
    if state.unreachable_at is None:
        return True
    return now - dt.datetime.fromisoformat(state.unreachable_at) >= UNREACHABLE_WAIT


def window(creation_times: Iterable[str]) -> tuple[str, str] | None:
    """``(dateFrom, dateTo)`` covering every creation time, a second wider either side."""
    times = sorted(dt.datetime.fromisoformat(t) for t in creation_times)
    if not times:
        return None
    return iso_utc(times[0] - _MARGIN), iso_utc(times[-1] + _MARGIN)


def poll_delay(polls: int) -> float:
    """Seconds before poll number `polls` + 1: 10 s, growing to a minute."""
    return float(min(FIRST_POLL * POLL_GROWTH**polls, MAX_POLL))


@dataclass(frozen=True)
class EntryRef:
    """What a zip entry's name says it is."""

    extension_id: str
    message_id: int
    stem: str
    suffix: str


@dataclass(frozen=True)
class Wanted:
    """A missing attachment, as the API's record describes it."""

    message_id: int
    id: int
    content_type: str | None
    size: int | None
    extension_id: str | None  # whose store the message row is in (`row_extension`)


def row_extension(extension_id: str | None, home: str | None) -> str | None:
    """The extension a message row belongs to: its own column, else (a row stored before
    ``message.extension_id`` was filled in) the database's home extension."""
    return extension_id or home


def parse_entry(name: str) -> EntryRef | None:
    """The attachment an entry name designates; None for anything else (message-store.json,
    folders, names this client does not know)."""
    match = _ENTRY.match(name)
    if match is None:
        return None
    return EntryRef(match["ext"], int(match["mid"]), match["stem"], (match["suffix"] or "").lower())


def pick(ref: EntryRef, of_message: Sequence[Wanted]) -> Wanted | None:
    """Which missing attachment of its message an entry is: the one whose id is the entry's
    name, else (the docs' ``{messageId}.wav``) the message's only one."""
    if ref.stem.isdigit():
        named = int(ref.stem)
        for w in of_message:
            if w.id == named:
                return w
        if named == ref.message_id and len(of_message) == 1:
            return of_message[0]
    return None


def mismatch(ref: EntryRef, entry_size: int, want: Wanted) -> str | None:
    """Why an entry is not the attachment the API describes (None: it is)."""
    if want.extension_id is None:
        return "the message row names no extension to check the entry's folder against"
    if ref.extension_id != want.extension_id:
        return f"in extension {ref.extension_id}'s folder, the message is {want.extension_id}'s"
    if want.size is None:
        return "the API's record gives no size to check it against"
    if entry_size != want.size:
        return f"{entry_size} bytes, the API says {want.size}"
    if not suffix_fits(ref.suffix, want.content_type):
        return f".{ref.suffix or '(none)'} does not fit {want.content_type}"
    return None


def suffix_fits(suffix: str, content_type: str | None) -> bool:
    base = (content_type or "").split(";")[0].strip().lower()
    known = _SUFFIXES.get(base)
    if known is not None:
        return suffix in known
    # A type this client has no table for: the suffix must at least name its subtype.
    sub = base.rpartition("/")[2].removeprefix("x-")
    return suffix in (sub, "bin") if sub else suffix == "bin"


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)
