"""save_records indexes the rows it inserts in one statement (migration 0006), exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.emulator import Emulator
from rcsync.store.messages import FTS_BATCH, save_records
from rcsync.types import ConflictPolicy

NOW = "2026-12-03T10:00:00.000Z"


def _save(engine: Engine, records: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        save_records(conn, records, policy=ConflictPolicy.NEWEST, now=NOW)


def _integrity(path: Path) -> None:
    # rank 1: compare the index with the content table too (a row indexed twice, or not at
    # all, fails it).
    con = sqlite3.connect(path)
    con.execute("INSERT INTO message_fts (message_fts, rank) VALUES ('integrity-check', 1)")
    con.close()


def _matches(engine: Engine, word: str) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT rowid FROM message_fts WHERE message_fts MATCH :w"), {"w": word}
        )
        return {r[0] for r in rows}


def test_pulled_rows_are_indexed_once_and_the_flag_never_stays(
    engine: Engine, db_path: Path
) -> None:
    records = list(Emulator(messages=300, seed=3, rate_limits=False).store.all_records())
    _save(engine, records[:200])
    _save(engine, records[100:])  # half updates (already indexed), half inserts
    _integrity(db_path)
    sms = next(r for r in records if r["type"] == "SMS" and r.get("subject"))
    word = str(sms["subject"]).split()[0].strip(".,!?")
    assert int(str(sms["id"])) in _matches(engine, f'"{word}"')
    with engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM sync_state WHERE key = :k"), {"k": FTS_BATCH}
        ).scalar_one()
        assert left == 0
        indexed = conn.execute(sa.text("SELECT count(*) FROM message_fts_docsize")).scalar_one()
        stored = conn.execute(sa.text("SELECT count(*) FROM message")).scalar_one()
        assert indexed == stored > 250  # a message first seen Purged gets no row


def test_other_inserts_are_still_indexed_by_the_trigger(engine: Engine, db_path: Path) -> None:
    _save(engine, list(Emulator(messages=20, seed=3, rate_limits=False).store.all_records()))
    con = sqlite3.connect(db_path)
    con.execute(
        "INSERT INTO message (id, type, creation_time, raw, subject)"
        " VALUES (1, 'SMS', '2024-01-01T00:00:00.000Z', '{}', 'zanzibar quokka')"
    )
    con.commit()
    con.close()
    assert _matches(engine, "quokka") == {1}
    _integrity(db_path)


def test_a_failed_batch_leaves_neither_rows_nor_index_nor_flag(
    engine: Engine, db_path: Path
) -> None:
    records = list(Emulator(messages=20, seed=3, rate_limits=False).store.all_records())
    try:
        with engine.begin() as conn:
            save_records(conn, records, policy=ConflictPolicy.NEWEST, now=NOW)
            raise RuntimeError("crash after the batch, before commit")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        for table in ("message", "message_fts_docsize", "sync_state"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    _integrity(db_path)
