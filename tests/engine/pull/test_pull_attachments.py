"""Attachment downloads: names, hashes, text into message columns, filters, resume, purge."""

from __future__ import annotations

import io
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient
from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.progress import NullProgress
from rcsync.store.attachments import TEXT_PART_REASON, Job
from rcsync.store.search import search
from rcsync.sync import attachments
from rcsync.sync.attachments import download_attachments, extension_for, file_name
from rcsync.sync.pull import pull, pull_messages
from tests.harness.database import execute, query, unbounded_reads
from tests.harness.inprocess import make_client
from tests.harness.mirror import attachment_problems, mirror_problems


def _with(config: Config, **sync: object) -> Config:
    return replace(config, sync=replace(config.sync, download_attachments=True, **sync))


def _files(config: Config) -> Path:
    return config.database.files_dir


def _count(db: Engine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def test_downloads_match_server_bytes_and_fill_text(
    emu: Emulator, config: Config, db: Engine
) -> None:
    config = _with(config, download_text_parts=True)
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.attachments_downloaded > 0 and summary.attachment_bytes > 0
    assert attachment_problems(db, emu, _files(config)) == []
    assert mirror_problems(db, emu) == []
    missing = _count(
        db,
        "SELECT count(*) FROM attachment a JOIN message m"
        " ON m.id = a.message_id WHERE a.path IS NULL"
        " AND m.availability <> 'Purged'",
    )
    sms_text = _count(
        db,
        "SELECT count(*) FROM message WHERE type = 'SMS' AND text IS NULL"
        " AND availability <> 'Purged'",
    )
    transcripts = _count(db, "SELECT count(*) FROM message WHERE transcription IS NOT NULL")
    assert missing == 0 and sms_text == 0 and transcripts > 0
    assert not list(_files(config).rglob("*.part"))
    # A second pull downloads nothing; a lost file is fetched again.
    client = make_client(config, emu.transport())
    assert pull(db, client, config).attachments_downloaded == 0
    victim = next(_files(config).rglob("*.wav"))
    victim.unlink()
    assert pull(db, client, config).attachments_downloaded == 1
    assert victim.exists()


def test_text_parts_are_not_downloaded_by_default(
    emu: Emulator, config: Config, db: Engine
) -> None:
    config = _with(config)
    assert not config.sync.download_text_parts
    summary = pull(db, make_client(config, emu.transport()), config)
    downloaded = _count(db, "SELECT count(*) FROM attachment WHERE path IS NOT NULL")
    # Every content request was for a part other than Text: one per downloaded file.
    assert emu.counters.by_operation["readMessageContent"] == downloaded
    assert summary.attachments_downloaded == downloaded > 0
    assert (
        _count(db, "SELECT count(*) FROM attachment WHERE type = 'Text' AND path IS NOT NULL") == 0
    )
    assert (
        _count(
            db,
            "SELECT count(*) FROM attachment WHERE type = 'Text'"
            f" AND skipped = '{TEXT_PART_REASON}'",
        )
        > 0
    )
    # Audio, transcriptions, faxes and MMS images still come; nothing else is missing.
    assert (
        _count(
            db,
            "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
            " WHERE a.path IS NULL AND a.type <> 'Text'"
            " AND m.availability <> 'Purged'",
        )
        == 0
    )
    assert _count(db, "SELECT count(*) FROM message WHERE transcription IS NOT NULL") > 0
    # The text is the subject, searchable; the mirror is exact.
    assert (
        _count(
            db,
            "SELECT count(*) FROM message WHERE type IN ('SMS', 'Pager') AND text IS NOT subject",
        )
        == 0
    )
    assert mirror_problems(db, emu) == []
    sms = next(
        r for r in emu.store.all_records() if r["type"] == "SMS" and r["availability"] == "Alive"
    )
    word = max(str(sms["subject"]).split(), key=len).strip(".,!?")
    with db.connect() as conn:
        hits = {h.id for h in search(conn, word, limit=1000)}
    assert sms["id"] in hits
    # A later pull neither downloads nor re-marks them.
    emu.counters.reset()
    again = pull(db, make_client(config, emu.transport()), config)
    assert emu.counters.by_operation["readMessageContent"] == 0
    assert again.attachments_skipped == 0


class _WholeText:
    """A client whose Text parts hold more than the subject (as a truncated subject would)."""

    def __init__(self, inner: MessageStoreClient, text_uris: set[str]) -> None:
        self.inner, self.text_uris = inner, text_uris

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def download_content(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int:
        if uri not in self.text_uris:
            return self.inner.download_content(uri, dest, offset=offset)
        buffer = io.BytesIO()
        self.inner.download_content(uri, buffer)
        data = buffer.getvalue() + b" (whole text)"
        dest.write(data[offset:])
        return len(data) - offset


def test_text_parts_fetched_when_configured_later(
    emu: Emulator, config: Config, db: Engine
) -> None:
    pull(db, make_client(config, emu.transport()), _with(config))
    with db.connect() as conn:
        uris = {
            r[0] for r in conn.execute(sa.text("SELECT uri FROM attachment WHERE type = 'Text'"))
        }
    config = _with(config, download_text_parts=True)
    client = _WholeText(make_client(config, emu.transport()), uris)
    emu.counters.reset()
    summary = pull(db, client, config)  # type: ignore[arg-type]
    held = _count(
        db,
        "SELECT count(*) FROM attachment WHERE type = 'Text' AND path IS NULL"
        " AND skipped IS NOT 'purged remotely'",
    )
    fetched = _count(db, "SELECT count(*) FROM attachment WHERE type = 'Text' AND path IS NOT NULL")
    assert held == 0 and fetched > 0
    assert emu.counters.by_operation["readMessageContent"] == fetched
    assert summary.attachments_downloaded == fetched
    # The part's content is the text, and later pulls (even full ones) keep it.
    pull(db, client, config, full=True)  # type: ignore[arg-type]
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT m.text, m.subject, a.path FROM message m JOIN attachment a"
                " ON a.message_id = m.id WHERE a.type = 'Text' AND a.path IS NOT NULL"
            )
        ).all()
        hits = conn.execute(
            sa.text(
                "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'text: \"whole text\"'"
            )
        ).scalar_one()
    assert len(rows) == fetched and hits == fetched
    for text, subject, path in rows:
        assert text == (_files(config) / path).read_text(encoding="utf-8")
        assert text == f"{subject} (whole text)"


