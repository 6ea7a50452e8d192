"""Startup stays light: `--help`, `--version` and `status` load no SQLAlchemy, Alembic or
httpx (what made every command take ~1 s). Checked by module, not by timing (the figures
are in the README's performance notes and the commit message)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rcsync.cli.readonly import quick_head_revision
from rcsync.db import head_revision
from tests.cli.ux_helpers import seed

HEAVY = ("sqlalchemy", "alembic", "httpx", "sqlmodel")

_PROBE = """
import sys
from rcsync.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="rcsync")
except SystemExit:
    pass
print("LOADED", *[m for m in {heavy!r} if m in sys.modules])
"""


def _loaded(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    [line] = [ln for ln in out.splitlines() if ln.startswith("LOADED")]
    return line.split()[1:]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["status", "--help"]])
def test_help_and_version_load_nothing_heavy(args: list[str]) -> None:
    assert _loaded(*args) == []


def test_status_loads_nothing_heavy(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, [])
    assert _loaded("--db", str(db), "status") == []
    assert _loaded("--db", str(db), "status", "--json") == []


def test_quick_head_matches_alembic() -> None:
    assert quick_head_revision() == head_revision()
