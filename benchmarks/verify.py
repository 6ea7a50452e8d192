"""Benchmark of `rcsync verify`: requests and time for the message check, and `--deep`'s
hashing against a raw read of the same files.

1. The emulator is served on loopback with N messages (default 100,000; rate limits raised
   out of reach, so neither side paces), a first pull (no attachments) fills a new
   database, and `verify` runs on it: the figures are its listMessages requests against
   the goal ``ceil(N / 1000)`` (the listing's minimum: 1,000 records a page) and its time.
2. F files of S KiB each (default 2,000 x 64 KiB) are written under the archive's files
   folder and recorded as attachments of the first F messages with their size and
   sha256. Then the same files are read three times each way, alternately: raw (1 MiB
   reads, nothing done with the bytes) and `--deep`'s check of every recorded file
   (`sync.verify.check_recorded_files`: hash and compare). All run on a warm page cache,
   so the ratio is what hashing and the bookkeeping cost over reading; a third loop
   reads and hashes with hashlib alone, the floor of any re-hash (goal: `--deep` close
   to that floor; against a raw read it is bounded by sha256's speed on a warm cache, by
   the disk on a cold one).

3. An account archive (issue 12): E extensions sharing the N messages (default 10, so
   10,000 each), RingCentral's default rate limits (one budget for the login, shared by
   every extension) on a simulated clock: the client sleeps by advancing the emulator's
   clock, so "simulated" is what the limits make the verify take and "wall" is the work.
   Printed: listMessages requests against the goal (ceil(n/1000) per extension), any
   other request verify sent, 429s (goal 0) and both times.

    python benchmarks/verify.py                    # 100,000 messages, 2,000 x 64 KiB, 10 ext.
    python benchmarks/verify.py 20000 --files 500 --file-kib 256 --extensions 4
    python benchmarks/verify.py --extensions 0     # skip the account section
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EMULATOR_LOGIN, UNLIMITED, account_config, simulated_client


def _config(server: str, folder: Path) -> Any:
    from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig

    return Config(
        ringcentral=RingCentralConfig(
            server=server,
            **EMULATOR_LOGIN,
            token_file=folder / "tokens.json",
        ),
        database=DatabaseConfig(path=folder / "messages.db", files=folder / "files"),
        sync=SyncConfig(download_attachments=False),
    )


def _client(config: Any) -> Any:
    from rcsync.api import RateBudget, build_client

    budget = RateBudget(limits={g: (n, 60.0) for g, n in UNLIMITED.items()})
    return build_client(config.ringcentral, budget=budget)


def _record_files(engine: Any, files: Path, count: int, size: int) -> list[Path]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        ids = [int(r[0]) for r in conn.execute(sa.text(f"SELECT id FROM message LIMIT {count}"))]
    rows, paths = [], []
    for mid in ids:
        data = os.urandom(size)
        rel = f"bench/{mid}.bin"
        path = files / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
        digest = hashlib.sha256(data).hexdigest()
        rows.append({"m": mid, "p": rel, "s": size, "h": digest})
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO attachment (message_id, id, type, size, path, sha256)"
                " VALUES (:m, 1, 'AudioRecording', :s, :p, :h)"
            ),
            rows,
        )
    return paths


def _raw_read(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    return time.perf_counter() - started


def _read_and_hash(paths: list[Path]) -> float:
    """The floor of any re-hash: the same reads, each file through sha256, nothing else."""
    started = time.perf_counter()
    for path in paths:
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                sha.update(chunk)
        sha.hexdigest()
    return time.perf_counter() - started


def _deep(engine: Any, config: Any) -> tuple[float, int]:
    from rcsync.progress import NullProgress
    from rcsync.sync.verify import VerifyReport, check_recorded_files

    report = VerifyReport(deep=True)
    started = time.perf_counter()
    check_recorded_files(engine, config, report, NullProgress())
    seconds = time.perf_counter() - started
    problems = [f for f in report.findings if f.kind.value.startswith("file_")]
    assert not problems, problems[:3]
    return seconds, report.files_checked


def _account(messages: int, extensions: int) -> None:
    """Section 3: verify of an account archive under the default limits (simulated clock)."""
    from rcsync.emulator import Emulator, FakeClock
    from rcsync.store.database import open_database
    from rcsync.sync.account import pull_account
    from rcsync.sync.verify import verify_archive

    clock = FakeClock()
    per = messages // extensions
    emu = Emulator(messages=per, seed=1, extensions=extensions, clock=clock)
    # The verify listing asks for every availability, as the pull's does.
    listed = {e.id: len(list(e.store.all_records())) for e in emu.account}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = account_config(tmp)
        engine = open_database(config.database.path)
        client = simulated_client(emu, clock, config.ringcentral)
        pulled = pull_account(engine, client, config)
        emu.counters.reset()
        started, wall = clock.now(), time.perf_counter()
        report = verify_archive(engine, client, config)
        simulated, wall = clock.now() - started, time.perf_counter() - wall
        ops = {k: v for k, v in emu.counters.by_operation.items() if k != "getToken"}
        pages = ops.get("listMessages", 0)
        goal = sum(math.ceil(n / 1000) for n in listed.values())
        print(
            f"account             {extensions} extensions x {per:,} messages"
            f" ({pulled.messages:,} pulled), default limits, simulated clock"
        )
        print(f"  verify            ok={report.ok}, {len(report.extensions)} extensions checked")
        print(f"  listMessages      {pages:,} requests; goal ceil(n/1000) per extension = {goal:,}")
        print(f"    ratio           {pages / goal:.3f}")
        print(f"  all requests      {sum(ops.values()):,} {ops}")
        print(f"  429s              {emu.counters.status.get('429', 0)}")
        print(f"  time              simulated {simulated:.0f} s, wall {wall:.1f} s")
        client.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", nargs="?", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--file-kib", type=int, default=64)
    parser.add_argument("--extensions", type=int, default=10)
    args = parser.parse_args()

    from rcsync.emulator import Emulator, serve
    from rcsync.store.database import open_database
    from rcsync.sync.pull import pull
    from rcsync.sync.verify import verify

    emu = Emulator(messages=args.messages, seed=1)
    emu.configure(rate_limits={"enabled": True, "limits": UNLIMITED})
    with tempfile.TemporaryDirectory() as tmp, serve(emu, host="127.0.0.1", port=0) as server:
        folder = Path(tmp)
        config = _config(server.url, folder)
        engine = open_database(config.database.path)
        with _client(config) as client:
            started = time.perf_counter()
            pulled = pull(engine, client, config)
            pull_seconds = time.perf_counter() - started
            emu.counters.reset()
            started = time.perf_counter()
            report = verify(engine, client, config)
            verify_seconds = time.perf_counter() - started
        listed = emu.counters.by_operation.get("listMessages", 0)
        goal = math.ceil(args.messages / 1000)
        ops = dict(emu.counters.by_operation)
        print(
            f"messages            {args.messages:,} (pulled {pulled.new:,} in {pull_seconds:.1f} s)"
        )
        print(f"verify              {verify_seconds:.1f} s, ok={report.ok}")
        print(f"listMessages        {listed:,} requests; goal ceil(n/1000) = {goal:,}")
        print(f"  ratio             {listed / goal:.3f}")
        print(f"all requests        {sum(ops.values()):,} {ops}")

        paths = _record_files(engine, config.database.files_dir, args.files, args.file_kib * 1024)
        total = sum(p.stat().st_size for p in paths)
        raw, hashed, deep = [], [], []
        _raw_read(paths)  # warm the page cache for all three
        for _ in range(3):
            raw.append(_raw_read(paths))
            hashed.append(_read_and_hash(paths))
            seconds, checked = _deep(engine, config)
            deep.append(seconds)
        best_raw, best_hash, best_deep = min(raw), min(hashed), min(deep)
        mb = total / 1e6
        print(f"files               {checked:,} x {args.file_kib} KiB = {mb:,.0f} MB (warm cache)")
        print(f"raw read            {best_raw:.3f} s ({mb / best_raw:,.0f} MB/s)")
        print(f"read + sha256       {best_hash:.3f} s ({mb / best_hash:,.0f} MB/s)")
        print(f"verify --deep       {best_deep:.3f} s ({mb / best_deep:,.0f} MB/s)")
        print(f"deep / raw read     {best_deep / best_raw:.2f}x")
        print(f"deep / read+sha256  {best_deep / best_hash:.2f}x")
        engine.dispose()
    if args.extensions:
        _account(args.messages, args.extensions)


if __name__ == "__main__":
    main()
