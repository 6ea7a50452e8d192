"""Concurrent editors: the user's own SQLite client writes to the database while rcsync
pulls. rcsync waits for an open write transaction (busy timeout) instead of failing, and
what the user commits is neither overwritten nor lost.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from tests.harness.database import SQLITE3
from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok

HOLD = 3.0


def test_pull_waits_for_a_write_transaction_held_in_the_sqlite3_shell(
    make_served: Callable[..., Served],
) -> None:
    env = make_served(messages=1_000)
    assert env.run("pull").returncode == 0
    ids = [
        r[0]
        for r in env.rows(
            "SELECT id FROM message WHERE availability = 'Alive' ORDER BY id LIMIT 20"
        )
    ]
    mine, theirs = ids[:10], ids[10:]
    for mid in theirs:  # another device changes other messages; new ones arrive
        env.ctl.patch(f"/_emulator/messages/{mid}", json={"readStatus": "Unread"})
    env.post("/_emulator/messages", {"count": 5})

    shell = subprocess.Popen(
        [SQLITE3, str(env.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert shell.stdin is not None
    in_list = ",".join(map(str, mine))
    shell.stdin.write(
        "BEGIN IMMEDIATE;\n"
        f"UPDATE message SET read_status = 'Unread' WHERE id IN ({in_list});\n"
        "SELECT 'held';\n"
    )
    shell.stdin.flush()
    assert shell.stdout is not None and shell.stdout.readline().strip() == "held"

    started = time.monotonic()
    pull = env.popen("pull")
    time.sleep(HOLD)
    assert pull.poll() is None, pull.communicate()  # still waiting for the user's transaction
    shell.stdin.write("COMMIT;\n.quit\n")
    shell.stdin.flush()
    assert shell.wait(timeout=30) == 0, shell.stderr.read() if shell.stderr else ""
    _out, err = pull.communicate(timeout=120)
    assert pull.returncode == 0, err
    assert time.monotonic() - started >= HOLD

    rows = dict(env.rows(f"SELECT id, read_status FROM message WHERE id IN ({in_list})"))
    assert set(rows.values()) == {"Unread"}  # the user's edits survived the pull
    pending = {r[0] for r in env.rows("SELECT message_id FROM pending_change")}
    changed = {m for m in mine if env.remote()[m]["readStatus"] != "Unread"}
    assert pending == changed  # ... and are pending exactly where they change something
    theirs_local = dict(
        env.rows(f"SELECT id, read_status FROM message WHERE id IN ({','.join(map(str, theirs))})")
    )
    assert set(theirs_local.values()) == {"Unread"}  # the remote edits arrived
    assert env.run("push").returncode == 0
    assert all(env.remote()[m]["readStatus"] == "Unread" for m in mine)
    assert env.run("pull").returncode == 0
    assert_mirror_matches_remote(env)
    integrity_ok(env)


def test_edits_committed_during_a_first_pull_are_kept(make_served: Callable[..., Served]) -> None:
    """A 20,000-message first pull commits page by page; the user edits rows already
    pulled (autocommit, the way most SQLite browsers write) while it runs."""
    env = make_served(messages=20_000)
    env.configure(faults={"latency_ms": 100})  # a slower server: more edits land meanwhile
    pull = env.popen("pull")
    edits: dict[int, str] = {}
    while pull.poll() is None:
        time.sleep(0.1)
        if not env.db.exists():
            continue
        try:
            rows = env.rows(
                "SELECT id, read_status FROM message WHERE availability = 'Alive'"
                f" AND id NOT IN ({','.join(map(str, edits)) or '-1'})"
                " ORDER BY random() LIMIT 3"
            )
        except Exception:  # the schema may not exist yet
            continue
        for mid, read in rows:
            new = "Unread" if read == "Read" else "Read"
            env.sql(f"UPDATE message SET read_status = '{new}' WHERE id = {mid};")
            edits[mid] = new
    _out, err = pull.communicate()
    assert pull.returncode == 0, err
    assert len(edits) >= 6, "the pull was too fast to edit during it"
    local = dict(env.rows("SELECT id, read_status FROM message"))
    assert {m: local[m] for m in edits} == edits
    pending = {r[0] for r in env.rows("SELECT message_id FROM pending_change")}
    assert pending == set(edits)
    assert env.run("sync").returncode == 0
    remote = env.remote()
    assert {m: remote[m]["readStatus"] for m in edits} == edits
    assert_mirror_matches_remote(env)
    print(f"\n{len(edits)} edits committed during a 20,000-message first pull, all kept")
