"""The harsher modes: targeted faults, CMN-101 sync tokens, record-bounded sync frames, capped
ISyncs and whole-second history with bursts (issue 10, emulator half)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from rcsync.emulator import Emulator, serve

from .conftest import API, HISTORY, STORE, login

FAULTS = "/_emulator/faults"


def _first_alive(client: httpx.Client) -> dict[str, Any]:
    records = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1"}).json()["records"]
    return dict(records[0])


def _fault(client: httpx.Client, **spec: Any) -> httpx.Response:
    return client.post(FAULTS, json=spec)


# -- targeted answers ------------------------------------------------------------------------


def test_answer_rule_replaces_the_operation_then_runs_out(
    emu: Emulator, client: httpx.Client
) -> None:
    record = _first_alive(client)
    created = _fault(client, operation="updateMessage", status=404, times=2)
    assert created.status_code == 201
    assert created.json()["times"] == 2
    url = f"{STORE}/{record['id']}"
    first = client.put(url, json={"readStatus": "Unread"})
    assert first.status_code == 404
    # The default body names the path, not the message: evidence of nothing about the id.
    assert first.json()["errorCode"] == "CMN-102"
    assert first.json()["errors"][0]["parameterName"] == "path"
    assert client.get(FAULTS).json()["rules"][0]["times"] == 1
    assert client.put(url, json={"readStatus": "Unread"}).status_code == 404
    assert emu.store.get(record["id"])["readStatus"] == record["readStatus"]
    assert client.get(FAULTS).json() == {"rules": []}
    assert client.put(url, json={"readStatus": "Unread"}).status_code == 200
    assert emu.store.get(record["id"])["readStatus"] == "Unread"


def test_answer_rule_with_body_and_headers(emu: Emulator, client: httpx.Client) -> None:
    body = {"errorCode": "CMN-102", "message": "gone", "errors": []}
    _fault(client, operation="readMessage", status=503, body=body, headers={"Retry-After": "1"})
    response = client.get(f"{STORE}/{_first_alive(client)['id']}")
    assert response.status_code == 503
    assert response.json() == body
    assert response.headers["Retry-After"] == "1"
    assert emu.counters.snapshot()["status"]["503"] == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "CMN-101"), (403, "CMN-401"), (405, "CMN-202"), (429, "CMN-301"), (500, "CMN-203"),
     (503, "CMN-201"), (502, "CMN-203"), (418, "CMN-101")],
)  # fmt: skip
def test_default_bodies_are_ringcentral_errors(
    client: httpx.Client, status: int, code: str
) -> None:
    _fault(client, operation="listMessages", status=status)
    response = client.get(STORE)
    assert response.status_code == status
    assert response.json()["errorCode"] == code
    assert response.json()["errors"][0]["errorCode"] == code


def test_rules_of_one_operation_apply_in_order_and_spare_others(client: httpx.Client) -> None:
    record_id = _first_alive(client)["id"]
    _fault(client, operation="listMessages", status=500)
    _fault(client, operation="listMessages", status=503)
    _fault(client, operation="deleteMessageByFilter", status=404)
    assert client.get(f"{STORE}/{record_id}").status_code == 200
    assert [client.get(STORE).status_code for _ in range(3)] == [500, 503, 200]
    assert [r["operation"] for r in client.get(FAULTS).json()["rules"]] == ["deleteMessageByFilter"]
    assert client.delete(FAULTS).json() == {"removed": 1}
    assert client.get(FAULTS).json() == {"rules": []}


def test_faults_apply_after_auth(emu: Emulator, client: httpx.Client) -> None:
    _fault(client, operation="listMessages", status=404)
    anonymous = httpx.Client(transport=emu.transport(), base_url=API)
    assert anonymous.get(STORE).status_code == 401
    assert client.get(FAULTS).json()["rules"][0]["times"] == 1
    assert client.get(STORE).status_code == 404


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"operation": "updateMesage", "status": 404}, "unknown operation 'updateMesage'"),
        ({"status": 404}, "unknown operation None"),
        ({"operation": "listMessages", "status": 99}, '"status" must be an integer from 200'),
        ({"operation": "listMessages", "status": 600}, '"status" must be an integer'),
        ({"operation": "listMessages", "status": "404"}, '"status" must be an integer'),
        ({"operation": "listMessages", "status": True}, '"status" must be an integer'),
        ({"operation": "listMessages", "status": 404, "times": 0}, '"times" must be an integer'),
        ({"operation": "listMessages"}, 'either "status" or "after_write"'),
        ({"operation": "listMessages", "status": 404, "after_write": "reset"}, "not both"),
        ({"operation": "listMessages", "after_write": "drop"}, "\"after_write\" must be 'reset'"),
        ({"operation": "listMessages", "after_write": "delay", "delay_ms": -1}, '"delay_ms"'),
        ({"operation": "listMessages", "status": 404, "retries": 1}, "unknown fault field"),
        ({"operation": "listMessages", "status": 404, "headers": {"a": 1}}, '"headers"'),
    ],
)
def test_bad_rules_are_refused_with_a_reason(
    client: httpx.Client, spec: dict[str, Any], says: str
) -> None:
    response = client.post(FAULTS, json=spec)
    assert response.status_code == 400
    assert says in response.json()["message"]
    assert client.get(FAULTS).json() == {"rules": []}


def test_a_list_is_not_a_rule(client: httpx.Client) -> None:
    response = client.post(FAULTS, json=[{"operation": "listMessages", "status": 404}])
    assert response.status_code == 400
    assert "JSON object" in response.json()["message"]


# -- after-write faults, in process ------------------------------------------------------------


def test_reset_after_write_applies_the_change(emu: Emulator, client: httpx.Client) -> None:
    record = _first_alive(client)
    _fault(client, operation="deleteMessage", after_write="reset")
    assert client.get(FAULTS).json()["rules"] == [
        {"id": 1, "operation": "deleteMessage", "times": 1, "after_write": "reset"}
    ]
    with pytest.raises(httpx.RemoteProtocolError):
        client.delete(f"{STORE}/{record['id']}")
    assert emu.store.get(record["id"])["availability"] == "Deleted"
    assert client.delete(f"{STORE}/{record['id']}").status_code == 204


def test_delay_after_write_holds_the_answer_back(emu: Emulator) -> None:
    client = login(emu)
    record = _first_alive(client)
    client.post(FAULTS, json={"operation": "patchMessage", "after_write": "delay", "delay_ms": 300})
    started = time.monotonic()
    response = client.patch(f"{STORE}/{record['id']}", json={"readStatus": "Unread"})
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert client.get(FAULTS).json() == {"rules": []}


# -- after-write faults, over loopback HTTP ----------------------------------------------------


def test_after_write_faults_over_http() -> None:
    emu = Emulator(messages=50, seed=3, rate_limits=False)
    with serve(emu) as server:
        headers = login(emu).headers
        client = httpx.Client(base_url=server.url, headers=headers, timeout=5)
        first, second = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "2"}).json()[
            "records"
        ]
        rule = {"operation": "deleteMessage", "after_write": "reset"}
        assert client.post(FAULTS, json=rule).status_code == 201
        with pytest.raises(httpx.RemoteProtocolError):  # a 204: nothing at all comes back
            client.delete(f"{STORE}/{first['id']}")
        assert emu.store.get(first["id"])["availability"] == "Deleted"
        rule = {"operation": "updateMessage", "after_write": "reset"}
        assert client.post(FAULTS, json=rule).status_code == 201
        with pytest.raises(httpx.RemoteProtocolError):  # half a body, then the socket closes
            client.put(f"{STORE}/{second['id']}", json={"readStatus": "Unread"})
        assert emu.store.get(second["id"])["readStatus"] == "Unread"
        rule = {"operation": "updateMessage", "after_write": "delay", "delay_ms": 1500}
        assert client.post(FAULTS, json=rule).status_code == 201
        with pytest.raises(httpx.ReadTimeout):
            client.put(f"{STORE}/{second['id']}", json={"readStatus": "Read"}, timeout=0.3)
        # The write happened although the client gave up waiting for its answer.
        assert emu.store.get(second["id"])["readStatus"] == "Read"
        fresh = httpx.Client(base_url=server.url, headers=headers, timeout=5)
        assert fresh.get(f"{STORE}/{second['id']}").status_code == 200
        assert fresh.get(FAULTS).json() == {"rules": []}
