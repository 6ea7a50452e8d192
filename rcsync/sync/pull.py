"""The pull direction: mirror RingCentral's message store into the database.

A thin pipeline, fetch -> save (three-way merge inside) -> commit cursor, in two forms:

**Full pull** (the first one, ``--full``, an invalid sync token, a changed frame):

1. FSync with ``dateFrom = history_start`` and *no* ``recordCount``: a sync token T0 whose
   frame covers the whole history and whose sync time precedes everything below. The
   message-sync guide lets ``recordCount`` bound the sync frame itself, so a token taken
   with a record count could miss later changes to older messages; without one the frame is
   the dates under either reading. Its one answer holds every Alive record of the frame:
   it is read while it arrives (`MessageStoreClient.stream_full_sync`) and saved 1,000
   records a transaction, by the same three-way save as everything else, so memory stays
   flat. A crash meanwhile restarts this step (``sync_state[FIRST_PULL]`` says an FSync was
   under way; the records already saved are saved again, harmlessly). T0 then goes into
   FIRST_PULL (progress), not yet as the sync token. Before it, one listing request of a
   single record gives the progress bar its total (``paging.totalElements``).
2. List what the FSync cannot give, newest first, with *keyset paging by date*
   (`rcsync.rules.listing`): the Deleted and Purged messages (whether FSync returns Deleted
   records is not documented: either way the trash is listed; records the FSync already
   saved are not saved twice). If the FSync said ``olderRecordsExist`` (a server cap), its
   Alive part ends at its oldest record: below that instant every availability is listed,
   and the ISync of step 3 widens T0's frame with ``dateFrom = history_start``, as the docs
   allow. Every request is ``page=1`` with ``dateTo`` = the oldest creationTime stored so
   far + 1 ms (page numbers would shift when messages are purged during the listing). Ids
   at the boundary instant are remembered, so the overlap is dropped. If a whole page shares
   one instant (more than 1000 messages created in the same millisecond), pages 2, 3, ...
   of that instant follow. Each page is committed together with the progress, so an
   interrupted pull resumes at the page it stopped at. The next page is fetched while one
   is written.
3. ISync with T0 catches what arrived or changed since the FSync; its records, the new
   token (SYNC_TOKEN), the frame (SYNC_FRAME) and the end of FIRST_PULL commit together.

**Incremental pull**: ISync with SYNC_TOKEN; records and the new token commit together.

An ISync answer with ``olderRecordsExist`` is partial: ISync is repeated with the token it
returned until an answer is complete (as RingCentral's own client does). Each part's records
are committed as they come, but the cursor moves only with the last part, so a pull that
stops half way never stores a token past changes it has not merged.

An invalid token (400 ``MSG-333``, or 400 ``CMN-101`` naming ``syncToken``) means a full
pull that keeps every local edit; ``--full`` drops an unfinished listing and starts over.

Deleted/purged messages arrive from ISync as id + availability; trashed ones are re-read
(50 per request) so their read status and metadata are exact; purged ones only change
availability. Nothing is ever deleted locally because the server stopped listing it.
Attachments are a phase of their own (`pull_attachments`, `rcsync.sync.attachments`): after
the messages in a plain pull, after the push in `sync` and `watch`, and edits go first
between downloads (`rcsync.sync.edits_first`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rcsync.config import Config
from rcsync.errors import ApiError, SyncTokenInvalid
from rcsync.progress import NullProgress, Progress, plural
from rcsync.rules import records as rec
from rcsync.rules.listing import ALL, Listing, after_fsync
from rcsync.store.database import translate_errors
from rcsync.store.extensions import HOME_KEYS, StateKeys
from rcsync.store.messages import (
    SaveCounts,
    defer_message_indexes,
    ensure_message_indexes,
    save_records,
)
from rcsync.store.state import get_state, set_state
from rcsync.sync.apply import settle_journal
from rcsync.sync.attachments import AttachmentCounts, ContentClient, download_attachments
from rcsync.sync.edits_first import EditsFirst
from rcsync.sync.listing import PER_PAGE, ListClient, Page, total_elements, walk_listing
from rcsync.sync.prefetch import Prefetch, short_gil_slices
from rcsync.types import Availability, ConflictPolicy, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

BATCH = 1000
GET_BATCH = 50
# A full pull restarts when T0 itself is invalidated meanwhile; a bounded number of times.
MAX_FULL_ATTEMPTS = 3
# A listing of more than a page is long enough to be told what comes and how to stop.
FULL_PULL_NOTE_AFTER = PER_PAGE
FULL_PULL_NOTE = "full pull: {total:,} messages, then attachments; Ctrl-C is safe (pull resumes)"
# Partial ISync answers followed before giving up (the token then stays where it was).
MAX_ISYNC_PARTS = 1000


class PullClient(ContentClient, ListClient, Protocol):
    """What the pull needs of `rcsync.api.MessageStoreClient` (the listing: `ListClient`)."""

    def stream_full_sync(
        self, *, date_from: str, message_types: Sequence[str], batch: int = 1000
    ) -> AbstractContextManager[Any]: ...

    def incremental_sync(self, sync_token: str, *, date_from: str | None = None) -> Any: ...

    def get_messages(self, ids: Sequence[int]) -> Mapping[int, Any]: ...


@dataclass
class PullSummary:
    """What one pull did (the CLI prints it; `sync`, `watch` and the demo use it)."""

    new: int = 0
    updated: int = 0
    remote_deleted: int = 0
    purged: int = 0
    conflicts: int = 0
    tombstoned: int = 0  # remote records ignored because the user deleted the row locally
    attachments_downloaded: int = 0
    attachment_bytes: int = 0
    attachments_skipped: int = 0
    attachments_failed: int = 0
    attachments_left: int = 0  # not looked at: the phase let edits or a pull go first
    attachments_from_export: int = 0  # of attachments_downloaded (`rcsync.sync.bootstrap`)
    requests: int = 0  # API calls made for messages and attachments (token requests aside)
    seconds: float = 0.0
    full: bool = False
    attachments_only: bool = False  # `pull --attachments-only`, or a phase of sync/watch

    @property
    def messages(self) -> int:
        return self.new + self.updated

    def describe(self) -> str:
        """One line without the time, e.g. ``pulled 12,345 messages (12,000 new, 345
        updated), 2,100 attachments (35.2 MB)``."""
        files = plural(self.attachments_downloaded, "attachment")
        files += f" ({format_bytes(self.attachment_bytes)})"
        if self.attachments_from_export:
            files += f" ({self.attachments_from_export:,} from the message-store export)"
        if self.attachments_only:
            line = f"pulled {files}"
        else:
            kind = "full pull: " if self.full else ""
            line = (
                f"{kind}pulled {plural(self.messages, 'message')} ({self.new:,} new, "
                f"{self.updated:,} updated)"
            )
            if self.remote_deleted or self.purged:
                line += f", {self.remote_deleted:,} trashed and {self.purged:,} purged remotely"
            line += f", {files}"
        if self.attachments_left:
            line += f", {plural(self.attachments_left, 'attachment')} left for later"
        if self.attachments_failed:
            failed = plural(self.attachments_failed, "attachment")
            line += f", {failed} failed (retried next pull)"
        if self.conflicts:
            line += f", {plural(self.conflicts, 'conflict')} (see `rcsync conflicts`)"
        return line

    def add(self, counts: SaveCounts) -> None:
        self.new += counts.new
        self.updated += counts.updated
        self.remote_deleted += counts.remote_deleted
        self.purged += counts.purged
        self.conflicts += counts.conflicts
        self.tombstoned += counts.tombstoned

    def add_attachments(self, counts: AttachmentCounts) -> None:
        self.attachments_downloaded += counts.downloaded
        self.attachment_bytes += counts.bytes
        self.attachments_skipped += counts.skipped
        self.attachments_failed += counts.failed
        self.attachments_left = counts.left
        self.attachments_from_export += counts.from_export
        self.requests += counts.requests

    def add_attachments_of(self, other: PullSummary) -> None:
        """The attachment phase `other` belongs to the same pull as these messages."""
        self.attachments_downloaded += other.attachments_downloaded
        self.attachment_bytes += other.attachment_bytes
        self.attachments_skipped += other.attachments_skipped
        self.attachments_failed += other.attachments_failed
        self.attachments_left = other.attachments_left
        self.attachments_from_export += other.attachments_from_export
        self.requests += other.requests
        self.seconds += other.seconds


def format_bytes(n: int) -> str:
    """``35.2 MB`` (decimal units, as file managers show)."""
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def frame_of(config: Config) -> dict[str, Any]:
    """What a sync token covers; a change means a full resync."""
    return {
        "history_start": config.sync.history_start.isoformat(),
        "message_types": sorted(config.sync.message_types),
    }


@dataclass
class _Run:
    engine: Engine
    client: PullClient
    config: Config
    progress: Progress
    summary: PullSummary = field(default_factory=PullSummary)
    # Whose cursor: an account archive pulls each extension with its own keys.
    keys: StateKeys = HOME_KEYS
    # Ids this run's FSync saved that the listing may list again (non-Alive ones, and those
    # at a capped FSync's oldest instant): not saved twice, so the bar counts each once.
    fsync_saved: set[int] = field(default_factory=set)
    counted: bool = False  # the bar has the whole pull's total (counted before the FSync)
    # The message table's secondary indexes were dropped for this first pull (they are
    # re-created with the token, or at once if the pull stops early).
    indexes_deferred: bool = False

    @property
    def policy(self) -> ConflictPolicy:
        return ConflictPolicy(self.config.sync.conflict_policy)

    def save(
        self,
        conn: Connection,
        records: Sequence[Mapping[str, Any]],
        prepared: Mapping[int, rec.Prepared] | None = None,
    ) -> None:
        for start in range(0, len(records), BATCH):
            chunk = records[start : start + BATCH]
            counts = save_records(conn, chunk, policy=self.policy, now=iso_utc(), prepared=prepared)
            self.summary.add(counts)
            # The listing's total counts records that are not stored (first heard of as
            # purged, deleted here): the bar ends at what the database holds.
            skipped = counts.dropped + counts.tombstoned
            self.progress.discount(skipped)
            self.progress.advance(len(chunk) - skipped)


def pull(
    engine: Engine,
    client: PullClient,
    config: Config,
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> PullSummary:
    """Bring the database up to date with RingCentral: the messages, then (unless
    ``[sync] download_attachments`` is off) the attachments; see the module docstring."""
    summary = pull_messages(engine, client, config, full=full, progress=progress)
    if config.sync.download_attachments:
        files = pull_attachments(engine, client, config, progress=progress)
        summary.add_attachments_of(files)
    return summary


def pull_messages(
    engine: Engine,
    client: PullClient,
    config: Config,
    keys: StateKeys = HOME_KEYS,
    *,
    full: bool = False,
    progress: Progress | None = None,
    settle: bool = True,
) -> PullSummary:
    """The messages only (the ISync, or the full procedure): what a push plans against.

    `keys` are whose cursor (an account pull runs this per extension, `rcsync.sync.account`,
    having settled the journal once for the account itself: ``settle=False``)."""
    started = time.monotonic()
    run = _Run(engine, client, config, progress or NullProgress(), keys=keys)
    with translate_errors(engine):
        if settle:
            settle_journal(engine, client)  # an interrupted push's writes, before any merge
        try:
            _pull_messages(run, full=full)
        finally:
            _restore_indexes(run)
    run.summary.seconds = time.monotonic() - started
    return run.summary


def pull_attachments(
    engine: Engine,
    client: PullClient,
    config: Config,
    *,
    progress: Progress | None = None,
    gate: EditsFirst | None = None,
) -> PullSummary:
    """The attachment phase alone (`rcsync.sync.attachments`), edits first (`gate`).

    The message a content 404 makes it read goes to that message's own extension path
    (`RoutingClient`): on the login's own path another user's live message is "not
    found", which would mark its file purged remotely."""
    from rcsync.api.client import MessageStoreClient
    from rcsync.sync.account import RoutingClient  # it imports this module

    started = time.monotonic()
    summary = PullSummary(attachments_only=True)
    with translate_errors(engine):
        # A test double or a single-extension client of another kind goes as it is.
        routed = RoutingClient(engine, client) if isinstance(client, MessageStoreClient) else client
        counts = download_attachments(
            engine, routed, config, progress=progress or NullProgress(), gate=gate
        )
    summary.add_attachments(counts)
    summary.seconds = time.monotonic() - started
    return summary


