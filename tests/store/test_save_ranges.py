"""save_records skips its two lookups only when the batch's ids lie outside everything stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.emulator import Emulator
from rcsync.store.messages import SaveCounts, save_records
from rcsync.types import ConflictPolicy

NOW = "2026-12-03T10:00:00.000Z"


@contextmanager
def _lookups(engine: Engine) -> Iterator[list[str]]:
    """The existing-row and tombstone SELECTs run meanwhile (by their FROM clause)."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        statement = str(args[2])
        if statement.startswith("SELECT") and "json_each" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _save(engine: Engine, records: list[dict[str, Any]]) -> SaveCounts:
    with engine.begin() as conn:
        return save_records(conn, records, policy=ConflictPolicy.NEWEST, now=NOW)


def _newest_first() -> list[dict[str, Any]]:
    records = Emulator(messages=300, seed=3, rate_limits=False).store.all_records()
    alive = [r for r in records if r.get("availability") == "Alive"]
    return sorted(alive, key=lambda r: -int(r["id"]))


def test_pages_below_everything_stored_skip_the_lookups(engine: Engine) -> None:
    records = _newest_first()
    with _lookups(engine) as seen:
        _save(engine, records[:100])
        counts = _save(engine, records[100:200])  # a first pull's next page: older ids
    assert seen == []
    assert counts.new == 100


def test_a_batch_overlapping_stored_ids_reads_them(engine: Engine) -> None:
    records = _newest_first()
    _save(engine, records[:100])
    with _lookups(engine) as seen:
        counts = _save(engine, records[50:150])
    assert len(seen) == 2
    assert (counts.new, counts.updated) == (50, 0)


def test_a_tombstone_in_the_batch_range_is_honoured(engine: Engine) -> None:
    records = _newest_first()
    _save(engine, records[:10])
    gone = int(records[5]["id"])
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM message WHERE id < :id"), {"id": gone + 1})
    # No row is left at or below `gone`; only its tombstone (and the others') say it was here.
    counts = _save(engine, records[5:])
    assert counts.tombstoned == 5
    deleted = [int(r["id"]) for r in records[5:10]]
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(sa.text("SELECT id FROM message"))}
    assert not stored & set(deleted)
    assert len(stored) == 5 + len(records) - 10
