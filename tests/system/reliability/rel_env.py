"""Helpers for reliability tests: an emulator served on real loopback HTTP, configs (as
objects and as TOML files), the engine in-process or as real ``rcsync`` subprocesses, and
snapshots of the local mirror to compare runs.

Everything binds 127.0.0.1 and lives in the test's tmp_path; nothing here depends on a
real RingCentral account.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, TokenStore, build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Emulator, serve
from rcsync.store.database import open_database
from tests.fixtures import CLIENT_AUTH, EMULATOR_CREDENTIALS

SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"
CLIENT_ID, CLIENT_SECRET = CLIENT_AUTH
JWT = EMULATOR_CREDENTIALS["jwt"]
WRITE_OPS = ("updateMessage", "patchMessage", "deleteMessage", "deleteMessageByFilter")


def rcsync_cmd() -> list[str]:
    """The real command line program (the installed entry point, else ``python -m``)."""
    exe = Path(sys.executable).with_name("rcsync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rcsync"]


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_toml(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


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
        values: dict[str, Any] = {
            "server": self.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "jwt": JWT,
            "token_file": self.token_file,
        }
        values.update(self.rc_overrides)
        values.update(over)
        return RingCentralConfig(**values)

    def config(self, *, rc: Mapping[str, Any] | None = None, **sync: Any) -> Config:
        values: dict[str, Any] = {"download_attachments": False, "delete_guard": 100_000}
        values.update(self.sync_overrides)
        values.update(sync)
        return Config(
            ringcentral=self.rc(**(rc or {})),
            database=DatabaseConfig(path=self.db),
            sync=replace(SyncConfig(), **values),
        )

    def config_file(
        self,
        name: str = "config.toml",
        *,
        rc: Mapping[str, Any] | None = None,
        db: Path | None = None,
        **sync: Any,
    ) -> Path:
        rcv: dict[str, Any] = {
            "server": self.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "jwt": JWT,
            "token_file": str(self.token_file),
        }
        rcv.update(self.rc_overrides)
        rcv.update(rc or {})
        rcv = {k: (str(v) if isinstance(v, Path) else v) for k, v in rcv.items()}
        syncv: dict[str, Any] = {"download_attachments": False, "delete_guard": 100_000}
        syncv.update(self.sync_overrides)
        syncv.update(sync)
        return write_toml(
            self.home / name,
            {
                "ringcentral": {k: v for k, v in rcv.items() if v is not None},
                "database": {"path": str(db or self.db)},
                "sync": syncv,
            },
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
        eng = open_database(self.db)
        try:
            yield eng
        finally:
            eng.dispose()

    def pull(self, **kw: Any) -> Any:
        from rcsync.sync.pull import pull

        config = kw.pop("config", None) or self.config()
        given = kw.pop("client", None)
        client = given or self.client()
        try:
            with self.engine() as eng:
                return pull(eng, client, config, **kw)
        finally:
            if given is None:
                client.close()

    def push(self, **kw: Any) -> Any:
        from rcsync.sync.push import push

        config = kw.pop("config", None) or self.config()
        given = kw.pop("client", None)
        client = given or self.client()
        try:
            with self.engine() as eng:
                return push(eng, client, config, **kw)
        finally:
            if given is None:
                client.close()

    def sync(self, **kw: Any) -> Any:
        from rcsync.sync.reconcile import sync

        config = kw.pop("config", None) or self.config()
        given = kw.pop("client", None)
        client = given or self.client()
        try:
            with self.engine() as eng:
                return sync(eng, client, config, **kw)
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
        # A busy timeout, as SQLite browsers set: rcsync holds the write lock for a moment
        # per page or batch, and the shell's default is to fail at once.
        done = subprocess.run(
            [SQLITE3, "-bail", "-cmd", ".timeout 30000", str(db or self.db), script],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode:
            raise AssertionError(f"sqlite3 failed: {done.stderr}")
        return done.stdout

    def rows(self, query: str, *, db: Path | None = None) -> list[tuple[Any, ...]]:
        eng = sa.create_engine(f"sqlite:///{db or self.db}")
        try:
            with eng.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(query))]
        finally:
            eng.dispose()

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
        cfg = config or self.config_file()
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [*rcsync_cmd(), "--config", str(cfg), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
        )

    def popen(self, *args: str, config: Path | None = None) -> subprocess.Popen[str]:
        cfg = config or self.config_file()
        return subprocess.Popen(
            [*rcsync_cmd(), "--config", str(cfg), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


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


# --- comparing mirrors ----------------------------------------------------------------------

MIRROR_QUERY = (
    "SELECT id, type, read_status, availability, base_read_status,"
    " base_availability, creation_time, subject FROM message ORDER BY id"
)


def mirror(env: Served, *, db: Path | None = None) -> dict[int, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in env.rows(MIRROR_QUERY, db=db)}


def assert_mirror_matches_remote(env: Served, *, db: Path | None = None) -> None:
    """Every remote message the mirror can know of is there, with the remote's state, and
    nothing is pending; purged messages only need their availability right."""
    local = mirror(env, db=db)
    tombstoned = {r[0] for r in env.rows("SELECT message_id FROM tombstone", db=db)}
    pending = env.rows("SELECT * FROM pending_change", db=db)
    assert pending == [], pending[:5]
    problems = []
    for mid, record in env.remote().items():
        if mid in tombstoned:
            continue
        got = local.get(mid)
        if record["availability"] == "Purged":
            if got is not None and got[2] != "Purged":
                problems.append((mid, got, "Purged"))
            continue
        want = (record["readStatus"], record["availability"])
        if got is None or (got[1], got[2]) != want or (got[3], got[4]) != want:
            problems.append((mid, got, want))
    assert not problems, f"{len(problems)} differences, e.g. {problems[:5]}"


def integrity_ok(env: Served, *, db: Path | None = None) -> None:
    # Not foreign_key_check: the sqlite3 shell runs with foreign_keys off, so a user's
    # DELETE FROM message leaves its attachment rows behind (the engine ignores them).
    assert env.sql("PRAGMA integrity_check;", db=db).strip() == "ok"
