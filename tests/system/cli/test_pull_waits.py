"""A rate-limit wait is announced without -v: `rcsync pull` against a served emulator whose
limits are small (3 content downloads per 2 s window), as a user meets RingCentral's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from rcsync.cli.main import cli
from rcsync.emulator import Emulator, serve
from tests.harness.account import EMULATOR_ENV

#: Small limits with a short window: a wait of about 3 s (window + the client's margin).
SMALL_LIMITS = {
    "rate_limits": {
        "enabled": True,
        "window": 2,
        "penalty": 2,
        "limits": {"Light": 50, "Medium": 3, "Heavy": 10, "Auth": 20},
    }
}


@pytest.fixture
def served() -> Iterator[str]:
    emu = Emulator(messages=12, seed=3)
    with serve(emu, host="127.0.0.1", port=0) as server:
        httpx.put(f"{server.url}/_emulator/config", json=SMALL_LIMITS).raise_for_status()
        yield server.url


def _pull(url: str, tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ringcentral]\ntoken_file = "{tmp_path / "tokens.json"}"\n'
        f'[database]\nfiles = "{tmp_path / "files"}"\n'
    )
    env = {"RCSYNC_SERVER": url, **EMULATOR_ENV, "RCSYNC_CONFIG": str(config)}
    argv = ["--db", str(tmp_path / "m.db"), "pull", *args]
    return CliRunner().invoke(cli, argv, env=env)


def test_a_rate_limit_wait_is_announced_without_verbose(served: str, tmp_path: Path) -> None:
    result = _pull(served, tmp_path)
    assert result.exit_code == 0, result.output
    waits = re.findall(
        r"^RingCentral rate limit \(Medium, 3 per 2 s\): waiting \d+ s "
        r"\((\d+) of (\d+) attachments done\)$",
        result.output,
        re.MULTILINE,
    )
    assert waits, result.output
    # Each line says how far the download got: after a full window of 3, then 6...
    assert [int(done) for done, _total in waits][:2] == [3, 6][: len(waits[:2])]


def test_quiet_announces_nothing(served: str, tmp_path: Path) -> None:
    result = _pull(served, tmp_path, "-q")
    assert result.exit_code == 0 and result.output == ""


def test_a_lock_wait_names_the_holder(served: str, tmp_path: Path) -> None:
    import os
    import threading

    from rcsync.store.lock import engine_lock

    held, release = threading.Event(), threading.Event()

    def watch() -> None:  # another rcsync working on the same database
        with engine_lock(tmp_path / "m.db", what="watch"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=watch)
    holder.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()
    try:
        result = _pull(served, tmp_path, "--wait")
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"database locked by rcsync watch (pid {os.getpid()}): waiting"
    )
