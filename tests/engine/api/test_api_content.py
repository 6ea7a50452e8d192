"""download_content: streaming, Range resume, 200 restart, 416, broken bodies resumed."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rcsync.errors import ApiError, NetworkError

DATA = bytes(range(256)) * 1000  # 256,000 bytes
URI = "https://media.ringcentral.com/restapi/v1.0/account/1/extension/1/message-store/5/content/6"
PATH = "/restapi/v1.0/account/1/extension/1/message-store/5/content/6"


class Broken(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset")


def ranged(request: httpx.Request, *, break_after: int | None = None) -> httpx.Response:
    match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("range", ""))
    start = int(match.group(1)) if match else 0
    if start >= len(DATA):
        return httpx.Response(416, headers={"Content-Range": f"bytes */{len(DATA)}"})
    body = DATA[start:]
    status = 206 if match else 200
    headers = {"Content-Type": "audio/mpeg"}
    if match:
        headers["Content-Range"] = f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"
    if break_after is not None:
        return httpx.Response(status, headers=headers, stream=Broken(body[:break_after]))
    return httpx.Response(status, headers=headers, content=body)


def test_full_download_with_bearer_on_media_host(fake: Any, make_client: Any) -> None:
    fake.on("GET", PATH, ranged)
    dest = io.BytesIO()
    assert make_client().download_content(URI, dest) == len(DATA)
    assert dest.getvalue() == DATA
    (seen,) = fake.api()
    assert seen.headers["authorization"] == "Bearer at-0" and "range" not in seen.headers


def test_resume_with_range(fake: Any, make_client: Any) -> None:
    fake.on("GET", PATH, ranged)
    dest = io.BytesIO(DATA[:1000])
    dest.seek(0, io.SEEK_END)
    assert make_client().download_content(URI, dest, offset=1000) == len(DATA) - 1000
    assert dest.getvalue() == DATA
    assert fake.api()[0].headers["range"] == "bytes=1000-"


def test_server_ignoring_range_restarts(fake: Any, make_client: Any) -> None:
    fake.on("GET", PATH, lambda r: httpx.Response(200, content=DATA))
    dest = io.BytesIO(b"x" * 1000)
    dest.seek(0, io.SEEK_END)
    assert make_client().download_content(URI, dest, offset=1000) == len(DATA)
    assert dest.getvalue() == DATA


def test_416_when_already_complete(fake: Any, make_client: Any) -> None:
    fake.on("GET", PATH, ranged)
    dest = io.BytesIO(DATA)
    dest.seek(0, io.SEEK_END)
    assert make_client().download_content(URI, dest, offset=len(DATA)) == 0
    assert dest.getvalue() == DATA


def test_416_with_other_size_starts_over(fake: Any, make_client: Any) -> None:
    fake.on("GET", PATH, ranged)
    dest = io.BytesIO(b"y" * (len(DATA) + 10))
    dest.seek(0, io.SEEK_END)
    assert make_client().download_content(URI, dest, offset=len(DATA) + 10) == len(DATA)
    assert dest.getvalue() == DATA


def test_broken_body_is_resumed(fake: Any, make_client: Any) -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return ranged(request, break_after=70_000 if calls["n"] < 3 else None)

    fake.on("GET", PATH, flaky)
    dest = io.BytesIO()
    assert make_client().download_content(URI, dest) == len(DATA)
    assert dest.getvalue() == DATA
    assert [s.headers.get("range") for s in fake.api()] == [None, "bytes=70000-", "bytes=140000-"]


def test_broken_body_gives_up(fake: Any, make_client: Any) -> None:
    fake.on("GET", PATH, lambda r: ranged(r, break_after=10))
    with pytest.raises(NetworkError, match="readMessageContent: connection lost during download"):
        make_client().download_content(URI, io.BytesIO())


def test_content_errors_are_mapped(fake: Any, make_client: Any, helpers: Any) -> None:
    fake.on("GET", PATH, lambda r: helpers.rc_error(404, "CMN-102", "Resource not found"))
    with pytest.raises(ApiError, match="readMessageContent: HTTP 404 CMN-102"):
        make_client().download_content(URI, io.BytesIO())


def test_content_to_foreign_host_refused(fake: Any, make_client: Any) -> None:
    with pytest.raises(ApiError, match="refusing to send RingCentral credentials"):
        make_client().download_content("https://evil.example/x", io.BytesIO())
    assert fake.seen == []
