"""The extension table, per-extension cursors and the upgrade of a single-extension database
(migration 0007, `rcsync.store.extensions`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

from rcsync.rules.extensions import ExtensionInfo, LoginCache
from rcsync.store import extensions as ext
from rcsync.store.database import create_db_engine, open_database, upgrade
from rcsync.store.state import SYNC_TOKEN, get_state, set_state

NOW = "2026-12-03T10:00:00.000Z"


def _info(eid: str, number: str) -> ExtensionInfo:
    return ExtensionInfo(eid, number, f"User {number}", "User", "Enabled")


def test_0007_backfills_extension_id_from_the_stored_record(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_db_engine(path)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        for mid, raw in ((1, json.dumps({"id": 1, "extensionId": 409563008})), (2, "{}")):
            conn.execute(
                sa.text(
                    "INSERT INTO message (id, type, creation_time, raw)"
                    " VALUES (:id, 'SMS', '2024-01-01T00:00:00.000Z', :raw)"
                ),
                {"id": mid, "raw": raw},
            )
        set_state(conn, SYNC_TOKEN, "old-token")
    upgrade(engine)
    with engine.begin() as conn:
        before = dict(conn.execute(sa.text("SELECT id, extension_id FROM message")).all())
        # The next pull learns the login's id: the rest, and the old cursor, are its.
        assert ext.adopt_home(conn, "409563008") == "409563008"
        after = dict(conn.execute(sa.text("SELECT id, extension_id FROM message")).all())
        keys = ext.keys_for(conn, "409563008")
        assert get_state(conn, keys.sync_token) == "old-token"
        assert ext.keys_for(conn, "409564008").sync_token == "sync_token@409564008"
        # A second adoption (another login later) does not take the home away.
        assert ext.adopt_home(conn, "409564008") == "409563008"
    engine.dispose()
    assert before == {1: "409563008", 2: None}
    assert after == {1: "409563008", 2: "409563008"}


def test_seen_gone_and_back(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "m.db")
    with engine.begin() as conn:
        ext.record_seen(conn, [_info("1001", "101"), _info("2001", "102")], NOW)
        gone = ext.mark_gone(conn, ["1001"], "2026-12-04T00:00:00.000Z")
        assert [g.id for g in gone] == ["2001"]
        assert ext.mark_gone(conn, ["1001"], NOW) == []  # already marked: not "newly"
        rows = {r.id: r for r in ext.load_extensions(conn)}
        assert rows["2001"].remote_gone and rows["2001"].gone_since
        assert not rows["1001"].remote_gone and rows["1001"].first_seen == NOW
        ext.record_seen(conn, [_info("2001", "102")], NOW)  # listed again (re-enabled)
        assert not {r.id: r for r in ext.load_extensions(conn)}["2001"].remote_gone
    engine.dispose()


def test_extensions_of_reads_rows_and_tombstones(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "m.db")
    with engine.begin() as conn:
        for mid, eid in ((1, "1001"), (2, "2001")):
            conn.execute(
                sa.text(
                    "INSERT INTO message (id, extension_id, type, creation_time, raw)"
                    " VALUES (:id, :e, 'SMS', '2024-01-01T00:00:00.000Z', '{}')"
                ),
                {"id": mid, "e": eid},
            )
        conn.execute(sa.text("DELETE FROM message WHERE id = 2"))  # a tombstone keeps the row
        assert ext.extensions_of(conn, [1, 2, 3]) == {1: "1001", 2: "2001"}
        assert ext.message_counts(conn) == {"1001": 1}
    engine.dispose()


def test_login_cache_round_trip_forget_and_damage(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "m.db")
    admin = ExtensionInfo("1001", "101", "Admin", "User", "Enabled", admin=True)
    cache = LoginCache(admin, dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC), True, True)
    with engine.begin() as conn:
        assert ext.read_login_cache(conn) is None
        ext.save_login_cache(conn, cache)
        assert ext.read_login_cache(conn) == cache
        ext.forget_login_cache(conn)
        assert ext.read_login_cache(conn) is None
        set_state(conn, ext.LOGIN_CACHE, "{not json")  # damaged: read anew, no traceback
        assert ext.read_login_cache(conn) is None
        ext.record_seen(conn, [_info("1001", "101"), _info("2001", "102")], NOW)
        ext.mark_gone_one(conn, "2001", NOW)
        assert [e.id for e in ext.live_extensions(conn)] == ["1001"]
    engine.dispose()
