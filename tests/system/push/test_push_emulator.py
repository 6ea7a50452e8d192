"""Edits made with the real sqlite3 shell reach the emulator exactly once."""

from __future__ import annotations

import math

import pytest

from rcsync.errors import GuardError
from tests.harness.inprocess import PushEnv
from tests.harness.transports import DropFirst


def ids_in(ids: list[int]) -> str:
    return ",".join(map(str, ids))


def test_shell_edits_reach_the_server_and_a_second_push_sends_nothing(env: PushEnv) -> None:
    alive = env.ids("availability = 'Alive'", 6)
    deleted = env.ids("availability = 'Deleted'", 1)
    assert len(alive) == 6 and deleted, "emulator seed must have Alive and Deleted messages"
    read_id, unread_id, trash_id, purge_id, row_id, both_id = alive
    env.sql(
        f"UPDATE message SET read_status='Unread' WHERE id={unread_id};"
        f"UPDATE message SET read_status='Unread' WHERE id={read_id};"
        f"UPDATE message SET read_status='Read' WHERE id={read_id};"  # back and forth
        f"UPDATE message SET availability='Deleted' WHERE id={trash_id};"
        f"UPDATE message SET availability='Purged' WHERE id={purge_id};"
        f"UPDATE message SET availability='Alive' WHERE id={deleted[0]};"
        f"UPDATE message SET read_status='Unread', availability='Deleted' WHERE id={both_id};"
        f"DELETE FROM message WHERE id={row_id};"
    )
    assert len(env.pending()) == 7  # read_id went back to base: not pending

    summary = env.push()

    assert summary.failed == 0, summary.errors
    assert env.remote(unread_id)["readStatus"] == "Unread"
    assert env.remote(trash_id)["availability"] == "Deleted"
    assert env.remote(purge_id)["availability"] == "Purged"
    assert env.remote(deleted[0])["availability"] == "Alive"
    assert env.remote(row_id)["availability"] == "Deleted"  # row_delete = trash
    assert (env.remote(both_id)["readStatus"], env.remote(both_id)["availability"]) == (
        "Unread",
        "Deleted",
    )
    assert env.pending() == []
    assert env.rows("SELECT action FROM tombstone WHERE message_id = :i", i=row_id) == [("trash",)]
    env.assert_mirror_equals_server()

    before = env.requests()
    again = env.push()
    assert env.requests() == before
    assert (again.pending, again.requests) == (0, 0)


def test_row_delete_purge_mode(env: PushEnv) -> None:
    victims = env.ids("availability = 'Alive'", 3)
    env.sql(f"DELETE FROM message WHERE id IN ({ids_in(victims)})")
    summary = env.push(sync={"row_delete": "purge"})
    assert summary.purge == 3 and summary.failed == 0
    assert {env.remote(i)["availability"] for i in victims} == {"Purged"}
    assert env.rows("SELECT DISTINCT action FROM tombstone") == [("purge",)]
    assert env.pending() == []
    assert env.emu.counters.by_operation["readMessage"] == 0  # purge needs no verification


def test_nothing_pending_sends_no_request(env: PushEnv) -> None:
    summary = env.push()
    assert env.requests() == 0
    assert summary.line() == "pushed 0 edits in 0 requests; 0 failed; 0 conflicts"
    assert env.rows("SELECT count(*) FROM sync_state WHERE key = 'last_push_at'") == [(1,)]


