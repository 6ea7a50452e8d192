"""Helpers for push tests against the in-process emulator: a migrated database mirrored
from the emulator with plain SQL (independent of the pull engine), edits made with the real
`sqlite3` shell in a separate process, and request counters."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, TokenStore, build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.store.database import open_database
from rcsync.sync.push import PushSummary, push
from tests.fixtures import EMULATOR_CREDENTIALS

emulator = pytest.importorskip("rcsync.emulator")

SERVER = "https://platform.ringcentral.com"
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"
WRITE_OPS = ("updateMessage", "patchMessage", "deleteMessage", "deleteMessageByFilter")

_INSERT = sa.text(
    "INSERT INTO message (id, type, direction, subject, creation_time, last_modified_time,"
    " raw, read_status, base_read_status, remote_read_status, availability, base_availability,"
    " remote_availability) VALUES (:id, :type, :dir, :subject, :ct, :lmt, :raw, :rs, :rs, :rs,"
    " :av, :av, :av)"
)


def seed(engine: Engine, records: list[dict[str, Any]]) -> None:
    """Mirror records the way the engine writes them: local = base = remote."""
    rows = [
        {
            "id": r["id"],
            "type": r["type"],
            "dir": r.get("direction"),
            "subject": r.get("subject"),
            "ct": r["creationTime"],
            "lmt": r.get("lastModifiedTime"),
            "raw": json.dumps(r),
            "rs": r.get("readStatus"),
            "av": r.get("availability"),
        }
        for r in records
    ]
    with engine.begin() as conn:
        conn.execute(_INSERT, rows)


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


class PushEnv:
    def __init__(
        self, tmp_path: Path, *, messages: int = 40, rate_limits: bool = False, seed_db: bool = True
    ) -> None:
        self.clock = emulator.FakeClock()
        self.emu = emulator.Emulator(
            messages=messages, seed=1, rate_limits=rate_limits, clock=self.clock
        )
        self.db = tmp_path / "messages.db"
        rc = RingCentralConfig(
            server=SERVER,
            **EMULATOR_CREDENTIALS,
            token_file=tmp_path / "tokens.json",
        )
        self.config = Config(
            ringcentral=rc,
            database=DatabaseConfig(path=self.db),
            sync=SyncConfig(download_attachments=False),
        )
        self.engine = open_database(self.db)
        self.tokens = TokenStore(rc.token_file)
        if seed_db:
            seed(self.engine, self.emu.store.all_records())

    def close(self) -> None:
        self.engine.dispose()

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def client(self, transport: httpx.BaseTransport | None = None) -> MessageStoreClient:
        return build_client(
            self.config.ringcentral,
            transport=transport or self.emu.transport(),
            clock=self.clock.now,
            sleep=self.sleep,
            store=self.tokens,
        )

    def with_sync(self, **changes: Any) -> Config:
        return replace(self.config, sync=replace(self.config.sync, **changes))

    def push(self, *, client: MessageStoreClient | None = None, **kw: Any) -> PushSummary:
        cfg = self.with_sync(**kw.pop("sync", {}))
        return push(self.engine, client or self.client(), cfg, **kw)

    def sql(self, script: str) -> str:
        """Run SQL with the real sqlite3 shell, in another process."""
        done = subprocess.run(
            [SQLITE3, "-bail", str(self.db), script], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise AssertionError(f"sqlite3 failed: {done.stderr}")
        return done.stdout

    def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query), params)]

    def ids(self, where: str, limit: int = 1000) -> list[int]:
        return [
            r[0]
            for r in self.rows(f"SELECT id FROM message WHERE {where} ORDER BY id LIMIT {limit}")
        ]

    def remote(self, mid: int) -> dict[str, Any]:
        record = self.emu.store.get(mid)
        assert record is not None
        return record

    def writes(self) -> int:
        ops = self.emu.counters.by_operation
        return sum(ops[o] for o in WRITE_OPS)

    def requests(self) -> int:
        ops = self.emu.counters.by_operation
        return sum(n for o, n in ops.items() if o not in ("getToken", "revokeToken"))

    def pending(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT message_id, field, new_value FROM pending_change")

    def assert_mirror_equals_server(self) -> None:
        local = {
            r[0]: (r[1], r[2], r[3], r[4])
            for r in self.rows(
                "SELECT id, read_status, availability, base_read_status,"
                " base_availability FROM message"
            )
        }
        tombstones = dict(self.rows("SELECT message_id, action FROM tombstone"))
        for record in self.emu.store.all_records():
            mid = record["id"]
            if mid in tombstones:
                assert record["availability"] in ("Deleted", "Purged"), mid
                continue
            want = (record["readStatus"], record["availability"])
            if record["availability"] == "Purged":  # read status of a purged message is moot
                assert local[mid][1] == "Purged", (mid, local[mid], want)
                continue
            assert local[mid] == want + want, (mid, local[mid], want)
