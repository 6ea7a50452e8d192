"""Missing attachments from RingCentral's message-store export, before the content endpoint.

Every attachment costs one Medium-group content request (40 a minute: 42 hours for
100,000). An admin login may instead ask for the account's message-store export
(`rcsync.api.export`, ACCOUNT-PUSH-EXPORT.md §1): a task for a window, zips of up to 1 GB,
a handful of Heavy-group requests. With ``[account] use_export = "auto"`` the attachments
phase does so when more than `rules.export.EXPORT_AFTER` files the export carries (voicemail
audio, fax documents, MMS images) are missing; ``"always"`` whenever any are:

1. the window the missing files span (their messages' creation times) and their message
   types make one task (202); a permission error (not an admin) ends the bootstrap with one
   line, and the content endpoint does the work as before;
2. the task is polled politely (10 s growing to a minute, Heavy budget) until Completed;
   ``Failed``/``Cancelled`` (or a create refused) is one failed attempt, and after
   `MAX_TASK_ATTEMPTS` the content endpoint takes over and the pull says so. A status or
   archive list that still fails after the client's bounded retries (a 5xx, a dropped
   connection, a 429 not waited out) says nothing about the task itself, which may well
   be fine: it is kept in the state (not counted as a failed attempt) for the next pull to
   ask about again, and this pull goes on with the content endpoint, saying so in one line;
3. each zip is streamed to ``<files>/.export/<task>/archive-N.zip.part`` (resumed with
   ``Range``), renamed when whole, then read entry by entry: an entry counts only if it
   matches the API's record of a missing attachment (ids, content type, size,
   `rules.export.mismatch`) and its zip CRC holds; it is copied to the file's usual name
   through a ``.part`` with its sha256, exactly like a content download. The zip is then
   deleted (``keep_export_archives`` keeps it). An entry counts only from the folder of
   the extension its message row belongs to. A zip that cannot be read is fetched once
   more, and one whose download still fails after the client's retries (a dropped
   connection, a 5xx) is given up: either way the content endpoint fetches what it would
   have held, and the pull says so. Auth errors still end the pull;
4. task id, attempts and each archive's state are in ``sync_state[EXPORT]`` after every
   step, so Ctrl-C or a crash resumes where it stopped (a task, or a half-downloaded zip).

Edits first (`rcsync.sync.edits_first`): the export is the start of the attachments
phase, so its waits for the task and its downloads ask the phase's `EditsFirst` too, every
`edits_first.POLL` seconds of waiting and every megabyte downloaded: an edit made during a
long export goes out at once, and `watch` may end the phase (the bootstrap resumes from its
state when the phase starts again).

Nothing in the export's ``message-store.json`` is used: message rows come from the API
only (its phone numbers may be masked in the export). Whatever the export lacks or gets
wrong stays missing and the content endpoint fetches it right after, in the same pull.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, cast, runtime_checkable

from rcsync.api.export import ArchiveInfo, ExportTask, TaskStatus
from rcsync.config import Config
from rcsync.errors import ApiError, AuthError, NetworkError
from rcsync.progress import Progress, WaitReason, plural
from rcsync.rules import export as rules
from rcsync.rules.export import ArchiveState, ArchiveStatus, ExportState, Wanted
from rcsync.store import attachments as store
from rcsync.store.attachments import Job, JobScope
from rcsync.store.extensions import home_extension
from rcsync.store.state import EXPORT, read_state, write_state
from rcsync.sync.attachments import file_name, skip_reason
from rcsync.sync.edits_first import Clearance, EditsFirst
from rcsync.types import UseExport, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("rcsync.sync")

EXPORT_DIR = ".export"
_COPY = 1 << 20
_MB = 1_000_000
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@runtime_checkable
class ExportClient(Protocol):
    """What the bootstrap needs of `rcsync.api.MessageStoreClient`."""

    def create_export(
        self, *, date_from: str, date_to: str, message_types: list[str] | tuple[str, ...] = ()
    ) -> ExportTask: ...

    def read_export(self, task_id: str) -> ExportTask: ...

    def export_archives(self, task_id: str) -> list[ArchiveInfo]: ...

    def download_archive(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int: ...

    def pause(self, seconds: float, detail: str) -> None: ...


@dataclass
class BootstrapCounts:
    taken: int = 0  # attachments taken from the export
    bytes: int = 0  # their bytes
    rejected: int = 0  # entries that did not match the API's record or failed their CRC
    requests: int = 0  # export requests (Heavy group)
    archive_bytes: int = 0  # zip bytes downloaded
    broken: int = 0  # archives given up (unreadable, or their download failed): content endpoint
    stopped: bool = False  # `EditsFirst` ended the phase (watch); the state resumes it


class _Stopped(Exception):
    """The phase's `EditsFirst` said stop (a new edit in `watch`, a pull due)."""


