"""Push figures: requests per 1,000 edits, and the cost of finding pending edits.

    python benchmarks/push.py [--big 1000000] [--small 10000]

1. requests per 1,000 read-status edits and per 1,000 trash edits, against the in-process
   emulator with its default rate limits (the client paces itself; 429s are counted);
2. time to find pending edits when none are pending, on a big and a small archive built
   with direct SQL inserts (goal: the big one within 2x of the small one), plus the same
   with 1% of the archive as already-pushed tombstones (rows deleted long ago).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import EMULATOR_LOGIN, simulated_client

from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.store.database import open_database
from rcsync.store.pending import load_pending
from rcsync.sync.push import push

SERVER = "https://platform.ringcentral.com"
WRITES = ("updateMessage", "patchMessage", "deleteMessage")

_FILL = """
INSERT INTO message (id, type, creation_time, raw, read_status, base_read_status,
                     remote_read_status, availability, base_availability, remote_availability)
WITH RECURSIVE c(x) AS (SELECT :start UNION ALL SELECT x + 1 FROM c WHERE x < :stop)
SELECT x, 'SMS', '2024-01-01T00:00:00.000Z', '{}', 'Read', 'Read', 'Read',
       'Alive', 'Alive', 'Alive' FROM c
"""


def seed_from(engine: Any, records: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO message (id, type, creation_time, raw, read_status, base_read_status,"
                " remote_read_status, availability, base_availability, remote_availability)"
                " VALUES (:id, :t, :ct, '{}', :rs, :rs, :rs, :av, :av, :av)"
            ),
            [
                {
                    "id": r["id"],
                    "t": r["type"],
                    "ct": r["creationTime"],
                    "rs": r["readStatus"],
                    "av": r["availability"],
                }
                for r in records
            ],
        )


def requests_per_1000(edit_sql: str, tmp: Path) -> dict[str, int]:
    from rcsync.emulator import Emulator, FakeClock

    clock = FakeClock()
    emu = Emulator(messages=1100, seed=1, rate_limits=True, clock=clock)
    rc = RingCentralConfig(
        server=SERVER,
        **EMULATOR_LOGIN,
        token_file=tmp / "tokens.json",
    )
    config = Config(
        ringcentral=rc,
        database=DatabaseConfig(path=tmp / "m.db"),
        sync=SyncConfig(delete_guard=10_000),
    )
    engine = open_database(config.database.path)
    seed_from(engine, emu.store.all_records())
    with engine.begin() as conn:
        conn.execute(sa.text(edit_sql))
    client = simulated_client(emu, clock, rc)
    started = clock.now()
    summary = push(engine, client, config)
    engine.dispose()
    ops = emu.counters.by_operation
    return {
        "edits": summary.pending,
        "write requests": sum(ops[o] for o in WRITES),
        "read requests": ops["readMessage"],
        "429": emu.counters.status.get("429", 0),
        "emulated seconds": round(clock.now() - started),
    }


def find_pending_seconds(
    rows: int, tmp: Path, *, tombstone_share: float = 0.0
) -> tuple[float, float]:
    """Median seconds of (push's load_pending, SELECT count(*) FROM pending_change)."""
    path = tmp / f"archive-{rows}-{tombstone_share}.db"
    engine = open_database(path)
    with engine.begin() as conn:
        conn.execute(sa.text(_FILL), {"start": 1, "stop": rows})
        gone = int(rows * tombstone_share)
        if gone:
            conn.execute(sa.text("DELETE FROM message WHERE id <= :n"), {"n": gone})
            conn.execute(
                sa.text(
                    "UPDATE tombstone SET pushed_at = '2024-01-02T00:00:00.000Z', action = 'trash'"
                )
            )
    times, view_times = [], []
    with engine.connect() as conn:
        for _ in range(50):
            t0 = time.perf_counter()
            messages, tombstones = load_pending(conn)
            times.append(time.perf_counter() - t0)
            assert not messages and not tombstones
            t0 = time.perf_counter()
            conn.execute(sa.text("SELECT count(*) FROM pending_change")).scalar()
            view_times.append(time.perf_counter() - t0)
    engine.dispose()
    return statistics.median(times), statistics.median(view_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, sql in (
            (
                "read status",
                "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN"
                " 'Unread' ELSE 'Read' END WHERE id IN (SELECT id FROM message"
                " WHERE availability = 'Alive' LIMIT 1000)",
            ),
            (
                "trash",
                "UPDATE message SET availability = 'Deleted' WHERE id IN (SELECT id"
                " FROM message WHERE availability = 'Alive' LIMIT 1000)",
            ),
        ):
            sub = tmp / name.replace(" ", "-")
            sub.mkdir()
            print(f"{name:<12} per 1,000 edits: {requests_per_1000(sql, sub)}")
        for share in (0.0, 0.01, 0.1):
            small = find_pending_seconds(args.small, tmp, tombstone_share=share)
            big = find_pending_seconds(args.big, tmp, tombstone_share=share)
            for i, what in enumerate(("push load_pending", "pending_change view")):
                print(
                    f"{what:<20} none pending, {share:>3.0%} pushed tombstones: "
                    f"{args.big:,} rows {big[i] * 1e6:>9,.0f} µs vs {args.small:,} rows "
                    f"{small[i] * 1e6:>7,.0f} µs  (ratio {big[i] / small[i]:.2f}x)"
                )


if __name__ == "__main__":
    main()
