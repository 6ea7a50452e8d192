"""Benchmark of the attachment bootstrap from the message-store export (issue 16).

An account of EXTENSIONS user extensions (default 10) with MESSAGES messages each (default
2,200: about 5,000 voicemail/fax/MMS files in all) on the in-process emulator, under
RingCentral's default rate limits (Medium 40/min for content, Heavy 10/min for the export),
on a simulated clock (the client sleeps by moving the emulator's clock, so 40 content
requests a minute cost simulated minutes, not real ones). The admin login mirrors them all
(``[account] extensions = "all"``). The messages are pulled once; then the attachments
phase runs on copies of that database, in the same run, with ``[account] use_export =
"never"`` (the content endpoint alone) and ``"always"`` (the export first).

Two rows per mode: every attachment type, and only the types the export carries
(``attachment_types`` = audio, fax documents, MMS images). Transcriptions are not in the
export (its zips hold MMS/fax/voicemail binaries only), so they cost one content request
each in both modes, and with them the export saves requests and time only on the rest.
"export task" is how long RingCentral (the emulator's timeline) took to build the export:
the simulated time of an export run should be that plus a few Heavy-paced requests.

    python benchmarks/bootstrap.py             # 10 extensions x 2,200 messages
    python benchmarks/bootstrap.py 1 21700     # one extension, about 5,000 files
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EMULATOR_LOGIN, SERVER, simulated_client

from rcsync.config import AccountConfig, Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Emulator, FakeClock
from rcsync.rules.export import PACKED_TYPES
from rcsync.store.database import open_database
from rcsync.sync.account import pull_account
from rcsync.types import ExtensionScope, UseExport

EXPORT_OPS = (
    "createMessageStoreReport",
    "readMessageStoreReportTask",
    "readMessageStoreReportArchive",
    "readMessageStoreReportArchiveContent",
)
KEYS = ("files", "requests", "content", "export", "429", "export task", "simulated s", "real s")


def _config(folder: Path, mode: UseExport, **sync: Any) -> Config:
    return Config(
        ringcentral=RingCentralConfig(
            server=SERVER,
            **EMULATOR_LOGIN,
            token_file=folder / "tokens.json",
        ),
        database=DatabaseConfig(path=folder / "messages.db", files=folder / "files"),
        sync=SyncConfig(**sync),
        account=AccountConfig(extensions=ExtensionScope.ALL, use_export=mode),
    )


def _pull(emu: Emulator, clock: FakeClock, config: Config) -> dict[str, Any]:
    client = simulated_client(emu, clock, config.ringcentral)
    engine = open_database(config.database.path)
    emu.counters.reset()
    tasks = len(emu.reports.tasks)
    started, wall = clock.now(), time.monotonic()
    with client:
        summary = pull_account(engine, client, config)
    engine.dispose()
    ops = dict(emu.counters.by_operation)
    ops.pop("getToken", None)
    new_tasks = list(emu.reports.tasks.values())[tasks:]
    task_s = sum((t.timeline[-1][0] - t.timeline[0][0]) / 1000 for t in new_tasks)
    return {
        "files": summary.attachments_downloaded,
        "requests": sum(ops.values()),
        "content": ops.get("readMessageContent", 0),
        "export": sum(ops.get(o, 0) for o in EXPORT_OPS),
        "429": emu.counters.status.get("429", 0),
        "export task": round(task_s) if new_tasks else "",
        "simulated s": round(clock.now() - started),
        "real s": round(time.monotonic() - wall, 1),
    }


def _files(emu: Emulator) -> tuple[int, int]:
    """(files the export carries, transcriptions) on the server, every extension."""
    packed = transcriptions = 0
    for extension in emu.account:
        for record in extension.store.all_records():
            if record["availability"] == "Purged":
                continue
            for a in record.get("attachments", []):
                packed += a["type"] in PACKED_TYPES
                transcriptions += a["type"] == "AudioTranscription"
    return packed, transcriptions


def main(extensions: int, messages: int) -> None:
    clock = FakeClock(time.time())
    emu = Emulator(messages=messages, seed=5, extensions=extensions, rate_limits=True, clock=clock)
    packed, transcriptions = _files(emu)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        seeded = _pull(emu, clock, _config(base, UseExport.NEVER, download_attachments=False))
        print(
            f"{extensions} extension(s) x {messages:,} messages: {packed:,} files the export"
            f" carries, {transcriptions:,} transcriptions; RingCentral's default limits,"
            " simulated clock"
        )
        print(f"messages pulled first: {seeded['requests']} requests, {seeded['simulated s']} s")
        print()
        rows = []
        for label, types in (("all types", ()), ("packed types", tuple(sorted(PACKED_TYPES)))):
            results = {}
            for mode in (UseExport.NEVER, UseExport.ALWAYS):
                folder = Path(tmp) / f"{label}-{mode}".replace(" ", "-")
                shutil.copytree(base, folder)
                config = _config(folder, mode, attachment_types=types)
                results[mode] = _pull(emu, clock, config)
                rows.append((label, mode.value, results[mode]))
            never, export = results[UseExport.NEVER], results[UseExport.ALWAYS]
            fewer = never["requests"] / max(export["requests"], 1)
            faster = never["simulated s"] / max(export["simulated s"], 1)
            ratio = {"requests": f"{fewer:.1f}x fewer", "simulated s": f"{faster:.1f}x faster"}
            rows.append((label, "ratio", ratio))
        print(f"{'attachments':<14}{'use_export':<12}" + "".join(f"{k:>13}" for k in KEYS))
        for label, mode, row in rows:
            cells = "".join(f"{row.get(k, ''):>13}" for k in KEYS)
            print(f"{label:<14}{mode:<12}{cells}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [10, 2_200][len(args) :]))
