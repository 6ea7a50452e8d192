"""`rcsync mark/delete/restore/pending/revert/push/sync`: what they print, exit codes, and
push against the emulator served over real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from rcsync.cli import cli
from rcsync.store.database import open_database
from tests.harness.account import EMULATOR_TOML

emulator = pytest.importorskip("rcsync.emulator")

_INSERT = sa.text(
    "INSERT INTO message (id, type, creation_time, conversation_id, from_phone_number,"
    " raw, read_status, base_read_status, remote_read_status, availability, base_availability,"
    " remote_availability) VALUES (:id, :type, :ct, :conv, :frm, :raw, :rs, :rs, :rs, :av, :av,"
    " :av)"
)


def seed(db: Path, records: list[dict[str, Any]]) -> None:
    engine = open_database(db)
    with engine.begin() as conn:
        conn.execute(
            _INSERT,
            [
                {
                    "id": r["id"],
                    "type": r["type"],
                    "ct": r["creationTime"],
                    "conv": str(
                        r.get("conversationId") or r.get("conversation", {}).get("id") or ""
                    )
                    or None,
                    "frm": (r.get("from") or {}).get("phoneNumber"),
                    "raw": json.dumps(r),
                    "rs": r["readStatus"],
                    "av": r["availability"],
                }
                for r in records
            ],
        )
    engine.dispose()


def record(
    mid: int,
    *,
    read: str = "Read",
    avail: str = "Alive",
    conv: str = "c1",
    created: str = "2024-01-10T00:00:00.000Z",
    type_: str = "SMS",
) -> dict[str, Any]:
    return {
        "id": mid,
        "type": type_,
        "creationTime": created,
        "conversation": {"id": conv},
        "from": {"phoneNumber": "+15550001"},
        "readStatus": read,
        "availability": avail,
    }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    seed(
        path,
        [
            record(1),
            record(2),
            record(3, conv="c2", created="2023-05-01T00:00:00.000Z"),
            record(4, avail="Deleted"),
            record(5, avail="Purged", type_="Fax"),
        ],
    )
    return path


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    engine = open_database(db)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(sa.text(query))]
    engine.dispose()
    return out


def test_mark_prints_what_it_did_and_becomes_pending(db: Path) -> None:
    result = run(db, "mark", "unread", "1", "2")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "marked 2 messages unread; run `rcsync push` to send"
    assert rows(db, "SELECT message_id, new_value FROM pending_change ORDER BY 1") == [
        (1, "Unread"),
        (2, "Unread"),
    ]


def test_filters_select_messages(db: Path) -> None:
    result = run(db, "delete", "--conversation", "c2")
    assert result.exit_code == 0, result.output
    assert "trashed 1 message" in result.output
    deleted = rows(db, "SELECT id FROM message WHERE availability='Deleted' ORDER BY 1")
    assert deleted == [(3,), (4,)]
    result = run(db, "mark", "unread", "--before", "2024-01-01", "--type", "SMS")
    assert "marked 1 message unread" in result.output


def test_purge_and_restore(db: Path) -> None:
    assert "purged 1 message" in run(db, "delete", "--purge", "1").output
    assert "restored 1 message" in run(db, "restore", "4").output
    assert rows(db, "SELECT id, availability FROM message WHERE id IN (1, 4) ORDER BY 1") == [
        (1, "Purged"),
        (4, "Alive"),
    ]
    # a purged message can be neither marked nor restored
    marked = run(db, "mark", "unread", "5").output
    assert "marked 0 messages unread (1 already unread or purged)" in marked
    assert "restored 0 messages (1 not in the trash, or purged)" in run(db, "restore", "5").output


@pytest.mark.parametrize(
    "args", [("mark", "read", "99"), ("delete", "1", "99"), ("restore", "98"), ("revert", "2")]
)
def test_unknown_ids_are_one_line_errors(db: Path, args: tuple[str, ...]) -> None:
    result = run(db, *args)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("rcsync: error: no ")


def test_empty_selection_is_refused(db: Path) -> None:
    result = run(db, "delete")
    assert result.exit_code == 1
    assert "no messages selected" in result.output
    result = run(db, "delete", "--type", "Pager")
    assert result.exit_code == 1 and "no message matches" in result.output


def test_pending_and_revert(db: Path) -> None:
    run(db, "mark", "unread", "1")
    engine = open_database(db)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM message WHERE id = 2"))
    engine.dispose()
    listed = json.loads(run(db, "pending", "--json").output)
    assert {(p["message_id"], p["field"]) for p in listed} == {(1, "read_status"), (2, "row")}
    assert "2 pending edits" in run(db, "pending").output
    result = run(db, "revert", "--all")
    assert result.output.strip() == "reverted pending edits of 2 messages"
    assert rows(db, "SELECT count(*) FROM pending_change") == [(0,)]
    assert rows(
        db, "SELECT id, read_status, base_read_status FROM message WHERE id IN (1, 2) ORDER BY 1"
    ) == [(1, "Read", "Read"), (2, "Read", "Read")]
    assert rows(db, "SELECT count(*) FROM tombstone") == [(0,)]
    assert rows(db, "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'x'") == [(0,)]


def test_revert_needs_ids_or_all(db: Path) -> None:
    assert run(db, "revert").exit_code == 2


# --- push over real HTTP ----------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, Path, Path]]:
    emu = emulator.Emulator(messages=30, seed=3, rate_limits=False)
    with emulator.serve(emu, host="127.0.0.1", port=0) as server:
        db = tmp_path / "live.db"
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            f'[ringcentral]\nserver = "{server.url}"\n{EMULATOR_TOML}'
            f'token_file = "{tmp_path / "tokens.json"}"\n'
            f'[database]\npath = "{db}"\n[sync]\ndelete_guard = 3\n'
            f"download_attachments = false\n"
        )
        seed(db, emu.store.all_records())
        yield emu, db, cfg


def live(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def alive_ids(db: Path, n: int) -> list[str]:
    return [
        str(r[0])
        for r in rows(
            db, f"SELECT id FROM message WHERE availability='Alive' ORDER BY id LIMIT {n}"
        )
    ]


def test_push_dry_run_then_push(served: tuple[Any, Path, Path]) -> None:
    emu, db, cfg = served
    ids = alive_ids(db, 3)
    live(cfg, "mark", "unread", ids[0])
    live(cfg, "delete", ids[1])
    result = live(cfg, "push", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "PUT message-store/{ids} readStatus=Unread  (1 request, 1 message)" in result.output
    assert "DELETE message-store/{ids}  (1 request, 1 message)" in result.output
    assert "nothing was changed" in result.output
    assert emu.store.get(int(ids[1]))["availability"] == "Alive"
    result = live(cfg, "push")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("pushed 2 edits in 3 requests; 0 failed; 0 conflicts")
    assert emu.store.get(int(ids[1]))["availability"] == "Deleted"
    assert emu.store.get(int(ids[0]))["readStatus"] == "Unread"
    doc = json.loads(live(cfg, "push", "--json").output)
    assert doc["pending"] == 0 and doc["requests"] == 0


def test_push_guard_exit_1_and_force(served: tuple[Any, Path, Path]) -> None:
    emu, db, cfg = served
    ids = alive_ids(db, 5)
    live(cfg, "delete", *ids)
    result = live(cfg, "push")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "rcsync: error: refusing to trash 5 and purge 0 messages (more than delete_guard = 3);"
        " rerun with --force if you meant it"
    )
    assert {emu.store.get(int(i))["availability"] for i in ids} == {"Alive"}
    result = live(cfg, "push", "--force")
    assert result.exit_code == 0, result.output
    assert {emu.store.get(int(i))["availability"] for i in ids} == {"Deleted"}
