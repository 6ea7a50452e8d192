"""The triggers that turn any client's edits into pending changes, and ignore engine writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


def insert(con: sqlite3.Connection, mid: int, read: str = "Unread", avail: str = "Alive") -> None:
    # An engine write: local, base and remote together.
    con.execute(
        "INSERT INTO message (id, type, creation_time, raw, read_status, base_read_status,"
        " remote_read_status, availability, base_availability, remote_availability, subject)"
        " VALUES (?, 'SMS', '2024-01-01T00:00:00.000Z', '{}', ?, ?, ?, ?, ?, ?, 'hello there')",
        (mid, read, read, read, avail, avail, avail),
    )
    con.commit()


def pending(con: sqlite3.Connection) -> list[tuple[int, str, str, str]]:
    return list(
        con.execute(
            "SELECT message_id, field, old_value, new_value FROM pending_change ORDER BY 1, 2"
        )
    )


@pytest.fixture
def con(db_path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(db_path)
    insert(c, 1)
    insert(c, 2, avail="Deleted")
    insert(c, 3, avail="Purged")
    return c


def test_engine_writes_are_not_edits(con: sqlite3.Connection) -> None:
    con.execute("UPDATE message SET read_status='Read', base_read_status='Read' WHERE id=1")
    assert pending(con) == []


def test_user_update_becomes_pending_and_reverting_clears_it(con: sqlite3.Connection) -> None:
    con.execute("UPDATE message SET read_status='Read' WHERE id=1")
    assert pending(con) == [(1, "read_status", "Unread", "Read")]
    con.execute("UPDATE message SET read_status='Unread' WHERE id=1")
    assert pending(con) == []


def test_confirmed_push_moves_base_and_clears_edit(con: sqlite3.Connection) -> None:
    con.execute("UPDATE message SET availability='Deleted' WHERE id=1")
    assert con.execute("SELECT count(*) FROM local_edit").fetchone()[0] == 1
    con.execute("UPDATE message SET base_availability='Deleted' WHERE id=1")
    assert con.execute("SELECT count(*) FROM local_edit").fetchone()[0] == 0
    assert pending(con) == []


def test_row_delete_leaves_tombstone_with_row(con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM message WHERE id=2")
    assert pending(con) == [(2, "row", "Deleted", "row deleted")]
    row_json = con.execute("SELECT row_json FROM tombstone WHERE message_id=2").fetchone()[0]
    assert '"subject":"hello there"' in row_json


@pytest.mark.parametrize(
    "sql, message",
    [
        ("UPDATE message SET read_status='read' WHERE id=1", "read_status must be"),
        ("UPDATE message SET availability='Gone' WHERE id=1", "availability must be"),
        ("UPDATE message SET availability='Alive' WHERE id=3", "purged message cannot be"),
    ],
)
def test_unpushable_edits_are_rejected(con: sqlite3.Connection, sql: str, message: str) -> None:
    with pytest.raises(sqlite3.IntegrityError, match=message):
        con.execute(sql)
    assert pending(con) == []


def test_unknown_remote_values_are_stored_as_is(con: sqlite3.Connection) -> None:
    # An engine write (value = base) with an enum value RingCentral may add one day.
    con.execute("UPDATE message SET read_status='Skimmed', base_read_status='Skimmed' WHERE id=1")
    assert pending(con) == []


def test_fts_follows_inserts_updates_and_deletes(con: sqlite3.Connection) -> None:
    def hits(q: str) -> list[int]:
        return [
            r[0]
            for r in con.execute(
                "SELECT rowid FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid", (q,)
            )
        ]

    assert hits("hello") == [1, 2, 3]
    con.execute("UPDATE message SET text='dentist appointment' WHERE id=2")
    assert hits("dentist") == [2]
    con.execute("DELETE FROM message WHERE id=2")
    assert hits("dentist") == [] and hits("hello") == [1, 3]


def test_engine_write_does_not_restamp_a_pending_edit(con: sqlite3.Connection) -> None:
    con.execute("UPDATE message SET read_status='Read' WHERE id=1")
    con.execute("UPDATE local_edit SET edited_at='2000-01-01T00:00:00.000Z' WHERE message_id=1")
    # A pull changes the other field (value and base together): not a user change.
    con.execute("UPDATE message SET availability='Deleted', base_availability='Deleted' WHERE id=1")
    assert con.execute("SELECT edited_at FROM local_edit WHERE message_id=1").fetchone() == (
        "2000-01-01T00:00:00.000Z",
    )


def test_base_moving_away_from_local_makes_an_edit(con: sqlite3.Connection) -> None:
    # The push confirmed Deleted (base moves) while the user had already undone it.
    con.execute("UPDATE message SET base_availability='Deleted' WHERE id=1")
    assert pending(con) == [(1, "availability", "Deleted", "Alive")]


def test_finding_pending_edits_does_not_scan_the_archive(con: sqlite3.Connection) -> None:
    plan = " | ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN SELECT * FROM pending_change"))
    assert "SCAN m" not in plan and "SCAN message" not in plan
    assert "USING INDEX ix_tombstone_pending" in plan or "ix_tombstone_pending" in plan


def test_row_delete_with_foreign_keys_off_leaves_no_orphans(con: sqlite3.Connection) -> None:
    con.execute(
        "INSERT INTO attachment (message_id, id, type, path, sha256)"
        " VALUES (2, 77, 'AudioRecording', '2024/x.wav', 'abc')"
    )
    con.commit()
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 0  # the shell's default
    con.execute("DELETE FROM message WHERE id = 2")
    assert con.execute("SELECT count(*) FROM attachment").fetchone()[0] == 0
    kept = con.execute("SELECT attachments_json FROM tombstone WHERE message_id = 2").fetchone()
    assert '"path":"2024/x.wav"' in kept[0] and '"sha256":"abc"' in kept[0]


def test_revert_of_a_row_delete_brings_back_row_and_attachments(db_path: Path) -> None:
    from rcsync.store.database import open_database
    from rcsync.store.edits import revert

    c = sqlite3.connect(db_path)
    insert(c, 5)
    c.execute("INSERT INTO attachment (message_id, id, type, path) VALUES (5, 9, 'Text', 'a')")
    c.execute("DELETE FROM message WHERE id = 5")
    c.commit()
    engine = open_database(db_path)
    with engine.begin() as conn:
        assert revert(conn, [5]) == 1
    engine.dispose()
    assert c.execute("SELECT subject FROM message WHERE id = 5").fetchone() == ("hello there",)
    assert c.execute("SELECT id, path FROM attachment WHERE message_id = 5").fetchall() == [
        (9, "a")
    ]
    assert pending(c) == []
