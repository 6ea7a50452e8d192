"""The status tallies (migration 0008) stay equal to the rows whoever writes them.

After every step (pulled batches, a user's SQL in their own sqlite3 connection, deletes,
a restore, attachment downloads and skips, a remote edit pulled) the kept tallies must be
what grouping the rows gives; and `status` must say the same with or without them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.rules.retention import Cutoffs
from rcsync.store import edits, tally
from rcsync.store.messages import save_records
from rcsync.store.retention import extension_counts, retention_report
from rcsync.store.status import _rows, collect_status
from rcsync.types import ConflictPolicy
from tests.harness.database import unbounded_reads

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


def _capped_rows(con: sqlite3.Connection, live_since: str | None) -> dict[str, tuple[int, ...]]:
    """(unheard voicemail, unread faxes, of them with a file to fetch) per extension, by
    grouping the rows (what the counts read from the tally and the indexes must equal)."""
    live = "" if live_since is None else " AND creation_time >= ?"
    rows = con.execute(
        "SELECT coalesce(extension_id, ''), sum(type = 'VoiceMail'), sum(type = 'Fax'),"
        " sum(EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id"
        " AND a.path IS NULL AND (a.skipped IS NULL OR a.skipped LIKE 'error:%')))"
        f" FROM message m WHERE {tally.UNHEARD_SQL}{live} GROUP BY 1",
        () if live_since is None else (live_since,),
    )
    return {ext: (int(v), int(f), int(i)) for ext, v, f, i in rows}


def test_capped_counts_equal_the_rows(engine: Engine, db_path: Path) -> None:
    """The unheard counts come from the tally (retention unknown) or their partial index
    (known), those with a file to fetch from ix_attachment_todo: the same as the rows say."""
    _save(engine, list(Emulator(messages=400, seed=9, rate_limits=False).store.all_records()))
    _user_sql(
        db_path,
        # More of them unheard than the emulator makes (the tally follows: remote columns).
        "UPDATE message SET remote_read_status = 'Unread' WHERE rowid % 2 = 0",
        "UPDATE attachment SET path = 'x' WHERE rowid % 4 = 0",
        "UPDATE attachment SET skipped = 'error: 503' WHERE rowid % 4 = 1",
        "UPDATE attachment SET skipped = 'type Text not in [sync] attachment_types'"
        " WHERE rowid % 4 = 2",
    )
    con = sqlite3.connect(db_path)
    times = sorted(
        r[0] for r in con.execute(f"SELECT creation_time FROM message WHERE {tally.UNHEARD_SQL}")
    )
    for live_since in (None, times[len(times) // 2]):
        expected = _capped_rows(con, live_since)
        cut = Cutoffs(("0", "0"), None, live_since)
        got = {
            c.extension_id: (c.unheard_voicemail, c.unread_fax, c.capped_incomplete)
            for c in extension_counts(con, cut)
            if c.unheard_voicemail or c.unread_fax
        }
        assert got == expected
    [(voicemail, fax, incomplete)] = _capped_rows(con, None).values()
    assert voicemail > 5 and fax > 0 and 0 < incomplete < voicemail + fax
    con.close()


def test_status_reads_no_table_whole(engine: Engine, db_path: Path) -> None:
    """Each statement of `status` reads the tallies, a window of an index or a partial
    index of a few rows: none walks the archive (a 1,000,000-message archive's status took
    0.6 s through the type index)."""
    import datetime as dt

    _save(engine, list(Emulator(messages=200, seed=6, rate_limits=False).store.all_records()))
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    retention = json.dumps({"retention_period": 30, "read_at": NOW})
    for stored in (None, retention):  # retention unknown, then read by `verify`
        if stored is not None:
            _user_sql(
                db_path, f"INSERT INTO sync_state (key, value) VALUES ('retention', '{stored}')"
            )
        con = sqlite3.connect(db_path)
        statements: list[str] = []
        con.set_trace_callback(statements.append)  # each with its parameters in place
        report = collect_status(con, Config()) | {"retention": retention_report(con, now)}
        con.set_trace_callback(None)
        assert report["messages"]["total"] > 150
        assert unbounded_reads(con, [(sql, ()) for sql in statements]) == []
        con.close()
