"""RingCentral's message-store export ("message-store-report"), ACCOUNT-PUSH-EXPORT.md §1.

- ``createMessageStoreReport`` (POST …/message-store-report) answers **202** with a
  `MessageStoreReport` in ``Accepted``; body ``dateFrom`` (default now − 24 h), ``dateTo``
  (default now), ``messageTypes`` (``Fax|SMS|VoiceMail|Pager``, absent = all). A bad value
  is 400 ``CMN-101`` naming it; a body that is not JSON 400 ``CMN-103``.
- At most 2 unfinished tasks per account ("Maximum number of simultaneous tasks per account
  is 2", the spec). RingCentral documents the limit but not the error a third task gets; the
  spec's only client error for this operation is 400 (InvalidRequest), so the emulator
  answers 400 ``MSG-360`` with that sentence as the message.
- ``readMessageStoreReportTask``: the status follows a timeline fixed at creation and read
  from the emulator's `Clock` (a `FakeClock` moves it): ``Accepted`` → ``Pending`` (10 % of
  the task's duration) → ``InProgress`` (25 %) → ``Completed`` (100 %; ``finishTime`` set).
  The duration is ``task_seconds`` plus ``task_seconds_per_1000`` per thousand messages in
  the window (the docs' sample took 13 s; "several minutes" for large accounts).
- Fates other than success: ``AttemptFailed`` (at 60 %, then ``InProgress`` again and a
  second full run before ``Completed``), ``Failed`` (the retry fails too: terminal),
  ``Cancelled``. With random faults on (``error_rate``), a new task gets ``Failed`` with
  probability error_rate/2 and ``AttemptFailed`` with error_rate/2; tests force the next
  tasks' fates with ``POST /_emulator/message-store-report {"fate", "times"}``.
- ``readMessageStoreReportArchive``: ``{"records": [{"size", "uri"}]}`` once Completed;
  before that, and for a task that failed or was cancelled, ``{"records": []}``. The zips
  (`reports_zip`) are built in the background from creation on: the messages of the window
  then, the masking and zip size configured then.
- The archive file (``…/archive/{archiveId}``, in the docs, not in the spec; Heavy as older
  generated SDKs say): ``application/zip``, streamed, with ``Range`` as the content endpoint
  (206 + ``Content-Range``; 416 ``CMN-107``). The docs' samples authenticate it with
  ``?access_token=``, which the emulator accepts like a Bearer header.
- Admin only ("only users with the admin role would be able to call these APIs"); the spec
  names the user permission ``Users``, so a plain user gets 403 ``CMN-408`` with
  ``permissionName: "Users"``. Unknown task/archive: 404 ``CMN-102``.

Which extensions and which messages an export covers is `export_sources` alone.
"""

from __future__ import annotations

import json
import random
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .data import ALIVE, DELETED, PURGED, TYPE_NAMES
from .reports_zip import (
    PACKED_TYPES,
    ArchiveFile,
    ExportedExtension,
    ExportedMessage,
    Masking,
    build_archives,
    byte_range,
)
from .store import Query, Store
from .times import format_ms, parse_iso
from .wire import (
    ApiFailure,
    BodyStream,
    Request,
    Response,
    api_error,
    error_body,
    invalid,
    json_response,
    not_found,
)

if TYPE_CHECKING:
    from .app import Emulator
    from .auth import Session

MAX_TASKS = 2
DAY_MS = 86_400_000
MESSAGE_TYPES = ("Fax", "SMS", "VoiceMail", "Pager")
_MAX_SECONDS = 7 * 86_400.0
# RingCentral documents the 2-task limit but not the code a third task gets (see above).
_TOO_MANY_CODE = "MSG-360"
_TOO_MANY = f"Maximum number of simultaneous tasks per account is {MAX_TASKS}"
_RETRY_PAUSE = 0.1  # AttemptFailed lasts this share of the duration before the retry starts


