"""Waking `watch` when the database changes: a watchdog observer on the database's folder.

The database records every local edit itself (triggers fill ``local_edit``/``tombstone``,
see `rcsync.store.schema`); this module only *wakes* the loop. A watchdog observer (inotify
on Linux) watches the database's folder for writes to the database file and its ``-wal``
(in WAL mode a commit touches only the WAL) or ``-journal``; the ``-shm`` index, the engine
lock, the attachments folder and unrelated files are ignored, and so are opens and closes
(readers open the file too). Each relevant event only nudges the `Waker`; the scheduler
debounces, checks cheaply what is pending, and decides on push or pull.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

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
