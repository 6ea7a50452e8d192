"""The real loop (watchdog, engine worker, backoff) in-process against the emulator's httpx
transport: server errors are ridden out, an unusable login ends the watch; and as a process,
a bad login exits 1 with one line, SIGINT exits 0, --log-file appends."""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rcsync.api import build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Emulator
from rcsync.errors import AuthError
from rcsync.store.database import open_database
from rcsync.watch import run_watch
from rcsync.watch.runner import EngineWorker, Waker
from tests.harness.account import EMULATOR_CREDENTIALS
from tests.harness.loopback import WatchSetup
from tests.harness.processes import wait_for

API = "https://platform.ringcentral.com"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("rcsync.watch")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def _config(tmp_path: Path, jwt: str = "emulator-jwt") -> Config:
    return Config(
        ringcentral=RingCentralConfig(
            server=API,
            **{**EMULATOR_CREDENTIALS, "jwt": jwt},
            token_file=tmp_path / "tokens.json",
        ),
        database=DatabaseConfig(path=tmp_path / "messages.db"),
        sync=SyncConfig(download_attachments=False),
    )


def _start(
    worker: EngineWorker, db: Path, waker: Waker
) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_watch(worker, db, waker, interval=3600)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def test_server_errors_are_retried_with_backoff_until_the_edit_goes_out(
    tmp_path: Path, lines: Lines
) -> None:
    emu = Emulator(messages=30, seed=4, rate_limits=False)
    cfg = _config(tmp_path)
    engine = open_database(cfg.database.path)
    client = build_client(cfg.ringcentral, transport=emu.transport(), sleep=lambda s: None)
    worker = EngineWorker(engine, client, cfg)
    worker.pull()
    with engine.connect() as conn:  # a message the mirror has (not every remote one is)
        mid, old = conn.execute(
            sa.text("SELECT id, read_status FROM message WHERE availability = 'Alive' LIMIT 1")
        ).one()
    new = "Unread" if old == "Read" else "Read"

    emu.configure(faults={"error_rate": 1.0})
    waker = Waker()
    thread, errors = _start(worker, cfg.database.path, waker)
    try:
        user = sqlite3.connect(cfg.database.path)
        assert (
            user.execute(f"UPDATE message SET read_status = '{new}' WHERE id = {mid}").rowcount == 1
        )
        user.commit()
        user.close()
        wait_for(lambda: lines.saw("push failed, retry in"), 15, "a retry after a 5xx")
        assert thread.is_alive()
        emu.configure(faults={"error_rate": 0.0})
        wait_for(
            lambda: emu.store.get(mid)["readStatus"] == new,
            20,  # type: ignore[index]
            "the edit after the server recovered",
        )
    finally:
        waker.request_stop()
        thread.join(10)
        engine.dispose()
        client.close()
    assert not thread.is_alive() and errors == []
    assert any(line.startswith("pushed 1") for line in lines.lines)


def test_a_login_that_cannot_be_refreshed_ends_the_watch(tmp_path: Path) -> None:
    emu = Emulator(messages=5, seed=4, rate_limits=False)
    cfg = _config(tmp_path, jwt="not-the-emulator-jwt")
    engine = open_database(cfg.database.path)
    client = build_client(cfg.ringcentral, transport=emu.transport(), sleep=lambda s: None)
    waker = Waker()
    thread, errors = _start(EngineWorker(engine, client, cfg), cfg.database.path, waker)
    thread.join(20)
    engine.dispose()
    client.close()
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], AuthError)


@pytest.mark.slow
def test_bad_login_exits_1_with_one_line(make_setup: Callable[..., WatchSetup]) -> None:
    setup = make_setup(messages=5)
    setup.config.write_text(setup.config.read_text().replace('"emulator-jwt"', '"wrong"'))
    done = setup.rcsync("watch", "--interval", "1", timeout=60)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("rcsync: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr


@pytest.mark.slow
def test_sigint_exits_0_and_log_file_is_appended(make_setup: Callable[..., WatchSetup]) -> None:
    setup = make_setup(messages=10)
    log_file = setup.root / "logs" / "watch.log"
    for _ in range(2):
        watch = setup.watch("--interval", "1", "--log-file", str(log_file))
        watch.wait_log("pulled")
        assert watch.stop(signal.SIGINT) == 0, watch.log()
    text = log_file.read_text()
    assert text.count("watching ") == 2 and text.count("stopped") == 2
    assert text.splitlines()[0][:4].isdigit()  # timestamped
