"""Real HTTP/1.1 on loopback: a small threaded socket server driven by h11.

Why h11 and not the standard library's ``ThreadingHTTPServer``: the stdlib server ignores
chunked request bodies (their bytes were then parsed as the next request on a keep-alive
connection) and answers HEAD/OPTIONS/TRACE with an HTML 501. h11 is a complete, sans-IO
HTTP/1.1 state machine (keep-alive, Content-Length and chunked framing, ``Expect:
100-continue``, ``Connection: close``, protocol upgrades) and is already installed as httpx's
own HTTP/1.1 engine (httpx → httpcore → h11), so it adds no dependency.

One thread per connection. Every method reaches `Emulator.handle`, so HEAD/OPTIONS/TRACE
get RingCentral's JSON 405 with ``Allow`` (a HEAD answer carries the headers, never the
body); malformed requests get a JSON 400 (431 for oversized headers) and the connection
closes. A ``reset`` fault sends the status line, headers and half the body, then closes the
socket; for an answer with no body (a 204 after a DELETE), half of nothing would still be
complete, so the connection is dropped before the status line.

Upgrades: a request with ``Upgrade: <token>`` whose token has a hook in ``upgrades`` is
handed to that hook (by default the emulator's WebSocket gateway, `gateway`, for
``websocket``); without a hook the request is answered as a normal request, which declines
the upgrade.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from types import FrameType

import h11
from h11 import MIGHT_SWITCH_PROTOCOL  # type: ignore[attr-defined]  # exported, not in __all__

from .app import Emulator
from .wire import Request, Response, api_error

SERVER_NAME = "rcsync-emulator"
MAX_BODY = 64 * 1024 * 1024  # bodies beyond this are refused (413), never buffered
_RECV = 256 * 1024
_BODYLESS = frozenset({204, 304})


@dataclass(frozen=True)
class Accepted:
    """An upgrade hook's consent: send ``101`` with `headers`, then `run` owns the socket.

    `run` gets the socket and any bytes the client sent after the handshake; the server
    closes the socket when `run` returns.
    """

    headers: list[tuple[str, str]]
    run: Callable[[socket.socket, bytes], None]


# A hook sees the upgrade request and answers Accepted, or a Response that declines it.
UpgradeHook = Callable[[Request], Accepted | Response]


class _Closed(Exception):
    """The peer went away, or the connection must end after the answer just sent."""


class _Connection:
    """One client connection: parse requests with h11, answer them, keep alive or close."""

    def __init__(
        self, sock: socket.socket, emulator: Emulator, upgrades: Mapping[str, UpgradeHook]
    ) -> None:
        self.sock = sock
        self.emulator = emulator
        self.upgrades = upgrades
        self.h11 = h11.Connection(h11.SERVER)
        self._method = b""

    def run(self) -> None:
        try:
            while self._one_cycle():
                self.h11.start_next_cycle()
        except (_Closed, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()

    # -- one request/response cycle ---------------------------------------------------------

    def _one_cycle(self) -> bool:
        """Serve one request; whether the connection stays open for another."""
        try:
            event = self._next_event()
            if not isinstance(event, h11.Request):
                return False  # the peer closed between requests
            self._method = event.method
            body = self._read_body()
        except h11.RemoteProtocolError as exc:
            self._refuse(exc.error_status_hint, "Cannot parse request")
            return False
        except _TooLarge:
            self._refuse(413, "Request entity too large")
            return False
        request = _to_request(event, body)
        hook = self._upgrade_hook(request)
        if hook is not None:
            return self._upgrade(hook, request)
        answer = self._answer(request)
        if answer.reset:
            self._reset(answer)
            return False
        self._send(answer)
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def _upgrade_hook(self, request: Request) -> UpgradeHook | None:
        # h11 pauses the client side only for a well-formed upgrade (Connection: upgrade).
        if self.h11.their_state is not MIGHT_SWITCH_PROTOCOL:
            return None
        token = request.headers.get("upgrade", "").split(",")[0].strip().lower()
        return self.upgrades.get(token)

    def _next_event(self) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                if self.h11.they_are_waiting_for_100_continue:
                    go_on = h11.InformationalResponse(status_code=100, headers=[])
                    self.sock.sendall(self.h11.send(go_on) or b"")
                self.h11.receive_data(self.sock.recv(_RECV))
                continue
            if event is h11.PAUSED:
                raise _Closed  # only after an upgrade, which never returns here
            return event  # type: ignore[return-value]

    def _read_body(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            event = self._next_event()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            if isinstance(event, h11.ConnectionClosed):
                raise _Closed
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_BODY:
                    raise _TooLarge
                chunks.append(bytes(event.data))

    def _answer(self, request: Request) -> Response:
        try:
            return self.emulator.handle(request)
        except Exception:
            # A bug in the emulator must still produce an answer (and a trace to fix it).
            traceback.print_exc(file=sys.stderr)
            return api_error(500, "CMN-203", "Internal Server Error")

    # -- writing ----------------------------------------------------------------------------

    def _head(self, answer: Response, *, close: bool = False) -> h11.Response:
        headers = [("Date", formatdate(usegmt=True)), ("Server", SERVER_NAME), *answer.headers]
        if answer.status not in _BODYLESS:  # RFC 9110 §8.6: no Content-Length on a 204/304
            headers.append(("Content-Length", str(answer.length)))
        if close:
            headers.append(("Connection", "close"))
        return h11.Response(status_code=answer.status, headers=headers)

    def _send(self, answer: Response) -> None:
        """Status line, headers and body in one write: fewer syscalls, no small-packet stall."""
        try:
            out = self.h11.send(self._head(answer))
        except (h11.LocalProtocolError, UnicodeError):
            # A header h11 will not write (never expected): answer 500, not a dropped socket.
            traceback.print_exc(file=sys.stderr)
            answer = api_error(500, "CMN-203", "Internal Server Error")
            out = self.h11.send(self._head(answer, close=True))
        sending = self.h11.our_state is h11.SEND_BODY and not self._is_head()
        if answer.stream is not None and sending:
            self.sock.sendall(out or b"")
            # A large body goes out chunk by chunk: never whole in memory.
            for chunk in answer.stream.chunks():
                self.sock.sendall(self.h11.send(h11.Data(data=chunk)) or b"")
            out = b""
        elif answer.body and sending:
            out += self.h11.send(h11.Data(data=answer.body))
        out += self.h11.send(h11.EndOfMessage())
        self.sock.sendall(out or b"")

    def _is_head(self) -> bool:
        # h11 frames a HEAD answer as bodiless; the headers still say what GET would send.
        return self._method == b"HEAD"

    def _reset(self, answer: Response) -> None:
        if answer.length:
            out = self.h11.send(self._head(answer, close=True))
            if not self._is_head():
                out += self.h11.send(h11.Data(data=_first_half(answer)))
            self.sock.sendall(out or b"")
        # else: the write happened; the client never learns it (nothing at all comes back).
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        raise _Closed

    def _refuse(self, status: int, message: str) -> None:
        """A JSON error for a request h11 could not accept, then close."""
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        code = "CMN-104" if status < 500 else "CMN-203"
        answer = api_error(status, code, message)
        with contextlib.suppress(h11.LocalProtocolError, OSError):
            out = self.h11.send(self._head(answer, close=True))
            out += self.h11.send(h11.Data(data=answer.body))
            out += self.h11.send(h11.EndOfMessage())
            self.sock.sendall(out or b"")

    def _upgrade(self, hook: UpgradeHook, request: Request) -> bool:
        verdict = hook(request)
        if isinstance(verdict, Response):
            self._send(verdict)  # a normal answer declines the upgrade; h11 carries on
            return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE
        self.sock.sendall(
            self.h11.send(h11.InformationalResponse(status_code=101, headers=verdict.headers))
            or b""
        )
        leftover, _ = self.h11.trailing_data
        verdict.run(self.sock, bytes(leftover))
        return False


def _first_half(answer: Response) -> bytes:
    if answer.stream is None:
        return answer.body[: len(answer.body) // 2]
    wanted, out = answer.stream.size // 2, bytearray()
    for chunk in answer.stream.chunks():
        out += chunk[: wanted - len(out)]
        if len(out) >= wanted:
            break
    return bytes(out)


class _TooLarge(Exception):
    """The request body passed MAX_BODY."""


def _to_request(event: h11.Request, body: bytes) -> Request:
    headers: dict[str, str] = {}
    for raw_name, raw_value in event.headers:
        name, value = raw_name.decode("ascii"), raw_value.decode("latin-1")
        # Repeated fields combine with ", " (RFC 9110 §5.3).
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    target = event.target.decode("utf-8", "replace")
    return Request.build(event.method.decode("ascii"), target, headers, body)


@dataclass
class RunningServer:
    url: str
    listener: socket.socket
    thread: threading.Thread = field(init=False)
    _wake: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self) -> None:
        """Stop accepting, close every open connection, wait for the accept thread."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake[1].send(b"x")
        self.thread.join(timeout=5)
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for sock in (self.listener, *self._wake):
            sock.close()

    def _accept_loop(self, emulator: Emulator, upgrades: Mapping[str, UpgradeHook]) -> None:
        # The wake socket lets stop() end the wait at once instead of polling.
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            selector.register(self._wake[0], selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self.listener and not self._stopping.is_set():
                        self._accept(emulator, upgrades)

    def _accept(self, emulator: Emulator, upgrades: Mapping[str, UpgradeHook]) -> None:
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls
        with self._lock:
            self._open.add(sock)

        def serve_one() -> None:
            try:
                _Connection(sock, emulator, upgrades).run()
            finally:
                with self._lock:
                    self._open.discard(sock)

        threading.Thread(target=serve_one, name="rcsync-emulator-conn", daemon=True).start()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=128)


