"""The engine lock says who holds it before waiting for it (and only when it waits), and
whether the process that last took it still holds it (`status` after a SIGKILL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rcsync.errors import LockedError
from rcsync.progress import WaitReason
from rcsync.store.lock import engine_lock, holds_engine_lock, lock_path


def test_a_held_lock_is_announced_once_with_its_holder(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    events: list[tuple[WaitReason, float | None, str]] = []
    # A second open file description is a second holder for flock, as another process.
    with (
        engine_lock(db, what="watch"),
        pytest.raises(LockedError),
        engine_lock(
            db,
            wait=True,
            timeout=0.5,
            sleep=lambda s: None,
            on_wait=lambda *e: events.append(e),
        ),
    ):
        pass
    assert events == [
        (WaitReason.LOCK, 0.5, f"database locked by rcsync watch (pid {os.getpid()})")
    ]


def test_a_free_lock_announces_nothing(tmp_path: Path) -> None:
    events: list[object] = []
    with engine_lock(tmp_path / "m.db", wait=True, on_wait=lambda *e: events.append(e)):
        pass
    assert events == []


def test_the_attachment_lock_is_one_process_at_a_time_and_never_waits(tmp_path: Path) -> None:
    from rcsync.store.lock import attachments_lock, engine_lock

    db = tmp_path / "m.db"
    with attachments_lock(db) as mine:
        assert mine is None
        with attachments_lock(db) as other:  # a second open file: another process
            assert other == f"rcsync (pid {os.getpid()})"
        with engine_lock(db, what="push"):  # the engine lock is another lock
            pass
    with attachments_lock(db) as again:
        assert again is None


def test_whether_a_process_still_holds_the_engine_lock(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert not holds_engine_lock(db, os.getpid())  # never taken
    with engine_lock(db, what="watch"):
        assert holds_engine_lock(db, os.getpid())
        assert not holds_engine_lock(db, os.getpid() + 1)  # another process's record
    assert not holds_engine_lock(db, os.getpid())  # released: the text is gone
    # What a SIGKILL leaves: the holder's text, its process gone.
    dead = 2**22 + 1  # above the highest pid Linux can give (pid_max is at most 2**22)
    lock_path(db).write_text(f"rcsync watch (pid {dead})")
    assert not holds_engine_lock(db, dead)
