"""Every operation the emulator serves answers in the shape RingCentral's OpenAPI spec declares."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from rcsync.emulator import Emulator
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import API, HISTORY, STORE, SYNC

Validate = Callable[[httpx.Response], None]


def _first(client: httpx.Client, **params: str) -> dict:
    query = {"dateFrom": HISTORY, "perPage": "1", **params}
    return client.get(STORE, params=query).json()["records"][0]


def test_token_and_extension(emu: Emulator, validate: Validate) -> None:
    client = httpx.Client(transport=emu.transport(), base_url=API)
    token = client.post("/restapi/oauth/token", data=JWT_FORM, auth=CLIENT_AUTH)
    assert token.status_code == 200
    validate(token)
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    info = client.get("/restapi/v1.0/account/~/extension/~")
    assert info.status_code == 200 and info.json()["extensionNumber"] == "101"
    validate(info)


def test_list_every_type(client: httpx.Client, validate: Validate) -> None:
    response = client.get(
        STORE,
        params={
            "dateFrom": HISTORY,
            "perPage": "1000",
            "availability": ["Alive", "Deleted", "Purged"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert {r["type"] for r in body["records"]} == {"SMS", "Pager", "VoiceMail", "Fax"}
    assert {r["availability"] for r in body["records"]} == {"Alive", "Deleted", "Purged"}
    validate(response)


def test_get_single_and_bulk(client: httpx.Client, validate: Validate) -> None:
    record = _first(client)
    single = client.get(f"{STORE}/{record['id']}")
    assert single.status_code == 200 and single.json()["vmSideRecipients"] == record["to"]
    validate(single)
    bulk = client.get(
        f"{STORE}/{record['id']},42",
        headers={"Accept": "application/vnd.ringcentral.multipart+json"},
    )
    assert bulk.status_code == 207
    assert [p["status"] for p in bulk.json()] == [200, 404]
    assert bulk.json()[1]["body"]["errorCode"] == "CMN-102"
    validate(bulk)


def test_put_patch_delete(client: httpx.Client, validate: Validate) -> None:
    records = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "3"}).json()["records"]
    one, two, three = (r["id"] for r in records)
    put = client.put(f"{STORE}/{one}", json={"readStatus": "Unread"})
    assert put.status_code == 200
    validate(put)
    bulk = client.put(
        f"{STORE}/{one},{two}",
        json=[{"body": {"readStatus": "Read"}}, {"body": {"readStatus": "Read"}}],
        headers={"Content-Type": "application/vnd.ringcentral.multipart+json"},
    )
    assert bulk.status_code == 207
    validate(bulk)
    patch = client.patch(f"{STORE}/{three}", json={"readStatus": "Read"})
    assert patch.status_code == 200
    validate(patch)
    delete = client.delete(f"{STORE}/{three}")
    assert delete.status_code == 204
    validate(delete)


def test_content(client: httpx.Client, validate: Validate) -> None:
    for kind in ("VoiceMail", "Fax"):
        record = _first(client, messageType=kind)
        attachment = record["attachments"][0]
        response = client.get(attachment["uri"])
        assert response.status_code == 200
        assert len(response.content) == attachment["size"]
        validate(response)


def test_sync(client: httpx.Client, validate: Validate) -> None:
    full = client.get(SYNC, params={"syncType": "FSync", "dateFrom": HISTORY, "recordCount": "5"})
    assert full.status_code == 200
    validate(full)
    token = full.json()["syncInfo"]["syncToken"]
    incremental = client.get(SYNC, params={"syncType": "ISync", "syncToken": token})
    assert incremental.status_code == 200
    validate(incremental)
