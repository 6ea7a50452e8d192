"""In-process adapter: an httpx transport that hands requests to `Emulator.handle`.

A ``reset`` fault raises ``httpx.RemoteProtocolError`` after the operation ran — what a
client sees when the server drops the connection mid-response.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from .wire import BodyStream, Request

if TYPE_CHECKING:
    from .app import Emulator


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        target = request.url.raw_path.decode("ascii")
        ours = Request.build(request.method, target, dict(request.headers), body)
        answer = self.emulator.handle(ours)
        if answer.reset:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response", request=request
            )
        if answer.stream is not None:
            # Streamed as the client reads it (``client.stream``): an export zip is never whole.
            headers = [*answer.headers, ("Content-Length", str(answer.stream.size))]
            return httpx.Response(
                answer.status, headers=headers, stream=_Chunks(answer.stream), request=request
            )
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )


class _Chunks(httpx.SyncByteStream):
    def __init__(self, body: BodyStream) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return self._body.chunks()
