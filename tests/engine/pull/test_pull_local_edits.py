"""Pulls and local edits: the three-way rule, conflicts by policy, tombstones, local columns."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store.messages import save_records
from rcsync.sync.pull import pull
from rcsync.types import ConflictPolicy as Policy
from tests.harness.inprocess import make_client
from tests.harness.mirror import mirror_problems


def _row(db: Engine, mid: int) -> dict[str, object]:
    with db.connect() as conn:
        return dict(
            conn.execute(sa.text("SELECT * FROM message WHERE id = :i"), {"i": mid})
            .mappings()
            .one()
        )


def _alive_unread(emu: Emulator) -> list[int]:
    return [
        r["id"]
        for r in emu.store.all_records()
        if r["availability"] == "Alive" and r["readStatus"] == "Unread"
    ]


def _edit(db: Engine, sql: str, **params: object) -> None:
    with db.begin() as conn:
        conn.execute(sa.text(sql), params)


def test_engine_writes_are_not_edits(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    mid = _alive_unread(emu)[0]
    emu.store.remote_edit(mid, read_status="Read")
    pull(db, client, config)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pending_change")).scalar_one() == 0


def test_local_edit_survives_unrelated_remote_change(
    emu: Emulator, config: Config, db: Engine
) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    mid = _alive_unread(emu)[0]
    _edit(db, "UPDATE message SET read_status = 'Read' WHERE id = :i", i=mid)
    with db.connect() as conn:
        edited_at = conn.execute(sa.text("SELECT edited_at FROM local_edit")).scalar_one()
    emu.store.remote_edit(mid, availability="Deleted")  # another field changed remotely
    pull(db, client, config)
    row = _row(db, mid)
    assert (row["read_status"], row["base_read_status"]) == ("Read", "Unread")
    assert (row["availability"], row["base_availability"]) == ("Deleted", "Deleted")
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT edited_at FROM local_edit")).scalar_one() == edited_at


@pytest.mark.parametrize(
    ("policy", "resolution"),
    [
        ("local", "kept_local"),
        ("remote", "took_remote"),
        ("newest", "took_remote"),  # the remote change was made after the local edit
    ],
)
def test_conflict_resolved_by_policy_and_recorded(
    emu: Emulator, config: Config, db: Engine, policy: str, resolution: str
) -> None:
    config = replace(config, sync=replace(config.sync, conflict_policy=policy))
    client = make_client(config, emu.transport())
    pull(db, client, config)
    mid = _alive_unread(emu)[0]
    _edit(db, "UPDATE message SET availability = 'Purged' WHERE id = :i", i=mid)  # local
    emu.store.remote_edit(mid, availability="Deleted")  # remote, different
    summary = pull(db, client, config)
    assert summary.conflicts == 1
    with db.connect() as conn:
        conflict = conn.execute(
            sa.text(
                "SELECT field, base_value, local_value, remote_value, resolution, policy"
                " FROM conflict"
            )
        ).one()
    assert tuple(conflict) == ("availability", "Alive", "Purged", "Deleted", resolution, policy)
    row = _row(db, mid)
    kept_local = resolution == "kept_local"
    assert row["availability"] == ("Purged" if kept_local else "Deleted")
    assert row["base_availability"] == "Deleted"  # the next pull is not a second conflict
    assert pull(db, client, config).conflicts == 0
    with db.connect() as conn:
        pending = conn.execute(sa.text("SELECT count(*) FROM pending_change")).scalar_one()
    assert pending == (1 if kept_local else 0)


def test_remote_purge_beats_local_restore(emu: Emulator, config: Config, db: Engine) -> None:
    config = replace(config, sync=replace(config.sync, conflict_policy="local"))
    client = make_client(config, emu.transport())
    pull(db, client, config)
    mid = next(r["id"] for r in emu.store.all_records() if r["availability"] == "Deleted")
    _edit(db, "UPDATE message SET availability = 'Alive' WHERE id = :i", i=mid)
    emu.store.remote_edit(mid, availability="Purged")
    summary = pull(db, client, config)
    row = _row(db, mid)
    assert summary.conflicts == 1
    assert (row["availability"], row["base_availability"]) == ("Purged", "Purged")


def test_tombstoned_ids_never_come_back(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    mid = _alive_unread(emu)[0]
    _edit(db, "DELETE FROM message WHERE id = :i", i=mid)
    emu.store.remote_edit(mid, read_status="Read")
    summary = pull(db, client, config)
    assert summary.tombstoned == 1
    pull(db, client, config, full=True)
    with db.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM message WHERE id = :i"), {"i": mid}
            ).scalar_one()
            == 0
        )
    assert mirror_problems(db, emu) == []


def test_upsert_keeps_local_only_columns_and_never_replaces(
    emu: Emulator, config: Config, db: Engine
) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    record = emu.store.all_records()[0]
    _edit(
        db,
        "UPDATE message SET text = 'from the attachment', transcription = 'hi' WHERE id = :i",
        i=record["id"],
    )
    with db.begin() as conn:
        save_records(conn, [record, record], policy=Policy.NEWEST, now="2030-01-01T00:00:00.000Z")
    row = _row(db, record["id"])
    assert (row["text"], row["transcription"]) == ("from the attachment", "hi")
    assert row["synced_at"] == "2030-01-01T00:00:00.000Z"
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tombstone")).scalar_one() == 0


def test_sms_text_follows_the_subject_unless_it_came_from_elsewhere(
    config: Config, db: Engine
) -> None:
    def sms(i: int, subject: str) -> dict[str, object]:
        return {
            "id": i,
            "type": "SMS",
            "creationTime": "2024-01-01T00:00:00.000Z",
            "subject": subject,
            "readStatus": "Read",
            "availability": "Alive",
        }

    def save(*records: dict[str, object]) -> None:
        with db.begin() as conn:
            save_records(conn, records, policy=Policy.NEWEST, now="2030-01-01T00:00:00.000Z")

    fax = {**sms(3, "Fax from Bob"), "type": "Fax"}
    save(sms(1, "hello"), sms(2, "hi"), fax, {**sms(4, "page me"), "type": "Pager"})
    assert [_row(db, i)["text"] for i in (1, 2, 3, 4)] == ["hello", "hi", None, "page me"]
    # A Text part was downloaded for 2 (the whole text); 1 still has the subject's.
    _edit(db, "UPDATE message SET text = 'hi, the whole text' WHERE id = 2")
    save(sms(1, "hello again"), sms(2, "hi again"), fax)
    assert [_row(db, i)["text"] for i in (1, 2, 3)] == ["hello again", "hi, the whole text", None]
    with db.connect() as conn:
        hits = {
            r[0]
            for r in conn.execute(
                sa.text("SELECT rowid FROM message_fts WHERE message_fts MATCH 'text: again'")
            )
        }
    assert hits == {1}


def test_stub_for_unknown_or_purged_message_creates_nothing(config: Config, db: Engine) -> None:
    with db.begin() as conn:
        counts = save_records(
            conn,
            [{"id": 42, "availability": "Purged"}, {"id": 43, "availability": "Deleted"}],
            policy=Policy.NEWEST,
            now="2030-01-01T00:00:00.000Z",
        )
    assert counts.new == 0
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM message")).scalar_one() == 0


def test_64_bit_ids_and_conversation_ids_exact(config: Config, db: Engine) -> None:
    record = {
        "id": 9_007_199_254_740_993,
        "type": "SMS",
        "creationTime": "2024-01-01T00:00:00.000Z",
        "conversationId": 8234962969801171948,
        "conversation": {"id": "8234962969801171948"},
        "readStatus": "Unread",
        "availability": "Alive",
        "attachments": [{"id": 9_007_199_254_740_995, "type": "Text", "contentType": "text/plain"}],
    }
    with db.begin() as conn:
        save_records(conn, [record], policy=Policy.NEWEST, now="2030-01-01T00:00:00.000Z")
    row = _row(db, 9_007_199_254_740_993)
    assert row["conversation_id"] == "8234962969801171948"
    assert '"conversationId":8234962969801171948' in str(row["raw"])
    with db.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT id FROM attachment")).scalar_one() == 9_007_199_254_740_995
        )
