"""The store: the database is an interface, and this package is the only code that speaks SQL.

A user reads and edits the archive with any SQLite client (``UPDATE message SET
read_status = 'Read'``, ``DELETE FROM message``), so the schema is a public surface, not a
private detail: its names are fixed by INTERFACE.md and its triggers turn every client's
edit into a pending change (``local_edit``, ``tombstone``, the ``pending_change`` view).
The engine writes value and base together, so its own writes are never echoed as edits.

Every query rcsync runs lives in one of these modules, each owning one kind of row (like
vdirsyncer's status class and reader's ``_storage``); the layers above call functions
named ``read_*``/``save_*`` and never write SQL text (a contract checks it):

    schema       the tables (SQLModel); the migrations in alembic/ install the triggers
    database     engine, SQLite pragmas (WAL, busy_timeout, foreign_keys), migrations
    readonly     a read-only connection for commands that only read (fast start)
    lock         the engine lock: one rcsync process writes a database at a time
    messages     every engine write to ``message`` from remote records (the pull's save)
    pending      the one definition of "pending": what a push must send, and how much
    state        ``sync_state`` (sync token, frame, progress, last runs) and ``conflict``
    pushes       what a push writes back: confirmed values, failures, fixes, tombstones
    attachments  the attachment rows: what to fetch, what was fetched or skipped and why
    archive      what the exports read: the selected messages and conversations, streamed
    edits        the CLI's mark/delete/restore/revert helpers (edits as a user makes them)
    search       full-text search over ``message_fts``
    status       the counts `rcsync status` shows
    user_sql     SQL shown or handed over as a user's own (the demo's edits, Datasette's)
"""

from __future__ import annotations

import sqlite3
import sys

# Light on purpose: importing rcsync.store loads no SQLAlchemy, so commands that only read
# (and `--help`) start fast; the modules that need SQLAlchemy import it themselves.


def _sqlalchemy_error(exc: BaseException, name: str) -> bool:
    # Only look SQLAlchemy up if something imported it: an error cannot come from it otherwise.
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, getattr(sa_exc, name))


def is_driver_error(exc: BaseException) -> bool:
    """Whether the database driver (sqlite3, SQLAlchemy) raised `exc`: the CLI reports it."""
    return isinstance(exc, sqlite3.Error) or _sqlalchemy_error(exc, "SQLAlchemyError")


def is_busy_error(exc: BaseException) -> bool:
    """A driver error worth retrying: a user's long write transaction, a busy database."""
    return isinstance(exc, sqlite3.OperationalError) or _sqlalchemy_error(exc, "OperationalError")
