"""Edits first: under RingCentral's real limits (Medium 40/min, shared by downloads and
writes), no edit waits behind the attachment downloads.

The emulator runs in-process with its default rate limits on a fake clock that the
client's sleeps move, so a minute of waiting costs nothing. What is asserted is the order
of the requests and the emulator's rate-limit log (no 429), never a duration.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, build_client
from rcsync.config import Config
from rcsync.emulator import Emulator, FakeClock
from rcsync.progress import NullProgress, WaitReason
from rcsync.store.database import open_database
from rcsync.sync.edits_first import WRITE_RESERVE, EditsFirst
from rcsync.sync.pull import pull_attachments, pull_messages
from rcsync.sync.push import push
from rcsync.sync.reconcile import sync
from tests.harness.config import make_config

CONTENT = "/content/"
WRITES = ("PUT", "PATCH", "DELETE")


@dataclass
class Recorder(httpx.BaseTransport):
    """Forwards to the emulator, records every request in order, and runs `after` once
    the `at`-th content download has been answered (a user acting at that moment)."""

    inner: httpx.BaseTransport
    at: int = 0
    after: Callable[[], None] | None = None
    log: list[tuple[str, str]] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((request.method, request.url.path))
        response = self.inner.handle_request(request)
        if self.after is not None and self.downloads() == self.at:
            after, self.after = self.after, None
            after()
        return response

    def downloads(self) -> int:
        return sum(1 for _m, path in self.log if CONTENT in path)

    def writes(self) -> list[int]:
        """Positions of the writes, counted in downloads made before each."""
        out, seen = [], 0
        for method, path in self.log:
            if CONTENT in path:
                seen += 1
            elif method in WRITES:
                out.append(seen)
        return out


@dataclass
class World:
    clock: FakeClock
    emu: Emulator
    config: Config
    engine: Engine

    def client(
        self, transport: httpx.BaseTransport | None = None, **kw: object
    ) -> MessageStoreClient:
        return build_client(
            self.config.ringcentral,
            transport=transport or self.emu.transport(),
            clock=self.clock.now,
            sleep=kw.pop("sleep", self.clock.advance),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )

    def user_edit(self, sql: str) -> None:
        """An edit made with another SQLite client, as a user would."""
        conn = sqlite3.connect(self.config.database.path, timeout=30)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    def alive(self, n: int) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id FROM message WHERE availability = 'Alive' ORDER BY id LIMIT :n"),
                {"n": n},
            ).all()
        assert len(rows) == n
        return [int(r[0]) for r in rows]

    def flip(self, mid: int) -> None:
        """Mark the message read if it is unread, and the other way round."""
        self.user_edit(
            "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
            f" ELSE 'Read' END WHERE id = {mid}"
        )

    def sent(self, mid: int) -> bool:
        """The message's read status on the server is the local one."""
        with self.engine.connect() as conn:
            local = conn.execute(
                sa.text("SELECT read_status FROM message WHERE id = :id"), {"id": mid}
            ).scalar_one()
        return bool(self.emu.store.get(mid)["readStatus"] == local)

    def refused(self) -> list[str]:
        """The emulator's rate-limit refusals (429s), if any."""
        return [e.outcome for e in self.emu.limiter.events if e.outcome != "ok"]

    def missing_files(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM attachment WHERE path IS NULL AND skipped IS NULL"
                    )
                ).scalar_one()
            )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FakeClock()
    emu = Emulator(messages=150, seed=3, clock=clock)  # RingCentral's default limits
    config = make_config(tmp_path, download_attachments=True)
    engine = open_database(config.database.path)
    w = World(clock, emu, config, engine)
    with w.client() as client:
        pull_messages(engine, client, config)  # the messages are here; 52 files are not
    yield w
    engine.dispose()


def test_sync_pushes_before_it_downloads_any_attachment(world: World) -> None:
    [mid] = world.alive(1)
    world.flip(mid)
    recorder = Recorder(world.emu.transport())
    with world.client(recorder) as client:
        summary = sync(world.engine, client, world.config)
    assert recorder.writes() == [0]  # the write went out before the first download
    assert summary.push.pushed == 1 and world.sent(mid)
    assert summary.attachments is not None and summary.attachments.attachments_downloaded > 40
    assert world.missing_files() == 0 and world.refused() == []


