"""`rcsync verify`: is the archive a complete, intact copy of what RingCentral holds?

Three checks, each reporting every difference by message id with what fixes it:

1. **Messages** (always): the whole history is listed once, newest first, 1,000 records a
   request with every availability (`rcsync.sync.listing`, the walk the full pull uses:
   ``ceil(n / 1000)`` requests and one per crowded boundary instant), and each page is
   compared with the archive rows of its ids (one indexed query a page):

   * a listed message with no row (and no locally deleted row): *missing locally*;
   * read status or availability differing from the archive, where the archive has no
     pending edit of that field: *drift* (a change the pulls did not bring);
   * the same where a pending edit explains it: *pending* (info: `push` sends it);
   * an archived message RingCentral no longer lists: *gone remotely*, info only: the
     archive is meant to outlive RingCentral's retention, and nothing is inferred from it.

2. **Files** (``--deep``): every recorded attachment is re-hashed against its recorded
   sha256 and size (*corrupt*), files that are gone are *missing*, and attachments still
   to fetch are *not downloaded*. The cost is one read of every file: disk speed.

3. **Repair** (``--repair``): the drifted and missing records just listed go through the
   pull's three-way merge (`save_records`, so a pending edit is never lost), missing and
   corrupt files are forgotten and fetched again with the pull's downloader.

In an account archive (`verify_archive`), each mirrored extension is listed on its own
paths (one walk per extension, the same minimum each) and reported by number; the
files are hashed once for the whole archive, and the account's retention read once.

Nothing is written without ``--repair``. The verdict is `VerifyReport.ok`: no problem left
(info findings do not count).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rcsync.config import Config
from rcsync.errors import ApiError, AuthError
from rcsync.progress import NullProgress, Progress, plural
from rcsync.rules import records as rec
from rcsync.rules.listing import Listing
from rcsync.store import attachments as attachment_rows
from rcsync.store.database import translate_errors
from rcsync.store.extensions import ExtensionRow, home_extension, load_extensions
from rcsync.store.messages import save_records
from rcsync.store.retention import RETENTION_STATE
from rcsync.store.state import set_state
from rcsync.store.trust import (
    FileRow,
    LocalRow,
    archive_ids,
    count_files,
    read_files,
    read_rows,
    read_tombstoned,
)
from rcsync.sync.account import RoutingClient
from rcsync.sync.apply import settle_journal
from rcsync.sync.attachments import ContentClient, download_attachments, hash_file, skip_reason
from rcsync.sync.listing import ListClient, Page, walk_listing
from rcsync.types import Availability, ConflictPolicy, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rcsync.api.client import MessageStoreClient


class Kind(StrEnum):
    """What a finding is."""

    MISSING_LOCALLY = "missing_locally"
    DRIFT = "drift"
    PENDING = "pending"  # info: a pending local edit explains the difference
    GONE_REMOTELY = "gone_remotely"  # info: the archive outlives retention
    FILE_MISSING = "file_missing"
    FILE_CORRUPT = "file_corrupt"
    NOT_DOWNLOADED = "not_downloaded"


class Remedy(StrEnum):
    """What fixes a finding (the command, or the flag of this one)."""

    PULL = "pull"
    PUSH = "push"
    REPAIR = "--repair"
    NONE = "none"


INFO = frozenset({Kind.PENDING, Kind.GONE_REMOTELY})


@dataclass
class Finding:
    kind: Kind
    message_id: int
    detail: str
    fix: Remedy
    attachment_id: int | None = None
    repaired: bool = False
    extension: str | None = None  # its extension's number, in an account archive

    @property
    def problem(self) -> bool:
        return self.kind not in INFO

    def describe(self) -> str:
        what = f"message {self.message_id}"
        if self.extension is not None:
            what = f"extension {self.extension} {what}"
        if self.attachment_id is not None:
            what += f" attachment {self.attachment_id}"
        fix = "" if self.fix is Remedy.NONE else f" (fix: {_fix_words(self.fix)})"
        done = " — repaired" if self.repaired else ""
        return f"{self.kind.value.replace('_', ' ')}: {what}: {self.detail}{fix}{done}"


def _fix_words(fix: Remedy) -> str:
    return "rcsync verify --repair" if fix is Remedy.REPAIR else f"rcsync {fix.value}"


@dataclass
class ExtensionCheck:
    """One extension's share of an account verify."""

    id: str
    number: str | None
    remote_messages: int = 0
    list_requests: int = 0
    problems: int = 0
    notes: int = 0
    error: str | None = None  # why it could not be listed (403, 404): a problem too

    def line(self) -> str:
        name = f"extension {self.number or self.id}"
        if self.error is not None:
            return f"{name}: not verified: {self.error}"
        head = f"{name}: {plural(self.remote_messages, 'remote message')}"
        if self.problems:
            return f"{head}, {plural(self.problems, 'problem')}"
        return f"{head}, complete" + (f" ({plural(self.notes, 'note')})" if self.notes else "")