def test_filters_record_why(emu: Emulator, config: Config, db: Engine) -> None:
    config = _with(
        config, attachment_types=("Text",), max_attachment_size=20, download_text_parts=True
    )
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.attachments_skipped > 0
    with db.connect() as conn:
        reasons = {
            r[0].split(" ")[0]
            for r in conn.execute(
                sa.text("SELECT skipped FROM attachment WHERE skipped IS NOT NULL")
            )
        }
        wrong = conn.execute(
            sa.text(
                "SELECT count(*) FROM attachment WHERE path IS NOT NULL"
                " AND (type <> 'Text' OR size > 20)"
            )
        ).scalar_one()
    assert "type" in reasons and wrong == 0


def test_purged_after_listing_is_skipped_not_fatal(
    emu: Emulator, config: Config, db: Engine
) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)  # attachments off: metadata only
    vm = next(
        r["id"]
        for r in emu.store.all_records()
        if r["type"] == "VoiceMail" and r["availability"] == "Alive"
    )
    # Purged between listing and download: the content answers 404.
    slot = emu.store.slot_of(vm)
    assert slot is not None
    emu.store.cols.avail[slot] = 2
    config = _with(config)
    summary = pull(db, client, config)
    assert summary.attachments_failed == 0 and summary.attachments_skipped >= 1
    with db.connect() as conn:
        reason = conn.execute(
            sa.text("SELECT skipped FROM attachment WHERE message_id = :i LIMIT 1"), {"i": vm}
        ).scalar_one()
    assert reason == "purged remotely"


