"""The mirror database from the outside: opened and disposed, queried, seeded with plain
SQL (independent of the pull engine), and edited with the real `sqlite3` shell in another
process, as a user would."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.store.database import open_database

SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"


@contextmanager
def opened(path: Path) -> Iterator[Engine]:
    """The migrated database at `path`, disposed on the way out."""
    engine = open_database(path)
    try:
        yield engine
    finally:
        engine.dispose()


def query(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def execute(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def count_rows(engine: Engine, sql: str = "SELECT count(*) FROM message") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def file_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read by another connection than the engine's (the way a second program sees
    the file, waiting out rcsync's short write locks)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def shell(db: Path, script: str, *, timeout: float = 120) -> str:
    """Run SQL with the real sqlite3 shell, in another process; its output."""
    # A busy timeout, as SQLite browsers set: rcsync holds the write lock for a moment
    # per page or batch, and the shell's default is to fail at once.
    done = subprocess.run(
        [SQLITE3, "-bail", "-cmd", ".timeout 30000", str(db), script],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise AssertionError(f"sqlite3 failed: {done.stderr}")
    return done.stdout


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


# A plan step over the archive's two large tables (by name or the aliases rcsync uses).
_ARCHIVE_STEP = re.compile(r"^(SCAN|SEARCH) (message|attachment|m|a)\b")
# Indexes that hold only a few rows whatever the archive's size: scanning one is bounded.
_BOUNDED = ("ix_attachment_todo", "ix_message_unheard", "ix_tombstone_pending")
# Walks every message of a type: the archive's size, not an index lookup's.
_BY_TYPE = "ix_message_type_availability"


def unbounded_reads(
    con: sqlite3.Connection, statements: Sequence[tuple[str, Sequence[Any]]]
) -> list[str]:
    """The plan steps of `statements` (SQL, parameters) that read the message or attachment
    table whole, or through the type index: ``statement -> step``; empty if none does."""
    found = []
    for sql, params in statements:
        for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", tuple(params)):
            step = str(row[3])
            if not _ARCHIVE_STEP.match(step):
                continue
            scan = step.startswith("SCAN") and not any(ix in step for ix in _BOUNDED)
            if scan or _BY_TYPE in step:
                found.append(f"{' '.join(sql.split())[:120]} -> {step}")
    return found
