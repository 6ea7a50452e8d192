"""`rcsync prune`: free RingCentral of old messages the archive provably holds.

A message is pruned (trashed on RingCentral, or purged with ``purge``) only when, in this
run:

* it is older than the cut-off and of the types asked for, and RingCentral still holds it
  (Alive; Alive or Deleted for a purge);
* nothing about it is unsettled: no pending local edit, no recorded conflict;
* its row is complete (the whole record in ``raw``) and every attachment has a file whose
  size and sha256 were just re-computed and match what was recorded (a Text part held back
  by ``[sync] download_text_parts`` counts: its text is the row's subject).

Then it goes the way of any push, so the same safety holds: the wanted availability is
written as a local edit (the outbox, in one transaction), and `rcsync.sync.push` plans
those edits (`rules.plan`), applies the delete guard (``force`` past it), reads the
current remote state of every trash candidate before any DELETE, and sends them through
the in-flight journal (`sync.apply`). A prune killed mid-way leaves its edits pending and
its unanswered writes in the journal: the next push or pull settles them by reading the
messages back, and a trash is never sent twice (a second DELETE would purge). The archive
keeps every row and every file; each pruned row shows RingCentral's new availability.

``dry_run`` hashes and plans the same way, writes nothing and sends no write.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rcsync.config import Config
from rcsync.errors import GuardError
from rcsync.progress import NullProgress, Progress, plural
from rcsync.rules.actions import PendingMessage
from rcsync.rules.merge import FieldState
from rcsync.rules.plan import plan_push
from rcsync.store.attachments import TEXT_PART_REASON
from rcsync.store.database import translate_errors
from rcsync.store.trust import PruneRow, read_files, read_prune_rows, stage_availability
from rcsync.sync.apply import PushClient, settle_journal
from rcsync.sync.push import PushSummary, guard_message, push
from rcsync.sync.verify import check_file
from rcsync.types import Availability, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class Skip(StrEnum):
    """Why an old message was not pruned."""

    PENDING = "pending edit"
    CONFLICT = "conflict recorded"
    INCOMPLETE = "not fully archived"
    FILE_BAD = "a file failed its hash check"


@dataclass
class PruneSummary:
    dry_run: bool = False
    purge: bool = False
    before: str = ""  # the cut-off (creation time, UTC)
    candidates: int = 0  # old enough, of the types, still held by RingCentral
    eligible: int = 0  # of those, verified and settled: staged for pruning
    skipped: dict[str, int] = field(default_factory=dict)
    bad_files: list[int] = field(default_factory=list)  # message ids (first 50)
    files_verified: int = 0
    bytes_hashed: int = 0
    seconds: float = 0.0
    push: PushSummary = field(default_factory=PushSummary)

    def line(self) -> str:
        verb = "purge" if self.purge else "trash"
        skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(self.skipped.items()))
        kept = f"; not pruned: {skipped}" if skipped else ""
        files = f"{plural(self.files_verified, 'file')} verified"
        if self.dry_run:
            return (
                f"dry run: would {verb} {plural(self.eligible, 'message')} of "
                f"{self.candidates:,} older than {self.before[:10]} ({files}){kept};"
                " nothing was changed"
            )
        done = self.push.pushed
        return (
            f"pruned {plural(done, 'message')} ({verb}) of {self.candidates:,} older than "
            f"{self.before[:10]} in {plural(self.push.requests, 'request')} ({files}); "
            f"{self.push.failed:,} failed{kept}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune(
    engine: Engine,
    client: PushClient,
    config: Config,
    *,
    older_than_days: int,
    types: Sequence[str] = (),
    purge: bool = False,
    dry_run: bool = False,
    force: bool = False,
    extension_id: str | None = None,
    progress: Progress | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> PruneSummary:
    """Trash (or purge) on RingCentral the old messages this archive provably holds.

    Raises GuardError (before anything is written) when more than `[sync] delete_guard`
    would go without `force`.
    """
    started = time.monotonic()
    progress = progress or NullProgress()
    before = iso_utc(now() - dt.timedelta(days=older_than_days))
    summary = PruneSummary(dry_run=dry_run, purge=purge, before=before)
    target = Availability.PURGED if purge else Availability.DELETED
    with translate_errors(engine):
        if not dry_run:
            settle_journal(engine, client)  # an interrupted prune's writes, first
        rows = _candidates(engine, config, before, types, purge, extension_id)
        summary.candidates = len(rows)
        eligible = _eligible(engine, config, rows, summary, progress)
        summary.eligible = len(eligible)
        staged = [_staged(r, target) for r in eligible]
        _guard(staged, config, force=force or dry_run)
        if dry_run:
            summary.push = push(
                engine, client, config, dry_run=True, force=True, staged=staged, progress=progress
            )
        elif staged:
            with engine.begin() as conn:
                ids = stage_availability(conn, [r.id for r in eligible], target)
            summary.push = push(
                engine, client, config, force=force, only=frozenset(ids), progress=progress
            )
    summary.seconds = time.monotonic() - started
    return summary


def _candidates(
    engine: Engine,
    config: Config,
    before: str,
    types: Sequence[str],
    purge: bool,
    extension_id: str | None,
) -> list[PruneRow]:
    held = (Availability.ALIVE, Availability.DELETED) if purge else (Availability.ALIVE,)
    with engine.connect() as conn:
        return read_prune_rows(
            conn,
            before=before,
            types=list(types or config.sync.message_types),
            availability=held,
            extension_id=extension_id,
            text_part_reason=TEXT_PART_REASON,
        )


def _eligible(
    engine: Engine,
    config: Config,
    rows: list[PruneRow],
    summary: PruneSummary,
    progress: Progress,
) -> list[PruneRow]:
    """The rows that may go, every file of theirs hashed now; the others counted by why."""
    settled: list[PruneRow] = []
    for r in rows:
        why = (
            Skip.PENDING
            if r.pending
            else Skip.CONFLICT
            if r.conflicted
            else Skip.INCOMPLETE
            if not r.complete
            else None
        )
        if why is None:
            settled.append(r)
        else:
            summary.skipped[why.value] = summary.skipped.get(why.value, 0) + 1
    bad = _hash_files(engine, config, [r.id for r in settled], summary, progress)
    if bad:
        summary.skipped[Skip.FILE_BAD.value] = len(bad)
        summary.bad_files = sorted(bad)[:50]
    return [r for r in settled if r.id not in bad]


def _hash_files(
    engine: Engine,
    config: Config,
    ids: list[int],
    summary: PruneSummary,
    progress: Progress,
) -> set[int]:
    bad: set[int] = set()
    if not ids:
        return bad
    progress.start("hashing")
    try:
        for row in read_files(engine, ids):
            kind, size = check_file(config.database.files_dir, row)
            summary.files_verified += 1
            summary.bytes_hashed += size
            if kind is not None:
                bad.add(row.message_id)
            progress.advance()
    finally:
        progress.finish()
    return bad


def _staged(r: PruneRow, target: Availability) -> PendingMessage:
    """The edit prune will write for `r`, as the planner sees pending edits."""
    read = FieldState(*r.read, None, r.last_modified_time)
    _local, base, remote = r.availability
    # Prune asks for nothing the merge could call a conflict: local moves, base stays.
    availability = FieldState(target, base, remote, None, r.last_modified_time)
    return PendingMessage(r.id, read, availability)


def _guard(staged: list[PendingMessage], config: Config, *, force: bool) -> None:
    """The push's delete guard, checked before prune writes its edits."""
    refusal = guard_message(plan_push(staged), config.sync.delete_guard)
    if refusal and not force:
        raise GuardError(refusal.replace("rerun with --force", "rerun prune with --force"))