class _Failed(Exception):
    """This attempt's task ended without archives (the message says why)."""


@dataclass
class _Run:
    engine: Engine
    client: ExportClient
    config: Config
    progress: Progress
    counts: BootstrapCounts
    state: ExportState
    missing: int  # files the export should carry, when the bootstrap began
    gate: EditsFirst | None = None
    scope: JobScope = JobScope.ALL

    def save(self, state: ExportState) -> None:
        self.state = state
        write_state(self.engine, EXPORT, state.to_json())

    def yield_to_edits(self) -> bool:
        """Let edits go first (`EditsFirst.yield_to_edits`); True when a push drew its own
        line (the caller draws its own again). Raises `_Stopped`."""
        if self.gate is None:
            return False
        clearance = self.gate.yield_to_edits()
        if clearance is Clearance.STOP:
            raise _Stopped()
        return clearance is Clearance.PUSHED

    def pause(self, seconds: float, detail: str) -> None:
        """Wait between two polls; edits go first meanwhile (`EditsFirst.pause`)."""
        if self.gate is None or self.gate.budget is None:
            self.client.pause(seconds, detail)
            self.yield_to_edits()
        elif self.gate.pause(seconds, WaitReason.EXPORT, detail) is Clearance.STOP:
            raise _Stopped()


def bootstrap_attachments(
    engine: Engine,
    client: object,
    config: Config,
    *,
    progress: Progress,
    gate: EditsFirst | None = None,
    scope: JobScope = JobScope.ALL,
) -> BootstrapCounts:
    """Take missing attachments from a message-store export; see the module docstring.

    `gate` is the attachments phase's `EditsFirst` (begun): edits go first meanwhile;
    `scope` which attachments without a file the phase looks at."""
    counts = BootstrapCounts()
    mode = config.account.use_export
    if mode is UseExport.NEVER or not isinstance(client, ExportClient):
        return counts
    jobs = missing_jobs(engine, config, scope)
    stored = read_state(engine, EXPORT)
    state = ExportState.from_json(stored) if stored else None
    active = state is not None and state.gave_up_at is None and state.finished_at is None
    if active and not jobs:  # an unfinished bootstrap with nothing left to take
        write_state(engine, EXPORT, None)
        _remove_folder(config)
    if not rules.wanted(mode, len(jobs), resuming=active):
        return counts
    if not active and not rules.may_retry(state, _now()):
        return counts
    if active and state is not None and not rules.may_poll(state, _now()):
        log.info("message-store export task unreachable lately; not polled in this phase")
        return counts  # the content endpoint fetches this phase's files, as it did then
    if state is None or not active:
        # An unfinished one is resumed even if files outside its window are missing now:
        # the content endpoint fetches those, and its zips may be half downloaded.
        span = rules.window(j.creation_time for j in jobs)
        assert span is not None  # jobs is not empty
        types = tuple(sorted({j.message_type for j in jobs}))
        state = ExportState(span[0], span[1], types)
    run = _Run(engine, client, config, progress, counts, state, len(jobs), gate, scope)
    try:
        _attempts(run)
    except _Stopped:
        counts.stopped = True  # everything so far is in the state: resumed next phase
    except _Unreachable as exc:
        # The task id is already in the state; a pull after `UNREACHABLE_WAIT` polls it
        # again. Failing the pull instead would hold back every message behind a
        # side-channel for files.
        run.save(replace(run.state, unreachable_at=iso_utc(_now())))
        progress.note(
            f"message-store export task could not be read ({exc}); kept for the next pull, "
            "attachments come from the content endpoint meanwhile"
        )
    except _NotAllowed as exc:
        # Remembered like a failure: not asked again (one Heavy request, one line) for a day.
        run.save(replace(run.state, gave_up_at=iso_utc(), failures=(str(exc),)))
        progress.note(
            f"message-store export not available to this login ({exc}); attachments come "
            "from the content endpoint"
        )
    return counts


