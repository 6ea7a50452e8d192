"""Message-store semantics: paging, filters, bulk limits, availability transitions, content."""

from __future__ import annotations

import math

import httpx
import pytest

from rcsync.emulator import Emulator, FakeClock
from rcsync.emulator.times import format_ms, parse_iso
from tests.harness.spec import HISTORY, STORE


def _all(client: httpx.Client, **params: object) -> list[dict]:
    query = {"dateFrom": HISTORY, "perPage": "1000", **params}
    return client.get(STORE, params=query).json()["records"]


@pytest.mark.parametrize("per_page", [1, 7, 100])
def test_paging_and_navigation(client: httpx.Client, per_page: int) -> None:
    total = len(_all(client))
    pages = math.ceil(total / per_page)
    body = client.get(STORE, params={"dateFrom": HISTORY, "perPage": per_page, "page": 2}).json()
    assert body["paging"] == {
        "page": 2, "perPage": per_page, "totalPages": pages, "totalElements": total,
        "pageStart": per_page, "pageEnd": min(2 * per_page, total) - 1,
    }  # fmt: skip
    nav = body["navigation"]
    assert set(nav) == {"firstPage", "previousPage", "nextPage", "lastPage"}
    assert nav["nextPage"]["uri"].startswith(
        "https://platform.ringcentral.com/restapi/v1.0/account/"
    )
    assert "page=3" in nav["nextPage"]["uri"] and f"perPage={per_page}" in nav["nextPage"]["uri"]
    seen, uri = [], nav["firstPage"]["uri"]
    while uri:
        page = client.get(uri).json()
        seen += [r["id"] for r in page["records"]]
        uri = page["navigation"].get("nextPage", {}).get("uri")
    assert len(seen) == len(set(seen)) == total
    first = client.get(STORE, params={"dateFrom": HISTORY, "perPage": per_page}).json()
    assert "previousPage" not in first["navigation"]


def test_newest_first_and_per_page_clamp(client: httpx.Client) -> None:
    body = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "5000"}).json()
    assert body["paging"]["perPage"] == 1000
    keys = [(r["creationTime"], r["id"]) for r in body["records"]]
    assert keys == sorted(keys, reverse=True)


