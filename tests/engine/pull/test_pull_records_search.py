"""Pure pieces (record mapping, keyset steps) and full-text search."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy.engine import Engine

from rcsync.errors import SearchError
from rcsync.rules import records as rec
from rcsync.rules.listing import Listing, next_listing
from rcsync.store.messages import save_records
from rcsync.store.search import search
from rcsync.types import ConflictPolicy as Policy
from tests.harness.inprocess import fast_emulator


def test_message_row_maps_parties_and_details() -> None:
    record = {
        "id": 7,
        "type": "VoiceMail",
        "creationTime": "2024-05-13T10:22:01.000Z",
        "from": {"phoneNumber": "+15551234567", "name": "Alice"},
        "to": [{"extensionNumber": "101", "name": "Me"}, {"phoneNumber": "+1555", "name": None}],
        "attachments": [
            {
                "id": 70,
                "type": "AudioRecording",
                "contentType": "audio/x-wav",
                "vmDuration": 31,
                "size": 100,
                "uri": "https://m/70",
            }
        ],
        "extensionId": 101,
        "readStatus": "Unread",
        "availability": "Alive",
    }
    row = rec.message_row(record)
    assert row["from_phone_number"] == "+15551234567" and row["from_name"] == "Alice"
    assert row["to_phone_numbers"] == "101,+1555" and row["to_names"] == "Me"
    assert row["vm_duration"] == 31 and row["extension_id"] == "101"
    assert rec.attachment_rows(record)[0]["size"] == 100
    assert rec.is_stub({"id": 7, "availability": "Purged"}) and not rec.is_stub(record)
    assert '"availability":"Purged"' in str(rec.patch_raw(rec.dumps(record), "Purged"))


def test_prepare_keeps_the_received_text_as_raw_unless_pretty_printed() -> None:
    record = {"id": 8, "type": "SMS", "creationTime": "2024-05-13T10:22:01.000Z"}
    spaced = '{"id": 8, "type": "SMS", "creationTime": "2024-05-13T10:22:01.000Z"}'
    pretty = '{\n  "id" : 8,\n  "type" : "SMS",\n  "creationTime" : "2024-05-13T10:22:01.000Z"\n}'
    raw = rec.ROW_COLUMNS.index("raw")
    ((kept, _),) = rec.prepare([record], [spaced]).values()
    ((redone, _),) = rec.prepare([record], [pretty]).values()
    assert kept[raw] == spaced  # as received: no second serialisation
    assert redone[raw] == rec.dumps(record)  # a pretty printer's layout is stored compact


def test_plus_one_ms() -> None:
    assert rec.plus_one_ms("2024-05-13T10:22:01.999Z") == "2024-05-13T10:22:02.000Z"


def _r(i: int, t: str) -> dict[str, object]:
    return {"id": i, "creationTime": t}


def test_next_listing_keyset_steps() -> None:
    start = Listing(frame={}, token="t", date_to="2030-01-01T00:00:00.000Z")
    page = [
        _r(3, "2024-01-03T00:00:00.000Z"),
        _r(2, "2024-01-02T00:00:00.000Z"),
        _r(1, "2024-01-02T00:00:00.000Z"),
    ]
    step = next_listing(start, page, has_next=True)
    assert step.date_to == "2024-01-02T00:00:00.001Z" and step.page == 1
    assert step.boundary == (1, 2) and step.oldest == "2024-01-02T00:00:00.000Z"
    crowded = next_listing(step, [_r(1, step.oldest or ""), _r(2, step.oldest or "")], True)
    assert crowded.page == 2 and crowded.date_to == step.date_to
    assert next_listing(step, page, has_next=False).done


@pytest.fixture
def searchable(engine: Engine) -> Engine:
    emu = fast_emulator(200, 4)
    with engine.begin() as conn:
        save_records(conn, emu.store.all_records(), policy=Policy.NEWEST, now="x")
    return engine


def test_search_finds_and_highlights(searchable: Engine) -> None:
    with searchable.connect() as conn:
        hits = search(conn, "meeting", limit=5)
        assert hits and all("meeting" in h.snippet.lower() for h in hits)
        assert "\x02" in hits[0].marked and "\x02" not in hits[0].snippet
        only_sms = search(conn, "meeting", message_type="sms")
        assert {h.type for h in only_sms} <= {"SMS"}


@pytest.mark.parametrize("query", ["\"'; DROP TABLE message; --", "a:b", "((", "NOT", '"'])
def test_hostile_queries_do_not_break(searchable: Engine, query: str) -> None:
    with searchable.connect() as conn:
        with contextlib.suppress(SearchError):
            search(conn, query)
        assert conn.exec_driver_sql("SELECT count(*) FROM message").scalar_one() > 0


def test_search_rejects_empty_and_unknown_type(searchable: Engine) -> None:
    with searchable.connect() as conn, pytest.raises(SearchError):
        search(conn, "  ")
    with searchable.connect() as conn, pytest.raises(SearchError):
        search(conn, "x", message_type="Telegram")
