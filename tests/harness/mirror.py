"""What "the mirror equals the server" means, as checks that list the differences.

`mirror_problems` (in-process emulator, every mapped column):

* every Alive or Deleted server message is a row (unless the user deleted it locally: a
  tombstone) with the same mapped columns, the same remote values, the whole record in
  ``raw``, and, where the user has no pending edit, local = base = remote;
* a Purged server message is either absent (we never saw it alive) or a row marked Purged;
* rows the server no longer has stay (nothing is inferred from absence).

`assert_mirror_matches_remote` (a served emulator, read through its control API, and the
database file as another program sees it): the same for state, with nothing pending.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.emulator import Emulator
from rcsync.rules.records import META_COLUMNS, message_row
from tests.harness.database import query

if TYPE_CHECKING:
    from tests.harness.loopback import Served


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


def _rows(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM message"))
        return {r["id"]: dict(r) for r in result.mappings()}


def mirror_problems(
    engine: Engine, emu: Emulator, types: tuple[str, ...] | None = None
) -> list[str]:
    rows = _rows(engine)
    tombstones = {r[0] for r in query(engine, "SELECT message_id FROM tombstone")}
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
    rows = query(
        engine, "SELECT message_id, id, path, sha256, size FROM attachment WHERE path IS NOT NULL"
    )
    for mid, aid, path, sha, size in rows:
        data = (files / path).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha or len(data) != size:
            problems.append(f"{mid}/{aid}: file does not match its recorded sha256/size")
        slot = emu.store.slot_of(mid)
        content = None if slot is None else emu.store.content(slot, aid)
        if content is not None and hashlib.sha256(content[1]).hexdigest() != sha:
            problems.append(f"{mid}/{aid}: differs from the server's bytes")
    return problems


MIRROR_QUERY = (
    "SELECT id, type, read_status, availability, base_read_status,"
    " base_availability, creation_time, subject FROM message ORDER BY id"
)


def mirror(env: Served, *, db: Path | None = None) -> dict[int, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in env.rows(MIRROR_QUERY, db=db)}


def assert_mirror_matches_remote(env: Served, *, db: Path | None = None) -> None:
    """Every remote message the mirror can know of is there, with the remote's state, and
    nothing is pending; purged messages only need their availability right."""
    local = mirror(env, db=db)
    tombstoned = {r[0] for r in env.rows("SELECT message_id FROM tombstone", db=db)}
    pending = env.rows("SELECT * FROM pending_change", db=db)
    assert pending == [], pending[:5]
    problems = []
    for mid, record in env.remote().items():
        if mid in tombstoned:
            continue
        got = local.get(mid)
        if record["availability"] == "Purged":
            if got is not None and got[2] != "Purged":
                problems.append((mid, got, "Purged"))
            continue
        want = (record["readStatus"], record["availability"])
        if got is None or (got[1], got[2]) != want or (got[3], got[4]) != want:
            problems.append((mid, got, want))
    assert not problems, f"{len(problems)} differences, e.g. {problems[:5]}"


def integrity_ok(env: Served, *, db: Path | None = None) -> None:
    # Not foreign_key_check: the sqlite3 shell runs with foreign_keys off, so a user's
    # DELETE FROM message leaves its attachment rows behind (the engine ignores them).
    assert env.sql("PRAGMA integrity_check;", db=db).strip() == "ok"