def _restore_indexes(run: _Run) -> None:
    # A pull that stopped early (an error, Ctrl-C) leaves no query without its indexes;
    # after a finished one this finds them there (re-created with the token).
    if run.indexes_deferred:
        with run.engine.begin() as conn:
            ensure_message_indexes(conn)
        run.indexes_deferred = False


def _pull_messages(run: _Run, *, full: bool) -> None:
    frame = frame_of(run.config)
    keys = run.keys
    with run.engine.connect() as conn:
        token = get_state(conn, keys.sync_token)
        stored_frame = get_state(conn, keys.sync_frame)
        pending = get_state(conn, keys.first_pull)
    listing = Listing.from_json(pending) if pending else None
    if listing is not None and (full or listing.frame != frame):
        # An unfinished pull of another frame, or --full (its T0 may be the token that is
        # rejected): start over.
        listing = None
    run.progress.start("messages")
    try:
        if listing is None and not full and token and stored_frame == json.dumps(frame):
            try:
                _incremental(run, token)
                return
            except SyncTokenInvalid:
                run.progress.note("sync token no longer valid: doing a full resync")
        _full(run, frame, listing)
    finally:
        run.progress.finish()


def _incremental(run: _Run, token: str) -> None:
    _isync(run, token, None)


def _isync(
    run: _Run, token: str, frame: dict[str, Any] | None, *, date_from: str | None = None
) -> None:
    """ISync from `token` until an answer is complete; the cursor moves with the last part.

    `frame` is set when this ends a full pull (the frame and the end of FIRST_PULL commit
    with the token); `date_from` widens the token's frame (first request only).
    """
    for _part in range(MAX_ISYNC_PARTS):
        result = run.client.incremental_sync(token, date_from=date_from)
        run.summary.requests += 1
        date_from = None  # the returned token carries the widened frame
        records = _expand_stubs(run, result.records)
        with run.engine.begin() as conn:
            run.save(conn, records)
            if not result.older_records_exist:
                _commit_token(conn, run.keys, result.sync_token, frame)
                return
        token = result.sync_token
    raise ApiError(
        f"message-sync answered {MAX_ISYNC_PARTS} partial ISyncs in a row (olderRecordsExist);"
        " the sync token was not moved, try again later"
    )


