"""The served emulator speaks HTTP/1.1 as a real gateway does (issue 18 items 6 and 7).

Raw sockets on loopback, so framing is what is tested: keep-alive, Content-Length and chunked
request bodies, HEAD/OPTIONS/TRACE, 405 with Allow, malformed requests, Connection: close,
Expect: 100-continue, the upgrade hook, and stop() closing idle connections.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest

from rcsync.emulator import Emulator, serve
from rcsync.emulator.server import Accepted, RunningServer
from rcsync.emulator.wire import Request, api_error
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import HISTORY, STORE


class _Unclosable:
    """One buffered reader shared by successive responses (HTTPResponse closes its file)."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def makefile(self, _mode: str) -> _Unclosable:
        return self

    def close(self) -> None:
        """Kept open: the next response on the connection is read from the same buffer."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class Wire:
    """A raw client connection: send bytes, read whole responses one at a time."""

    def __init__(self, url: str) -> None:
        host, port = httpx.URL(url).host, httpx.URL(url).port
        self.sock = socket.create_connection((host, port), timeout=10)
        self.reader = _Unclosable(self.sock)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self, method: str = "GET") -> tuple[int, Message, bytes]:
        answer = http.client.HTTPResponse(self.reader, method=method)  # type: ignore[arg-type]
        answer.begin()
        return answer.status, answer.headers, answer.read()

    def closed_by_peer(self) -> bool:
        return self.sock.recv(1) == b""

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RunningServer, str]]:
    emu = Emulator(messages=200, seed=5, rate_limits=False)
    with serve(emu) as server:
        token = httpx.post(f"{server.url}/restapi/oauth/token", data=JWT_FORM, auth=CLIENT_AUTH)
        yield server, token.json()["access_token"]


@pytest.fixture
def wire(served: tuple[RunningServer, str]) -> Iterator[Wire]:
    connection = Wire(served[0].url)
    yield connection
    connection.close()


def _request(method: str, target: str, token: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: emulator", f"Authorization: Bearer {token}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode() + body


def _one_id(served: tuple[RunningServer, str]) -> int:
    server, token = served
    page = httpx.get(
        f"{server.url}{STORE}",
        params={"dateFrom": HISTORY, "perPage": "1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return int(page.json()["records"][0]["id"])


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE", "POST"])
def test_unsupported_methods_are_json_405_with_allow(
    served: tuple[RunningServer, str], wire: Wire, method: str
) -> None:
    wire.send(_request(method, STORE, served[1]))
    status, headers, body = wire.response(method)
    assert status == 405
    assert headers["Allow"] == "GET, DELETE"
    assert headers["Content-Type"].startswith("application/json")
    if method == "HEAD":
        assert body == b""  # a HEAD answer never has a body; its headers say what it would be
    else:
        assert json.loads(body)["errors"][0]["errorCode"] == "CMN-202"
    # keep-alive: the connection still serves the next request
    wire.send(_request("GET", f"{STORE}?perPage=1", served[1]))
    assert wire.response()[0] == 200


def test_allow_lists_each_paths_methods(served: tuple[RunningServer, str], wire: Wire) -> None:
    wire.send(_request("POST", f"{STORE}/1", served[1], "Content-Length: 0"))
    status, headers, _ = wire.response()
    assert status == 405 and headers["Allow"] == "GET, PUT, PATCH, DELETE"


def test_chunked_request_body_is_read_and_not_parsed_as_a_request(
    served: tuple[RunningServer, str], wire: Wire
) -> None:
    message_id = _one_id(served)
    payload = b'{"readStatus": "Unread"}'
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (5, payload[:5], len(payload) - 5, payload[5:])
    put = _request(
        "PUT",
        f"{STORE}/{message_id}",
        served[1],
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        body=chunked,
    )
    # Pipelined: the GET right behind the chunked body must be the next request.
    wire.send(put + _request("GET", f"{STORE}/{message_id}", served[1]))
    status, _, body = wire.response()
    assert status == 200 and json.loads(body)["readStatus"] == "Unread"
    status, _, body = wire.response()
    assert status == 200 and json.loads(body)["id"] == message_id


def test_httpx_streamed_body_without_length(served: tuple[RunningServer, str]) -> None:
    server, token = served
    message_id = _one_id(served)

    def parts() -> Iterator[bytes]:
        yield b'{"readStatus":'
        yield b' "Read"}'

    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http:
        put = http.put(
            f"{STORE}/{message_id}", content=parts(), headers={"Content-Type": "application/json"}
        )
        assert put.request.headers["transfer-encoding"] == "chunked"
        assert put.status_code == 200 and put.json()["readStatus"] == "Read"
        assert http.get(f"{STORE}/{message_id}").json()["readStatus"] == "Read"


def test_content_length_body_and_keep_alive(served: tuple[RunningServer, str], wire: Wire) -> None:
    message_id = _one_id(served)
    payload = b'{"readStatus":"Read"}'
    for _ in range(3):
        wire.send(
            _request(
                "PATCH",
                f"{STORE}/{message_id}",
                served[1],
                "Content-Type: application/json",
                f"Content-Length: {len(payload)}",
                body=payload,
            )
        )
        status, headers, _ = wire.response()
        assert status == 200 and headers.get("Connection") is None


def test_malformed_request_is_json_400_then_close(wire: Wire) -> None:
    wire.send(b"GET /x HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n")
    status, headers, body = wire.response()
    assert status == 400 and headers["Connection"] == "close"
    assert json.loads(body)["errors"][0]["errorCode"] == "CMN-104"
    assert wire.closed_by_peer()


def test_bad_chunk_framing_is_400(served: tuple[RunningServer, str], wire: Wire) -> None:
    wire.send(
        _request("PUT", f"{STORE}/1", served[1], "Transfer-Encoding: chunked", body=b"zz\r\n")
    )
    status, headers, _ = wire.response()
    assert status == 400 and headers["Connection"] == "close"


def test_connection_close_is_honoured(served: tuple[RunningServer, str], wire: Wire) -> None:
    wire.send(_request("GET", f"{STORE}?perPage=1", served[1], "Connection: close"))
    status, headers, _ = wire.response()
    assert status == 200 and headers["Connection"] == "close"
    assert wire.closed_by_peer()


def test_204_has_no_content_length(served: tuple[RunningServer, str], wire: Wire) -> None:
    wire.send(_request("DELETE", f"{STORE}/{_one_id(served)}", served[1]))
    status, headers, body = wire.response("DELETE")
    assert status == 204 and body == b"" and "Content-Length" not in headers


def test_expect_100_continue(served: tuple[RunningServer, str], wire: Wire) -> None:
    payload = b'{"readStatus":"Read"}'
    head = _request(
        "PUT",
        f"{STORE}/{_one_id(served)}",
        served[1],
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Expect: 100-continue",
    )
    wire.send(head)
    assert wire.reader.readline().startswith(b"HTTP/1.1 100 ")
    assert wire.reader.readline() == b"\r\n"
    wire.send(payload)
    assert wire.response()[0] == 200


def test_upgrade_hook_takes_over_the_connection() -> None:
    """The seam the WebSocket gateway will use: a hook per Upgrade token owns the socket."""

    def echo(sock: socket.socket, leftover: bytes) -> None:
        data = leftover or sock.recv(100)
        sock.sendall(data.upper())

    def hook(request: Request) -> Accepted | Any:
        if request.path != "/echo":
            return api_error(404, "CMN-102", "Resource for parameter [path] is not found")
        return Accepted([("Upgrade", "x-echo"), ("Connection", "Upgrade")], echo)

    with serve(Emulator(messages=10, seed=1), upgrades={"X-Echo": hook}) as server:
        wire = Wire(server.url)
        upgrade = b"GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo\r\n\r\n"
        wire.send(upgrade + b"hello")
        assert wire.reader.readline().startswith(b"HTTP/1.1 101 ")
        while wire.reader.readline() != b"\r\n":
            pass
        assert wire.reader.read(5) == b"HELLO"
        wire.close()
        declined = Wire(server.url)
        declined.send(upgrade.replace(b"/echo", b"/other"))
        assert declined.response()[0] == 404
        declined.send(b"GET /_emulator/health HTTP/1.1\r\nHost: a\r\n\r\n")
        assert declined.response()[0] == 200  # the declined connection carries on as HTTP
        declined.close()


def test_stop_closes_idle_keep_alive_connections() -> None:
    with serve(Emulator(messages=10, seed=1)) as server:
        wire = Wire(server.url)
        wire.send(b"GET /_emulator/health HTTP/1.1\r\nHost: a\r\n\r\n")
        assert wire.response()[0] == 200
    assert wire.closed_by_peer()
    wire.close()


def test_a_crash_in_the_emulator_is_a_json_500_not_a_dropped_socket(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = Emulator(messages=10, seed=1)

    def broken(_request: Request) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(emu, "handle", broken)
    with serve(emu) as server:
        response = httpx.get(f"{server.url}/_emulator/health")
    assert response.status_code == 500 and response.json()["errorCode"] == "CMN-203"
    assert "RuntimeError: bug" in capsys.readouterr().err


def test_oversized_body_is_413(monkeypatch: pytest.MonkeyPatch) -> None:
    from rcsync.emulator import server as server_module

    monkeypatch.setattr(server_module, "MAX_BODY", 100)
    with serve(Emulator(messages=10, seed=1)) as server:
        response = httpx.put(f"{server.url}{STORE}/1", content=b"x" * 101)
    assert response.status_code == 413 and response.headers["connection"] == "close"
    assert response.json()["errors"][0]["errorCode"] == "CMN-104"
