"""`rcsync login/pull/search/logout` against an emulator served on loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rcsync.cli.main import cli
from rcsync.emulator import Emulator, serve
from rcsync.store.database import open_database
from tests.harness.account import EMULATOR_ENV
from tests.harness.inprocess import fast_emulator
from tests.harness.mirror import mirror_problems


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emu = fast_emulator(400, 11)
    with serve(emu, host="127.0.0.1", port=0) as server:
        yield emu, server.url


@pytest.fixture
def run(served: tuple[Emulator, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    _emu, url = served
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ringcentral]\ntoken_file = "{tmp_path / "tokens.json"}"\n'
        f'[database]\nfiles = "{tmp_path / "files"}"\n'
    )
    env = {
        "RCSYNC_SERVER": url,
        **EMULATOR_ENV,
        "RCSYNC_CONFIG": str(config),
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--db", str(tmp_path / "m.db"), *args], env=env)

    return invoke


def test_login_pull_search_logout(run, served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emu, _url = served
    login = run("login")
    assert login.exit_code == 0, login.output
    assert "Emulator User" in login.output and "emulator-jwt" not in login.output
    first = run("pull")
    assert first.exit_code == 0, first.output
    assert "pulled" in first.output and "new" in first.output
    engine = open_database(tmp_path / "m.db")
    assert mirror_problems(engine, emu) == []
    assert list((tmp_path / "files").rglob("*.wav"))
    emu.store.arrive(2)
    second = run("pull")
    assert second.exit_code == 0 and "(2 new" in second.output
    assert mirror_problems(engine, emu) == []

    hits = run("search", "meeting")
    assert hits.exit_code == 0 and "meeting" in hits.output.lower()
    as_json = run("search", "--json", "--limit", "3", "meeting")
    doc = json.loads(as_json.output)
    assert doc["count"] == len(doc["results"]) <= 3 and doc["results"][0]["who"]
    for hostile in ("\"'; DROP TABLE message; --", "a:b", "("):
        result = run("search", hostile)
        assert result.exit_code in (0, 1) and "Traceback" not in result.output
    assert run("search", "--json", "meeting").exit_code == 0  # table still there

    out = run("logout")
    assert out.exit_code == 0 and "logged out" in out.output
    assert not (tmp_path / "tokens.json").exists()
    engine.dispose()


def test_pull_quiet_prints_nothing(run) -> None:  # type: ignore[no-untyped-def]
    result = run("-q", "pull")
    assert result.exit_code == 0 and result.output == ""
