"""What a person sees: the html export and a Datasette page in headless Chromium.

Screenshots go to the test's temporary folder, or to $RCSYNC_SCREENSHOTS when set (to look
at them); never into the repository.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rcsync.export import ExportFormat, export
from rcsync.export.html import page_name
from tests.harness.inprocess import Archive
from tests.system.export.browser import DESKTOP, PHONE, Browser, Visit, chromium_or_skip

LOCAL_SCHEMES = ("file:", "data:", "about:")


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser(chromium_or_skip())
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("RCSYNC_SCREENSHOTS") or tmp_path / "shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def _stays_local(visit: Visit) -> None:
    leaving = [u for u in visit.requests if not u.startswith(LOCAL_SCHEMES)]
    assert leaving == [], f"requests left the machine: {leaving}"
    assert visit.errors == []


def _voicemail_conversation(db: Path) -> tuple[str, int, int]:
    """A party with several voicemails and faxes (the sample has one each; make a thread)."""
    con = sqlite3.connect(db)
    with con:
        ids = [
            r[0]
            for kind, n in (("VoiceMail", 3), ("Fax", 2))
            for r in con.execute(
                "SELECT m.id FROM message m WHERE m.direction = 'Inbound' AND m.type = ?"
                " AND EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id"
                " AND a.path IS NOT NULL) ORDER BY m.id LIMIT ?",
                (kind, n),
            )
        ]
        marks = ",".join("?" * len(ids))
        con.execute(
            "UPDATE message SET from_phone_number = '+15550001111', from_name = 'Dana Example'"
            f" WHERE id IN ({marks})",
            ids,
        )
        voicemail, fax = con.execute(
            "SELECT sum(type = 'VoiceMail'), sum(type = 'Fax') FROM message"
            " WHERE from_phone_number = '+15550001111'"
        ).fetchone()
    con.close()
    return "with:+15550001111", int(voicemail), int(fax)


COUNT_JS = """JSON.stringify({
  conversations: document.querySelectorAll('#conversations > li').length,
  visible: document.querySelectorAll('#conversations > li:not([hidden])').length,
  firstTime: (document.querySelector('#conversations time') || {}).textContent,
  title: document.title
})"""
SEARCH_JS = """(() => {
  const q = document.getElementById('q');
  q.value = 'dana example'; q.dispatchEvent(new Event('input'));
  return JSON.stringify({
    visible: document.querySelectorAll('#conversations > li:not([hidden])').length,
    status: document.getElementById('status').textContent
  });
})()"""
THREAD_JS = """JSON.stringify({
  audio: [...document.querySelectorAll('audio')].map(a => ({
    label: a.getAttribute('aria-label'), error: a.error && a.error.code, duration: a.duration
  })),
  faxLinks: [...document.querySelectorAll('a.doc')].map(a => a.textContent.trim()),
  messages: document.querySelectorAll('.thread > li').length,
  heading: document.querySelector('h1').textContent
})"""


def test_html_export_in_a_browser(
    archive: Archive, archive_engine: Engine, tmp_path: Path, browser: Browser, shots: Path
) -> None:
    import json

    key, voicemails, faxes = _voicemail_conversation(archive.db_path)
    site = tmp_path / "site"
    summary = export(archive_engine, ExportFormat.HTML, site, files_dir=archive.files)
    index = (site / "index.html").as_uri()
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        visit = browser.visit(index, COUNT_JS, size=size, screenshot=shots / f"index-{name}.png")
        _stays_local(visit)
        seen = json.loads(visit.value)
        assert seen["conversations"] == seen["visible"] == summary.conversations
        assert "UTC" not in seen["firstTime"]  # the script turned it into local time
    found = json.loads(browser.visit(index, SEARCH_JS).value)
    assert found["visible"] == 1 and found["status"].startswith("1 of")

    page = (site / "c" / page_name(key)).as_uri()
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        visit = browser.visit(page, THREAD_JS, size=size, screenshot=shots / f"thread-{name}.png")
        _stays_local(visit)
        seen = json.loads(visit.value)
        assert seen["messages"] == voicemails + faxes and "Dana Example" in seen["heading"]
        assert len(seen["audio"]) == voicemails > 0
        assert all(
            a["label"] == "Voicemail from Dana Example (+15550001111)" for a in seen["audio"]
        )
        # The recording is found and decoded: the player knows its length.
        assert all(a["error"] is None and a["duration"] > 1 for a in seen["audio"]), seen
        assert len(seen["faxLinks"]) == faxes > 0
        assert all(link.startswith("Open the fax") for link in seen["faxLinks"])
    assert (shots / "thread-phone.png").stat().st_size > 10_000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def datasette_url(archive: Archive) -> Iterator[str]:
    import subprocess
    import sys
    import time

    import httpx

    config = archive.db_path.parent / "config.toml"
    config.write_text(f'[database]\nfiles = "{archive.files}"\n')
    port = _free_port()
    args = [sys.executable, "-m", "rcsync", "--config", str(config), "--db", str(archive.db_path)]
    proc = subprocess.Popen([*args, "datasette", "--port", str(port)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"datasette did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


DATASETTE_JS = """JSON.stringify({
  audio: document.querySelectorAll('td audio').length,
  rows: document.querySelectorAll('table.rows-and-columns tbody tr').length,
  facets: [...document.querySelectorAll('.facet-info')].map(f => f.getAttribute('data-column'))
})"""


def test_datasette_voicemail_page_in_a_browser(
    archive: Archive, datasette_url: str, browser: Browser, shots: Path
) -> None:
    import json

    con = sqlite3.connect(archive.db_path)
    (n,) = con.execute(
        "SELECT count(*) FROM message m JOIN attachment a ON a.message_id = m.id"
        " WHERE m.type = 'VoiceMail' AND a.type = 'AudioRecording' AND a.path IS NOT NULL"
    ).fetchone()
    con.close()
    visit = browser.visit(
        f"{datasette_url}/messages/voicemail_list?_size=max",
        DATASETTE_JS,
        screenshot=shots / "datasette-voicemail.png",
    )
    leaving = [u for u in visit.requests if not u.startswith((datasette_url, *LOCAL_SCHEMES))]
    assert leaving == [] and visit.errors == []
    seen = json.loads(visit.value)
    assert seen["audio"] == n > 0 and seen["rows"] >= n
    assert {"read_status", "availability"} <= set(seen["facets"])
