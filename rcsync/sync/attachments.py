"""Attachment downloads of the pull direction: files under ``[database] files``.

A phase of its own, after the messages are committed (and in `sync` and `watch` after the
edits are pushed), that lets edits go first between downloads (`rcsync.sync.edits_first`):
every attachment without a verified file is fetched, with

* readable names, ``<extension id>/2024/05/2024-05-13T10-22-01_voicemail_+1555…_<msg>_<att>.wav``
  (sanitised; the file extension comes from the content type; one folder per RingCentral
  extension, so an account archive keeps each user's files apart; files recorded before
  this layout keep their path);
* written to ``<name>.part``, fsynced, then renamed, so a file under its final name is
  always complete; an interrupted download resumes from the ``.part`` with ``Range``;
* size and sha256 recorded in ``attachment``; a recorded file that is missing or has the
  wrong size is fetched again. Each pull checks the sizes of the next `FILES_PER_PULL`
  attachment rows, going round the archive (`check_some_files`): a file deleted from disk
  is noticed within ``rows / FILES_PER_PULL`` pulls, and at once by ``verify --deep``
  (which hashes every file). Checking every file on each pull made a pull of a
  1,000,000-message archive cost seconds more than it brings;
* ``[sync] attachment_types`` / ``max_attachment_size`` filter, and ``attachment.skipped``
  says why. A 404 means the files are gone only when the message is: the message is read
  (one GET), and only if RingCentral shows it Purged or not found is the attachment
  marked "purged remotely"; otherwise the error is recorded and the download is retried
  on later pulls (a mark left while the message is not Purged is retried on a full pass);
* a pull looks only at attachments never tried or whose last try failed (an index holds
  them: `JobScope.TODO`); those held back by the settings below, or purged, are decided
  again in a full pass (`JobScope.ALL`), run when those settings differ from the ones
  the last complete pass ran with (`FILTERS_STATE`), and on the first pull of a database;
* SMS/Pager ``Text`` parts are not fetched unless ``[sync] download_text_parts``: their
  content is the message text, which RingCentral also puts in the subject (and the pull
  already stored as ``message.text``), and each would cost one request of the Medium
  group (40 a minute: 41 hours for 100,000 SMS). They are marked skipped in one UPDATE;
* downloaded Text parts fill ``message.text`` and AudioTranscription parts
  ``message.transcription``, which the FTS triggers index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from rcsync.api.content import CONTENT
from rcsync.api.ratelimit import RateBudget, describe_limit
from rcsync.api.results import ItemResult
from rcsync.config import Config, SyncConfig
from rcsync.errors import ApiError, AuthError, RcsyncError
from rcsync.progress import Progress
from rcsync.store import attachments as store
from rcsync.store.attachments import Job, JobScope
from rcsync.store.lock import attachments_lock
from rcsync.store.state import read_state, save_state
from rcsync.sync.edits_first import WRITE_RESERVE, Clearance, EditsFirst
from rcsync.types import Availability

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_SAFE = re.compile(r"[^A-Za-z0-9+._-]+")
EXTENSIONS = {
    "audio/x-wav": "wav", "audio/wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3",
    "audio/mp3": "mp3", "audio/ogg": "ogg", "audio/mp4": "m4a", "application/pdf": "pdf",
    "text/plain": "txt", "text/html": "html", "image/png": "png", "image/jpeg": "jpg",
    "image/gif": "gif", "image/tiff": "tif", "image/bmp": "bmp", "image/webp": "webp",
    "video/mp4": "mp4", "video/3gpp": "3gp", "text/vcard": "vcf", "text/x-vcard": "vcf",
    "application/msword": "doc", "application/rtf": "rtf",
}  # fmt: skip


class ContentClient(Protocol):
    def download_content(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int: ...

    def get_messages(self, ids: Sequence[int]) -> Mapping[int, ItemResult]: ...


@dataclass
class AttachmentCounts:
    downloaded: int = 0
    bytes: int = 0
    skipped: int = 0
    failed: int = 0
    requests: int = 0
    stopped: bool = False  # the phase ended early to let edits or a pull go first
    left: int = 0  # attachments not looked at because of it (the next phase gets them)
    busy: str | None = None  # another process was downloading them (who): none fetched
    from_export: int = 0  # of `downloaded`, taken from a message-store export


def extension_for(content_type: str | None) -> str:
    base = (content_type or "").split(";")[0].strip().lower()
    if base in EXTENSIONS:
        return EXTENSIONS[base]
    sub = base.rpartition("/")[2]
    return _SAFE.sub("", sub.removeprefix("x-"))[:8] or "bin"


def file_name(job: Job) -> str:
    """Relative path of the job's file (forward slashes, as stored in attachment.path)."""
    stamp = job.creation_time[:19].replace(":", "-")
    other = job.from_number if job.direction != "Outbound" else (job.to_numbers or "")
    other = (other or "unknown").split(",")[0]
    parts = [stamp, job.message_type.lower(), other, str(job.message_id), str(job.id)]
    name = "_".join(_SAFE.sub("_", p).strip("._") or "x" for p in parts)
    dated = f"{stamp[:4]}/{stamp[5:7]}/{name}.{extension_for(job.content_type)}"
    # One folder per extension (account archives); files recorded before keep their path.
    owner = _SAFE.sub("_", job.extension_id or "").strip("._")
    return f"{owner}/{dated}" if owner else dated


