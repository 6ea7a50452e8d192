"""Rate limits: a 20,000-message first pull and a 2,000-edit push under the emulator's real
sliding-window limits (window and penalty shortened to seconds), checked from the server's
side: every rate-limit decision the emulator made is in its log, so "no request during a
penalty" and "at most one 429 per penalty window" are measured, not assumed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.harness.account import CLIENT_ID, CLIENT_SECRET, JWT
from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok

pytestmark = pytest.mark.slow

MESSAGES = 20_000
WINDOW = 3
PENALTY = 3


def make_edits(env: Served) -> int:
    """2,000 local edits made with the sqlite3 shell: 800 read-status flips, 1,000 trashes,
    200 restores (all distinct messages)."""
    env.sql(
        "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        " ELSE 'Read' END WHERE id IN (SELECT id FROM message WHERE availability = 'Alive'"
        " ORDER BY id LIMIT 800);"
        "UPDATE message SET availability = 'Deleted' WHERE id IN (SELECT id FROM message"
        " WHERE availability = 'Alive' AND read_status IS base_read_status"
        " ORDER BY id DESC LIMIT 1000);"
        "UPDATE message SET availability = 'Alive' WHERE id IN (SELECT id FROM message"
        " WHERE availability = 'Deleted' AND base_availability = 'Deleted' ORDER BY id"
        " LIMIT 200);"
    )
    return int(env.scalar("SELECT count(*) FROM pending_change"))


def exhaust_light_group(env: Served, limit: int) -> None:
    """Another client of the same user spends the Light budget and earns a 429: a penalty
    is running when rcsync starts."""
    auth = httpx.BasicAuth(CLIENT_ID, CLIENT_SECRET)
    token = env.ctl.post(
        "/restapi/oauth/token",
        auth=auth,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": JWT,
        },
    ).json()["access_token"]
    url = "/restapi/v1.0/account/~/extension/~/message-store"
    for _ in range(limit + 1):
        status = env.ctl.get(
            url, headers={"Authorization": f"Bearer {token}"}, params={"perPage": 1}
        ).status_code
        if status == 429:
            return
    raise AssertionError("the Light group never answered 429")


def check_log(events: list[dict[str, Any]], *, since: float = 0.0) -> dict[str, int]:
    """No request during a penalty (after rcsync's first contact), at most one 429 per
    penalty window; returns counts by outcome."""
    mine = [e for e in events if e["at"] >= since]
    outcomes = {o: sum(e["outcome"] == o for e in mine) for o in ("ok", "throttled", "penalty")}
    refused = [e for e in mine if e["outcome"] != "ok"]
    for group in {e["group"] for e in refused}:
        times = sorted(e["at"] for e in refused if e["group"] == group)
        for a, b in itertools.pairwise(times):
            assert b - a >= PENALTY, f"two 429s in {group} within one penalty: {a} {b}"
    return outcomes


def test_first_pull_and_push_under_default_limits(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=MESSAGES, rate_limits=True)
    env.configure(rate_limits={"enabled": True, "window": WINDOW, "penalty": PENALTY})

    client = env.client()
    summary = env.pull(client=env.client())
    assert summary.new == sum(r["availability"] != "Purged" for r in env.remote().values())
    assert make_edits(env) == 2_000
    pushed = env.push(client=client)
    assert pushed.failed == 0, pushed.errors
    env.pull()

    # The budget learned the window from X-Rate-Limit-Window (its default is 60 s).
    stats = client.budget.stats()
    assert stats["Light"].window == WINDOW and stats["Medium"].window == WINDOW
    events = env.rate_log()
    outcomes = check_log(events)
    assert outcomes["penalty"] == 0 and outcomes["throttled"] == 0, outcomes
    counters = env.counters()
    assert counters["status"].get("429", 0) == 0
    print(
        f"\ndefault limits: {counters['total']} requests, {counters['status']},"
        f" push {pushed.line()}"
    )
    assert_mirror_matches_remote(env)
    integrity_ok(env)


def test_tight_limits_and_a_running_penalty(make_served: Callable[..., Served]) -> None:
    """Limits far below the defaults (Light 12, Medium 10 per 3 s): rcsync must pace itself
    from the headers; and a penalty started by another client of the same user is waited
    out after one 429, never restarted."""
    env = make_served(messages=MESSAGES, rate_limits=True)
    limits = {"Light": 12, "Medium": 10, "Auth": 5}
    env.configure(
        rate_limits={"enabled": True, "window": WINDOW, "penalty": PENALTY, "limits": limits}
    )
    exhaust_light_group(env, limits["Light"])
    started = env.rate_log()[-1]["at"] + 1e-6

    client = env.client()
    summary = env.pull(client=client)
    assert summary.messages > 19_000
    assert make_edits(env) == 2_000
    between = env.rate_log()[-1]["at"]
    exhaust_light_group(env, limits["Light"])
    second = env.rate_log()[-1]["at"] + 1e-6
    pushed = env.push(client=client)
    assert pushed.failed == 0, pushed.errors
    env.pull(client=client)

    events = env.rate_log()
    first_run = check_log([e for e in events if started <= e["at"] <= between])
    second_run = check_log([e for e in events if e["at"] >= second])
    # rcsync's first request met the other client's penalty (it cannot know): one 429,
    # then nothing until the penalty was over.
    for outcomes in (first_run, second_run):
        assert outcomes["penalty"] + outcomes["throttled"] <= 1, outcomes
    assert client.budget.throttled <= 2
    counters = env.counters()
    print(
        f"\nrate limits {limits}: {counters['total']} requests, 429s {counters['status']},"
        f" client waited {client.budget.waited:.1f}s, runs {first_run} {second_run}"
    )
    stats = client.budget.stats()
    assert stats["Light"].limit == limits["Light"] and stats["Light"].window == WINDOW
    assert_mirror_matches_remote(env)
    integrity_ok(env)
