"""Table-driven tests of the pure push planner: every (local, base, remote) cell of both
synced fields, the impossible/invalid cells, each policy on the conflict cells, tombstones in
both row_delete modes, trash verification and request grouping."""

from __future__ import annotations

import itertools

import pytest

from rcsync.rules.actions import (
    Fix,
    Op,
    PendingMessage,
    PendingTombstone,
    Plan,
    RemoteAction,
    RemoteState,
)
from rcsync.rules.merge import FieldState
from rcsync.rules.plan import plan_push, trash_candidates
from rcsync.types import ConflictPolicy as Policy

A, D, P = "Alive", "Deleted", "Purged"
RD, UN = "Read", "Unread"
OLD, NEW = "2024-01-01T00:00:00.000Z", "2024-06-01T00:00:00.000Z"


def msg(
    read: tuple[str | None, str | None, str | None] = (UN, UN, UN),
    avail: tuple[str | None, str | None, str | None] = (A, A, A),
    *,
    mid: int = 7,
    local_time: str = NEW,
    remote_time: str = OLD,
) -> PendingMessage:
    return PendingMessage(
        mid, FieldState(*read, local_time, remote_time), FieldState(*avail, local_time, remote_time)
    )


def summary(
    plan: Plan,
) -> tuple[set[tuple[str, str | None]], set[tuple[str, str, str | None]], set[tuple[str, str]]]:
    """(remote ops, fixes, conflicts) without ids: one message per test."""
    return (
        {(a.op.value, a.value) for a in plan.actions},
        {(f.kind.value, f.field, f.value) for f in plan.fixes},
        {(c.field, c.resolution) for c in plan.conflicts},
    )


# --- read_status: all 8 cells (remote availability Alive). Two values cannot conflict:
# changed on both sides means both moved away from base, i.e. to the same value.
READ_CELLS = {
    # (local, base, remote): (ops, fixes)
    (RD, RD, RD): (set(), set()),
    (RD, RD, UN): (set(), {("take_remote", "read_status", UN)}),
    (RD, UN, RD): (set(), {("converge", "read_status", RD)}),
    (RD, UN, UN): ({("read", RD)}, set()),
    (UN, RD, RD): ({("read", UN)}, set()),
    (UN, RD, UN): (set(), {("converge", "read_status", UN)}),
    (UN, UN, RD): (set(), {("take_remote", "read_status", RD)}),
    (UN, UN, UN): (set(), set()),
}


def test_read_table_is_complete() -> None:
    assert set(READ_CELLS) == set(itertools.product((RD, UN), repeat=3))


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize(("cell", "expected"), list(READ_CELLS.items()), ids=str)
def test_read_status_cells(
    cell: tuple[str, str, str],
    expected: tuple[set[tuple[str, str]], set[tuple[str, str, str]]],
    policy: Policy,
) -> None:
    ops, fixes, conflicts = summary(plan_push([msg(read=cell)], policy=policy))
    assert (ops, fixes) == expected
    assert conflicts == set()


@pytest.mark.parametrize("base_remote", [(UN, UN), (UN, RD), (RD, UN)])
def test_read_edit_on_remotely_purged_message_is_dropped_and_recorded(
    base_remote: tuple[str, str],
) -> None:
    base, remote = base_remote
    local = RD if base == UN else UN
    plan = plan_push([msg(read=(local, base, remote), avail=(A, A, P))])
    ops, fixes, conflicts = summary(plan)
    assert ops == set()
    assert ("take_remote", "read_status", remote) in fixes
    assert ("take_remote", "availability", P) in fixes
    assert conflicts == {("read_status", "purged")}


@pytest.mark.parametrize("bad", [None, "Bogus", "read"])
def test_invalid_read_value_is_rejected(bad: str | None) -> None:
    _, fixes, conflicts = summary(plan_push([msg(read=(bad, UN, UN))]))
    assert fixes == {("reject", "read_status", UN)}
    assert conflicts == {("read_status", "rejected")}


# --- availability: all 27 cells. Values: ops, fixes, conflicts, for the policies that
# agree; conflict cells where policies differ are in AVAIL_POLICY_CELLS.
Cell = tuple[str, str, str]
Expect = tuple[set[tuple[str, None]], set[tuple[str, str, str]], set[tuple[str, str]]]
NO: Expect = (set(), set(), set())


def take(v: str) -> Expect:
    return (set(), {("take_remote", "availability", v)}, set())


def conv(v: str) -> Expect:
    return (set(), {("converge", "availability", v)}, set())


def op(o: str) -> Expect:
    return ({(o, None)}, set(), set())


REJECT: Expect = (set(), {("reject", "availability", P)}, {("availability", "rejected")})
PURGED_WINS: Expect = (set(), {("take_remote", "availability", P)}, {("availability", "purged")})

