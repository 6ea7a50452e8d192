"""Helpers of the pull tests (imported as ``tests.engine.pull.pull_harness`` from every folder).

`mirror_problems` states what "the mirror equals the server" means:

* every Alive or Deleted server message is a row (unless the user deleted it locally: a
  tombstone) with the same mapped columns, the same remote values, the whole record in
  ``raw``, and, where the user has no pending edit, local = base = remote;
* a Purged server message is either absent (we never saw it alive) or a row marked Purged;
* rows the server no longer has stay (nothing is inferred from absence).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, RateBudget, build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Clock, Emulator
from rcsync.rules.records import META_COLUMNS, message_row
from tests.fixtures import EMULATOR_CREDENTIALS

SERVER = "https://platform.ringcentral.com"


def make_config(tmp_path: Path, *, server: str = SERVER, **sync: Any) -> Config:
    sync.setdefault("download_attachments", False)
    return Config(
        ringcentral=RingCentralConfig(
            server=server,
            **EMULATOR_CREDENTIALS,
            token_file=tmp_path / "tokens.json",
        ),
        database=DatabaseConfig(path=tmp_path / "messages.db", files=tmp_path / "files"),
        sync=replace(SyncConfig(), **sync),
    )


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


def _rows(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM message"))
        return {r["id"]: dict(r) for r in result.mappings()}


def _tombstones(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT message_id FROM tombstone"))}


def row_problems(record: dict[str, Any], row: dict[str, Any] | None) -> list[str]:
    mid = record["id"]
    if row is None:
        return [f"{mid}: missing"]
    want = message_row(record)
    out = [f"{mid}.{c}: {row[c]!r} != {want[c]!r}" for c in META_COLUMNS if row[c] != want[c]]
    for f, key in (("read_status", "readStatus"), ("availability", "availability")):
        if row[f"remote_{f}"] != record.get(key):
            out.append(f"{mid}.remote_{f}: {row[f'remote_{f}']!r} != {record.get(key)!r}")
        clean = row[f] == row[f"base_{f}"]
        if clean and row[f] != record.get(key):
            out.append(f"{mid}.{f} (clean): {row[f]!r} != {record.get(key)!r}")
    if json.loads(row["raw"]) != record:
        out.append(f"{mid}.raw differs")
    return out


def mirror_problems(
    engine: Engine, emu: Emulator, types: tuple[str, ...] | None = None
) -> list[str]:
    rows, tombstones = _rows(engine), _tombstones(engine)
    problems: list[str] = []
    for record in emu.store.all_records():
        mid = record["id"]
        if mid in tombstones or (types is not None and record["type"] not in types):
            if mid in rows and mid in tombstones:
                problems.append(f"{mid}: tombstoned but back")
            continue
        if record["availability"] == "Purged":
            row = rows.get(mid)
            if row is not None and row["remote_availability"] != "Purged":
                problems.append(f"{mid}: purged remotely, row says {row['remote_availability']}")
            continue
        problems += row_problems(record, rows.get(mid))
    return problems


def attachment_problems(engine: Engine, emu: Emulator, files: Path) -> list[str]:
    """Every downloaded file hashes to the server's bytes (where the server still has them)."""
    problems = []
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT message_id, id, path, sha256, size FROM attachment WHERE path IS NOT NULL"
            )
        ).all()
    for mid, aid, path, sha, size in rows:
        data = (files / path).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha or len(data) != size:
            problems.append(f"{mid}/{aid}: file does not match its recorded sha256/size")
        slot = emu.store.slot_of(mid)
        content = None if slot is None else emu.store.content(slot, aid)
        if content is not None and hashlib.sha256(content[1]).hexdigest() != sha:
            problems.append(f"{mid}/{aid}: differs from the server's bytes")
    return problems


def count_rows(engine: Engine, sql: str = "SELECT count(*) FROM message") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())
