"""Push: local edits → RingCentral, as a thin pipeline (habit 1 of STYLE.md):

    load pending (O(pending): local_edit ⋈ message by primary key, unpushed tombstones)
    → plan (pure, `plan.plan_push`) → guard (refuse mass deletes without --force)
    → verify (bulk GET of every trash candidate; re-plan with what RingCentral says now)
    → apply (`apply.apply_plan`) → LAST_PUSH_AT

A previous run that died with writes in flight (see apply.py's journal) is settled first.
Nothing pending means no request at all. A stop request (`stop`, from `rcsync watch`) ends
the push between write batches, never inside one; what was not sent stays pending. Dry-run
runs the same steps up to and including the verification reads, then reports the plan
instead of applying it: no database write, no API write.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rcsync.api.results import ItemResult
from rcsync.config import Config
from rcsync.errors import AuthError, GuardError, RcsyncError
from rcsync.progress import NullProgress, Progress, plural
from rcsync.rules.actions import PendingMessage, PendingTombstone, Plan, RemoteState
from rcsync.rules.plan import plan_push, trash_candidates
from rcsync.store.extensions import of_gone_extensions
from rcsync.store.pending import load_pending
from rcsync.store.state import LAST_PUSH_AT, set_state
from rcsync.sync.apply import ApplyResult, PushClient, apply_plan, read_current, settle_journal
from rcsync.types import PATH_BATCH, Availability, ConflictPolicy, RowDelete, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass
class PushSummary:
    dry_run: bool = False
    pending: int = 0  # messages + deleted rows with a pending edit when we started
    planned: int = 0  # remote writes + local fixes planned (what "N edits" counts)
    pushed: int = 0  # remote writes RingCentral confirmed
    settled: int = 0  # settled without a write (already agreed, remote taken, rejected)
    failed: int = 0
    deferred: int = 0
    conflicts: int = 0
    requests: int = 0  # API requests sent: verification reads + writes
    trash: int = 0  # planned
    purge: int = 0  # planned
    plan: list[str] = field(default_factory=list)  # the request groups, as dry-run prints
    errors: list[str] = field(default_factory=list)
    guard: str | None = None  # dry-run only: the refusal a real push would give
    verified: str | None = None  # the reads made to check trash candidates first
    stopped: bool = False  # a stop request ended the push between batches
    left: int = 0  # edits not sent because of it (still pending)
    # Messages whose extension is gone from RingCentral (an account archive's deleted
    # user): no path takes their edits any more, so they stay pending, neither sent nor
    # failed.
    held: int = 0

    def line(self, *, conflicts: int | None = None) -> str:
        """The one-line result; `conflicts` overrides the count (sync adds its pulls')."""
        found = plural(self.conflicts if conflicts is None else conflicts, "conflict")
        if self.dry_run:
            # The same unit as a real push's "pushed N edits": one per planned write or
            # local fix, so a message with two edited fields counts twice in both.
            return (
                f"dry run: would push {plural(self.planned, 'edit')} in "
                f"{plural(self.requests, 'request')}; {found}; nothing was changed"
            )
        edits = self.pushed + self.settled
        left = plural(self.left, "edit")
        stopped = f"; stopped early; {left} left pending" if self.stopped else ""
        held = (
            f"; {plural(self.held, 'message')} of extensions gone from RingCentral kept pending"
            if self.held
            else ""
        )
        return (
            f"pushed {plural(edits, 'edit')} in {plural(self.requests, 'request')}; "
            f"{self.failed:,} failed; {found}{stopped}{held}"
        )

    def describe(self) -> str:
        return self.line()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- guard --------------------------------------------------------------------------------


def guard_message(plan: Plan, limit: int) -> str | None:
    """Why a push of `plan` needs --force, or None."""
    trash, purge = plan.trash_count, plan.purge_count
    if trash + purge <= limit:
        return None
    return (
        f"refusing to trash {trash:,} and purge {purge:,} messages (more than "
        f"delete_guard = {limit:,}); rerun with --force if you meant it"
    )


# --- verification reads -------------------------------------------------------------------


def remote_state(result: ItemResult) -> RemoteState | None:
    """What a bulk GET answer says of one message; None if it says nothing usable."""
    if result.ok and result.record is not None:
        rec = result.record
        return RemoteState(
            rec.get("readStatus"), rec.get("availability"), rec.get("lastModifiedTime")
        )
    if result.gone:  # RingCentral says this message is not found: it was purged
        return RemoteState(None, Availability.PURGED, None)
    return None  # e.g. a 404 for the whole request: nothing known, the trash waits


def fetch_remote_state(
    client: PushClient, ids: Sequence[int]
) -> tuple[dict[int, RemoteState], frozenset[int], int]:
    """Current remote state of `ids` (50 per request): (states, verified ids, requests).

    An id the bulk answer says nothing conclusive about is read on its own (`read_current`);
    one whose state still could not be read is not verified: its trash waits (a failure).
    """
    states: dict[int, RemoteState] = {}
    requests = 0
    for start in range(0, len(ids), PATH_BATCH):
        chunk = list(ids[start : start + PATH_BATCH])
        try:
            answers, reads = read_current(client, chunk)
        except AuthError:
            raise
        except RcsyncError:
            requests += 1
            continue
        requests += reads
        for mid in chunk:
            state = remote_state(answers[mid]) if mid in answers else None
            if state is not None:
                states[mid] = state
    return states, frozenset(states), requests


# --- the pipeline -------------------------------------------------------------------------


def push(
    engine: Engine,
    client: PushClient,
    config: Config,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    only: frozenset[int] | None = None,
    staged: list[PendingMessage] | None = None,
    extension: str | None = None,
) -> PushSummary:
    """Send pending local edits (of one extension id, when given). Raises GuardError for a
    mass delete without `force`.

    Once `stop` is set no further write batch is sent (see `apply.apply_plan`). `only`
    limits the push to those messages' edits (the rest stay pending: `prune` sends its own
    edits only); `staged` plans edits not written to the database (a prune's dry run).
    """
    progress = progress or NullProgress()
    if not dry_run:
        settle_journal(engine, client)  # a previous run's unanswered writes, first
    policy = ConflictPolicy(config.sync.conflict_policy)
    row_delete = config.sync.row_delete
    with engine.connect() as conn:
        if staged is None:
            messages, tombstones = load_pending(conn, extension=extension)
        else:
            messages, tombstones = staged, []
    if only is not None:
        messages = [m for m in messages if m.message_id in only]
        tombstones = [t for t in tombstones if t.message_id in only]
    with engine.connect() as conn:
        held = of_gone_extensions(
            conn, [m.message_id for m in messages] + [t.message_id for t in tombstones]
        )
    if held:
        messages = [m for m in messages if m.message_id not in held]
        tombstones = [t for t in tombstones if t.message_id not in held]
    summary = PushSummary(dry_run=dry_run, pending=len(messages) + len(tombstones))
    summary.held = len(held)
    if summary.pending:
        plan = _plan(
            client,
            messages,
            tombstones,
            policy,
            row_delete,
            config.sync.delete_guard,
            force=force or dry_run,
            summary=summary,
        )
        _describe(plan, summary)
        if not dry_run:
            result = apply_plan(engine, client, plan, policy=policy, progress=progress, stop=stop)
            _account(result, summary)
    if not dry_run:
        with engine.begin() as conn:
            set_state(conn, LAST_PUSH_AT, iso_utc())
    return summary


def _plan(
    client: PushClient,
    messages: list[PendingMessage],
    tombstones: list[PendingTombstone],
    policy: ConflictPolicy,
    row_delete: RowDelete,
    limit: int,
    *,
    force: bool,
    summary: PushSummary,
) -> Plan:
    """Plan from the stored state, guard, verify trash candidates, plan again."""
    first = plan_push(messages, tombstones, policy=policy, row_delete=row_delete)
    refusal = guard_message(first, limit)
    if refusal and not force:
        raise GuardError(refusal)
    summary.guard = refusal if summary.dry_run else None
    candidates = trash_candidates(first)
    if not candidates:
        return first
    fresh, verified, reads = fetch_remote_state(client, candidates)
    summary.requests += reads
    summary.verified = (
        f"GET message-store/{{ids}} to check before trashing  ({reads:,} "
        f"request{'s' * (reads != 1)}, {len(candidates):,} messages)"
    )
    return plan_push(
        messages, tombstones, policy=policy, row_delete=row_delete, fresh=fresh, verified=verified
    )


def _describe(plan: Plan, summary: PushSummary) -> None:
    summary.plan = [
        *([summary.verified] if summary.verified else []),
        *(g.describe() for g in plan.groups()),
    ]
    summary.trash, summary.purge = plan.trash_count, plan.purge_count
    summary.planned = len(plan.actions) + len(plan.fixes)
    summary.conflicts = len(plan.conflicts)
    summary.deferred = len(plan.deferred)
    if summary.dry_run:
        summary.requests += plan.request_count


def _account(result: ApplyResult, summary: PushSummary) -> None:
    summary.pushed, summary.failed, summary.settled = result.pushed, result.failed, result.settled
    summary.requests += result.requests
    summary.errors = result.errors
    summary.stopped, summary.left = result.stopped, result.left
