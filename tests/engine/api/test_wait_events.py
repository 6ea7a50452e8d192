"""The API announces every wait before it sleeps: rate-limit windows, 429 penalties, retries.

The announcement goes through the budget's ``on_wait`` seam (`rcsync.progress.WaitCallback`),
never to a stream: the CLI's display decides what a person sees.
"""

from __future__ import annotations

from typing import Any

import httpx

from rcsync.api import RateBudget
from rcsync.progress import WaitReason
from tests.engine.api.test_api_retry import EXT, failing
from tests.harness.fake_rc import Clock

Event = tuple[WaitReason, float | None, str]


def _recorder() -> tuple[list[Event], Any]:
    events: list[Event] = []

    def on_wait(reason: WaitReason, seconds: float | None, detail: str) -> None:
        events.append((reason, seconds, detail))

    return events, on_wait


def test_a_full_window_is_announced_with_its_group_limit_and_length() -> None:
    clock = Clock()
    events, on_wait = _recorder()
    budget = RateBudget(
        clock=clock, sleep=clock.sleep, limits={"Medium": (40, 60.0)}, on_wait=on_wait
    )
    for _ in range(41):
        with budget.slot("Medium"):
            pass
    # 40 fit in the window; the 41st waits for the oldest to leave it, plus the margin.
    assert events == [(WaitReason.RATE_LIMIT, 61.0, "RingCentral rate limit (Medium, 40/min)")]
    assert clock.sleeps == [61.0]


def test_a_window_that_is_not_a_minute_is_named_in_seconds() -> None:
    clock = Clock()
    events, on_wait = _recorder()
    budget = RateBudget(clock=clock, sleep=clock.sleep, limits={"Light": (3, 2.0)}, on_wait=on_wait)
    for _ in range(4):
        with budget.slot("Light"):
            pass
    assert [e[2] for e in events] == ["RingCentral rate limit (Light, 3 per 2 s)"]


def test_a_429_penalty_is_announced_as_a_penalty() -> None:
    clock = Clock()
    events, on_wait = _recorder()
    budget = RateBudget(clock=clock, sleep=clock.sleep, on_wait=on_wait)
    budget.penalize("medium", 30)
    with budget.slot("Medium"):
        pass
    assert events == [(WaitReason.PENALTY, 31.0, "RingCentral rate limit (Medium, 40/min)")]


def test_no_wait_no_announcement() -> None:
    clock = Clock()
    events, on_wait = _recorder()
    budget = RateBudget(clock=clock, sleep=clock.sleep, on_wait=on_wait)
    for _ in range(5):
        with budget.slot("Light"):
            pass
    assert events == []


def test_retries_announce_which_retry_and_how_long(
    fake: Any, make_client: Any, clock: Clock
) -> None:
    events, on_wait = _recorder()
    fake.on("GET", EXT, failing(2, httpx.ConnectError, then=lambda r: httpx.Response(200, json={})))
    client = make_client()
    client.budget.on_wait = on_wait
    client.read_extension()
    retries = [e for e in events if e[0] is WaitReason.RETRY]
    assert retries == [
        (WaitReason.RETRY, 1.0, "server unreachable (ConnectError), retry 1/4"),
        (WaitReason.RETRY, 2.0, "server unreachable (ConnectError), retry 2/4"),
    ]
    assert clock.sleeps[:2] == [1.0, 2.0]  # announced, then slept exactly that


def test_server_errors_announce_the_status(fake: Any, make_client: Any) -> None:
    events, on_wait = _recorder()
    fake.on("GET", EXT, failing(1, status=503, then=lambda r: httpx.Response(200, json={})))
    client = make_client()
    client.budget.on_wait = on_wait
    client.read_extension()
    assert [e[2] for e in events if e[0] is WaitReason.RETRY] == [
        "server error (HTTP 503), retry 1/4"
    ]


def test_token_server_errors_announce_their_retry(fake: Any, make_client: Any) -> None:
    from tests.harness.fake_rc import token_response

    events, on_wait = _recorder()
    fake.on("POST", "/restapi/oauth/token", failing(1, status=503, then=lambda r: token_response()))
    fake.on("GET", EXT, lambda r: httpx.Response(200, json={}))
    client = make_client(logged_in=False)
    client.budget.on_wait = on_wait
    client.read_extension()
    assert [e[2] for e in events if e[0] is WaitReason.RETRY] == [
        "token server error (HTTP 503), retry 1/2"  # the token policy tries 3 times
    ]
