"""Benchmark of the first pull: rcsync vs the bare floor and vs a same-schema baseline.

For each size (default 10,000 and 100,000 messages) the emulator is served on loopback
with its rate limits OFF (raised out of reach, so its X-Rate-Limit headers do not pace
the client either; attachments off too), and three fresh subprocesses run against it
one after the other:

* ``pull``: ``rcsync.sync.pull.pull`` into a new migrated database;
* ``floor``: the least a mirror must do: the same pages fetched with httpx (page numbers,
  perPage 1000, Alive+Deleted+Purged), JSON parsed, the same message columns inserted with
  one ``sqlite3.executemany`` per page (one transaction per page) into a plain table: no
  triggers, no FTS, no index but the primary key (WAL, synchronous=NORMAL);
* ``baseline``: the same as ``floor``, but into a migrated rcsync database (same schema,
  triggers, indexes and FTS), so the difference to ``floor`` is what the schema costs.

Each child prints its wall time, its CPU time over the same span (every thread of the
process: ``time.process_time``) and peak RSS (VmHWM of /proc/self/status: a fresh process
per run, so the figure is that run's own). The parent prints rcsync's ratio to both (goal
vs the floor <= 1.5x) and rcsync's peak RSS at the largest size vs the smallest (goal
<= 1.25x). On a shared, loaded machine the wall times swing with the load; the CPU
ratio (``cpu vs floor``) is the steadier figure of the work each does.

    python benchmarks/pull.py                 # 10,000 and 100,000
    python benchmarks/pull.py 2000 20000      # other sizes
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EMULATOR_LOGIN, UNLIMITED

KINDS = ("pull", "floor", "baseline")


def _config(server: str, folder: Path) -> Any:
    from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig

    return Config(
        ringcentral=RingCentralConfig(
            server=server,
            **EMULATOR_LOGIN,
            token_file=folder / "tokens.json",
        ),
        database=DatabaseConfig(path=folder / "messages.db"),
        sync=SyncConfig(download_attachments=False),
    )


def run_pull(server: str, folder: Path) -> dict[str, Any]:
    from rcsync.api import RateBudget, build_client
    from rcsync.store.database import open_database
    from rcsync.sync.pull import pull

    config = _config(server, folder)
    engine = open_database(config.database.path)
    # The emulator's limits are off; the client's own budget must not pace it either.
    budget = RateBudget(limits={g: (n, 60.0) for g, n in UNLIMITED.items()})
    started = time.perf_counter()
    with build_client(config.ringcentral, budget=budget) as client:
        summary = pull(engine, client, config)
    return {
        "seconds": time.perf_counter() - started,
        "messages": summary.new,
        "requests": summary.requests,
    }


_COLUMNS = (
    "id",
    "extension_id",
    "type",
    "direction",
    "subject",
    "read_status",
    "availability",
    "message_status",
    "priority",
    "creation_time",
    "last_modified_time",
    "conversation_id",
    "from_phone_number",
    "from_name",
    "to_phone_numbers",
    "to_names",
    "fax_page_count",
    "vm_duration",
    "raw",
)


def _baseline_row(r: dict[str, Any]) -> tuple[Any, ...]:
    sender = r.get("from") or {}
    to = r.get("to") or []
    conv = r.get("conversation") or {}
    vm = next((a.get("vmDuration") for a in r.get("attachments") or () if "vmDuration" in a), None)
    return (
        r["id"],
        r.get("extensionId"),
        r["type"],
        r.get("direction"),
        r.get("subject"),
        r.get("readStatus"),
        r.get("availability"),
        r.get("messageStatus"),
        r.get("priority"),
        r["creationTime"],
        r.get("lastModifiedTime"),
        conv.get("id"),
        sender.get("phoneNumber") or sender.get("extensionNumber"),
        sender.get("name"),
        ",".join(str(t.get("phoneNumber") or t.get("extensionNumber")) for t in to),
        ",".join(str(t.get("name")) for t in to),
        r.get("faxPageCount"),
        vm,
        json.dumps(r, ensure_ascii=False, separators=(",", ":")),
    )


def _fetch_and_insert(server: str, con: Any, sql: str) -> dict[str, Any]:
    import httpx

    started = time.perf_counter()
    with httpx.Client(base_url=server, timeout=60) as http:
        token = http.post(
            "/restapi/oauth/token",
            auth=("emulator-client", "emulator-secret"),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": "emulator-jwt",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        page, count = 1, 0
        while True:
            params = [
                ("dateFrom", "2000-01-01T00:00:00.000Z"),
                ("perPage", 1000),
                ("page", page),
                *[("availability", a) for a in ("Alive", "Deleted", "Purged")],
            ]
            data = http.get(
                "/restapi/v1.0/account/~/extension/~/message-store", params=params, headers=headers
            ).json()
            rows = [_baseline_row(r) for r in data["records"]]
            with con:
                con.executemany(sql, rows)
            count += len(rows)
            if "nextPage" not in data.get("navigation", {}):
                break
            page += 1
    return {"seconds": time.perf_counter() - started, "messages": count, "requests": page}


def _insert_sql() -> str:
    return (
        f"INSERT INTO message ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
    )


def _connect(db: Path) -> Any:
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    return con


def run_baseline(server: str, folder: Path) -> dict[str, Any]:
    from rcsync.store.database import open_database

    db = folder / "messages.db"
    open_database(db).dispose()
    return _fetch_and_insert(server, _connect(db), _insert_sql())


def run_floor(server: str, folder: Path) -> dict[str, Any]:
    con = _connect(folder / "messages.db")
    types = {"id": "INTEGER PRIMARY KEY", "fax_page_count": "INTEGER", "vm_duration": "INTEGER"}
    columns = ", ".join(f"{c} {types.get(c, 'TEXT')}" for c in _COLUMNS)
    con.execute(f"CREATE TABLE message ({columns})")
    return _fetch_and_insert(server, con, _insert_sql())


def _peak_rss_mb() -> float:
    # VmHWM: this process's own high-water mark (getrusage's ru_maxrss can include the
    # parent's footprint inherited through fork/exec accounting on some kernels).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(kind: str, server: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runner = {"pull": run_pull, "floor": run_floor, "baseline": run_baseline}[kind]
        cpu = time.process_time()
        result = runner(server, Path(tmp))
        result["cpu_seconds"] = time.process_time() - cpu
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _spawn(kind: str, server: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, server],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(size: int) -> dict[str, Any]:
    from rcsync.emulator import Emulator, serve

    # Limits "off" the way the tests do it: enabled but never reached. With rate_limits=False
    # the emulator still sends the documented X-Rate-Limit-* headers, which pace the client.
    emu = Emulator(messages=size, seed=1)
    emu.configure(rate_limits={"enabled": True, "limits": UNLIMITED})
    with serve(emu, host="127.0.0.1", port=0) as server:
        runs = {kind: _spawn(kind, server.url) for kind in KINDS}
    return {"size": size, **runs}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2])
        return
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    print(
        "emulator on 127.0.0.1, rate limits OFF (1,000,000 requests a window: never reached,"
        " no pacing), attachments off; each run a fresh process"
    )
    results = [measure(n) for n in sizes]
    print(
        f"{'messages':>9}  {'rcsync s':>8}  {'floor s':>7}  {'schema s':>8}  {'vs floor':>8}  "
        f"{'vs schema':>9}  {'cpu s':>5}  {'floor cpu':>9}  {'cpu vs floor':>12}  "
        f"{'msg/s':>7}  {'rss MB':>6}  "
        f"{'floor rss':>9}  requests"
    )
    for r in results:
        p, f, b = r["pull"], r["floor"], r["baseline"]
        print(
            f"{r['size']:>9,}  {p['seconds']:>8.2f}  {f['seconds']:>7.2f}  {b['seconds']:>8.2f}  "
            f"{p['seconds'] / f['seconds']:>7.2f}x  {p['seconds'] / b['seconds']:>8.2f}x  "
            f"{p['cpu_seconds']:>5.2f}  {f['cpu_seconds']:>9.2f}  "
            f"{p['cpu_seconds'] / f['cpu_seconds']:>11.2f}x  "
            f"{p['messages'] / p['seconds']:>7,.0f}  {p['peak_rss_mb']:>6.1f}  "
            f"{f['peak_rss_mb']:>9.1f}  {p['requests']}"
        )
    if len(results) > 1:
        growth = results[-1]["pull"]["peak_rss_mb"] / results[0]["pull"]["peak_rss_mb"]
        print(
            f"rcsync peak RSS (VmHWM) {results[-1]['size']:,} vs {results[0]['size']:,}: "
            f"{growth:.2f}x (goal <= 1.25x)"
        )
    worst = max(r["pull"]["seconds"] / r["floor"]["seconds"] for r in results)
    print(f"worst time ratio rcsync/bare floor: {worst:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main(sys.argv[1:])