def test_an_edit_made_during_the_downloads_is_pushed_before_the_next_one(world: World) -> None:
    first, later = world.alive(2)
    world.flip(first)
    recorder = Recorder(world.emu.transport(), at=5, after=lambda: world.flip(later))
    with world.client(recorder) as client:
        summary = sync(world.engine, client, world.config)
    # One write before the downloads, one right after the fifth: the sixth waited for it.
    assert recorder.writes() == [0, 5]
    assert summary.push.pushed == 2
    assert world.sent(first) and world.sent(later)
    assert world.missing_files() == 0 and world.refused() == []
    assert "pushed 2 edits" in summary.line()


def test_only_edits_newer_than_the_phase_are_pushed_first(world: World) -> None:
    """An edit already pending when the phase begins was handed to a push before it (which
    could not send it) or is for `rcsync push`: it is not retried before every download.
    One made during the phase is pushed once."""
    old, new = world.alive(2)
    world.flip(old)
    pushes: list[int] = []
    recorder = Recorder(world.emu.transport(), at=3, after=lambda: world.flip(new))
    with world.client(recorder) as client:
        gate = EditsFirst(
            world.engine,
            world.config,
            budget=client.budget,
            push=lambda: pushes.append(recorder.downloads()),
        )
        pull_attachments(world.engine, client, world.config, gate=gate)
    assert pushes == [3]  # after the third download, once; never for the older edit
    assert recorder.downloads() == 52 and world.missing_files() == 0


@pytest.mark.parametrize("edit_before", [True, False], ids=["edit-pending", "edit-during"])
def test_a_push_by_another_process_is_neither_throttled_nor_kept_waiting(
    world: World, edit_before: bool
) -> None:
    """`rcsync pull` downloads (it never pushes); meanwhile `rcsync push` of one edit runs in
    another process with its own budget. RingCentral counts both against one window: the
    downloads leave the edit its share, so the push goes out at once, without a 429."""
    [mid] = world.alive(1)
    if edit_before:
        world.flip(mid)
    pushes: list[tuple[int, float]] = []
    burst: list[int] = []  # downloads made before the first wait

    def other_process() -> None:
        if not edit_before:
            world.flip(mid)
        with world.client() as other:
            summary = push(world.engine, other, world.config)
            pushes.append((summary.pushed, other.budget.waited))

    def sleep(seconds: float) -> None:
        if not pushes:  # the downloads have filled their share of the window
            burst.append(recorder.downloads())
            other_process()
        world.clock.advance(seconds)

    recorder = Recorder(world.emu.transport())
    with world.client(recorder, sleep=sleep) as client:
        pull_attachments(world.engine, client, world.config)
    assert pushes == [(1, 0.0)]
    assert world.refused() == []
    assert world.sent(mid)
    # The first window: 40 minus what was kept (the pending edit's request, and the reserve).
    kept = WRITE_RESERVE + (1 if edit_before else 0)
    assert burst == [40 - kept]
    assert recorder.writes() == [] and recorder.downloads() == 52
    assert world.missing_files() == 0


def test_the_reserve_wait_is_announced_as_a_rate_limit_wait(world: World) -> None:
    events: list[tuple[WaitReason, float | None, str]] = []

    class Recording(NullProgress):
        def waiting(self, reason: WaitReason, seconds: float | None, detail: str) -> None:
            events.append((reason, seconds, detail))

    with world.client() as client:
        pull_attachments(world.engine, client, world.config, progress=Recording())
    assert events, "the downloads filled their share of the window"
    reason, seconds, detail = events[0]
    assert reason is WaitReason.RATE_LIMIT and seconds is not None and 0 < seconds <= 61
    assert detail == "RingCentral rate limit (Medium, 40/min)"
    # One line per stall, not one per look at the pending edits (every half second).
    assert len(events) <= 2


def test_one_process_downloads_at_a_time(world: World) -> None:
    """While another process holds the attachment lock, a pull fetches nothing (no file
    is downloaded twice into the same ``.part``) and says who does."""
    from rcsync.store.lock import attachments_lock

    notes: list[str] = []

    class Notes(NullProgress):
        def note(self, message: str) -> None:
            notes.append(message)

    recorder = Recorder(world.emu.transport())
    with attachments_lock(world.config.database.path), world.client(recorder) as client:
        summary = pull_attachments(world.engine, client, world.config, progress=Notes())
    assert recorder.downloads() == 0 and summary.attachments_downloaded == 0
    holder = f"rcsync (pid {os.getpid()})"
    assert notes == [f"attachments: {holder} is downloading them; none fetched here"]
    with world.client(recorder) as client:
        assert pull_attachments(world.engine, client, world.config).attachments_downloaded == 52
