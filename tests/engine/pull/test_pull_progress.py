"""What the pull tells its `Progress`: totals that end at what was stored, the first pull's
note, and the estimate of a long attachment download."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import rcsync.sync.pull as pull_module
from rcsync.api import RateBudget
from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.progress import NullProgress
from rcsync.sync.attachments import estimate_note
from rcsync.sync.pull import pull
from rcsync.types import Availability
from tests.harness.inprocess import make_client


class Recorder(NullProgress):
    def __init__(self) -> None:
        self.totals: dict[str, int | None] = {}
        self.done: dict[str, int] = {}
        self.notes: list[str] = []
        self.phase = ""

    def start(self, phase: str, total: int | None = None) -> None:
        self.phase = phase
        self.totals[phase], self.done[phase] = total, 0

    def advance(self, n: int = 1) -> None:
        self.done[self.phase] += n

    def discount(self, n: int) -> None:
        total = self.totals[self.phase]
        self.totals[self.phase] = None if total is None else total - n

    def hint(self, message: str) -> None:
        self.notes.append(message)


def test_the_messages_total_ends_at_what_was_stored(
    emu: Emulator, config: Config, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_module, "FULL_PULL_NOTE_AFTER", 100)  # 300 is a long listing
    purged = sum(r["availability"] == Availability.PURGED for r in emu.store.all_records())
    assert purged, "the seed must list purged messages (they are not stored)"
    progress = Recorder()
    pull(db, make_client(config, emu.transport()), config, progress=progress)
    with db.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM message")).scalar_one()
    assert progress.totals["messages"] == progress.done["messages"] == stored
    assert any(
        n.startswith(f"full pull: {stored + purged:,} messages, then") for n in progress.notes
    )


def test_a_long_download_is_estimated_at_the_known_limit() -> None:
    budget = RateBudget(limits={"Medium": (40, 60.0)})
    note = estimate_note(6674, budget)
    assert note is not None
    first, second = note.splitlines()
    assert first == "6,674 attachments: about 2 h 47 min at RingCentral rate limit (Medium, 40/min)"
    assert max(len(first), len(second)) < 80  # no wrap on an 80-column terminal
    assert "`rcsync pull --no-attachments`" in note and "`rcsync pull` resumes" in note


def test_a_short_download_or_an_unknown_pace_gets_no_estimate() -> None:
    assert estimate_note(30, RateBudget()) is None  # 45 s at 40/min
    assert estimate_note(6674, object()) is None


def test_a_short_listing_gets_no_note(emu: Emulator, config: Config, db: Engine) -> None:
    progress = Recorder()
    pull(db, make_client(config, emu.transport()), config, progress=progress)
    assert progress.notes == []
