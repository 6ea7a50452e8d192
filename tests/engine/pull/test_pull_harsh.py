"""The pull under RingCentral's harsher readings (issue 10, cases 3-5 and 7).

Each test fails on the main of before the fix: CMN-101 was an unknown error (every pull
failed), the first token came from ``recordCount=1`` (a record-bounded frame hid changes to
older messages), ``olderRecordsExist`` was ignored (a partial ISync moved the cursor), and
a lone surrogate made SQLite's encoder raise on every pull.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store.state import FIRST_PULL, SYNC_TOKEN, get_state
from rcsync.sync.pull import pull
from tests.harness.database import count_rows
from tests.harness.harsh import Harsh, surrogate_subject
from tests.harness.inprocess import make_client
from tests.harness.mirror import mirror_problems
from tests.harness.transports import Interrupted, Interrupting


def _state(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return get_state(conn, key)


def _alive(emu: Emulator) -> list[int]:
    return [r["id"] for r in emu.store.all_records() if r["availability"] == "Alive"]


# --- case 3: CMN-101 ----------------------------------------------------------------------


def test_cmn_101_token_means_a_full_resync_keeping_edits(
    emu: Emulator, config: Config, db: Engine
) -> None:
    client = make_client(config, Harsh(emu.transport(), cmn_101=True))
    pull(db, client, config)
    alive = _alive(emu)
    with db.begin() as conn:
        conn.execute(
            sa.text("UPDATE message SET read_status = 'Read' WHERE id = :i"), {"i": alive[0]}
        )
        conn.execute(sa.text("DELETE FROM message WHERE id = :i"), {"i": alive[1]})
    pending = count_rows(db, "SELECT count(*) FROM pending_change")
    emu.sync.invalidate()
    emu.store.remote_edit(alive[2], read_status="Read")
    summary = pull(db, client, config)
    assert summary.full
    assert mirror_problems(db, emu) == []
    assert count_rows(db, "SELECT count(*) FROM pending_change") == pending
    with db.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT read_status FROM message WHERE id = :i"), {"i": alive[0]}
            ).scalar_one()
            == "Read"
        )
    assert count_rows(db, f"SELECT count(*) FROM message WHERE id = {alive[1]}") == 0


def test_full_starts_over_when_the_unfinished_first_pulls_token_is_rejected(
    emu: Emulator, config: Config, db: Engine
) -> None:
    harsh = Harsh(emu.transport(), cmn_101=True)
    # Request 1 of the list endpoint counts; the listing after the FSync is interrupted.
    broken = make_client(config, Interrupting(harsh, after=1, marker="message-store?"))
    with pytest.raises(Interrupted):
        pull(db, broken, config)
    assert _state(db, FIRST_PULL) is not None
    emu.sync.invalidate()  # T0, kept in the stored listing, is now rejected (CMN-101)
    client = make_client(config, harsh)
    summary = pull(db, client, config, full=True)
    assert summary.full and mirror_problems(db, emu) == []
    assert _state(db, FIRST_PULL) is None and _state(db, SYNC_TOKEN)
    # A plain pull with the stored listing's token rejected recovers too.
    emu.sync.invalidate()
    assert pull(db, client, config).full
    assert mirror_problems(db, emu) == []


# --- case 4: the first token under a record-bounded frame ---------------------------------


@pytest.mark.parametrize("harsh", [{"record_frame": True}, {"fsync_cap": 5}])
def test_later_changes_to_old_messages_reach_the_mirror(
    emu: Emulator, config: Config, db: Engine, harsh: dict[str, object]
) -> None:
    client = make_client(config, Harsh(emu.transport(), **harsh))  # type: ignore[arg-type]
    pull(db, client, config)
    oldest = _alive(emu)[-3:]
    emu.store.remote_edit(oldest[0], read_status="Read")
    emu.store.remote_edit(oldest[1], availability="Deleted")
    emu.store.remote_edit(oldest[2], availability="Purged")
    summary = pull(db, client, config)
    assert not summary.full
    assert mirror_problems(db, emu) == []


# --- case 5: partial ISync answers ---------------------------------------------------------


def test_partial_isync_answers_are_followed_before_the_cursor_moves(
    emu: Emulator, config: Config, db: Engine
) -> None:
    harsh = Harsh(emu.transport(), isync_cap=4)
    client = make_client(config, harsh)
    pull(db, client, config)
    alive = [r for r in emu.store.all_records() if r["availability"] == "Alive"]
    emu.store.arrive(6)
    for record in alive[:5]:  # flipped, so each is a change
        flipped = "Read" if record["readStatus"] == "Unread" else "Unread"
        emu.store.remote_edit(record["id"], read_status=flipped)
    emu.store.remote_edit(alive[5]["id"], availability="Deleted")
    before, harsh.partial_answers = _state(db, SYNC_TOKEN), 0
    # The pull stops after the first (partial) answer: the cursor must not move.
    stopping = make_client(config, Interrupting(harsh, after=1, marker="syncType=ISync"))
    with pytest.raises(Interrupted):
        pull(db, stopping, config)
    assert harsh.partial_answers == 1
    assert _state(db, SYNC_TOKEN) == before
    summary = pull(db, client, config)
    assert mirror_problems(db, emu) == []
    assert harsh.partial_answers == 3  # 12 changes, 4 an answer
    # The stopped pull kept its part (4 of the 6 arrivals, newest first), not the cursor.
    assert summary.new == 2
    token = _state(db, SYNC_TOKEN)
    assert token and not token.startswith("part-")


# --- case 7: a lone surrogate --------------------------------------------------------------


def test_lone_surrogate_is_kept_storable_and_never_wedges_the_pull(
    emu: Emulator, config: Config, db: Engine
) -> None:
    sms = next(r["id"] for r in emu.store.all_records() if r["type"] == "SMS")
    client = make_client(config, surrogate_subject(emu.transport(), sms))
    pull(db, client, config)
    with db.connect() as conn:
        subject, text, name, raw = conn.execute(
            sa.text("SELECT subject, text, from_name, raw FROM message WHERE id = :i"), {"i": sms}
        ).one()
    assert subject == text == "cut emoji \ufffd" and name == "Bob \ufffd"
    # raw keeps the record as received: the surrogates come back exactly. The FSync's raw
    # is the very text the server sent (this one ASCII-escaped, spaced: ``"id": 1``), not
    # the parsed record serialised again (`rec.received_raw`).
    assert '"subject": "cut emoji \\ud83d"' in raw
    record = json.loads(raw)
    assert record["subject"] == "cut emoji \ud83d" and record["from"]["name"] == "Bob \udc00"
    emu.store.remote_edit(sms, availability="Deleted")  # a stub patches the stored raw
    emu.store.arrive(2)
    pull(db, client, config)
    with db.connect() as conn:
        raw = conn.execute(
            sa.text("SELECT raw FROM message WHERE id = :i"), {"i": sms}
        ).scalar_one()
    assert json.loads(raw)["availability"] == "Deleted"
    assert json.loads(raw)["subject"] == "cut emoji \ud83d"
    assert count_rows(db, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'emoji'") >= 1
