"""The status tallies (migration 0008) stay equal to the rows whoever writes them.

After every step (pulled batches, a user's SQL in their own sqlite3 connection, deletes,
a restore, attachment downloads and skips, a remote edit pulled) the kept tallies must be
what grouping the rows gives; and `status` must say the same with or without them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store import edits, tally
from rcsync.store.messages import save_records
from rcsync.store.retention import retention_report
from rcsync.store.status import _rows, collect_status
from rcsync.types import ConflictPolicy

NOW = "2026-12-04T10:00:00.000Z"


def _save(engine: Engine, records: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        save_records(conn, records, policy=ConflictPolicy.NEWEST, now=NOW)


def _kept(con: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    messages = con.execute("SELECT key, n FROM message_tally WHERE n <> 0 ORDER BY key")
    attachments = con.execute(
        "SELECT state, n, bytes FROM attachment_tally WHERE n <> 0 ORDER BY state"
    )
    return messages.fetchall(), attachments.fetchall()


def _grouped(con: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    messages = con.execute(
        f"SELECT {tally.message_key()}, count(*) FROM message GROUP BY 1 ORDER BY 1"
    )
    attachments = con.execute(
        f"SELECT {tally.attachment_state()}, count(*), coalesce(sum(size), 0) FROM attachment"
        " GROUP BY 1 ORDER BY 1"
    )
    return messages.fetchall(), attachments.fetchall()


def _check(path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        assert _kept(con) == _grouped(con)
    finally:
        con.close()


def _user_sql(path: Path, *statements: str) -> None:
    con = sqlite3.connect(path, isolation_level=None)  # the sqlite3 shell: foreign keys off
    for sql in statements:
        con.execute(sql)
    con.close()


def test_tallies_follow_every_writer(engine: Engine, db_path: Path) -> None:
    emu = Emulator(messages=300, seed=5, rate_limits=False)
    records = list(emu.store.all_records())
    _save(engine, records[:200])  # the engine's batches: the insert trigger stands aside
    _save(engine, records[100:])  # half updates, half inserts
    _check(db_path)
    assert sum(n for _, n in _kept(sqlite3.connect(db_path))[0]) > 250
    _user_sql(
        db_path,
        "UPDATE message SET read_status = 'Read' WHERE id IN (SELECT id FROM message LIMIT 30)",
        "UPDATE message SET availability = 'Deleted' WHERE type = 'Fax'",
        "UPDATE message SET extension_id = NULL WHERE id IN (SELECT id FROM message LIMIT 3)",
        "UPDATE message SET direction = '' WHERE id IN (SELECT id FROM message LIMIT 2)",
        "UPDATE attachment SET path = 'x', size = 1234 WHERE rowid % 3 = 0",
        "UPDATE attachment SET skipped = 'error: 503' WHERE rowid % 3 = 1",
    )
    _check(db_path)
    deleted = [r[0] for r in sqlite3.connect(db_path).execute("SELECT id FROM message LIMIT 25")]
    _user_sql(db_path, f"DELETE FROM message WHERE id IN ({', '.join(map(str, deleted))})")
    _check(db_path)
    with engine.begin() as conn:
        edits.revert(conn, deleted[:10])  # restores 10 rows and their attachments
    _check(db_path)
    emu.store.remote_edit(records[-1]["id"], read_status="Read")
    _save(engine, [emu.store.get(records[-1]["id"])])
    _check(db_path)


def test_status_is_the_same_without_the_tallies(engine: Engine, db_path: Path) -> None:
    """A database `status` reads before migrating has no tally: it groups the rows itself."""
    import datetime as dt

    _save(engine, list(Emulator(messages=200, seed=6, rate_limits=False).store.all_records()))
    _user_sql(db_path, "UPDATE attachment SET path = 'x' WHERE rowid % 2 = 0")
    config = Config()
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)

    def report() -> dict[str, Any]:
        con = sqlite3.connect(db_path)
        try:
            assert tally.has_tally(_rows, con) is kept
            return collect_status(con, config) | {"retention": retention_report(con, now)}
        finally:
            con.close()

    kept = True
    with_tallies = report()
    _user_sql(
        db_path,
        "DROP TABLE message_tally",
        "DROP TABLE attachment_tally",
        "DROP INDEX ix_message_unheard",
    )
    kept = False
    assert report() == with_tallies
    assert with_tallies["messages"]["total"] > 150
    assert with_tallies["attachments"]["downloaded"] > 0
