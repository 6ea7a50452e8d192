"""Faults: the same story (first pull, then rounds of local edits, remote edits, arrivals
and pull/push/sync) run twice on twin emulators, one answering 500/503 at random
(error_rate 0.1), dropping connections after applying the request (reset_rate 0.05) and
adding latency. The faulty run must end in exactly the twin's state, locally and remotely,
with bounded, jittered retries, and no lost DELETE answer may turn a trash into a purge.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from rcsync.errors import RcsyncError
from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok, mirror

pytestmark = pytest.mark.slow

FAULTS = {"error_rate": 0.1, "reset_rate": 0.05, "latency_ms": 5}
ROUNDS = 24
# Limits high enough that pacing never waits (the headers advertise them).
UNLIMITED = {
    "enabled": False,
    "window": 1,
    "limits": {"Light": 10_000, "Medium": 10_000, "Auth": 10_000},
}


class Sleeps:
    """Records every back-off the client asks for, and sleeps a tenth of it."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(seconds / 10)


def round_edits(
    rng: random.Random, ids: list[int], avail: dict[int, str]
) -> tuple[str, dict[str, set[int]]]:
    """SQL for one round of local edits (same on both twins) and the ids it touches."""
    alive = [i for i in ids if avail[i] == "Alive"]
    deleted = [i for i in ids if avail[i] == "Deleted"]
    flips = rng.sample(alive, 30)
    rest = [i for i in alive if i not in flips]
    trash = rng.sample(rest, rng.choice([1, 1, 2, 7, 60]))  # 1 = a bodiless 204 DELETE
    rest = [i for i in rest if i not in trash]
    purge = rng.sample(rest, rng.choice([0, 1, 3]))
    rest = [i for i in rest if i not in purge]
    rows = rng.sample(rest, 2)
    restore = rng.sample(deleted, min(len(deleted), rng.choice([0, 1, 5])))
    inlist = lambda xs: ",".join(map(str, xs)) or "NULL"  # noqa: E731
    sql = (
        "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        f" ELSE 'Read' END WHERE id IN ({inlist(flips)});"
        f"UPDATE message SET availability = 'Deleted' WHERE id IN ({inlist(trash)});"
        f"UPDATE message SET availability = 'Purged' WHERE id IN ({inlist(purge)});"
        f"UPDATE message SET availability = 'Alive' WHERE id IN ({inlist(restore)});"
        f"DELETE FROM message WHERE id IN ({inlist(rows)});"
    )
    return sql, {
        "flips": set(flips),
        "trash": set(trash) | set(rows),
        "purge": set(purge),
        "restore": set(restore),
    }


def until_clean(
    env: Served, step: Callable[[], Any], attempts: int, *, pending_ok: bool = False
) -> int:
    """Run `step` until it succeeds with nothing left pending; returns the runs needed."""
    for run in range(1, attempts + 1):
        try:
            step()
        except RcsyncError:
            continue
        if pending_ok or not env.rows("SELECT 1 FROM pending_change LIMIT 1"):
            return run
    raise AssertionError(
        f"not converged after {attempts} runs: {env.rows('SELECT * FROM pending_change')[:5]}"
    )


def story(env: Served, *, faulty: bool, seed: int = 7) -> dict[str, Any]:
    sleeps = Sleeps()
    env.configure(rate_limits=UNLIMITED)
    if faulty:
        env.configure(faults=FAULTS)

    def client() -> Any:
        from rcsync.api import TokenStore, build_client

        return build_client(env.rc(), store=TokenStore(env.token_file), sleep=sleeps)

    attempts = 10 if faulty else 1
    runs = [until_clean(env, lambda: env.pull(client=client()), attempts)]
    rng = random.Random(seed)
    trashed: set[int] = set()
    purged: set[int] = set()
    for n in range(ROUNDS):
        ids = sorted(mirror(env))
        avail = {i: row[2] for i, row in mirror(env).items()}
        sql, edits = round_edits(rng, ids, avail)
        touched = set().union(*edits.values())
        env.sql(sql)
        trashed |= edits["trash"]
        purged |= edits["purge"]
        # Another device edits other messages; new messages arrive.
        others = rng.sample([i for i in ids if i not in touched and avail[i] == "Alive"], 5)
        for i in others:
            env.ctl.patch(f"/_emulator/messages/{i}", json={"readStatus": "Read"})
        env.post("/_emulator/messages", {"count": 3})
        command = ("push", "sync", "pull")[n % 3]
        if command == "push":
            runs.append(until_clean(env, lambda: env.push(client=client()), attempts))
            runs.append(until_clean(env, lambda: env.pull(client=client()), attempts))
        elif command == "sync":
            runs.append(until_clean(env, lambda: env.sync(client=client()), attempts))
        else:
            runs.append(
                until_clean(env, lambda: env.pull(client=client()), attempts, pending_ok=True)
            )
            runs.append(until_clean(env, lambda: env.push(client=client()), attempts))
            runs.append(until_clean(env, lambda: env.pull(client=client()), attempts))
    env.configure(faults={"error_rate": 0, "reset_rate": 0, "latency_ms": 0})
    return {"runs": runs, "sleeps": sleeps.asked, "trashed": trashed, "purged": purged}


def test_faulty_run_ends_like_a_fault_free_twin(make_served: Callable[..., Served]) -> None:
    clean, faulty = make_served(messages=2_000), make_served(messages=2_000)
    twin = story(clean, faulty=False)
    got = story(faulty, faulty=True)

    counters = faulty.counters()
    status = counters["status"]
    # Faults really happened: 5xx answers and dropped connections (writes among them).
    assert status.get("500", 0) + status.get("503", 0) >= 15, counters
    assert len(got["sleeps"]) >= 10

    # Same end state as the twin, locally and remotely.
    assert_mirror_matches_remote(clean)
    assert_mirror_matches_remote(faulty)
    remote_clean = {i: (r["readStatus"], r["availability"]) for i, r in clean.remote().items()}
    remote_faulty = {i: (r["readStatus"], r["availability"]) for i, r in faulty.remote().items()}
    assert remote_faulty == remote_clean

    def state(env: Served) -> dict[int, tuple[Any, ...]]:  # arrivals' times differ: wall clock
        return {i: row[:5] + row[6:] for i, row in mirror(env).items()}

    assert state(faulty) == state(clean)
    assert faulty.rows("SELECT message_id FROM tombstone ORDER BY 1") == clean.rows(
        "SELECT message_id FROM tombstone ORDER BY 1"
    )
    # A message trashed locally (and never purged on purpose) is not purged remotely: no
    # lost DELETE answer was resent.
    assert got["trashed"] == twin["trashed"]
    wrongly = [i for i in got["trashed"] - got["purged"] if remote_faulty[i][1] == "Purged"]
    assert not wrongly
    integrity_ok(faulty)

    # Retries are bounded and jittered: RetryPolicy(attempts=5, base 2 s, cap 60 s).
    assert max(got["sleeps"]) <= 60
    assert len(set(got["sleeps"])) > len(got["sleeps"]) // 2  # jitter: few equal delays
    print(
        f"\nfaults {FAULTS}: {counters['total']} requests, statuses {status}, "
        f"{len(got['sleeps'])} back-offs (max {max(got['sleeps']):.2f}s), "
        f"runs per step {got['runs']} (twin {twin['runs']}), "
        f"{len(got['trashed'])} trashed, none purged"
    )
