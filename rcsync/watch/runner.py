"""`watch`: keep the mirror current, reacting to local edits and pulling periodically.

The database records every local edit itself (triggers fill ``local_edit``/``tombstone``,
see `rcsync.store.schema`); this module only *wakes* the engine. A watchdog observer (inotify on
Linux) watches the database's folder for writes to the database file and its ``-wal``
(in WAL mode a commit touches only the WAL) or ``-journal``; the ``-shm`` index, the engine
lock, the attachments folder and unrelated files are ignored, and so are opens and closes
(readers open the file too). Each relevant event only nudges the `Waker`; the scheduler in
`rcsync.watch.schedule` debounces, checks cheaply what is pending, and decides on push or pull.

Composition only: the watcher glue, the cheap pending check, and the adapter from the
pull/push engines to the loop's `Worker`. No printing; the CLI sets up the log handlers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from watchdog.events import (
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from rcsync.config import Config
from rcsync.errors import StepIncomplete
from rcsync.progress import NullProgress, Progress
from rcsync.watch.backoff import Backoff
from rcsync.watch.schedule import Outcome, Pending, Runner, Scheduler, Waker

if TYPE_CHECKING:
    from rcsync.api import MessageStoreClient
    from rcsync.sync.pull import PullSummary
    from rcsync.sync.push import PushSummary

log = logging.getLogger("rcsync.watch")

# Files whose change can mean a committed edit: the database, its WAL, its rollback journal.
WATCHED_SUFFIXES = ("", "-wal", "-journal")
# Writes only: readers (including our own pending check) open and close the files too.
WRITE_EVENTS = frozenset(
    {EVENT_TYPE_MODIFIED, EVENT_TYPE_CREATED, EVENT_TYPE_DELETED, EVENT_TYPE_MOVED}
)


def watched_names(db_path: Path) -> frozenset[str]:
    return frozenset(db_path.name + suffix for suffix in WATCHED_SUFFIXES)


def is_database_write(event: FileSystemEvent, names: frozenset[str]) -> bool:
    """Whether a watchdog event is a write to the database or its WAL/journal."""
    if event.is_directory or event.event_type not in WRITE_EVENTS:
        return False
    paths = [event.src_path, getattr(event, "dest_path", "")]
    return any(p and os.path.basename(os.fsdecode(p)) in names for p in paths)


class DatabaseChangeHandler(FileSystemEventHandler):
    """Calls `notify` (from the observer's thread) on every write to the database files."""

    def __init__(self, db_path: Path, notify: Callable[[], None]) -> None:
        super().__init__()
        self._names = watched_names(db_path)
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if is_database_write(event, self._names):
            self._notify()


@contextmanager
def watching(db_path: Path, notify: Callable[[], None]) -> Iterator[None]:
    """Watch the database's folder (not recursively) while in the block."""
    observer = Observer()
    handler = DatabaseChangeHandler(db_path, notify)
    observer.schedule(handler, str(db_path.resolve().parent), recursive=False)
    observer.start()
    try:
        yield
    finally:
        observer.stop()
        observer.join(timeout=5)


# One query, O(pending): the triggers keep local_edit/tombstone small. The newest edit time
# lets the scheduler tell a new edit from one a push already handled (see watchloop).
PENDING_SQL = sa.text("""
    SELECT (SELECT count(*) FROM local_edit)
           + (SELECT count(*) FROM tombstone WHERE pushed_at IS NULL),
           max(coalesce((SELECT max(edited_at) FROM local_edit), ''),
               coalesce((SELECT max(deleted_at) FROM tombstone WHERE pushed_at IS NULL), ''))
""")


def read_pending(engine: Engine) -> Pending:
    with engine.connect() as conn:
        row = conn.execute(PENDING_SQL).one()
    count, newest = int(row[0] or 0), str(row[1] or "")
    return Pending(count=count, newest=newest or None)


def pull_outcome(summary: PullSummary) -> Outcome:
    count = summary.new + summary.updated
    parts = [f"{summary.new} new", f"{summary.updated} updated"]
    if summary.remote_deleted or summary.purged:
        parts.append(f"{summary.remote_deleted} deleted, {summary.purged} purged remotely")
    if summary.attachments_downloaded:
        parts.append(f"{summary.attachments_downloaded} attachments")
    notes: tuple[str, ...] = ()
    if summary.conflicts:
        notes = (
            f"conflict: {summary.conflicts} field(s) changed on both sides; see the conflict table",
        )
    return Outcome(count, f"pulled {count} ({', '.join(parts)})", notes)


def push_outcome(summary: PushSummary) -> Outcome:
    if summary.failed:
        reason = summary.errors[0] if summary.errors else "see pending_change.last_error"
        raise StepIncomplete(f"pushed {summary.pushed}, {summary.failed} failed: {reason}")
    notes = tuple(summary.errors)
    if summary.conflicts:
        notes += (
            f"conflict: {summary.conflicts} field(s) changed on both sides; see the conflict table",
        )
    detail = f" ({summary.settled} settled without a write)" if summary.settled else ""
    if summary.stopped:
        detail += f"; stopped early; {summary.left} edits left pending"
    return Outcome(summary.pushed + summary.settled, f"pushed {summary.pushed}{detail}", notes)


class LogProgress:
    """A `Progress` for a daemon: no bars, but the engines' notes go to the log."""

    def start(self, phase: str, total: int | None = None) -> None:
        log.debug("%s: started%s", phase, "" if total is None else f" ({total})")

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

    def note(self, message: str) -> None:
        log.info("%s", message)


@dataclass
class EngineWorker:
    """The real engine behind the loop's `Worker` protocol.

    `stop` (the watch's stop request) ends a long push between its write batches.
    """

    engine: Engine
    client: MessageStoreClient
    config: Config
    force: bool = False
    progress: Progress | None = None
    stop: threading.Event | None = None

    def pending(self) -> Pending:
        return read_pending(self.engine)

    def push(self) -> Outcome:
        from rcsync.sync.push import push

        summary = push(
            self.engine,
            self.client,
            self.config,
            force=self.force,
            progress=self.progress or NullProgress(),
            stop=self.stop,
        )
        return push_outcome(summary)

    def pull(self) -> Outcome:
        from rcsync.sync.pull import pull

        summary = pull(
            self.engine, self.client, self.config, progress=self.progress or NullProgress()
        )
        return pull_outcome(summary)


def run_watch(
    worker: EngineWorker,
    db_path: Path,
    waker: Waker,
    *,
    interval: float,
    quiet: float = 0.2,
    max_delay: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Watch `db_path` and run the loop until `waker` is asked to stop (or a fatal error)."""
    scheduler = Scheduler(
        interval=interval, now=clock(), quiet=quiet, max_delay=max_delay, backoff=Backoff()
    )
    with watching(db_path, waker.notify_change):
        Runner(worker, scheduler, waker, clock=clock).run()