@dataclass
class VerifyReport:
    """What one verify found (the CLI prints it, `--json` dumps `as_dict`)."""

    extension_id: str | None = None
    deep: bool = False
    remote_messages: int = 0  # listed by RingCentral (every availability)
    compared: int = 0  # of those, found in the archive and compared
    files_checked: int = 0
    bytes_hashed: int = 0
    requests: int = 0
    list_requests: int = 0  # of those, listMessages pages
    seconds: float = 0.0
    # The account's fax/voicemail retention (days), None when the login may not read it.
    retention_period: int | None = None
    findings: list[Finding] = field(default_factory=list)
    # Account archives only: one entry per extension verified, in number order.
    extensions: list[ExtensionCheck] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.problem and not f.repaired]

    @property
    def unverified(self) -> list[ExtensionCheck]:
        return [e for e in self.extensions if e.error is not None]

    @property
    def ok(self) -> bool:
        # An extension that could not be listed is not known to be complete.
        return not self.problems and not self.unverified

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind.value] = out.get(f.kind.value, 0) + 1
        return out

    def line(self) -> str:
        files = f", {plural(self.files_checked, 'file')} hashed" if self.deep else ""
        of = f" of {plural(len(self.extensions), 'extension')}" if self.extensions else ""
        head = (
            f"verified {plural(self.remote_messages, 'remote message')}{of}{files} in "
            f"{plural(self.requests, 'request')}"
        )
        if self.ok:
            info = len(self.findings)
            return f"{head}: archive complete" + (f" ({plural(info, 'note')})" if info else "")
        tail = f"{plural(len(self.problems), 'problem')}"
        if self.unverified:
            tail += f", {plural(len(self.unverified), 'extension')} not verified"
        return f"{head}: {tail}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["problems"] = len(self.problems)
        data["unverified"] = [e.number or e.id for e in self.unverified]
        data["counts"] = self.counts()
        data["findings"] = [
            {**asdict(f), "problem": f.problem, "kind": f.kind.value, "fix": f.fix.value}
            for f in self.findings
        ]
        return data


class VerifyClient(ListClient, ContentClient, Protocol):
    """What verify needs of `rcsync.api.MessageStoreClient`: listing, reads, content."""

    def read_store_configuration(self) -> dict[str, Any]: ...


def verify(
    engine: Engine,
    client: VerifyClient,
    config: Config,
    *,
    extension_id: str | None = None,
    deep: bool = False,
    repair: bool = False,
    progress: Progress | None = None,
    settle: bool = True,
    read_retention: bool = True,
    files_client: ContentClient | None = None,
) -> VerifyReport:
    """Compare the archive (of `extension_id`, every row when None) with what `client`'s
    extension holds; see the module docstring. `settle` and `read_retention` are off for
    the extensions of an account verify that already did both once. `--repair` fetches
    files through `files_client` (default `client`): an account verify routes them."""
    started = time.monotonic()
    progress = progress or NullProgress()
    report = VerifyReport(extension_id=extension_id, deep=deep)
    with translate_errors(engine):
        if repair and settle:
            settle_journal(engine, client)  # as the pull does, before anything is merged
        listed = _compare_messages(engine, client, config, report, extension_id, progress)
        if read_retention:
            _read_retention(engine, client, report)
        if deep:
            check_all_files(engine, config, report, progress)
        if repair:
            _repair(engine, files_client or client, config, report, listed, progress)
    report.seconds = time.monotonic() - started
    return report


def verify_archive(
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    *,
    extension_id: str | None = None,
    deep: bool = False,
    repair: bool = False,
    progress: Progress | None = None,
) -> VerifyReport:
    """`verify` of a whole archive: a single-extension one as it always was; an account
    archive (more than one extension, or `extension_id` given) one extension at a time,
    each listed on its own paths, then its files once (``--deep``)."""
    with engine.connect() as conn:
        rows = load_extensions(conn)
        home = home_extension(conn)
    if extension_id is None and len(rows) <= 1:
        return verify(engine, client, config, deep=deep, repair=repair, progress=progress)
    chosen = (
        [r for r in rows if r.id == extension_id]
        if extension_id is not None
        else [r for r in rows if not r.remote_gone]  # a gone one would only answer 404
    )
    started = time.monotonic()
    progress = progress or NullProgress()
    report = VerifyReport(extension_id=extension_id, deep=deep)
    # Each message a repair touches goes to its own extension's paths: after a content 404
    # the file's message is read to see whether it is purged, and on another extension's
    # path a live message is "not found" (which would mark its file purged remotely).
    routed = RoutingClient(engine, client)
    with translate_errors(engine):
        if repair:
            # Every extension's unanswered writes, each read back on its own paths.
            settle_journal(engine, routed)
        for n, row in enumerate(chosen):
            ext_client = client if row.id == home else client.for_extension(row.id)
            _verify_one(
                engine, ext_client, routed, config, report, row, repair, progress, first=n == 0
            )
        if deep:
            check_all_files(engine, config, report, progress)
            if repair:
                _repair(engine, routed, config, report, {}, progress)
    report.seconds = time.monotonic() - started
    return report