class _NotAllowed(Exception):
    """The login may not export (not an admin)."""


class _Unreachable(Exception):
    """The task's status or archive list failed after the client's retries: the task is
    kept for the next pull."""


def _attempts(run: _Run) -> None:
    while True:
        if run.state.task_id is None:
            if run.state.attempts >= rules.MAX_TASK_ATTEMPTS:
                _give_up(run)
                return
            if not _create(run):
                continue
        try:
            if not run.state.archives:
                _wait_for(run)
            _archives(run)
        except _Failed as failed:
            log.info("message-store export attempt failed: %s", failed)
            run.save(run.state.failed(str(failed)))
            continue
        run.save(replace(run.state, finished_at=iso_utc()))
        _remove_folder(run.config)
        return


def _give_up(run: _Run) -> None:
    last = run.state.failures[-1] if run.state.failures else "unknown"
    run.save(replace(run.state, gave_up_at=iso_utc()))
    _remove_folder(run.config)
    run.progress.note(
        f"message-store export failed {plural(run.state.attempts, 'time')} (last: {last}); "
        "attachments come from the content endpoint"
    )


def _create(run: _Run) -> bool:
    """Create a task; False when this attempt failed (already recorded)."""
    state = replace(run.state, attempts=run.state.attempts + 1)
    run.counts.requests += 1
    try:
        task = run.client.create_export(
            date_from=state.date_from, date_to=state.date_to, message_types=state.message_types
        )
    except AuthError:
        raise
    except (ApiError, NetworkError) as exc:
        if isinstance(exc, ApiError) and exc.status == 403:
            raise _NotAllowed(str(exc)) from None
        # Refused (e.g. two tasks already), its answer lost, or no connection after the
        # client's retries: one failed attempt, not a failed pull.
        run.save(state.failed(str(exc)))
        return False
    run.save(replace(state, task_id=task.id))
    if state.attempts == 1:  # said once the login turned out to be allowed (no noise else)
        run.progress.note(
            f"{plural(run.missing, 'attachment')} to fetch: RingCentral is making a "
            f"message-store export of {state.date_from[:10]} to {state.date_to[:10]} "
            "(instead of one request each)"
        )
    return True


def _wait_for(run: _Run) -> None:
    """Poll the task until it finishes; its archives go into the state."""
    assert run.state.task_id is not None
    run.progress.start("export task", 1)  # "1 of 1 export task" once Completed
    try:
        waited, polls = 0.0, 0
        while True:
            task = _read(run, run.state.task_id)
            if task.status == TaskStatus.COMPLETED:
                break
            if task.finished:
                raise _Failed(f"task {task.status}")
            if waited >= rules.MAX_TASK_WAIT:
                raise _Failed(f"task still {task.status} after {waited / 3600:.0f} h")
            delay = rules.poll_delay(polls)
            run.pause(delay, f"RingCentral message-store export ({task.status})")
            waited, polls = waited + delay, polls + 1
        run.progress.advance()
        run.counts.requests += 1
        listed = _listed(run, run.state.task_id)
    finally:
        run.progress.finish()
    if not listed:
        raise _Failed("task Completed without archives")
    archives = tuple(ArchiveState(a.uri, a.size) for a in listed)
    run.save(replace(run.state, archives=archives))


def _read(run: _Run, task_id: str) -> ExportTask:
    run.counts.requests += 1
    try:
        return run.client.read_export(task_id)
    except (ApiError, NetworkError) as exc:
        raise _reading_failed(exc) from None


def _listed(run: _Run, task_id: str) -> list[ArchiveInfo]:
    try:
        return run.client.export_archives(task_id)
    except (ApiError, NetworkError) as exc:
        raise _reading_failed(exc) from None


