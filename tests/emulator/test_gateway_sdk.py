"""RingCentral's official Python SDK (package ``ringcentral``), unchanged, subscribes over the
emulator's WebSocket gateway and receives a message-store event.

The SDK's client (``ringcentral.websocket``, 0.9.x) gets a wstoken with ``platform.post``,
connects with ``websockets``, then sends the documented ClientRequest. Known SDK defect,
faithfully reproduced: it waits for a ``WSG-SubscriptionId`` header the live gateway does not
send (ringcentral/ringcentral-python#92), so ``subscriptionCreated`` never fires; the
notifications still arrive through ``receiveSubscriptionNotification``.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from typing import Any

import pytest

from rcsync.emulator import Emulator, serve

sdk_module = pytest.importorskip("ringcentral")
websocket_module = pytest.importorskip("ringcentral.websocket")

FILTER = "/restapi/v1.0/account/~/extension/~/message-store"


async def _subscribe_and_receive(emu: Emulator, url: str) -> list[Any]:
    sdk = sdk_module.SDK("emulator-client", "emulator-secret", url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdk.platform().login(jwt="emulator-jwt")
    client = sdk.create_web_socket_client()
    events = websocket_module.WebSocketEvents
    received: asyncio.Queue[Any] = asyncio.Queue()
    client.on(events.receiveSubscriptionNotification, received.put_nowait)

    connection = asyncio.create_task(client.create_new_connection())
    await client.create_subscription([FILTER])  # waits for the connection by itself
    deadline = time.monotonic() + 5
    while not emu.gateway.snapshot()["subscriptions"]:
        assert time.monotonic() < deadline, "the SDK's subscription never reached the gateway"
        await asyncio.sleep(0.02)
    created = emu.store.arrive(1)[0]
    try:
        message = await asyncio.wait_for(received.get(), timeout=5)
    finally:
        await client.close_connection()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)
    assert isinstance(message, list)
    message.append(created)
    return message


def test_official_sdk_websocket_client_receives_an_event() -> None:
    emu = Emulator(messages=20, seed=11, rate_limits=False)
    with serve(emu) as server:
        frame = asyncio.run(_subscribe_and_receive(emu, server.url))
    head, event, created = frame
    assert head["type"] == "ServerNotification"
    assert event["event"].endswith("/message-store")
    change = event["body"]["changes"][0]
    assert change["newMessageIds"] == [created["id"]]
    assert change["type"] == created["type"] and change["newCount"] == 1
    json.dumps(frame)  # what the SDK hands over is plain JSON data
