"""RingCentral's message-store export ("message-store-report"), ACCOUNT-PUSH-EXPORT.md §1.

An admin asks for an account-wide export of a time window (``createMessageStoreReport``,
202), polls the task (``readMessageStoreReportTask``) until it is ``Completed``, lists its
zip files (``readMessageStoreReportArchive``) and downloads each from the ``uri`` the list
gives (the path ``…/archive/{archiveId}`` is in the docs, not in the spec). All four are in
the Heavy group (10 a minute), so the budget paces them like any other call.

Creating a task is not idempotent: a lost answer may have left a task running on the
server, and RingCentral allows only 2 at once, so a create is never resent by itself
(`AmbiguousWriteError`; the caller counts it as a failed attempt). Downloads resume with
``Range`` like attachments (`rcsync.api.content`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any

from rcsync.api.content import download
from rcsync.api.errors import malformed
from rcsync.api.ratelimit import Group
from rcsync.api.session import ApiSession, Operation

CREATE = Operation("createMessageStoreReport", Group.HEAVY, idempotent=False)
TASK = Operation("readMessageStoreReportTask", Group.HEAVY)
ARCHIVES = Operation("readMessageStoreReportArchive", Group.HEAVY)
ARCHIVE = Operation("readMessageStoreReportArchiveContent", Group.HEAVY)


class TaskStatus(StrEnum):
    """`MessageStoreReport.status` (the spec's enum)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    ATTEMPT_FAILED = "AttemptFailed"  # RingCentral tries again by itself: not the end
    FAILED = "Failed"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


#: Statuses after which a task changes no more.
FINISHED = frozenset({TaskStatus.FAILED, TaskStatus.COMPLETED, TaskStatus.CANCELLED})


@dataclass(frozen=True)
class ExportTask:
    id: str
    status: str  # a TaskStatus, or a value newer than this client (treated as unfinished)
    date_from: str | None = None
    date_to: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class ArchiveInfo:
    uri: str
    size: int


def report_path(account: str) -> str:
    return f"/restapi/v1.0/account/{account}/message-store-report"


def create_task(
    session: ApiSession,
    account: str,
    *,
    date_from: str,
    date_to: str,
    message_types: Sequence[str] = (),
) -> ExportTask:
    body: dict[str, Any] = {"dateFrom": date_from, "dateTo": date_to}
    if message_types:
        body["messageTypes"] = list(message_types)
    response = session.request(CREATE, "POST", report_path(account), json=body, ok=(200, 202))
    return _task(CREATE, ApiSession.json(CREATE, response))


def read_task(session: ApiSession, account: str, task_id: str) -> ExportTask:
    response = session.request(TASK, "GET", f"{report_path(account)}/{task_id}")
    return _task(TASK, ApiSession.json(TASK, response))


def list_archives(session: ApiSession, account: str, task_id: str) -> list[ArchiveInfo]:
    response = session.request(ARCHIVES, "GET", f"{report_path(account)}/{task_id}/archive")
    data = ApiSession.json(ARCHIVES, response)
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise malformed(ARCHIVES.name, "missing 'records'")
    out = []
    for item in records:
        uri, size = (item.get("uri"), item.get("size")) if isinstance(item, dict) else (None, None)
        if not isinstance(uri, str) or not isinstance(size, int) or isinstance(size, bool):
            raise malformed(ARCHIVES.name, "an archive without a uri and a size")
        out.append(ArchiveInfo(uri, size))
    return out


def download_archive(session: ApiSession, uri: str, dest: IO[bytes], *, offset: int = 0) -> int:
    """Stream one zip into `dest` (positioned `offset` bytes in), resuming with ``Range``."""
    return download(session, uri, dest, offset=offset, op=ARCHIVE)


def _task(op: Operation, data: Any) -> ExportTask:
    if not isinstance(data, dict):
        raise malformed(op.name, "expected a JSON object")
    task_id, status = data.get("id"), data.get("status")
    if not isinstance(task_id, str) or not task_id or not isinstance(status, str):
        raise malformed(op.name, "a task without an id and a status")
    date_from, date_to = data.get("dateFrom"), data.get("dateTo")
    return ExportTask(
        task_id,
        status,
        date_from if isinstance(date_from, str) else None,
        date_to if isinstance(date_to, str) else None,
    )
