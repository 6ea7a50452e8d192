"""Issue 10 case 1 with real ``rcsync`` processes: a push killed after its trash DELETE
reached RingCentral leaves the write in its journal; the user undoes the trash in the
sqlite3 shell (local = base = Alive, nothing pending); then a plain ``rcsync pull`` or an
``rcsync watch`` (whose first sweep is a pull) must keep the undo: the journal is settled
before anything is merged, the undo becomes a pending restore, and it reaches the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok

pytestmark = pytest.mark.slow

LATENCY_MS = 1500  # long enough to kill the push while its DELETE is being answered


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def deletes(env: Served) -> int:
    return int(env.counters()["by_operation"].get("deleteMessage", 0))


def journal(env: Served) -> list[tuple[object, ...]]:
    return env.rows("SELECT value FROM sync_state WHERE key = 'push_in_flight'")


def kill_push_after_delete(env: Served) -> int:
    """Mirror, trash one message locally, SIGKILL `rcsync push` once its DELETE arrived;
    the server performs it anyway. Then the user undoes the trash in the sqlite3 shell."""
    done = env.run("pull")
    assert done.returncode == 0, done.stderr
    mid = int(env.scalar("SELECT min(id) FROM message WHERE availability = 'Alive'"))
    env.sql(f"UPDATE message SET availability = 'Deleted' WHERE id = {mid};")
    env.configure(faults={"latency_ms": LATENCY_MS})
    proc = env.popen("push")
    wait_for(lambda: deletes(env) == 1 or proc.poll() is not None, 60, "the DELETE")
    assert proc.poll() is None, "the push ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    env.configure(faults={"latency_ms": 0})
    wait_for(lambda: env.remote()[mid]["availability"] == "Deleted", 10, "the trash applied")
    assert journal(env) != [], "the killed push left no journal"
    env.sql(f"UPDATE message SET availability = 'Alive' WHERE id = {mid};")
    assert env.rows("SELECT * FROM pending_change") == []
    return mid


def test_plain_pull_after_a_killed_push_keeps_the_undo(env: Served) -> None:
    # Fails on main: the pull took the remote Deleted (local = base), the undo was lost.
    mid = kill_push_after_delete(env)
    done = env.run("pull")
    assert done.returncode == 0, done.stderr
    integrity_ok(env)
    assert journal(env) == []
    assert env.rows(f"SELECT availability, base_availability FROM message WHERE id = {mid}") == [
        ("Alive", "Deleted")
    ]
    assert env.rows("SELECT message_id, field, new_value FROM pending_change") == [
        (mid, "availability", "Alive")
    ]
    done = env.run("push")
    assert done.returncode == 0 and "0 failed" in done.stdout, done.stdout + done.stderr
    assert env.remote()[mid]["availability"] == "Alive"
    assert deletes(env) == 1  # the trash was never sent again
    assert_mirror_matches_remote(env)


def test_watch_after_a_killed_push_keeps_the_undo(env: Served) -> None:
    # Fails on main: the watch's first sweep pulled the remote Deleted over the undo.
    mid = kill_push_after_delete(env)
    watch = env.popen("watch", "--interval", "1")
    try:
        wait_for(lambda: env.remote()[mid]["availability"] == "Alive", 60, "the restore")
        wait_for(lambda: env.rows("SELECT * FROM pending_change") == [], 30, "nothing pending")
    finally:
        watch.send_signal(signal.SIGTERM)
        try:
            watch.wait(30)
        except subprocess.TimeoutExpired:
            watch.kill()
    assert watch.returncode == 0, watch.stderr.read() if watch.stderr else ""
    assert env.rows(f"SELECT availability, base_availability FROM message WHERE id = {mid}") == [
        ("Alive", "Alive")
    ]
    assert deletes(env) == 1
    assert_mirror_matches_remote(env)


def test_pull_that_cannot_read_the_journal_merges_nothing(env: Served) -> None:
    # Fails on main: the unreadable message was dropped from the journal and the pull
    # took the remote Deleted over the undo.
    mid = kill_push_after_delete(env)
    env.post("/_emulator/faults", {"operation": "readMessage", "status": 404, "times": 1})
    done = env.run("pull")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "could not be read" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert env.rows(f"SELECT availability, base_availability FROM message WHERE id = {mid}") == [
        ("Alive", "Alive")
    ]
    assert journal(env) != []
    done = env.run("sync")  # RingCentral answers again: settled, merged, restored
    assert done.returncode == 0, done.stdout + done.stderr
    assert journal(env) == [] and env.remote()[mid]["availability"] == "Alive"
    assert deletes(env) == 1
    assert_mirror_matches_remote(env)
