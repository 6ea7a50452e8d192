"""Issue 10 case 2: only a 404 that names the message means "purged".

Evidence that a message is gone: a 207 part with 404 for that id, or a read of that one
message answered 404 ``CMN-102`` (about ``messageId``). A 404 for a whole request, a 404 or
405 to a single-id write, or a 404 without CMN-102 on the read before a trash are failed
requests: the edit stays pending with the error, and push counts it as failed.
"""

from __future__ import annotations

from typing import Any

import pytest

from rcsync.sync.push import PushSummary, push
from tests.harness.inprocess import World
from tests.harness.transports import BULK, MESSAGE_NOT_FOUND, NOT_SUPPORTED, PATH_NOT_FOUND, SINGLE


def _push(world: World) -> PushSummary:
    return push(world.db, world.client(), world.config)


def _errors(world: World) -> list[tuple[Any, ...]]:
    return world.rows("SELECT message_id, last_error FROM local_edit ORDER BY 1")


def _assert_failed_and_pending(
    world: World, summary: PushSummary, wanted: list[tuple[int, str, str]]
) -> None:
    assert summary.failed == len(wanted), summary
    assert world.pending() == sorted(wanted)
    assert all(error for _mid, error in _errors(world)), _errors(world)
    assert world.rows("SELECT count(*) FROM message WHERE availability = 'Purged'") == [
        (world.rows("SELECT count(*) FROM message WHERE base_availability = 'Purged'")[0][0],)
    ]
    assert world.rows("SELECT count(*) FROM conflict") == [(0,)]
    for mid, _f, _v in wanted:
        assert world.local(mid)[1] != "Purged" and world.remote(mid)["availability"] != "Purged"


def _read_edits(world: World, n: int) -> list[tuple[int, str, str]]:
    mids = world.ids("availability = 'Alive' AND read_status = 'Read'", n)
    world.sql(f"UPDATE message SET read_status = 'Unread' WHERE id IN ({','.join(map(str, mids))})")
    return [(m, "read_status", "Unread") for m in mids]


# Fails on main: every case below became local Purged, "0 failed, 0 conflicts".
@pytest.mark.parametrize(
    "body", [PATH_NOT_FOUND, MESSAGE_NOT_FOUND, None], ids=["path", "message", "empty"]
)
def test_404_to_a_single_id_put_is_a_failure(world: World, body: Any) -> None:
    wanted = _read_edits(world, 1)
    world.faults.answer("PUT", SINGLE, 404, body)
    _assert_failed_and_pending(world, _push(world), wanted)
    assert _push(world).failed == 0  # the fault is over: pushed now
    assert world.pending() == [] and world.remote(wanted[0][0])["readStatus"] == "Unread"


def test_404_for_a_whole_bulk_put_is_a_failure(world: World) -> None:
    wanted = _read_edits(world, 3)
    world.faults.answer("PUT", BULK, 404, PATH_NOT_FOUND)
    _assert_failed_and_pending(world, _push(world), wanted)
    assert _push(world).failed == 0 and world.pending() == []


def test_404_for_a_whole_bulk_trash_is_a_failure(world: World) -> None:
    mids = world.ids("availability = 'Alive'", 2)
    world.sql(f"UPDATE message SET availability = 'Deleted' WHERE id IN ({mids[0]}, {mids[1]})")
    world.faults.answer("DELETE", BULK, 404, PATH_NOT_FOUND)
    summary = _push(world)
    _assert_failed_and_pending(world, summary, [(m, "availability", "Deleted") for m in mids])
    assert {world.remote(m)["availability"] for m in mids} == {"Alive"}
    assert _push(world).failed == 0
    assert {world.remote(m)["availability"] for m in mids} == {"Deleted"}


