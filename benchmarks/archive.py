"""Benchmark of everyday commands on a large archive: do they grow with it?

For each archive size (default 10,000, 100,000 and 1,000,000 messages) a fresh database gets:

* a real first pull of a small served emulator (1,000 messages, rate limits out of reach),
  so it holds a sync token and the emulator can answer an incremental pull;
* the rest of the archive as older rows copied from those records, with their attachment
  rows (new ids, smaller the older as RingCentral assigns them, creation times before the
  emulator's history), inserted in bulk, FTS-indexed with one 'rebuild' and the status
  tallies recounted once (building is not timed); one row's subject holds a rare word;
* 20 local edits made through a plain sqlite3 connection, as a user's SQL would.

Then each command runs through the CLI in this process (click's runner, imports paid once
before the timings; the median of 3 runs): ``status``, ``search`` (newest first, the
default) of a common word and of the rare one, ``search --order relevance`` of the common
word (it ranks every match: it grows, as documented), ``pending``, and an incremental pull
after 10 arrivals and one remote edit, twice: ``pull --no-attachments`` (the messages; its
time includes the loopback HTTP request) and ``pull`` (then its attachment step too: the
new rows' files, found through the index of the attachments never tried or failed, and
the sizes of the next ``FILES_PER_PULL`` rows' files, going round the archive).

    python benchmarks/archive.py                  # 10,000, 100,000 and 1,000,000
    python benchmarks/archive.py 5000 200000      # other sizes
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import UNLIMITED

PULLED = 1_000
COMMON, RARE = "late", "quokkaborealis"
BATCH = 10_000
EDITS = 20
ID_BASE = 10**12  # synthetic ids, far from the emulator's


def _cli(args: list[str]) -> str:
    from click.testing import CliRunner

    from rcsync.cli.main import cli

    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"rcsync {' '.join(args)} failed: {result.output.strip()}")
    return result.output


def _synthetic_rows(db: Path, count: int) -> None:
    """`count` older copies of the pulled rows and their attachment rows (new ids, smaller
    the older, as RingCentral numbers them; earlier times), FTS and tallies rebuilt once."""
    con = sqlite3.connect(db, isolation_level=None)
    columns = [r[1] for r in con.execute("PRAGMA table_info(message)")]
    templates = con.execute(f"SELECT {', '.join(columns)} FROM message").fetchall()
    at = {c: i for i, c in enumerate(columns)}
    att_columns = [r[1] for r in con.execute("PRAGMA table_info(attachment)")]
    files: dict[int, list[tuple[Any, ...]]] = {}
    for row in con.execute(f"SELECT {', '.join(att_columns)} FROM attachment"):
        files.setdefault(row[0], []).append(row[1:])
    con.execute("BEGIN IMMEDIATE")
    # The per-row FTS and tally triggers stand aside (migrations 0006, 0008); one rebuild
    # of each covers the rows below.
    con.execute("INSERT INTO sync_state (key, value) VALUES ('fts_batch', NULL)")
    sql = f"INSERT INTO message ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    att_sql = (
        f"INSERT INTO attachment ({', '.join(att_columns)})"
        f" VALUES ({', '.join('?' * len(att_columns))})"
    )
    for start in range(0, count, BATCH):
        rows, atts = [], []
        for i in range(start, min(start + BATCH, count)):
            row = list(templates[i % len(templates)])
            template_id = row[at["id"]]
            row[at["id"]] = ID_BASE + count - i
            # 2019 and before: older than the emulator's history, newest first by i.
            row[at["creation_time"]] = time.strftime(
                "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(1_546_300_800 - i * 60)
            )
            if i == count // 2:
                row[at["subject"]] = f"the {RARE} arrived"
            rows.append(row)
            atts += [(row[at["id"]], *a) for a in files.get(template_id, [])]
        con.executemany(sql, rows)
        con.executemany(att_sql, atts)
    con.execute("DELETE FROM sync_state WHERE key = 'fts_batch'")
    con.execute("COMMIT")
    con.execute("INSERT INTO message_fts (message_fts) VALUES ('rebuild')")
    con.close()
    _recount(db)
    # A user's edits, through their own connection (the triggers record them).
    con = sqlite3.connect(db, isolation_level=None)
    con.execute(
        f"UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        f" ELSE 'Read' END WHERE id IN (SELECT id FROM message ORDER BY id LIMIT {EDITS})"
    )
    con.close()


def _recount(db: Path) -> None:
    from rcsync.store.database import create_db_engine
    from rcsync.store.tally import recount

    engine = create_db_engine(db)
    with engine.begin() as conn:
        recount(conn)
    engine.dispose()


def _timed(action: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(size: int, folder: Path) -> dict[str, Any]:
    from rcsync.emulator import Emulator, serve

    emu = Emulator(messages=PULLED, seed=1)
    emu.configure(rate_limits={"enabled": True, "limits": UNLIMITED})
    db = folder / f"archive-{size}.db"
    os.environ["RCSYNC_DB"] = str(db)
    with serve(emu, host="127.0.0.1", port=0) as server:
        os.environ["RCSYNC_SERVER"] = server.url
        _cli(["-q", "pull"])
        _synthetic_rows(db, size - PULLED)
        con = sqlite3.connect(db)
        stored = con.execute("SELECT count(*) FROM message").fetchone()[0]
        con.close()
        rare_id = str(ID_BASE + (size - PULLED) - (size - PULLED) // 2)
        if rare_id not in _cli(["search", RARE]):
            raise SystemExit(f"search {RARE} did not find message {rare_id}")
        figures = {
            "status": _timed(lambda: _cli(["status"])),
            f"search {COMMON}": _timed(lambda: _cli(["search", COMMON])),
            f"search {RARE}": _timed(lambda: _cli(["search", RARE])),
            f"search {COMMON} (rel.)": _timed(
                lambda: _cli(["search", COMMON, "--order", "relevance"])
            ),
            "pending": _timed(lambda: _cli(["pending"])),
        }

        def incremental(*flags: str) -> Callable[[], None]:
            def run() -> None:
                emu.store.arrive(10)
                emu.store.remote_edit(emu.store.all_records()[-1]["id"], read_status="Read")
                _cli(["-q", "pull", *flags])

            return run

        figures["pull --no-attachments"] = _timed(incremental("--no-attachments"))
        figures["pull (incremental)"] = _timed(incremental())
    return {"size": size, "stored": stored, **figures}


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {
                "XDG_CONFIG_HOME": f"{tmp}/config",
                "XDG_DATA_HOME": f"{tmp}/data",
                "XDG_STATE_HOME": f"{tmp}/state",
                "RCSYNC_CLIENT_ID": "emulator-client",
                "RCSYNC_CLIENT_SECRET": "emulator-secret",
                "RCSYNC_JWT": "emulator-jwt",
            }
        )
        results = [measure(n, Path(tmp)) for n in sizes]
    names = [k for k in results[0] if k not in ("size", "stored")]
    first, last = results[0], results[-1]
    print(
        "median of 3, seconds, CLI in-process (imports not timed); emulator rate limits off"
        f" (out of reach); ratio = {last['stored']:,} vs {first['stored']:,} messages"
    )
    print(f"{'command':<22}" + "".join(f"{r['stored']:>14,}" for r in results) + f"{'ratio':>9}")
    for name in names:
        ratio = last[name] / first[name]
        print(f"{name:<22}" + "".join(f"{r[name]:>14.3f}" for r in results) + f"{ratio:>8.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
