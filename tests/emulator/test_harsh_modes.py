"""The harsher modes: targeted faults, CMN-101 sync tokens, record-bounded sync frames, capped
ISyncs and whole-second history with bursts (issue 10, emulator half)."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

from rcsync.emulator import Emulator, FakeClock, serve
from tests.harness.spec import API, HISTORY, STORE, SYNC, login

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


# -- sync tokens, frames and capped ISyncs -----------------------------------------------------

CONFIG = "/_emulator/config"


def _fsync(client: httpx.Client, **params: str) -> dict[str, Any]:
    query = {"syncType": "FSync", "dateFrom": HISTORY, **params}
    return dict(client.get(SYNC, params=query).json())


def _isync(client: httpx.Client, token: str) -> httpx.Response:
    return client.get(SYNC, params={"syncType": "ISync", "syncToken": token})


def _alive(client: httpx.Client) -> list[dict[str, Any]]:
    query = {"dateFrom": HISTORY, "perPage": "1000"}
    return list(client.get(STORE, params=query).json()["records"])


def test_invalid_sync_token_code_cmn_101(emu: Emulator, client: httpx.Client) -> None:
    token = _fsync(client, recordCount="1")["syncInfo"]["syncToken"]
    assert client.get(CONFIG).json()["invalid_sync_token_code"] == "MSG-333"
    config = client.put(CONFIG, json={"invalid_sync_token_code": "CMN-101"})
    assert config.json()["invalid_sync_token_code"] == "CMN-101"
    garbled = _isync(client, "garbage")
    assert garbled.status_code == 400
    assert garbled.json() == {
        "errorCode": "CMN-101",
        "message": "Parameter [syncToken] is invalid",
        "parameterName": "syncToken",
        "errors": [
            {
                "errorCode": "CMN-101",
                "message": "Parameter [syncToken] is invalid",
                "parameterName": "syncToken",
            }
        ],
    }
    assert _isync(client, token).status_code == 200
    client.post("/_emulator/invalidate-sync-tokens")
    assert _isync(client, token).json()["errorCode"] == "CMN-101"
    client.put(CONFIG, json={"invalid_sync_token_code": "MSG-333"})
    assert _isync(client, token).json()["errorCode"] == "MSG-333"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"invalid_sync_token_code": "MSG-334"}, "\"invalid_sync_token_code\" must be 'MSG-333'"),
        ({"sync_frame": "count"}, "\"sync_frame\" must be 'dates' or 'records'"),
        ({"isync_max_records": 0}, '"isync_max_records" must be null or an integer'),
        ({"isync_max_records": "5"}, '"isync_max_records" must be null or an integer'),
        ({"sync_frame": "records", "isync_max_records": -1}, '"isync_max_records"'),
        ({"sync_franme": "records"}, "sync_franme"),
    ],
)
def test_bad_sync_config_is_refused_and_changes_nothing(
    client: httpx.Client, change: dict[str, Any], says: str
) -> None:
    before = client.get(CONFIG).json()
    response = client.put(CONFIG, json=change)
    assert response.status_code == 400
    assert says in response.json()["message"]
    assert client.get(CONFIG).json() == before


def _flip(emu: Emulator, message_id: int) -> None:
    """A remote change that always changes something: toggle the read status."""
    current = emu.store.get(message_id)
    assert current is not None
    flipped = "Read" if current["readStatus"] == "Unread" else "Unread"
    emu.store.remote_edit(message_id, read_status=flipped)


def _edit_inside_and_outside(
    emu: Emulator, client: httpx.Client, clock: FakeClock, reading: str, count: str
) -> tuple[set[int], dict[str, Any]]:
    """FSync with `count`, then change the newest record sent, the oldest Alive message and a
    new arrival; the ids the next ISync reports, and the FSync answer."""
    client.put(CONFIG, json={"sync_frame": reading})
    alive = _alive(client)
    first = _fsync(client, recordCount=count)
    clock.advance(2)
    _flip(emu, alive[0]["id"])
    _flip(emu, alive[-1]["id"])
    arrived = emu.store.arrive(1)[0]["id"]
    seen = {r["id"] for r in _isync(client, first["syncInfo"]["syncToken"]).json()["records"]}
    assert {alive[0]["id"], arrived} <= seen
    return seen - {alive[0]["id"], arrived}, first


def test_records_frame_hides_changes_older_than_the_records_sent(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    oldest = _alive(client)[-1]["id"]
    outside, first = _edit_inside_and_outside(emu, client, clock, "records", "3")
    assert first["syncInfo"]["olderRecordsExist"] is True
    assert len(first["records"]) == 3
    assert oldest not in outside
    assert client.get(CONFIG).json()["sync_frame"] == "records"


def test_dates_frame_reports_changes_to_any_message_in_the_dates(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    oldest = _alive(client)[-1]["id"]
    outside, first = _edit_inside_and_outside(emu, client, clock, "dates", "3")
    assert first["syncInfo"]["olderRecordsExist"] is True
    assert oldest in outside


def test_records_frame_is_whole_when_record_count_cut_nothing(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    oldest = _alive(client)[-1]["id"]
    outside, first = _edit_inside_and_outside(emu, client, clock, "records", "100000")
    assert first["syncInfo"]["olderRecordsExist"] is False
    assert oldest in outside


def test_records_frame_with_record_count_zero_keeps_only_newer_messages(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    client.put(CONFIG, json={"sync_frame": "records"})
    newest = _alive(client)[0]["id"]
    first = _fsync(client, recordCount="0")
    assert first["records"] == [] and first["syncInfo"]["olderRecordsExist"] is True
    clock.advance(1)
    _flip(emu, newest)
    arrived = emu.store.arrive(1)[0]["id"]
    seen = [r["id"] for r in _isync(client, first["syncInfo"]["syncToken"]).json()["records"]]
    assert seen == [arrived]


def _follow(client: httpx.Client, token: str) -> tuple[list[list[dict[str, Any]]], str]:
    """Repeat ISync while olderRecordsExist; the pages and the last token."""
    pages = []
    while True:
        answer = _isync(client, token).json()
        pages.append(answer["records"])
        token = answer["syncInfo"]["syncToken"]
        if not answer["syncInfo"]["olderRecordsExist"]:
            return pages, token
        assert len(pages) < 1000, "a capped ISync must make progress"


def test_capped_isync_answers_in_parts_and_misses_nothing(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    assert client.put(CONFIG, json={"isync_max_records": 2}).json()["isync_max_records"] == 2
    token = _fsync(client, recordCount="1")["syncInfo"]["syncToken"]
    alive = _alive(client)
    clock.advance(1)
    # Five changes within one millisecond: the 5 s overlap alone would loop forever.
    for record in alive[:5]:
        _flip(emu, record["id"])
    pages, _ = _follow(client, token)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert {r["id"] for p in pages for r in p} == {r["id"] for r in alive[:5]}
    client.put(CONFIG, json={"isync_max_records": None})
    assert len(_isync(client, token).json()["records"]) == 5


def test_capped_isync_converges_under_interleaved_changes(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    """Random changes between capped ISyncs: following the tokens, the client's view of every
    changed message ends equal to the server's (the cap never skips a change)."""
    client.put(CONFIG, json={"isync_max_records": 3})
    rng = random.Random(5)
    alive = [r["id"] for r in _alive(client)]
    token = _fsync(client, recordCount="1")["syncInfo"]["syncToken"]
    view: dict[int, Any] = {}
    changed: set[int] = set()
    for _ in range(60):
        for _ in range(rng.randrange(5)):
            target = rng.choice(alive[:40])
            _flip(emu, target)
            changed.add(target)
        clock.advance(rng.choice((0, 0.001, 1)))
        answer = _isync(client, token).json()
        for record in answer["records"]:
            view[record["id"]] = record.get("readStatus")
        token = answer["syncInfo"]["syncToken"]
    clock.advance(1)
    _follow_into(client, token, view)
    assert {i: view.get(i) for i in changed} == {
        i: emu.store.get(i)["readStatus"]  # type: ignore[index]
        for i in changed
    }


def _follow_into(client: httpx.Client, token: str, view: dict[int, Any]) -> None:
    pages, _ = _follow(client, token)
    for page in pages:
        for record in page:
            view[record["id"]] = record.get("readStatus")


# -- generated history: whole seconds, bursts ---------------------------------------------------


def test_history_is_on_whole_seconds_with_bursts(client: httpx.Client) -> None:
    records = _alive(client)
    times = [r["creationTime"] for r in records]
    assert all(t.endswith(".000Z") for t in times)
    runs: dict[str, list[int]] = {}
    for record in records:
        runs.setdefault(record["creationTime"], []).append(record["id"])
    assert max(len(ids) for ids in runs.values()) >= 3
    assert sum(len(ids) > 1 for ids in runs.values()) >= len(records) // 20
    # Within one second the listing is newest id first, as everywhere else.
    assert all(ids == sorted(ids, reverse=True) for ids in runs.values())


def test_history_is_deterministic_per_seed(clock: FakeClock) -> None:
    def times(seed: int) -> list[int]:
        return list(Emulator(messages=2000, seed=seed, clock=clock).store.cols.ctime)

    assert times(4) == times(4)
    assert times(4) != times(5)
