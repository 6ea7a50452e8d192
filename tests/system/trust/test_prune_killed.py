"""A prune killed while a trash DELETE is in flight: nothing is purged that was only to be
trashed, and the next push finishes the prune (a real process, killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from rcsync.types import Availability
from tests.harness.account import EMULATOR_ENV
from tests.harness.processes import wait_for
from tests.system.trust.trust_env import TrustEnv


def test_killed_mid_prune_trashes_only_and_push_finishes(pulled: TrustEnv) -> None:
    ids = [
        int(r[0])
        for r in pulled.sql("SELECT id FROM message WHERE type = 'SMS' AND availability = 'Alive'")
    ]
    assert len(ids) > 60  # more than one DELETE batch of 50
    # The first DELETE is applied but its answer is held back: the prune is killed then.
    httpx.post(
        f"{pulled.url}/_emulator/faults",
        json={"operation": "deleteMessage", "after_write": "delay", "delay_ms": 60000},
    ).raise_for_status()
    env = {
        **os.environ,
        "RCSYNC_SERVER": pulled.url,
        **EMULATOR_ENV,
        "RCSYNC_CONFIG": str(pulled.root / "config.toml"),
    }
    command = [sys.executable, "-m", "rcsync", "--db", str(pulled.db), "prune"]
    proc = subprocess.Popen(
        [*command, "--older-than", "0", "--type", "SMS", "--force"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: pulled.emu.counters.by_operation.get("deleteMessage", 0) >= 1,
            30,
            "the first DELETE",
        )
        time.sleep(0.3)  # the emulator applies it, then holds the answer
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    remote = {int(r["id"]): r["availability"] for r in pulled.emu.store.all_records()}
    assert sum(remote[i] == Availability.DELETED for i in ids) == 50
    httpx.delete(f"{pulled.url}/_emulator/faults").raise_for_status()
    # The staged edits wait in the outbox; the journal holds the unanswered batch.
    assert pulled.sql("SELECT count(*) FROM local_edit") == [(len(ids),)]
    finish = pulled.run("push", "--force")
    assert finish.exit_code == 0, finish.output
    remote = {int(r["id"]): r["availability"] for r in pulled.emu.store.all_records()}
    assert {remote[i] for i in ids} == {Availability.DELETED}  # none purged
    assert pulled.sql("SELECT count(*) FROM local_edit") == [(0,)]
    rows = pulled.sql(
        f"SELECT DISTINCT availability, base_availability FROM message"
        f" WHERE id IN ({','.join(map(str, ids))})"
    )
    assert rows == [("Deleted", "Deleted")]
