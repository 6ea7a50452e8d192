"""One engine per database: an exclusive advisory lock beside the database file.

`pull`, `push`, `sync` and `watch` take it; a second one on the same database is refused
(or waits, with --wait) and is told which process holds it. The lock is a `flock` on
``<db>.lock``, so it vanishes with the process even after SIGKILL: no stale locks.

Attachment downloads take a lock of their own (``<db>.attachments.lock``,
`attachments_lock`), so `rcsync pull` can let go of the engine lock while it downloads
(a `push` may then run beside it) and still no two processes fetch the same file.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rcsync.errors import LockedError
from rcsync.progress import WaitCallback, WaitReason, no_wait_report


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "another rcsync process"


@contextmanager
def engine_lock(
    db_path: Path,
    *,
    wait: bool = False,
    timeout: float | None = None,
    what: str = "rcsync",
    can_wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: WaitCallback = no_wait_report,
) -> Iterator[None]:
    """Hold the database's engine lock for the duration of the block.

    `can_wait` says whether the command has a --wait option, so the refusal only suggests
    what the user can actually type. `on_wait` hears once, before waiting starts, who holds
    the lock (a wait of unknown length: it lasts as long as the holder's work).
    """
    path = lock_path(db_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    hint = " (or pass --wait)" if can_wait else ""
                    raise LockedError(
                        f"{db_path}: in use by {_holder(fd)}; wait for it to finish{hint}"
                    ) from None
                if not announced:
                    on_wait(WaitReason.LOCK, timeout, f"database locked by {_holder(fd)}")
                    announced = True
                sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"rcsync {what} (pid {os.getpid()})".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_HOLDER_PID = re.compile(r"\(pid (\d+)\)")


def lock_holder_pid(db_path: Path) -> int | None:
    """The pid the engine lock's file names, read without taking the lock (a `status` must
    never make a starting `pull` see the database as busy). That is the holder's, or after
    a SIGKILL, which leaves the text behind, the dead one's: see `process_alive`."""
    try:
        text = lock_path(db_path).read_text(errors="replace")
    except OSError:
        return None
    found = _HOLDER_PID.search(text)
    return int(found.group(1)) if found else None


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's
    return True


def holds_engine_lock(db_path: Path, pid: int) -> bool:
    """Whether process `pid` is alive and the last to have taken `db_path`'s engine lock:
    then it holds it still (the lock is released only with the process or the text)."""
    return lock_holder_pid(db_path) == pid and process_alive(pid)


def attachments_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".attachments.lock")


@contextmanager
def attachments_lock(db_path: Path) -> Iterator[str | None]:
    """Try to hold the attachment-download lock for the block, without waiting: yields
    None when it is ours, else who holds it (the block then downloads nothing)."""
    fd = os.open(attachments_lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield _holder(fd)
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"rcsync (pid {os.getpid()})".encode())
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
