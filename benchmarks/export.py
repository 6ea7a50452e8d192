"""Benchmark of `rcsync export`: time and peak memory per format, and memory vs archive size.

For each size (default 10,000 and 100,000 messages) an archive is pulled from the
in-process emulator (attachments off: this measures the message stream, not file copies),
then each format is exported by a fresh subprocess that reports its wall time and peak RSS.
Streaming means the 100,000-message export needs about the memory of the 10,000 one; the
last table prints that ratio per format (goal <= 1.25x).

    python benchmarks/export.py                 # 10,000 and 100,000
    python benchmarks/export.py 2000 20000      # other sizes
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EMULATOR_LOGIN

FORMATS = ("jsonl", "csv", "smsxml", "html")
UNLIMITED = {g: (1_000_000, 60.0) for g in ("Light", "Medium", "Heavy", "Auth")}


def build_archive(size: int, folder: Path) -> Path:
    from rcsync.api import RateBudget, build_client
    from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
    from rcsync.emulator import Emulator
    from rcsync.store.database import open_database
    from rcsync.sync.pull import pull

    config = Config(
        ringcentral=RingCentralConfig(
            server="https://platform.ringcentral.com",
            **EMULATOR_LOGIN,
            token_file=folder / "tokens.json",
        ),
        database=DatabaseConfig(path=folder / "messages.db"),
        sync=SyncConfig(download_attachments=False),
    )
    emu = Emulator(messages=size, seed=1)
    emu.configure(
        rate_limits={"enabled": True, "limits": {g: n for g, (n, _) in UNLIMITED.items()}}
    )
    engine = open_database(config.database.path)
    budget = RateBudget(limits=UNLIMITED, sleep=lambda s: None)
    client = build_client(
        config.ringcentral, transport=emu.transport(), sleep=lambda s: None, budget=budget
    )
    with client:
        pull(engine, client, config)
    engine.dispose()
    return config.database.path


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage: Linux carries ru_maxrss over from the
    parent across fork+exec, so a child of the (large) benchmark parent would report the
    parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(fmt: str, db: str, out: str) -> None:
    from rcsync.export import export, parse_format
    from rcsync.store.database import open_database

    engine = open_database(Path(db))
    started = time.perf_counter()
    summary = export(engine, parse_format(fmt), Path(out), files_dir=Path(db).parent / "files")
    result = {
        "seconds": time.perf_counter() - started,
        "messages": summary.messages,
        "bytes": summary.bytes,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(result))


def _spawn(fmt: str, db: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(db), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(size: int) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = build_archive(size, folder)
        return {fmt: _spawn(fmt, db, folder / f"out.{fmt}") for fmt in FORMATS}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2], argv[3])
        return
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    results = {size: measure(size) for size in sizes}
    head = f"{'messages':>9}  {'format':<7} {'seconds':>8} {'msg/s':>9} {'MB out':>8}"
    print(head + f" {'peak RSS MB':>12}")
    for size, by_format in results.items():
        for fmt, r in by_format.items():
            rate = r["messages"] / r["seconds"]
            print(
                f"{size:>9,}  {fmt:<7} {r['seconds']:>8.2f} {rate:>9,.0f}"
                f" {r['bytes'] / 1e6:>8.1f} {r['peak_rss_mb']:>12.1f}"
            )
    small, large = min(sizes), max(sizes)
    if small != large:
        print(f"\npeak RSS at {large:,} relative to {small:,} messages:")
        for fmt in FORMATS:
            ratio = results[large][fmt]["peak_rss_mb"] / results[small][fmt]["peak_rss_mb"]
            print(f"  {fmt:<7} {ratio:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
