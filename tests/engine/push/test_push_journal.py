"""Issue 10 case 1: every entry point settles the in-flight push journal before it merges.

A push dies right after its trash DELETE was performed (the journal holds it); the user
then undoes the trash in SQL, so local = base = Alive and nothing is pending. A plain pull,
a watch sweep (which goes straight to a pull when nothing is pending) or a sync must not
take the remote Deleted as a change made elsewhere: the undo stays a pending edit, and the
next push restores the message.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rcsync.errors import RcsyncError
from rcsync.store.state import get_state
from rcsync.sync.pull import pull
from rcsync.sync.push import push
from rcsync.sync.reconcile import sync
from rcsync.watch.runner import EngineWorker
from tests.harness.inprocess import World
from tests.harness.transports import PATH_NOT_FOUND, SINGLE, Crash


def _crash_mid_trash(world: World) -> int:
    """Trash one message locally, push, and die after RingCentral performed the DELETE."""
    mid = world.ids("availability = 'Alive'", 1)[0]
    world.sql("UPDATE message SET availability = 'Deleted' WHERE id = :i", i=mid)
    world.faults.crash_after("DELETE")
    with pytest.raises(Crash):
        push(world.db, world.client(), world.config)
    assert world.remote(mid)["availability"] == "Deleted"
    assert _journal(world) is not None
    # The user changes their mind: local back to Alive, which equals base: nothing pending.
    world.sql("UPDATE message SET availability = 'Alive' WHERE id = :i", i=mid)
    assert world.pending() == []
    return mid


def _journal(world: World) -> str | None:
    with world.db.connect() as conn:
        return get_state(conn, "push_in_flight")


def _pull(world: World) -> None:
    pull(world.db, world.client(), world.config)


def _watch_sweep(world: World) -> None:
    EngineWorker(world.db, world.client(), world.config).pull()


def _sync(world: World) -> None:
    sync(world.db, world.client(), world.config)


@pytest.mark.parametrize("entry", [_pull, _watch_sweep, _sync], ids=["pull", "watch", "sync"])
def test_undo_of_an_unanswered_trash_survives_every_entry_point(
    world: World, entry: Callable[[World], None]
) -> None:
    # Fails on main for pull and watch: the pull took the remote Deleted (local = base),
    # the undo was lost with no conflict row.
    mid = _crash_mid_trash(world)
    entry(world)
    assert _journal(world) is None
    if entry is _sync:  # sync's push restored it already
        assert world.remote(mid)["availability"] == "Alive"
    else:
        assert world.local(mid)[1] == "Alive"
        assert world.pending() == [(mid, "availability", "Alive")]
        push(world.db, world.client(), world.config)
    assert world.remote(mid)["availability"] == "Alive"
    assert world.local(mid)[1::2] == ("Alive", "Alive")
    assert world.pending() == []
    assert world.writes("deleteMessage") == 1  # never resent


def test_journal_that_cannot_be_read_is_not_merged(world: World) -> None:
    # Fails on main: the unreadable id was dropped from the journal and the pull took the
    # remote Deleted.
    mid = _crash_mid_trash(world)
    world.faults.answer("GET", SINGLE, 404, PATH_NOT_FOUND, times=1)
    with pytest.raises(RcsyncError, match="could not be read"):
        _pull(world)
    assert world.local(mid)[1::2] == ("Alive", "Alive")  # nothing merged
    assert _journal(world) is not None  # kept for the next run
    _pull(world)  # RingCentral answers again: settled, then merged
    assert _journal(world) is None
    assert world.local(mid)[1::2] == ("Alive", "Deleted")
    assert world.pending() == [(mid, "availability", "Alive")]


def test_journal_read_failure_stops_the_pull_before_any_merge(world: World) -> None:
    mid = _crash_mid_trash(world)
    world.faults.answer("GET", SINGLE, 503, times=100)  # 5xx after the client's retries
    with pytest.raises(RcsyncError):
        _pull(world)
    assert world.local(mid)[1::2] == ("Alive", "Alive")
    assert _journal(world) is not None
    world.faults.rules.clear()
    _pull(world)
    assert world.pending() == [(mid, "availability", "Alive")]


def test_journal_with_a_whole_request_404_on_the_bulk_read_reads_each_message(
    world: World,
) -> None:
    mids = world.ids("availability = 'Alive'", 3)
    for mid in mids:
        world.sql("UPDATE message SET availability = 'Deleted' WHERE id = :i", i=mid)
    world.faults.crash_after("DELETE")
    with pytest.raises(Crash):
        push(world.db, world.client(), world.config)
    world.sql(f"UPDATE message SET availability = 'Alive' WHERE id IN ({mids[0]}, {mids[1]})")
    world.faults.answer("GET", r"/message-store/\d+(,\d+)+$", 404, PATH_NOT_FOUND)
    _pull(world)
    assert _journal(world) is None
    assert world.pending() == [
        (mids[0], "availability", "Alive"),
        (mids[1], "availability", "Alive"),
    ]
    assert world.local(mids[2])[1::2] == ("Deleted", "Deleted")
