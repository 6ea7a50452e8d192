"""Helpers for the watch tests: a served emulator, a config pointing at it, and `rcsync watch`
as a real process. (A plain module, not conftest: test files import the helpers by name.)"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rcsync.emulator import Emulator, serve
from tests.fixtures import EMULATOR_TOML

SQLITE3 = "/usr/bin/sqlite3"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@dataclass
class Setup:
    emu: Emulator
    url: str
    root: Path
    config: Path
    db: Path
    procs: list[WatchProcess] = field(default_factory=list)

    def rcsync(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rcsync", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def first_pull(self) -> None:
        """`rcsync pull`, or the engine's pull in-process while the CLI is a placeholder."""
        done = self.rcsync("pull")
        if done.returncode == 0:
            return
        assert "not implemented" in done.stderr, done.stderr
        from rcsync.api import build_client
        from rcsync.config import load_config
        from rcsync.store.database import open_database
        from rcsync.sync.pull import pull

        cfg = load_config(self.config)
        engine = open_database(self.db)
        with build_client(cfg.ringcentral) as client:
            pull(engine, client, cfg)
        engine.dispose()

    def watch(self, *args: str, name: str = "watch") -> WatchProcess:
        proc = WatchProcess.start(self, list(args), self.root / f"{name}-{len(self.procs)}.log")
        self.procs.append(proc)
        return proc

    def sql(self, statement: str) -> str:
        """Run SQL with the sqlite3 shell, as a user would."""
        done = subprocess.run(
            [SQLITE3, "-cmd", ".timeout 30000", str(self.db), statement],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    def pending(self) -> int:
        return int(self.query("SELECT count(*) FROM pending_change")[0][0])


# Lines of the standard loggers under -v ("<time> INFO alembic...: ..."), not the watch's.
OTHER_LOGGER = re.compile(r"^\S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


@dataclass
class WatchProcess:
    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, setup: Setup, args: list[str], log_path: Path) -> WatchProcess:
        log = log_path.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "rcsync", "--config", str(setup.config), "-v", "watch", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return cls(popen, log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 20) -> None:
        """Wait for a line of the watch's own log (rcsync.watch) containing `text`; other
        loggers' lines (-v shows migrations, API calls) could contain the same words."""

        def watch_lines() -> str:
            return "\n".join(
                line for line in self.log().splitlines() if not OTHER_LOGGER.match(line)
            )

        def seen() -> bool:
            if self.popen.poll() is not None and text not in watch_lines():
                raise AssertionError(f"watch exited ({self.popen.returncode}):\n{self.log()}")
            return text in watch_lines()

        wait_for(seen, timeout, f"{text!r} in the watch log")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


def write_config(root: Path, url: str, *, interval: float = 1.0) -> Path:
    config = root / "config.toml"
    config.write_text(f"""
[ringcentral]
server = "{url}"
{EMULATOR_TOML}token_file = "{root / "tokens.json"}"

[database]
path = "{root / "messages.db"}"

[sync]
watch_interval = {interval}
download_attachments = false
delete_guard = 100000
""")
    return config


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    servers: list[Any] = []
    setups: list[Setup] = []

    def make(messages: int = 60, seed: int = 5) -> Setup:
        emu = Emulator(messages=messages, seed=seed, rate_limits=False)
        cm = serve(emu)
        server = cm.__enter__()
        servers.append(cm)
        root = tmp_path / f"s{len(setups)}"
        root.mkdir()
        setup = Setup(emu, server.url, root, write_config(root, server.url), root / "messages.db")
        setups.append(setup)
        return setup

    yield make
    for setup in setups:
        for proc in setup.procs:
            proc.kill()
    for cm in servers:
        cm.__exit__(None, None, None)
