"""The push's vocabulary: what is pending, what the planner decides, and the plan itself.

Plain frozen dataclasses and enums, shared by the planner (`rcsync.rules.plan`, which makes
a `Plan`), the applier (`rcsync.sync.apply`, which performs one), the push pipeline and the
dry-run (which prints one, as `RequestGroup` lines). No logic beyond grouping a plan's
actions into requests the way the applier batches them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rcsync.rules.merge import FieldState
from rcsync.types import PATH_BATCH, READ_BATCH, RowDelete

READ = "read_status"
AVAILABILITY = "availability"
ROW = "row"


class Op(StrEnum):
    """A remote write. The enum order is the order the applier sends them in: a restore
    before read-status changes (a message must be alive to be updated), trash and purge last
    (a read-status change to a message about to be deleted is still sent first)."""

    RESTORE = "restore"
    READ = "read"
    TRASH = "trash"
    PURGE = "purge"


class Fix(StrEnum):
    """A database-only step."""

    TAKE_REMOTE = "take_remote"  # local = base = remote = value
    CONVERGE = "converge"  # both sides made the same change: base = remote = value
    MOVE_BASE = "move_base"  # kept-local conflict: base = remote = value; local still pushed
    REJECT = "reject"  # impossible edit: local = base
    CONFIRM_ROW = "confirm_row"  # tombstone done remotely already: mark it pushed


class Resolved(StrEnum):
    """`conflict.resolution` values beyond merge.Resolution."""

    REJECTED = "rejected"


@dataclass(frozen=True)
class PendingMessage:
    """A message with a local edit: both synced fields, three-way, with times."""

    message_id: int
    read: FieldState
    availability: FieldState


@dataclass(frozen=True)
class PendingTombstone:
    """A row the user deleted, not yet pushed."""

    message_id: int
    base: str | None  # base_availability when the row was deleted
    remote: str | None  # last remote availability known
    deleted_at: str | None = None
    remote_time: str | None = None


@dataclass(frozen=True)
class RemoteState:
    """A message's current state as just read from RingCentral (Purged if it is gone)."""

    read_status: str | None
    availability: str | None
    last_modified_time: str | None = None


@dataclass(frozen=True)
class RemoteAction:
    op: Op
    message_id: int
    # The readStatus to set (READ only).
    value: str | None = None
    # True when the action comes from a tombstone (confirmation goes to `tombstone`).
    row: bool = False


@dataclass(frozen=True)
class LocalFix:
    kind: Fix
    message_id: int
    field: str
    value: str | None
    # The local value the planner saw: the applier writes only if it is still there, so a
    # user edit made while we worked is never overwritten.
    expected_local: str | None = None
    row_action: RowDelete | None = None  # CONFIRM_ROW


@dataclass(frozen=True)
class ConflictNote:
    message_id: int
    field: str
    state: FieldState
    resolution: str
    resolved_value: str | None


@dataclass(frozen=True)
class Deferred:
    """An edit the planner will not act on in this run (it stays pending, with `reason`)."""

    message_id: int
    reason: str
    row: bool = False


@dataclass(frozen=True)
class RequestGroup:
    """One line of a dry-run: a kind of request, how many, for how many messages."""

    op: Op
    value: str | None
    messages: int
    requests: int

    def describe(self) -> str:
        what = {
            # The client uses the `*` form (ids in the body) only beyond 50 ids.
            Op.READ: f"PUT message-store/{'*' if self.messages > PATH_BATCH else '{ids}'}"
            f" readStatus={self.value}",
            Op.RESTORE: "PATCH message-store/{ids} availability=Alive",
            Op.TRASH: "DELETE message-store/{ids}",
            Op.PURGE: "DELETE message-store/{ids}?purge=true",
        }[self.op]
        return (
            f"{what}  ({self.requests:,} request{'s' * (self.requests != 1)}, "
            f"{self.messages:,} message{'s' * (self.messages != 1)})"
        )


@dataclass(frozen=True)
class Plan:
    actions: tuple[RemoteAction, ...] = ()
    fixes: tuple[LocalFix, ...] = ()
    conflicts: tuple[ConflictNote, ...] = ()
    deferred: tuple[Deferred, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.actions or self.fixes or self.conflicts or self.deferred)

    def of(self, op: Op) -> list[RemoteAction]:
        return [a for a in self.actions if a.op is op]

    def ids(self, op: Op) -> list[int]:
        return [a.message_id for a in self.actions if a.op is op]

    @property
    def trash_count(self) -> int:
        return len(self.of(Op.TRASH))

    @property
    def purge_count(self) -> int:
        return len(self.of(Op.PURGE))

    def groups(self) -> list[RequestGroup]:
        """The requests this plan sends, grouped as the applier batches them."""
        out: list[RequestGroup] = []
        for op in Op:
            for value, ids in _group_by_value(self.of(op)).items():
                size = READ_BATCH if op is Op.READ else PATH_BATCH
                out.append(RequestGroup(op, value, len(ids), math.ceil(len(ids) / size)))
        return out

    @property
    def request_count(self) -> int:
        return sum(g.requests for g in self.groups())


def _group_by_value(actions: Iterable[RemoteAction]) -> dict[str | None, list[int]]:
    groups: dict[str | None, list[int]] = {}
    for a in actions:
        groups.setdefault(a.value, []).append(a.message_id)
    return groups
