"""`rcsync watch` as a real process against a served emulator (real loopback HTTP).

Edits are made with the sqlite3 shell, remote arrivals through the emulator; the watch is
stopped with SIGTERM (exit 0, nothing pending lost) or killed with SIGKILL mid-push and
restarted (everything converges; a trash is never turned into a purge).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from tests.harness.loopback import WatchSetup
from tests.harness.processes import wait_for

pytestmark = pytest.mark.slow


def _alive_unread(setup: WatchSetup, n: int) -> list[int]:
    rows = setup.query(
        "SELECT id FROM message WHERE availability = 'Alive' AND "
        "read_status = 'Unread' ORDER BY id LIMIT ?",
        (n,),
    )
    assert len(rows) == n, "the emulator's seed has too few unread messages"
    return [r[0] for r in rows]


def _csv(ids: list[int]) -> str:
    return ",".join(map(str, ids))


def _remote(setup: WatchSetup, mid: int, key: str) -> object:
    record = setup.emu.store.get(mid)
    return None if record is None else record.get(key)


def test_edits_go_out_arrivals_come_in_and_sigterm_exits_cleanly(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup = make_setup()
    setup.first_pull()
    watch = setup.watch("--interval", "1")
    watch.wait_log("pulled")

    [mid] = _alive_unread(setup, 1)
    started = time.monotonic()
    setup.sql(f"UPDATE message SET read_status = 'Read' WHERE id = {mid}")
    wait_for(lambda: _remote(setup, mid, "readStatus") == "Read", 10, "the edit on the server")
    assert time.monotonic() - started < 5
    wait_for(lambda: setup.pending() == 0, 10, "pending_change to empty")

    arrived = [r["id"] for r in setup.emu.store.arrive(3)]
    marks = ",".join("?" * len(arrived))
    wait_for(
        lambda: (
            len(setup.query(f"SELECT id FROM message WHERE id IN ({marks})", tuple(arrived))) == 3
        ),
        1 + 5,
        "the arrivals in the local database",
    )

    # A local trash edit made just before SIGTERM is either sent or still pending: never lost.
    other = setup.query(
        "SELECT id FROM message WHERE availability = 'Alive' AND id <> ? LIMIT 1", (mid,)
    )[0][0]
    setup.sql(f"UPDATE message SET availability = 'Deleted' WHERE id = {other}")
    stopped = time.monotonic()
    assert watch.stop(signal.SIGTERM) == 0, watch.log()
    assert time.monotonic() - stopped < 5
    sent = _remote(setup, other, "availability") == "Deleted"
    assert sent or setup.pending() == 1
    assert "stopped" in watch.log()
    assert "Traceback" not in watch.log()


def test_own_writes_do_not_wake_it_into_a_loop(make_setup: Callable[..., WatchSetup]) -> None:
    setup = make_setup()
    setup.first_pull()
    watch = setup.watch("--interval", "30")
    watch.wait_log("pulled")
    ids = [
        r[0]
        for r in setup.query(
            "SELECT id FROM message WHERE availability = 'Alive' "
            "AND read_status = 'Read' ORDER BY id LIMIT 5"
        )
    ]
    assert len(ids) == 5
    setup.sql(f"UPDATE message SET read_status = 'Unread' WHERE id IN ({_csv(ids)})")
    wait_for(
        lambda: all(_remote(setup, m, "readStatus") == "Unread" for m in ids),
        10,
        "the edits on the server",
    )
    time.sleep(1.5)  # let the push's own writes and the pull after it settle
    before = setup.emu.counters.snapshot()["total"]
    time.sleep(3)
    assert setup.emu.counters.snapshot()["total"] == before, watch.log()
    assert watch.log().count("pushed 5") == 1
    assert watch.stop() == 0


def test_sigkill_mid_push_then_restart_converges_without_purging_trash(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup = make_setup(messages=400, seed=11)
    setup.first_pull()
    rows = setup.query("SELECT id FROM message WHERE availability = 'Alive' ORDER BY id LIMIT 300")
    trashed = [r[0] for r in rows]
    assert len(trashed) == 300
    setup.emu.configure(faults={"latency_ms": 150})
    setup.emu.counters.reset()
    watch = setup.watch("--interval", "1000")
    watch.wait_log("pulled")
    setup.sql(f"UPDATE message SET availability = 'Deleted' WHERE id IN ({_csv(trashed)})")

    def some_deleted_remotely() -> bool:
        return any(_remote(setup, m, "availability") == "Deleted" for m in trashed)

    wait_for(some_deleted_remotely, 20, "the push to start deleting", every=0.01)
    watch.kill()
    done = sum(_remote(setup, m, "availability") == "Deleted" for m in trashed)
    assert done < 300, "the push finished before the kill; raise latency_ms"

    setup.emu.configure(faults={"latency_ms": 0})
    again = setup.watch("--interval", "1")
    wait_for(lambda: setup.pending() == 0, 30, "pending_change to empty after restart")
    wait_for(
        lambda: all(_remote(setup, m, "availability") == "Deleted" for m in trashed),
        10,
        "every trash edit on the server",
    )
    time.sleep(1.5)  # one more pull so the mirror has the final server state
    assert again.stop() == 0, again.log()
    purged = [m for m in trashed if _remote(setup, m, "availability") == "Purged"]
    assert purged == []
    local = dict(setup.query("SELECT id, availability FROM message"))
    remote = {r["id"]: r["availability"] for r in setup.emu.store.all_records()}
    assert {m: local.get(m) for m in remote if m in local} == {
        m: remote[m] for m in remote if m in local
    }
    assert set(local) <= set(remote)


def test_sigterm_mid_push_stops_between_batches_then_restart_converges(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup = make_setup(messages=400, seed=11)
    setup.first_pull()
    trashed = [
        r[0]
        for r in setup.query(
            "SELECT id FROM message WHERE availability = 'Alive' ORDER BY id LIMIT 300"
        )
    ]
    assert len(trashed) == 300  # 6 DELETE batches of 50
    watch = setup.watch("--interval", "1000")
    watch.wait_log("pulled")
    setup.emu.configure(faults={"latency_ms": 500})  # each request takes half a second
    setup.emu.counters.reset()
    setup.sql(f"UPDATE message SET availability = 'Deleted' WHERE id IN ({_csv(trashed)})")

    def deletes() -> int:
        return int(setup.emu.counters.by_operation["deleteMessage"])

    wait_for(
        lambda: any(_remote(setup, m, "availability") == "Deleted" for m in trashed),
        30,
        "the first DELETE batch to be applied",
        every=0.01,
    )
    sent = deletes()
    stopped = time.monotonic()
    assert watch.stop(signal.SIGTERM) == 0, watch.log()
    assert time.monotonic() - stopped < 5, "the push ran on after SIGTERM"
    assert deletes() <= sent + 1, "batches were sent after the stop request"
    done = sum(_remote(setup, m, "availability") == "Deleted" for m in trashed)
    assert done < 300, "the push finished before the stop; raise latency_ms"
    assert "stopped early" in watch.log() and "Traceback" not in watch.log()
    assert setup.pending() == 300 - done
    assert setup.query("SELECT value FROM sync_state WHERE key = 'push_in_flight'") == []

    setup.emu.configure(faults={"latency_ms": 0})
    again = setup.watch("--interval", "1")
    wait_for(lambda: setup.pending() == 0, 30, "pending_change to empty after restart")
    assert again.stop() == 0, again.log()
    # Every trash reached the server once: a second DELETE would have purged it.
    assert [_remote(setup, m, "availability") for m in trashed] == ["Deleted"] * 300
    assert deletes() <= 300 // 50 + 1
