"""verify and prune in an account archive over loopback: an emulator of three extensions,
the admin mirrors them all; `--extension` narrows either to one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rcsync.emulator import serve
from rcsync.types import Availability, ReadStatus
from tests.harness.extensions import account_emulator
from tests.system.trust.trust_env import TrustEnv, pages_for

WRITES = ("updateMessage", "patchMessage", "deleteMessage", "deleteMessageByFilter")


@pytest.fixture
def account(tmp_path: Path) -> Iterator[TrustEnv]:
    emu = account_emulator(3, 120)
    with serve(emu, host="127.0.0.1", port=0) as server:
        env = TrustEnv(emu, server.url, tmp_path)
        env.write_config('[account]\nextensions = "all"\n')
        result = env.run("pull")
        assert result.exit_code == 0, result.output
        env.reset_counters()
        yield env


def _extensions(env: TrustEnv) -> list[tuple[int, str, int]]:
    """(id, number, messages on RingCentral) of every extension, by number."""
    out = []
    for ext in sorted(env.emu.account, key=lambda e: int(e.number)):
        out.append((int(ext.id), str(ext.number), len(ext.store.all_records())))
    return out


def test_account_verify_lists_every_extension_once_and_is_clean(account: TrustEnv) -> None:
    code, report = account.json("verify", "--deep")
    assert code == 0, report
    assert report["ok"] and report["findings"] == [] and report["unverified"] == []
    exts = _extensions(account)
    assert [e["number"] for e in report["extensions"]] == [n for _i, n, _c in exts]
    for part, (_id, _number, count) in zip(report["extensions"], exts, strict=True):
        assert part["remote_messages"] == count and part["problems"] == 0
        assert pages_for(count) <= part["list_requests"] <= pages_for(count) + 1
    assert report["remote_messages"] == sum(c for _i, _n, c in exts)
    # One walk per extension, each on its own path, and the account's retention once.
    assert account.emu.counters.by_operation == {
        "listMessages": report["list_requests"],
        "readMessageStoreConfiguration": 1,
    }
    text = account.run("verify")
    assert text.exit_code == 0 and "of 3 extensions" in text.output, text.output
    assert "archive complete" in text.output


def test_drift_in_one_extension_is_reported_for_that_extension(account: TrustEnv) -> None:
    ext = sorted(account.emu.account, key=lambda e: int(e.number))[1]
    record = next(r for r in ext.store.all_records() if r["availability"] == Availability.ALIVE)
    flipped = ReadStatus.UNREAD if record["readStatus"] == ReadStatus.READ else ReadStatus.READ
    ext.store.remote_edit(record["id"], read_status=flipped)
    code, report = account.json("verify")
    assert code == 1, report
    [finding] = report["findings"]
    assert (finding["kind"], finding["message_id"]) == ("drift", int(record["id"]))
    assert finding["extension"] == str(ext.number)
    problems = {e["number"]: e["problems"] for e in report["extensions"]}
    assert problems == {n: int(n == str(ext.number)) for n in problems}
    text = account.run("verify")
    assert f"extension {ext.number} message {record['id']}" in text.output, text.output
    # --extension lists that extension only; another one is clean.
    other = sorted(account.emu.account, key=lambda e: int(e.number))[0]
    account.reset_counters()
    code, only = account.json("verify", "--extension", str(other.number))
    assert code == 0, only
    assert [e["number"] for e in only["extensions"]] == [str(other.number)]
    assert only["remote_messages"] == len(other.store.all_records())
    # --repair merges the drift; then all is clean.
    code, repaired = account.json("verify", "--repair")
    assert code == 0 and repaired["findings"][0]["repaired"], repaired
    assert account.json("verify")[1]["findings"] == []


def test_an_unknown_extension_is_one_line(account: TrustEnv) -> None:
    for command in (["verify"], ["prune", "--older-than", "0"]):
        result = account.run(*command, "--extension", "999")
        assert result.exit_code != 0
        assert "extension 999 is not in this archive" in result.output
        assert "Traceback" not in result.output


def test_prune_extension_touches_only_that_extension(account: TrustEnv) -> None:
    exts = sorted(account.emu.account, key=lambda e: int(e.number))
    target, others = exts[1], [exts[0], exts[2]]
    before = {int(e.id): e.store.all_records() for e in others}
    alive = {
        int(r["id"])
        for r in target.store.all_records()
        if r["type"] == "SMS" and r["availability"] == Availability.ALIVE
    }
    assert alive
    code, summary = account.json(
        "prune", "--older-than", "0", "--type", "SMS", "--extension", str(target.number), "--force"
    )
    assert code == 0, summary
    assert summary["push"]["pushed"] == len(alive) and summary["candidates"] == len(alive)
    remote = {int(r["id"]): r["availability"] for r in target.store.all_records()}
    assert all(remote[i] == Availability.DELETED for i in alive)
    for e in others:
        assert e.store.all_records() == before[int(e.id)]
    # The archive keeps them, showing RingCentral's new state; nothing pending.
    rows = account.sql(
        "SELECT availability, base_availability FROM message WHERE extension_id = :e"
        " AND type = 'SMS'",
        e=str(target.id),
    )
    assert len(rows) >= len(alive) and ("Deleted", "Deleted") in rows
    assert account.sql("SELECT count(*) FROM local_edit") == [(0,)]
    assert sum(account.emu.counters.by_operation.get(op, 0) for op in WRITES) > 0


def test_an_extension_removed_meanwhile_is_not_verified_and_the_others_are(
    account: TrustEnv,
) -> None:
    exts = sorted(account.emu.account, key=lambda e: int(e.number))
    gone = exts[2]
    account.emu.account.remove(gone.id)
    code, report = account.json("verify")
    assert code == 1, report
    assert report["unverified"] == [str(gone.number)] and report["findings"] == []
    checked = {e["number"]: e["remote_messages"] for e in report["extensions"]}
    assert checked[str(exts[0].number)] == len(exts[0].store.all_records())
    text = account.run("verify")
    assert text.exit_code == 1 and f"extension {gone.number}: not verified" in text.output
    assert "1 extension not verified" in text.output and "Traceback" not in text.output