def _verify_one(
    engine: Engine,
    client: VerifyClient,
    files_client: ContentClient,
    config: Config,
    report: VerifyReport,
    row: ExtensionRow,
    repair: bool,
    progress: Progress,
    *,
    first: bool,
) -> None:
    """One extension's listing into the account `report`; a 403/404 is its error, the
    others go on (as the account pull does)."""
    check = ExtensionCheck(row.id, row.number)
    report.extensions.append(check)
    try:
        part = verify(
            engine,
            client,
            config,
            extension_id=row.id,
            repair=repair,
            progress=progress,
            settle=False,
            read_retention=first,  # the account's setting: once is enough
            files_client=files_client,
        )
    except AuthError:
        raise
    except ApiError as exc:
        check.error = str(exc)
        return
    for f in part.findings:
        f.extension = row.number or row.id
    report.findings.extend(part.findings)
    for name in ("remote_messages", "compared", "requests", "list_requests"):
        setattr(report, name, getattr(report, name) + getattr(part, name))
    if first:
        report.retention_period = part.retention_period
    check.remote_messages, check.list_requests = part.remote_messages, part.list_requests
    check.problems, check.notes = len(part.problems), len(part.findings) - len(part.problems)


# --- messages ----------------------------------------------------------------------------


def _compare_messages(
    engine: Engine,
    client: ListClient,
    config: Config,
    report: VerifyReport,
    extension_id: str | None,
    progress: Progress,
) -> dict[int, Mapping[str, Any]]:
    """List everything, compare page by page; returns the records of the findings."""
    since = rec.day_start(config.sync.history_start)
    types = config.sync.message_types
    seen: set[int] = set()
    wanted: dict[int, Mapping[str, Any]] = {}
    # The cursor only: verify commits nothing, so no token and no frame.
    start = Listing(frame={}, token="", date_to=iso_utc(_day_after_now()))

    def compare(page: Page) -> None:
        report.requests += 1
        report.list_requests += 1
        if page.total is not None:
            progress.start("verify", page.total)
        ids = [int(r["id"]) for r in page.records]
        with engine.connect() as conn:
            rows = read_rows(conn, ids)
            gone_here = read_tombstoned(conn, [i for i in ids if i not in rows])
        for record in page.records:
            mid = int(record["id"])
            seen.add(mid)
            if _compare_one(report, record, rows.get(mid), deleted_here=mid in gone_here):
                wanted[mid] = record
        report.remote_messages += len(page.records)
        progress.advance(len(page.records))

    progress.start("verify")
    try:
        walk_listing(client, start, date_from=since, message_types=types, on_page=compare)
    finally:
        progress.finish()
    with engine.connect() as conn:
        archived = archive_ids(conn, extension_id=extension_id, since=since, types=types)
    for mid in sorted(archived - seen):
        report.findings.append(
            Finding(
                Kind.GONE_REMOTELY,
                mid,
                "kept here, no longer on RingCentral (retention or deleted elsewhere)",
                Remedy.NONE,
            )
        )
    return wanted


def _day_after_now() -> dt.datetime:
    # A day past our clock, as the full pull's first dateTo: the server's may be ahead.
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def _compare_one(
    report: VerifyReport, record: Mapping[str, Any], row: LocalRow | None, *, deleted_here: bool
) -> bool:
    """Add the findings of one listed record; True when `--repair` should merge it."""
    mid = int(record["id"])
    remote_avail = record.get("availability")
    if row is None:
        if deleted_here or remote_avail == Availability.PURGED:
            return False  # deleted here on purpose / nothing left to keep
        detail = f"{record.get('type')} of {record.get('creationTime')} not in the archive"
        report.findings.append(Finding(Kind.MISSING_LOCALLY, mid, detail, Remedy.PULL))
        return True
    report.compared += 1
    if row.availability == Availability.PURGED:
        return False  # final here: nothing RingCentral says can change it
    drift = False
    fields = (
        ("availability", row.availability, row.base_availability, remote_avail),
        ("readStatus", row.read_status, row.base_read_status, record.get("readStatus")),
    )
    for name, local, base, remote in fields:
        if remote is None or local == remote:
            continue
        if local != base:
            detail = f"{name} {local} here (pending edit), {remote} on RingCentral"
            report.findings.append(Finding(Kind.PENDING, mid, detail, Remedy.PUSH))
            continue
        detail = f"{name} {local} here, {remote} on RingCentral"
        report.findings.append(Finding(Kind.DRIFT, mid, detail, Remedy.PULL))
        drift = True
    return drift


