"""The API client's unit tests' world: a fake clock and a scriptable fake RingCentral.

Nothing sleeps: the clock's `sleep` advances the clock. The fake server (`FakeRC`) records
every request and answers from per-route handlers that each test sets. (Its credentials
are made up: these tests check that secrets never leak, so they must be recognisable.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from rcsync.api import MessageStoreClient, TokenInfo

# STORE_PATH and SYNC_PATH too: the `helpers` fixture is this module, tests read helpers.X.
from tests.harness.account import SERVER, STORE_PATH, SYNC_PATH  # noqa: F401
from tests.harness.transports import rc_body

SECRET = "csecret-VERY-SECRET"
JWT = "eyJhbGciOiJ-JWT-SECRET"


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
    return httpx.Response(status, json=rc_body(message, code), headers=headers)


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


def record(message_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "SMS",
        "readStatus": "Unread",
        "availability": "Alive",
        **extra,
    }
