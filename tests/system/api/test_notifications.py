"""rcsync's WebSocket notification client (`rcsync.api.notifications`) against the emulator's
gateway over loopback: token, subscribe, notify, heartbeat, drop, recovery, timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcsync.api import MessageStoreClient, build_client
from rcsync.api.notifications import (
    EXTENSION_LIST_FILTER,
    EventKind,
    NotificationSocket,
    RecoveryState,
    SavedSession,
    Updated,
    message_store_filter,
    open_session,
    request_ws_token,
)
from rcsync.emulator import Emulator, serve
from rcsync.errors import NotificationError, NotificationsUnavailable
from tests.harness.config import rc_config

SELF = message_store_filter()
WAIT = 5.0


class Loopback:
    def __init__(self, tmp_path: Path, emu: Emulator, url: str) -> None:
        self.emu = emu
        self.control = httpx.Client(base_url=url)
        self.client: MessageStoreClient = build_client(
            rc_config(tmp_path / "state" / "tokens.json", server=url)
        )

    def config(self, **websocket: Any) -> None:
        answer = self.control.put("/_emulator/config", json={"websocket": websocket})
        assert answer.status_code == 200, answer.text

    def new_message(self) -> int:
        answer = self.control.post("/_emulator/messages", json={"count": 1}).json()
        return int(answer["records"][0]["id"])

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.control.get("/_emulator/ws").json()
        return body

    def requests(self) -> dict[str, int]:
        ops: dict[str, int] = self.control.get("/_emulator/requests").json()["by_operation"]
        return ops


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loopback]:
    emu = Emulator(messages=20, seed=3, rate_limits=True)
    with serve(emu) as server:
        env = Loopback(tmp_path, emu, server.url)
        yield env
        env.client.close()
        env.control.close()


def wait_until(predicate: Any, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_subscribe_and_receive_an_arrival_and_a_change(loop: Loopback) -> None:
    connected = open_session(loop.client.session, [SELF])
    try:
        assert connected.recovered is False
        assert connected.subscription.event_filters[0].endswith("/message-store")
        assert loop.state()["subscriptions"][0]["id"] == connected.subscription.id
        new_id = loop.new_message()
        event = connected.socket.receive(WAIT)
        assert event is not None and event.kind is EventKind.MESSAGE_STORE
        assert event.extension_id == str(loop.emu.world.profile.extension_id)
        assert event.body["body"]["changes"][0]["newMessageIds"] == [new_id]
        loop.control.patch(f"/_emulator/messages/{new_id}", json={"readStatus": "Read"})
        changed = connected.socket.receive(WAIT)
        assert changed is not None and changed.body["body"]["changes"][0]["updatedCount"] == 1
        assert connected.socket.receive(0.2) is None  # nothing else: None after the timeout
    finally:
        connected.socket.close()
    assert loop.requests()["authWsToken"] == 1


def test_heartbeats_keep_the_connection_past_the_idle_timeout(loop: Loopback) -> None:
    loop.config(idle_timeout=0.9)
    connected = open_session(loop.client.session, [SELF])
    try:
        assert connected.socket.heartbeat_every == pytest.approx(0.3)
        assert connected.socket.receive(2.5) is None  # three idle timeouts, still open
        loop.new_message()
        assert connected.socket.receive(WAIT) is not None
    finally:
        connected.socket.close()


def test_idle_timeout_is_reported_with_its_code(loop: Loopback) -> None:
    loop.config(idle_timeout=0.3)
    connected = open_session(loop.client.session, [SELF])
    connected.socket.heartbeat_every = 60  # as a client that forgot to send heartbeats
    with pytest.raises(NotificationError) as failed:
        connected.socket.receive(WAIT)
    assert failed.value.code == "WSG-902"


def test_drop_then_recover_successful_replays_missed_events(loop: Loopback) -> None:
    first = open_session(loop.client.session, [SELF])
    loop.control.post("/_emulator/ws/drop")
    with pytest.raises(NotificationError):
        first.socket.receive(WAIT)
    saved = first.saved(time.time())
    assert saved is not None
    restored = SavedSession.from_json(saved.to_json())  # as a restarted watch reads it
    missed = [loop.new_message(), loop.new_message()]
    again = open_session(loop.client.session, [SELF], restored)
    try:
        assert again.recovered is True
        assert again.socket.details.recovery_state is RecoveryState.SUCCESSFUL
        assert again.subscription.id == first.subscription.id  # not subscribed again
        got = [again.socket.receive(WAIT) for _ in missed]
        assert [e.body["body"]["changes"][0]["newMessageIds"][0] for e in got if e] == missed
        assert again.socket.wsc is not None and again.socket.wsc.sequence > saved.sequence
    finally:
        again.socket.close()


def test_recovery_after_the_window_fails_and_resubscribes(loop: Loopback) -> None:
    loop.config(recovery_timeout=0.2)
    first = open_session(loop.client.session, [SELF])
    saved = first.saved(time.time())
    first.socket.close()
    loop.new_message()  # lost: the window will have passed
    time.sleep(0.5)
    again = open_session(loop.client.session, [SELF], saved)
    try:
        assert again.recovered is False
        assert again.socket.details.recovery_state is RecoveryState.FAILED
        assert again.subscription.id != first.subscription.id
        assert again.socket.receive(0.3) is None
        loop.new_message()
        assert again.socket.receive(WAIT) is not None  # the new subscription works
    finally:
        again.socket.close()


def test_recovered_session_with_other_filters_is_subscribed_again(loop: Loopback) -> None:
    first = open_session(loop.client.session, [SELF])
    saved = first.saved(time.time())
    first.socket.close()
    wait_until(lambda: loop.state()["connections"] == 0)
    wanted = [SELF, "/restapi/v1.0/account/~/extension"]
    again = open_session(loop.client.session, wanted, saved)
    try:
        assert again.recovered is True
        assert len(again.subscription.event_filters) == 2
    finally:
        again.socket.close()


def test_an_update_changes_the_filters_of_the_same_subscription(loop: Loopback) -> None:
    """`update` is RingCentral's PUT over the socket: same id, the new filters, events go on."""
    connected = open_session(loop.client.session, [SELF])
    try:
        connected.socket.update(connected.subscription.id, [SELF, EXTENSION_LIST_FILTER])
        answer = connected.socket.receive(WAIT)
        assert isinstance(answer, Updated)
        assert answer.subscription.id == connected.subscription.id
        assert answer.requested == (SELF, EXTENSION_LIST_FILTER)
        [held] = loop.state()["subscriptions"]
        assert held["id"] == answer.subscription.id and len(held["eventFilters"]) == 2
        loop.new_message()
        event = connected.socket.receive(WAIT)
        assert event is not None and not isinstance(event, Updated)
        assert event.kind is EventKind.MESSAGE_STORE
    finally:
        connected.socket.close()


