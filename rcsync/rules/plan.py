"""The push planner. PURE: no clock, no I/O, no database, no HTTP.

It turns what is pending locally (dirty messages and row tombstones, each with its local,
base and remote values) into a `Plan`: the remote writes to send (`RemoteAction`), the
database-only fixes to make (`LocalFix`: take a remote change, move a base after a kept-local
conflict, reject an impossible edit, confirm a change both sides already agree on), and the
conflicts to record. These types are defined in `rcsync.rules.actions`. The applier
(`rcsync.sync.apply`) performs a plan; dry-run prints one; so what is printed is exactly
what would be done (habit 1 of STYLE.md).

Per field the rule is the three-way merge of `rcsync.rules.merge`. On top of it:

* availability edits map to RingCentral calls by (remote value, wanted value):
  Alive→Deleted = trash (DELETE), anything→Purged = purge (DELETE ?purge=true),
  Deleted→Alive = restore (PATCH). Nothing leaves Purged: such an edit is rejected.
* a read-status edit on a message RingCentral has purged cannot be applied: it is dropped
  and recorded as a conflict resolved "purged".
* values outside the enumerations (only possible by bypassing the schema's trigger) are
  rejected: local goes back to base and a conflict "rejected" is recorded.
* a deleted row (tombstone) always asks for `[sync] row_delete` (trash or purge); it is not
  subject to the conflict policy, because the row is gone locally and does not come back on
  pulls: the sides can only agree if the remote message is deleted too. A remote purge is
  final and wins (recorded when the user only asked for trash).
* a trash is not idempotent (a second DELETE purges), so the applier must verify the
  remote state of every trash candidate first and re-plan with it (`fresh`, `verified`);
  a trash of a message whose remote state could not be read is deferred, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from rcsync.rules.actions import (
    AVAILABILITY,
    READ,
    ROW,
    ConflictNote,
    Deferred,
    Fix,
    LocalFix,
    Op,
    PendingMessage,
    PendingTombstone,
    Plan,
    RemoteAction,
    RemoteState,
    Resolved,
)
from rcsync.rules.merge import Decision, FieldState, Outcome, Resolution, merge_field
from rcsync.types import Availability, ConflictPolicy, ReadStatus, RowDelete

# --- the planner --------------------------------------------------------------------------


@dataclass
class _Builder:
    actions: list[RemoteAction] = field(default_factory=list)
    fixes: list[LocalFix] = field(default_factory=list)
    conflicts: list[ConflictNote] = field(default_factory=list)
    deferred: list[Deferred] = field(default_factory=list)

    def conflict(
        self, mid: int, fld: str, state: FieldState, resolution: str, value: str | None
    ) -> None:
        self.conflicts.append(ConflictNote(mid, fld, state, resolution, value))

    def build(self) -> Plan:
        return Plan(
            tuple(self.actions), tuple(self.fixes), tuple(self.conflicts), tuple(self.deferred)
        )


def plan_push(
    messages: Iterable[PendingMessage],
    tombstones: Iterable[PendingTombstone] = (),
    *,
    policy: ConflictPolicy = ConflictPolicy.NEWEST,
    row_delete: RowDelete = RowDelete.TRASH,
    fresh: Mapping[int, RemoteState] | None = None,
    verified: frozenset[int] | None = None,
) -> Plan:
    """Plan a push.

    `fresh` overrides the stored remote values for the ids it holds (a just-made bulk GET).
    `verified`, when given, is the set of ids whose remote state was just read: a trash of
    any other id is deferred. Without it (the first pass, and dry-run) trash is planned
    from the stored state, so the caller can see which ids to verify.
    """
    fresh = fresh or {}
    b = _Builder()
    for m in messages:
        _plan_message(b, _with_fresh(m, fresh.get(m.message_id)), policy)
    for t in tombstones:
        _plan_tombstone(b, _tomb_with_fresh(t, fresh.get(t.message_id)), row_delete)
    if verified is not None:
        _defer_unverified_trash(b, verified)
    return b.build()


def trash_candidates(plan: Plan) -> list[int]:
    """Ids whose remote state must be read before any trash DELETE is sent."""
    return plan.ids(Op.TRASH)


def _with_fresh(m: PendingMessage, r: RemoteState | None) -> PendingMessage:
    if r is None:
        return m
    return replace(
        m,
        read=replace(m.read, remote=r.read_status, remote_time=r.last_modified_time),
        availability=replace(
            m.availability, remote=r.availability, remote_time=r.last_modified_time
        ),
    )


def _tomb_with_fresh(t: PendingTombstone, r: RemoteState | None) -> PendingTombstone:
    if r is None:
        return t
    return replace(t, remote=r.availability, remote_time=r.last_modified_time)


def _defer_unverified_trash(b: _Builder, verified: frozenset[int]) -> None:
    keep: list[RemoteAction] = []
    for a in b.actions:
        if a.op is Op.TRASH and a.message_id not in verified:
            b.deferred.append(
                Deferred(
                    a.message_id,
                    "trash not sent: could not read the message's current state from RingCentral",
                    a.row,
                )
            )
        else:
            keep.append(a)
    b.actions = keep


# --- messages ---------------------------------------------------------------------------


def _plan_message(b: _Builder, m: PendingMessage, policy: ConflictPolicy) -> None:
    _plan_availability(b, m.message_id, m.availability, policy)
    remote_gone = m.availability.remote == Availability.PURGED
    _plan_read(b, m.message_id, m.read, policy, remote_gone=remote_gone)


def _plan_read(
    b: _Builder, mid: int, s: FieldState, policy: ConflictPolicy, *, remote_gone: bool
) -> None:
    dirty = s.local != s.base
    if remote_gone and dirty:
        # A purged message cannot be updated any more; drop the edit, say so.
        value = s.remote if s.remote is not None else s.base
        b.fixes.append(LocalFix(Fix.TAKE_REMOTE, mid, READ, value, s.local))
        b.conflict(mid, READ, s, Resolution.PURGED, value)
        return
    if dirty and s.local not in tuple(ReadStatus):
        _reject(b, mid, READ, s)
        return
    d = merge_field(READ, s, policy)
    if d.outcome is Outcome.PUSH_LOCAL:
        _push_prelude(b, mid, READ, s, d)
        b.actions.append(RemoteAction(Op.READ, mid, s.local))
        return
    _settle(b, mid, READ, s, d)


def _plan_availability(b: _Builder, mid: int, s: FieldState, policy: ConflictPolicy) -> None:
    dirty = s.local != s.base
    if dirty and (s.local not in tuple(Availability) or s.base == Availability.PURGED):
        _reject(b, mid, AVAILABILITY, s)
        return
    if s.base == Availability.PURGED:
        # Purged is final: a remote report of anything else is impossible, and ignored.
        return
    d = merge_field(AVAILABILITY, s, policy)
    if d.outcome is not Outcome.PUSH_LOCAL:
        _settle(b, mid, AVAILABILITY, s, d)
        return
    op = _availability_op(d.base, s.local)
    if op is None:
        # Leaving Purged (remote value) or an unknown remote: nothing RingCentral accepts.
        _reject(b, mid, AVAILABILITY, s)
        return
    _push_prelude(b, mid, AVAILABILITY, s, d)
    b.actions.append(RemoteAction(op, mid))


def _availability_op(remote: str | None, wanted: str | None) -> Op | None:
    """The call that takes a message from `remote` to `wanted` (remote None = never seen:
    RingCentral's default, Alive)."""
    current = remote or Availability.ALIVE
    if wanted == Availability.PURGED and current != Availability.PURGED:
        return Op.PURGE
    if wanted == Availability.DELETED and current == Availability.ALIVE:
        return Op.TRASH
    if wanted == Availability.ALIVE and current == Availability.DELETED:
        return Op.RESTORE
    return None


def _push_prelude(b: _Builder, mid: int, fld: str, s: FieldState, d: Decision) -> None:
    """A kept-local conflict: record it and move base to the remote value we overrule."""
    if d.conflict is None:
        return
    b.fixes.append(LocalFix(Fix.MOVE_BASE, mid, fld, d.base, s.local))
    b.conflict(mid, fld, s, d.conflict, s.local)


def _settle(b: _Builder, mid: int, fld: str, s: FieldState, d: Decision) -> None:
    """Outcomes that need no request: nothing, a remote change taken, or agreement."""
    if d.outcome is Outcome.UNCHANGED:
        return
    kind = Fix.CONVERGE if d.outcome is Outcome.CONVERGED else Fix.TAKE_REMOTE
    b.fixes.append(LocalFix(kind, mid, fld, d.local, s.local))
    if d.conflict is not None:
        b.conflict(mid, fld, s, d.conflict, d.local)


def _reject(b: _Builder, mid: int, fld: str, s: FieldState) -> None:
    b.fixes.append(LocalFix(Fix.REJECT, mid, fld, s.base, s.local))
    b.conflict(mid, fld, s, Resolved.REJECTED, s.base)


# --- tombstones -------------------------------------------------------------------------


def _plan_tombstone(b: _Builder, t: PendingTombstone, row_delete: RowDelete) -> None:
    wanted = Availability.PURGED if row_delete == RowDelete.PURGE else Availability.DELETED
    state = FieldState(wanted, t.base, t.remote, t.deleted_at, t.remote_time)
    mid = t.message_id
    if t.remote == Availability.PURGED:
        purged = Availability.PURGED
        b.fixes.append(LocalFix(Fix.CONFIRM_ROW, mid, ROW, purged, row_action=RowDelete.PURGE))
        if wanted != purged and t.base != purged:
            b.conflict(mid, ROW, state, Resolution.PURGED, purged)
        return
    if (t.remote or Availability.ALIVE) == wanted:
        b.fixes.append(LocalFix(Fix.CONFIRM_ROW, mid, ROW, wanted, row_action=row_delete))
        return
    op = _availability_op(t.remote, wanted)
    if op is None:  # Deleted wanted, remote unknown state: cannot happen with Alive default
        b.deferred.append(Deferred(mid, f"cannot delete from remote state {t.remote!r}", True))
        return
    if t.remote != t.base:
        # Changed remotely (e.g. restored) after the base we deleted from: the delete wins.
        b.conflict(mid, ROW, state, Resolution.KEPT_LOCAL, wanted)
    b.actions.append(RemoteAction(op, mid, row=True))