def _trashed_remotely(world: World, n: int) -> list[int]:
    mids = world.ids("availability = 'Alive'", n)
    for mid in mids:
        world.emu.store.remote_edit(mid, availability="Deleted")
    world.sql(
        f"UPDATE message SET availability = 'Deleted', base_availability = 'Deleted',"
        f" remote_availability = 'Deleted' WHERE id IN ({','.join(map(str, mids))})"
    )
    world.sql(f"UPDATE message SET availability = 'Alive' WHERE id IN ({','.join(map(str, mids))})")
    return mids


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, PATH_NOT_FOUND), (404, MESSAGE_NOT_FOUND), (405, NOT_SUPPORTED)],
    ids=["404-path", "404-message", "405"],
)
def test_404_or_405_to_a_single_id_patch_is_a_failure(world: World, status: int, body: Any) -> None:
    (mid,) = _trashed_remotely(world, 1)
    world.faults.answer("PATCH", SINGLE, status, body)
    _assert_failed_and_pending(world, _push(world), [(mid, "availability", "Alive")])
    assert _push(world).failed == 0 and world.remote(mid)["availability"] == "Alive"


def test_bulk_patch_refused_falls_back_and_each_failure_stays_pending(world: World) -> None:
    mids = _trashed_remotely(world, 3)
    world.faults.answer("PATCH", BULK, 405, NOT_SUPPORTED)
    world.faults.answer("PATCH", SINGLE, 405, NOT_SUPPORTED)  # the first one-by-one only
    summary = _push(world)
    assert summary.failed == 1 and summary.pushed == 2
    assert world.pending() == [(mids[0], "availability", "Alive")]
    assert {world.remote(m)["availability"] for m in mids[1:]} == {"Alive"}


@pytest.mark.parametrize("body", [PATH_NOT_FOUND, None], ids=["path", "empty"])
def test_404_without_cmn_102_on_the_read_before_a_trash_defers_it(world: World, body: Any) -> None:
    mid = world.ids("availability = 'Alive'", 1)[0]
    world.sql("UPDATE message SET availability = 'Deleted' WHERE id = :i", i=mid)
    world.faults.answer("GET", SINGLE, 404, body)
    summary = _push(world)
    assert world.writes("deleteMessage") == 0  # never sent unverified
    _assert_failed_and_pending(world, summary, [(mid, "availability", "Deleted")])
    assert _push(world).failed == 0 and world.remote(mid)["availability"] == "Deleted"


def test_read_answering_404_cmn_102_for_the_message_is_taken_as_purged(world: World) -> None:
    # The evidence that does count (RingCentral's answer once a message is gone for good).
    mid = world.ids("availability = 'Alive'", 1)[0]
    world.sql("UPDATE message SET availability = 'Deleted' WHERE id = :i", i=mid)
    world.faults.answer("GET", SINGLE, 404, MESSAGE_NOT_FOUND)
    summary = _push(world)
    assert summary.failed == 0 and world.writes("deleteMessage") == 0
    assert world.local(mid)[1::2] == ("Purged", "Purged")
    assert world.rows("SELECT resolution FROM conflict WHERE message_id = :i", i=mid) == [
        ("purged",)
    ]


def test_a_named_404_part_of_a_bulk_answer_is_taken_as_purged(world: World) -> None:
    mids = world.ids("availability = 'Alive' AND read_status = 'Read'", 2)
    world.sql(f"UPDATE message SET read_status = 'Unread' WHERE id IN ({mids[0]}, {mids[1]})")
    parts = [
        {"resourceId": str(mids[0]), "status": 200, "body": {**world.remote(mids[0])}},
        {"resourceId": str(mids[1]), "status": 404, "body": MESSAGE_NOT_FOUND},
    ]
    parts[0]["body"]["readStatus"] = "Unread"
    world.faults.answer("PUT", BULK, 207, parts)
    summary = _push(world)
    assert summary.failed == 0 and world.pending() == []
    assert world.local(mids[1])[1::2] == ("Purged", "Purged")
    assert world.rows("SELECT message_id, resolution FROM conflict") == [(mids[1], "purged")]


def test_whole_404_to_the_bulk_read_before_trashes_falls_back_to_single_reads(
    world: World,
) -> None:
    mids = world.ids("availability = 'Alive'", 2)
    world.sql(f"UPDATE message SET availability = 'Deleted' WHERE id IN ({mids[0]}, {mids[1]})")
    world.faults.answer("GET", BULK, 404, PATH_NOT_FOUND)
    summary = _push(world)
    assert summary.failed == 0 and world.pending() == []
    assert {world.remote(m)["availability"] for m in mids} == {"Deleted"}
    assert world.rows("SELECT count(*) FROM conflict") == [(0,)]
