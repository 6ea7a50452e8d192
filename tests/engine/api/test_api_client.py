"""MessageStoreClient: request shapes, bulk chunking, 207 parsing, safety, malformed answers."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from rcsync.api.client import ids_path, requests_needed
from rcsync.errors import ApiError, MalformedResponse, SyncTokenInvalid
from rcsync.types import PATH_BATCH as PATH_LIMIT
from rcsync.types import READ_BATCH as STAR_LIMIT

STORE = "/restapi/v1.0/account/~/extension/~/message-store"
SYNC = "/restapi/v1.0/account/~/extension/~/message-sync"
BIG = 8234962969801171948  # > 2**53: must survive exactly
MULTI = "application/vnd.ringcentral.multipart+json"


def _ids_of(seen: Any) -> list[int]:
    return [int(x) for x in seen.path.rsplit("/", 1)[1].split(",")]


def _bulk_ok(request: httpx.Request) -> httpx.Response:
    """Answer any bulk call on ids in the path (or `*` + body) like RingCentral: 207 parts."""
    tail = request.url.path.rsplit("/", 1)[1]
    if tail == "*":
        ids = [int(item["resourceId"]) for item in json.loads(request.content)]
    else:
        ids = [int(x) for x in tail.split(",")]
    if request.method == "DELETE":
        return httpx.Response(204)
    if len(ids) == 1 and tail != "*":
        return httpx.Response(200, json={"id": ids[0], "readStatus": "Read"})
    parts = [{"resourceId": str(i), "status": 200, "body": {"id": i}} for i in ids]
    return httpx.Response(207, json=parts, headers={"Content-Type": MULTI})


# --- listing and sync ----------------------------------------------------------------


def test_list_messages_request_and_exact_ids(fake: Any, make_client: Any) -> None:
    raw = (
        '{"records": [{"id": 1724099032020, "conversationId": BIG, '
        '"conversation": {"id": "BIG"}}], "paging": {"page": 1, "perPage": 1000}, '
        '"navigation": {"nextPage": {"uri": "x"}}}'
    ).replace("BIG", str(BIG))
    fake.on(
        "GET",
        STORE,
        lambda r: httpx.Response(
            200, content=raw.encode(), headers={"Content-Type": "application/json"}
        ),
    )
    page = make_client().list_messages(
        date_from="2020-01-01T00:00:00.000Z",
        date_to="2021-01-01T00:00:00.000Z",
        message_types=["SMS", "Fax"],
        page=2,
    )
    assert page.has_next and page.paging == {"page": 1, "perPage": 1000}
    assert page.records[0]["conversationId"] == BIG
    assert page.records[0]["conversation"]["id"] == str(BIG)
    assert fake.api()[0].params == [
        ("dateFrom", "2020-01-01T00:00:00.000Z"),
        ("dateTo", "2021-01-01T00:00:00.000Z"),
        ("messageType", "SMS"),
        ("messageType", "Fax"),
        ("availability", "Alive"),
        ("availability", "Deleted"),
        ("page", "2"),
        ("perPage", "1000"),
    ]


def test_list_last_page(fake: Any, make_client: Any) -> None:
    fake.on(
        "GET",
        STORE,
        lambda r: httpx.Response(
            200, json={"records": [], "paging": {}, "navigation": {"firstPage": {"uri": "x"}}}
        ),
    )
    page = make_client().list_messages(date_from="a", date_to="b", message_types=["SMS"])
    assert not page.has_next and page.records == []


def test_datetimes_become_z_strings(fake: Any, make_client: Any) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    fake.on("GET", STORE, lambda r: httpx.Response(200, json={"records": []}))
    make_client().list_messages(
        date_from=datetime(2020, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
        date_to=datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        message_types=["SMS"],
    )
    params = dict(fake.api()[0].params)
    assert params["dateFrom"] == "2020-01-01T00:00:00.000Z"
    assert params["dateTo"] == "2020-01-02T03:04:05.678Z"


def test_full_and_incremental_sync(fake: Any, make_client: Any) -> None:
    def sync(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "records": [{"id": BIG}],
                "syncInfo": {
                    "syncType": request.url.params["syncType"],
                    "syncToken": "tok-2",
                    "syncTime": "2024-01-01T00:00:00.000Z",
                    "olderRecordsExist": True,
                },
            },
        )

    fake.on("GET", SYNC, sync)
    client = make_client()
    full = client.full_sync(
        date_from="2000-01-01T00:00:00.000Z", message_types=["SMS", "Fax"], record_count=250
    )
    assert full.sync_token == "tok-2" and full.older_records_exist and full.sync_type == "FSync"
    assert full.records == [{"id": BIG}]
    inc = client.incremental_sync("tok-2")
    assert inc.sync_type == "ISync"
    assert fake.api()[0].params == [
        ("syncType", "FSync"),
        ("dateFrom", "2000-01-01T00:00:00.000Z"),
        ("messageType", "SMS"),
        ("messageType", "Fax"),
        ("recordCount", "250"),
    ]
    assert fake.api()[1].params == [("syncType", "ISync"), ("syncToken", "tok-2")]


def test_msg_333_is_sync_token_invalid(fake: Any, make_client: Any, helpers: Any) -> None:
    fake.on(
        "GET",
        SYNC,
        lambda r: helpers.rc_error(
            400,
            "MSG-333",
            "Invalid message synchronisation request: full synchronization is required",
        ),
    )
    with pytest.raises(SyncTokenInvalid) as info:
        make_client().incremental_sync("old")
    assert "syncMessages: HTTP 400 MSG-333" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b'{"records": [',
        b'{"paging": {}}',
        b'{"records": {}}',
        b"[]",
        b'{"records": [1]}',
    ],
)
def test_malformed_list_is_api_error(fake: Any, make_client: Any, body: bytes) -> None:
    fake.on("GET", STORE, lambda r: httpx.Response(200, content=body))
    with pytest.raises(MalformedResponse, match=r"^malformed response from listMessages: "):
        make_client().list_messages(date_from="a", date_to="b", message_types=["SMS"])


@pytest.mark.parametrize(
    "body", [b'{"records": []}', b'{"records": [], "syncInfo": {}}', b"not json"]
)
def test_malformed_sync_is_api_error(fake: Any, make_client: Any, body: bytes) -> None:
    fake.on("GET", SYNC, lambda r: httpx.Response(200, content=body))
    with pytest.raises(ApiError, match=r"^malformed response from syncMessages"):
        make_client().incremental_sync("t")


def test_error_message_is_one_line_without_tokens(
    fake: Any, make_client: Any, helpers: Any
) -> None:
    fake.on(
        "GET",
        STORE,
        lambda r: helpers.rc_error(
            403, "CMN-408", "In order to call this API endpoint,\nuser needs to have [ReadMessages]"
        ),
    )
    with pytest.raises(ApiError) as info:
        make_client().list_messages(date_from="a", date_to="b", message_types=["SMS"])
    msg = str(info.value)
    assert msg.startswith("listMessages: HTTP 403 CMN-408: In order to call")
    assert "\n" not in msg and "at-0" not in msg
    assert info.value.status == 403 and info.value.code == "CMN-408"


# --- bulk GET ----------------------------------------------------------------------


def test_get_messages_chunks_by_50_and_asks_for_json_multipart(fake: Any, make_client: Any) -> None:
    fake.on("GET", STORE + "/.+", _bulk_ok)
    ids = list(range(1, 121))
    results = make_client().get_messages(ids)
    assert sorted(results) == ids and all(r.ok for r in results.values())
    assert [len(_ids_of(s)) for s in fake.api()] == [50, 50, 20]
    assert [s.headers["accept"] for s in fake.api()] == [MULTI] * 3
    assert results[7].record == {"id": 7}


def test_get_single_id_200_and_404(fake: Any, make_client: Any, helpers: Any) -> None:
    fake.on("GET", STORE + "/5", lambda r: httpx.Response(200, json={"id": 5}))
    fake.on("GET", STORE + "/6", lambda r: helpers.rc_error(404, "CMN-102", "not found"))
    client = make_client()
    assert client.get_messages([5])[5].record == {"id": 5}
    missing = client.get_messages([6])[6]
    assert not missing.ok and missing.status == 404 and missing.error_code == "CMN-102"


def test_207_json_parts_with_errors(fake: Any, make_client: Any) -> None:
    body = [
        {
            "resourceId": "972869004",
            "status": 200,
            "body": {"id": 972869004, "conversationId": BIG},
        },
        {
            "resourceId": "111",
            "status": 404,
            "body": {
                "errorCode": "CMN-102",
                "message": "Resource for parameter [messageId] is not found",
                "errors": [{"errorCode": "CMN-102", "message": "Resource ... not found"}],
            },
        },
    ]
    fake.on("GET", STORE + "/.+", lambda r: httpx.Response(207, json=body))
    results = make_client().get_messages([972869004, 111, 222])
    assert results[972869004].record == {"id": 972869004, "conversationId": BIG}
    assert results[111].error_code == "CMN-102" and results[111].status == 404
    assert results[222].status == 0 and not results[222].ok


def test_207_multipart_mixed(fake: Any, make_client: Any) -> None:
    b = "Boundary_20_32057915_1351669531796"
    text = (
        f"--{b}\nContent-Type: application/json\n\n"
        '{"response": [{"href": "https://platform.ringcentral.com/restapi/v1.0/account/1/'
        'extension/1/message-store/2447722008", "status": 200, "responseDescription": "OK"},'
        '{"href": "https://platform.ringcentral.com/account/1/extension/1/message-store/'
        '2416832008", "status": 404, "responseDescription": "Not Found"}]}\n'
        f"--{b}\r\nContent-Type: application/json\r\n\r\n"
        '{"id": 2447722008, "conversationId": %d}\r\n'
        f"--{b}\nContent-Type: application/json\n\n"
        '{"errorCode": "CMN-102", "message": "not found"}\n'
        f"--{b}--\n"
    ) % BIG
    fake.on(
        "GET",
        STORE + "/.+",
        lambda r: httpx.Response(
            207, content=text.encode(), headers={"Content-Type": f"multipart/mixed; boundary={b}"}
        ),
    )
    results = make_client().get_messages([2416832008, 2447722008])
    assert results[2447722008].ok and results[2447722008].record == {
        "id": 2447722008,
        "conversationId": BIG,
    }
    assert results[2416832008].error_code == "CMN-102"


def test_207_garbage_is_malformed(fake: Any, make_client: Any) -> None:
    fake.on("GET", STORE + "/.+", lambda r: httpx.Response(207, content=b'[{"resourceId": "1"}]'))
    with pytest.raises(MalformedResponse, match="readMessage"):
        make_client().get_messages([1, 2])


# --- read status -------------------------------------------------------------------


@pytest.mark.parametrize(("n", "expected"), [(1, 1), (50, 1), (51, 1), (1000, 1), (1001, 2)])
def test_star_request_math(n: int, expected: int) -> None:
    assert requests_needed(n, star=True) == expected
    assert requests_needed(n, star=False) == math.ceil(n / PATH_LIMIT)


def test_thousand_edits_in_one_star_request(fake: Any, make_client: Any) -> None:
    fake.on("PUT", STORE + "/.+", _bulk_ok)
    changes = {i: ("Read" if i % 3 else "Unread") for i in range(1, 1001)}
    results = make_client().set_read_status(changes)
    assert len(results) == 1000 and all(r.ok for r in results.values())
    (put,) = fake.api()
    assert put.path == STORE + "/*"
    assert put.headers["content-type"] == MULTI
    body = put.json()
    assert len(body) == STAR_LIMIT
    assert body[0] == {"resourceId": "1", "body": {"readStatus": "Read"}}
    assert body[2] == {"resourceId": "3", "body": {"readStatus": "Unread"}}


def test_thousand_edits_ids_in_path_take_20_requests(fake: Any, make_client: Any) -> None:
    fake.on("PUT", STORE + "/.+", _bulk_ok)
    changes = {i: ("Read" if i <= 501 else "Unread") for i in range(1, 1001)}
    results = make_client().set_read_status(changes, ids_in_path=True)
    assert len(results) == 1000
    puts = fake.api()
    assert len(puts) == 20
    for put in puts:
        ids = _ids_of(put)
        assert len(ids) <= PATH_LIMIT
        assert [int(item["resourceId"]) for item in put.json()] == ids
        assert all(
            item["body"]["readStatus"] == changes[int(item["resourceId"])] for item in put.json()
        )


def test_forced_ids_in_path_by_flag(fake: Any, make_client: Any) -> None:
    fake.on("PUT", STORE + "/.+", _bulk_ok)
    client = make_client(star_bulk=False)
    client.set_read_status(dict.fromkeys(range(1, 101), "Read"))
    assert len(fake.api()) == 2 and all("*" not in s.path for s in fake.api())


def test_single_read_status_uses_plain_json(fake: Any, make_client: Any) -> None:
    fake.on("PUT", STORE + "/.+", _bulk_ok)
    result = make_client().set_read_status({7: "Read"})
    assert result[7].ok and result[7].record == {"id": 7, "readStatus": "Read"}
    (put,) = fake.api()
    assert put.path == STORE + "/7" and put.json() == {"readStatus": "Read"}
    assert put.headers["content-type"] == "application/json"


def test_read_status_value_checked(make_client: Any) -> None:
    with pytest.raises(ValueError):
        make_client().set_read_status({1: "Maybe"})


# --- delete ------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [[], [1, "2"], [True], [1.0], [0], [-5], ["*"]])
def test_delete_refuses_anything_but_positive_int_ids(
    fake: Any, make_client: Any, ids: list[Any]
) -> None:
    with pytest.raises(ValueError):
        make_client().delete_messages(ids, purge=False)
    with pytest.raises(ValueError):
        make_client().delete_messages(ids, purge=True)
    assert fake.api() == []


def test_ids_path_never_empty() -> None:
    with pytest.raises(ValueError):
        ids_path([])
    assert ids_path([1, 2]) == "1,2"


def test_delete_chunks_and_purge_param(fake: Any, make_client: Any) -> None:
    fake.on("DELETE", STORE + "/.+", _bulk_ok)
    client = make_client()
    trashed = client.delete_messages(list(range(1, 52)), purge=False)
    purged = client.delete_messages([BIG], purge=True)
    assert all(r.ok and r.status == 204 for r in trashed.values()) and len(trashed) == 51
    assert purged[BIG].ok
    calls = fake.api()
    assert [len(_ids_of(s)) for s in calls] == [50, 1, 1]
    assert [s.params for s in calls] == [[], [], [("purge", "true")]]
    for s in calls:  # never the delete-everything forms
        assert not s.path.endswith(("/message-store", "/*")) and s.body == b""


def test_delete_207_per_part(fake: Any, make_client: Any) -> None:
    parts = [
        {"resourceId": "1", "status": 204},
        {
            "resourceId": "2",
            "status": 404,
            "body": {"errorCode": "CMN-102", "message": "not found"},
        },
    ]
    fake.on("DELETE", STORE + "/.+", lambda r: httpx.Response(207, json=parts))
    results = make_client().delete_messages([1, 2], purge=False)
    assert results[1].ok and not results[2].ok and results[2].error_code == "CMN-102"


# --- restore -----------------------------------------------------------------------


def test_restore_bulk_patch(fake: Any, make_client: Any) -> None:
    fake.on("PATCH", STORE + "/.+", _bulk_ok)
    results = make_client().restore_messages([1, 2, 3])
    assert all(r.ok for r in results.values())
    (patch,) = fake.api()
    assert _ids_of(patch) == [1, 2, 3]
    assert patch.json() == [
        {"resourceId": str(i), "body": {"availability": "Alive"}} for i in (1, 2, 3)
    ]


def test_restore_falls_back_to_one_by_one(fake: Any, make_client: Any, helpers: Any) -> None:
    def patch(request: httpx.Request) -> httpx.Response:
        if "," in request.url.path:
            return helpers.rc_error(405, "CMN-202", "Operation is not supported")
        return _bulk_ok(request)

    fake.on("PATCH", STORE + "/.+", patch)
    client = make_client()
    results = client.restore_messages([1, 2])
    assert all(r.ok for r in results.values())
    assert [s.path.rsplit("/", 1)[1] for s in fake.api()] == ["1,2", "1", "2"]
    client.restore_messages([3, 4])  # remembered: no bulk attempt this time
    assert [s.path.rsplit("/", 1)[1] for s in fake.api()][3:] == ["3", "4"]


def test_restore_purged_message_is_an_item_failure(
    fake: Any, make_client: Any, helpers: Any
) -> None:
    fake.on("PATCH", STORE + "/9", lambda r: helpers.rc_error(400, "CMN-101", "invalid"))
    result = make_client().restore_messages([9])[9]
    assert not result.ok and result.status == 400 and result.error_code == "CMN-101"


def test_extension(fake: Any, make_client: Any) -> None:
    fake.on(
        "GET",
        "/restapi/v1.0/account/~/extension/~",
        lambda r: httpx.Response(200, json={"id": 101, "extensionNumber": "101"}),
    )
    assert make_client().read_extension()["extensionNumber"] == "101"