def test_thousand_read_edits_take_few_requests_and_no_429(make_env: object) -> None:
    env: PushEnv = make_env(messages=1100, rate_limits=True)  # type: ignore[operator]
    env.sql(
        "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        " ELSE 'Read' END WHERE id IN (SELECT id FROM message WHERE availability = 'Alive'"
        " ORDER BY id LIMIT 1000)"
    )
    assert len(env.pending()) == 1000
    summary = env.push()
    writes = env.emu.counters.by_operation["updateMessage"]
    assert writes <= math.ceil(1000 / 50)
    assert writes <= 2  # `*` form: one request per readStatus value
    assert env.emu.counters.status.get("429", 0) == 0
    assert summary.failed == 0 and env.pending() == []
    env.assert_mirror_equals_server()


def test_dry_run_changes_nothing(env: PushEnv) -> None:
    alive = env.ids("availability = 'Alive'", 4)
    env.sql(
        f"UPDATE message SET read_status='Unread' WHERE id={alive[0]};"
        f"UPDATE message SET availability='Deleted' WHERE id={alive[1]};"
        f"UPDATE message SET availability='Purged' WHERE id={alive[2]};"
        f"DELETE FROM message WHERE id={alive[3]};"
    )
    dump = env.sql(".dump")
    remote = env.emu.store.all_records()
    summary = env.push(dry_run=True)
    assert summary.dry_run and summary.pending == 4
    assert "DELETE message-store/{ids}  (1 request, 2 messages)" in summary.plan
    assert "DELETE message-store/{ids}?purge=true  (1 request, 1 message)" in summary.plan
    assert env.writes() == 0
    assert env.sql(".dump") == dump
    assert env.emu.store.all_records() == remote


def test_guard_refuses_mass_delete_without_force(env: PushEnv) -> None:
    env.sql("DELETE FROM message")  # the accident
    count = env.rows("SELECT count(*) FROM tombstone")[0][0]
    with pytest.raises(
        GuardError,
        match=r"refusing to trash \d+ and purge 0 messages \(more "
        r"than delete_guard = 10\); rerun with --force",
    ):
        env.push(sync={"delete_guard": 10})
    assert env.requests() == 0
    assert len(env.pending()) == count
    summary = env.push(sync={"delete_guard": 10}, force=True)
    assert summary.failed == 0 and env.pending() == []
    env.assert_mirror_equals_server()


def test_trash_after_lost_response_is_not_turned_into_a_purge(env: PushEnv) -> None:
    victims = env.ids("availability = 'Alive'", 3)
    env.sql(f"UPDATE message SET availability='Deleted' WHERE id IN ({ids_in(victims)})")
    flaky = DropFirst(env.emu.transport())
    first = env.push(client=env.client(flaky))
    assert flaky.dropped == 1
    # The DELETE went through; its answer was lost; the re-read confirmed it.
    assert {env.remote(i)["availability"] for i in victims} == {"Deleted"}
    assert first.failed == 0 and env.pending() == []
    env.push()
    env.push()
    assert {env.remote(i)["availability"] for i in victims} == {"Deleted"}
    assert env.emu.counters.by_operation["deleteMessage"] == 1


def test_trash_whose_outcome_stays_unknown_is_rechecked_not_resent(env: PushEnv) -> None:
    victim = env.ids("availability = 'Alive'", 1)[0]
    env.sql(f"UPDATE message SET availability='Deleted' WHERE id={victim}")

    class DropDeleteAndReads(DropFirst):
        def handle_request(self, request):  # type: ignore[no-untyped-def]
            if request.method == "GET" and self.dropped:
                raise __import__("httpx").ConnectError("offline", request=request)
            return super().handle_request(request)

    flaky = DropDeleteAndReads(env.emu.transport())
    first = env.push(client=env.client(flaky))
    assert first.failed == 1
    assert env.pending() == [(victim, "availability", "Deleted")]
    error = env.rows("SELECT attempts, last_error FROM pending_change")[0]
    assert error[0] == 1 and "trash outcome unknown" in error[1]
    env.push()  # reads first: already Deleted -> only confirmed locally
    assert env.remote(victim)["availability"] == "Deleted"
    assert env.emu.counters.by_operation["deleteMessage"] == 1
    assert env.pending() == []


def test_remote_change_vs_local_edit_is_a_recorded_conflict(env: PushEnv) -> None:
    mid = env.ids("availability = 'Alive'", 1)[0]
    env.sql(f"UPDATE message SET availability='Purged' WHERE id={mid}")
    env.emu.store.remote_edit(mid, availability="Deleted")
    # The stored remote value is stale; the planner sees the remote change only when told.
    env.sql(f"UPDATE message SET remote_availability='Deleted' WHERE id={mid}")
    summary = env.push(sync={"conflict_policy": "remote"})
    assert summary.conflicts == 1
    assert env.rows("SELECT field, local_value, remote_value, resolution FROM conflict") == [
        ("availability", "Purged", "Deleted", "took_remote")
    ]
    assert env.remote(mid)["availability"] == "Deleted"
    assert env.pending() == []


def test_read_edit_on_message_purged_remotely(env: PushEnv) -> None:
    mid = env.ids("availability = 'Alive' AND read_status = 'Read'", 1)[0]
    env.sql(f"UPDATE message SET read_status='Unread' WHERE id={mid}")
    env.emu.store.remote_edit(mid, availability="Purged")
    env.sql(f"UPDATE message SET remote_availability='Purged' WHERE id={mid}")
    summary = env.push()
    assert summary.conflicts == 1
    assert env.rows("SELECT field, resolution FROM conflict") == [("read_status", "purged")]
    assert env.pending() == []
    assert env.writes() == 0


def test_trash_of_message_purged_remotely_is_confirmed_as_purged(env: PushEnv) -> None:
    mid = env.ids("availability = 'Alive'", 1)[0]
    env.sql(f"UPDATE message SET availability='Deleted' WHERE id={mid}")
    env.emu.store.remote_edit(mid, availability="Purged")  # not known locally: the re-read sees it
    summary = env.push()
    assert env.writes() == 0
    assert summary.conflicts == 1
    assert env.rows("SELECT availability, base_availability FROM message WHERE id=:i", i=mid) == [
        ("Purged", "Purged")
    ]
    assert env.rows("SELECT field, local_value, remote_value, resolution FROM conflict") == [
        ("availability", "Deleted", "Purged", "purged")
    ]


def test_the_dry_run_counts_the_edits_the_push_then_makes(env: PushEnv) -> None:
    """One message with two edited fields was "would push 2 edits"... then "pushed 3"."""
    one, two, three = env.ids("availability = 'Alive'", 3)
    env.sql(
        f"UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        f" ELSE 'Read' END, availability='Deleted' WHERE id={one};"
        f"UPDATE message SET availability='Deleted' WHERE id={two};"
        f"UPDATE message SET availability='Purged' WHERE id={three};"
    )
    dry = env.push(dry_run=True)
    real = env.push()
    assert real.failed == 0, real.errors
    assert dry.planned == real.pushed + real.settled == 4
    assert dry.line().startswith("dry run: would push 4 edits in ")
    assert real.line().startswith("pushed 4 edits in ")


def test_summaries_count_in_words(env: PushEnv) -> None:
    (only,) = env.ids("availability = 'Alive'", 1)
    env.sql(f"UPDATE message SET availability='Purged' WHERE id={only}")
    assert env.push().line() == "pushed 1 edit in 1 request; 0 failed; 0 conflicts"
