"""jsonl, csv and smsxml exports: contents match the database, filters select, files atomic."""

from __future__ import annotations

import csv
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from rcsync.errors import ExportError
from rcsync.export import ExportFormat, build_filters, export
from rcsync.export.csv_format import COLUMNS
from tests.harness.inprocess import Archive


def _rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def _run(archive: Archive, engine: Engine, fmt: ExportFormat, out: Path, **filters: Any) -> Any:
    return export(engine, fmt, out, files_dir=archive.files, filters=build_filters(**filters))


def test_jsonl_has_every_message_with_raw_and_files(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "all.jsonl"
    summary = _run(archive, archive_engine, ExportFormat.JSONL, out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = _rows(archive.db_path, "SELECT id, raw FROM message ORDER BY creation_time, id")
    assert [(r["id"], r["raw"]) for r in lines] == [(i, json.loads(raw)) for i, raw in expected]
    assert summary.messages == len(lines) and summary.bytes == out.stat().st_size
    with_files = [a for r in lines for a in r["attachments"] if a["file"]]
    assert with_files, "the archive has downloaded attachments"
    for attachment in with_files:
        assert Path(attachment["file"]) == archive.files / attachment["path"]
        assert Path(attachment["file"]).is_file()
    assert {"base_read_status", "from_name", "conversation_key"} <= set(lines[0])


def test_csv_columns_and_filters(archive: Archive, archive_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "vm.csv"
    _run(archive, archive_engine, ExportFormat.CSV, out, types=("voicemail",), since="2024-06-01")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = _rows(
        archive.db_path,
        "SELECT id, transcription FROM message WHERE type = 'VoiceMail'"
        " AND creation_time >= '2024-06-01' ORDER BY creation_time, id",
    )
    assert expected, "the sample archive has voicemail after the date"
    assert [(int(r["id"]), r["transcription"]) for r in rows] == [(i, t or "") for i, t in expected]
    assert tuple(rows[0]) == COLUMNS
    assert all(r["attachments"].endswith(".txt") or ".wav" in r["attachments"] for r in rows)


def test_until_takes_the_whole_day(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    (day,) = _rows(archive.db_path, "SELECT substr(max(creation_time), 1, 10) FROM message")[0]
    out = tmp_path / "day.csv"
    summary = _run(archive, archive_engine, ExportFormat.CSV, out, since=day, until=day)
    (n,) = _rows(
        archive.db_path, "SELECT count(*) FROM message WHERE creation_time LIKE ?", day + "%"
    )[0]
    assert summary.messages == n >= 1


def test_smsxml_is_sms_only_and_counts(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "sms.xml"
    summary = _run(archive, archive_engine, ExportFormat.SMSXML, out)
    root = ET.parse(out).getroot()
    (n_sms,) = _rows(archive.db_path, "SELECT count(*) FROM message WHERE type = 'SMS'")[0]
    assert root.tag == "smses" and int(root.get("count", "-1")) == n_sms == len(root)
    assert summary.messages == n_sms
    sent = [e for e in root if e.get("type") == "2" or e.get("msg_box") == "2"]
    assert sent and len(sent) < len(root)
    mms = root.findall("mms")
    assert mms, "the archive has MMS pictures"
    data_parts = [p for m in mms for p in m.iter("part") if p.get("data")]
    assert data_parts and summary.attachments == len(data_parts)
    first = root.find("sms")
    assert first is not None
    (text, ms) = _rows(
        archive.db_path,
        "SELECT text, CAST(round((julianday(creation_time) - 2440587.5) * 86400000) AS INTEGER)"
        " FROM message WHERE type = 'SMS' ORDER BY creation_time, id LIMIT 1",
    )[0]
    assert root[0].get("date") == str(ms)
    assert text is not None


def test_smsxml_refuses_other_types(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="SMS/MMS only"):
        _run(archive, archive_engine, ExportFormat.SMSXML, tmp_path / "o" / "x.xml", types=("fax",))
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_existing_file_needs_force(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "a.jsonl"
    out.write_text("keep me\n")
    with pytest.raises(ExportError, match="--force"):
        _run(archive, archive_engine, ExportFormat.JSONL, out)
    assert out.read_text() == "keep me\n"
    export(archive_engine, ExportFormat.JSONL, out, files_dir=archive.files, force=True)
    assert out.read_text().startswith("{")


def test_failure_leaves_nothing_behind(
    archive: Archive, archive_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcsync.export import jsonl

    calls = {"n": 0}
    real = jsonl._line

    def crash(job: Any, record: dict[str, Any]) -> str:
        calls["n"] += 1
        if calls["n"] == 50:
            raise OSError(28, "No space left on device")
        return real(job, record)

    monkeypatch.setattr(jsonl, "_line", crash)
    out = tmp_path / "out" / "a.jsonl"
    with pytest.raises(OSError):
        _run(archive, archive_engine, ExportFormat.JSONL, out)
    assert calls["n"] == 50
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "2024-02-30"}, "not a date"),
        ({"until": "yesterday"}, "not a date"),
        ({"types": ("email",)}, "unknown message type"),
        ({"since": "2025-01-02", "until": "2025-01-01"}, "not before"),
    ],
)
def test_bad_filters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        build_filters(**kwargs)


def test_conversation_and_extension_filters(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    (conv, n) = _rows(
        archive.db_path,
        "SELECT conversation_id, count(*) FROM message WHERE conversation_id IS NOT NULL"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )[0]
    one = _run(archive, archive_engine, ExportFormat.CSV, tmp_path / "c.csv", conversation=conv)
    assert one.messages == n
    (ext,) = _rows(archive.db_path, "SELECT extension_id FROM message LIMIT 1")[0]
    everything = _run(archive, archive_engine, ExportFormat.CSV, tmp_path / "e.csv", extension=ext)
    nobody = _run(archive, archive_engine, ExportFormat.CSV, tmp_path / "n.csv", extension="999")
    assert everything.messages == _rows(archive.db_path, "SELECT count(*) FROM message")[0][0]
    assert nobody.messages == 0


def test_extension_filter_takes_an_id_or_a_number(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    """INTERFACE.md's `export --extension ID`, and the number the other commands take."""
    con = sqlite3.connect(archive.db_path)
    with con:
        (home,) = con.execute("SELECT extension_id FROM message LIMIT 1").fetchone()
        con.execute(
            "INSERT OR REPLACE INTO extension (id, number, first_seen) VALUES (?, '101', 'x')",
            (home,),
        )
        # A second extension whose number is the first one's id: the id still wins.
        con.execute("INSERT INTO extension (id, number, first_seen) VALUES ('7', ?, 'x')", (home,))
        con.execute(
            "UPDATE message SET extension_id = '7' WHERE id IN (SELECT id FROM message"
            " ORDER BY id LIMIT 3)"
        )
    con.close()
    total = _rows(archive.db_path, "SELECT count(*) FROM message")[0][0]

    def count(value: str) -> int:
        out = tmp_path / f"{value}.csv"
        return int(_run(archive, archive_engine, ExportFormat.CSV, out, extension=value).messages)

    assert count(home) == count("101") == total - 3
    assert count("7") == 3
    assert count("102") == 0


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    def start(self, phase: str, total: int | None = None) -> None:
        self.calls.append(("start", total))

    def advance(self, n: int = 1) -> None:
        self.calls.append(("advance", n))

    def finish(self) -> None:
        self.calls.append(("finish", None))

    def note(self, message: str) -> None:
        pass


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_progress_counts_every_message(
    archive: Archive, archive_engine: Engine, tmp_path: Path, fmt: ExportFormat
) -> None:
    progress = Recorder()
    summary = export(
        archive_engine, fmt, tmp_path / "o" / "x", files_dir=archive.files, progress=progress
    )
    assert progress.calls[0] == ("start", summary.messages) and summary.messages > 0
    assert sum(n or 0 for kind, n in progress.calls if kind == "advance") == summary.messages
    assert progress.calls[-1] == ("finish", None)