def _full(run: _Run, frame: dict[str, Any], listing: Listing | None) -> None:
    run.summary.full = True
    for _attempt in range(MAX_FULL_ATTEMPTS):
        if listing is None or not listing.fsynced:
            listing = _begin(run, frame)
        listing = _list_all(run, listing)
        try:
            _finish(run, listing)
            return
        except SyncTokenInvalid:
            # T0 was invalidated during the listing: what changed since is unknown; relist.
            run.progress.note("sync token invalidated during the full pull: listing again")
            listing = None
    raise SyncTokenInvalid(
        "message-sync keeps rejecting fresh sync tokens (MSG-333/CMN-101); try again later",
        code="MSG-333",
    )


def _begin(run: _Run, frame: dict[str, Any]) -> Listing:
    """Step 1: count, then the streamed FSync; returns the listing that completes it."""
    with run.engine.begin() as conn:
        # From here until T0 is stored, an interrupted pull restarts with the FSync (not
        # with an incremental pull from an older token, nor a listing without a token).
        set_state(conn, run.keys.first_pull, Listing.before_fsync(frame).to_json())
        # An empty table: its secondary indexes are built once at the end, not per row
        # (`rcsync.store.messages`, "Secondary indexes deferred").
        run.indexes_deferred = defer_message_indexes(conn) or run.indexes_deferred
    _count(run)
    result, oldest = _stream_fsync(run)
    # The listing's first dateTo: a day past the server's own clock (ours may be off).
    server_now = rec.parse_time(result.sync_time) if result.sync_time else dt.datetime.now(dt.UTC)
    listing = after_fsync(
        frame,
        result.sync_token,
        iso_utc(server_now + dt.timedelta(days=1)),
        capped=bool(result.older_records_exist),
        oldest=oldest,
    )
    with run.engine.begin() as conn:
        set_state(conn, run.keys.first_pull, listing.to_json())
    return listing


