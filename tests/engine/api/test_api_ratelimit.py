"""RateBudget: pacing from the first request, header learning, 429 penalties honoured."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from rcsync.api import RateBudget
from rcsync.api.ratelimit import normalize_group, retry_after_seconds
from rcsync.errors import RateLimitedError
from tests.harness.fake_rc import Clock

EXT = "/restapi/v1.0/account/~/extension/~"


class SlidingWindowServer:
    """Enforces RingCentral's rule: > limit requests in `window` s -> 429 + penalty that every
    request during it restarts. Sends X-Rate-Limit-* headers like RingCentral (lowercase group)."""

    def __init__(
        self,
        clock: Any,
        limit: int = 50,
        window: float = 60.0,
        penalty: float = 60.0,
        retry_after: bool = True,
    ) -> None:
        self.clock, self.limit, self.window, self.penalty = clock, limit, window, penalty
        self.retry_after = retry_after
        self.times: list[float] = []
        self.blocked_until = 0.0
        self.throttled: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        if now < self.blocked_until:
            self.blocked_until = now + self.penalty  # restarted
            return self._429(now)
        self.times = [t for t in self.times if t > now - self.window]
        if len(self.times) >= self.limit:
            self.blocked_until = now + self.penalty
            return self._429(now)
        self.times.append(now)
        headers = {
            "X-Rate-Limit-Group": "light",
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.limit - len(self.times)),
            "X-Rate-Limit-Window": str(int(self.window)),
        }
        return httpx.Response(200, json={"id": 1}, headers=headers)

    def _429(self, now: float) -> httpx.Response:
        self.throttled.append(now)
        headers = {"Retry-After": str(int(self.penalty))} if self.retry_after else {}
        body = {"errorCode": "CMN-301", "message": "Request rate exceeded"}
        return httpx.Response(429, json=body, headers=headers)


def test_long_run_is_paced_and_never_meets_a_429(fake: Any, make_client: Any, clock: Any) -> None:
    server = SlidingWindowServer(clock)
    fake.on("GET", EXT, server)
    client = make_client()
    for _ in range(120):
        client.read_extension()
    assert server.throttled == []
    assert len(fake.api()) == 120
    assert client.budget.stats()["Light"].requests == 120
    assert client.budget.throttled == 0
    assert 120 <= client.budget.waited < 200  # two full windows (plus margins), no more


def test_first_requests_are_paced_by_documented_defaults(
    fake: Any, make_client: Any, clock: Any
) -> None:
    """A server that says nothing about limits still never sees > 50 Light requests/min."""
    fake.on("GET", EXT, lambda r: httpx.Response(200, json={}))
    client = make_client()
    for _ in range(51):
        client.read_extension()
    times = [s.time for s in fake.api()]
    assert times[50] - times[0] >= 60


def test_server_limit_smaller_than_default_is_learned(
    fake: Any, make_client: Any, clock: Any
) -> None:
    server = SlidingWindowServer(clock, limit=5, window=10)
    fake.on("GET", EXT, server)
    client = make_client()
    for _ in range(20):
        client.read_extension()
    # The first request teaches the limit; at most that one window can overshoot... and it
    # must not, because "Remaining" is trusted immediately.
    assert server.throttled == []
    assert client.budget.stats()["Light"].limit == 5


def test_remaining_zero_waits_a_window(clock: Any) -> None:
    budget = RateBudget(clock=clock, sleep=clock.sleep, margin=0)
    with budget.slot("Light"):
        pass
    response = httpx.Response(
        200,
        headers={
            "X-Rate-Limit-Group": "LIGHT",
            "X-Rate-Limit-Limit": "50",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Window": "60",
        },
    )
    budget.observe("listMessages", response)
    with budget.slot("Light"):
        pass
    assert clock.sleeps == [60]


def test_429_pauses_the_group_and_is_met_once(
    fake: Any, make_client: Any, clock: Any, helpers: Any
) -> None:
    """Another client used up the quota: we get one 429, then send nothing until it ends."""
    server = SlidingWindowServer(clock, penalty=30)
    server.blocked_until = clock() + 30
    fake.on("GET", EXT, server)
    client = make_client()
    assert client.read_extension() == {"id": 1}
    assert len(server.throttled) == 1
    first, second = fake.api()
    assert second.time - first.time >= 30
    assert client.budget.throttled == 1


def test_429_without_retry_after_waits_60(fake: Any, make_client: Any, clock: Any) -> None:
    server = SlidingWindowServer(clock, penalty=45, retry_after=False)
    server.blocked_until = clock() + 45
    fake.on("GET", EXT, server)
    make_client().read_extension()
    assert len(server.throttled) == 1
    first, second = fake.api()
    assert second.time - first.time >= 60


def test_persistent_429_gives_up_with_rate_limited_error(
    fake: Any, make_client: Any, helpers: Any
) -> None:
    fake.on(
        "GET",
        EXT,
        lambda r: helpers.rc_error(429, "CMN-301", "Request rate exceeded", **{"Retry-After": "5"}),
    )
    with pytest.raises(RateLimitedError, match=r"readExtension: HTTP 429 CMN-301"):
        make_client().read_extension()
    assert len(fake.api()) == 6  # bounded


def test_penalty_blocks_every_caller(clock: Any) -> None:
    """Threads asking for the penalised group all wait for the end of the penalty."""
    lock = threading.Lock()
    start = clock()
    budget = RateBudget(clock=clock, sleep=lambda s: None, margin=0)  # sleeps don't advance
    budget.penalize("Medium", 30)
    got: list[float] = []

    def worker() -> None:
        with budget.slot("Medium"), lock:
            got.append(clock())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(0.2)
    assert got == []  # all still blocked
    with budget.slot("Light"):  # other groups unaffected
        pass
    clock.t = start + 30
    for t in threads:
        t.join(5)
    assert got == [start + 30] * 3


def test_group_names_case_insensitive_and_op_group_learned(clock: Any) -> None:
    assert normalize_group("light") == normalize_group("LIGHT") == "Light"
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.observe(
        "readMessageContent",
        httpx.Response(
            200,
            headers={
                "X-Rate-Limit-Group": "heavy",
                "X-Rate-Limit-Limit": "10",
                "X-Rate-Limit-Remaining": "9",
                "X-Rate-Limit-Window": "60",
            },
        ),
    )
    assert budget.group_for("readMessageContent", "Medium") == "Heavy"
    assert budget.group_for("listMessages", "Light") == "Light"


def test_retry_after_parsing() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "12"}), 60) == 12
    assert retry_after_seconds(httpx.Response(429), 60) == 60
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"}), 60) == 60
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": past}), 60) == 0


def test_delay_keeping_leaves_places_of_the_window_to_others() -> None:
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep, limits={"Medium": (10, 60.0)}, margin=1.0)
    for _i in range(7):
        with budget.slot("Medium"):
            pass
        clock.t += 1  # sent at t0, t0+1, ... t0+6
    # 3 places left: a request keeping 2 may go, one keeping 3 waits for the oldest to leave.
    assert budget.delay_keeping("Medium", 2) == 0
    assert budget.delay_keeping("Medium", 3) == 60 + 1 - 7
    # Keeping 4 needs two of the seven to leave: the second oldest's time decides.
    assert budget.delay_keeping("Medium", 4) == 61 + 1 - 7
    assert clock.sleeps == []  # it only says how long; nothing sleeps


def test_delay_keeping_never_keeps_the_whole_window() -> None:
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep, limits={"Medium": (3, 60.0)}, margin=0.0)
    assert budget.delay_keeping("Medium", 100) == 0  # an empty window: one may always go
    with budget.slot("Medium"):
        pass
    assert budget.delay_keeping("Medium", 100) == 60


def test_delay_keeping_waits_out_a_penalty() -> None:
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep, margin=1.0)
    budget.penalize("Medium", 30)
    assert budget.delay_keeping("Medium", 0) == 31
