"""The watchdog glue and the cheap pending check, on a real folder and a migrated database."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from rcsync.errors import StepIncomplete
from rcsync.sync.pull import PullSummary
from rcsync.sync.push import PushSummary
from rcsync.watch.files import is_database_write, watched_names, watching
from rcsync.watch.runner import pull_outcome, push_outcome, read_pending

DB = Path("/data/messages.db")
NAMES = watched_names(DB)


@pytest.mark.parametrize(
    ("event", "wakes"),
    [
        (FileModifiedEvent("/data/messages.db"), True),
        (FileModifiedEvent("/data/messages.db-wal"), True),
        (FileCreatedEvent("/data/messages.db-journal"), True),
        (FileMovedEvent("/data/tmp123", "/data/messages.db"), True),
        (FileModifiedEvent("/data/messages.db-shm"), False),
        (FileModifiedEvent("/data/messages.db.lock"), False),
        (FileModifiedEvent("/data/files/123/1.pdf"), False),
        (FileModifiedEvent("/data/other.db"), False),
        (FileOpenedEvent("/data/messages.db"), False),
        (FileClosedEvent("/data/messages.db"), False),
    ],
)
def test_only_writes_to_the_database_or_its_wal_wake(event: object, wakes: bool) -> None:
    assert is_database_write(event, NAMES) is wakes  # type: ignore[arg-type]


def test_observer_wakes_on_a_commit_by_another_connection(db_path: Path) -> None:
    woke = threading.Event()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    with watching(db_path, woke.set):
        time.sleep(0.2)
        (db_path.parent / "unrelated.txt").write_text("x")
        (db_path.parent / (db_path.name + ".lock")).write_text("x")
        assert not woke.wait(0.5)
        conn.execute("INSERT INTO sync_state (key, value) VALUES ('x', 'y')")
        conn.commit()
        assert woke.wait(5)
    conn.close()


def _insert_message(conn: sa.Connection, mid: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO message (id, type, creation_time, raw, read_status, base_read_status,"
            " remote_read_status, availability, base_availability, remote_availability)"
            " VALUES (:id, 'SMS', '2024-01-01T00:00:00.000Z', '{}', 'Unread', 'Unread', 'Unread',"
            " 'Alive', 'Alive', 'Alive')"
        ),
        {"id": mid},
    )


def test_pending_counts_user_edits_not_engine_writes(engine: Engine) -> None:
    with engine.begin() as conn:
        for mid in (1, 2, 3):
            _insert_message(conn, mid)
        # The engine writes value and base together: not an edit.
        conn.execute(
            sa.text(
                "UPDATE message SET read_status = 'Read', base_read_status = 'Read' WHERE id = 1"
            )
        )
    assert read_pending(engine).count == 0
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE message SET read_status = 'Read' WHERE id = 2"))
    first = read_pending(engine)
    assert first.count == 1 and first.newest is not None
    time.sleep(0.01)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM message WHERE id = 3"))
    second = read_pending(engine)
    assert second.count == 2 and second.newer_than(first.newest)
    assert not second.newer_than(second.newest)


def test_outcomes_read_as_one_line_per_action() -> None:
    pulled = pull_outcome(PullSummary(new=3, updated=2, conflicts=1))
    assert pulled.count == 5 and pulled.summary.startswith("pulled 5")
    assert pulled.notes and pulled.notes[0].startswith("conflict")
    pushed = push_outcome(PushSummary(pushed=4))
    assert (pushed.count, pushed.summary) == (4, "pushed 4")
    with pytest.raises(StepIncomplete, match="pushed 1, 2 failed: HTTP 503"):
        push_outcome(PushSummary(pushed=1, failed=2, errors=["HTTP 503"]))
    stopped = push_outcome(PushSummary(pushed=50, stopped=True, left=70))
    assert (stopped.count, stopped.summary) == (
        50,
        "pushed 50; stopped early; 70 edits left pending",
    )