def _count(run: _Run) -> None:
    """The progress bar's total: every message of the frame, from one listing of one record."""
    page = run.client.list_messages(
        date_from=rec.day_start(run.config.sync.history_start),
        date_to=iso_utc(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)),
        message_types=run.config.sync.message_types,
        availability=ALL,
        page=1,
        per_page=1,
    )
    run.summary.requests += 1
    _start_bar(run, total_elements(page.paging))
    run.counted = True


def _start_bar(run: _Run, total: int | None) -> None:
    if total is None:
        return
    if total > FULL_PULL_NOTE_AFTER:  # before the bar, which it would split
        run.progress.hint(FULL_PULL_NOTE.format(total=total))
    run.progress.start("messages", total)


def _stream_fsync(run: _Run) -> tuple[Any, str | None]:
    """The FSync of the whole history, saved a batch per transaction as it arrives.

    Returns its result (the token; no records) and the oldest creationTime it returned.
    No recordCount: it may bound the token's frame (see the module docstring).
    """
    seen = _Oldest()
    with (
        short_gil_slices(),
        run.client.stream_full_sync(
            date_from=rec.day_start(run.config.sync.history_start),
            message_types=run.config.sync.message_types,
            batch=BATCH,
        ) as stream,
    ):
        run.summary.requests += 1
        batches = iter(stream.batches_with_text())

        def receive() -> tuple[list[Any], dict[int, rec.Prepared]] | None:
            pairs = next(batches, None)
            if pairs is None:
                return None
            batch = [record for record, _text in pairs]
            # raw is each record's text as received, not the parsed dict dumped again.
            return batch, rec.prepare(batch, [text for _record, text in pairs])

        # The next batch is received, parsed and mapped to rows on a helper thread while
        # this one is written (as the listing's next page is): the socket and that Python
        # work overlap with SQLite's, which runs without the GIL.
        pending = Prefetch(receive)
        try:
            while (got := pending.result()) is not None:
                batch, prepared = got
                records = _expand_stubs(run, batch)  # before the next read: one request at a time
                pending = Prefetch(receive)
                with run.engine.begin() as conn:
                    # `prepared` maps the batch's full records; the stubs that
                    # _expand_stubs replaced are not in it and get mapped by the save.
                    run.save(conn, records, prepared)
                seen.add(records)
                run.fsync_saved.update(
                    int(r["id"]) for r in records if r.get("availability") != Availability.ALIVE
                )
        except Exception:
            pending.settle()  # the stream is idle again before it is closed
            raise
        result = stream.result
    if result.older_records_exist:
        # A capped FSync's oldest instant is listed again, by the listing's second pass.
        run.fsync_saved.update(seen.ids)
    return result, seen.time


