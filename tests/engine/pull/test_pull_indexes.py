"""A first pull into an empty table defers the message indexes and the insert triggers that
stand aside for the engine's batches; nothing leaves them missing, and a row someone else
inserts meanwhile is still searchable and counted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import rcsync.sync.pull as pull_module
from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store import tally
from rcsync.store.database import open_database
from rcsync.store.schema import Message
from rcsync.sync.pull import pull
from tests.harness.inprocess import make_client
from tests.harness.mirror import mirror_problems
from tests.harness.transports import CutFSync, Interrupted

# The message table's secondary indexes, as the model declares them.
INDEXES = {str(ix.name) for ix in Message.__table__.indexes}  # type: ignore[attr-defined]
INSERT_TRIGGERS = {"message_fts_insert", "message_tally_insert", "attachment_tally_insert"}
USER_ROW = 77


def _indexes(db: Engine) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message'")
        )
        return {r[0] for r in rows} & INDEXES


class _Watch(httpx.BaseTransport):
    """Notes the message indexes present when the ISync that ends a full pull is sent."""

    def __init__(self, inner: httpx.BaseTransport, db: Engine) -> None:
        self.inner, self.db, self.seen = inner, db, list[set[str]]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("syncType") == "ISync":
            self.seen.append(_indexes(self.db))
        return self.inner.handle_request(request)


def _insert_triggers(db: Engine) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return {r[0] for r in rows} & INSERT_TRIGGERS


def _consistent(db: Engine) -> None:
    """The FTS index holds exactly the rows, and the tally counts exactly the rows."""
    with db.connect() as conn:
        conn.execute(
            sa.text("INSERT INTO message_fts (message_fts, rank) VALUES ('integrity-check', 1)")
        )
        kept = conn.execute(sa.text("SELECT key, n FROM message_tally WHERE n <> 0 ORDER BY 1"))
        grouped = conn.execute(
            sa.text(f"SELECT {tally.message_key()}, count(*) FROM message GROUP BY 1 ORDER BY 1")
        )
        assert kept.all() == grouped.all()
        kept = conn.execute(sa.text("SELECT state, n, bytes FROM attachment_tally WHERE n <> 0"))
        grouped = conn.execute(
            sa.text(
                f"SELECT {tally.attachment_state()}, count(*), coalesce(sum(size), 0)"
                " FROM attachment GROUP BY 1"
            )
        )
        assert sorted(kept.all()) == sorted(grouped.all())


class _UserInsert(httpx.BaseTransport):
    """A user's INSERT (the sqlite3 shell) while the first pull runs, before its ISync."""

    def __init__(self, inner: httpx.BaseTransport, path: str) -> None:
        self.inner, self.path, self.triggers = inner, path, list[set[str]]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("syncType") == "ISync" and not self.triggers:
            con = sqlite3.connect(self.path, isolation_level=None)
            self.triggers.append({r[0] for r in con.execute("SELECT name FROM sqlite_master")})
            con.execute(
                "INSERT INTO message (id, type, creation_time, raw, subject)"
                f" VALUES ({USER_ROW}, 'SMS', '2020-01-01T00:00:00.000Z', '{{}}', 'zanzibarish')"
            )
            con.close()
        return self.inner.handle_request(request)


def test_a_first_pull_builds_the_indexes_at_its_end(
    emu: Emulator, config: Config, db: Engine
) -> None:
    watch = _Watch(emu.transport(), db)
    pull(db, make_client(config, watch), config)
    assert watch.seen and watch.seen[0] == set()  # deferred while the table filled
    assert _indexes(db) == INDEXES
    assert _insert_triggers(db) == INSERT_TRIGGERS
    _consistent(db)
    assert mirror_problems(db, emu) == []


def test_a_row_a_user_inserts_during_a_first_pull_is_searchable_and_counted(
    emu: Emulator, config: Config, db: Engine
) -> None:
    user = _UserInsert(emu.transport(), str(db.url.database))
    pull(db, make_client(config, user), config)
    assert user.triggers and not user.triggers[0] & INSERT_TRIGGERS  # dropped meanwhile
    assert _insert_triggers(db) == INSERT_TRIGGERS
    with db.connect() as conn:
        found = conn.execute(
            sa.text("SELECT rowid FROM message_fts WHERE message_fts MATCH 'zanzibarish'")
        )
        assert found.scalars().all() == [USER_ROW]
    _consistent(db)


def test_a_pull_into_a_filled_table_keeps_its_indexes(
    emu: Emulator, config: Config, db: Engine
) -> None:
    pull(db, make_client(config, emu.transport()), config)
    watch = _Watch(emu.transport(), db)
    pull(db, make_client(config, watch), config, full=True)
    assert watch.seen and all(seen == INDEXES for seen in watch.seen)


def test_a_pull_that_stops_early_restores_the_indexes(
    emu: Emulator, config: Config, db: Engine
) -> None:
    with pytest.raises(Interrupted):
        pull(db, make_client(config, CutFSync(emu.transport(), after=0.6)), config)
    assert _indexes(db) == INDEXES


def test_a_crash_between_leaves_a_database_the_next_open_repairs(
    emu: Emulator, config: Config, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A killed process runs no `finally`: the pull's own restore never happens.
    monkeypatch.setattr(pull_module, "_restore_indexes", lambda run: None)
    with pytest.raises(Interrupted):
        pull(db, make_client(config, CutFSync(emu.transport(), after=0.6)), config)
    assert _indexes(db) == set() and _insert_triggers(db) == set()
    db.dispose()
    reopened = open_database(Path(str(db.url.database)))
    assert _indexes(reopened) == INDEXES
    assert _insert_triggers(reopened) == INSERT_TRIGGERS
    _consistent(reopened)
    monkeypatch.undo()
    pull(reopened, make_client(config, emu.transport()), config)
    assert _indexes(reopened) == INDEXES
    assert mirror_problems(reopened, emu) == []
