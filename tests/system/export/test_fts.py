"""Migration 0005: the FTS index Datasette and sqlite-utils detect, names and numbers in it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from datasette.utils import detect_fts
from sqlalchemy.engine import Engine
from sqlite_utils import Database

from rcsync.store.database import alembic_config, create_db_engine, upgrade
from rcsync.store.search import search
from tests.harness.inprocess import Archive


def _fts_sql(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return str(
            con.execute("SELECT sql FROM sqlite_master WHERE name = 'message_fts'").fetchone()[0]
        )
    finally:
        con.close()


def test_sqlite_utils_and_datasette_detect_the_index(db_path: Path) -> None:
    assert Database(db_path)["message"].detect_fts() == "message_fts"
    con = sqlite3.connect(db_path)
    assert detect_fts(con, "message") == "message_fts"


def test_0004_index_was_not_detected(tmp_path: Path) -> None:
    # The reason for 0005: the single-quoted declaration is invisible to both tools.
    path = tmp_path / "old.db"
    engine = create_db_engine(path)
    upgrade(engine, "0004")
    engine.dispose()
    assert "content='message'" in _fts_sql(path)
    assert Database(path)["message"].detect_fts() is None


def test_names_and_numbers_are_searchable(archive: Archive, archive_engine: Engine) -> None:
    with archive_engine.connect() as conn:
        name, number, mid = conn.execute(
            sa.text(
                "SELECT from_name, from_phone_number, id FROM message"
                " WHERE direction = 'Inbound' AND from_name IS NOT NULL LIMIT 1"
            )
        ).one()
        by_name = search(conn, name.split()[-1], limit=1000)
        by_number = search(conn, number, limit=1000)
    assert mid in {h.id for h in by_name}
    assert mid in {h.id for h in by_number}
    assert all(
        h.from_phone_number == number or number in (h.to_phone_numbers or "") for h in by_number
    )


def test_upgrade_rebuilds_index_and_downgrade_restores_0004(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_db_engine(path)
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO message (id, type, creation_time, raw, subject, from_name)"
            " VALUES (1, 'SMS', '2024-01-01T00:00:00.000Z', '{}', 'lunch?', 'Zelda Quux')"
        )
    upgrade(engine)
    match = "SELECT rowid FROM message_fts WHERE message_fts MATCH ?"
    with engine.connect() as conn:
        assert conn.exec_driver_sql(match, ("zelda",)).fetchall() == [(1,)]
        # The triggers follow a renamed sender.
        conn.exec_driver_sql("UPDATE message SET from_name = 'Yuri' WHERE id = 1")
        assert conn.exec_driver_sql(match, ("zelda",)).fetchall() == []
        assert conn.exec_driver_sql(match, ("yuri",)).fetchall() == [(1,)]
        conn.commit()
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    engine.dispose()
    assert "content='message'" in _fts_sql(path)
    con = sqlite3.connect(path)
    assert con.execute(match, ("lunch",)).fetchall() == [(1,)]
    assert con.execute(
        "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'yuri'"
    ).fetchone() == (0,)
    con.close()
