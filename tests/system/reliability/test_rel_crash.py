"""Crashes: real ``rcsync pull|push|sync`` processes against a served emulator, killed with
SIGKILL after a random (seeded) delay, 36 times, with local edits made in the sqlite3
shell and remote changes between the runs. After every kill the database passes
``PRAGMA integrity_check`` and no trashed message has been purged; at the end one clean
``rcsync sync`` converges, the mirror equals the server, and every edit made before a run is
on the server (none reverted silently, none lost).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok

pytestmark = pytest.mark.slow

KILLS = 36
SEED = 20240607
MESSAGES = 3_000


class Intent:
    """What the user asked for, per message, in edit order (each message edited once)."""

    def __init__(self) -> None:
        self.read: dict[int, str] = {}
        self.trash: set[int] = set()
        self.purge: set[int] = set()
        self.rows: set[int] = set()

    @property
    def touched(self) -> set[int]:
        return set(self.read) | self.trash | self.purge | self.rows


def edit(env: Served, rng: random.Random, intent: Intent) -> None:
    """A few local edits with the sqlite3 shell, on messages never edited before."""
    rows = env.rows("SELECT id, read_status, availability FROM message ORDER BY id")
    free = [r for r in rows if r[0] not in intent.touched and r[2] == "Alive"]
    if len(free) < 20:
        return
    picks = rng.sample(free, rng.randint(3, 15))
    sql = []
    for mid, read, _ in picks:
        what = rng.choices(["read", "trash", "purge", "row"], [6, 3, 1, 1])[0]
        if what == "read":
            new = "Unread" if read == "Read" else "Read"
            intent.read[mid] = new
            sql.append(f"UPDATE message SET read_status = '{new}' WHERE id = {mid};")
        elif what == "trash":
            intent.trash.add(mid)
            sql.append(f"UPDATE message SET availability = 'Deleted' WHERE id = {mid};")
        elif what == "purge":
            intent.purge.add(mid)
            sql.append(f"UPDATE message SET availability = 'Purged' WHERE id = {mid};")
        else:
            intent.rows.add(mid)
            sql.append(f"DELETE FROM message WHERE id = {mid};")
    env.sql("".join(sql))


def remote_changes(env: Served, rng: random.Random, intent: Intent) -> None:
    remote = env.remote()
    others = [
        i for i, r in remote.items() if i not in intent.touched and r["availability"] == "Alive"
    ]
    for mid in rng.sample(others, 3):
        env.ctl.patch(
            f"/_emulator/messages/{mid}", json={"readStatus": rng.choice(["Read", "Unread"])}
        )
    env.post("/_emulator/messages", {"count": rng.randint(0, 4)})


def check_after_kill(env: Served, intent: Intent) -> None:
    integrity_ok(env)
    assert env.scalar("SELECT count(*) - count(DISTINCT id) FROM message") == 0
    remote = env.remote()
    purged = [i for i in intent.trash | intent.rows if remote[i]["availability"] == "Purged"]
    assert not purged, f"trashed messages purged: {purged}"
    # An edit not yet confirmed is still in the database, never reverted.
    local = {r[0]: r[1:] for r in env.rows("SELECT id, read_status, availability FROM message")}
    for mid, want in intent.read.items():
        if mid in local and remote[mid]["readStatus"] != want:
            assert local[mid][0] == want, (mid, local[mid], want)
    for mid in intent.trash:
        if remote[mid]["availability"] == "Alive":
            assert local[mid][1] == "Deleted", (mid, local[mid])
    assert not intent.rows & set(local), "a deleted row came back"


def kill_at_random(env: Served, args: list[str], rng: random.Random, work: dict[str, float]) -> str:
    """Start; one time in eight SIGKILL during start-up (opening/migrating the database),
    else wait for its first API request and SIGKILL at a random moment of its work. A run
    that finishes first tells how long that command works (`work`), so later kills land
    inside it."""
    before = env.counters()["total"]
    proc = env.popen(*args)
    early = rng.random() < 1 / 8
    first = time.monotonic()
    deadline = first + rng.uniform(0.05, 0.6)
    while proc.poll() is None and not early:
        if env.counters()["total"] > before:
            first = time.monotonic()
            deadline = first + rng.uniform(0.0, 0.95) * work[args[0]]
            break
        time.sleep(0.005)
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return "killed" if env.counters()["total"] > before else "killed early"
    _out, err = proc.communicate()
    if not early:
        work[args[0]] = time.monotonic() - first
    assert proc.returncode in (0, 1), err
    assert "Traceback" not in err, err
    return "finished" if proc.returncode == 0 else f"failed: {err.strip()}"


def test_sigkill_at_random_moments_converges(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=MESSAGES)
    # Unlimited (so runs are short enough to kill anywhere) but slow enough per request.
    env.configure(
        rate_limits={
            "enabled": False,
            "window": 1,
            "limits": {"Light": 10_000, "Medium": 10_000, "Auth": 10_000},
        },
        faults={"latency_ms": 25},
    )
    rng = random.Random(SEED)
    intent = Intent()
    outcomes: dict[str, list[str]] = {"pull": [], "push": [], "sync": []}
    work = {"pull": 2.0, "push": 0.5, "sync": 1.0}
    # The first full pull, killed several times before it can finish.
    for _ in range(4):
        outcomes["pull"].append(kill_at_random(env, ["pull"], rng, work))
        check_after_kill(env, intent)
    for _ in range(60):
        if sum(o.startswith("killed") for runs in outcomes.values() for o in runs) >= KILLS:
            break
        command = rng.choice(["pull", "push", "sync"])
        if env.db.exists() and env.scalar("SELECT count(*) FROM message") > 100:
            edit(env, rng, intent)
        remote_changes(env, rng, intent)
        outcomes[command].append(kill_at_random(env, [command], rng, work))
        check_after_kill(env, intent)

    for _attempt in range(3):
        done = env.run("sync")
        if done.returncode == 0 and not env.rows("SELECT 1 FROM pending_change LIMIT 1"):
            break
    assert done.returncode == 0, done.stderr
    check_after_kill(env, intent)
    assert_mirror_matches_remote(env)
    remote = env.remote()
    lost = [m for m, want in intent.read.items() if remote[m]["readStatus"] != want]
    lost += [m for m in intent.trash | intent.rows if remote[m]["availability"] != "Deleted"]
    lost += [m for m in intent.purge if remote[m]["availability"] != "Purged"]
    assert not lost, lost
    killed = sum(o.startswith("killed") for runs in outcomes.values() for o in runs)
    mid_work = sum(o == "killed" for runs in outcomes.values() for o in runs)
    summary: dict[str, Any] = {
        c: (sum(o == "killed" for o in runs), sum(o.startswith("killed") for o in runs), len(runs))
        for c, runs in outcomes.items()
    }
    assert killed >= KILLS, outcomes
    assert mid_work >= KILLS * 2 // 3, outcomes
    print(
        f"\n{killed} SIGKILLs, {mid_work} after the first API request (mid-work/killed/"
        f"started by command: {summary}); "
        f"{len(intent.touched)} edits all on the server; failures: "
        f"{[o for runs in outcomes.values() for o in runs if o.startswith('failed')]}"
    )