def test_part_file_resumes(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    config = _with(config)
    with db.connect() as conn:
        job = Job(
            *conn.execute(
                sa.text(
                    "SELECT a.message_id, a.id, a.type, a.content_type, a.size, a.uri, m.type,"
                    " m.direction, m.creation_time, m.from_phone_number, m.to_phone_numbers,"
                    " m.remote_availability, m.extension_id"
                    " FROM attachment a JOIN message m ON m.id = a.message_id"
                    " WHERE a.type = 'AudioRecording' AND m.availability = 'Alive' LIMIT 1"
                )
            ).one()
        )
    slot = emu.store.slot_of(job.message_id)
    assert slot is not None
    content = emu.store.content(slot, job.id)
    assert content is not None
    dest = _files(config) / file_name(job)
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(content[1][:1000])
    pull(db, client, config)
    assert dest.read_bytes() == content[1]
    assert attachment_problems(db, emu, _files(config)) == []


def test_readable_file_names() -> None:
    job = Job(
        1234,
        12340,
        "AudioRecording",
        "audio/x-wav",
        10,
        "u",
        "VoiceMail",
        "Inbound",
        "2024-05-13T10:22:01.000Z",
        "+15551234567",
        "+15550000000",
        "Alive",
    )
    assert file_name(job) == "2024/05/2024-05-13T10-22-01_voicemail_+15551234567_1234_12340.wav"
    out = replace(
        job,
        direction="Outbound",
        to_numbers="+1 (555) 222,+15553333333",
        content_type="application/pdf",
        message_type="Fax",
    )
    assert file_name(out).endswith("_fax_+1_555_222_1234_12340.pdf")


def test_each_extension_has_its_folder() -> None:
    job = Job(
        1, 2, "AudioRecording", "audio/x-wav", None, "u", "VoiceMail", "Inbound",
        "2024-05-13T10:22:01.000Z", "+15551234567", None, "Alive", "409564008",
    )  # fmt: skip
    assert file_name(job).startswith("409564008/2024/05/2024-05-13T10-22-01_voicemail_")
    assert extension_for("image/jpeg") == "jpg"
    assert extension_for("application/x-weird; q=1") == "weird"
    assert extension_for(None) == "bin"


class _ContentFails(httpx.BaseTransport):
    """Message `mid`'s content answers 404 (no CMN-102 body) `times` times; the rest passes."""

    def __init__(self, inner: httpx.BaseTransport, mid: int, times: int = 1) -> None:
        self.inner, self.marker, self.times = inner, f"/message-store/{mid}/content/", times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.times and self.marker in request.url.path:
            self.times -= 1
            return httpx.Response(404)
        return self.inner.handle_request(request)


def _alive_voicemail(db: Engine) -> tuple[int, int]:
    with db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT a.message_id, a.id FROM attachment a JOIN message m ON m.id = a.message_id"
                " WHERE m.type = 'VoiceMail' AND m.remote_availability = 'Alive'"
                " AND a.type = 'AudioRecording' ORDER BY a.message_id LIMIT 1"
            )
        ).one()
    return int(row[0]), int(row[1])


def _attachment(db: Engine, mid: int, aid: int) -> tuple[Any, ...]:
    with db.connect() as conn:
        return tuple(
            conn.execute(
                sa.text("SELECT path, skipped FROM attachment WHERE message_id = :m AND id = :a"),
                {"m": mid, "a": aid},
            ).one()
        )


def test_content_404_of_an_alive_message_is_retried_not_marked_purged(
    emu: Emulator, config: Config, db: Engine
) -> None:
    # Fails on main: the 404 marked the file "purged remotely" and no pull retried it.
    pull(db, make_client(config, emu.transport()), config)
    mid, aid = _alive_voicemail(db)
    config = _with(config, attachment_types=("AudioRecording",))
    flaky = _ContentFails(emu.transport(), mid)
    summary = pull(db, make_client(config, flaky), config)
    assert summary.attachments_failed == 1
    path, skipped = _attachment(db, mid, aid)
    assert path is None and skipped.startswith("error:") and "404" in skipped
    again = pull(db, make_client(config, emu.transport()), config)
    assert again.attachments_failed == 0 and again.attachments_downloaded == 1
    path, skipped = _attachment(db, mid, aid)
    assert path is not None and skipped is None
    assert attachment_problems(db, emu, _files(config)) == []


