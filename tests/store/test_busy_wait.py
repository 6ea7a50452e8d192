"""A wait for another program's write lock (SQLite's busy timeout) says what it waits for
and for how long at most, once; a short one says nothing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from rcsync.progress import WaitReason, wait_line
from rcsync.store.database import (
    BUSY_TIMEOUT_MS,
    QUIET_WAIT_MS,
    on_busy_wait,
    open_database,
)

Event = tuple[WaitReason, float | None, str]


@contextmanager
def user_transaction(db: Path, seconds: float) -> Iterator[None]:
    """The sqlite3 shell of a user holding ``BEGIN IMMEDIATE`` for `seconds`."""
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE sync_state SET value = value WHERE 0")
        held.set()
        threading.Event().wait(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        yield
    finally:
        thread.join()


def test_a_long_wait_for_a_users_write_transaction_is_announced_once(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    events: list[Event] = []
    engine = open_database(db, on_wait=lambda *e: events.append(e))
    with user_transaction(db, 2.0), engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
    seconds = (BUSY_TIMEOUT_MS - QUIET_WAIT_MS) / 1000
    detail = f"{db}: written by another program (an open write transaction)"
    assert events == [(WaitReason.BUSY, seconds, detail)]
    assert wait_line(*events[0]).endswith("transaction): waiting up to 29 s")
    # The busy timeout is back to the whole 30 s for the next statements.
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
    engine.dispose()


def test_no_lock_no_word(tmp_path: Path) -> None:
    events: list[Event] = []
    engine = open_database(tmp_path / "m.db", on_wait=lambda *e: events.append(e))
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert events == []
    engine.dispose()


def test_the_listener_can_be_changed_after_the_engine_is_made(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    engine = open_database(db)
    events: list[Event] = []
    on_busy_wait(engine, lambda *e: events.append(e))  # what `watch` does: its log
    with user_transaction(db, 1.5), engine.begin():
        pass
    assert [e[0] for e in events] == [WaitReason.BUSY]
    engine.dispose()
