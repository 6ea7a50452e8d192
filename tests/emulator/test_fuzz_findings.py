"""The defects an independent spec-driven fuzzer found (issue 18, items 1-5, 8, 9), in-process."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, unquote

import httpx
import pytest

from rcsync.emulator import Emulator
from tests.harness.spec import HISTORY, STORE, SYNC

ACCT = "/restapi/v1.0/account"


def _records(client: httpx.Client, **params: object) -> list[dict]:
    query = {"dateFrom": HISTORY, "perPage": "1000", **params}
    return client.get(STORE, params=query).json()["records"]


def _first(client: httpx.Client, kind: str) -> dict:
    return _records(client, messageType=kind)[0]


def _content_uri(client: httpx.Client) -> str:
    return _first(client, "VoiceMail")["attachments"][0]["uri"]


def _error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["errorCode"]


# -- 1 and 3: Content-Disposition file names ---------------------------------------------------


def test_non_latin1_file_name_is_rfc8187(client: httpx.Client) -> None:
    uri = _content_uri(client)
    response = client.get(f"{uri}?contentDisposition=Attachment&contentDispositionFilename=%C4%80b")
    assert response.status_code == 200
    value = response.headers["content-disposition"]
    assert value == "attachment; filename=\"_b\"; filename*=UTF-8''%C4%80b"
    assert unquote(value.split("''")[1]) == "Āb"


@pytest.mark.parametrize("injected", ["x%0D%0ASet-Cookie:%20a=b", "x%0Ay", "x%00"])
def test_control_characters_in_file_name_are_refused(client: httpx.Client, injected: str) -> None:
    uri = _content_uri(client)
    query = f"contentDisposition=Inline&contentDispositionFilename={injected}"
    response = client.get(f"{uri}?{query}")
    assert response.status_code == 400 and _error_code(response) == "CMN-101"
    assert "set-cookie" not in response.headers


def test_quotes_in_file_name_are_escaped(client: httpx.Client) -> None:
    uri = _content_uri(client)
    response = client.get(
        uri, params={"contentDisposition": "Inline", "contentDispositionFilename": 'a"b\\c.wav'}
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'inline; filename="a\\"b\\\\c.wav"'


# -- 2: sync tokens with non-ASCII text ---------------------------------------------------------


@pytest.mark.parametrize("token", ["x.%C3%A9", "%C3%A9.x", "%C3%A9", "."])
def test_non_ascii_sync_token_is_msg_333(client: httpx.Client, token: str) -> None:
    response = client.get(f"{SYNC}?syncType=ISync&syncToken={token}")
    assert response.status_code == 400 and _error_code(response) == "MSG-333"


def test_garbled_signature_of_a_real_token_is_msg_333(client: httpx.Client) -> None:
    full = client.get(SYNC, params={"syncType": "FSync", "dateFrom": HISTORY, "recordCount": 1})
    body, _, _sig = full.json()["syncInfo"]["syncToken"].partition(".")
    response = client.get(SYNC, params={"syncType": "ISync", "syncToken": f"{body}.é"})
    assert response.status_code == 400 and _error_code(response) == "MSG-333"


# -- 4: perPage=0 and page bounds -----------------------------------------------------------


def test_per_page_zero_is_an_empty_result(
    client: httpx.Client, validate: Callable[[httpx.Response], None]
) -> None:
    total = len(_records(client))
    response = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "0"})
    assert response.status_code == 200
    body = response.json()
    assert body["records"] == []
    assert body["paging"] == {"perPage": 0, "totalElements": total}
    assert "nextPage" not in body["navigation"]
    validate(response)


@pytest.mark.parametrize(
    ("name", "value"),
    [("page", "0"), ("page", "-1"), ("perPage", "-1"), ("page", "+2"), ("page", "1_0")],
)
def test_paging_values_out_of_range_are_400(client: httpx.Client, name: str, value: str) -> None:
    response = client.get(STORE, params={name: value})
    assert response.status_code == 400 and response.json()["parameterName"] == name


def test_int32_overflow_is_400(client: httpx.Client) -> None:
    response = client.get(STORE, params={"page": str(2**31)})
    assert response.status_code == 400 and response.json()["parameterName"] == "page"


# -- 5: percent-decoded paths, strict ids -------------------------------------------------------


def test_percent_encoded_path_resolves(client: httpx.Client) -> None:
    one, two = (r["id"] for r in _records(client, perPage="2"))
    single = client.get(f"{ACCT}/%7E/extension/%7E/message-store/{one}")
    assert single.status_code == 200 and single.json()["id"] == one
    bulk = client.get(
        f"{STORE}/{one}%2C{two}", headers={"Accept": "application/vnd.ringcentral.multipart+json"}
    )
    assert bulk.status_code == 207 and [p["resourceId"] for p in bulk.json()] == [
        str(one),
        str(two),
    ]
    twice = client.get(f"{STORE}/{one}%252C{two}")  # decoded once: "%2C" is no separator
    assert twice.status_code == 404


@pytest.mark.parametrize("spelling", ["+{id}", "{under}", " {id}", "{id} ", "٣"])
def test_loosely_spelled_ids_are_not_found(client: httpx.Client, spelling: str) -> None:
    message_id = str(_records(client, perPage="1")[0]["id"])
    under = f"{message_id[:3]}_{message_id[3:]}"
    path = spelling.format(id=message_id, under=under)
    response = client.get(f"{STORE}/{quote(path, safe='+_')}")
    assert response.status_code == 404 and _error_code(response) == "CMN-102"


def test_only_commas_name_no_message(client: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, f"{STORE}/%2C")
        assert response.status_code == 404, method


# -- 8: syncMessages distinctConversations, deleteMessage type ----------------------------------


def test_sync_validates_distinct_conversations(client: httpx.Client) -> None:
    response = client.get(SYNC, params={"syncType": "FSync", "distinctConversations": "maybe"})
    assert response.status_code == 400
    assert response.json()["parameterName"] == "distinctConversations"


def test_full_sync_applies_distinct_conversations(client: httpx.Client) -> None:
    query = {"syncType": "FSync", "dateFrom": HISTORY}
    everything = client.get(SYNC, params=query).json()["records"]
    distinct = client.get(SYNC, params={**query, "distinctConversations": "true"}).json()
    listed = _records(client, distinctConversations="true")
    conversations = [r["conversation"]["id"] for r in everything if "conversation" in r]
    assert len(conversations) > len(set(conversations))  # the seed has shared conversations
    assert [r["id"] for r in distinct["records"]] == [r["id"] for r in listed]
    assert len(distinct["records"]) < len(everything)


def test_delete_message_validates_type(client: httpx.Client) -> None:
    record = _first(client, "SMS")
    response = client.delete(f"{STORE}/{record['id']}", params={"type": "Email"})
    assert response.status_code == 400 and response.json()["parameterName"] == "type"
    assert client.get(f"{STORE}/{record['id']}").json()["availability"] == "Alive"


def test_delete_message_applies_type(emu: Emulator, client: httpx.Client) -> None:
    sms, fax = _first(client, "SMS"), _first(client, "Fax")
    missed = client.delete(f"{STORE}/{sms['id']}", params={"type": "Fax"})
    assert missed.status_code == 404
    assert emu.store.get(sms["id"])["availability"] == "Alive"
    mixed = client.delete(
        f"{STORE}/{sms['id']},{fax['id']}",
        params={"type": "Fax"},
        headers={"Accept": "application/vnd.ringcentral.multipart+json"},
    )
    assert mixed.status_code == 207
    assert [p["status"] for p in mixed.json()] == [404, 204]
    assert emu.store.get(sms["id"])["availability"] == "Alive"
    assert emu.store.get(fax["id"])["availability"] == "Deleted"


def test_delete_star_applies_type(emu: Emulator, client: httpx.Client) -> None:
    assert client.delete(f"{STORE}/*", params={"type": "Fax"}).status_code == 204
    states = {(r["type"], r["availability"]) for r in emu.store.all_records()}
    assert ("Fax", "Alive") not in states and ("SMS", "Alive") in states


# -- 9: empty values on destructive calls --------------------------------------------------


@pytest.mark.parametrize("query", ["conversationId=", "conversationId=1,", "type=", "dateTo="])
def test_empty_values_on_delete_by_filter_are_400(
    emu: Emulator, client: httpx.Client, query: str
) -> None:
    before = [r["availability"] for r in emu.store.all_records()]
    response = client.delete(f"{STORE}?{query}")
    assert response.status_code == 400 and _error_code(response) == "CMN-101"
    assert [r["availability"] for r in emu.store.all_records()] == before
