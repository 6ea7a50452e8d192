"""The CLI's shared context: configuration, database, API client, output, built lazily.

Commands ask for what they need (`app.config`, `app.engine()`, `app.client()`), so
`rcsync --help` or `rcsync init` never touch the database or the network. Heavy modules
(SQLAlchemy, the API client) are imported only when a command needs them: startup time.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsync.config import Config, load_config
from rcsync.errors import ConfigError, DatabaseError

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.engine import Engine

    from rcsync.api import MessageStoreClient
    from rcsync.cli.output import Output, TerminalProgress

#: What rcsync creates (database, attachments, lock files) is for the user alone: the
#: messages are as private as the tokens.
PRIVATE_UMASK = 0o077


#: sync_state key remembering the warning about a shared archive, so it is given once.
WARNED_SHARED_KEY = "warned_shared_mode"


def _exposed_mode(path: Path) -> int | None:
    """The mode of `path` if another user can actually read it, else None.

    Readable means the read bit for group or others on the file *and* the search bit on
    every folder above it: a 0644 file inside a 0700 home is not exposed.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        folders = [stat.S_IMODE(p.stat().st_mode) for p in path.absolute().parents]
    except OSError:
        return None
    for read_bit, search_bit in ((stat.S_IRGRP, stat.S_IXGRP), (stat.S_IROTH, stat.S_IXOTH)):
        if mode & read_bit and all(m & search_bit for m in folders):
            return mode
    return None


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders created inside the block are 0600/0700."""
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


@dataclass
class App:
    config_path: Path | None
    db_path: Path | None
    verbosity: int  # -1 quiet, 0 normal, 1+ verbose
    output: Output
    insecure: bool = False
    _config: Config | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)
    _client: MessageStoreClient | None = field(default=None, repr=False)
    created_database: Path | None = field(default=None, repr=False)
    _progress: TerminalProgress | None = field(default=None, repr=False)

    def progress(self) -> TerminalProgress:
        """The one progress display of this run: the pipelines advance it, and the API
        client and the engine lock tell it of their waits."""
        if self._progress is None:
            self._progress = self.output.progress()
        return self._progress

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, db_override=self.db_path)
            self._describe_setup(self._config)
        return self._config

    def _describe_setup(self, cfg: Config) -> None:
        """-v: which config, database, server and user this run uses."""
        rc = cfg.ringcentral
        user = rc.username or ("JWT" if rc.jwt else "not configured")
        if rc.username and rc.extension:
            user += f" ext {rc.extension}"
        self.output.debug(
            f"config {cfg.source}; database {cfg.database.path}; server {rc.server}; user {user}"
        )

    @property
    def database_path(self) -> Path:
        return self.config.database.path

    def require_credentials(self) -> None:
        """Before anything is created: a command that talks to RingCentral needs an app.

        Without this a pull with no config left an empty database behind and an error
        about a key the user had never heard of.
        """
        cfg = self.config
        if cfg.ringcentral.client_id or cfg.ringcentral.token_file.exists():
            return
        if cfg.source == "defaults":
            raise ConfigError(
                "no configuration yet: run `rcsync init` "
                "(or set RCSYNC_CLIENT_ID, RCSYNC_CLIENT_SECRET and RCSYNC_JWT)"
            )
        raise ConfigError(
            f"{cfg.source}: no [ringcentral] client_id: add it, "
            "or run `rcsync init --force` to write the config again"
        )

    def engine(self, *, create: bool = True) -> Engine:
        """The database, checked and migrated to the current schema.

        Commands that only read or edit what a pull brought (`status`, `search`, `mark`…)
        pass ``create=False``: a mistyped --db must not leave an empty database behind.
        """
        if self._engine is not None:
            return self._engine
        path = self.database_path
        if not path.exists():
            if not create:
                raise DatabaseError(
                    f"{path}: no database yet "
                    "(run `rcsync pull` first, or check --db / [database] path)"
                )
            self._engine = self._create_database(path)
            return self._engine
        from rcsync.store.database import open_database

        self._engine = open_database(path, on_wait=self.progress().waiting)
        self._warn_if_shared(self._engine)
        return self._engine

    def reader(self) -> Engine:
        """The database for a command that only reads (`status`, `search`): read-only when
        the file is not writable, so a chmod 444 archive can still be looked at."""
        path = self.database_path
        if self._engine is not None or not path.exists() or os.access(path, os.W_OK):
            return self.engine(create=False)
        from rcsync.store.readonly import open_read_only

        self._engine = open_read_only(path)
        return self._engine

    def read_connection(self) -> sqlite3.Connection:
        """A plain read-only sqlite3 connection (`status`, `conflicts`): no SQLAlchemy or
        Alembic to load when the schema is current; an older one is migrated first (if the
        file is writable). The caller closes it."""
        from rcsync.store.readonly import connect_read_only, open_current

        path = self.database_path
        conn = open_current(path) if path.exists() else None
        if conn is not None:
            return conn
        self.reader()  # creates nothing; migrates, or says why it cannot
        return connect_read_only(path)

    def _create_database(self, path: Path) -> Engine:
        """A new database, private from its first byte (SQLite gives -wal/-shm its mode)."""
        from rcsync.store.database import open_database

        with private_umask():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise DatabaseError(f"{path}: cannot create: {exc.strerror}") from None
            engine = open_database(path, on_wait=self.progress().waiting)
        self.created_database = path
        return engine

    def report_created(self) -> None:
        """After a command succeeded: where the new database is. (On failure the error
        is the one line; printing this first would bury it.)"""
        if self.created_database is not None:
            self.output.info(f"created database {self.created_database}")
            self.created_database = None

    def _warn_if_shared(self, engine: Engine) -> None:
        """Once per database (and mode): an archive made before rcsync created it private."""
        from rcsync.store.state import get_state, set_state

        path = self.database_path
        mode = _exposed_mode(path)
        if mode is None:
            return
        with engine.begin() as conn:
            if get_state(conn, WARNED_SHARED_KEY) == f"{mode:04o}":
                return
            set_state(conn, WARNED_SHARED_KEY, f"{mode:04o}")
        files = self.config.database.files_dir
        self.output.warn(
            f"{path} is readable by other users (mode {mode:04o}); "
            f"`chmod 600 {path}*; chmod -R go-rwx {files}` keeps your messages private"
        )

    @contextmanager
    def engine_lock(
        self, what: str, *, wait: bool = False, can_wait: bool = True
    ) -> Iterator[None]:
        """One engine per database (pull/push/sync/watch); `can_wait`: the command has --wait."""
        from rcsync.store.lock import engine_lock

        self.engine()  # checks the path first, so lock errors are about locks only
        with (
            private_umask(),
            engine_lock(
                self.database_path,
                wait=wait,
                what=what,
                can_wait=can_wait,
                on_wait=self.progress().waiting,
            ),
        ):
            yield

    @staticmethod
    def extension_id(conn: Any, number: str | None) -> str | None:
        """The archive's id of extension `number` (``--extension``); None for None."""
        if number is None:
            return None
        from rcsync.errors import ExtensionAccessError
        from rcsync.store.status import extension_id_for

        found = extension_id_for(conn, number)
        if found is None:
            raise ExtensionAccessError(f"extension {number} is not in this archive")
        return found

    def client(self) -> MessageStoreClient:
        """The RingCentral API client (logs in by itself when a JWT is configured)."""
        if self._client is None:
            from rcsync.api import build_client

            self._client = build_client(
                self.config.ringcentral, insecure=self.insecure, on_wait=self.progress().waiting
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
