"""Open the database: engine with SQLite pragmas, migrations run from code, sanity checks.

Every command that opens the database goes through `open_database`, which refuses what is
not usable (a directory, a non-SQLite file, a read-only file, a schema from a newer rcsync)
with one clear line, and brings an older schema up to date. Migrations ship inside the
package (`rcsync.migrations`, the top-level `alembic/` folder) and run on a connection we
hand to Alembic (habit 10 of STYLE.md).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from rcsync.errors import DatabaseError, SchemaTooNewError
from rcsync.progress import WaitCallback, WaitReason, no_wait_report

BUSY_TIMEOUT_MS = 30_000
#: A wait for another program's write lock this short is not worth a word.
QUIET_WAIT_MS = 1_000
SQLITE_MAGIC = b"SQLite format 3\x00"


def migrations_dir() -> Path:
    """Where the Alembic scripts are: inside the installed package, or the checkout's alembic/.

    The top-level alembic/ folder has no __init__.py (it would shadow the real `alembic`
    package whenever the repository root is on sys.path); the wheel ships it as the
    namespace package `rcsync.migrations`. Editable installs do not map namespace packages,
    so a source checkout falls back to the folder beside the package.
    """
    try:
        import rcsync.migrations as pkg  # type: ignore[import-not-found,unused-ignore]

        return Path(next(iter(pkg.__path__))).resolve()
    except ImportError:
        checkout = Path(__file__).resolve().parents[2] / "alembic"
        if (checkout / "env.py").exists():
            return checkout
        raise DatabaseError("rcsync's migration scripts are missing from this install") from None


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:  # a test guards this too
        raise DatabaseError(f"rcsync's migrations have {len(heads)} heads; expected exactly one")
    return heads[0]


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


CACHE_KB = 16_384
WAL_CHECKPOINT_PAGES = 10_000
WAL_KEEP_BYTES = 16 * 1024 * 1024


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite would send BEGIN itself, only before the first INSERT/UPDATE/DELETE: the
    # SELECTs a transaction starts with then run outside it, and another connection may
    # commit between them and the writes that act on what they read. With pysqlite's own
    # transaction handling off, `_begin_immediate` starts every transaction (SQLAlchemy's
    # documented pysqlite recipe).
    dbapi_conn.isolation_level = None
    # WAL lets readers (the user's SQLite browser) work while we write; the busy timeout
    # makes us wait for a user's open write transaction instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")
    # Durability: NORMAL in WAL mode syncs at checkpoints, not at each commit. An
    # application crash loses nothing committed; a power cut may roll back our last few
    # transactions but never corrupts the file. That is enough for what this connection
    # writes: pulled rows come back from RingCentral (the cursor rolls back with them,
    # since both commit together); a push's journal entry lost that way only means its
    # edit, still pending (local IS NOT base), is sent again, which is harmless. A user's
    # edit is never at risk from this: it commits through the user's own connection, at
    # that connection's own synchronous level (FULL in the sqlite3 shell). OFF is not used: a
    # power cut during a checkpoint could then corrupt the file, edits included. (With
    # WAL+NORMAL a first pull's commits are cheap already: fewer, larger transactions
    # measured no faster, so each page still commits with its cursor.)
    cur.execute("PRAGMA synchronous = NORMAL")
    # A first pull writes the message table, its three indexes and the FTS index at once:
    # with SQLite's default 2 MB page cache those B-trees keep evicting each other's pages.
    # 16 MB (a bound, reached only by large writes): a first pull of 50,000 messages took
    # 7.8 s instead of 8.9 s (one run each on a loaded machine: the gain is rough).
    cur.execute(f"PRAGMA cache_size = -{CACHE_KB}")
    # Checkpoints (the only fsyncs at NORMAL) every ~40 MB of WAL instead of every 4 MB:
    # fewer, larger ones. Durability is unchanged: an application crash loses nothing
    # committed, a power cut may roll back the engine's last transactions (all re-fetchable
    # pulled data, see above); a user's edit is fsynced to the WAL by the user's own
    # connection at its commit, which covers every frame before it. The WAL file is cut
    # back to `WAL_KEEP_BYTES` after a checkpoint, so it does not stay that large.
    cur.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    cur.execute(f"PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")
    cur.close()


class BusyWaits:
    """Starts every transaction with ``BEGIN IMMEDIATE``, and says so when that waits.

    IMMEDIATE takes the write lock at once, so nobody commits between a transaction's
    reads and its writes. rcsync's own read-only transactions take it too; they are short,
    and readers elsewhere are not blocked (WAL). In WAL mode this is where rcsync waits
    for another program (a user's open write transaction in the sqlite3 shell): SQLite's
    busy timeout waits silently, so a first try waits only `QUIET_WAIT_MS`, and a longer
    wait is announced (`on_wait`) with what it waits for and for how long at most.
    """

    def __init__(self, path: str, on_wait: WaitCallback) -> None:
        self.path = path
        self.on_wait = on_wait

    def begin(self, conn: Connection) -> None:
        driver = conn.connection.driver_connection
        if driver is None or not self._try(driver):
            rest = BUSY_TIMEOUT_MS - QUIET_WAIT_MS
            detail = f"{self.path}: written by another program (an open write transaction)"
            self.on_wait(WaitReason.BUSY, rest / 1000, detail)
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {rest}")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLAlchemy's errors, as before
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @staticmethod
    def _try(driver: Any) -> bool:
        """BEGIN IMMEDIATE with the short timeout; False when the lock stayed taken."""
        driver.execute(f"PRAGMA busy_timeout = {QUIET_WAIT_MS}")
        try:
            driver.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            return False
        finally:
            driver.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


_BUSY_WAITS: weakref.WeakKeyDictionary[Engine, BusyWaits] = weakref.WeakKeyDictionary()


def on_busy_wait(engine: Engine, on_wait: WaitCallback) -> None:
    """Who hears of `engine`'s waits for another program's write lock (the CLI's display,
    the watch's log)."""
    waits = _BUSY_WAITS.get(engine)
    if waits is not None:
        waits.on_wait = on_wait


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise DatabaseError(f"{path}: is a directory, expected a database file")
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot read: {exc.strerror}") from None
        if head and head != SQLITE_MAGIC:
            raise DatabaseError(f"{path}: not an SQLite database")
        if not os.access(path, os.W_OK):
            raise DatabaseError(f"{path}: database is read-only (rcsync needs to write it)")
    else:
        parent = path.parent
        if not parent.exists():
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"{parent}: cannot create folder: {exc.strerror}") from None
        if not os.access(parent, os.W_OK):
            raise DatabaseError(f"{parent}: folder is not writable, cannot create {path.name}")


def create_db_engine(url_or_path: str | Path, *, on_wait: WaitCallback = no_wait_report) -> Engine:
    """An engine for a path (SQLite) or a SQLAlchemy URL, pragmas installed for SQLite;
    `on_wait` hears of each wait for another program's write lock (`BusyWaits`)."""
    if isinstance(url_or_path, Path) or "://" not in str(url_or_path):
        path = Path(url_or_path).expanduser()
        _check_path(path)
        url = f"sqlite:///{path}"
    else:
        url = str(url_or_path)
    engine = sa.create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000} if url.startswith("sqlite") else {}
    )
    if engine.dialect.name == "sqlite":
        waits = _BUSY_WAITS[engine] = BusyWaits(str(engine.url.database), on_wait)
        sa.event.listen(engine, "connect", _on_connect)
        sa.event.listen(engine, "begin", waits.begin)
    return engine


