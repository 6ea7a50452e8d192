"""Attachment downloads: names, hashes, text into message columns, filters, resume, purge."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.sync.attachments import Job, extension_for, file_name
from rcsync.sync.pull import pull
from tests.unit.pull.pull_harness import attachment_problems, make_client, mirror_problems


def _with(config: Config, **sync: object) -> Config:
    return replace(config, sync=replace(config.sync, download_attachments=True, **sync))


def _files(config: Config) -> Path:
    return config.database.files_dir


def test_downloads_match_server_bytes_and_fill_text(emu: Emulator, config: Config,
                                                    db: Engine) -> None:
    config = _with(config)
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.attachments_downloaded > 0 and summary.attachment_bytes > 0
    assert attachment_problems(db, emu, _files(config)) == []
    assert mirror_problems(db, emu) == []
    with db.connect() as conn:
        missing = conn.execute(sa.text(
            "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
            " WHERE a.path IS NULL AND m.availability <> 'Purged'")).scalar_one()
        sms_text = conn.execute(sa.text(
            "SELECT count(*) FROM message WHERE type = 'SMS' AND text IS NULL"
            " AND availability <> 'Purged'")).scalar_one()
        transcripts = conn.execute(sa.text(
            "SELECT count(*) FROM message WHERE transcription IS NOT NULL")).scalar_one()
        hit = conn.execute(sa.text(
            "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'transcription: call'"
        )).scalar_one()
    assert missing == 0 and sms_text == 0 and transcripts > 0 and hit >= 0
    assert not list(_files(config).rglob("*.part"))
    # A second pull downloads nothing; a lost file is fetched again.
    client = make_client(config, emu.transport())
    assert pull(db, client, config).attachments_downloaded == 0
    victim = next(_files(config).rglob("*.wav"))
    victim.unlink()
    assert pull(db, client, config).attachments_downloaded == 1
    assert victim.exists()


def test_filters_record_why(emu: Emulator, config: Config, db: Engine) -> None:
    config = _with(config, attachment_types=("Text",), max_attachment_size=20)
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.attachments_skipped > 0
    with db.connect() as conn:
        reasons = {r[0].split(" ")[0] for r in conn.execute(sa.text(
            "SELECT skipped FROM attachment WHERE skipped IS NOT NULL"))}
        wrong = conn.execute(sa.text(
            "SELECT count(*) FROM attachment WHERE path IS NOT NULL"
            " AND (type <> 'Text' OR size > 20)")).scalar_one()
    assert "type" in reasons and wrong == 0


def test_purged_after_listing_is_skipped_not_fatal(emu: Emulator, config: Config,
                                                   db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)  # attachments off: metadata only
    vm = next(r["id"] for r in emu.store.all_records()
              if r["type"] == "VoiceMail" and r["availability"] == "Alive")
    # Purged between listing and download: the content answers 404.
    slot = emu.store.slot_of(vm)
    assert slot is not None
    emu.store.cols.avail[slot] = 2
    config = _with(config)
    summary = pull(db, client, config)
    assert summary.attachments_failed == 0 and summary.attachments_skipped >= 1
    with db.connect() as conn:
        reason = conn.execute(sa.text("SELECT skipped FROM attachment WHERE message_id = :i"
                                      " LIMIT 1"), {"i": vm}).scalar_one()
    assert reason == "purged remotely"


def test_part_file_resumes(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    config = _with(config)
    with db.connect() as conn:
        job = Job(*conn.execute(sa.text(
            "SELECT a.message_id, a.id, a.type, a.content_type, a.size, a.uri, m.type,"
            " m.direction, m.creation_time, m.from_phone_number, m.to_phone_numbers,"
            " m.remote_availability FROM attachment a JOIN message m ON m.id = a.message_id"
            " WHERE a.type = 'AudioRecording' AND m.availability = 'Alive' LIMIT 1")).one())
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
    job = Job(1234, 12340, "AudioRecording", "audio/x-wav", 10, "u", "VoiceMail", "Inbound",
              "2024-05-13T10:22:01.000Z", "+15551234567", "+15550000000", "Alive")
    assert file_name(job) == \
        "2024/05/2024-05-13T10-22-01_voicemail_+15551234567_1234_12340.wav"
    out = replace(job, direction="Outbound", to_numbers="+1 (555) 222,+15553333333",
                  content_type="application/pdf", message_type="Fax")
    assert file_name(out).endswith("_fax_+1_555_222_1234_12340.pdf")
    assert extension_for("image/jpeg") == "jpg"
    assert extension_for("application/x-weird; q=1") == "weird"
    assert extension_for(None) == "bin"
