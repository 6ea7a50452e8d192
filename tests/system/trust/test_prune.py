"""`rcsync prune` over loopback: only verified, settled messages go; the archive keeps all."""

from __future__ import annotations

from rcsync.types import Availability
from tests.system.trust.trust_env import TrustEnv

WRITES = ("updateMessage", "patchMessage", "deleteMessage", "deleteMessageByFilter")


def _remote(env: TrustEnv) -> dict[int, str]:
    return {int(r["id"]): r["availability"] for r in env.emu.store.all_records()}


def _writes(env: TrustEnv) -> int:
    return sum(env.emu.counters.by_operation.get(op, 0) for op in WRITES)


def _alive(env: TrustEnv, mtype: str) -> list[int]:
    rows = env.sql(
        "SELECT id FROM message WHERE type = :t AND availability = 'Alive' ORDER BY id", t=mtype
    )
    return [int(r[0]) for r in rows]


def test_dry_run_hashes_and_plans_but_changes_nothing(pulled: TrustEnv) -> None:
    before = _remote(pulled)
    faxes = _alive(pulled, "Fax")
    result = pulled.run("prune", "--older-than", "0", "--type", "fax", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "DELETE message-store/{ids}" in result.output and "nothing was changed" in result.output
    assert f"would trash {len(faxes):,} messages" in result.output
    assert _writes(pulled) == 0 and _remote(pulled) == before
    assert pulled.sql("SELECT count(*) FROM local_edit") == [(0,)]


def test_prune_skips_damaged_pending_and_conflicted_and_keeps_the_archive(
    pulled: TrustEnv,
) -> None:
    files = pulled.files_of("VoiceMail")
    with_files = sorted({m for m, _a, _p in files})
    damaged, pending, conflicted = with_files[:3]
    path = next(p for m, _a, p in files if m == damaged)
    path.write_bytes(b"x" + path.read_bytes()[1:])  # same size, other content
    pulled.sql(
        "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        " ELSE 'Read' END WHERE id = :i",
        i=pending,
    )
    pulled.sql(
        "INSERT INTO conflict (message_id, field, policy, resolution, detected_at)"
        " VALUES (:i, 'read_status', 'newest', 'took_remote', '2024-01-01T00:00:00.000Z')",
        i=conflicted,
    )
    voicemail = _alive(pulled, "VoiceMail")
    code, summary = pulled.json("prune", "--older-than", "0", "--type", "VoiceMail", "--force")
    assert code == 0, summary
    assert summary["skipped"] == {
        "a file failed its hash check": 1,
        "pending edit": 1,
        "conflict recorded": 1,
    }
    remote = _remote(pulled)
    kept = {damaged, pending, conflicted}
    assert {i for i in voicemail if remote[i] == Availability.ALIVE} == kept
    assert all(remote[i] == Availability.DELETED for i in voicemail if i not in kept)
    # The archive keeps every row and file; the rows show RingCentral's new state, settled.
    rows = pulled.sql(
        "SELECT id, availability, base_availability, remote_availability FROM message"
        " WHERE type = 'VoiceMail'"
    )
    assert len(rows) >= len(voicemail)
    for mid, local, base, rem in rows:
        if mid in voicemail and mid not in kept:
            assert (local, base, rem) == ("Deleted", "Deleted", "Deleted")
    assert all(p.exists() for _m, _a, p in files)
    assert pulled.sql("SELECT message_id FROM local_edit") == [(pending,)]


def test_the_delete_guard_stops_prune_before_anything_is_written(pulled: TrustEnv) -> None:
    pulled.write_config("[sync]\ndelete_guard = 3\n")
    result = pulled.run("prune", "--older-than", "0", "--type", "SMS")
    assert result.exit_code == 1
    assert "delete_guard = 3" in result.output and "--force" in result.output
    assert _writes(pulled) == 0
    assert pulled.sql("SELECT count(*) FROM local_edit") == [(0,)]


def test_purge_purges_and_a_second_prune_finds_nothing(pulled: TrustEnv) -> None:
    faxes = _alive(pulled, "Fax")
    code, summary = pulled.json("prune", "--older-than", "0", "--type", "Fax", "--purge")
    assert code == 0, summary
    remote = _remote(pulled)
    assert all(remote.get(i, Availability.PURGED) == Availability.PURGED for i in faxes)
    assert summary["push"]["pushed"] == len(faxes)
    again = pulled.run("prune", "--older-than", "0", "--type", "Fax", "--purge")
    assert again.exit_code == 0 and "pruned 0 messages" in again.output
