"""The pull over real loopback HTTP, remote changes made through the emulator's control API."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from rcsync.emulator import FakeClock, serve
from rcsync.store.database import open_database
from rcsync.sync.pull import pull
from tests.harness.config import make_config
from tests.harness.inprocess import UNLIMITED, RateBudget, fast_emulator
from tests.harness.mirror import attachment_problems, mirror_problems


def test_pull_over_http_follows_control_api_changes(tmp_path: Path) -> None:
    from rcsync.api import build_client

    clock = FakeClock(time.time())
    emu = fast_emulator(600, 21, clock)
    with serve(emu, host="127.0.0.1", port=0) as server, httpx.Client(base_url=server.url) as ctl:
        config = make_config(tmp_path, server=server.url, download_attachments=True)
        engine = open_database(config.database.path)
        client = build_client(config.ringcentral, budget=RateBudget(limits=UNLIMITED))
        pull(engine, client, config)
        assert mirror_problems(engine, emu) == []
        assert attachment_problems(engine, emu, config.database.files_dir) == []

        records = ctl.get("/_emulator/messages").json()["records"]
        alive = [r["id"] for r in records if r["availability"] == "Alive"]
        ctl.post("/_emulator/messages", json={"count": 4}).raise_for_status()
        ctl.patch(f"/_emulator/messages/{alive[0]}", json={"readStatus": "Read"})
        ctl.patch(f"/_emulator/messages/{alive[1]}", json={"availability": "Deleted"})
        ctl.patch(f"/_emulator/messages/{alive[2]}", json={"availability": "Purged"})
        # The pulls below come later than ISync's 5 s overlap, which repeats recent changes
        # (a repeated stub of a trashed message is re-read: it may hide a read change).
        clock.advance(6)
        ctl.delete("/_emulator/requests").raise_for_status()
        summary = pull(engine, client, config)
        assert summary.new == 4 and not summary.full
        assert mirror_problems(engine, emu) == []
        assert attachment_problems(engine, emu, config.database.files_dir) == []

        ctl.delete("/_emulator/requests").raise_for_status()
        pull(engine, client, config)
        counts = ctl.get("/_emulator/requests").json()["by_operation"]
        assert {k: v for k, v in counts.items() if k != "getToken"} == {"syncMessages": 1}

        ctl.post("/_emulator/invalidate-sync-tokens").raise_for_status()
        assert pull(engine, client, config).full
        assert mirror_problems(engine, emu) == []
        client.close()
        engine.dispose()
