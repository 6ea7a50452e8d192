"""httpx transports that make the in-process emulator misbehave on purpose.

Each wraps the emulator's transport (so the client's whole stack runs: session, retries,
error mapping). `Faults`: a rule answers matching requests with a given status and body
instead of the emulator, or lets the emulator perform the request and then raises `Crash`,
as a process killed between sending and saving would stop. `Interrupting`: requests pass
until a count is reached, then `Interrupted` (a crash mid-pull); `CutFSync`: the FSync's
answer stops part way with `Interrupted` (a crash while it is saved). `DropFirst`: the first
request of a method is performed and its answer lost (the network dropped). `Recording`:
every request passes, counted by method and path. `Tapped`: every request is logged in
order with its query (for a loopback relay in front of real processes), and a hook may act
before one is forwarded or hold it while the test kills the process.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

SINGLE = r"/message-store/\d+$"
BULK = r"/message-store/\d+(,\d+)+$"
CONTENT = r"/message-store/\d+/content/\d+$"


def rc_body(message: str, code: str | None = "CMN-102", parameter: str | None = None) -> Any:
    """A RingCentral error body (API-NOTES §5); `code=None`: no errorCode at all."""
    if code is None:
        return {"message": message}
    error: dict[str, Any] = {"errorCode": code, "message": message}
    if parameter is not None:
        error["parameterName"] = parameter
    return {**error, "errors": [error]}


# What a gateway answers for a path it does not route: the same code, about the path.
PATH_NOT_FOUND = rc_body("Resource for parameter [path] is not found", parameter="path")
MESSAGE_NOT_FOUND = rc_body(
    "Resource for parameter [messageId] is not found", parameter="messageId"
)
NOT_SUPPORTED = rc_body("Operation is not supported", code="CMN-202")


class Crash(BaseException):
    """Raised in place of an answer the server did send: the process died right then."""


@dataclass
class Rule:
    method: str
    path: str  # a regex searched in the URL path
    status: int | None = None  # None: perform the request, then `Crash`
    body: Any = None
    times: int = 1


class Faults(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.rules: list[Rule] = []
        self.hits: list[tuple[str, str, int | None]] = []

    def answer(self, method: str, path: str, status: int, body: Any = None, times: int = 1) -> None:
        self.rules.append(Rule(method, path, status, body, times))

    def crash_after(self, method: str, path: str = r"/message-store/") -> None:
        self.rules.append(Rule(method, path, None))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for rule in self.rules:
            if (
                rule.times
                and rule.method == request.method
                and re.search(rule.path, request.url.path)
            ):
                rule.times -= 1
                self.hits.append((request.method, request.url.path, rule.status))
                if rule.status is None:
                    self.inner.handle_request(request).read()
                    raise Crash(f"killed after {request.method} {request.url.path}")
                if rule.body is None:
                    return httpx.Response(rule.status)
                return httpx.Response(rule.status, json=rule.body)
        return self.inner.handle_request(request)


class Interrupted(RuntimeError):
    """Raised by `Interrupting` in place of the request: a crash mid-pull."""


class Interrupting(httpx.BaseTransport):
    """Passes requests through until `after` requests containing `marker` went by."""

    def __init__(self, inner: httpx.BaseTransport, *, after: int, marker: str) -> None:
        self.inner, self.after, self.marker, self.seen = inner, after, marker, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.marker in str(request.url):
            self.seen += 1
            if self.seen > self.after:
                raise Interrupted(f"interrupted before request {self.seen} ({self.marker})")
        return self.inner.handle_request(request)


class _CutBody(httpx.SyncByteStream):
    def __init__(self, content: bytes, after: int, chunk: int) -> None:
        self.content, self.after, self.chunk = content, after, chunk

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, self.after, self.chunk):
            yield self.content[start : min(start + self.chunk, self.after)]
        raise Interrupted(f"interrupted after {self.after} bytes of the FSync's answer")


class CutFSync(httpx.BaseTransport):
    """The FSync's answer arrives in `chunk`-byte pieces and the pull crashes (`Interrupted`)
    after the fraction `after` of its bytes: a crash while a streamed FSync is being saved."""

    def __init__(self, inner: httpx.BaseTransport, *, after: float, chunk: int = 16_384) -> None:
        self.inner, self.after, self.chunk = inner, after, chunk

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.params.get("syncType") != "FSync":
            return response
        content = response.read()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=_CutBody(content, int(len(content) * self.after), self.chunk),
            request=request,
        )


class DropFirst(httpx.BaseTransport):
    """Forwards to the emulator, but the first request matching `method` is performed and
    its answer lost (connection reset), as when the network drops after sending."""

    def __init__(self, inner: httpx.BaseTransport, method: str = "DELETE") -> None:
        self.inner, self.method, self.dropped = inner, method, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == self.method and not self.dropped:
            self.dropped += 1
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return response


class Recording(httpx.BaseTransport):
    """Forwards every request and counts them by (method, path): what went out, and to
    which extension's paths. Thread-safe (an account pull sends from several threads)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._sent: Counter[tuple[str, str]] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._sent[(request.method, request.url.path)] += 1
        return self.inner.handle_request(request)

    def take(self) -> Counter[tuple[str, str]]:
        """The counts since the last `take` (and start over)."""
        with self._lock:
            sent, self._sent = self._sent, Counter()
        return sent


@dataclass(frozen=True)
class Sent:
    """One request as `Tapped` saw it (`params`: every query item, repeated ones too)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)

    def every(self, name: str) -> tuple[str, ...]:
        return tuple(v for k, v in self.params if k == name)


class Tapped(httpx.BaseTransport):
    """Forwards every request and logs it (`sent`, in order); thread-safe.

    `before(sent)` runs before each request is forwarded (e.g. deletes an extension
    through the control API). The first request for which `hold(sent)` is true is not
    forwarded: `held` is set and it waits for `release` (a test kills the process
    meanwhile), then answers 503. It is logged either way."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        before: Callable[[Sent], None] | None = None,
        hold: Callable[[Sent], bool] | None = None,
    ) -> None:
        self.inner, self.before, self.hold = inner, before, hold
        self.sent: list[Sent] = []
        self.held, self.release = threading.Event(), threading.Event()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = Sent(request.method, request.url.path, tuple(request.url.params.multi_items()))
        with self._lock:
            self.sent.append(sent)
            stop = self.hold is not None and not self.held.is_set() and self.hold(sent)
            if stop:
                self.held.set()
        if stop:
            self.release.wait(timeout=120)
            return httpx.Response(503)
        if self.before is not None:
            self.before(sent)
        return self.inner.handle_request(request)

    def take(self) -> list[Sent]:
        """What was sent since the last `take` (and start over)."""
        with self._lock:
            sent, self.sent = self.sent, []
        return sent
