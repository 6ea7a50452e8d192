"""Benchmark of the attachment bootstrap from the message-store export (issue 16).

One archive of about 5,000 voicemail/fax/MMS files is pulled from the in-process emulator
under RingCentral's default rate limits, on a simulated clock (the client sleeps by moving
the emulator's clock, so 40 content requests a minute cost simulated minutes, not real
ones). The messages are pulled once; then the attachments phase runs on copies of that
database, in the same run, with ``[account] use_export = "never"`` (the content endpoint
alone) and ``"always"`` (the export first). One extension: account mode (issue 12) was not
merged when this was written; the export covers the whole account either way.

Two rows per mode: every attachment type, and only the types the export carries
(``attachment_types`` = audio, fax documents, MMS images): transcriptions are not in the
export, so they cost one content request each in both modes.

    python benchmarks/bootstrap.py            # about 5,000 packed files (21,700 messages)
    python benchmarks/bootstrap.py 4000       # messages
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import EMULATOR_LOGIN

from rcsync.api import build_client
from rcsync.api.tokens import TokenStore
from rcsync.config import AccountConfig, Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Emulator, FakeClock
from rcsync.rules.export import PACKED_TYPES
from rcsync.store.database import open_database
from rcsync.sync.pull import pull
from rcsync.types import UseExport

SERVER = "https://platform.ringcentral.com"
EXPORT_OPS = (
    "createMessageStoreReport",
    "readMessageStoreReportTask",
    "readMessageStoreReportArchive",
    "readMessageStoreReportArchiveContent",
)


def _config(folder: Path, **sync: Any) -> Config:
    return Config(
        ringcentral=RingCentralConfig(
            server=SERVER,
            **EMULATOR_LOGIN,
            token_file=folder / "tokens.json",
        ),
        database=DatabaseConfig(path=folder / "messages.db", files=folder / "files"),
        sync=SyncConfig(**sync),
    )


def _pull(emu: Emulator, clock: FakeClock, config: Config) -> dict[str, Any]:
    client = build_client(
        config.ringcentral,
        transport=emu.transport(),
        clock=clock.now,
        sleep=clock.advance,
        store=TokenStore(config.ringcentral.token_file),
    )
    engine = open_database(config.database.path)
    emu.counters.reset()
    started, wall = clock.now(), time.monotonic()
    with client:
        summary = pull(engine, client, config)
    engine.dispose()
    ops = dict(emu.counters.by_operation)
    ops.pop("getToken", None)
    return {
        "files": summary.attachments_downloaded,
        "requests": sum(ops.values()),
        "content": ops.get("readMessageContent", 0),
        "export": sum(ops.get(o, 0) for o in EXPORT_OPS),
        "429": emu.counters.status.get("429", 0),
        "simulated s": round(clock.now() - started),
        "real s": round(time.monotonic() - wall, 1),
    }


def main(messages: int) -> None:
    clock = FakeClock(time.time())
    emu = Emulator(messages=messages, seed=5, rate_limits=True, clock=clock)
    packed = sum(
        1
        for r in emu.store.all_records()
        if r["availability"] != "Purged"
        for a in r.get("attachments", [])
        if a["type"] in PACKED_TYPES
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        seeded = _pull(emu, clock, _config(base, download_attachments=False))
        print(f"{messages:,} messages, {packed:,} files the export carries; one extension")
        print(f"messages pulled first: {seeded['requests']} requests, {seeded['simulated s']} s")
        print()
        rows = []
        for label, types in (("all types", ()), ("packed types", tuple(sorted(PACKED_TYPES)))):
            results = {}
            for mode in (UseExport.NEVER, UseExport.ALWAYS):
                folder = Path(tmp) / f"{label}-{mode}".replace(" ", "-")
                shutil.copytree(base, folder)
                config = _config(folder, attachment_types=types)
                config = replace(config, account=AccountConfig(use_export=mode))
                results[mode] = _pull(emu, clock, config)
                rows.append((label, mode.value, results[mode]))
            never, export = results[UseExport.NEVER], results[UseExport.ALWAYS]
            fewer = never["requests"] / max(export["requests"], 1)
            faster = never["simulated s"] / max(export["simulated s"], 1)
            ratio = {"requests": f"{fewer:.1f}x fewer", "simulated s": f"{faster:.1f}x faster"}
            rows.append((label, "ratio", ratio))
        keys = ("files", "requests", "content", "export", "429", "simulated s", "real s")
        print(f"{'attachments':<14}{'use_export':<12}" + "".join(f"{k:>14}" for k in keys))
        for label, mode, row in rows:
            cells = "".join(f"{row.get(k, ''):>14}" for k in keys)
            print(f"{label:<14}{mode:<12}{cells}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21_700)
