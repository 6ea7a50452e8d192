"""`rcsync demo` runs the whole job on the built-in emulator with nothing configured."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from rcsync.cli import cli


def test_demo_in_a_kept_folder(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder), "--messages", "300"])
    assert result.exit_code == 0, result.output + result.stderr
    out = result.output
    for step in (
        "1. pull",
        "2. search",
        "3. edit with plain SQL",
        "4. push",
        "6. sync",
        "7. before and after",
    ):
        assert step in out
    assert "pushed" in out and "0 failed" in out
    con = sqlite3.connect(folder / "messages.db")
    assert con.execute("SELECT count(*) FROM message").fetchone()[0] >= 290
    assert con.execute("SELECT count(*) FROM pending_change").fetchone()[0] == 0
    # every trash edit the demo made is now Deleted locally (and was confirmed remotely)
    assert (
        con.execute(
            "SELECT count(*) FROM message WHERE availability = 'Deleted'"
            " AND base_availability = 'Deleted'"
        ).fetchone()[0]
        >= 2
    )
    assert f"sqlite3 {folder / 'messages.db'}" in out
    # SMS text comes from the subject: no Text part is fetched, and the text is there.
    assert (
        con.execute(
            "SELECT count(*) FROM attachment WHERE type = 'Text' AND path IS NOT NULL"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM message WHERE type = 'SMS'"
            " AND text IS NOT NULL AND text = subject"
        ).fetchone()[0]
        > 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM attachment WHERE path IS NOT NULL AND type = 'AudioRecording'"
        ).fetchone()[0]
        > 0
    )


def test_demo_temporary_folder_is_removed() -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("rcsync-demo-*"))
    result = CliRunner().invoke(cli, ["demo", "--messages", "50"])
    assert result.exit_code == 0, result.output + result.stderr
    assert set(Path(tempfile.gettempdir()).glob("rcsync-demo-*")) <= before


def test_demo_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "not empty" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
