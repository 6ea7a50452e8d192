"""Bounded retries with jittered backoff, and the write-safety rule for trash DELETEs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rcsync.api import RetryPolicy
from rcsync.errors import AmbiguousWriteError, NetworkError, ServerError

EXT = "/restapi/v1.0/account/~/extension/~"
STORE = "/restapi/v1.0/account/~/extension/~/message-store"


def failing(
    times: int,
    exc: type[httpx.TransportError] | None = None,
    status: int = 0,
    then: Callable[[httpx.Request], httpx.Response] | None = None,
    headers: dict[str, str] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    count = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        count["n"] += 1
        if count["n"] <= times:
            if exc is not None:
                raise exc("boom", request=request)
            return httpx.Response(
                status,
                json={"errorCode": "CMN-201", "message": "Service Temporary Unavailable"},
                headers=headers or {},
            )
        assert then is not None
        return then(request)

    return handler


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": 1})


def _no_content(request: httpx.Request) -> httpx.Response:
    return httpx.Response(204)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    p = RetryPolicy(base=2, cap=60)
    assert [p.backoff(n, 1.0) for n in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert p.backoff(3, 0.25) == 4
    assert p.backoff(3, 0.0) == 0


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError, httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
def test_transport_errors_are_retried(
    fake: Any, make_client: Any, clock: Any, exc: type[httpx.TransportError]
) -> None:
    fake.on("GET", EXT, failing(2, exc, then=_ok))
    assert make_client().read_extension() == {"id": 1}
    assert len(fake.api()) == 3
    assert clock.sleeps[:2] == [1.0, 2.0]  # rand 0.5 * 2, 0.5 * 4


def test_transport_errors_give_up_with_network_error(fake: Any, make_client: Any) -> None:
    fake.on("GET", EXT, failing(99, httpx.ConnectError))
    with pytest.raises(NetworkError) as info:
        make_client().read_extension()
    assert str(info.value) == (
        "readExtension: cannot reach platform.ringcentral.com "
        "(ConnectError); gave up after 5 attempts"
    )
    assert len(fake.api()) == 5


def test_5xx_retried_then_server_error(fake: Any, make_client: Any) -> None:
    fake.on("GET", EXT, failing(99, status=500))
    with pytest.raises(ServerError) as info:
        make_client().read_extension()
    assert str(info.value) == (
        "readExtension: HTTP 500 CMN-201: Service Temporary Unavailable (gave up after 5 attempts)"
    )
    assert len(fake.api()) == 5


def test_503_honours_retry_after(fake: Any, make_client: Any, clock: Any) -> None:
    fake.on("GET", EXT, failing(1, status=503, then=_ok, headers={"Retry-After": "7"}))
    make_client().read_extension()
    assert clock.sleeps == [7]


def test_trash_delete_not_resent_after_dropped_connection(fake: Any, make_client: Any) -> None:
    fake.on("DELETE", STORE + "/.*", failing(1, httpx.RemoteProtocolError, then=_no_content))
    with pytest.raises(AmbiguousWriteError) as info:
        make_client().delete_messages([11, 12], purge=False)
    assert info.value.ids == (11, 12)
    assert len(fake.api()) == 1  # never resent
    assert "re-read" in str(info.value)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.WriteError])
def test_trash_delete_not_resent_after_timeout(
    fake: Any, make_client: Any, exc: type[httpx.TransportError]
) -> None:
    fake.on("DELETE", STORE + "/.*", failing(1, exc, then=_no_content))
    with pytest.raises(AmbiguousWriteError):
        make_client().delete_messages([11], purge=False)
    assert len(fake.api()) == 1


def test_trash_delete_5xx_is_ambiguous(fake: Any, make_client: Any) -> None:
    fake.on("DELETE", STORE + "/.*", failing(1, status=503, then=_no_content))
    with pytest.raises(AmbiguousWriteError) as info:
        make_client().delete_messages([11], purge=False)
    assert info.value.status == 503 and info.value.code == "CMN-201"
    assert len(fake.api()) == 1


def test_trash_delete_retried_when_it_never_left(fake: Any, make_client: Any) -> None:
    fake.on("DELETE", STORE + "/.*", failing(2, httpx.ConnectError, then=_no_content))
    results = make_client().delete_messages([11], purge=False)
    assert results[11].ok
    assert len(fake.api()) == 3


def test_trash_delete_retried_when_the_token_refresh_failed(
    fake: Any, make_client: Any, clock: Any, store: Any, helpers: Any
) -> None:
    fake.on(
        "POST",
        "/restapi/oauth/token",
        failing(1, httpx.ReadError, then=lambda r: helpers.token_response()),
    )
    fake.on("DELETE", STORE + "/.*", _no_content)
    client = make_client()
    store.save(helpers.valid_tokens(clock, ttl=5))  # refresh due before the DELETE
    assert client.delete_messages([11], purge=False)[11].ok
    assert [s.method for s in fake.seen] == ["POST", "POST", "DELETE"]


def test_purge_and_put_are_retried_after_dropped_connection(fake: Any, make_client: Any) -> None:
    fake.on("DELETE", STORE + "/.*", failing(1, httpx.RemoteProtocolError, then=_no_content))
    fake.on(
        "PUT",
        STORE + "/.*",
        failing(1, httpx.RemoteProtocolError, then=lambda r: httpx.Response(200, json={"id": 11})),
    )
    client = make_client()
    assert client.delete_messages([11], purge=True)[11].ok
    assert client.set_read_status({11: "Read"})[11].ok
    assert [s.method for s in fake.api()] == ["DELETE", "DELETE", "PUT", "PUT"]


def test_ambiguous_chunk_keeps_completed_results_and_stops(fake: Any, make_client: Any) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 2:
            raise httpx.ReadError("reset", request=request)
        return httpx.Response(204)

    fake.on("DELETE", STORE + "/.*", handler)
    ids = list(range(1, 121))
    with pytest.raises(AmbiguousWriteError) as info:
        make_client().delete_messages(ids, purge=False)
    assert info.value.ids == tuple(range(51, 101))
    assert sorted(info.value.completed) == list(range(1, 51))
    assert len(fake.api()) == 2  # the third chunk was not sent