@dataclass
class _Oldest:
    """The oldest creationTime among records seen so far, and the ids created then."""

    time: str | None = None
    ids: set[int] = field(default_factory=set)

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        for record in records:
            when = record.get("creationTime")
            if not isinstance(when, str):
                continue  # no use as a bound (the listing's own pages are checked)
            if self.time is None or when < self.time:
                if not _valid_time(when):
                    continue
                self.time, self.ids = when, set()
            if when == self.time:
                self.ids.add(int(record["id"]))


def _valid_time(text: str) -> bool:
    try:
        rec.parse_time(text)
    except (TypeError, ValueError):
        return False
    return True


def _list_all(run: _Run, listing: Listing) -> Listing:
    """The keyset listing from where `listing` stands (`rcsync.sync.listing`); each page
    commits with its progress. Records the FSync already saved are not saved twice."""
    first = True

    def save_page(page: Page) -> None:
        nonlocal first
        run.summary.requests += 1
        if first and not run.counted:  # a resumed listing: the bar counts what is left
            _start_bar(run, page.total)
        first = False
        with run.engine.begin() as conn:
            run.save(conn, page.records)
            set_state(conn, run.keys.first_pull, page.listing.to_json())

    return walk_listing(
        run.client,
        listing,
        date_from=rec.day_start(run.config.sync.history_start),
        message_types=run.config.sync.message_types,
        on_page=save_page,
        skip=run.fsync_saved,
    )


def _finish(run: _Run, listing: Listing) -> None:
    widen = rec.day_start(run.config.sync.history_start) if listing.widen else None
    _isync(run, listing.token, listing.frame, date_from=widen)


def _commit_token(
    conn: Connection, keys: StateKeys, token: str, frame: dict[str, Any] | None
) -> None:
    set_state(conn, keys.sync_token, token)
    if frame is not None:
        set_state(conn, keys.sync_frame, json.dumps(frame))
        set_state(conn, keys.first_pull, None)
        # The end of a full pull: any index it deferred exists again with the token.
        ensure_message_indexes(conn)
    set_state(conn, keys.last_pull_at, iso_utc())


def _expand_stubs(run: _Run, records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Replace ISync's id + availability stubs of trashed messages by the full records.

    A trashed message still exists with its metadata, and its read status may have changed
    too: RingCentral reports *any* change to a trashed message as the same stub, so every
    Deleted stub is re-read (one bulk GET per 50 ids), even for a message already known as
    trashed. ISync's 5-second overlap repeats recent stubs, so a pull soon after trash
    activity pays one more read; skipping those would lose a read-status change made on
    another device to a trashed message. Purged messages have nothing more to tell, and a
    message purged meanwhile keeps its stub.
    """
    wanted = [
        int(r["id"])
        for r in records
        if rec.is_stub(r) and r.get("availability") == Availability.DELETED
    ]
    if not wanted:
        return list(records)
    full: dict[int, Mapping[str, Any]] = {}
    for start in range(0, len(wanted), GET_BATCH):
        chunk = wanted[start : start + GET_BATCH]
        results = run.client.get_messages(chunk)
        run.summary.requests += 1
        for message_id, item in results.items():
            if item.ok and isinstance(item.record, dict) and not rec.is_stub(item.record):
                # A single-id GET adds vmSideRecipients, which listings never carry: drop it
                # so raw has one shape whichever way the record came.
                full[message_id] = {k: v for k, v in item.record.items() if k != "vmSideRecipients"}
    return [full.get(int(r["id"]), r) if rec.is_stub(r) else r for r in records]
