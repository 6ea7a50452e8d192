"""Three-way merge of one synced field. PURE: no clock, no I/O.

Each synced field (read_status, availability) has a local value L (what the user sees and
edits), a base B (the last value both sides agreed on) and a remote value R (the last value
RingCentral reported). "Changed locally" is L != B and "changed remotely" is R != B; the
sides are never compared with each other directly (habit 2 of STYLE.md):

    L == B, R == B   nothing to do
    L == B, R != B   remote change: take it               (L = B = R)
    L != B, R == B   local edit: push it                  (after success B = R = L)
    L != B, R == L   both made the same change            (B = R, no conflict)
    L != B, R != B, R != L   conflict: the policy decides, and a Conflict is recorded

A message RingCentral has purged can no longer change, so a remote ``Purged`` always wins
(a local restore loses to a remote purge, and is recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rcsync.types import Availability, ConflictPolicy


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    TAKE_REMOTE = "take_remote"
    PUSH_LOCAL = "push_local"
    CONVERGED = "converged"


class Resolution(StrEnum):
    KEPT_LOCAL = "kept_local"
    TOOK_REMOTE = "took_remote"
    PURGED = "purged"


@dataclass(frozen=True)
class FieldState:
    local: str | None
    base: str | None
    remote: str | None
    # ISO-8601 UTC strings; compared as text, which orders them correctly.
    local_time: str | None = None
    remote_time: str | None = None


@dataclass(frozen=True)
class Decision:
    """What to do with one field: the values to store, and whether a push is needed."""

    outcome: Outcome
    local: str | None
    base: str | None
    conflict: Resolution | None = None


def _local_is_newer(state: FieldState) -> bool:
    # A remote change whose time we do not know (ISync sends deleted records as id +
    # availability only) counts as newer: we saw it after the local edit was made.
    if state.local_time is None:
        return False
    if state.remote_time is None:
        return False
    return state.local_time > state.remote_time


def merge_field(field: str, state: FieldState, policy: ConflictPolicy) -> Decision:
    """Decide one field. `field` matters only for the purge rule on availability."""
    local, base, remote = state.local, state.base, state.remote
    changed_local = local != base
    changed_remote = remote != base
    if not changed_local and not changed_remote:
        return Decision(Outcome.UNCHANGED, local, base)
    if not changed_local:
        return Decision(Outcome.TAKE_REMOTE, remote, remote)
    if not changed_remote:
        return Decision(Outcome.PUSH_LOCAL, local, base)
    if local == remote:
        return Decision(Outcome.CONVERGED, local, remote)
    # Both sides changed to different values: a conflict.
    if field == "availability" and remote == Availability.PURGED:
        return Decision(Outcome.TAKE_REMOTE, remote, remote, Resolution.PURGED)
    keep_local = policy is ConflictPolicy.LOCAL or (
        policy is ConflictPolicy.NEWEST and _local_is_newer(state)
    )
    if keep_local:
        # Base moves to the remote value we have now seen and overruled, so the next pull
        # (still reporting that value) is not a second conflict; the push then sends local.
        return Decision(Outcome.PUSH_LOCAL, local, remote, Resolution.KEPT_LOCAL)
    return Decision(Outcome.TAKE_REMOTE, remote, remote, Resolution.TOOK_REMOTE)