class Status(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    ATTEMPT_FAILED = "AttemptFailed"
    FAILED = "Failed"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


FINISHED = frozenset({Status.FAILED, Status.COMPLETED, Status.CANCELLED})


class Fate(StrEnum):
    """How a task ends (chosen at creation)."""

    COMPLETED = "Completed"
    ATTEMPT_FAILED = "AttemptFailed"  # one failed attempt, then Completed
    FAILED = "Failed"
    CANCELLED = "Cancelled"


@dataclass(frozen=True)
class Source:
    """One extension's message store, as the export sees it."""

    account_id: str
    extension_id: str
    store: Store


def export_sources(emu: Emulator) -> list[Source]:
    """Every extension an export covers: the whole account (every live extension, whatever
    its type; a deleted one is gone with its messages)."""
    return [Source(e.profile.account_id, str(e.id), e.store) for e in emu.account]


def may_export(emu: Emulator, session: Session) -> bool:
    """Only an admin may export ("only users with the admin role would be able to call
    these APIs and export the message store of all extensions in the entire account")."""
    login = emu.account.get(int(session.owner_id))
    return login is not None and login.admin


@dataclass
class ExportConfig:
    task_seconds: float = 13.0
    task_seconds_per_1000: float = 1.0
    max_zip_bytes: int = 1 << 30  # RingCentral: attachment zips of at most 1 GB
    masking: Masking = Masking.SOME

    def describe(self) -> dict[str, Any]:
        return {
            "task_seconds": self.task_seconds,
            "task_seconds_per_1000": self.task_seconds_per_1000,
            "max_zip_bytes": self.max_zip_bytes,
            "masking": self.masking.value,
        }


@dataclass
class Task:
    id: str
    account_id: str
    extension_id: str
    date_from: int
    date_to: int
    message_types: list[str] | None
    fate: Fate
    timeline: list[tuple[int, Status]]  # (from server ms, status), ascending
    build: _Build | None = None  # None: a task that never completes builds nothing

    def status(self, now_ms: int) -> Status:
        index = bisect_right([at for at, _ in self.timeline], now_ms) - 1
        return self.timeline[max(index, 0)][1]

    def finished_at(self, now_ms: int) -> int | None:
        at, status = self.timeline[-1]
        return at if status in FINISHED and now_ms >= at else None


def timeline(start_ms: int, duration_ms: int, fate: Fate) -> list[tuple[int, Status]]:
    """The statuses a task passes through and when (see the module docstring)."""
    d = duration_ms
    steps = [(start_ms, Status.ACCEPTED), (start_ms + d // 10, Status.PENDING)]
    steps.append((start_ms + d // 4, Status.IN_PROGRESS))
    if fate is Fate.COMPLETED:
        return [*steps, (start_ms + d, Status.COMPLETED)]
    failed_at = start_ms + d * 6 // 10
    if fate is Fate.CANCELLED:
        return [*steps, (failed_at, Status.CANCELLED)]
    retry_at = failed_at + int(d * _RETRY_PAUSE)
    steps += [(failed_at, Status.ATTEMPT_FAILED), (retry_at, Status.IN_PROGRESS)]
    if fate is Fate.ATTEMPT_FAILED:
        return [*steps, (retry_at + d * 3 // 4, Status.COMPLETED)]
    return [*steps, (retry_at + d * 6 // 10, Status.FAILED)]


class _Build:
    """A task's zips, built by a background thread from creation on: the store is read then
    (one message at a time under its lock), outside the emulator's request lock, so a large
    export does not stall other clients and is usually ready when the task Completes."""

    def __init__(self, work: Callable[[], list[ArchiveFile]]) -> None:
        self._work = work
        self._done = threading.Event()
        self._archives: list[ArchiveFile] = []
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="rcsync-emulator-export", daemon=True).start()

    def _run(self) -> None:
        try:
            self._archives = self._work()
        except BaseException as exc:  # re-raised in the request that asks for the zips
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> list[ArchiveFile]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._archives


@dataclass
class _Forced:
    fate: Fate
    times: int


@dataclass
class ReportService:
    """The account's export tasks and their archives."""

    emu: Emulator
    config: ExportConfig = field(default_factory=ExportConfig)
    tasks: dict[str, Task] = field(default_factory=dict)
    _forced: list[_Forced] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"reports-{self.emu.seed}")

    # -- control ----------------------------------------------------------------------------

    def configure(self, options: dict[str, Any]) -> None:
        """``PUT /_emulator/config {"export": {...}}``: checked whole before anything changes."""
        unknown = set(options) - set(self.config.describe())
        if unknown:
            raise ValueError(f"unknown export option(s): {', '.join(sorted(unknown))}")
        new = replace(self.config)
        for name in ("task_seconds", "task_seconds_per_1000"):
            if name in options:
                value = float(options[name])
                if not 0 <= value <= _MAX_SECONDS:  # NaN fails too
                    raise ValueError(f"export {name} must be from 0 to {_MAX_SECONDS}")
                setattr(new, name, value)
        if "max_zip_bytes" in options:
            size = options["max_zip_bytes"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 1024:
                raise ValueError("export max_zip_bytes must be an integer >= 1024")
            new.max_zip_bytes = size
        if "masking" in options:
            new.masking = Masking(options["masking"])
        self.config = new

    def force(self, body: dict[str, Any]) -> dict[str, Any]:
        """The next ``times`` tasks created end as ``fate`` (control API)."""
        fate = Fate(body.get("fate", ""))
        times = body.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ValueError('"times" must be a positive integer')
        with self._lock:
            self._forced.append(_Forced(fate, times))
        return {"fate": fate.value, "times": times}

    def describe(self) -> dict[str, Any]:
        with self._lock:
            tasks = [{**self._json(t), "fate": t.fate.value} for t in self.tasks.values()]
            forced = [{"fate": f.fate.value, "times": f.times} for f in self._forced]
        return {"tasks": tasks, "forced": forced}

    # -- the API ----------------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, str], request: Request) -> Response:
        session = self.emu.auth.check_bearer(
            request.headers.get("authorization"), request.one("access_token")
        )
        if not may_export(self.emu, session):
            return _users_permission_required()
        with self._lock:
            if operation == "createMessageStoreReport":
                return self._create(request, session)
            task = self.tasks.get(params["task"])
            if task is None:
                return not_found("taskId")
            if operation == "readMessageStoreReportTask":
                return json_response(200, self._json(task))
            archives = self._archives(task)
            if operation == "readMessageStoreReportArchive":
                return json_response(200, {"records": self._archive_list(task, archives)})
        return self._download(archives, params["archive"], request)

    def _create(self, request: Request, session: Session) -> Response:
        date_from, date_to, types = self._window(request)
        active = [t for t in self.tasks.values() if t.status(self._now()) not in FINISHED]
        if len(active) >= MAX_TASKS:
            return api_error(400, _TOO_MANY_CODE, _TOO_MANY)
        profile = self.emu.world.profile
        suffix = f"{self._rng.getrandbits(128):032x}"
        task_id = f"{profile.account_id}-{session.owner_id}-{suffix}"
        sources = export_sources(self.emu)
        extensions = [self._exported(s, date_from, date_to, types) for s in sources]
        count = sum(ext.slots for ext in extensions)
        seconds = self.config.task_seconds + self.config.task_seconds_per_1000 * count / 1000
        fate = self._next_fate()
        task = Task(
            task_id, profile.account_id, session.owner_id, date_from, date_to, types, fate,
            timeline(self._now(), int(seconds * 1000), fate),
        )  # fmt: skip
        if fate in (Fate.COMPLETED, Fate.ATTEMPT_FAILED):
            masking, limit = self.config.masking, self.config.max_zip_bytes
            task.build = _Build(lambda: build_archives(extensions, masking, limit))
        self.tasks[task_id] = task
        return json_response(202, self._json(task))

    def _window(self, request: Request) -> tuple[int, int, list[str] | None]:
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            raise ApiFailure(api_error(400, "CMN-103", "JSON can't be parsed.")) from None
        if not isinstance(body, dict):
            raise ApiFailure(api_error(400, "CMN-103", "JSON can't be parsed."))
        now = self._now()
        date_to = _time(body, "dateTo", now)
        date_from = _time(body, "dateFrom", now - DAY_MS)
        if date_from >= date_to:
            raise ApiFailure(invalid("dateFrom"))
        types = body.get("messageTypes")
        if types is not None and (
            not isinstance(types, list) or not all(t in MESSAGE_TYPES for t in types)
        ):
            raise ApiFailure(invalid("messageTypes"))
        return date_from, date_to, (list(dict.fromkeys(types)) if types else None)

    def _next_fate(self) -> Fate:
        if self._forced:
            forced = self._forced[0]
            forced.times -= 1
            if forced.times == 0:
                self._forced.pop(0)
            return forced.fate
        rate = self.emu.faults.error_rate
        draw = self._rng.random()
        if draw < rate / 2:
            return Fate.FAILED
        return Fate.ATTEMPT_FAILED if draw < rate else Fate.COMPLETED

    def _now(self) -> int:
        return int(self.emu.clock.now() * 1000)

    def _json(self, task: Task) -> dict[str, Any]:
        now = self._now()
        out: dict[str, Any] = {
            "id": task.id,
            "uri": self._task_uri(task),
            "status": task.status(now).value,
            "accountId": task.account_id,
            "extensionId": task.extension_id,
            "dateFrom": format_ms(task.date_from),
            "dateTo": format_ms(task.date_to),
            "startTime": format_ms(task.timeline[0][0]),
        }
        finished = task.finished_at(now)
        if finished is not None:
            out["finishTime"] = format_ms(finished)
        if task.message_types:
            out["messageTypes"] = task.message_types
        return out

    def _task_uri(self, task: Task) -> str:
        base = self.emu.base_url
        return f"{base}/restapi/v1.0/account/{task.account_id}/message-store-report/{task.id}"

    # -- archives ---------------------------------------------------------------------------

    def _archives(self, task: Task) -> list[ArchiveFile]:
        """The task's zips once it Completed (waiting for its build if need be), else none."""
        if task.build is None or task.status(self._now()) is not Status.COMPLETED:
            return []
        return task.build.result()

    def _archive_list(self, task: Task, archives: list[ArchiveFile]) -> list[dict[str, Any]]:
        uri = self._task_uri(task)
        return [{"size": a.size, "uri": f"{uri}/archive/{i}"} for i, a in enumerate(archives)]

    def _slots(
        self, source: Source, date_from: int, date_to: int, types: list[str] | None
    ) -> list[int]:
        """The slots of one extension an export covers: its window and types, not Purged."""
        kinds = None if types is None else frozenset(TYPE_NAMES.index(t) for t in types)
        query = Query(date_from, date_to, kinds=kinds, avails=frozenset({ALIVE, DELETED}))
        return list(reversed(source.store.select(query)))  # newest first, as the API lists

    def _exported(
        self, source: Source, date_from: int, date_to: int, types: list[str] | None
    ) -> ExportedExtension:
        """One extension's part: the messages are those of the window at creation; their
        records and bytes are read when the build reaches them."""
        store = source.store
        slots = self._slots(source, date_from, date_to, types)

        def messages() -> Iterator[ExportedMessage]:
            for slot in slots:
                with store.lock:
                    if store.cols.avail[slot] >= PURGED:  # purged or dropped since creation
                        continue
                    record = store.record_bytes(slot)
                    attachments = [
                        (a.id, a.content_type, _content(store, slot, a.id))
                        for a in store.attachments(slot)
                        if a.type in PACKED_TYPES
                    ]
                yield ExportedMessage(store.cols.ids[slot], record, attachments)

        return ExportedExtension(source.account_id, source.extension_id, messages, len(slots))

    def _download(self, archives: list[ArchiveFile], archive_id: str, request: Request) -> Response:
        index = int(archive_id) if archive_id.isdigit() else -1
        if not 0 <= index < len(archives):
            return not_found("archiveId")
        archive = archives[index]
        headers = [("Content-Type", "application/zip"), ("Accept-Ranges", "bytes")]
        wanted = byte_range(request.headers.get("range"), archive.size)
        if wanted is False:
            response = api_error(416, "CMN-107", "Requested Range Not Satisfiable")
            response.headers.append(("Content-Range", f"bytes */{archive.size}"))
            return response
        if wanted is None:
            return Response(200, headers=headers, stream=BodyStream(archive.size, archive.chunks))
        first, last = wanted
        headers.append(("Content-Range", f"bytes {first}-{last}/{archive.size}"))
        body = BodyStream(last - first + 1, lambda: archive.chunks(first, last))
        return Response(206, headers=headers, stream=body)


def _users_permission_required() -> Response:
    """The 403 a plain user gets: the spec's user permission for these calls is ``Users``;
    worded like the emulator's other ``CMN-408`` answers (see `app`)."""
    message = (
        "In order to call this API endpoint, user needs to have [Users] permission "
        "for requested resource."
    )
    body = error_body("CMN-408", message)
    body["permissionName"] = "Users"
    body["errors"] = [{**body["errors"][0], "permissionName": "Users"}]
    return json_response(403, body)


def _content(store: Store, slot: int, attachment_id: int) -> Callable[[], bytes | None]:
    def read() -> bytes | None:
        found = store.content(slot, attachment_id)
        return None if found is None else found[1]

    return read


def _time(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    try:
        return parse_iso(str(value))
    except ValueError:
        raise ApiFailure(invalid(name)) from None
