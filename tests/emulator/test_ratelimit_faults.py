"""Rate limits (429 + penalty restarted by every request in it) and injected faults."""

from __future__ import annotations

import httpx
import pytest

from rcsync.emulator import Emulator, FakeClock, serve
from tests.harness.account import CLIENT_AUTH, EMULATOR_CREDENTIALS
from tests.harness.spec import HISTORY, STORE, login


def test_429_penalty_restarts_and_expires(clock: FakeClock) -> None:
    emu = Emulator(messages=50, seed=1, clock=clock, rate_limits=True)
    client = login(emu)
    for i in range(50):
        response = client.get(STORE)
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit-Remaining"] == str(49 - i)
        assert response.headers["X-Rate-Limit-Group"] == "Light"
    refused = client.get(STORE)
    assert refused.status_code == 429
    assert refused.json()["errorCode"] == "CMN-301"
    assert refused.headers["Retry-After"] == "60"
    # Other groups are counted separately.
    assert client.put(f"{STORE}/1", json={"readStatus": "Read"}).status_code == 404
    clock.advance(45)
    assert client.get(STORE).status_code == 429  # restarts the 60 s penalty
    clock.advance(45)
    assert client.get(STORE).status_code == 429  # 90 s after the first 429, still penalised
    clock.advance(61)
    assert client.get(STORE).status_code == 200
    assert emu.counters.snapshot()["status"]["429"] == 3


def test_auth_group_per_client(clock: FakeClock) -> None:
    emu = Emulator(messages=5, seed=1, clock=clock)
    client = httpx.Client(transport=emu.transport(), base_url="https://platform.ringcentral.com")
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": EMULATOR_CREDENTIALS["jwt"],
    }
    codes = [
        client.post("/restapi/oauth/token", data=form, auth=CLIENT_AUTH).status_code
        for _ in range(6)
    ]
    assert codes == [200] * 5 + [429]


def test_shortened_window_over_http() -> None:
    emu = Emulator(messages=20, seed=2)
    emu.configure(
        rate_limits={"enabled": True, "window": 60, "penalty": 0.2, "limits": {"Light": 3}}
    )
    with serve(emu) as server:
        client = login(emu)
        client = httpx.Client(base_url=server.url, headers=client.headers)
        assert [client.get(STORE).status_code for _ in range(4)] == [200, 200, 200, 429]
        emu.configure(rate_limits=False)
        assert client.get(STORE).status_code == 200


def test_error_rate_answers_before_the_change(emu: Emulator, client: httpx.Client) -> None:
    record = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1"}).json()["records"][0]
    emu.configure(faults={"error_rate": 1.0})
    response = client.delete(f"{STORE}/{record['id']}")
    assert response.status_code in (500, 503)
    assert response.json()["errorCode"] in ("CMN-201", "CMN-203")
    assert emu.store.get(record["id"])["availability"] == "Alive"


def test_reset_rate_drops_after_the_change(emu: Emulator, client: httpx.Client) -> None:
    record = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1"}).json()["records"][0]
    emu.configure(faults={"reset_rate": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        client.delete(f"{STORE}/{record['id']}")
    assert emu.store.get(record["id"])["availability"] == "Deleted"


def test_reset_over_http_and_control_api_is_never_faulted() -> None:
    emu = Emulator(messages=20, seed=2, rate_limits=False)
    with serve(emu) as server:
        client = login(emu)
        client = httpx.Client(base_url=server.url, headers=client.headers)
        assert (
            client.put(
                f"{server.url}/_emulator/config", json={"faults": {"reset_rate": 1.0}}
            ).status_code
            == 200
        )
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get(STORE, params={"dateFrom": HISTORY})
        assert client.get("/_emulator/health").status_code == 200


def test_faults_are_reproducible(clock: FakeClock) -> None:
    def statuses() -> list[int]:
        emu = Emulator(messages=10, seed=5, clock=clock, rate_limits=False)
        client = login(emu)
        emu.configure(faults={"error_rate": 0.5})
        return [client.get(STORE).status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert 200 in first and set(first) - {200}
