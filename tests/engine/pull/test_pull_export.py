"""Attachments bootstrapped from the message-store export (`rcsync.sync.bootstrap`), in-process:
files equal the server's bytes and the API's records, faults fall back to the content
endpoint, a crash mid-download resumes, masked numbers never reach a row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, RateBudget, build_client
from rcsync.config import AccountConfig, Config
from rcsync.emulator import Emulator, FakeClock
from rcsync.errors import AuthError
from rcsync.progress import NullProgress
from rcsync.rules.export import PACKED_TYPES, ExportState
from rcsync.store.extensions import adopt_home_from_rows
from rcsync.store.state import EXPORT, read_state
from rcsync.sync.pull import pull
from rcsync.types import UseExport, iso_utc
from tests.harness.config import make_config
from tests.harness.inprocess import UNLIMITED, fast_emulator
from tests.harness.mirror import attachment_problems, mirror_problems
from tests.harness.transports import Interrupted

ARCHIVE_OP = "readMessageStoreReportArchiveContent"
PACKED_SQL = ", ".join(f"'{t}'" for t in sorted(PACKED_TYPES))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    emulator = fast_emulator(400, 16, clock)
    emulator.configure(export={"max_zip_bytes": 200_000})  # several attachment zips
    return emulator


def _config(tmp_path: Path, mode: UseExport = UseExport.ALWAYS, **account: Any) -> Config:
    config = make_config(tmp_path, download_attachments=True)
    return replace(config, account=AccountConfig(use_export=mode, **account))


def _client(
    config: Config, transport: httpx.BaseTransport, clock: FakeClock, *, jwt: str | None = None
) -> MessageStoreClient:
    rc = config.ringcentral if jwt is None else replace(config.ringcentral, jwt=jwt)
    budget = RateBudget(limits=UNLIMITED, clock=clock.now, sleep=clock.advance)
    return build_client(
        rc, transport=transport, clock=clock.now, sleep=clock.advance, budget=budget
    )


class Notes(NullProgress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, message: str) -> None:
        self.lines.append(message)


def _count(db: Engine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


def _packed_files(db: Engine) -> int:
    return _count(
        db, f"SELECT count(*) FROM attachment WHERE path IS NOT NULL AND type IN ({PACKED_SQL})"
    )


def _packed_server(emu: Emulator) -> int:
    return sum(
        1
        for r in emu.store.all_records()
        if r["availability"] != "Purged"
        for a in r.get("attachments", [])
        if a["type"] in PACKED_TYPES
    )


def _state(db: Engine) -> ExportState:
    stored = read_state(db, EXPORT)
    assert stored is not None
    return ExportState.from_json(stored)


def test_every_packed_file_comes_from_the_export(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    config = _config(tmp_path)
    summary = pull(db, _client(config, emu.transport(), clock), config)
    ops = emu.counters.by_operation
    packed = _packed_server(emu)
    assert packed > 20 and _packed_files(db) == packed
    # Only transcriptions went through the content endpoint: every packed file was in a zip.
    transcriptions = _count(
        db, "SELECT count(*) FROM attachment WHERE type = 'AudioTranscription' AND path IS NOT NULL"
    )
    assert ops["readMessageContent"] == transcriptions
    assert ops["createMessageStoreReport"] == 1 and ops[ARCHIVE_OP] >= 3
    assert summary.attachments_downloaded == packed + transcriptions
    assert attachment_problems(db, emu, config.database.files_dir) == []
    assert mirror_problems(db, emu) == []
    state = _state(db)
    assert state.finished_at is not None and state.attempts == 1
    # The zips are gone once taken; no .part is left.
    assert not (config.database.files_dir / ".export").exists()
    assert not list(config.database.files_dir.rglob("*.part"))


def test_masked_numbers_never_reach_a_row(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu.configure(export={"masking": "all"})
    config = _config(tmp_path)
    pull(db, _client(config, emu.transport(), clock), config)
    assert _packed_files(db) == _packed_server(emu)
    assert mirror_problems(db, emu) == []  # every column and raw equal the API's record
    masked = _count(
        db,
        "SELECT count(*) FROM message WHERE from_phone_number LIKE '%XXXX%'"
        " OR to_phone_numbers LIKE '%XXXX%' OR raw LIKE '%XXXX%'",
    )
    assert masked == 0


def test_auto_uses_the_export_only_above_the_threshold(
    clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu = fast_emulator(400, 16, clock)  # about 100 packed files: under the threshold
    config = _config(tmp_path, UseExport.AUTO)
    pull(db, _client(config, emu.transport(), clock), config)
    assert emu.counters.by_operation.get("createMessageStoreReport", 0) == 0
    assert _packed_files(db) == _packed_server(emu)


def test_a_plain_user_falls_back_with_one_line(
    clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu = Emulator(messages=400, seed=16, clock=clock, extensions=2)  # 102: a plain user
    emu.configure(
        rate_limits={"enabled": True, "limits": {g: n for g, (n, _) in UNLIMITED.items()}}
    )
    notes = Notes()
    config = _config(tmp_path)
    client = _client(config, emu.transport(), clock, jwt="emulator-user-jwt")
    pull(db, client, config, progress=notes)
    assert emu.counters.by_operation["createMessageStoreReport"] == 1
    assert len([n for n in notes.lines if "not available to this login" in n]) == 1
    assert _state(db).gave_up_at is not None  # not asked again for a day
    emu.counters.reset()
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE attachment SET path = NULL, sha256 = NULL"))
    pull(db, client, config, progress=notes)
    assert emu.counters.by_operation.get("createMessageStoreReport", 0) == 0
    assert len([n for n in notes.lines if "not available" in n]) == 1
    # Everything came through the content endpoint instead.
    assert _packed_files(db) == _count(
        db,
        f"SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
        f" WHERE a.type IN ({PACKED_SQL}) AND m.availability <> 'Purged'",
    )


def test_failed_tasks_are_retried_then_the_content_endpoint_takes_over(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    config = _config(tmp_path)
    client = _client(config, emu.transport(), clock)
    emu.reports.force({"fate": "Failed", "times": 1})
    pull(db, client, config)
    assert emu.counters.by_operation["createMessageStoreReport"] == 2
    assert _state(db).attempts == 2 and _state(db).finished_at is not None
    assert emu.counters.by_operation.get("readMessageContent", 0) < _packed_server(emu)

    emu.reports.force({"fate": "Failed", "times": 3})
    with db.begin() as conn:  # lose the files: a new bootstrap (RETRY_AFTER aside)
        conn.execute(sa.text("UPDATE attachment SET path = NULL, sha256 = NULL"))
        conn.execute(sa.text("DELETE FROM sync_state WHERE key = 'export'"))
    emu.counters.reset()
    pull(db, client, config)
    assert emu.counters.by_operation["createMessageStoreReport"] == 3
    assert _state(db).gave_up_at is not None and _state(db).exhausted
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []
    # Given up: the next pull does not ask again.
    emu.counters.reset()
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE attachment SET path = NULL, sha256 = NULL"))
    pull(db, client, config)
    assert emu.counters.by_operation.get("createMessageStoreReport", 0) == 0


class _Corrupting(httpx.BaseTransport):
    """Flips one byte in the middle of the first attachment zip's body."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.done = inner, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.done or not str(request.url).endswith("/archive/1"):
            return response
        self.done = True
        body = bytearray(response.read())
        body[len(body) // 3] ^= 0xFF
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))


