"""The pull's read-then-write is one transaction (issue 10, case 6), with real processes.

A real `rcsync pull` is held for a moment right after it read the rows of a batch (a
``sitecustomize`` hook on the subprocess's path widens that window deterministically), and
the sqlite3 shell commits the user's edit in that window. The pull's transaction is
``BEGIN IMMEDIATE``, so the shell waits (its ``.timeout``) and commits after the pull's
batch: the deleted row stays deleted, the pending purge stays a purge. On the main of
before the fix the shell committed inside the window and the pull undid it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok
from tests.harness.processes import rcsync_cmd

HOLD_SECONDS = 1.5
HOOK = """
import os, time
marker = os.environ.get("RCSYNC_TEST_HOLD_AFTER_READ")
if marker:
    import rcsync.store.messages as save

    real = save.fetch_existing

    def hooked(conn, ids):
        out = real(conn, ids)
        if not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(float(os.environ["RCSYNC_TEST_HOLD_SECONDS"]))
        return out

    save.fetch_existing = hooked
"""


def _held_pull(env: Served, user_sql: str) -> float:
    """`rcsync pull`, held after its first read of a batch while the shell runs `user_sql`;
    returns how long the shell waited for its edit."""
    hook_dir = env.home / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    marker = env.home / "read-done"
    marker.unlink(missing_ok=True)
    run_env = dict(os.environ)
    run_env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(hook_dir), run_env.get("PYTHONPATH")])),
        RCSYNC_TEST_HOLD_AFTER_READ=str(marker),
        RCSYNC_TEST_HOLD_SECONDS=str(HOLD_SECONDS),
    )
    pull = subprocess.Popen(
        [*rcsync_cmd(), "--config", str(env.config_file()), "pull"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=run_env,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert pull.poll() is None, pull.communicate()
        assert time.monotonic() < deadline, "the pull never read a batch"
        time.sleep(0.02)
    started = time.monotonic()
    env.sql(user_sql)  # the sqlite3 shell, .timeout 30000
    waited = time.monotonic() - started
    _out, err = pull.communicate(timeout=120)
    assert pull.returncode == 0, err
    return waited


def _an_alive_id(env: Served) -> int:
    return int(env.scalar("SELECT id FROM message WHERE availability = 'Alive' ORDER BY id"))


def test_row_deleted_while_the_pull_merges_it_never_comes_back(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=300)
    assert env.run("pull").returncode == 0
    mid = _an_alive_id(env)
    read = env.remote()[mid]["readStatus"]
    flipped = "Read" if read == "Unread" else "Unread"
    env.ctl.patch(f"/_emulator/messages/{mid}", json={"readStatus": flipped})  # in the ISync
    waited = _held_pull(env, f"DELETE FROM message WHERE id = {mid};")
    assert env.scalar(f"SELECT count(*) FROM message WHERE id = {mid}") == 0
    assert env.scalar(f"SELECT count(*) FROM tombstone WHERE message_id = {mid}") == 1
    # The shell had to wait for the pull's batch: the pull held the write lock from its read.
    assert waited >= HOLD_SECONDS / 2, waited
    env.ctl.patch(f"/_emulator/messages/{mid}", json={"readStatus": read})
    assert env.run("pull").returncode == 0
    assert env.scalar(f"SELECT count(*) FROM message WHERE id = {mid}") == 0
    integrity_ok(env)


def test_pending_purge_made_while_the_pull_merges_never_becomes_a_trash(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=300)
    assert env.run("pull").returncode == 0
    mid = _an_alive_id(env)
    env.sql(f"UPDATE message SET availability = 'Deleted' WHERE id = {mid};")  # pending trash
    env.ctl.patch(f"/_emulator/messages/{mid}", json={"availability": "Deleted"})  # elsewhere too
    waited = _held_pull(env, f"UPDATE message SET availability = 'Purged' WHERE id = {mid};")
    local, base = env.rows(f"SELECT availability, base_availability FROM message WHERE id = {mid}")[
        0
    ]
    assert (local, base) != ("Deleted", "Deleted")  # the purge was not turned into a trash
    assert local == "Purged" and base != "Purged"
    assert env.scalar("SELECT count(*) FROM conflict") == 0
    assert waited >= HOLD_SECONDS / 2, waited
    assert env.run("sync").returncode == 0  # the purge is pushed
    assert env.remote()[mid]["availability"] == "Purged"
    assert_mirror_matches_remote(env)
    integrity_ok(env)