def skip_reason(job: Job, sync: SyncConfig) -> str | None:
    if job.remote_availability == Availability.PURGED or not job.uri:
        return store.PURGED_REASON
    if job.type == "Text" and not sync.download_text_parts:
        return store.TEXT_PART_REASON
    if sync.attachment_types and job.type not in sync.attachment_types:
        return f"type {job.type} not in [sync] attachment_types"
    if sync.max_attachment_size and job.size is not None and job.size > sync.max_attachment_size:
        return f"{job.size} bytes is over [sync] max_attachment_size"
    return None


#: Attachment rows whose file (if recorded) each pull checks for its size, going round.
FILES_PER_PULL = 2_000
#: sync_state key: the (message_id, id) the last check ended at, as JSON (absent: the start).
FILE_CHECK_STATE = "file_check"
#: sync_state key: the settings that decide which attachments are held back (`_filters`),
#: as the last complete full pass (`JobScope.ALL`) ran with them.
FILTERS_STATE = "attachment_filters"


def check_some_files(engine: Engine, files: Path, n: int) -> int:
    """Forget the files among the next `n` rows (after the last check's) that are gone or
    have the wrong size, so they are fetched again; returns how many."""
    recorded, last = store.read_downloaded_slice(engine, _check_from(engine), n)
    lost = [(mid, aid) for mid, aid, path, size in recorded if not _intact(files / path, size)]
    store.forget_files(engine, lost)
    save_state(engine, {FILE_CHECK_STATE: None if last is None else json.dumps(last)})
    return len(lost)


def _check_from(engine: Engine) -> tuple[int, int]:
    """Where the last check ended; the start when none did (or the key was mangled)."""
    try:
        mid, aid = json.loads(read_state(engine, FILE_CHECK_STATE) or "[-1, -1]")
        return int(mid), int(aid)
    except (ValueError, TypeError):
        return -1, -1


def _intact(path: Path, size: int | None) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _filters(sync: SyncConfig) -> str:
    """The settings `skip_reason` holds attachments back by, as `FILTERS_STATE` keeps them."""
    return json.dumps(
        {
            "download_text_parts": sync.download_text_parts,
            "attachment_types": sorted(sync.attachment_types),
            "max_attachment_size": sync.max_attachment_size,
        }
    )


def job_scope(engine: Engine, sync: SyncConfig) -> JobScope:
    """`JobScope.TODO` when the last full pass ran with these settings, else ALL."""
    same = read_state(engine, FILTERS_STATE) == _filters(sync)
    return JobScope.TODO if same else JobScope.ALL


def download_attachments(
    engine: Engine,
    client: ContentClient,
    config: Config,
    *,
    progress: Progress,
    gate: EditsFirst | None = None,
) -> AttachmentCounts:
    """Fetch every attachment that has no verified file yet; see the module docstring.

    Before each download `gate` (`rcsync.sync.edits_first`) lets pending edits go first;
    by default it only keeps their share of the rate-limit window free. One process
    downloads at a time (`rcsync.store.lock.attachments_lock`): while another does, this
    fetches nothing and says so.
    """
    with attachments_lock(config.database.path) as holder:
        if holder is not None:
            progress.note(f"attachments: {holder} is downloading them; none fetched here")
            return AttachmentCounts(busy=holder)
        return _download_all(engine, client, config, progress=progress, gate=gate)


def _download_all(
    engine: Engine,
    client: ContentClient,
    config: Config,
    *,
    progress: Progress,
    gate: EditsFirst | None,
) -> AttachmentCounts:
    files = config.database.files_dir
    counts = AttachmentCounts()
    held = not config.sync.download_text_parts
    budget = getattr(client, "budget", None)
    if gate is None:
        gate = EditsFirst(
            engine, config, budget if isinstance(budget, RateBudget) else None, progress
        )
    check_some_files(engine, files, FILES_PER_PULL)
    scope = job_scope(engine, config.sync)
    counts.skipped += store.hold_text_parts(engine, scope=scope) if held else 0
    # The phase begins with the export's wait, if any: edits made during it go first too.
    gate.begin()
    if _from_export(engine, client, config, progress, counts, gate, scope):
        left = store.count_jobs(engine, held_text=held, scope=scope)
        counts.stopped, counts.left = True, max(left, 1)
        return counts
    total = store.count_jobs(engine, held_text=held, scope=scope)
    note = estimate_note(total, budget)
    if note:
        progress.hint(note)
    progress.start("attachments", total)
    done = 0
    try:
        for job in store.read_jobs(engine, held_text=held, scope=scope):
            if skip_reason(job, config.sync) is None:
                clearance = gate.before_download()
                if clearance is Clearance.STOP:
                    counts.stopped, counts.left = True, max(total - done, 1)
                    break
                if clearance is Clearance.PUSHED:  # the push drew its own line: ours again
                    progress.start("attachments", total)
                    progress.advance(done)
            _one(engine, client, config.sync, files, job, counts)
            done += 1
            progress.advance()
    finally:
        progress.finish()
    if scope is JobScope.ALL and not counts.stopped:
        # Every row held back was decided again under these settings: until they change,
        # the rows the index holds are all a pull needs to look at.
        save_state(engine, {FILTERS_STATE: _filters(config.sync)})
    return counts


