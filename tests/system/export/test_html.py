"""The html export as files: every conversation listed, players and links that resolve
inside the folder, nothing that points off the machine, user text escaped."""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy.engine import Engine

from rcsync.export import ExportFormat, build_filters, export
from rcsync.export.html import page_name
from tests.harness.inprocess import Archive


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(path: Path) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tags


def _one(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(sql)]
    finally:
        con.close()


@pytest.fixture
def site(archive: Archive, archive_engine: Engine, tmp_path: Path) -> Path:
    con = sqlite3.connect(archive.db_path)
    with con:
        con.execute(
            "UPDATE message SET text = '<script>alert(1)</script> & more', availability = 'Deleted'"
            " WHERE id = (SELECT id FROM message WHERE type = 'SMS' ORDER BY id LIMIT 1)"
        )
    con.close()
    out = tmp_path / "site"
    summary = export(archive_engine, ExportFormat.HTML, out, files_dir=archive.files)
    assert summary.conversations == len(list((out / "c").iterdir()))
    return out


def test_index_lists_every_conversation_newest_first(archive: Archive, site: Path) -> None:
    links = [
        a["href"]
        for t, a in _tags(site / "index.html")
        if t == "a" and a.get("href", "").startswith("c/")
    ]  # type: ignore[union-attr]
    (n,) = _one(
        archive.db_path,
        "SELECT count(DISTINCT COALESCE(conversation_id, CASE WHEN direction = 'Outbound'"
        " THEN to_phone_numbers ELSE from_phone_number END)) FROM message",
    )[0]
    assert len(links) == len(set(links)) == n
    for href in links:
        assert (site / unquote(str(href))).is_file()
    times = re.findall(r'<time datetime="([^"]+)"', (site / "index.html").read_text())
    assert times == sorted(times, reverse=True)


def test_voicemail_plays_and_fax_opens_from_the_folder(archive: Archive, site: Path) -> None:
    audio, faxes = [], []
    for page in (site / "c").iterdir():
        for tag, attrs in _tags(page):
            if tag == "audio":
                audio.append((page, attrs["src"]))
            if tag == "a" and "doc" in (attrs.get("class") or ""):
                faxes.append((page, attrs["href"]))
    (voicemails,) = _one(
        archive.db_path,
        "SELECT count(*) FROM attachment WHERE type = 'AudioRecording' AND path IS NOT NULL",
    )[0]
    (fax_files,) = _one(
        archive.db_path,
        "SELECT count(*) FROM attachment WHERE type = 'RenderedDocument' AND path IS NOT NULL",
    )[0]
    assert len(audio) == voicemails > 0 and len(faxes) == fax_files > 0
    for page, src in audio + faxes:
        target = (page.parent / unquote(str(src))).resolve()
        assert target.is_file() and site.resolve() in target.parents


def test_nothing_points_off_the_machine(site: Path) -> None:
    for page in [site / "index.html", *(site / "c").iterdir()]:
        for _tag, attrs in _tags(page):
            for name in ("src", "href"):
                value = attrs.get(name) or ""
                assert not re.match(r"^[a-z]+:", value), f"{page.name}: {name}={value}"
    assert "http" not in (site / "assets" / "style.css").read_text()


def test_user_text_is_escaped_and_trash_marked(archive: Archive, site: Path) -> None:
    (conv,) = _one(
        archive.db_path, "SELECT conversation_id FROM message WHERE text LIKE '<script>%'"
    )[0]
    page = (site / "c" / page_name(str(conv))).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<script>alert" not in page
    assert "In the RingCentral trash" in page


def test_filters_apply_to_pages(archive: Archive, archive_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "vm"
    summary = export(
        archive_engine,
        ExportFormat.HTML,
        out,
        files_dir=archive.files,
        filters=build_filters(types=("VoiceMail",)),
    )
    (n,) = _one(archive.db_path, "SELECT count(*) FROM message WHERE type = 'VoiceMail'")[0]
    assert summary.messages == n
    text = "".join(p.read_text() for p in (out / "c").iterdir())
    assert text.count('<li class="msg') == n and "type-sms" not in text


def test_force_replaces_a_folder_and_an_empty_one_is_used(
    archive: Archive, archive_engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    export(archive_engine, ExportFormat.HTML, out, files_dir=archive.files)  # empty: fine
    (out / "stale.txt").write_text("old")
    export(archive_engine, ExportFormat.HTML, out, files_dir=archive.files, force=True)
    assert (out / "index.html").is_file() and not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "out"]


def test_interrupted_html_export_leaves_no_folder(
    archive: Archive, archive_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcsync.export import html

    real = html.Site._view
    seen = {"n": 0}

    def interrupted(self: html.Site, record: dict[str, object]) -> html.MessageView:
        seen["n"] += 1
        if seen["n"] == 20:
            raise KeyboardInterrupt
        return real(self, record)

    monkeypatch.setattr(html.Site, "_view", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export(archive_engine, ExportFormat.HTML, tmp_path / "o" / "site", files_dir=archive.files)
    assert seen["n"] == 20 and list((tmp_path / "o").iterdir()) == []
