"""The pull's read-then-write is one transaction, and its writes guard on what they read.

Issue 10 case 6: pysqlite sent BEGIN only at the first write, so a user's SQL committed
between the pull's SELECT and its upsert brought a deleted row back (Alive for good), or
turned a pending purge into a trash. Both tests below fail on the main of before the fix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import rcsync.store.messages as save_module
from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.sync.pull import pull
from tests.harness.database import count_rows
from tests.harness.inprocess import make_client
from tests.harness.mirror import mirror_problems

UserSql = Callable[[Connection], None]


def _after_the_read(monkeypatch: pytest.MonkeyPatch, act: Callable[[Connection], None]) -> None:
    """Run `act` once, right after `save_records` read the rows it is about to write."""
    real, done = save_module.fetch_existing, []

    def hooked(conn: Connection, ids: Any) -> Any:
        out = real(conn, ids)
        if not done:
            done.append(1)
            act(conn)
        return out

    monkeypatch.setattr(save_module, "fetch_existing", hooked)


def _other_connection(db: Engine, sql: str, blocked: list[str]) -> Callable[[Connection], None]:
    """The user's sqlite3 shell committing `sql` (it gives up after 0.2 s if locked)."""

    def act(_conn: Connection) -> None:
        con = sqlite3.connect(str(db.url.database), timeout=0.2, isolation_level=None)
        try:
            con.execute(sql)
        except sqlite3.OperationalError as exc:
            blocked.append(str(exc))
        finally:
            con.close()

    return act


def _same_connection(sql: str) -> Callable[[Connection], None]:
    """A stale read: the row changes after the read, on the engine's own connection (the
    only one that can write while the transaction holds the lock): the guards alone act."""
    return lambda conn: conn.exec_driver_sql(sql) and None


def _one(db: Engine, sql: str) -> Any:
    with db.connect() as conn:
        return conn.execute(sa.text(sql)).one()


def _first_pull(emu: Emulator, config: Config, db: Engine) -> tuple[Any, int]:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    alive = next(r for r in emu.store.all_records() if r["availability"] == "Alive")
    return client, alive["id"]


@pytest.mark.parametrize("where", ["other connection", "stale read"])
def test_a_row_deleted_during_the_pull_never_comes_back(
    emu: Emulator, config: Config, db: Engine, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    client, mid = _first_pull(emu, config, db)
    emu.store.remote_edit(mid, read_status="Read")
    emu.store.remote_edit(mid, read_status="Unread")  # in the next ISync whatever it was
    sql, blocked = f"DELETE FROM message WHERE id = {mid}", []
    act = _other_connection(db, sql, blocked) if where == "other connection" else None
    _after_the_read(monkeypatch, act or _same_connection(sql))
    pull(db, client, config)
    # BEGIN IMMEDIATE: the pull held the write lock from its read on; the user retries.
    assert bool(blocked) == (where == "other connection")
    if blocked:
        _other_connection(db, sql, [])(None)  # type: ignore[arg-type]
    assert count_rows(db, f"SELECT count(*) FROM message WHERE id = {mid}") == 0
    assert count_rows(db, f"SELECT count(*) FROM tombstone WHERE message_id = {mid}") == 1
    monkeypatch.undo()
    emu.store.remote_edit(mid, read_status="Read")
    pull(db, client, config)
    assert count_rows(db, f"SELECT count(*) FROM message WHERE id = {mid}") == 0
    assert mirror_problems(db, emu) == []


@pytest.mark.parametrize("where", ["other connection", "stale read"])
def test_a_pending_purge_made_during_the_pull_never_becomes_a_trash(
    emu: Emulator, config: Config, db: Engine, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    client, mid = _first_pull(emu, config, db)
    with db.begin() as conn:  # a pending trash...
        conn.exec_driver_sql(f"UPDATE message SET availability = 'Deleted' WHERE id = {mid}")
    emu.store.remote_edit(mid, availability="Deleted")  # ...that another device made too
    # ...and while the pull merges it, the user turns it into a purge.
    sql, blocked = f"UPDATE message SET availability = 'Purged' WHERE id = {mid}", []
    act = _other_connection(db, sql, blocked) if where == "other connection" else None
    _after_the_read(monkeypatch, act or _same_connection(sql))
    pull(db, client, config)
    assert bool(blocked) == (where == "other connection")
    if blocked:
        _other_connection(db, sql, [])(None)  # type: ignore[arg-type]
    local, base = _one(db, f"SELECT availability, base_availability FROM message WHERE id = {mid}")
    assert local == "Purged" and base != "Purged"  # still a pending purge
    assert count_rows(db, f"SELECT count(*) FROM pending_change WHERE message_id = {mid}") == 1
    assert count_rows(db, "SELECT count(*) FROM conflict") == 0
