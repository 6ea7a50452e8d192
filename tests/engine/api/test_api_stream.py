"""The streamed FSync (`rcsync.api.stream`, `MessageStoreClient.stream_full_sync`): the same
records as ``json.loads`` of the whole body, however the bytes are cut, in batches, and
every malformed body rejected with one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsync.api.stream import RecordStream
from rcsync.errors import MalformedResponse, NetworkError

SYNC = "/restapi/v1.0/account/~/extension/~/message-sync"
BIG = 8234962969801171948  # > 2**53: must survive exactly
INFO = {"syncType": "FSync", "syncToken": "tok", "syncTime": "2024-01-01T00:00:00.000Z"}


def _pieces(body: bytes, cuts: list[int]) -> Iterator[bytes]:
    at = 0
    for cut in sorted({c % (len(body) + 1) for c in cuts}):
        yield body[at:cut]
        at = cut
    yield body[at:]


def _body(n: int) -> dict[str, Any]:
    records = [
        {"id": BIG - i, "subject": "é☃ \ud83d" * (i % 4), "n": [1.5, None, True, 10**20]}
        for i in range(n)
    ]
    return {"uri": "https://x/?a=1", "records": records, "syncInfo": INFO, "total": 123456}


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 30),
    cuts=st.lists(st.integers(0, 10**6), max_size=40),
    indent=st.sampled_from([None, 1]),
)
def test_any_cut_of_the_body_gives_what_json_loads_gives(
    n: int, cuts: list[int], indent: int | None
) -> None:
    body = json.dumps(_body(n), indent=indent).encode()
    stream = RecordStream(_pieces(body, cuts), operation="op")
    records = list(stream.records())
    whole = json.loads(body)
    assert records == whole["records"] and stream.found and stream.complete
    assert stream.rest == {k: v for k, v in whole.items() if k != "records"}


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), cuts=st.lists(st.integers(0, 10**6), max_size=40))
def test_each_record_comes_with_its_text_as_it_stands_in_the_body(n: int, cuts: list[int]) -> None:
    texts = [json.dumps(r, ensure_ascii=True) for r in _body(n)["records"]]
    body = ('{"records": [ ' + " ,\n ".join(texts) + ' ], "syncInfo": {}}').encode()
    pairs = list(RecordStream(_pieces(body, cuts), operation="op").records_with_text())
    assert [text for _record, text in pairs] == texts
    assert [record for record, _text in pairs] == [json.loads(t) for t in texts]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>502</html>",
        b'{"records": [{"id": 1},',
        b'{"records": [{"id": 1},]}',
        b'{"records": [{"id": 1}]} trailing',
        b'{"records": [{"id": 1}] "syncInfo": {}}',
        b'{"records": [{"id": 1}], "total": 12',
        b'{"records": ["\xff"]}',
        b"[]",
    ],
)
def test_a_broken_body_is_malformed(body: bytes) -> None:
    for size in (1, 3, 1000):
        with pytest.raises(MalformedResponse):
            list(
                RecordStream(
                    _pieces(body, list(range(0, len(body), size))), operation="op"
                ).records()
            )


def _answer(body: bytes, chunk: int = 7) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        return httpx.Response(200, stream=_Iter(pieces))

    return handle


class _Iter(httpx.SyncByteStream):
    def __init__(self, pieces: list[bytes], fail: bool = False) -> None:
        self.pieces, self.fail = pieces, fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces
        if self.fail:
            raise httpx.RemoteProtocolError("peer closed connection")


def test_stream_full_sync_yields_batches_then_the_token(fake: Any, make_client: Any) -> None:
    fake.on("GET", SYNC, _answer(json.dumps(_body(25)).encode()))
    client = make_client()
    with client.stream_full_sync(
        date_from="2000-01-01T00:00:00.000Z", message_types=["SMS"], batch=10
    ) as stream:
        sizes = [len(b) for b in stream.batches()]
        result = stream.result
    assert sizes == [10, 10, 5]
    assert result.sync_token == "tok" and result.records == [] and result.sync_type == "FSync"
    assert fake.api()[0].params == [
        ("syncType", "FSync"),
        ("dateFrom", "2000-01-01T00:00:00.000Z"),
        ("messageType", "SMS"),
    ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"records": [{"id": 1}, {"id": "x"}], "syncInfo": {}}', "no valid 'id'"),
        (b'{"records": [{"id": 1}, 5]}', "invalid 'records'"),
        (b'{"records": {}, "syncInfo": {"syncToken": "t"}}', "invalid 'records'"),
        (b'{"records": [{"id": 1}]}', "syncInfo.syncToken"),
        (b'{"records": [{"id": 1}], "syncInfo"', "not valid JSON"),
    ],
)
def test_a_malformed_fsync_is_one_line(fake: Any, make_client: Any, body: bytes, why: str) -> None:
    fake.on("GET", SYNC, _answer(body))
    with (
        pytest.raises(MalformedResponse, match=r"^malformed response from syncMessages: ") as err,
        make_client().stream_full_sync(date_from="a", message_types=["SMS"]) as stream,
    ):
        list(stream.batches())
    assert why in str(err.value) and "\n" not in str(err.value)


def test_a_connection_lost_mid_body_is_a_network_error(fake: Any, make_client: Any) -> None:
    body = json.dumps(_body(25)).encode()
    half = [body[: len(body) // 2]]
    fake.on("GET", SYNC, lambda r: httpx.Response(200, stream=_Iter(half, fail=True)))
    got: list[int] = []
    with (
        pytest.raises(NetworkError, match="connection lost while the answer arrived"),
        make_client().stream_full_sync(date_from="a", message_types=["SMS"], batch=5) as s,
    ):
        for batch in s.batches():
            got += [r["id"] for r in batch]
    # Only whole batches of whole records were handed out before the break.
    assert got and len(got) % 5 == 0 and got == [BIG - i for i in range(len(got))]