AVAIL_CELLS: dict[Cell, Expect] = {
    (A, A, A): NO,
    (A, A, D): take(D),
    (A, A, P): take(P),
    (D, A, A): op("trash"),
    (D, A, D): conv(D),
    (D, A, P): PURGED_WINS,
    (P, A, A): op("purge"),
    (P, A, P): conv(P),
    (A, D, A): conv(A),
    (A, D, D): op("restore"),
    (A, D, P): PURGED_WINS,
    (D, D, A): take(A),
    (D, D, D): NO,
    (D, D, P): take(P),
    (P, D, D): op("purge"),
    (P, D, P): conv(P),
    # base Purged: nothing leaves Purged. Local edits are rejected (the schema trigger
    # forbids them; a client bypassing it gets them undone); remote reports are ignored.
    (A, P, A): REJECT,
    (A, P, D): REJECT,
    (A, P, P): REJECT,
    (D, P, A): REJECT,
    (D, P, D): REJECT,
    (D, P, P): REJECT,
    (P, P, A): NO,
    (P, P, D): NO,
    (P, P, P): NO,
}


def kept(purge_from: str) -> Expect:
    return (
        {("purge", None)},
        {("move_base", "availability", purge_from)},
        {("availability", "kept_local")},
    )


def took(v: str) -> Expect:
    return (set(), {("take_remote", "availability", v)}, {("availability", "took_remote")})


# Conflict cells (both changed, to different values, remote not Purged): per policy. The
# local edit is newer than the remote change in `msg` (NEW vs OLD), so newest keeps local.
AVAIL_POLICY_CELLS: dict[Cell, dict[Policy, Expect]] = {
    (P, A, D): {Policy.LOCAL: kept(D), Policy.NEWEST: kept(D), Policy.REMOTE: took(D)},
    (P, D, A): {Policy.LOCAL: kept(A), Policy.NEWEST: kept(A), Policy.REMOTE: took(A)},
}


def test_availability_table_is_complete() -> None:
    assert set(AVAIL_CELLS) | set(AVAIL_POLICY_CELLS) == set(itertools.product((A, D, P), repeat=3))


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize(("cell", "expected"), list(AVAIL_CELLS.items()), ids=str)
def test_availability_cells(cell: Cell, expected: Expect, policy: Policy) -> None:
    assert summary(plan_push([msg(avail=cell)], policy=policy)) == expected


@pytest.mark.parametrize(
    ("cell", "policy", "expected"),
    [(c, p, e) for c, by in AVAIL_POLICY_CELLS.items() for p, e in by.items()],
    ids=str,
)
def test_availability_conflict_cells(cell: Cell, policy: Policy, expected: Expect) -> None:
    assert summary(plan_push([msg(avail=cell)], policy=policy)) == expected


@pytest.mark.parametrize("cell", list(AVAIL_POLICY_CELLS))
def test_newest_takes_remote_when_remote_change_is_newer(cell: Cell) -> None:
    plan = plan_push([msg(avail=cell, local_time=OLD, remote_time=NEW)], policy=Policy.NEWEST)
    assert summary(plan) == took(cell[2])


@pytest.mark.parametrize("cell", list(AVAIL_POLICY_CELLS))
def test_newest_takes_remote_when_remote_time_is_unknown(cell: Cell) -> None:
    m = PendingMessage(7, FieldState(UN, UN, UN), FieldState(*cell, NEW, None))
    assert summary(plan_push([m], policy=Policy.NEWEST)) == took(cell[2])


@pytest.mark.parametrize("bad", [None, "Gone", "alive"])
def test_invalid_availability_value_is_rejected(bad: str | None) -> None:
    _, fixes, conflicts = summary(plan_push([msg(avail=(bad, A, A))]))
    assert fixes == {("reject", "availability", A)}
    assert conflicts == {("availability", "rejected")}


def test_remote_never_seen_counts_as_alive() -> None:
    assert summary(plan_push([msg(avail=(D, None, None))]))[0] == {("trash", None)}
    assert summary(plan_push([msg(avail=(P, None, None))]))[0] == {("purge", None)}


def test_read_and_trash_on_one_message_send_both() -> None:
    ops, _, _ = summary(plan_push([msg(read=(RD, UN, UN), avail=(D, A, A))]))
    assert ops == {("read", RD), ("trash", None)}


def test_kept_local_conflict_on_restore_vs_remote_purge_is_impossible() -> None:
    # Restore against a remote purge: the purge wins under every policy.
    for policy in Policy:
        assert summary(plan_push([msg(avail=(A, D, P))], policy=policy)) == PURGED_WINS


# --- tombstones -----------------------------------------------------------------------


def tomb(base: str, remote: str, mid: int = 9) -> PendingTombstone:
    return PendingTombstone(mid, base, remote, NEW, OLD)


def tsum(
    plan: Plan,
) -> tuple[set[tuple[str, bool]], set[tuple[str, str | None, str | None]], set[str]]:
    return (
        {(a.op.value, a.row) for a in plan.actions},
        {(f.kind.value, f.value, f.row_action) for f in plan.fixes},
        {c.resolution for c in plan.conflicts},
    )


