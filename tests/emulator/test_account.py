"""An account of many extensions: ids, permissions, the extension list, control calls, and the
store's change listeners (what the WebSocket gateway builds on)."""

from __future__ import annotations

import httpx

from rcsync.emulator import Emulator, FakeClock
from rcsync.emulator.store import StoreEvent

from .conftest import HISTORY, STORE

Heard = list[tuple[int, str, list[int]]]


def _listen(emu: Emulator) -> Heard:
    heard: Heard = []
    emu.store.add_listener(lambda ext, event, ids: heard.append((ext, event, list(ids))))
    return heard


def test_listener_hears_arrivals_edits_and_deletes(emu: Emulator, client: httpx.Client) -> None:
    heard = _listen(emu)
    me = emu.store.extension_id
    [new] = emu.store.arrive(1)
    assert heard == [(me, StoreEvent.NEW, [new["id"]])]
    heard.clear()
    client.put(f"{STORE}/{new['id']}", json={"readStatus": "Read"})
    client.delete(f"{STORE}/{new['id']}")
    client.patch(f"{STORE}/{new['id']}", json={"availability": "Alive"})
    assert heard == [
        (me, "updated", [new["id"]]),
        (me, "deleted", [new["id"]]),
        (me, "updated", [new["id"]]),
    ]


def test_listener_hears_a_bulk_change_once(emu: Emulator, client: httpx.Client) -> None:
    records = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "5"}).json()["records"]
    ids = [r["id"] for r in records]
    heard = _listen(emu)
    assert client.delete(f"{STORE}/{','.join(map(str, ids))}").status_code == 204
    assert heard == [(emu.store.extension_id, "deleted", ids)]


def test_a_write_that_changes_nothing_is_not_an_event(emu: Emulator, client: httpx.Client) -> None:
    record = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1"}).json()["records"][0]
    heard = _listen(emu)
    client.put(f"{STORE}/{record['id']}", json={"readStatus": record["readStatus"]})
    assert heard == []


def test_a_failing_listener_does_not_stop_the_change(clock: FakeClock) -> None:
    emu = Emulator(messages=10, seed=2, clock=clock, rate_limits=False)

    def broken(_ext: int, _event: str, _ids: list[int]) -> None:
        raise RuntimeError("listener bug")

    emu.store.add_listener(broken)
    heard = _listen(emu)
    [new] = emu.store.arrive(1)
    assert emu.store.get(new["id"]) is not None
    assert heard == [(emu.store.extension_id, "new", [new["id"]])]