def test_old_purged_mark_of_an_alive_message_is_retried(
    emu: Emulator, config: Config, db: Engine
) -> None:
    # A database where an earlier version marked any 404 as purged: the file comes back.
    pull(db, make_client(config, emu.transport()), config)
    mid, aid = _alive_voicemail(db)
    with db.begin() as conn:
        conn.execute(
            sa.text("UPDATE attachment SET skipped = 'purged remotely' WHERE message_id = :m"),
            {"m": mid},
        )
    config = _with(config, attachment_types=("AudioRecording",))
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.attachments_failed == 0
    assert _attachment(db, mid, aid)[0] is not None


def test_each_pull_checks_the_next_slice_of_files_going_round(
    emu: Emulator, config: Config, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file deleted from disk is fetched again by the pull whose slice of rows holds it:
    each pull checks `FILES_PER_PULL` rows after the last one's, not every file (stat-ing
    a 1,000,000-message archive's files took seconds of each pull)."""
    config = _with(config, attachment_types=("AudioRecording",))
    client = make_client(config, emu.transport())
    pull(db, client, config)
    rows = _count(db, "SELECT count(*) FROM attachment")
    per_pull = rows // 4 + 1  # four pulls go round
    monkeypatch.setattr(attachments, "FILES_PER_PULL", per_pull)
    [(mid, aid, path)] = query(
        db,
        "SELECT message_id, id, path FROM attachment WHERE path IS NOT NULL"
        " ORDER BY message_id DESC, id DESC LIMIT 1",
    )
    place = _count(db, f"SELECT count(*) FROM attachment WHERE (message_id, id) <= ({mid}, {aid})")
    slice_of_it = (place - 1) // per_pull
    assert slice_of_it > 0  # not the first pull's
    (_files(config) / path).unlink()
    fetched = [pull(db, client, config).attachments_downloaded for _ in range(4)]
    assert fetched == [int(i == slice_of_it) for i in range(4)]
    assert (_files(config) / path).exists()
    assert attachment_problems(db, emu, _files(config)) == []


def test_held_back_attachments_are_decided_again_when_the_settings_change(
    emu: Emulator, config: Config, db: Engine
) -> None:
    """A pull looks at the attachments never tried or failed; one held back (here an old
    version's "purged remotely" on an Alive message) waits for the settings to change."""
    config = _with(config, attachment_types=("AudioRecording",))
    client = make_client(config, emu.transport())
    pull(db, client, config)  # a full pass: every attachment decided under these settings
    mid, aid = _alive_voicemail(db)
    execute(
        db,
        "UPDATE attachment SET path = NULL, skipped = 'purged remotely'"
        " WHERE message_id = :m AND id = :a",
        m=mid,
        a=aid,
    )
    emu.counters.reset()
    assert pull(db, client, config).attachments_downloaded == 0
    assert emu.counters.by_operation.get("readMessageContent", 0) == 0
    wider = _with(config, attachment_types=("AudioRecording", "RenderedDocument"))
    assert pull(db, client, wider).attachments_downloaded > 1  # the faxes' documents too
    path, skipped = _attachment(db, mid, aid)
    assert path is not None and skipped is None
    emu.counters.reset()
    assert pull(db, client, wider).attachments_downloaded == 0
    assert emu.counters.by_operation.get("readMessageContent", 0) == 0


def test_the_attachment_step_of_a_pull_reads_no_table_whole(
    emu: Emulator, config: Config, db: Engine
) -> None:
    """Once every file is there, the step's statements read the rows never tried or failed
    (ix_attachment_todo) and a slice of rows by key: none walks the attachment table."""
    config = _with(config)
    client = make_client(config, emu.transport())
    pull(db, client, config)
    emu.store.arrive(5)
    pull_messages(db, client, config)  # new rows to fetch: the index holds them
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        statements.append((sql, params[0] if many else params))

    sa.event.listen(db, "before_cursor_execute", seen)
    try:
        counts = download_attachments(db, client, config, progress=NullProgress())
    finally:
        sa.event.remove(db, "before_cursor_execute", seen)
    assert counts.downloaded > 0 and counts.failed == 0
    con = sqlite3.connect(config.database.path)
    try:
        assert unbounded_reads(con, statements) == []
    finally:
        con.close()
