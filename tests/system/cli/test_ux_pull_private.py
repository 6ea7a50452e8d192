"""A real pull (emulator on loopback): attachments land private, the new database is named."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcsync.config import default_token_file
from rcsync.emulator import serve
from tests.harness.inprocess import fast_emulator
from tests.system.cli.ux_helpers import run


@pytest.fixture
def url() -> Iterator[str]:
    with serve(fast_emulator(60, 5), host="127.0.0.1", port=0) as server:
        yield server.url


def test_pull_creates_a_private_archive_and_says_where(url: str, tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[database]\npath = "archive/m.db"\n')
    env = {
        "RCSYNC_SERVER": url,
        "RCSYNC_CLIENT_ID": "emulator-client",
        "RCSYNC_CLIENT_SECRET": "emulator-secret",
        "RCSYNC_JWT": "emulator-jwt",
    }
    result = run("--config", str(conf), "pull", env=env)
    assert result.exit_code == 0, result.output
    db = tmp_path / "archive" / "m.db"
    assert f"created database {db}" in result.stderr
    files = db.parent / "files"
    stored = [p for p in files.rglob("*") if p.is_file()]
    assert stored, "the emulator's store has attachments"
    for path in [db, *stored]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in [db.parent, files, *(p for p in files.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    # This config's own token file (not the default config's tokens.json), private.
    [tokens] = default_token_file().parent.glob("tokens-c-*.json")
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert not default_token_file().exists()

    again = run("--config", str(conf), "pull", "-q", "--json", env=env)
    assert again.exit_code == 0, again.output
    doc = json.loads(again.stdout)
    assert (doc["new"], doc["messages"], doc["database"]) == (0, 0, str(db))
