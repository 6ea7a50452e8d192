"""Open the archive for commands that only read (`status`, `search`, `conflicts`).

Two reasons not to use the normal engine there. A read-only file (chmod 444): the normal
engine switches the journal to WAL and migrates, both writes. And startup time: the normal
engine loads Alembic and the SQLModel tables (~1 s on a slow machine) just to learn that the
schema is current. So SQLite is opened with ``mode=ro`` and the schema revision is compared
with the head found by reading the migration files' ``revision``/``down_revision`` lines;
when they differ (or the files cannot be read) the caller falls back to the full engine.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from rcsync.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_ASSIGN = r"^{name}\s*(?::[^=]+)?=\s*['\"]([^'\"]+)['\"]"
_REVISION = re.compile(_ASSIGN.format(name="revision"), re.MULTILINE)
_DOWN = re.compile(_ASSIGN.format(name="down_revision"), re.MULTILINE)


def _versions_dir() -> Path | None:
    spec = importlib.util.find_spec("rcsync.migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "versions"
    checkout = Path(__file__).resolve().parents[2] / "alembic" / "versions"
    return checkout if checkout.is_dir() else None


def quick_head_revision() -> str | None:
    """The single head of the migration files, or None if it cannot be told simply."""
    folder = _versions_dir()
    if folder is None:
        return None
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in folder.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        if found := _REVISION.search(text):
            revisions.add(found.group(1))
        downs.update(_DOWN.findall(text))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def connect_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.absolute()}?mode=ro", uri=True, check_same_thread=False)


def stored_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: an empty or foreign file
        return None
    return str(row[0]) if row else None


def open_current(path: Path) -> sqlite3.Connection | None:
    """A read-only connection if the schema is the current one, else None."""
    try:
        conn = connect_read_only(path)
        current = stored_revision(conn)
    except sqlite3.DatabaseError:
        return None
    if current is not None and current == quick_head_revision():
        return conn
    conn.close()
    return None


def open_read_only(path: Path) -> Engine:
    """A SQLAlchemy engine that never writes (for a file rcsync may not write)."""
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite://", creator=lambda: connect_read_only(path))
    _check_schema(engine, path)
    return engine


def _check_schema(engine: Engine, path: Path) -> None:
    import sqlalchemy as sa

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