def test_a_corrupt_entry_is_fetched_from_the_content_endpoint(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    config = _config(tmp_path)
    client = _client(config, _Corrupting(emu.transport()), clock)
    pull(db, client, config)
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []
    transcriptions = _count(
        db, "SELECT count(*) FROM attachment WHERE type = 'AudioTranscription' AND path IS NOT NULL"
    )
    assert emu.counters.by_operation["readMessageContent"] > transcriptions


def test_a_size_that_differs_from_the_api_is_not_taken(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    config = _config(tmp_path)
    client = _client(config, emu.transport(), clock)
    pull(db, client, replace(config, sync=replace(config.sync, download_attachments=False)))
    with db.begin() as conn:
        victim = conn.execute(
            sa.text(f"SELECT message_id, id FROM attachment WHERE type IN ({PACKED_SQL}) LIMIT 1")
        ).one()
        conn.execute(
            sa.text("UPDATE attachment SET size = size + 1 WHERE message_id = :m AND id = :a"),
            {"m": victim[0], "a": victim[1]},
        )
    emu.counters.reset()
    pull(db, client, config)
    # The one mismatch (and the transcriptions) came through the content endpoint.
    transcriptions = _count(
        db, "SELECT count(*) FROM attachment WHERE type = 'AudioTranscription' AND path IS NOT NULL"
    )
    assert emu.counters.by_operation["readMessageContent"] == transcriptions + 1
    assert _packed_files(db) == _packed_server(emu)


def test_dropped_downloads_resume(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu.fault_rules.add({"operation": ARCHIVE_OP, "after_write": "reset", "times": 2})
    config = _config(tmp_path)
    pull(db, _client(config, emu.transport(), clock), config)
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []


class _Crashing(httpx.BaseTransport):
    """Delivers half of the `nth` archive download's body, then 'crashes' the process."""

    def __init__(self, inner: httpx.BaseTransport, nth: int) -> None:
        self.inner, self.nth, self.seen = inner, nth, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/archive/" not in str(request.url):
            return response
        self.seen += 1
        if self.seen != self.nth:
            return response
        body = response.read()

        class Half(httpx.SyncByteStream):
            def __iter__(self) -> Any:
                yield body[: len(body) // 2]
                raise Interrupted("crash mid-download")

        return httpx.Response(response.status_code, headers=response.headers, stream=Half())


def test_a_crash_mid_download_resumes_with_range(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    config = _config(tmp_path, keep_export_archives=True)
    with pytest.raises(Interrupted):
        pull(db, _client(config, _Crashing(emu.transport(), 2), clock), config)
    state = _state(db)
    assert state.task_id is not None and state.archives
    assert list((config.database.files_dir / ".export").rglob("*.zip.part"))
    emu.counters.reset()
    pull(db, _client(config, emu.transport(), clock), config)
    ops = emu.counters.by_operation
    # Resumed: no new task, no poll, the zips not done fetched (one of them with Range).
    assert ops.get("createMessageStoreReport", 0) == 0
    assert ops.get("readMessageStoreReportTask", 0) == 0
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []
    assert _state(db).finished_at is not None
    kept = list((config.database.files_dir / ".export").rglob("*.zip"))
    assert len(kept) == len(state.archives)  # keep_export_archives


def test_a_lost_create_answer_is_not_resent_but_counts_as_an_attempt(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu.fault_rules.add(
        {"operation": "createMessageStoreReport", "after_write": "reset", "times": 1}
    )
    config = _config(tmp_path)
    pull(db, _client(config, emu.transport(), clock), config)
    # The lost one made a task the client never heard of; the next attempt made another.
    assert len(emu.reports.tasks) == 2
    assert emu.counters.by_operation["createMessageStoreReport"] == 2
    state = _state(db)
    assert state.attempts == 2 and len(state.failures) == 1
    assert _packed_files(db) == _packed_server(emu)


def _transcriptions(db: Engine) -> int:
    return _count(
        db, "SELECT count(*) FROM attachment WHERE type = 'AudioTranscription' AND path IS NOT NULL"
    )


def test_a_download_that_keeps_failing_falls_back_to_the_content_endpoint(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    # Every try of the first two archive downloads answers 503 (archive 0, the JSON one,
    # and archive 1, the first of attachments): the client gives each up after its retries.
    emu.fault_rules.add({"operation": ARCHIVE_OP, "status": 503, "times": 2 * 5})
    notes = Notes()
    config = _config(tmp_path)
    summary = pull(db, _client(config, emu.transport(), clock), config, progress=notes)
    broken = [n for n in notes.lines if "come from the content endpoint instead" in n]
    assert [n.split(":")[0] for n in broken] == ["export archive 0", "export archive 1"]
    # Nothing lost: archive 1's files came one by one, the other zips' from the export.
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []
    assert 0 < summary.attachments_from_export < _packed_server(emu)
    assert emu.counters.by_operation["readMessageContent"] > _transcriptions(db)
    assert _state(db).finished_at is not None
    assert not list(config.database.files_dir.rglob("*.part"))


def test_a_connection_dropped_at_every_try_falls_back(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu.fault_rules.add({"operation": ARCHIVE_OP, "after_write": "reset", "times": 2 * 5})
    notes = Notes()
    config = _config(tmp_path)
    pull(db, _client(config, emu.transport(), clock), config, progress=notes)
    assert len([n for n in notes.lines if "its download failed" in n]) >= 1
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []


def test_an_auth_error_on_a_download_still_stops_the_pull(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    emu.fault_rules.add({"operation": ARCHIVE_OP, "status": 401, "times": 20})
    config = _config(tmp_path)
    with pytest.raises(AuthError):
        pull(db, _client(config, emu.transport(), clock), config)
    assert emu.counters.by_operation.get("readMessageContent", 0) == 0


class _Unreadable(httpx.BaseTransport):
    """Every download of the first attachment zip has its end-of-directory record broken."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not str(request.url).endswith("/archive/1"):
            return response
        body = bytearray(response.read())
        body[-22] ^= 0xFF  # the EOCD signature: zipfile cannot open it at all
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))


def test_an_archive_corrupt_twice_falls_back_and_says_so(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    notes = Notes()
    config = _config(tmp_path)
    pull(db, _client(config, _Unreadable(emu.transport()), clock), config, progress=notes)
    assert [n for n in notes.lines if n.startswith("export archive 1: it cannot be read")]
    # Fetched once more (the one retry of an unreadable zip), then given up.
    assert emu.counters.by_operation[ARCHIVE_OP] == len(_state(db).archives) + 1
    assert _packed_files(db) == _packed_server(emu)
    assert attachment_problems(db, emu, config.database.files_dir) == []


def _one_packed_message(db: Engine) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    f"SELECT message_id FROM attachment WHERE type IN ({PACKED_SQL})"
                    " GROUP BY message_id HAVING count(*) = 1 LIMIT 1"
                )
            ).scalar_one()
        )


@pytest.mark.parametrize(
    ("row_extension", "taken"),
    [("999999", False), (None, True)],
    ids=["another-extension", "old-row-is-the-homes"],
)
def test_an_entry_counts_only_in_the_folder_of_its_rows_extension(
    emu: Emulator,
    clock: FakeClock,
    tmp_path: Path,
    db: Engine,
    row_extension: str | None,
    taken: bool,
) -> None:
    config = _config(tmp_path)
    client = _client(config, emu.transport(), clock)
    pull(db, client, replace(config, sync=replace(config.sync, download_attachments=False)))
    victim = _one_packed_message(db)
    with db.begin() as conn:
        adopt_home_from_rows(conn, iso_utc())  # as every pull of the CLI does
        conn.execute(
            sa.text("UPDATE message SET extension_id = :e WHERE id = :m"),
            {"e": row_extension, "m": victim},
        )
    emu.counters.reset()
    pull(db, client, config)
    # The entry sits in the folder of the extension the server files it under; a row
    # that names another one gets its file from the content endpoint instead.
    content = emu.counters.by_operation["readMessageContent"]
    assert content == _transcriptions(db) + (0 if taken else 1)
    assert _packed_files(db) == _packed_server(emu)


class _NoConnectionForCreates(httpx.BaseTransport):
    """Every export create fails to connect (it never left); the rest goes through."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.refused = inner, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/message-store-report"):
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_a_create_that_cannot_connect_is_a_failed_attempt_not_a_failed_pull(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine
) -> None:
    transport = _NoConnectionForCreates(emu.transport())
    notes = Notes()
    config = _config(tmp_path)
    pull(db, _client(config, transport, clock), config, progress=notes)
    state = _state(db)
    assert transport.refused > 0 and state.attempts == 3 and state.gave_up_at is not None
    assert [n for n in notes.lines if "message-store export failed 3 times" in n]
    assert _packed_files(db) == _packed_server(emu)  # the content endpoint fetched them


TASK_OP = "readMessageStoreReportTask"


def _lose_some_files(db: Engine) -> None:
    """Five voicemails' files to fetch again (as a phase stopped early would leave them)."""
    with db.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE attachment SET path = NULL, skipped = NULL WHERE rowid IN"
                " (SELECT rowid FROM attachment WHERE type = 'AudioRecording' LIMIT 5)"
            )
        )


def test_an_unreachable_task_is_not_polled_again_for_a_while(
    emu: Emulator, clock: FakeClock, tmp_path: Path, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Watch runs an attachment phase after every event: a task that could not be read is
    asked about again only after `UNREACHABLE_WAIT`, not by each phase (up to five Heavy
    requests and the same line every time)."""
    from rcsync.rules.export import UNREACHABLE_WAIT
    from rcsync.sync import bootstrap

    emu.fault_rules.add({"operation": TASK_OP, "status": 503, "times": 5})  # one poll's tries
    config = _config(tmp_path)
    client = _client(config, emu.transport(), clock)
    notes = Notes()
    pull(db, client, config, progress=notes)
    unreachable = [n for n in notes.lines if "export task could not be read" in n]
    assert len(unreachable) == 1 and _state(db).unreachable_at is not None
    polls = emu.counters.by_operation[TASK_OP]
    assert _packed_files(db) == _packed_server(emu)  # the content endpoint fetched them

    _lose_some_files(db)
    notes = Notes()
    pull(db, client, config, progress=notes)
    assert emu.counters.by_operation[TASK_OP] == polls  # not asked again so soon
    assert not [n for n in notes.lines if "export task could not be read" in n]
    assert _packed_files(db) == _packed_server(emu)

    _lose_some_files(db)
    later = bootstrap._now() + UNREACHABLE_WAIT
    monkeypatch.setattr(bootstrap, "_now", lambda: later)
    pull(db, client, config)
    assert emu.counters.by_operation[TASK_OP] > polls  # asked again once the wait is over
    assert _packed_files(db) == _packed_server(emu)