def test_default_range_is_last_24_hours(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    arrived = emu.store.arrive(2)
    clock.advance(600)
    ids = {r["id"] for r in client.get(STORE).json()["records"]}
    assert {r["id"] for r in arrived} <= ids
    now = format_ms(int(clock.now() * 1000))
    in_range = client.get(STORE, params={"dateTo": now}).json()["records"]
    assert all(parse_iso(r["creationTime"]) >= parse_iso(now) - 86_400_000 for r in in_range)


def test_date_from_inclusive_date_to_exclusive(client: httpx.Client) -> None:
    record = _all(client)[10]
    at = record["creationTime"]
    assert record["id"] in {r["id"] for r in _all(client, dateFrom=at)}
    assert record["id"] not in {r["id"] for r in _all(client, dateTo=at)}


def test_filters(client: httpx.Client) -> None:
    everything = _all(client, availability=["Alive", "Deleted", "Purged"])
    assert {r["availability"] for r in _all(client)} == {"Alive"}
    for name, field, values in (
        ("messageType", "type", ["VoiceMail", "Fax"]),
        ("direction", "direction", ["Outbound"]),
        ("readStatus", "readStatus", ["Unread"]),
        ("availability", "availability", ["Deleted", "Purged"]),
    ):
        got = _all(
            client,
            **{name: values, "availability": ["Alive", "Deleted", "Purged"]}
            if name != "availability"
            else {name: values},
        )
        assert got and {r[field] for r in got} <= set(values)
        assert len(got) == sum(1 for r in everything if r[field] in values)
    sms = next(r for r in everything if r["type"] == "SMS")
    conv = _all(
        client, conversationId=sms["conversationId"], availability=["Alive", "Deleted", "Purged"]
    )
    assert conv and {r["conversation"]["id"] for r in conv} == {str(sms["conversationId"])}
    bad = client.get(STORE, params={"messageType": "Carrier pigeon"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["errorCode"] == "CMN-101"


def test_bulk_limits(client: httpx.Client) -> None:
    ids = ",".join(str(1400000000000 + i) for i in range(51))
    response = client.put(f"{STORE}/{ids}", json={"readStatus": "Read"})
    assert response.status_code == 400 and response.json()["errorCode"] == "CMN-106"
    body = [{"resourceId": str(i), "body": {"readStatus": "Read"}} for i in range(1001)]
    assert client.put(f"{STORE}/*", json=body).json()["errorCode"] == "CMN-106"
    assert client.delete(f"{STORE}/{ids}").json()["errorCode"] == "CMN-106"


def test_bulk_update_by_body(client: httpx.Client) -> None:
    records = _all(client, readStatus="Read")[:3]
    body = [{"resourceId": str(r["id"]), "body": {"readStatus": "Unread"}} for r in records] + [
        {"resourceId": "5", "body": {"readStatus": "Unread"}}
    ]
    parts = client.put(
        f"{STORE}/*", json=body, headers={"Accept": "application/vnd.ringcentral.multipart+json"}
    ).json()
    assert [p["status"] for p in parts] == [200, 200, 200, 404]
    assert all(p["body"]["readStatus"] == "Unread" for p in parts[:3])


def test_multipart_mixed_bulk_get(client: httpx.Client) -> None:
    a, b = _all(client)[:2]
    response = client.get(f"{STORE}/{a['id']},{b['id']}")
    assert response.status_code == 207
    assert response.headers["content-type"].startswith("multipart/mixed; boundary=")
    assert response.text.count('"status": 200') == 2


def test_two_step_delete_restore_and_purge(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    record = next(r for r in _all(client) if r["type"] == "VoiceMail")
    uri = f"{STORE}/{record['id']}"
    clock.advance(10)
    assert client.delete(uri).status_code == 204
    deleted = emu.store.get(record["id"])
    assert deleted["availability"] == "Deleted" and deleted["attachments"]
    assert deleted["lastModifiedTime"] == format_ms(int(clock.now() * 1000))
    restored = client.patch(uri, json={"availability": "Alive"})
    assert restored.status_code == 200 and restored.json()["availability"] == "Alive"
    client.delete(uri)
    assert client.delete(uri).status_code == 204
    purged = emu.store.get(record["id"])
    assert purged["availability"] == "Purged" and purged["attachments"] == []
    assert client.get(record["attachments"][0]["uri"]).status_code == 404
    assert client.patch(uri, json={"availability": "Alive"}).status_code == 400
    assert client.delete(uri).status_code == 204  # already purged: still 204
    assert client.delete(f"{STORE}/42").status_code == 404


def test_purge_at_once_and_delete_by_filter(emu: Emulator, client: httpx.Client) -> None:
    first, *_ = _all(client)
    assert client.delete(f"{STORE}/{first['id']}", params={"purge": "true"}).status_code == 204
    assert emu.store.get(first["id"])["availability"] == "Purged"
    sms = next(r for r in _all(client) if r["type"] == "SMS")
    conv = str(sms["conversationId"])
    assert client.delete(STORE, params={"conversationId": conv}).status_code == 204
    assert _all(client, conversationId=conv) == []
    assert len(_all(client, conversationId=conv, availability="Deleted")) >= 1


def test_delete_star_without_body_deletes_everything(emu: Emulator, client: httpx.Client) -> None:
    assert client.delete(f"{STORE}/*").status_code == 204
    assert _all(client) == []


def test_put_cannot_change_availability(client: httpx.Client) -> None:
    record = _all(client)[0]
    response = client.put(f"{STORE}/{record['id']}", json={"availability": "Deleted"})
    assert response.status_code == 400


def test_content_bytes_and_ranges(client: httpx.Client) -> None:
    fax = _all(client, messageType="Fax")[0]
    attachment = fax["attachments"][0]
    whole = client.get(attachment["uri"])
    assert whole.headers["content-type"] == "application/pdf" and whole.content.startswith(b"%PDF-")
    assert whole.content.count(b"/Type /Page ") == fax["faxPageCount"]
    part = client.get(attachment["uri"], headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == whole.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{attachment['size']}"
    tail = client.get(attachment["uri"], headers={"Range": "bytes=-5"})
    assert tail.content == whole.content[-5:]
    bad = client.get(attachment["uri"], headers={"Range": f"bytes={attachment['size']}-"})
    assert bad.status_code == 416 and bad.json()["errorCode"] == "CMN-107"
    named = client.get(
        attachment["uri"],
        params={"contentDisposition": "Attachment", "contentDispositionFilename": "x.pdf"},
    )
    assert named.headers["content-disposition"] == 'attachment; filename="x.pdf"'


def test_every_attachment_size_matches(client: httpx.Client) -> None:
    seen_types = set()
    for record in _all(client)[:200]:
        for attachment in record["attachments"]:
            data = client.get(attachment["uri"]).content
            assert len(data) == attachment["size"], attachment
            seen_types.add(attachment["type"])
            if attachment["type"] == "Text":
                assert data.decode() == record["subject"]
    assert {"Text", "AudioRecording", "AudioTranscription", "RenderedDocument"} <= seen_types
