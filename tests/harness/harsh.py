"""Transports that play RingCentral's harsher readings over the in-process emulator.

Each wraps the emulator's transport and rewrites message-sync answers the way the docs
allow a real server to answer (issue 10): a stale token rejected with ``CMN-101``, an
FSync whose ``recordCount`` bounds the token's frame, a server-capped FSync, and partial
ISync answers (``olderRecordsExist``) that must be followed with the returned token.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

SYNC_PATH = "/message-sync"
CMN_101 = {
    "errorCode": "CMN-101",
    "message": "Parameter [syncToken] is invalid",
    "errors": [
        {
            "errorCode": "CMN-101",
            "message": "Parameter [syncToken] is invalid",
            "parameterName": "syncToken",
        }
    ],
}


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


class Harsh(httpx.BaseTransport):
    """The emulator, with these harsher behaviours of message-sync (each off by default).

    * `cmn_101`: an invalid token is answered 400 CMN-101 instead of MSG-333;
    * `record_frame`: an FSync's ``recordCount`` bounds the frame its token covers (the
      frame starts at the oldest record returned);
    * `fsync_cap`: an FSync answers at most this many records, ``olderRecordsExist`` set,
      and its token's frame starts at the oldest record it returned;
    * `isync_cap`: an ISync with more changes answers this many, ``olderRecordsExist`` set,
      and a token that continues with the rest; only that token gets the rest;
    * `fsync_trash`: an FSync answers these Deleted records too (whole, in date order
      among the Alive ones): the docs do not say whether FSync returns the trash.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        cmn_101: bool = False,
        record_frame: bool = False,
        fsync_cap: int | None = None,
        isync_cap: int | None = None,
        fsync_trash: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.inner = inner
        self.fsync_trash = fsync_trash
        self.cmn_101, self.record_frame = cmn_101, record_frame
        self.fsync_cap, self.isync_cap = fsync_cap, isync_cap
        # alias token -> (the original token, its dateFrom, records already answered): a
        # follow-up with the alias replays the first request exactly, because a client rightly
        # sends a widening dateFrom only with the first part (the real token carries it).
        self._parts: dict[str, tuple[str, str | None, int]] = {}
        self._ids = itertools.count(1)
        self.isyncs = 0
        self.partial_answers = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if SYNC_PATH not in request.url.path:
            return self.inner.handle_request(request)
        params = request.url.params
        if params.get("syncType") == "ISync":
            return self._isync(request)
        return self._fsync(request)

    def _forward(self, request: httpx.Request, **changes: str | None) -> httpx.Response:
        multi = [(k, v) for k, v in request.url.params.multi_items() if k not in changes]
        multi += [(k, v) for k, v in changes.items() if v is not None]
        url = request.url.copy_with(params=multi)
        response = self.inner.handle_request(
            httpx.Request(request.method, url, headers=request.headers)
        )
        response.read()
        if self.cmn_101 and response.status_code == 400 and b"MSG-333" in response.content:
            return _json(400, CMN_101)
        return response

    def _fsync(self, request: httpx.Request) -> httpx.Response:
        count = request.url.params.get("recordCount")
        response = self._forward(request)
        if response.status_code != 200:
            return response
        body = response.json()
        if self.fsync_trash is not None:
            records = body["records"] + self.fsync_trash()
            records.sort(key=lambda r: (r["creationTime"], r["id"]), reverse=True)
            body["records"] = records
        cap = self.fsync_cap
        bounded = self.record_frame and count is not None
        if cap is not None and len(body["records"]) > cap:
            body["records"] = body["records"][:cap]
            body["syncInfo"]["olderRecordsExist"] = True
            bounded = True
        if bounded and body["records"]:
            # The token covers only the records returned: its frame starts at the oldest.
            oldest = min(r["creationTime"] for r in body["records"])
            narrow = self._forward(request, dateFrom=oldest, recordCount=None)
            if narrow.status_code != 200:
                return narrow  # a fault injected into the narrowing request
            body["syncInfo"]["syncToken"] = narrow.json()["syncInfo"]["syncToken"]
        return _json(200, body)

    def _isync(self, request: httpx.Request) -> httpx.Response:
        self.isyncs += 1
        token = request.url.params.get("syncToken", "")
        original, date_from, offset = self._parts.pop(
            token, (token, request.url.params.get("dateFrom"), 0)
        )
        response = self._forward(request, syncToken=original, dateFrom=date_from)
        if response.status_code != 200 or self.isync_cap is None:
            return response
        body = response.json()
        rest = body["records"][offset:]
        if len(rest) <= self.isync_cap:
            body["records"] = rest
            return _json(200, body)
        self.partial_answers += 1
        alias = f"part-{next(self._ids)}"
        self._parts[alias] = (original, date_from, offset + self.isync_cap)
        body["records"] = rest[: self.isync_cap]
        body["syncInfo"]["olderRecordsExist"] = True
        body["syncInfo"]["syncToken"] = alias
        return _json(200, body)


def surrogate_subject(
    inner: httpx.BaseTransport, message_id: int, subject: str = "cut emoji \ud83d"
) -> httpx.BaseTransport:
    """The emulator, with message `message_id`'s subject cut inside an emoji (`subject`
    ends in a lone UTF-16 high surrogate, JSON-escaped as RingCentral sends it) in every
    answer."""

    def handle(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        response.read()
        if b'"id":%d' % message_id not in response.content.replace(b" ", b""):
            return response
        try:
            data = json.loads(response.content)
        except ValueError:  # multipart/mixed or a file: no JSON record to cut
            return response
        for record in _records_of(data):
            if record.get("id") == message_id and "subject" in record:
                record["subject"] = subject
                record.setdefault("from", {})["name"] = "Bob \udc00"
        content = json.dumps(data, ensure_ascii=True).encode()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, content=content, headers=headers)

    return httpx.MockTransport(handle)


def _records_of(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        return [r for r in data["records"] if isinstance(r, dict)]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):  # a bulk answer: parts with bodies
        return [p["body"] for p in data if isinstance(p, dict) and isinstance(p.get("body"), dict)]
    return []


@contextmanager
def relay(
    upstream: str, wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport]
) -> Iterator[str]:
    """A loopback HTTP server relaying every request to `upstream` through
    ``wrap(HTTPTransport())``: real `rcsync` processes meet the harsher readings."""
    transport = wrap(httpx.HTTPTransport())
    base = httpx.URL(upstream)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            skip = {"host", "content-length", "accept-encoding", "connection"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            target, _, query = self.path.partition("?")
            url = base.copy_with(path=target, query=query.encode() or None)
            answer = transport.handle_request(
                httpx.Request(self.command, url, headers=headers, content=body)
            )
            content = answer.read()
            self.send_response(answer.status_code)
            for k, v in answer.headers.items():
                if k.lower() not in ("content-length", "content-encoding", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
