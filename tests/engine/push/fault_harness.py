"""Helpers of the push tests that need RingCentral to misbehave on purpose.

`Faults` wraps the in-process emulator's transport (an httpx transport, so the client's
whole stack runs: session, retries, error mapping): a rule answers matching requests with
a given status and body instead of the emulator, or lets the emulator perform the request
and then raises `Crash`, as a process killed between sending and saving would stop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient
from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store.database import open_database
from tests.engine.pull.pull_harness import fast_emulator, make_client, make_config

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


@dataclass
class World:
    """An emulator, a config, a migrated database, and a `Faults` in front of the emulator."""

    emu: Emulator
    config: Config
    db: Engine
    faults: Faults

    def client(self) -> MessageStoreClient:
        return make_client(self.config, self.faults)

    def sql(self, sql: str, **params: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(sa.text(sql), params)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.db.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]

    def local(self, mid: int) -> tuple[Any, ...]:
        """(read_status, availability, base_read_status, base_availability) of one row."""
        return self.rows(
            "SELECT read_status, availability, base_read_status, base_availability"
            " FROM message WHERE id = :i",
            i=mid,
        )[0]

    def remote(self, mid: int) -> dict[str, Any]:
        record = self.emu.store.get(mid)
        assert record is not None
        return record

    def pending(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT message_id, field, new_value FROM pending_change ORDER BY 1, 2")

    def ids(self, where: str, n: int) -> list[int]:
        got = [r[0] for r in self.rows(f"SELECT id FROM message WHERE {where} ORDER BY id")][:n]
        assert len(got) == n, where
        return got

    def writes(self, op: str) -> int:
        return int(self.emu.counters.by_operation[op])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    from rcsync.sync.pull import pull

    emu = fast_emulator(120, 11)
    config = make_config(tmp_path, delete_guard=100_000)
    db = open_database(config.database.path)
    w = World(emu, config, db, Faults(emu.transport()))
    pull(db, w.client(), config)  # the mirror, with a sync token
    yield w
    db.dispose()
