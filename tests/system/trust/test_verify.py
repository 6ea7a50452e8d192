"""`rcsync verify` over loopback: a clean mirror, damaged and missing files, remote drift."""

from __future__ import annotations

import datetime as dt

from rcsync.types import Availability, ReadStatus
from tests.system.trust.trust_env import TrustEnv, pages_for


def _kinds(report: dict) -> dict[str, list[int]]:  # type: ignore[type-arg]
    out: dict[str, list[int]] = {}
    for f in report["findings"]:
        out.setdefault(f["kind"], []).append(f["message_id"])
    return out


def test_clean_mirror_is_clean_in_the_listing_minimum(pulled: TrustEnv) -> None:
    code, report = pulled.json("verify", "--deep")
    assert code == 0, report
    assert report["ok"] and report["findings"] == []
    total = len(pulled.emu.store.all_records())
    assert report["remote_messages"] == total
    assert report["files_checked"] > 0
    # The walk costs ceil(n/1000) pages, plus at most one per crowded boundary instant.
    assert pulled.list_pages() == report["list_requests"]
    assert pages_for(total) <= report["list_requests"] <= pages_for(total) + 1
    # Plus one read of the account's retention setting (for `status`), and nothing else.
    assert pulled.emu.counters.by_operation == {
        "listMessages": report["list_requests"],
        "readMessageStoreConfiguration": 1,
    }
    assert report["retention_period"] == 90
    text = pulled.run("verify")
    assert text.exit_code == 0 and "archive complete" in text.output


def test_damaged_and_missing_files_are_found_and_repaired(pulled: TrustEnv) -> None:
    (vm_mid, vm_att, vm_file), *_ = pulled.files_of("VoiceMail")
    (fax_mid, fax_att, fax_file), *_ = pulled.files_of("Fax")
    original = vm_file.read_bytes()
    vm_file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size, one bit
    fax_file.unlink()
    shallow, _ = pulled.json("verify")
    assert shallow == 0  # without --deep files are not read
    code, report = pulled.json("verify", "--deep")
    assert code == 1
    by_kind = {(f["kind"], f["message_id"], f["attachment_id"]) for f in report["findings"]}
    assert by_kind == {("file_corrupt", vm_mid, vm_att), ("file_missing", fax_mid, fax_att)}
    assert all(f["fix"] == "--repair" for f in report["findings"])
    text = pulled.run("verify", "--deep")
    assert text.exit_code == 1 and f"message {vm_mid}" in text.output
    code, repaired = pulled.json("verify", "--deep", "--repair")
    assert code == 0, repaired
    assert all(f["repaired"] for f in repaired["findings"])
    assert vm_file.read_bytes() == original and fax_file.exists()
    assert pulled.json("verify", "--deep")[1]["findings"] == []


def test_remote_drift_missing_and_gone_remotely(pulled: TrustEnv) -> None:
    records = pulled.emu.store.all_records()
    alive = [r for r in records if r["availability"] == Availability.ALIVE]
    unread = next(r for r in alive if r["readStatus"] == ReadStatus.UNREAD)
    trashed = next(r for r in alive if r["id"] != unread["id"])
    pulled.emu.store.remote_edit(unread["id"], read_status=ReadStatus.READ)
    pulled.emu.store.remote_edit(trashed["id"], availability=Availability.DELETED)
    [arrived] = pulled.emu.store.arrive(1)
    code, report = pulled.json("verify")
    assert code == 1
    kinds = _kinds(report)
    assert sorted(kinds["drift"]) == sorted([unread["id"], trashed["id"]])
    assert kinds["missing_locally"] == [arrived["id"]]
    fixes = {f["message_id"]: f["fix"] for f in report["findings"] if f["problem"]}
    assert set(fixes.values()) == {"pull"}
    code, repaired = pulled.json("verify", "--repair")
    assert code == 0, repaired
    assert pulled.json("verify")[0] == 0
    row = pulled.sql("SELECT read_status, availability FROM message WHERE id = :i", i=unread["id"])
    assert row == [("Read", "Alive")]


def test_pending_edit_is_a_note_and_retention_loss_is_info_only(pulled: TrustEnv) -> None:
    records = sorted(pulled.emu.store.all_records(), key=lambda r: r["creationTime"])
    target = next(r for r in records[50:] if r["availability"] == Availability.ALIVE)
    new = ReadStatus.UNREAD if target["readStatus"] == ReadStatus.READ else ReadStatus.READ
    pulled.sql("UPDATE message SET read_status = :v WHERE id = :i", v=new, i=target["id"])
    cutoff = records[10]["creationTime"]
    dropped = [r["id"] for r in records if r["creationTime"] < cutoff]
    when = dt.datetime.fromisoformat(cutoff.replace("Z", "+00:00"))
    assert pulled.emu.store.drop_before(int(when.timestamp() * 1000)) == len(dropped)
    code, report = pulled.json("verify")
    assert code == 0, report  # nothing here is a problem
    kinds = _kinds(report)
    assert kinds["pending"] == [target["id"]]
    assert sorted(kinds["gone_remotely"]) == sorted(
        i
        for i in dropped
        if pulled.sql("SELECT availability FROM message WHERE id=:i", i=i) != [("Purged",)]
    )
    assert {f["fix"] for f in report["findings"] if f["kind"] == "pending"} == {"push"}


def test_without_an_archive_verify_and_prune_say_so_and_create_nothing(env: TrustEnv) -> None:
    for args in (("verify",), ("prune", "--older-than", "30")):
        result = env.run(*args)
        assert result.exit_code == 1
        assert "no database yet" in result.output and "Traceback" not in result.output
        assert not env.db.exists()


def test_many_notes_are_counted_and_problems_come_first(pulled: TrustEnv) -> None:
    records = sorted(pulled.emu.store.all_records(), key=lambda r: r["creationTime"])
    cutoff = records[40]["creationTime"]
    when = dt.datetime.fromisoformat(cutoff.replace("Z", "+00:00"))
    pulled.emu.store.drop_before(int(when.timestamp() * 1000))
    [arrived] = pulled.emu.store.arrive(1)
    result = pulled.run("verify")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"missing locally: message {arrived['id']}")
    notes = [line for line in lines if line.startswith("notes: ")]
    assert len(notes) == 1 and "gone remotely" in notes[0]
    assert not [line for line in lines if line.startswith("gone remotely:")]
