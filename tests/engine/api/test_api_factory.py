"""build_http_client / build_client: server URL checks, TLS, User-Agent."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from rcsync import __version__
from rcsync.api import build_client, build_http_client, check_server
from rcsync.errors import ConfigError


@pytest.mark.parametrize(
    "server",
    [
        "http://127.0.0.1:8090",
        "http://localhost:1",
        "http://[::1]:9",
        "http://127.5.0.1",
        "https://platform.ringcentral.com",
    ],
)
def test_allowed_servers(server: str) -> None:
    assert str(check_server(server)).rstrip("/") == server


@pytest.mark.parametrize("server", ["ftp://x", "platform.ringcentral.com", "https://", "http://"])
def test_rejected_urls(server: str) -> None:
    with pytest.raises(ConfigError, match="expected an http"):
        check_server(server)


def test_plain_http_to_remote_needs_insecure(cfg: Any) -> None:
    remote = dataclasses.replace(cfg, server="http://rc.example.com")
    with pytest.raises(ConfigError, match="use https:// or pass --insecure"):
        build_http_client(remote)
    build_http_client(remote, insecure=True)
    build_http_client(dataclasses.replace(remote, insecure=True))


def test_http_client_settings(cfg: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    http = build_http_client(
        dataclasses.replace(cfg, timeout=12.0), transport=httpx.MockTransport(handler)
    )
    http.get("/x")
    assert str(seen[0].url) == "https://platform.ringcentral.com/x"
    assert seen[0].headers["user-agent"] == f"rcsync/{__version__}"
    assert http.timeout.read == 12.0


def test_build_client_wires_one_budget(cfg: Any) -> None:
    client = build_client(cfg, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert client.session.http.auth._budget is client.budget
