"""Fixtures for the API client's unit tests: a fake clock and a scriptable fake RingCentral.

Nothing sleeps: the clock's `sleep` advances the clock. The fake server (`FakeRC`) records
every request and answers from per-route handlers that each test sets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcsync.api import MessageStoreClient, RetryPolicy, TokenInfo, TokenStore, build_client
from rcsync.config import RingCentralConfig

SERVER = "https://platform.ringcentral.com"
SECRET = "csecret-VERY-SECRET"
JWT = "eyJhbGciOiJ-JWT-SECRET"
STORE_PATH = "/restapi/v1.0/account/~/extension/~/message-store"
SYNC_PATH = "/restapi/v1.0/account/~/extension/~/message-sync"


class Clock:
    """Callable epoch clock whose `sleep` moves time forward and is recorded."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@dataclass
class Seen:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: httpx.Headers
    body: bytes
    time: float

    @property
    def form(self) -> dict[str, str]:
        return dict(httpx.QueryParams(self.body.decode()))

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[httpx.Request], httpx.Response]


def token_response(
    access: str = "at-1", refresh: str = "rt-1", expires_in: int = 3600, refresh_in: int = 604800
) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": access,
            "token_type": "bearer",
            "expires_in": expires_in,
            "refresh_token": refresh,
            "refresh_token_expires_in": refresh_in,
            "scope": "ReadMessages EditMessages",
            "owner_id": "101",
            "session_id": "s1",
        },
    )


def rc_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {
        "errorCode": code,
        "message": message,
        "errors": [{"errorCode": code, "message": message}],
    }
    return httpx.Response(status, json=body, headers=headers)


def oauth_error(status: int, error: str, code: str, description: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": error,
            "error_description": description,
            "errors": [{"errorCode": code, "message": description}],
        },
    )


@dataclass
class FakeRC:
    """A scriptable RingCentral: routes are (METHOD, path regex) -> handler."""

    clock: Clock
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    refreshes: int = 0
    logins: int = 0

    def __post_init__(self) -> None:
        self.on("POST", "/restapi/oauth/token", self._token)

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.routes.insert(0, (method, re.compile(path + "$"), handler))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.seen.append(
            Seen(
                request.method,
                request.url.path,
                list(request.url.params.multi_items()),
                request.headers,
                body,
                self.clock(),
            )
        )
        for method, pattern, handler in self.routes:
            if method == request.method and pattern.match(request.url.path):
                return handler(request)
        return rc_error(404, "CMN-102", f"no route for {request.method} {request.url.path}")

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        if form["grant_type"] == "refresh_token":
            self.refreshes += 1
            n = self.refreshes
            return token_response(f"at-r{n}", f"rt-r{n}")
        self.logins += 1
        return token_response(f"at-l{self.logins}", f"rt-l{self.logins}")

    def api(self) -> list[Seen]:
        """Requests other than token requests."""
        return [s for s in self.seen if not s.path.startswith("/restapi/oauth")]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeRC:
    return FakeRC(clock)


@pytest.fixture
def cfg(tmp_path: Path) -> RingCentralConfig:
    return RingCentralConfig(
        server=SERVER,
        client_id="cid",
        client_secret=SECRET,
        jwt=JWT,
        token_file=tmp_path / "state" / "tokens.json",
    )


@pytest.fixture
def store(cfg: RingCentralConfig) -> TokenStore:
    return TokenStore(cfg.token_file)


def valid_tokens(
    clock: Clock,
    *,
    access: str = "at-0",
    refresh: str = "rt-0",
    ttl: float = 3600,
    refresh_ttl: float = 86400,
) -> TokenInfo:
    return TokenInfo(
        access_token=access,
        refresh_token=refresh,
        expires_at=clock() + ttl,
        refresh_expires_at=clock() + refresh_ttl,
        owner_id="101",
        scope="",
        server=SERVER,
        client_id="cid",
    )


MakeClient = Callable[..., MessageStoreClient]


@pytest.fixture
def make_client(
    fake: FakeRC, clock: Clock, cfg: RingCentralConfig, store: TokenStore
) -> MakeClient:
    """build_client over the fake; `logged_in=True` stores a valid pair first."""

    def make(
        *, logged_in: bool = True, cfg_: RingCentralConfig | None = None, **kwargs: Any
    ) -> MessageStoreClient:
        if logged_in:
            store.save(valid_tokens(clock))
        client = build_client(
            cfg_ or cfg,
            transport=httpx.MockTransport(fake),
            sleep=clock.sleep,
            clock=clock,
            store=store,
        )
        client.session._rand = lambda: 0.5
        for key, value in kwargs.items():
            setattr(client, key, value)
        return client

    return make


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy()


def record(message_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "SMS",
        "readStatus": "Unread",
        "availability": "Alive",
        **extra,
    }


@pytest.fixture
def helpers() -> Any:
    """The module's helpers, for tests (test modules cannot import conftest by name)."""

    class H:
        SERVER = SERVER
        SECRET = SECRET
        JWT = JWT
        STORE_PATH = STORE_PATH
        SYNC_PATH = SYNC_PATH
        token_response = staticmethod(token_response)
        rc_error = staticmethod(rc_error)
        oauth_error = staticmethod(oauth_error)
        valid_tokens = staticmethod(valid_tokens)
        record = staticmethod(record)

    return H
