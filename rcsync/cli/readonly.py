"""Open an archive the user has made read-only (chmod 444), for commands that only read.

rcsync's normal engine switches the journal to WAL and migrates, both writes; here SQLite
is opened with ``mode=ro`` and the schema is only checked.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.errors import DatabaseError


def open_read_only(path: Path) -> Engine:
    uri = f"file:{path.absolute()}?mode=ro"
    engine = sa.create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    )
    _check_schema(engine, path)
    return engine


def _check_schema(engine: Engine, path: Path) -> None:
    from rcsync.db import current_revision, head_revision

    try:
        with engine.connect() as conn:
            current = current_revision(conn)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).splitlines()[0] if exc.orig else "cannot open"
        raise DatabaseError(f"{path}: cannot open read-only: {reason}") from None
    if current != head_revision():
        engine.dispose()
        raise DatabaseError(
            f"{path}: read-only, and its schema ({current or 'empty'}) needs an upgrade; "
            f"make it writable (`chmod u+w {path}`) and run `rcsync db upgrade`"
        )