TOMB_CELLS: dict[
    tuple[str, str, str], tuple[set[tuple[str, bool]], set[tuple[str, str, str]], set[str]]
] = {
    # (row_delete, base, remote)
    ("trash", A, A): ({("trash", True)}, set(), set()),
    ("trash", A, D): (set(), {("confirm_row", D, "trash")}, set()),
    ("trash", A, P): (set(), {("confirm_row", P, "purge")}, {"purged"}),
    ("trash", D, A): ({("trash", True)}, set(), {"kept_local"}),  # restored remotely
    ("trash", D, D): (set(), {("confirm_row", D, "trash")}, set()),
    ("trash", D, P): (set(), {("confirm_row", P, "purge")}, {"purged"}),
    ("trash", P, P): (set(), {("confirm_row", P, "purge")}, set()),
    ("purge", A, A): ({("purge", True)}, set(), set()),
    ("purge", A, D): ({("purge", True)}, set(), {"kept_local"}),
    ("purge", A, P): (set(), {("confirm_row", P, "purge")}, set()),
    ("purge", D, A): ({("purge", True)}, set(), {"kept_local"}),
    ("purge", D, D): ({("purge", True)}, set(), set()),
    ("purge", D, P): (set(), {("confirm_row", P, "purge")}, set()),
    ("purge", P, P): (set(), {("confirm_row", P, "purge")}, set()),
}


@pytest.mark.parametrize(("cell", "expected"), list(TOMB_CELLS.items()), ids=str)
def test_tombstone_cells(
    cell: tuple[str, str, str],
    expected: tuple[set[tuple[str, bool]], set[tuple[str, str, str]], set[str]],
) -> None:
    row_delete, base, remote = cell
    assert tsum(plan_push([], [tomb(base, remote)], row_delete=row_delete)) == expected


@pytest.mark.parametrize("policy", list(Policy))
def test_tombstones_ignore_policy(policy: Policy) -> None:
    plan = plan_push([], [tomb(D, A)], policy=policy)
    assert [a.op for a in plan.actions] == [Op.TRASH]


# --- trash verification -----------------------------------------------------------------


def test_trash_candidates_are_messages_and_rows() -> None:
    plan = plan_push(
        [msg(avail=(D, A, A), mid=1), msg(avail=(P, A, A), mid=2)], [tomb(A, A, mid=3)]
    )
    assert sorted(trash_candidates(plan)) == [1, 3]


def test_fresh_state_already_deleted_only_confirms() -> None:
    fresh = {1: RemoteState(UN, D, NEW), 3: RemoteState(UN, D, NEW)}
    plan = plan_push(
        [msg(avail=(D, A, A), mid=1)], [tomb(A, A, mid=3)], fresh=fresh, verified=frozenset(fresh)
    )
    assert plan.actions == ()
    assert {(f.kind, f.message_id) for f in plan.fixes} == {(Fix.CONVERGE, 1), (Fix.CONFIRM_ROW, 3)}


def test_fresh_state_purged_when_user_asked_trash_is_a_recorded_conflict() -> None:
    fresh = {1: RemoteState(UN, P, NEW)}
    plan = plan_push([msg(avail=(D, A, A), mid=1)], fresh=fresh, verified=frozenset(fresh))
    assert summary(plan) == PURGED_WINS


def test_unverified_trash_is_deferred_never_sent() -> None:
    plan = plan_push(
        [msg(avail=(D, A, A), mid=1), msg(avail=(P, A, A), mid=2)],
        [tomb(A, A, mid=3)],
        verified=frozenset(),
    )
    assert plan.actions == (RemoteAction(Op.PURGE, 2),)
    assert {(d.message_id, d.row) for d in plan.deferred} == {(1, False), (3, True)}


def test_fresh_read_status_is_used() -> None:
    # The user marked Read; RingCentral already says Read: nothing to send.
    fresh = {1: RemoteState(RD, A, NEW)}
    plan = plan_push([msg(read=(RD, UN, UN), mid=1)], fresh=fresh)
    assert plan.actions == ()
    assert [f.kind for f in plan.fixes] == [Fix.CONVERGE]


# --- grouping and counting ------------------------------------------------------------


def test_groups_count_requests_per_batch_limits() -> None:
    msgs = [msg(read=(RD, UN, UN), mid=i) for i in range(1500)]
    msgs += [msg(read=(UN, RD, RD), mid=10_000 + i) for i in range(10)]
    msgs += [msg(avail=(D, A, A), mid=20_000 + i) for i in range(120)]
    plan = plan_push(msgs)
    lines = [g.describe() for g in plan.groups()]
    assert lines == [
        "PUT message-store/* readStatus=Read  (2 requests, 1,500 messages)",
        "PUT message-store/{ids} readStatus=Unread  (1 request, 10 messages)",
        "DELETE message-store/{ids}  (3 requests, 120 messages)",
    ]
    assert plan.request_count == 6
    assert (plan.trash_count, plan.purge_count) == (120, 0)


def test_empty_plan_is_falsy_and_sends_nothing() -> None:
    plan = plan_push([], [])
    assert not plan
    assert plan.groups() == []
    assert plan.request_count == 0
