"""`rcsync export` on the command line: summary, --json, one-line errors with exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rcsync.cli.main import cli
from tests.harness.inprocess import Archive


def _invoke(archive: Archive, *args: str) -> Result:
    config = archive.db_path.parent / "config.toml"
    config.write_text(f'[database]\nfiles = "{archive.files}"\n')
    return CliRunner().invoke(
        cli, ["--config", str(config), "--db", str(archive.db_path), "export", *args]
    )


def test_json_summary(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = _invoke(archive, "csv", "--out", str(out), "--type", "SMS", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == "csv" and summary["path"] == str(out)
    assert summary["messages"] == len(out.read_text().splitlines()) - 1 > 0
    assert summary["bytes"] == out.stat().st_size


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["xls", "--out", "{tmp}/x"], "unknown export format 'xls'"),
        (["csv", "--out", "{tmp}/x.csv", "--since", "last week"], "not a date"),
        (["html", "--out", "{tmp}/full"], "folder is not empty"),
        (["csv", "--out", "{tmp}/full"], "is a folder"),
        (["csv", "--out", "{tmp}/file/x.csv"], "file"),
    ],
)
def test_bad_input_is_one_line_exit_1(
    archive: Archive, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("mine")
    (tmp_path / "file").write_text("a file, not a folder")
    result = _invoke(archive, *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rcsync: error: ") and message in lines[0]
    assert "Traceback" not in result.output
    assert (tmp_path / "full" / "mine.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "file", "full"]


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "typo.db"
    result = CliRunner().invoke(
        cli, ["--db", str(db), "export", "csv", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1 and "no database yet" in result.stderr
    assert not db.exists()