def _reading_failed(exc: ApiError | NetworkError) -> Exception:
    """What a failed read of the task (its status or its archive list) means: auth errors
    still end the pull; 403/404 say the task expired or the login lost the right (a
    failed attempt); anything else left after the client's retries is `_Unreachable`."""
    if isinstance(exc, AuthError):
        return exc
    if isinstance(exc, ApiError) and exc.status in (403, 404):
        return _Failed(str(exc))
    return _Unreachable(str(exc))


def _archives(run: _Run) -> None:
    """Download and take every archive not done yet."""
    todo = [i for i, a in enumerate(run.state.archives) if a.status is not ArchiveStatus.DONE]
    total = sum(run.state.archives[i].size for i in todo)
    meter = _Meter(run, -(-total // _MB))
    try:
        for index in todo:
            while run.state.archives[index].status is not ArchiveStatus.DONE:
                meter.between()
                _one_archive(run, index, meter)
    finally:
        run.progress.finish()


def _one_archive(run: _Run, index: int, meter: _Meter) -> None:
    archive = run.state.archives[index]
    path = _folder(run) / f"archive-{index}.zip"
    if archive.status is ArchiveStatus.DOWNLOADED and not path.exists():
        archive = replace(archive, status=ArchiveStatus.PENDING)
    if archive.status is ArchiveStatus.PENDING:
        broken = _download(run, archive, path, meter)
        if broken is not None:
            _broken(run, index, f"its download failed ({broken})")
            return
        archive = replace(archive, status=ArchiveStatus.DOWNLOADED, downloads=archive.downloads + 1)
        run.save(run.state.with_archive(index, archive))
    if _take_all(run, path):
        archive = replace(archive, status=ArchiveStatus.DONE)
    elif archive.downloads < 2:
        log.info("export archive %d cannot be read; downloading it again", index)
        archive = replace(archive, status=ArchiveStatus.PENDING)
    else:
        _broken(run, index, "it cannot be read")
        return
    if (
        archive.status is not ArchiveStatus.DOWNLOADED
        and not run.config.account.keep_export_archives
    ):
        path.unlink(missing_ok=True)
    run.save(run.state.with_archive(index, archive))


def _broken(run: _Run, index: int, why: str) -> None:
    """Give archive `index` up: what it holds stays missing, and the content endpoint
    fetches it right after the bootstrap (in the same pull), as for a task that failed."""
    run.counts.broken += 1
    run.progress.note(
        f"export archive {index}: {why}; its files come from the content endpoint instead"
    )
    archive = replace(run.state.archives[index], status=ArchiveStatus.DONE)
    if not run.config.account.keep_export_archives:
        path = _folder(run) / f"archive-{index}.zip"
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".part").unlink(missing_ok=True)
    run.save(run.state.with_archive(index, archive))


def _download(run: _Run, archive: ArchiveState, path: Path, meter: _Meter) -> str | None:
    """Download one zip to `path` through its ``.part``; what went wrong when its download
    failed after the client's retries (None: downloaded)."""
    part = path.with_name(path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    offset = part.stat().st_size if part.exists() else 0
    if offset > archive.size:
        offset = 0
    run.counts.requests += 1
    with open(part, "r+b" if offset else "wb") as fh:
        fh.truncate(offset)
        fh.seek(offset)
        try:
            counted = cast(IO[bytes], _Counted(fh, meter))
            written = run.client.download_archive(archive.uri, counted, offset=offset)
        except AuthError:
            raise
        except ApiError as exc:
            if exc.status in (403, 404, 410):  # the task's archives expired
                raise _Failed(str(exc)) from None
            return str(exc)  # a 5xx, a 429 or a malformed answer after the retries
        except NetworkError as exc:  # dropped more often than the client retries
            return str(exc)
        fh.flush()
        os.fsync(fh.fileno())
    run.counts.archive_bytes += written
    os.replace(part, path)
    return None


class _Meter:
    """The ``export MB`` progress line, and edits first while the zips come in."""

    def __init__(self, run: _Run, total: int) -> None:
        self.run, self.total, self.done = run, total, 0
        run.progress.start("export MB", total)  # downloaded, in megabytes

    def advance(self, megabytes: int) -> None:
        self.done += megabytes
        self.run.progress.advance(megabytes)
        self.between()

    def between(self) -> None:
        """Edits first; a push drew its own line, so this one is drawn again."""
        if self.run.yield_to_edits():
            self.run.progress.start("export MB", self.total)
            self.run.progress.advance(self.done)


class _Counted:
    """A file that tells the meter each whole megabyte written (a stop raised from here
    leaves the ``.part``, which the next download resumes with ``Range``)."""

    def __init__(self, fh: IO[bytes], meter: _Meter) -> None:
        self._fh, self._meter, self._pending = fh, meter, 0

    def write(self, data: bytes) -> int:
        n = self._fh.write(data)
        self._pending += n
        if self._pending >= _MB:
            self._meter.advance(self._pending // _MB)
            self._pending %= _MB
        return n

    def __getattr__(self, name: str) -> object:
        return getattr(self._fh, name)


def _take_all(run: _Run, path: Path) -> bool:
    """Take every entry of the zip that is a missing attachment; False if it is unreadable."""
    by_message: dict[int, list[Job]] = {}
    for job in missing_jobs(run.engine, run.config, run.scope):
        by_message.setdefault(job.message_id, []).append(job)
    with run.engine.connect() as conn:
        home = home_extension(conn)
    files = run.config.database.files_dir
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _take_entry(run, archive, info, _Wants(by_message, home), files)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        log.info("export archive %s: %s", path.name, exc)
        return False
    return True


@dataclass(frozen=True)
class _Wants:
    """The missing attachments by message, and the home extension (`rules.row_extension`)."""

    by_message: dict[int, list[Job]]
    home: str | None

    def of(self, message_id: int) -> tuple[list[Job], list[Wanted]]:
        jobs = self.by_message.get(message_id, [])
        return jobs, [
            Wanted(
                j.message_id,
                j.id,
                j.content_type,
                j.size,
                rules.row_extension(j.extension_id, self.home),
            )
            for j in jobs
        ]


def _take_entry(
    run: _Run,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    wants: _Wants,
    files: Path,
) -> None:
    ref = rules.parse_entry(info.filename)
    if ref is None or info.is_dir():
        return
    jobs, wanted = wants.of(ref.message_id)
    want = rules.pick(ref, wanted)
    if want is None:
        return  # not missing (already here, or not wanted)
    why = rules.mismatch(ref, info.file_size, want)
    if why is not None:
        run.counts.rejected += 1
        log.info("export entry %s not used: %s", info.filename, why)
        return
    job = next(j for j in jobs if j.id == want.id)
    rel = file_name(job)
    try:
        size, digest = _extract(archive, info, files / rel)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        run.counts.rejected += 1  # a corrupt entry: its CRC (or deflate stream) fails
        log.info("export entry %s not used: %s", info.filename, exc)
        return
    if size != want.size:
        run.counts.rejected += 1
        (files / rel).unlink(missing_ok=True)
        return
    store.save_file(run.engine, job, rel, size, digest, text=None)
    jobs.remove(job)
    run.counts.taken += 1
    run.counts.bytes += size


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> tuple[int, str]:
    """Copy one entry to ``dest`` through ``dest.part``; zipfile checks the CRC at the end."""
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    sha, size = hashlib.sha256(), 0
    try:
        with archive.open(info) as src, open(part, "wb") as out:
            while chunk := src.read(_COPY):
                sha.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return size, sha.hexdigest()


def missing_jobs(engine: Engine, config: Config, scope: JobScope) -> list[Job]:
    """Attachments still to fetch that the export carries (and the filters let through)."""
    held = not config.sync.download_text_parts
    return [
        job
        for job in store.read_jobs(engine, held_text=held, scope=scope)
        if job.type in rules.PACKED_TYPES and skip_reason(job, config.sync) is None
    ]


def _folder(run: _Run) -> Path:
    task = _SAFE.sub("_", run.state.task_id or "none")[-64:]
    return run.config.database.files_dir / EXPORT_DIR / task


def _remove_folder(config: Config) -> None:
    if not config.account.keep_export_archives:
        shutil.rmtree(config.database.files_dir / EXPORT_DIR, ignore_errors=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
