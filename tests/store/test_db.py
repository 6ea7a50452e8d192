from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from rcsync.errors import DatabaseError, SchemaTooNewError
from rcsync.store.database import (
    alembic_config,
    create_db_engine,
    current_revision,
    head_revision,
    open_database,
    upgrade,
)
from rcsync.store.schema import FTS_SHADOW_PREFIX, SQLModel


def test_exactly_one_migration_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_upgrade_creates_interface_tables(db_path: Path) -> None:
    con = sqlite3.connect(db_path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert {"message", "attachment", "conflict", "pending_change", "message_fts"} <= names
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _ignore_fts(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(FTS_SHADOW_PREFIX))


def test_migrations_and_models_agree(db_path: Path) -> None:
    engine = create_db_engine(db_path)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": _ignore_fts, "compare_type": True}
        )
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []


def test_pragmas_on_every_connection(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_newer_schema_is_refused(db_path: Path) -> None:
    con = sqlite3.connect(db_path)
    con.execute("UPDATE alembic_version SET version_num = 'fffffffff'")
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNewError, match="newer rcsync"):
        open_database(db_path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="is a directory"):
        open_database(tmp_path)


def test_non_sqlite_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "notes.db"
    p.write_text("hello, this is not a database\n" * 10)
    with pytest.raises(DatabaseError, match="not an SQLite database"):
        open_database(p)
    assert p.read_text().startswith("hello")  # untouched


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_is_refused(db_path: Path) -> None:
    db_path.chmod(0o444)
    with pytest.raises(DatabaseError, match="read-only"):
        open_database(db_path)


def test_read_only_check_uses_access(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == db_path else real(p, m))
    with pytest.raises(DatabaseError, match="read-only"):
        open_database(db_path)


def test_upgrade_is_idempotent(db_path: Path) -> None:
    open_database(db_path).dispose()
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()


def test_downgrade_to_base_and_back(db_path: Path) -> None:
    engine = create_db_engine(db_path)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    with engine.connect() as conn:
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert "message" not in names and "pending_change" not in names
    upgrade(engine)
    test_migrations_and_models_agree(db_path)


def test_old_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_db_engine(path)
    upgrade(engine, "0001")
    with engine.connect() as conn:
        assert current_revision(conn) == "0001"
    engine.dispose()
    open_database(path).dispose()
    con = sqlite3.connect(path)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    assert (
        "CROSS JOIN"
        in con.execute("SELECT sql FROM sqlite_master WHERE name = 'pending_change'").fetchone()[0]
    )


def test_0004_backfills_sms_text_from_subject(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_db_engine(path)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        for mid, mtype in ((1, "SMS"), (2, "Fax")):
            conn.exec_driver_sql(
                "INSERT INTO message (id, type, creation_time, raw, subject)"
                f" VALUES ({mid}, '{mtype}', '2024-01-01T00:00:00.000Z', '{{}}', 'hi there')"
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, text FROM message ORDER BY id").fetchall()
        hits = conn.exec_driver_sql(
            "SELECT rowid FROM message_fts WHERE message_fts MATCH 'there'"
        ).fetchall()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "hi there"), (2, None)]
    assert [r[0] for r in hits] == [1, 2]  # both by subject; the SMS text is indexed too


def test_engine_transactions_begin_immediate(engine: sa.Engine) -> None:
    # Issue 10 case 6: pysqlite used to send BEGIN only at the first write, so a
    # transaction's reads ran outside it and another connection could commit in between.
    other = sqlite3.connect(str(engine.url.database), timeout=0.1, isolation_level=None)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM message").scalar()
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO sync_state (key, value) VALUES ('probe', 'x')")
        other.execute("INSERT INTO sync_state (key, value) VALUES ('probe', 'x')")  # free now
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT value FROM sync_state WHERE key = 'probe'").scalar()
    finally:
        other.close()