class _SerializedWrites:
    """An engine whose write transactions (``begin``) take turns on a process-wide lock.

    SQLite has one writer at a time anyway; many threads queueing inside ``BEGIN
    IMMEDIATE`` would each hold a pooled connection while they wait (the pool runs out)
    and could wait past the busy timeout. Waiting on a lock instead holds nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self._lock, self._engine.begin() as conn:
            yield conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def serialized_writes(engine: Engine) -> Engine:
    """`engine` for many threads at once (an account pull): writes take turns in-process."""
    return cast(Engine, _SerializedWrites(engine))


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to `revision`; at the head, the indexes made from code too."""
    from rcsync.store.attachments import ensure_attachment_indexes

    with _translate_errors(engine), engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
        if revision == "head" and conn.dialect.name == "sqlite":
            ensure_attachment_indexes(conn)


def ensure_schema(engine: Engine) -> None:
    """Refuse a database from a newer rcsync; bring an older one up to date."""
    with _translate_errors(engine):
        with engine.connect() as conn:
            current = current_revision(conn)
        if current is not None and current not in known_revisions():
            raise SchemaTooNewError(
                f"{engine.url.database}: written by a newer rcsync (schema {current}); "
                "upgrade rcsync to use this database"
            )
        if current != head_revision():
            upgrade(engine)
        _repair_indexes(engine)


def _repair_indexes(engine: Engine) -> None:
    """Re-create secondary indexes (and insert triggers) a first pull deferred and a crash
    left dropped, and the indexes created from code (`ensure_attachment_indexes`)."""
    from rcsync.store.attachments import ensure_attachment_indexes
    from rcsync.store.messages import (
        ensure_message_indexes,
        insert_triggers_deferred,
        missing_message_indexes,
    )

    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        missing = missing_message_indexes(conn) or insert_triggers_deferred(conn)
        ensure_attachment_indexes(conn)
        conn.commit()
    if missing:
        with engine.begin() as conn:
            ensure_message_indexes(conn)


def open_database(path: str | Path, *, on_wait: WaitCallback = no_wait_report) -> Engine:
    """Engine for the configured database, checked and migrated to the current schema."""
    engine = create_db_engine(path, on_wait=on_wait)
    ensure_schema(engine)
    return engine


@contextmanager
def _translate_errors(engine: Engine) -> Iterator[None]:
    """Turn low-level SQLite failures into one-line DatabaseErrors."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"{engine.url.database}: {describe_sqlite_error(exc)}") from None
    except sa.exc.DatabaseError as exc:
        raise DatabaseError(f"{engine.url.database}: {describe_sqlite_error(exc)}") from None


def describe_sqlite_error(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    msg = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    if isinstance(orig, sqlite3.DatabaseError):
        low = msg.lower()
        if "full" in low:
            return "disk is full; free some space and run the command again (nothing was lost)"
        if "readonly" in low or "read-only" in low:
            return "database is read-only (rcsync needs to write it)"
        if "locked" in low or "busy" in low:
            return "database is locked by another program; close its write transaction and retry"
        if "not a database" in low or "malformed" in low:
            return f"not a usable SQLite database ({msg})"
    return msg


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Public form of the SQLite error translation, for the sync engine's transactions."""
    with _translate_errors(engine):
        yield
