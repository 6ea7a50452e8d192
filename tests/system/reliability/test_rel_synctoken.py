"""The sync token under RingCentral's harsher readings, with real `rcsync` processes
(issue 10, cases 3-5).

Between the processes and the served emulator sits a loopback relay (`harsh.relay`) that
plays what the docs allow a real server to do: reject a stale token with 400 ``CMN-101``,
let an FSync's ``recordCount`` bound its token's frame, and answer an ISync in parts
(``olderRecordsExist``). Each test fails on the main of before the fix.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from tests.harness.harsh import Harsh, relay
from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok


def _pull(env: Served, proxy: str, *args: str) -> str:
    done = env.run("pull", *args, config=env.config_file(rc={"server": proxy}))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout + done.stderr


def _flip(env: Served, mid: int) -> None:
    read = env.remote()[mid]["readStatus"]
    env.ctl.patch(
        f"/_emulator/messages/{mid}", json={"readStatus": "Read" if read == "Unread" else "Unread"}
    )


def _alive(env: Served) -> list[int]:
    """Alive ids, newest first."""
    records = sorted(env.remote().values(), key=lambda r: r["creationTime"], reverse=True)
    return [int(r["id"]) for r in records if r["availability"] == "Alive"]


def test_cmn_101_means_a_full_resync_that_keeps_local_edits(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=1_500)
    with relay(env.url, lambda t: Harsh(t, cmn_101=True)) as proxy:
        _pull(env, proxy)
        alive = _alive(env)
        env.sql(
            f"UPDATE message SET availability = 'Deleted' WHERE id = {alive[0]};"
            f" DELETE FROM message WHERE id = {alive[1]};"
        )
        pending = env.scalar("SELECT count(*) FROM pending_change")
        env.post("/_emulator/invalidate-sync-tokens")
        _flip(env, alive[2])
        out = _pull(env, proxy)
        assert "full pull" in out
        assert env.scalar("SELECT count(*) FROM pending_change") == pending == 2
        done = env.run("sync", config=env.config_file(rc={"server": proxy}))
        assert done.returncode == 0, done.stderr
    assert env.remote()[alive[0]]["availability"] == "Deleted"
    assert_mirror_matches_remote(env)
    integrity_ok(env)


def test_pull_full_starts_over_when_an_unfinished_first_pulls_token_is_rejected(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=6_000)
    with relay(env.url, lambda t: Harsh(t, cmn_101=True)) as proxy:
        first = env.popen("pull", config=env.config_file(rc={"server": proxy}))
        deadline = time.monotonic() + 120
        while True:  # kill it once a page is committed with the listing's progress
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            if (
                env.db.exists()
                and env.rows("SELECT 1 FROM sqlite_master WHERE name = 'sync_state'")
                and env.rows("SELECT 1 FROM sync_state WHERE key = 'first_pull'")
                and env.scalar("SELECT count(*) FROM message")
            ):
                break
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        env.post("/_emulator/invalidate-sync-tokens")  # the stored listing's T0 is rejected
        out = _pull(env, proxy, "--full")
        assert "full pull" in out
        assert env.scalar("SELECT count(*) FROM sync_state WHERE key = 'first_pull'") == 0
    assert_mirror_matches_remote(env)
    integrity_ok(env)


def test_changes_to_the_oldest_messages_reach_the_mirror_under_a_record_bounded_frame(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=1_500)
    with relay(env.url, lambda t: Harsh(t, record_frame=True, fsync_cap=100)) as proxy:
        _pull(env, proxy)
        oldest = _alive(env)[-3:]
        _flip(env, oldest[0])
        env.ctl.patch(f"/_emulator/messages/{oldest[1]}", json={"availability": "Deleted"})
        env.ctl.patch(f"/_emulator/messages/{oldest[2]}", json={"availability": "Purged"})
        out = _pull(env, proxy)
        assert "full pull" not in out
    assert_mirror_matches_remote(env)
    assert env.scalar(f"SELECT availability FROM message WHERE id = {oldest[2]}") == "Purged"


def test_partial_isync_answers_are_all_merged_before_the_token_moves(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=1_500)
    harsh: list[Harsh] = []

    def capped(inner: object) -> Harsh:
        harsh.append(Harsh(inner, isync_cap=4))  # type: ignore[arg-type]
        return harsh[0]

    with relay(env.url, capped) as proxy:
        _pull(env, proxy)
        env.post("/_emulator/messages", {"count": 6})
        for mid in _alive(env)[10:15]:
            _flip(env, mid)
        harsh[0].partial_answers = 0
        _pull(env, proxy)
        assert harsh[0].partial_answers >= 2  # 11 changes, 4 an answer
        token = env.scalar("SELECT value FROM sync_state WHERE key = 'sync_token'")
        assert not str(token).startswith("part-")
    assert_mirror_matches_remote(env)


def test_the_emulators_own_harsh_modes_all_at_once(make_served: Callable[..., Served]) -> None:
    """The served emulator's modes (``PUT /_emulator/config``): CMN-101, a record-bounded
    FSync frame and ISyncs capped at 3 changes, against real `rcsync pull` and `sync`."""
    env = make_served(messages=1_500)
    env.configure(invalid_sync_token_code="CMN-101", sync_frame="records", isync_max_records=3)
    assert env.run("pull").returncode == 0
    alive = _alive(env)
    for mid in alive[-4:]:  # the oldest: outside any record-bounded frame
        _flip(env, mid)
    env.ctl.patch(f"/_emulator/messages/{alive[-5]}", json={"availability": "Deleted"})
    env.post("/_emulator/messages", {"count": 4})
    done = env.run("pull")
    assert done.returncode == 0, done.stderr
    assert "full pull" not in done.stdout + done.stderr
    assert_mirror_matches_remote(env)
    env.sql(f"UPDATE message SET read_status = 'Read' WHERE id = {alive[0]};")
    env.post("/_emulator/invalidate-sync-tokens")  # answered CMN-101 now
    done = env.run("sync")
    assert done.returncode == 0, done.stderr
    assert env.remote()[alive[0]]["readStatus"] == "Read"
    assert_mirror_matches_remote(env)
    integrity_ok(env)
