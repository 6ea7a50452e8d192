"""The CLI's shared context: configuration, database, API client, output, built lazily.

Commands ask for what they need (`app.config`, `app.engine()`, `app.client()`), so
`rcsync --help` or `rcsync init` never touch the database or the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rcsync.config import Config, load_config
from rcsync.store.lock import engine_lock

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rcsync.api import MessageStoreClient
    from rcsync.cli.output import Output


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

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, db_override=self.db_path)
        return self._config

    @property
    def database_path(self) -> Path:
        return self.config.database.path

    def engine(self, *, create: bool = True) -> Engine:
        """The database, checked and migrated to the current schema.

        Commands that only read or edit what a pull brought (`status`, `search`, `mark`…)
        pass ``create=False``: a mistyped --db must not leave an empty database behind.
        """
        if not create and self._engine is None and not self.database_path.exists():
            from rcsync.errors import DatabaseError

            raise DatabaseError(
                f"{self.database_path}: no database yet "
                "(run `rcsync pull` first, or check --db / [database] path)"
            )
        if self._engine is None:
            from rcsync.store.database import open_database

            self._engine = open_database(self.database_path)
        return self._engine

    @contextmanager
    def engine_lock(self, what: str, *, wait: bool = False) -> Iterator[None]:
        """One engine per database (pull/push/sync/watch)."""
        self.engine()  # checks the path first, so lock errors are about locks only
        with engine_lock(self.database_path, wait=wait, what=what):
            yield

    def client(self) -> MessageStoreClient:
        """The RingCentral API client (logs in by itself when a JWT is configured)."""
        if self._client is None:
            from rcsync.api import build_client

            self._client = build_client(self.config.ringcentral, insecure=self.insecure)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