@pytest.mark.parametrize("code", ["SUB-408", "SUB-405"])
def test_a_refused_update_ends_the_connection_not_the_notifications(
    loop: Loopback, code: str
) -> None:
    """A filter the gateway refuses (here a user it does not know: a 403 with the
    emulator's SUB-408 or the documented SUB-405) leaves the subscription as it was; the
    client reconnects rather than giving notifications up."""
    answer = loop.control.put("/_emulator/config", json={"websocket": {"unknown_user_code": code}})
    assert answer.status_code == 200, answer.text
    connected = open_session(loop.client.session, [SELF])
    try:
        unknown = message_store_filter("999")
        connected.socket.update(connected.subscription.id, [SELF, unknown])
        with pytest.raises(NotificationError) as refused:
            connected.socket.receive(WAIT)
        assert not isinstance(refused.value, NotificationsUnavailable)
        assert refused.value.code == code
        [held] = loop.state()["subscriptions"]
        assert len(held["eventFilters"]) == 1
    finally:
        connected.socket.close()


def test_no_websocket_permission_is_unavailable(loop: Loopback) -> None:
    loop.config(permission=False)
    with pytest.raises(NotificationsUnavailable) as refused:
        request_ws_token(loop.client.session)
    assert refused.value.code == "CMN-401"


def test_a_used_token_is_refused_by_the_gateway(loop: Loopback) -> None:
    grant = request_ws_token(loop.client.session)
    NotificationSocket.open(grant).close()
    with pytest.raises(NotificationError, match="refused the WebSocket token"):
        NotificationSocket.open(grant)


def test_invalid_filters_are_refused(loop: Loopback) -> None:
    with pytest.raises(NotificationError, match="SUB-508"):
        open_session(loop.client.session, ["/restapi/v1.0/account/~/nonsense"])


def test_wstokens_never_earn_a_429_in_the_auth_group(loop: Loopback) -> None:
    """Five tokens in a row with Auth at 2 per second (RingCentral's 5/min, shrunk so the test
    is short): the shared budget paces them with the login, nothing is throttled."""
    loop.control.put(
        "/_emulator/config",
        json={"rate_limits": {"enabled": True, "limits": {"Auth": 2}, "window": 1}},
    )
    for _ in range(5):
        request_ws_token(loop.client.session)
    assert loop.requests()["authWsToken"] == 5
    events = loop.control.get("/_emulator/rate-limit-log").json()["events"]
    auth = [e["outcome"] for e in events if e["group"] == "Auth"]
    assert auth and set(auth) == {"ok"}
