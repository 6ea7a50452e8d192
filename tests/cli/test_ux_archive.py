"""The archive as a user meets it: read-only files, private modes, conflicts, search."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rcsync.cli.app import App
from rcsync.cli.output import Output
from tests.cli.ux_helpers import add_conflicts, message, run, seed


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    db = tmp_path / "m.db"
    seed(
        db,
        [
            message(11, "dentist appointment at café 16:45", read="Unread"),
            message(12, "dentist invoice", name="Bob", number="+15550199"),
            message(13, "dentist moved", avail="Deleted", created="2024-03-01T09:00:00.000Z"),
            message(14, "lunch at 16:45 tomorrow", conv="c2"),
        ],
    )
    return db


def _ids(out: str) -> list[int]:
    return [int(line.split()[0]) for line in out.splitlines() if line.strip()]


def test_search_shows_id_state_and_local_time(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    import time

    time.tzset()
    try:
        out = run("--db", str(archive), "search", "dentist").stdout
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    lines = {int(ln.split()[0]): ln for ln in out.splitlines()}
    assert set(lines) == {11, 12, 13}
    assert "2024-01-10 07:00" in lines[11]  # 12:00 UTC, shown in New York time
    assert "unread" in lines[11] and "trash" in lines[13]
    assert "unread" not in lines[12] and "trash" not in lines[12]


def test_search_filters(archive: Path) -> None:
    db = ["--db", str(archive), "search"]
    assert _ids(run(*db, "dentist", "--from", "bob").stdout) == [12]
    assert _ids(run(*db, "dentist", "--from", "0199").stdout) == [12]
    assert _ids(run(*db, "dentist", "--unread").stdout) == [11]
    assert _ids(run(*db, "dentist", "--since", "2024-02-01").stdout) == [13]
    assert _ids(run(*db, "16:45", "--conversation", "c2").stdout) == [14]


def test_an_unparseable_query_searches_its_words(archive: Path) -> None:
    # "16:45" is not FTS5 syntax; the words must each occur, not as one phrase.
    result = run("--db", str(archive), "search", "café 16:45")
    assert result.exit_code == 0, result.output
    assert _ids(result.stdout) == [11]


def test_search_says_how_many_it_left_out(archive: Path) -> None:
    result = run("--db", str(archive), "search", "dentist", "--limit", "2")
    assert len(_ids(result.stdout)) == 2
    assert "showing 2 of 3 (--limit)" in result.stderr
    doc = json.loads(
        run("--db", str(archive), "search", "dentist", "--json", "--limit", "2").stdout
    )
    assert (doc["count"], doc["total"]) == (2, 3)
    assert doc["results"][0]["creation_time"].endswith("Z")  # JSON stays UTC


def test_conflicts_lists_what_status_counts(archive: Path) -> None:
    add_conflicts(archive, 12, 2)
    doc = json.loads(run("--db", str(archive), "conflicts", "--json").stdout)
    status = json.loads(run("--db", str(archive), "status", "--json").stdout)
    assert doc["count"] == status["conflicts"] == len(doc["conflicts"]) == 2
    assert {c["message_id"] for c in doc["conflicts"]} == {12}
    text = run("--db", str(archive), "conflicts", "--limit", "1")
    assert text.exit_code == 0
    assert "12" in text.stdout and "kept_local" in text.stdout
    assert "2 conflicts recorded; showing 1 of 2 (--limit)" in text.stdout


def test_plurals_in_status(archive: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{archive}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE message SET read_status = 'Read' WHERE id = 11"))
    engine.dispose()
    out = run("--db", str(archive), "status").stdout
    assert "1 local edit waiting" in out


@pytest.fixture
def no_write_access(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What chmod 444 means for a normal user (root ignores modes, so tests pretend)."""
    real = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        if mode & os.W_OK and str(path).endswith(".db"):
            return False
        return real(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    yield


def test_read_only_archive_still_answers_status_and_search(
    archive: Path, no_write_access: None
) -> None:
    archive.chmod(0o444)
    status = run("--db", str(archive), "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["messages"]["total"] == 4
    search = run("--db", str(archive), "search", "dentist")
    assert search.exit_code == 0, search.output
    assert _ids(search.stdout)
    assert run("--db", str(archive), "conflicts").exit_code == 0


def test_the_read_only_engine_really_does_not_write(archive: Path, no_write_access: None) -> None:
    app = App(config_path=None, db_path=archive, verbosity=0, output=Output())
    with app.reader().connect() as conn, pytest.raises(sa.exc.OperationalError):
        conn.execute(sa.text("UPDATE message SET subject = 'x'"))
    app.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_chmod_444_archive_for_real(archive: Path) -> None:
    archive.chmod(0o444)
    assert run("--db", str(archive), "status").exit_code == 0


def test_a_new_database_is_private(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "m.db"
    assert run("--db", str(db), "db", "upgrade").exit_code == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in db.parent.iterdir() if p.is_file())


def test_an_exposed_archive_is_warned_about_once() -> None:
    shared = Path(tempfile.mkdtemp(dir="/tmp"))  # outside pytest's private 0700 folders
    try:
        shared.chmod(0o755)
        db = shared / "m.db"
        seed(db, [])
        db.chmod(0o644)
        first = run("--db", str(db), "pending")
        assert "readable by other users (mode 0644)" in first.stderr
        second = run("--db", str(db), "pending")
        assert "readable by other users" not in second.stderr
        db.chmod(0o600)
        assert "readable" not in run("--db", str(db), "pending").stderr
    finally:
        for p in shared.iterdir():
            p.unlink()
        shared.rmdir()
