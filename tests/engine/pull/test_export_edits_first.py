"""Edits first while a message-store export is awaited or downloaded (`sync.bootstrap`
with the attachments phase's `EditsFirst`): a local edit made during a long export wait
reaches the server within `edits_first.POLL` of simulated time, not after the export.

In-process emulator on a fake clock the client's sleeps move; an export task that takes
15 simulated minutes. What is asserted is when (on that clock) and in which order the
requests arrived, never a duration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, RateBudget, build_client
from rcsync.config import AccountConfig, Config
from rcsync.emulator import Emulator, FakeClock
from rcsync.rules.export import ExportState
from rcsync.store.state import EXPORT, read_state
from rcsync.sync.edits_first import POLL, EditsFirst
from rcsync.sync.pull import pull, pull_attachments
from rcsync.sync.reconcile import sync
from rcsync.types import UseExport
from tests.harness.config import make_config
from tests.harness.inprocess import UNLIMITED, fast_emulator

TASK_SECONDS = 900.0
WRITES = ("PUT", "PATCH", "DELETE")


@dataclass
class Timed(httpx.BaseTransport):
    """Forwards to the emulator and records (clock time, method, path) of every request."""

    inner: httpx.BaseTransport
    clock: FakeClock
    log: list[tuple[float, str, str]] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((self.clock.now(), request.method, request.url.path))
        return self.inner.handle_request(request)

    def first(self, wanted: Callable[[str, str], bool]) -> tuple[int, float]:
        return next((i, t) for i, (t, m, p) in enumerate(self.log) if wanted(m, p))


def _setup(tmp_path: Path, db: Engine) -> tuple[Emulator, FakeClock, Config]:
    clock = FakeClock()
    emu = fast_emulator(400, 16, clock)
    emu.configure(export={"task_seconds": TASK_SECONDS, "max_zip_bytes": 200_000})
    config = make_config(tmp_path, download_attachments=True)
    config = replace(config, account=AccountConfig(use_export=UseExport.ALWAYS))
    messages_only = replace(config, sync=replace(config.sync, download_attachments=False))
    pull(db, _client(config, emu.transport(), clock), messages_only)
    return emu, clock, config


def _client(
    config: Config,
    transport: httpx.BaseTransport,
    clock: FakeClock,
    sleep: Callable[[float], None] | None = None,
) -> MessageStoreClient:
    sleep = sleep or clock.advance
    budget = RateBudget(limits=UNLIMITED, clock=clock.now, sleep=sleep)
    return build_client(
        config.ringcentral, transport=transport, clock=clock.now, sleep=sleep, budget=budget
    )


def _flip(config: Config, mid: int) -> None:
    """An edit made with another SQLite client, as a user would."""
    conn = sqlite3.connect(config.database.path, timeout=30)
    try:
        conn.execute(
            "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
            f" ELSE 'Read' END WHERE id = {mid}"
        )
        conn.commit()
    finally:
        conn.close()


def _alive(db: Engine) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT id FROM message WHERE availability = 'Alive' ORDER BY id LIMIT 1")
            ).scalar_one()
        )


def _sent(db: Engine, emu: Emulator, mid: int) -> bool:
    with db.connect() as conn:
        local = conn.execute(
            sa.text("SELECT read_status FROM message WHERE id = :id"), {"id": mid}
        ).scalar_one()
    return bool(emu.store.get(mid)["readStatus"] == local)


def test_an_edit_made_during_the_export_wait_goes_out_within_a_poll(
    tmp_path: Path, db: Engine
) -> None:
    emu, clock, config = _setup(tmp_path, db)
    mid = _alive(db)
    edited_at: list[float] = []
    timed = Timed(emu.transport(), clock)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        created = [t for t, m, p in timed.log if m == "POST" and p.endswith("-report")]
        # Five simulated minutes into the task, the user marks a message.
        if created and not edited_at and clock.now() >= created[0] + 300:
            edited_at.append(clock.now())
            _flip(config, mid)

    summary = sync(db, _client(config, timed, clock, sleep), config)

    assert edited_at, "the export wait was too short to edit during it"
    index, pushed_at = timed.first(lambda m, _p: m in WRITES)
    listed, _ = timed.first(lambda m, p: m == "GET" and p.endswith("/archive"))
    assert index < listed  # before the export finished, not after it
    assert pushed_at - edited_at[0] <= POLL
    assert summary.push.pushed == 1 and _sent(db, emu, mid)
    assert summary.attachments is not None and summary.attachments.attachments_from_export > 20


def test_watch_may_end_the_phase_during_the_wait_and_the_export_resumes(
    tmp_path: Path, db: Engine
) -> None:
    emu, clock, config = _setup(tmp_path, db)
    client = _client(config, emu.transport(), clock)
    polls = {"n": 0}

    def interrupt() -> bool:  # the watch: "stop" once the task has been polled twice
        polls["n"] = emu.counters.by_operation.get("readMessageStoreReportTask", 0)
        return polls["n"] >= 2

    gate = EditsFirst(db, config, budget=client.budget, interrupt=interrupt)
    stopped = pull_attachments(db, client, config, gate=gate)
    assert stopped.attachments_left > 0 and stopped.attachments_downloaded == 0
    assert emu.counters.by_operation.get("readMessageContent", 0) == 0  # no content fallback
    stored = read_state(db, EXPORT)
    assert stored is not None and ExportState.from_json(stored).task_id is not None

    emu.counters.reset()
    resumed = pull_attachments(db, client, config)
    assert emu.counters.by_operation.get("createMessageStoreReport", 0) == 0  # same task
    assert resumed.attachments_from_export > 20 and resumed.attachments_left == 0


@dataclass
class AfterArchives(Timed):
    """Runs `after` once the `at`-th archive download has been answered."""

    at: int = 3
    after: Callable[[], None] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        archives = sum(1 for _t, _m, p in self.log if "/archive/" in p)
        if self.after is not None and archives == self.at:
            after, self.after = self.after, None
            after()
        return response


def test_an_edit_made_while_the_zips_come_in_goes_out_before_the_next_zip(
    tmp_path: Path, db: Engine
) -> None:
    emu, clock, config = _setup(tmp_path, db)
    mid = _alive(db)
    transport = AfterArchives(emu.transport(), clock, after=lambda: _flip(config, mid))
    summary = sync(db, _client(config, transport, clock), config)
    paths = [(m, p) for _t, m, p in transport.log if m in WRITES or "/archive/" in p]
    write = next(i for i, (m, _p) in enumerate(paths) if m in WRITES)
    assert write == 3  # right after the third zip, before the fourth
    assert summary.push.pushed == 1 and _sent(db, emu, mid)
    assert summary.attachments is not None and summary.attachments.attachments_from_export > 20