def start(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 0,
    upgrades: Mapping[str, UpgradeHook] | None = None,
) -> RunningServer:
    listener = _listen(host, port)
    bound = listener.getsockname()[1]
    url = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    emulator.base_url = url
    server = RunningServer(url, listener)
    if upgrades is None:  # by default the emulator serves its WebSocket gateway
        upgrades = {"websocket": emulator.gateway.upgrade}
    hooks = {token.lower(): hook for token, hook in upgrades.items()}
    server.thread = threading.Thread(
        target=server._accept_loop, args=(emulator, hooks), name="rcsync-emulator", daemon=True
    )
    server.thread.start()
    return server


@contextmanager
def serve(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 0,
    upgrades: Mapping[str, UpgradeHook] | None = None,
) -> Iterator[RunningServer]:
    """Serve `emulator` over HTTP in a background thread; port 0 picks a free port."""
    server = start(emulator, host, port, upgrades)
    try:
        yield server
    finally:
        server.stop()


def run_forever(
    host: str,
    port: int,
    messages: int,
    seed: int,
    rate_limits: bool,
    on_ready: Callable[[str], None] | None = None,
    extensions: int = 1,
) -> None:
    """Build an emulator and serve it until KeyboardInterrupt or SIGTERM."""
    emulator = Emulator(
        messages=messages, seed=seed, rate_limits=rate_limits, extensions=extensions
    )
    server = start(emulator, host, port)
    stopped = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    previous = (
        signal.signal(signal.SIGTERM, _stop)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    if on_ready is not None:
        on_ready(server.url)
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
