"""The pure rules of the export bootstrap: entry names, matching, checks, window, state."""

from __future__ import annotations

import datetime as dt

import pytest

from rcsync.rules import export as rules
from rcsync.rules.export import ArchiveState, ArchiveStatus, EntryRef, ExportState, Wanted
from rcsync.types import UseExport

BASE = "account/409562008/extension/409563008/message-store"


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        (f"{BASE}/14/content/140.wav", EntryRef("409563008", 14, "140", "wav")),
        (f"{BASE}/14/content/14.PDF", EntryRef("409563008", 14, "14", "pdf")),
        (f"{BASE}/14/content/140", EntryRef("409563008", 14, "140", "")),
        ("account/1/extension/2/message-store.json", None),
        (f"{BASE}/14/content/", None),
        (f"{BASE}/x/content/1.wav", None),
        (f"{BASE}/14/content/../../1.wav", None),
    ],
)
def test_entry_names(name: str, ref: EntryRef | None) -> None:
    assert rules.parse_entry(name) == ref


def test_pick_by_attachment_id_then_the_docs_message_id_form() -> None:
    audio = Wanted(14, 140, "audio/x-wav", 10, "e")
    pdf = Wanted(14, 141, "application/pdf", 20, "e")
    assert rules.pick(EntryRef("e", 14, "141", "pdf"), [audio, pdf]) == pdf
    # ``{messageId}.wav``: the message's only missing attachment, never a guess among two.
    assert rules.pick(EntryRef("e", 14, "14", "wav"), [audio]) == audio
    assert rules.pick(EntryRef("e", 14, "14", "wav"), [audio, pdf]) is None
    assert rules.pick(EntryRef("e", 14, "999", "wav"), [audio]) is None
    assert rules.pick(EntryRef("e", 14, "audio", "wav"), [audio]) is None


@pytest.mark.parametrize(
    ("suffix", "size", "want", "ok"),
    [
        ("wav", 10, Wanted(1, 2, "audio/x-wav", 10, "e"), True),
        ("wav", 11, Wanted(1, 2, "audio/x-wav", 10, "e"), False),
        ("wav", 10, Wanted(1, 2, "audio/x-wav", None, "e"), False),
        ("pdf", 10, Wanted(1, 2, "audio/x-wav", 10, "e"), False),
        ("jpeg", 10, Wanted(1, 2, "image/jpeg; name=a", 10, "e"), True),
        ("heic", 10, Wanted(1, 2, "image/heic", 10, "e"), True),
        ("png", 10, Wanted(1, 2, "image/heic", 10, "e"), False),
    ],
)
def test_mismatch(suffix: str, size: int, want: Wanted, ok: bool) -> None:
    why = rules.mismatch(EntryRef("e", 1, "2", suffix), size, want)
    assert (why is None) is ok


@pytest.mark.parametrize(
    ("folder", "row", "home", "ok"),
    [
        ("101", "101", None, True),
        ("102", "101", "101", False),  # another user's folder: never this row's file
        ("101", None, "101", True),  # a row from before message.extension_id: the home's
        ("102", None, "101", False),
        ("101", None, None, False),  # nothing to check the folder against: not taken
    ],
)
def test_an_entry_counts_only_in_its_rows_extension(
    folder: str, row: str | None, home: str | None, ok: bool
) -> None:
    want = Wanted(1, 2, "audio/x-wav", 10, rules.row_extension(row, home))
    why = rules.mismatch(EntryRef(folder, 1, "2", "wav"), 10, want)
    assert (why is None) is ok
    if not ok:
        assert why is not None and "extension" in why


def test_wanted_by_mode_and_threshold() -> None:
    many, few = rules.EXPORT_AFTER + 1, rules.EXPORT_AFTER
    assert rules.wanted(UseExport.AUTO, many, resuming=False)
    assert not rules.wanted(UseExport.AUTO, few, resuming=False)
    assert rules.wanted(UseExport.AUTO, few, resuming=True)
    assert rules.wanted(UseExport.ALWAYS, 1, resuming=False)
    assert not rules.wanted(UseExport.ALWAYS, 0, resuming=False)
    assert not rules.wanted(UseExport.NEVER, many, resuming=True)


def test_window_covers_every_time_with_a_margin() -> None:
    times = ["2024-05-01T10:00:00.000Z", "2023-01-02T03:04:05.000Z"]
    assert rules.window(times) == ("2023-01-02T03:04:04.000Z", "2024-05-01T10:00:01.000Z")
    assert rules.window([]) is None


def test_retry_after_giving_up_or_finishing_only_a_day_later() -> None:
    now = dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)
    state = ExportState("a", "b", gave_up_at="2026-01-02T00:00:00.000Z")
    assert not rules.may_retry(state, now)
    assert rules.may_retry(state, now + dt.timedelta(hours=12))
    assert rules.may_retry(None, now)
    assert not rules.may_retry(ExportState("a", "b", finished_at="2026-01-02T11:00:00Z"), now)


def test_polls_grow_to_a_minute() -> None:
    delays = [rules.poll_delay(n) for n in range(8)]
    assert delays[0] == 10 and delays == sorted(delays) and delays[-1] == rules.MAX_POLL


def test_state_round_trips_and_counts_attempts() -> None:
    state = ExportState(
        "2023-01-01T00:00:00.000Z",
        "2024-01-01T00:00:00.000Z",
        ("Fax", "VoiceMail"),
        task_id="t-1",
        attempts=1,
        archives=(ArchiveState("https://x/archive/0", 5, ArchiveStatus.DONE, 1),),
    )
    assert ExportState.from_json(state.to_json()) == state
    failed = state.failed("task Failed")
    assert failed.task_id is None and failed.archives == () and failed.failures == ("task Failed",)
    assert not failed.exhausted
    assert ExportState("a", "b", attempts=rules.MAX_TASK_ATTEMPTS).exhausted
