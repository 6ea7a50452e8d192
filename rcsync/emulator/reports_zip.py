"""The message-store export's zip files: RingCentral's layout, written to disk, served in chunks.

Layout (ACCOUNT-PUSH-EXPORT.md §1, the docs' ``archive0.png``/``archive1.png``):

- archive 0 always exists and holds one ``account/{accountId}/extension/{extensionId}/
  message-store.json`` per extension, even one with no message in the window;
- archives 1…n hold the binary attachments (voicemail audio, fax documents, MMS images; not
  the SMS text nor the voicemail transcription, which the docs do not list) as
  ``account/{acc}/extension/{ext}/message-store/{messageId}/content/{attachmentId}.{ext}``,
  the content endpoint's path (in the docs' sample the attachment id of a voicemail equals
  its message id, hence ``{messageId}.wav`` there). A new zip starts when the next file would
  take the current one past ``max_zip_bytes`` (RingCentral: 1 GB).

The docs show no ``message-store.json`` record. The emulator writes ``{"records": [...]}``
with each record as the API renders it (`GetMessageInfoResponse`), phone numbers masked
by `mask_record`.

Why disk: an account's attachments run to gigabytes. Each zip is written entry by entry to
an anonymous temporary file (`zipfile` needs only ``write``/``seek``/``tell``), and served
with ``os.pread`` in `CHUNK`-sized pieces, so neither building nor serving holds a zip in
memory, and concurrent downloads need no lock.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, Literal

CHUNK = 256 * 1024
# Attachment types the export packs (the docs: "attachments of MMS or Fax messages, or
# voicemail binary file").
PACKED_TYPES = frozenset({"AudioRecording", "RenderedDocument", "MmsAttachment"})
_SUFFIXES = {
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "text/plain": "txt",
}
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# Bytes a stored entry adds beyond its data: local header (30) and central record (46),
# each with the name; the end record is 22. Used to keep a zip under its size limit.
_LOCAL, _CENTRAL, _END = 30, 46, 22


class Masking(StrEnum):
    """Which ``from``/``to`` phone numbers of message-store.json lose their last four digits."""

    NONE = "none"
    SOME = "some"  # default: one number in three (chosen by the number, so stable)
    ALL = "all"


@dataclass(frozen=True)
class ExportedMessage:
    """One message of the export: its record bytes and its packed attachments' bytes."""

    message_id: int
    record: bytes
    attachments: list[tuple[int, str, Callable[[], bytes | None]]]  # (id, content type, bytes)


@dataclass(frozen=True)
class ExportedExtension:
    account_id: str
    extension_id: str
    messages: Callable[[], Iterator[ExportedMessage]]
    slots: int  # how many messages `messages` yields


