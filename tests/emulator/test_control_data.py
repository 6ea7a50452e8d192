"""Control API endpoints and the seeded data generator."""

from __future__ import annotations

import httpx

from rcsync.emulator import Emulator, FakeClock
from tests.harness.spec import HISTORY, STORE


def test_generator_is_deterministic_and_realistic(clock: FakeClock) -> None:
    one = Emulator(messages=300, seed=11, clock=FakeClock(clock.now())).store.all_records()
    two = Emulator(messages=300, seed=11, clock=FakeClock(clock.now())).store.all_records()
    other = Emulator(messages=300, seed=12, clock=FakeClock(clock.now())).store.all_records()
    assert one == two and one != other
    ids = [r["id"] for r in one]
    assert len(set(ids)) == len(ids) == 300 and all(i > 2**40 for i in ids)
    conversations = [r for r in one if r["type"] in ("SMS", "Pager")]
    assert conversations and all(r["conversationId"] > 2**53 for r in conversations)
    assert all(r["conversation"]["id"] == str(r["conversationId"]) for r in conversations)
    voicemails = [r for r in one if r["type"] == "VoiceMail" and r["availability"] != "Purged"]
    assert any(r["vmTranscriptionStatus"] == "Completed" for r in voicemails)
    assert any(len(r["attachments"]) == 2 for r in voicemails)
    faxes = [r for r in one if r["type"] == "Fax"]
    assert all(r["faxPageCount"] >= 1 and r["faxResolution"] in ("High", "Low") for r in faxes)
    assert {r["direction"] for r in one} == {"Inbound", "Outbound"}
    assert {r["readStatus"] for r in one} == {"Read", "Unread"}


def test_control_api(emu: Emulator, client: httpx.Client, clock: FakeClock) -> None:
    assert client.get("/_emulator/health").json()["status"] == "ok"
    everything = client.get("/_emulator/messages").json()["records"]
    assert len(everything) == 500 and {r["availability"] for r in everything} == {
        "Alive",
        "Deleted",
        "Purged",
    }

    arrived = client.post("/_emulator/messages", json={"count": 2}).json()["records"]
    assert len(arrived) == 2 and all(r["readStatus"] == "Unread" for r in arrived)
    listed = client.get(STORE).json()["records"]
    assert {r["id"] for r in arrived} <= {r["id"] for r in listed}

    custom = {
        "id": 9_000_000_000_001,
        "uri": "https://elsewhere.example/x",
        "type": "SMS",
        "direction": "Inbound",
        "creationTime": "2024-01-02T03:04:05.006Z",
        "lastModifiedTime": "2024-01-02T03:04:05.006Z",
        "readStatus": "Unread",
        "availability": "Alive",
        "subject": "injected",
        "conversationId": 2**60 + 5,
        "conversation": {"id": str(2**60 + 5)},
        "from": {"phoneNumber": "+15550001111"},
        "to": [{"phoneNumber": "+16505550100"}],
        "attachments": [{"id": 77, "type": "Text", "contentType": "text/plain"}],
    }
    created = client.post("/_emulator/messages", json={"records": [custom]}).json()["records"][0]
    assert created["uri"].endswith("/message-store/9000000000001") and created["uri"].startswith(
        "https://platform"
    )
    assert created["creationTime"] == custom["creationTime"]
    content = client.get(created["attachments"][0]["uri"])
    assert content.content == b"injected" and created["attachments"][0]["size"] == len(b"injected")

    clock.advance(1)
    patched = client.patch(
        f"/_emulator/messages/{created['id']}",
        json={"readStatus": "Read", "availability": "Purged"},
    )
    assert patched.json()["availability"] == "Purged" and patched.json()["attachments"] == []
    assert patched.json()["lastModifiedTime"] != custom["lastModifiedTime"]

    counters = client.get("/_emulator/requests").json()
    assert counters["by_operation"]["listMessages"] == 1 and counters["status"]["200"] >= 2
    assert "_emulator" not in str(counters)
    client.delete("/_emulator/requests")
    assert client.get("/_emulator/requests").json() == {
        "total": 0,
        "by_operation": {},
        "status": {},
    }

    config = client.put(
        "/_emulator/config", json={"rate_limits": True, "access_token_ttl": 900}
    ).json()
    assert config["rate_limits"]["enabled"] is True and config["access_token_ttl"] == 900

    assert client.post("/_emulator/clock", json={"advance": 5}).status_code == 200
    dropped = client.post("/_emulator/retention", json={"before": "2030-01-01T00:00:00Z"}).json()[
        "dropped"
    ]
    assert dropped == len(everything) + 3
    assert client.get(STORE, params={"dateFrom": HISTORY}).json()["records"] == []
    assert client.get("/_emulator/nope").status_code == 404
