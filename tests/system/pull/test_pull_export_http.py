"""The export bootstrap over real loopback HTTP, with faults set through the control API: a
failed task, dropped downloads, a corrupt zip entry and masked numbers, all in one pull."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import sqlalchemy as sa

from rcsync.api import RateBudget, build_client
from rcsync.config import AccountConfig
from rcsync.emulator import FakeClock, serve
from rcsync.rules.export import PACKED_TYPES
from rcsync.store.database import open_database
from rcsync.sync.pull import pull
from rcsync.types import UseExport
from tests.harness.config import make_config
from tests.harness.inprocess import UNLIMITED, fast_emulator
from tests.harness.mirror import attachment_problems, mirror_problems


class _CorruptFirstZip(httpx.HTTPTransport):
    """Real HTTP; the first attachment zip arrives with one byte flipped a third of the way in."""

    corrupted = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.corrupted or not request.url.path.endswith("/archive/1"):
            return response
        body = bytearray(response.read())
        if response.status_code != 200:
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        self.corrupted = True
        body[len(body) // 3] ^= 0xFF
        return httpx.Response(200, headers=response.headers, content=bytes(body))


def test_bootstrap_over_loopback_with_faults(tmp_path: Path) -> None:
    clock = FakeClock()
    emu = fast_emulator(500, 33, clock)
    with serve(emu, host="127.0.0.1", port=0) as server, httpx.Client(base_url=server.url) as ctl:
        ctl.put(
            "/_emulator/config", json={"export": {"masking": "all", "max_zip_bytes": 150_000}}
        ).raise_for_status()
        ctl.post(
            "/_emulator/message-store-report", json={"fate": "Failed", "times": 1}
        ).raise_for_status()
        drop = {
            "operation": "readMessageStoreReportArchiveContent",
            "after_write": "reset",
            "times": 2,
        }
        assert ctl.post("/_emulator/faults", json=drop).status_code == 201
        config = make_config(tmp_path, server=server.url, download_attachments=True)
        config = replace(config, account=AccountConfig(use_export=UseExport.ALWAYS))
        engine = open_database(config.database.path)
        budget = RateBudget(limits=UNLIMITED, clock=clock.now, sleep=clock.advance)
        transport = _CorruptFirstZip()
        client = build_client(
            config.ringcentral,
            transport=transport,
            clock=clock.now,
            sleep=clock.advance,
            budget=budget,
        )
        summary = pull(engine, client, config)
        ops = ctl.get("/_emulator/requests").json()["by_operation"]
        assert transport.corrupted
        assert ops["createMessageStoreReport"] == 2  # the failed task, then one that completed
        assert ctl.get("/_emulator/faults").json() == {"rules": []}  # both drops were met
        files = config.database.files_dir
        assert attachment_problems(engine, emu, files) == []
        assert mirror_problems(engine, emu) == []
        with engine.connect() as conn:
            missing = conn.execute(
                sa.text(
                    "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
                    " WHERE a.path IS NULL AND m.availability <> 'Purged' AND a.type IN "
                    f"({', '.join(repr(t) for t in sorted(PACKED_TYPES))})"
                )
            ).scalar_one()
            masked = conn.execute(
                sa.text("SELECT count(*) FROM message WHERE raw LIKE '%XXXX%'")
            ).scalar_one()
        assert missing == 0 and masked == 0
        # The corrupt entry (at least) came through the content endpoint; most did not.
        assert summary.attachments_downloaded > ops.get("readMessageContent", 0) > 0
        assert not (files / ".export").exists()
        client.close()
        engine.dispose()
