"""The emulator's WebSocket gateway over loopback, spoken frame by frame with `websockets`'
sync client (the protocol as RingCentral's guide documents it; see ACCOUNT-PUSH-EXPORT.md §2)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from rcsync.emulator import Emulator, serve
from tests.harness.account import CLIENT_AUTH, JWT_FORM

MESSAGE_STORE = "/restapi/v1.0/account/~/extension/~/message-store"
EXTENSIONS = "/restapi/v1.0/account/~/extension"
WAIT = 5.0


class Gateway:
    """One emulator on loopback, a logged-in HTTP client, and helpers to speak WSG."""

    def __init__(self, emu: Emulator, url: str) -> None:
        self.emu = emu
        self.url = url
        self.http = httpx.Client(base_url=url)
        token = self.http.post("/restapi/oauth/token", data=JWT_FORM, auth=CLIENT_AUTH).json()
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def config(self, **websocket: Any) -> None:
        answer = self.http.put("/_emulator/config", json={"websocket": websocket})
        assert answer.status_code == 200, answer.text

    def wstoken(self) -> dict[str, Any]:
        answer = self.http.post("/restapi/oauth/wstoken")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def connect(self, wsc: str | None = None) -> ClientConnection:
        token = self.wstoken()
        url = f"{token['uri']}?access_token={token['ws_access_token']}"
        return connect(url + (f"&wsc={wsc}" if wsc else ""), open_timeout=WAIT)

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/_emulator/ws").json()
        return body


@pytest.fixture
def gw() -> Iterator[Gateway]:
    emu = Emulator(messages=30, seed=5, rate_limits=False)
    with serve(emu) as server:
        gateway = Gateway(emu, server.url)
        yield gateway
        gateway.http.close()


def recv(ws: ClientConnection, timeout: float = WAIT) -> list[Any]:
    frame = json.loads(ws.recv(timeout=timeout))
    assert isinstance(frame, list)
    return frame


def request(ws: ClientConnection, method: str, path: str, body: Any = None) -> list[Any]:
    """Send a ClientRequest and return its answer (notifications in between are skipped)."""
    message_id = str(uuid.uuid4())
    head = {"type": "ClientRequest", "messageId": message_id, "method": method, "path": path}
    ws.send(json.dumps([head] if body is None else [head, body]))
    while True:
        frame = recv(ws)
        if frame[0]["messageId"] == message_id:
            return frame


def subscribe(ws: ClientConnection, *filters: str) -> dict[str, Any]:
    body = {"eventFilters": list(filters), "deliveryMode": {"transportType": "WebSocket"}}
    head, info = request(ws, "POST", "/restapi/v1.0/subscription/", body)
    assert head["type"] == "ClientRequest" and head["status"] == 200, info
    assert "headers" in head  # the official Python SDK reads meta["headers"] on this answer
    result: dict[str, Any] = info
    return result


def next_notification(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    while True:
        head, *rest = recv(ws, timeout)
        if head["type"] == "ServerNotification":
            body: dict[str, Any] = rest[0]
            return body


@contextmanager
def subscribed(gw: Gateway, *filters: str) -> Iterator[tuple[ClientConnection, str]]:
    """A connection with a message-store subscription; yields (socket, wsc token)."""
    with gw.connect() as ws:
        head, _ = recv(ws)
        subscribe(ws, *(filters or (MESSAGE_STORE,)))
        yield ws, head["wsc"]["token"]


# -- connecting --------------------------------------------------------------------------------


def test_wstoken_points_at_the_loopback_gateway(gw: Gateway) -> None:
    token = gw.wstoken()
    assert token["uri"] == f"ws://{gw.url.removeprefix('http://')}/ws"
    assert token["ws_access_token"] and token["expires_in"] == 30
    counted = gw.http.get("/_emulator/requests").json()["by_operation"]
    assert counted["authWsToken"] == 1


def test_wstoken_answer_conforms_to_the_spec(
    client: httpx.Client, validate: Callable[[httpx.Response], None]
) -> None:
    answer = client.post("/restapi/oauth/wstoken")
    assert answer.status_code == 200
    validate(answer)  # WsTokenResponse


def test_wstoken_needs_a_bearer_token_and_the_permission(gw: Gateway) -> None:
    anonymous = httpx.post(f"{gw.url}/restapi/oauth/wstoken")
    assert anonymous.status_code == 401
    gw.config(permission=False)
    refused = gw.http.post("/restapi/oauth/wstoken")
    assert refused.status_code == 403
    assert refused.json()["errorCode"] == "CMN-401"


def test_wstoken_shares_the_auth_budget_with_token_refresh(gw: Gateway) -> None:
    gw.http.put("/_emulator/config", json={"rate_limits": {"enabled": True, "limits": {"Auth": 2}}})
    statuses = [gw.http.post("/restapi/oauth/wstoken").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refresh = gw.http.post(
        "/restapi/oauth/token", data={"grant_type": "refresh_token"}, auth=CLIENT_AUTH
    )
    assert refresh.status_code == 429


def test_connection_details_come_first_with_wsc_and_limits(gw: Gateway) -> None:
    with gw.connect() as ws:
        head, details = recv(ws)
    assert head["type"] == "ConnectionDetails" and head["status"] == 200
    assert head["wsc"]["token"] and head["wsc"]["sequence"] == 1
    assert details["recoveryBufferSize"] == 100 and details["recoveryTimeout"] == 180
    assert details["idleTimeout"] == 1800 and details["absoluteTimeout"] == 86400
    assert details["maxConnectionsPerSession"] == 50 and details["maxActiveRequests"] == 10
    assert "recoveryState" not in details


def test_a_used_or_wrong_ws_token_is_closed_4400(gw: Gateway) -> None:
    token = gw.wstoken()
    url = f"{token['uri']}?access_token={token['ws_access_token']}"
    with connect(url) as first:
        assert recv(first)[0]["type"] == "ConnectionDetails"
    for target in (url, f"{token['uri']}?access_token=nope", token["uri"]):
        with connect(target) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


# -- subscriptions -----------------------------------------------------------------------------


def test_one_subscription_per_connection_the_second_replaces_the_first(gw: Gateway) -> None:
    with gw.connect() as ws:
        recv(ws)
        first = subscribe(ws, MESSAGE_STORE)
        second = subscribe(ws, f"{MESSAGE_STORE}?type=Fax")
        assert first["id"] != second["id"]
        state = gw.state()
        assert state["connections"] == 1
        assert [s["id"] for s in state["subscriptions"]] == [second["id"]]
        ext = gw.emu.world.profile
        assert second["eventFilters"] == [
            f"/restapi/v1.0/account/{ext.account_id}/extension/{ext.extension_id}"
            "/message-store?type=Fax"
        ]
        assert second["deliveryMode"] == {"transportType": "WebSocket", "encryption": False}


def test_subscription_errors(gw: Gateway) -> None:
    with gw.connect() as ws:
        recv(ws)
        cases = {
            "/restapi/v1.0/account/~/extension/~/presence": (400, "SUB-508"),
            f"{MESSAGE_STORE}?type=Carrier": (400, "SUB-508"),
            "/restapi/v1.0/account/1/extension/~/message-store": (403, "SUB-406"),
            "/restapi/v1.0/account/~/extension/999/message-store": (403, "SUB-408"),
        }
        for flt, (status, code) in cases.items():
            body = {"eventFilters": [flt], "deliveryMode": {"transportType": "WebSocket"}}
            head, error = request(ws, "POST", "/restapi/v1.0/subscription", body)
            assert (head["status"], error["errorCode"]) == (status, code), flt
        head, error = request(ws, "POST", "/restapi/v1.0/subscription", {"eventFilters": []})
        assert head["status"] == 400 and error["errorCode"] == "CMN-101"
        ws.send("not json")
        head, error = recv(ws)
        assert head["type"] == "Error" and error["errorCode"] == "CMN-104"
        assert gw.state()["subscriptions"] == []  # nothing half-created
    # The harsher reading for an unknown user: RingCentral's documented "other extensions".
    gw.config(unknown_user_code="SUB-405")
    with gw.connect() as ws:
        recv(ws)
        flt = "/restapi/v1.0/account/~/extension/999/message-store"
        body = {"eventFilters": [flt], "deliveryMode": {"transportType": "WebSocket"}}
        head, error = request(ws, "POST", "/restapi/v1.0/subscription", body)
        assert (head["status"], error["errorCode"]) == (403, "SUB-405")


def test_get_update_and_delete_the_subscription(gw: Gateway) -> None:
    with gw.connect() as ws:
        recv(ws)
        info = subscribe(ws, MESSAGE_STORE)
        path = f"/restapi/v1.0/subscription/{info['id']}"
        assert request(ws, "GET", path)[1]["id"] == info["id"]
        body = {"eventFilters": [EXTENSIONS], "deliveryMode": {"transportType": "WebSocket"}}
        updated = request(ws, "PUT", path, body)[1]
        assert updated["id"] == info["id"] and updated["eventFilters"][0].endswith("/extension")
        assert request(ws, "DELETE", path)[0]["status"] == 204
        assert request(ws, "GET", path)[0]["status"] == 404


# -- notifications -----------------------------------------------------------------------------


def test_arrival_change_and_trash_each_notify(gw: Gateway) -> None:
    with subscribed(gw) as (ws, _):
        created = gw.http.post("/_emulator/messages", json={"count": 2}).json()["records"]
        event = next_notification(ws)
        ext = gw.emu.world.profile
        assert event["event"].endswith(f"/extension/{ext.extension_id}/message-store")
        assert event["body"]["extensionId"] == int(ext.extension_id)
        new_ids = [i for c in event["body"]["changes"] for i in c["newMessageIds"]]
        assert sorted(new_ids) == sorted(r["id"] for r in created)
        assert sum(c["newCount"] for c in event["body"]["changes"]) == 2

        target = created[0]
        gw.http.patch(f"/_emulator/messages/{target['id']}", json={"readStatus": "Read"})
        read = next_notification(ws)["body"]["changes"]
        assert read == [
            {"type": target["type"], "newCount": 0, "updatedCount": 1, "newMessageIds": []}
        ]
        trashed = gw.http.delete(f"{MESSAGE_STORE}/{target['id']}")
        assert trashed.status_code == 204
        assert next_notification(ws)["body"]["changes"][0]["updatedCount"] == 1


def test_a_narrowed_filter_only_sees_its_type(gw: Gateway) -> None:
    record = {"type": "Fax", "direction": "Inbound", "subject": "fax"}
    with subscribed(gw, f"{MESSAGE_STORE}?type=Fax") as (ws, _):
        gw.http.post("/_emulator/messages", json={"records": [{**record, "type": "SMS"}]})
        gw.http.post("/_emulator/messages", json={"records": [record]})
        changes = next_notification(ws)["body"]["changes"]
        assert [c["type"] for c in changes] == ["Fax"]


def test_extension_list_events(gw: Gateway) -> None:
    with subscribed(gw, EXTENSIONS) as (ws, _):
        added = gw.http.post("/_emulator/extensions", json={"count": 1}).json()["records"][0]
        gw.http.post("/_emulator/messages", json={"count": 1})  # not for this filter
        created = next_notification(ws)
        assert created["event"].endswith("/extension")
        assert created["body"]["eventType"] == "Create"
        assert created["body"]["extensionId"] == str(added["id"])
        gw.http.delete(f"/_emulator/extensions/{added['id']}")
        deleted = next_notification(ws)["body"]
        assert (deleted["eventType"], deleted["extensionId"]) == ("Delete", str(added["id"]))


@pytest.fixture
def account() -> Iterator[Gateway]:
    emu = Emulator(messages=10, seed=5, rate_limits=False, extensions=3)
    with serve(emu) as server:
        gateway = Gateway(emu, server.url)
        yield gateway
        gateway.http.close()


def test_an_admin_subscribes_to_other_extensions(account: Gateway) -> None:
    users = [e for e in account.emu.account if not e.admin]
    filters = [f"/restapi/v1.0/account/~/extension/{u.id}/message-store" for u in users]
    with subscribed(account, *filters) as (ws, _):
        account.http.post("/_emulator/messages", json={"count": 1})  # the admin's own: not here
        for user in users:
            record = account.http.post(
                "/_emulator/messages", json={"count": 1, "extension": user.id}
            ).json()["records"][0]
            event = next_notification(ws)
            assert event["body"]["extensionId"] == user.id
            assert event["event"].endswith(f"/extension/{user.id}/message-store")
            assert event["body"]["changes"][0]["newMessageIds"] == [record["id"]]


def test_a_plain_user_may_not_subscribe_to_another_extension(account: Gateway) -> None:
    form = {**JWT_FORM, "assertion": "emulator-user-jwt"}
    token = account.http.post("/restapi/oauth/token", data=form, auth=CLIENT_AUTH).json()
    account.http.headers["Authorization"] = f"Bearer {token['access_token']}"
    admin = account.emu.account.admin
    with account.connect() as ws:
        recv(ws)
        own = subscribe(ws, MESSAGE_STORE)
        assert str(token["owner_id"]) in own["eventFilters"][0]
        other = f"/restapi/v1.0/account/~/extension/{admin.id}/message-store"
        body = {"eventFilters": [other], "deliveryMode": {"transportType": "WebSocket"}}
        head, error = request(ws, "POST", "/restapi/v1.0/subscription", body)
        assert (head["status"], error["errorCode"]) == (403, "SUB-405")


# -- liveness ----------------------------------------------------------------------------------


def test_heartbeat_is_answered(gw: Gateway) -> None:
    with gw.connect() as ws:
        recv(ws)
        ws.send(json.dumps([{"type": "Heartbeat", "messageId": "hb-1"}]))
        head, *body = recv(ws)
        assert (head["type"], head["messageId"], head["status"], body) == (
            "Heartbeat",
            "hb-1",
            200,
            [],
        )


def test_server_pings_and_a_client_that_answers_stays(gw: Gateway) -> None:
    gw.config(ping_interval=0.1, pong_timeout=2)
    with gw.connect() as ws:  # websockets answers pings by itself
        recv(ws)
        time.sleep(1.0)
        ws.send(json.dumps([{"type": "Heartbeat", "messageId": "still-here"}]))
        assert recv(ws)[0]["messageId"] == "still-here"


def test_idle_timeout_sends_wsg_902_then_closes(gw: Gateway) -> None:
    gw.config(idle_timeout=0.3)
    with gw.connect() as ws:
        recv(ws)
        head, error = recv(ws, timeout=3)
        assert head["type"] == "Error" and error["errorCode"] == "WSG-902"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=3)


def test_heartbeats_keep_an_idle_connection_open(gw: Gateway) -> None:
    gw.config(idle_timeout=1.5)
    with gw.connect() as ws:
        recv(ws)
        for n in range(5):  # 2.5 s in all, beyond the idle timeout
            time.sleep(0.5)
            ws.send(json.dumps([{"type": "Heartbeat", "messageId": f"hb-{n}"}]))
            assert recv(ws)[0]["type"] == "Heartbeat"


def test_absolute_timeout_sends_wsg_903(gw: Gateway) -> None:
    gw.config(absolute_timeout=0.5, idle_timeout=1.5)
    frames: list[list[Any]] = []
    started = time.monotonic()
    with gw.connect() as ws:
        recv(ws)
        with pytest.raises(ConnectionClosed):
            while time.monotonic() < started + 3:
                # Heartbeats reset the idle timer, never the absolute one.
                ws.send(json.dumps([{"type": "Heartbeat", "messageId": "hb"}]))
                time.sleep(0.1)
        with pytest.raises(ConnectionClosed):
            while True:  # what arrived before the close is still readable
                frames.append(recv(ws))
    errors = [f[1]["errorCode"] for f in frames if f[0]["type"] == "Error"]
    assert errors == ["WSG-903"]
    assert time.monotonic() - started >= 0.5


# -- drop and recovery -------------------------------------------------------------------------


def wait_for(predicate: Any, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_drop_closes_every_connection(gw: Gateway) -> None:
    with gw.connect() as one, gw.connect() as two:
        recv(one), recv(two)
        assert gw.state()["connections"] == 2
        assert gw.http.post("/_emulator/ws/drop").json() == {"dropped": 2}
        for ws in (one, two):
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=WAIT)
            assert closed.value.rcvd is None  # abrupt: no close frame
        wait_for(lambda: gw.state()["connections"] == 0)


def test_recovery_within_the_window_replays_missed_events(gw: Gateway) -> None:
    with subscribed(gw) as (ws, wsc):
        subscription = gw.state()["subscriptions"][0]["id"]
        gw.http.post("/_emulator/ws/drop")
    missed = [gw.http.post("/_emulator/messages", json={"count": 1}).json() for _ in range(3)]
    assert gw.state()["subscriptions"][0]["missed"] == 3
    with gw.connect(wsc) as ws:
        head, details = recv(ws)
        assert details["recoveryState"] == "Successful"
        assert head["wsc"]["token"] == wsc and head["wsc"]["sequence"] > 2
        replayed = [next_notification(ws) for _ in missed]
        assert [e["body"]["changes"][0]["newMessageIds"] for e in replayed] == [
            [m["records"][0]["id"]] for m in missed
        ]
        assert {e["subscriptionId"] for e in replayed} == {subscription}
        # The subscription survived: new events keep coming without resubscribing.
        gw.http.post("/_emulator/messages", json={"count": 1})
        assert next_notification(ws)["subscriptionId"] == subscription


def test_recovery_replays_only_the_newest_buffer_size(gw: Gateway) -> None:
    gw.config(recovery_buffer_size=2)
    with subscribed(gw) as (_, wsc):
        gw.http.post("/_emulator/ws/drop")
    ids = [gw.http.post("/_emulator/messages", json={"count": 1}).json()["records"][0]["id"]]
    ids += [gw.http.post("/_emulator/messages", json={"count": 1}).json()["records"][0]["id"]]
    ids += [gw.http.post("/_emulator/messages", json={"count": 1}).json()["records"][0]["id"]]
    with gw.connect(wsc) as ws:
        assert recv(ws)[1]["recoveryState"] == "Successful"
        got = [next_notification(ws)["body"]["changes"][0]["newMessageIds"][0] for _ in range(2)]
        assert got == ids[1:]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


def test_recovery_after_the_window_fails_and_needs_a_new_subscription(gw: Gateway) -> None:
    gw.config(recovery_timeout=0.3)
    with subscribed(gw) as (_, wsc):
        gw.http.post("/_emulator/ws/drop")
    gw.http.post("/_emulator/messages", json={"count": 1})
    time.sleep(0.5)
    with gw.connect(wsc) as ws:
        head, details = recv(ws)
        assert details["recoveryState"] == "Failed"
        assert head["wsc"]["token"] != wsc
        assert gw.state()["subscriptions"] == []
        with pytest.raises(TimeoutError):  # the missed event is lost
            ws.recv(timeout=0.3)
        subscribe(ws, MESSAGE_STORE)  # on the same socket, as the guide says
        gw.http.post("/_emulator/messages", json={"count": 1})
        assert next_notification(ws)["body"]["changes"][0]["newCount"] == 1


def test_recovery_of_a_session_without_subscription_fails_wsg_1005(gw: Gateway) -> None:
    with gw.connect() as ws:
        wsc = recv(ws)[0]["wsc"]["token"]
    with gw.connect(wsc) as ws:
        details = recv(ws)[1]
    assert details["recoveryState"] == "Failed"
    assert details["recoveryErrorCode"] == "WSG-1005"


def test_idle_timeout_leaves_the_session_recoverable(gw: Gateway) -> None:
    gw.config(idle_timeout=0.3)
    with subscribed(gw) as (ws, wsc):
        assert recv(ws, timeout=3)[1]["errorCode"] == "WSG-902"
    wait_for(lambda: gw.state()["connections"] == 0)
    gw.http.post("/_emulator/messages", json={"count": 1})
    gw.config(idle_timeout=1800)
    with gw.connect(wsc) as ws:
        assert recv(ws)[1]["recoveryState"] == "Successful"
        assert next_notification(ws)["body"]["changes"][0]["newCount"] == 1


def test_websocket_config_is_validated(gw: Gateway) -> None:
    for bad in (
        {"idle_timeout": 0},
        {"nope": 1},
        {"permission": "yes"},
        {"unknown_user_code": "SUB-999"},
    ):
        answer = gw.http.put("/_emulator/config", json={"websocket": bad})
        assert answer.status_code == 400, bad
    assert gw.http.get("/_emulator/config").json()["websocket"]["idle_timeout"] == 1800


def test_a_client_that_never_pongs_is_cut(gw: Gateway) -> None:
    """Sans-I/O client: it parses the server's frames but never sends its automatic pongs."""
    gw.config(ping_interval=0.2, pong_timeout=0.3)
    token = gw.wstoken()
    client = ClientProtocol(parse_uri(f"{token['uri']}?access_token={token['ws_access_token']}"))
    host, port = gw.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        client.send_request(client.connect())
        sock.sendall(b"".join(client.data_to_send()))
        started = time.monotonic()
        opcodes: list[Opcode] = []
        while (data := sock.recv(65536)) and time.monotonic() < started + WAIT:
            client.receive_data(data)
            opcodes += [e.opcode for e in client.events_received() if isinstance(e, Frame)]
        elapsed = time.monotonic() - started
    assert opcodes[:2] == [Opcode.TEXT, Opcode.PING]  # ConnectionDetails, then a ping
    assert Opcode.CLOSE not in opcodes  # cut, not closed
    assert 0.4 <= elapsed < 4.0