def _read_retention(engine: Engine, client: VerifyClient, report: VerifyReport) -> None:
    """Read the account's retentionPeriod for `status`'s warnings (one Light request).

    Only an admin may read it; for anyone else (403) or a server without it (404), the
    stored value says "unknown" and `status` uses the documented defaults. Never fatal:
    verify is about the messages.
    """
    report.requests += 1
    try:
        days = client.read_store_configuration().get("retentionPeriod")
    except AuthError:
        raise
    except ApiError:
        days = None
    if isinstance(days, bool) or not isinstance(days, int):
        days = None
    report.retention_period = days
    with engine.begin() as conn:
        set_state(
            conn, RETENTION_STATE, json.dumps({"retention_period": days, "read_at": iso_utc()})
        )


# --- files -------------------------------------------------------------------------------


def check_file(files: Path, row: FileRow) -> tuple[Kind | None, int]:
    """(what is wrong with this recorded file or None, bytes read)."""
    path = files / row.path
    try:
        size, digest = hash_file(path)
    except FileNotFoundError:
        return Kind.FILE_MISSING, 0
    except OSError:
        return Kind.FILE_CORRUPT, 0
    if row.size is not None and size != row.size:
        return Kind.FILE_CORRUPT, size
    if row.sha256 is not None and digest != row.sha256:
        return Kind.FILE_CORRUPT, size
    return None, size


def check_all_files(
    engine: Engine, config: Config, report: VerifyReport, progress: Progress
) -> None:
    """`--deep`: every recorded file re-hashed, then the attachments still to fetch."""
    check_recorded_files(engine, config, report, progress)
    find_not_downloaded(engine, config, report)


def check_recorded_files(
    engine: Engine, config: Config, report: VerifyReport, progress: Progress
) -> None:
    files = config.database.files_dir
    progress.start("hashing", count_files(engine))
    try:
        for row in read_files(engine):
            kind, size = check_file(files, row)
            report.files_checked += 1
            report.bytes_hashed += size
            if kind is not None:
                detail = f"{row.path}: " + (
                    "file is gone" if kind is Kind.FILE_MISSING else "size or sha256 differs"
                )
                report.findings.append(Finding(kind, row.message_id, detail, Remedy.REPAIR, row.id))
            progress.advance()
    finally:
        progress.finish()


def find_not_downloaded(engine: Engine, config: Config, report: VerifyReport) -> None:
    """Attachments the settings want that have no file yet (`rcsync pull` fetches them)."""
    held = not config.sync.download_text_parts
    for job in attachment_rows.read_jobs(engine, held_text=held):
        if skip_reason(job, config.sync) is None:
            report.findings.append(
                Finding(
                    Kind.NOT_DOWNLOADED,
                    job.message_id,
                    f"{job.type} not downloaded yet",
                    Remedy.PULL,
                    job.id,
                )
            )


# --- repair ------------------------------------------------------------------------------


def _repair(
    engine: Engine,
    files_client: ContentClient,
    config: Config,
    report: VerifyReport,
    listed: Mapping[int, Mapping[str, Any]],
    progress: Progress,
) -> None:
    if listed:
        policy = ConflictPolicy(config.sync.conflict_policy)
        records = list(listed.values())
        with engine.begin() as conn:
            for start in range(0, len(records), 1000):
                save_records(conn, records[start : start + 1000], policy=policy, now=iso_utc())
        for f in report.findings:
            if f.kind in (Kind.MISSING_LOCALLY, Kind.DRIFT) and f.message_id in listed:
                f.repaired = True
    damaged = [
        f
        for f in report.findings
        if f.kind in (Kind.FILE_MISSING, Kind.FILE_CORRUPT, Kind.NOT_DOWNLOADED)
    ]
    if not damaged and not listed:
        return
    attachment_rows.forget_files(
        engine,
        [
            (f.message_id, f.attachment_id)
            for f in damaged
            if f.attachment_id is not None and f.kind is not Kind.NOT_DOWNLOADED
        ],
    )
    counts = download_attachments(engine, files_client, config, progress=progress)
    report.requests += counts.requests
    _mark_fetched(engine, config, report, damaged)


def _mark_fetched(
    engine: Engine, config: Config, report: VerifyReport, damaged: list[Finding]
) -> None:
    """A damaged file counts as repaired once its new file hashes as recorded."""
    ids = sorted({f.message_id for f in damaged})
    good = (
        {
            (row.message_id, row.id)
            for row in read_files(engine, ids)
            if check_file(config.database.files_dir, row)[0] is None
        }
        if ids
        else set()
    )
    for f in damaged:
        f.repaired = (f.message_id, f.attachment_id) in good
