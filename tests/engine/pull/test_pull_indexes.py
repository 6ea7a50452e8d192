"""A first pull into an empty table defers the message indexes; nothing leaves them missing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import rcsync.sync.pull as pull_module
from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store.database import open_database
from rcsync.store.schema import Message
from rcsync.sync.pull import pull
from tests.harness.inprocess import make_client
from tests.harness.mirror import mirror_problems
from tests.harness.transports import CutFSync, Interrupted

# The message table's secondary indexes, as the model declares them.
INDEXES = {str(ix.name) for ix in Message.__table__.indexes}  # type: ignore[attr-defined]


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


def test_a_first_pull_builds_the_indexes_at_its_end(
    emu: Emulator, config: Config, db: Engine
) -> None:
    watch = _Watch(emu.transport(), db)
    pull(db, make_client(config, watch), config)
    assert watch.seen and watch.seen[0] == set()  # deferred while the table filled
    assert _indexes(db) == INDEXES
    assert mirror_problems(db, emu) == []


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
    assert _indexes(db) == set()
    db.dispose()
    reopened = open_database(Path(str(db.url.database)))
    assert _indexes(reopened) == INDEXES
    monkeypatch.undo()
    pull(reopened, make_client(config, emu.transport()), config)
    assert _indexes(reopened) == INDEXES
    assert mirror_problems(reopened, emu) == []