def _from_export(
    engine: Engine,
    client: object,
    config: Config,
    progress: Progress,
    counts: AttachmentCounts,
    gate: EditsFirst,
    scope: JobScope,
) -> bool:
    """Many missing files: take them from a message-store export first (`sync.bootstrap`).
    True when `gate` ended the phase meanwhile."""
    from rcsync.sync.bootstrap import bootstrap_attachments  # it imports this module

    boot = bootstrap_attachments(engine, client, config, progress=progress, gate=gate, scope=scope)
    counts.downloaded += boot.taken
    counts.from_export += boot.taken
    counts.bytes += boot.bytes
    counts.requests += boot.requests
    return boot.stopped


#: Downloads expected to take less than this go without an estimate.
ESTIMATE_AFTER = 60.0


def estimate_note(jobs: int, budget: object) -> str | None:
    """What a long download will take under RingCentral's limit and how to avoid waiting,
    e.g. ``6,674 attachments: about 2 h 56 min at RingCentral rate limit (Medium, 40/min)``
    and the way out; None when it is short or the pace is unknown (a test double).
    """
    if not isinstance(budget, RateBudget) or jobs <= 0:
        return None
    limit, window = budget.limit_of(CONTENT.group)
    # The pace is the window less what downloads leave to edits (`edits_first`).
    seconds = jobs / max(limit - WRITE_RESERVE, 1) * window
    if seconds < ESTIMATE_AFTER:
        return None
    # Two short lines: a note that wraps on an 80-column terminal is hard to read.
    return (
        f"{jobs:,} attachment{'s' * (jobs != 1)}: about {_duration(seconds)} at "
        f"{describe_limit(CONTENT.group, limit, window)}\n"
        "  `rcsync pull --no-attachments` skips them; after Ctrl-C `rcsync pull` resumes"
    )


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{max(minutes, 1)} min"


def _one(
    engine: Engine,
    client: ContentClient,
    sync: SyncConfig,
    files: Path,
    job: Job,
    counts: AttachmentCounts,
) -> None:
    reason = skip_reason(job, sync)
    if reason is not None:
        counts.skipped += 1
        store.save_skipped(engine, job, reason)
        return
    rel = file_name(job)
    try:
        size, digest = fetch_file(client, job, files / rel)
        counts.requests += 1
    except ApiError as exc:
        counts.requests += 1
        if exc.status in (404, 410) and _message_purged(client, job, counts):
            counts.skipped += 1
            store.save_skipped(engine, job, store.PURGED_REASON)
        else:
            counts.failed += 1
            store.save_skipped(engine, job, f"error: {exc}")
        return
    counts.downloaded += 1
    counts.bytes += size
    column = store.TEXT_COLUMNS.get(job.type or "")
    # A Text part is the message text, a transcription the voicemail's: both are searched.
    text = (files / rel).read_bytes().decode("utf-8", errors="replace") if column else None
    store.save_file(engine, job, rel, size, digest, text=text)


def _message_purged(client: ContentClient, job: Job, counts: AttachmentCounts) -> bool:
    """After a content 404: does RingCentral say the message itself is Purged or gone?

    The content endpoint's 404 does not say which resource is missing (a moved file, a
    routing fault); only the message's own state does. Unreadable now means not known:
    the download is retried on a later pull.
    """
    counts.requests += 1
    try:
        answer = client.get_messages([job.message_id]).get(job.message_id)
    except AuthError:
        raise
    except RcsyncError:
        return False
    if answer is None:
        return False
    if answer.gone:
        return True
    return answer.ok and (answer.record or {}).get("availability") == Availability.PURGED


def fetch_file(client: ContentClient, job: Job, dest: Path) -> tuple[int, str]:
    """Download into ``dest.part`` (resuming it), fsync, rename; returns (size, sha256)."""
    assert job.uri is not None
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.exists() else 0
    with open(part, "r+b" if offset else "wb") as fh:
        fh.seek(offset)
        client.download_content(job.uri, fh, offset=offset)
        fh.flush()
        os.fsync(fh.fileno())
    size, digest = hash_file(part)
    os.replace(part, dest)
    return size, digest


def hash_file(path: Path) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()
