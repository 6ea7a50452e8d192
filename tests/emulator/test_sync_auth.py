"""Message sync (FSync/ISync, overlap, MSG-333) and OAuth token rules."""

from __future__ import annotations

import httpx

from rcsync.emulator import Emulator, FakeClock
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import API, HISTORY, STORE, SYNC

TOKEN = "/restapi/oauth/token"


def _fsync(client: httpx.Client, **params: str) -> dict:
    return client.get(SYNC, params={"syncType": "FSync", "dateFrom": HISTORY, **params}).json()


def _isync(client: httpx.Client, token: str) -> httpx.Response:
    return client.get(SYNC, params={"syncType": "ISync", "syncToken": token})


def test_fsync_record_count_and_older_records(client: httpx.Client) -> None:
    alive = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1000"}).json()["records"]
    small = _fsync(client, recordCount="3")
    assert [r["id"] for r in small["records"]] == [r["id"] for r in alive[:3]]
    assert (
        small["syncInfo"]["olderRecordsExist"] is True and small["syncInfo"]["syncType"] == "FSync"
    )
    everything = _fsync(client)
    assert (
        len(everything["records"]) == len(alive)
        and everything["syncInfo"]["olderRecordsExist"] is False
    )


def test_isync_sees_old_changes_overlap_and_deletions(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    token = _fsync(client, recordCount="1")["syncInfo"]["syncToken"]
    oldest = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1000"}).json()["records"][
        -3:
    ]
    clock.advance(2)
    client.put(f"{STORE}/{oldest[0]['id']}", json={"readStatus": "Unread"})
    client.delete(f"{STORE}/{oldest[1]['id']}")
    arrived = emu.store.arrive(1)[0]
    first = _isync(client, token).json()
    by_id = {r["id"]: r for r in first["records"]}
    assert by_id[oldest[0]["id"]]["readStatus"] == "Unread"
    assert by_id[oldest[1]["id"]] == {"id": oldest[1]["id"], "availability": "Deleted"}
    assert arrived["id"] in by_id
    # Overlap: within 5 s of the last sync the same changes come again.
    clock.advance(3)
    again = _isync(client, first["syncInfo"]["syncToken"]).json()
    assert {r["id"] for r in again["records"]} == set(by_id)
    clock.advance(10)
    later = _isync(client, again["syncInfo"]["syncToken"]).json()  # syncTime 5 s after the changes
    quiet = _isync(client, later["syncInfo"]["syncToken"]).json()
    assert quiet["records"] == []


def test_frame_filters_apply_to_isync(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    token = _fsync(client, messageType="Fax", recordCount="1")["syncInfo"]["syncToken"]
    sms = client.get(
        STORE, params={"dateFrom": HISTORY, "messageType": "SMS", "perPage": "1"}
    ).json()["records"][0]
    fax = client.get(
        STORE, params={"dateFrom": HISTORY, "messageType": "Fax", "perPage": "1"}
    ).json()["records"][0]
    clock.advance(1)
    emu.store.remote_edit(sms["id"], read_status="Unread")
    emu.store.remote_edit(fax["id"], read_status="Unread")
    assert [r["id"] for r in _isync(client, token).json()["records"]] == [fax["id"]]


def test_msg_333(emu: Emulator, client: httpx.Client) -> None:
    token = _fsync(client, recordCount="1")["syncInfo"]["syncToken"]
    for bad in ("garbage", token[:-2] + "zz", token.replace("e", "f", 1)):
        response = _isync(client, bad)
        assert response.status_code == 400 and response.json()["errorCode"] == "MSG-333"
    assert _isync(client, token).status_code == 200
    emu.sync.invalidate()
    response = _isync(client, token)
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "Invalid message synchronisation request: full synchronization is required"
    )


def _token(client: httpx.Client, **form: str) -> httpx.Response:
    return client.post(TOKEN, data=form, auth=CLIENT_AUTH)


def test_refresh_rotation(emu: Emulator) -> None:
    client = httpx.Client(transport=emu.transport(), base_url=API)
    first = _token(client, **JWT_FORM).json()
    second = _token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    reused = _token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    old_access = client.get(STORE, headers={"Authorization": f"Bearer {first['access_token']}"})
    assert old_access.status_code == 401
    new_access = client.get(
        STORE, headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert new_access.status_code == 200


def test_expiry_and_expire_tokens(emu: Emulator, clock: FakeClock) -> None:
    client = httpx.Client(transport=emu.transport(), base_url=API)
    token = _token(client, **JWT_FORM, access_token_ttl="600").json()
    assert token["expires_in"] == 600 and token["refresh_token_expires_in"] == 604800
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get(STORE, headers=bearer).status_code == 200
    assert client.post("/_emulator/expire-tokens").status_code == 200
    expired = client.get(STORE, headers=bearer)
    assert expired.status_code == 401 and expired.json()["errors"][0]["errorCode"] == "OAU-128"
    fresh = _token(client, grant_type="refresh_token", refresh_token=token["refresh_token"]).json()
    assert (
        client.get(STORE, headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code
        == 200
    )
    clock.advance(3601)
    assert (
        client.get(STORE, headers={"Authorization": f"Bearer {fresh['access_token']}"}).status_code
        == 401
    )


def test_credentials_and_revoke(emu: Emulator) -> None:
    client = httpx.Client(transport=emu.transport(), base_url=API)
    wrong_client = client.post(TOKEN, data=JWT_FORM, auth=("emulator-client", "nope"))
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"
    assert wrong_client.json()["errors"][0]["errorCode"] == "OAU-146"
    wrong_jwt = _token(client, grant_type=JWT_FORM["grant_type"], assertion="nope")
    assert wrong_jwt.status_code == 400 and wrong_jwt.json()["errors"][0]["errorCode"] == "OAU-140"
    password = _token(
        client,
        grant_type="password",
        username="+15550100",
        extension="101",
        password="emulator-password",
    )
    assert password.status_code == 200
    assert client.get(STORE).json()["errors"][0]["errorCode"] == "CMN-405"
    access = password.json()["access_token"]
    assert (
        client.post("/restapi/oauth/revoke", data={"token": access}, auth=CLIENT_AUTH).status_code
        == 200
    )
    assert client.get(STORE, headers={"Authorization": f"Bearer {access}"}).status_code == 401
    refresh = _token(
        client, grant_type="refresh_token", refresh_token=password.json()["refresh_token"]
    )
    assert refresh.status_code == 400