class ArchiveFile:
    """One finished zip on disk (anonymous: it vanishes when closed or collected)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        handle.flush()
        self.size = os.fstat(handle.fileno()).st_size

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._handle.fileno(), length, offset)

    def chunks(self, first: int = 0, last: int | None = None) -> Iterator[bytes]:
        """Bytes ``first..last`` (inclusive; default to the end) in `CHUNK` pieces."""
        end = self.size if last is None else last + 1
        position = first
        while position < end:
            piece = self.read(position, min(CHUNK, end - position))
            if not piece:
                return
            position += len(piece)
            yield piece

    def close(self) -> None:
        self._handle.close()


def mask_number(number: str) -> str:
    """``+3351234XXXX``: the last four digits masked, as the changelog 1.0.41 shows."""
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    chars = list(number)
    for i in digits[-4:]:
        chars[i] = "X"
    return "".join(chars)


def mask_record(record: dict[str, Any], masking: Masking) -> dict[str, Any]:
    """The record with ``from``/``to`` phone numbers masked per `masking` (parties known by
    an ``extensionNumber`` have no phone number to mask)."""
    if masking is Masking.NONE:
        return record
    parties = [record.get("from"), *(record.get("to") or [])]
    for party in parties:
        if not isinstance(party, dict) or not party.get("phoneNumber"):
            continue
        number = str(party["phoneNumber"])
        if masking is Masking.ALL or zlib.crc32(number.encode()) % 3 == 0:
            party["phoneNumber"] = mask_number(number)
    return record


def entry_name(account_id: str, extension_id: str, *parts: str) -> str:
    return "/".join(("account", account_id, "extension", extension_id, *parts))


def attachment_name(
    account_id: str, extension_id: str, message_id: int, attachment_id: int, content_type: str
) -> str:
    suffix = _SUFFIXES.get(content_type.split(";")[0].strip().lower(), "bin")
    return entry_name(
        account_id,
        extension_id,
        "message-store",
        str(message_id),
        "content",
        f"{attachment_id}.{suffix}",
    )


def build_archives(
    extensions: Iterable[ExportedExtension],
    masking: Masking,
    max_zip_bytes: int,
    directory: str | None = None,
) -> list[ArchiveFile]:
    """Archive 0 (every message-store.json) then the attachment zips, each on disk."""
    extensions = list(extensions)
    archives = [_metadata_zip(extensions, masking, directory)]
    splitter = _Splitter(max_zip_bytes, directory)
    for ext in extensions:
        for message in ext.messages():
            for attachment_id, content_type, content in message.attachments:
                data = content()
                if data is None:  # purged since the record was read
                    continue
                name = attachment_name(
                    ext.account_id, ext.extension_id, message.message_id, attachment_id,
                    content_type,
                )  # fmt: skip
                splitter.add(name, data)
    return archives + splitter.finish()


def _metadata_zip(
    extensions: list[ExportedExtension], masking: Masking, directory: str | None
) -> ArchiveFile:
    handle = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115  # lives as long as the task
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for ext in extensions:
            name = entry_name(ext.account_id, ext.extension_id, "message-store.json")
            # force_zip64: the entry's size is unknown until written and may pass 2 GiB.
            with archive.open(name, "w", force_zip64=True) as entry:
                entry.write(b'{"records":[')
                for index, message in enumerate(ext.messages()):
                    record = mask_record(json.loads(message.record), masking)
                    entry.write((b"," if index else b"") + _dumps(record))
                entry.write(b"]}")
    return ArchiveFile(handle)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class _Splitter:
    """Stored (uncompressed: audio, PDF and images barely shrink) entries into zips of at most
    `limit` bytes; a single file larger than the limit gets a zip of its own."""

    def __init__(self, limit: int, directory: str | None) -> None:
        self.limit = limit
        self.directory = directory
        self.done: list[ArchiveFile] = []
        self._handle: IO[bytes] | None = None
        self._zip: zipfile.ZipFile | None = None
        self._central = 0  # central directory bytes the open zip will end with

    def add(self, name: str, data: bytes) -> None:
        encoded = len(name.encode())
        grows = _LOCAL + _CENTRAL + 2 * encoded + len(data)
        if self._zip is not None and self._projected() + grows > self.limit:
            self._close()
        if self._zip is None:
            self._handle = tempfile.TemporaryFile(dir=self.directory)  # noqa: SIM115  # kept
            self._zip = zipfile.ZipFile(self._handle, "w", zipfile.ZIP_STORED)
            self._central = 0
        self._zip.writestr(name, data)
        self._central += _CENTRAL + encoded

    def _projected(self) -> int:
        assert self._handle is not None
        return self._handle.tell() + self._central + _END

    def _close(self) -> None:
        assert self._zip is not None and self._handle is not None
        self._zip.close()
        self.done.append(ArchiveFile(self._handle))
        self._zip = self._handle = None

    def finish(self) -> list[ArchiveFile]:
        if self._zip is not None:
            self._close()
        return self.done


def byte_range(header: str | None, size: int) -> tuple[int, int] | Literal[False] | None:
    """``Range: bytes=a-b|a-|-n`` → (first, last) inclusive; None = serve it all (no header,
    several ranges, or a unit we do not know); False = unsatisfiable (416)."""
    if header is None or "," in header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or not (match.group(1) or match.group(2)):
        return None
    start, end = match.group(1), match.group(2)
    if start:
        first = int(start)
        last = min(int(end), size - 1) if end else size - 1
        if end and int(end) < first:
            return False
    else:
        length = int(end)
        if length == 0:
            return False
        first, last = max(0, size - length), size - 1
    return False if first >= size else (first, last)
