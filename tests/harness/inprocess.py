"""The emulator in-process (its httpx transport, no sockets) with rcsync's engine.

* `fast_emulator`, `make_client`: an emulator whose rate limits never bite, a client that
  never paces;
* `World`: a pulled mirror with `Faults` in front of the emulator (push tests);
* `PushEnv`: a FakeClock shared by emulator and client, a database mirrored with plain SQL
  (independent of the pull engine), request counters;
* `ApiEnv`: the same clock and client without a database, and the emulator's control API;
* `Archive`: a pulled archive with attachments (export tests).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, RateBudget, TokenStore, build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Clock, Emulator, FakeClock
from rcsync.store.database import open_database
from rcsync.sync.push import PushSummary, push
from tests.harness.account import SERVER
from tests.harness.config import rc_config
from tests.harness.database import execute, query, seed, shell
from tests.harness.transports import Faults

WRITE_OPS = ("updateMessage", "patchMessage", "deleteMessage", "deleteMessageByFilter")

UNLIMITED: dict[str, tuple[int, float]] = {
    g: (1_000_000, 60.0) for g in ("Light", "Medium", "Heavy", "Auth")
}


def fast_emulator(messages: int, seed: int = 1, clock: Clock | None = None) -> Emulator:
    """An emulator whose rate limits are so high they never bite.

    (With ``rate_limits=False`` it still sends the documented limits in X-Rate-Limit-*
    headers, and the client, rightly trusting them, paces at 40 content requests a minute.)
    """
    emu = Emulator(messages=messages, seed=seed, clock=clock)
    emu.configure(
        rate_limits={"enabled": True, "limits": {g: n for g, (n, _w) in UNLIMITED.items()}}
    )
    return emu


def make_client(
    config: Config, transport: httpx.BaseTransport, *, paced: bool = False
) -> MessageStoreClient:
    """A client; unless `paced`, its rate budget does not pace (emulator limits off)."""
    if paced:
        return build_client(config.ringcentral, transport=transport)
    return build_client(
        config.ringcentral,
        transport=transport,
        sleep=lambda s: None,
        budget=RateBudget(limits=UNLIMITED, sleep=lambda s: None),
    )


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
        execute(self.db, sql, **params)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return query(self.db, sql, **params)

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


class OnFakeClock:
    """An emulator and a client sharing one FakeClock: the client's sleeps advance it, so
    nothing really waits."""

    def __init__(self, rc: RingCentralConfig, *, messages: int, rate_limits: bool) -> None:
        self.clock = FakeClock()
        self.emu = Emulator(messages=messages, seed=1, rate_limits=rate_limits, clock=self.clock)
        self.tokens = TokenStore(rc.token_file)
        self._rc = rc

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def client(self, transport: httpx.BaseTransport | None = None) -> MessageStoreClient:
        return build_client(
            self._rc,
            transport=transport or self.emu.transport(),
            clock=self.clock.now,
            sleep=self.sleep,
            store=self.tokens,
        )


class PushEnv(OnFakeClock):
    def __init__(
        self, tmp_path: Path, *, messages: int = 40, rate_limits: bool = False, seed_db: bool = True
    ) -> None:
        rc = rc_config(tmp_path / "tokens.json")
        super().__init__(rc, messages=messages, rate_limits=rate_limits)
        self.db = tmp_path / "messages.db"
        self.config = Config(
            ringcentral=rc,
            database=DatabaseConfig(path=self.db),
            sync=SyncConfig(download_attachments=False),
        )
        self.engine = open_database(self.db)
        if seed_db:
            seed(self.engine, self.emu.store.all_records())

    def close(self) -> None:
        self.engine.dispose()

    def with_sync(self, **changes: Any) -> Config:
        return replace(self.config, sync=replace(self.config.sync, **changes))

    def push(self, *, client: MessageStoreClient | None = None, **kw: Any) -> PushSummary:
        cfg = self.with_sync(**kw.pop("sync", {}))
        return push(self.engine, client or self.client(), cfg, **kw)

    def sql(self, script: str) -> str:
        """Run SQL with the real sqlite3 shell, in another process."""
        return shell(self.db, script, timeout=60)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return query(self.engine, sql, **params)

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


class ApiEnv(OnFakeClock):
    """An emulator with a FakeClock, a client sharing that clock, and its control API."""

    def __init__(self, tmp_path: Path, messages: int = 300, rate_limits: bool = True) -> None:
        self.cfg = rc_config(tmp_path / "state" / "tokens.json")
        super().__init__(self.cfg, messages=messages, rate_limits=rate_limits)
        self.store = self.tokens
        self.control = httpx.Client(transport=self.emu.transport(), base_url=SERVER)

    def remote(self) -> dict[int, dict[str, Any]]:
        records = self.control.get("/_emulator/messages").json()["records"]
        return {r["id"]: r for r in records}

    def requests(self) -> dict[str, Any]:
        data: dict[str, Any] = self.control.get("/_emulator/requests").json()
        return data

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.control.post(path, json=body if body is not None else {})


@dataclass(frozen=True)
class Archive:
    config: Config
    db_path: Path
    files: Path
