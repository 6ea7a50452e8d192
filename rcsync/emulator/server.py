"""Real HTTP on loopback with the standard library (no extra dependencies).

`serve` runs a ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, Content-Length framing) in a
background thread and points the records' URIs at its address; `run_forever` is what
``rcsync emulator`` calls. A ``reset`` fault sends the status line, headers and half the
body, then closes the socket; for an answer with no body (a 204 after a DELETE), half of
nothing would still be complete, so the connection is dropped before the status line.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from .app import Emulator
from .wire import Request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers must not wait for delayed ACKs
    server_version = "rcsync-emulator"
    emulator: Emulator

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request.build(self.command, self.path, dict(self.headers.items()), body)
        answer = self.emulator.handle(request)
        if answer.reset and not answer.body:
            # The write happened; the client never learns it (nothing at all comes back).
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if answer.reset:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        # One write for headers and body: fewer syscalls and no small-packet stall.
        self._headers_buffer.append(b"\r\n" + answer.body)  # type: ignore[attr-defined]
        self.flush_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the emulator's request log is its counters."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client killed or gone mid-request is normal (tests SIGKILL rcsync); stay quiet.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class RunningServer:
    url: str
    httpd: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    handler = type("Handler", (_Handler,), {"emulator": emulator})
    httpd = _Server((host, port), handler)
    url = f"http://{host}:{httpd.server_address[1]}"
    emulator.base_url = url
    thread = threading.Thread(target=httpd.serve_forever, name="rcsync-emulator", daemon=True)
    thread.start()
    return RunningServer(url, httpd, thread)


@contextmanager
def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
    """Serve `emulator` over HTTP in a background thread; port 0 picks a free port."""
    server = start(emulator, host, port)
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
) -> None:
    """Build an emulator and serve it until KeyboardInterrupt or SIGTERM."""
    emulator = Emulator(messages=messages, seed=seed, rate_limits=rate_limits)
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
