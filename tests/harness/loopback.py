"""The emulator served on real loopback HTTP (127.0.0.1, a free port) for one user's files
in the test's tmp_path: configs as objects and as TOML files, the engine in-process over
the socket, real `rcsync` processes, the emulator's control API, and the database as any
other program sees it. Nothing here depends on a real RingCentral account.

* `Served` / `served(home)`: the reliability tests' world;
* `WatchSetup`: the watch tests' world (a config file with a short watch interval, and
  `rcsync watch` processes that are killed at the end of the test).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, TokenStore, build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig, load_config
from rcsync.emulator import Emulator, serve
from tests.harness.config import TEST_SYNC, rc_config, write_config
from tests.harness.database import file_rows, opened, shell
from tests.harness.processes import WatchProcess, popen_rcsync, run_rcsync


@dataclass
class Served:
    """One emulator on loopback plus one user's files (config, tokens, database)."""

    emu: Emulator
    url: str
    home: Path
    ctl: httpx.Client
    rc_overrides: dict[str, Any] = field(default_factory=dict)
    sync_overrides: dict[str, Any] = field(default_factory=dict)

    # --- files --------------------------------------------------------------------------

    @property
    def db(self) -> Path:
        return self.home / "messages.db"

    @property
    def token_file(self) -> Path:
        return self.home / "tokens.json"

    def rc(self, **over: Any) -> RingCentralConfig:
        values = {"server": self.url, "token_file": self.token_file, **self.rc_overrides, **over}
        return rc_config(**values)

    def config(self, *, rc: Mapping[str, Any] | None = None, **sync: Any) -> Config:
        return Config(
            ringcentral=self.rc(**(rc or {})),
            database=DatabaseConfig(path=self.db),
            sync=replace(SyncConfig(), **{**TEST_SYNC, **self.sync_overrides, **sync}),
        )

    def config_file(
        self,
        name: str = "config.toml",
        *,
        rc: Mapping[str, Any] | None = None,
        db: Path | None = None,
        **sync: Any,
    ) -> Path:
        return write_config(
            self.home / name,
            server=self.url,
            token_file=self.token_file,
            db=db or self.db,
            rc={**self.rc_overrides, **(rc or {})},
            **{**self.sync_overrides, **sync},
        )

    # --- in-process engine over loopback -------------------------------------------------

    def client(
        self, *, rc: Mapping[str, Any] | None = None, transport: httpx.BaseTransport | None = None
    ) -> MessageStoreClient:
        return build_client(
            self.rc(**(rc or {})), transport=transport, store=TokenStore(self.token_file)
        )

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        with opened(self.db) as eng:
            yield eng

    def pull(self, **kw: Any) -> Any:
        from rcsync.sync.pull import pull

        return self._run(pull, **kw)

    def push(self, **kw: Any) -> Any:
        from rcsync.sync.push import push

        return self._run(push, **kw)

    def sync(self, **kw: Any) -> Any:
        from rcsync.sync.reconcile import sync

        return self._run(sync, **kw)

    def _run(self, pipeline: Any, **kw: Any) -> Any:
        """`pipeline(engine, client, config, **kw)`; `config` and `client` may be given,
        else this user's (a client made here is closed here)."""
        config = kw.pop("config", None) or self.config()
        given = kw.pop("client", None)
        client = given or self.client()
        try:
            with self.engine() as eng:
                return pipeline(eng, client, config, **kw)
        finally:
            if given is None:
                client.close()

    # --- control API -----------------------------------------------------------------------

    def configure(self, **body: Any) -> dict[str, Any]:
        r = self.ctl.put("/_emulator/config", json=body)
        r.raise_for_status()
        return dict(r.json())

    def post(self, path: str, body: Any = None) -> Any:
        r = self.ctl.post(path, json=body or {})
        r.raise_for_status()
        return r.json()

    def counters(self) -> dict[str, Any]:
        return dict(self.ctl.get("/_emulator/requests").json())

    def reset_counters(self) -> None:
        self.ctl.delete("/_emulator/requests").raise_for_status()

    def rate_log(self) -> list[dict[str, Any]]:
        return list(self.ctl.get("/_emulator/rate-limit-log").json()["events"])

    def remote(self) -> dict[int, dict[str, Any]]:
        return {int(r["id"]): r for r in self.ctl.get("/_emulator/messages").json()["records"]}

    # --- the database, as any other program sees it ---------------------------------------

    def sql(self, script: str, *, db: Path | None = None) -> str:
        return shell(db or self.db, script)

    def rows(self, query: str, *, db: Path | None = None) -> list[tuple[Any, ...]]:
        return file_rows(db or self.db, query)

    def scalar(self, query: str, *, db: Path | None = None) -> Any:
        return self.rows(query, db=db)[0][0]

    # --- real rcsync processes -------------------------------------------------------------

    def run(
        self,
        *args: str,
        config: Path | None = None,
        timeout: float = 300,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run_rcsync(config or self.config_file(), *args, timeout=timeout, env=env)

    def popen(self, *args: str, config: Path | None = None) -> subprocess.Popen[str]:
        return popen_rcsync(config or self.config_file(), *args)


@contextmanager
def served(
    home: Path, *, messages: int = 200, seed: int = 1, rate_limits: bool = False
) -> Iterator[Served]:
    home.mkdir(parents=True, exist_ok=True)
    emu = Emulator(messages=messages, seed=seed, rate_limits=rate_limits)
    with (
        serve(emu, host="127.0.0.1", port=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as ctl,
    ):
        yield Served(emu, server.url, home, ctl)


@dataclass
class WatchSetup:
    """A served emulator, a config file pointing at it (watch interval 1 s), the database
    path, and the `rcsync watch` processes started for the test."""

    emu: Emulator
    url: str
    root: Path
    config: Path
    db: Path
    procs: list[WatchProcess] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        emu: Emulator,
        url: str,
        root: Path,
        *,
        interval: float = 1.0,
        account: Mapping[str, Any] | None = None,
    ) -> WatchSetup:
        db = root / "messages.db"
        config = write_config(
            root / "config.toml",
            server=url,
            token_file=root / "tokens.json",
            db=db,
            account=account,
            watch_interval=interval,
        )
        return cls(emu, url, root, config, db)

    def rcsync(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_rcsync(self.config, *args, timeout=timeout)

    def first_pull(self) -> None:
        """`rcsync pull`, or the engine's pull in-process while the CLI is a placeholder."""
        done = self.rcsync("pull")
        if done.returncode == 0:
            return
        assert "not implemented" in done.stderr, done.stderr
        from rcsync.sync.pull import pull

        cfg = load_config(self.config)
        with opened(self.db) as engine, build_client(cfg.ringcentral) as client:
            pull(engine, client, cfg)

    def watch(self, *args: str, name: str = "watch") -> WatchProcess:
        log = self.root / f"{name}-{len(self.procs)}.log"
        proc = WatchProcess.start(self.config, list(args), log)
        self.procs.append(proc)
        return proc

    def sql(self, statement: str) -> str:
        """Run SQL with the sqlite3 shell, as a user would."""
        return shell(self.db, statement, timeout=60).strip()

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return file_rows(self.db, statement, params)

    def pending(self) -> int:
        return int(self.query("SELECT count(*) FROM pending_change")[0][0])
