"""Benchmark of the first pull: rcsync vs a minimal baseline, and memory vs history size.

For each size (default 10,000 and 100,000 messages) the emulator is served on loopback
(rate limits out of the way, attachments off), and two fresh subprocesses run against it:

* ``pull``: ``rcsync.sync.pull.pull`` into a new migrated database;
* ``baseline``: the least a mirror must do: the same pages fetched with httpx (page
  numbers, perPage 1000, Alive+Deleted+Purged), JSON parsed, the same message columns
  inserted with ``sqlite3.executemany`` into a migrated database (same schema, triggers
  and FTS), one transaction per page.

Each prints its wall time and peak RSS; the parent prints the ratio pull/baseline (goal
<= 1.5x) and the peak RSS of the largest size relative to the smallest (goal <= 1.25x).

    python benchmarks/pull.py                 # 10,000 and 100,000
    python benchmarks/pull.py 2000 20000      # other sizes
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

UNLIMITED = {"Light": 1_000_000, "Medium": 1_000_000, "Heavy": 1_000_000, "Auth": 1_000_000}


def _config(server: str, folder: Path) -> Any:
    from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig

    return Config(
        ringcentral=RingCentralConfig(
            server=server,
            client_id="emulator-client",
            client_secret="emulator-secret",
            jwt="emulator-jwt",
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


def run_baseline(server: str, folder: Path) -> dict[str, Any]:
    import sqlite3

    import httpx

    from rcsync.store.database import open_database

    db = folder / "messages.db"
    open_database(db).dispose()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    sql = f"INSERT INTO message ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
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


def child(kind: str, server: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = (run_pull if kind == "pull" else run_baseline)(server, Path(tmp))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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

    emu = Emulator(messages=size, seed=1)
    emu.configure(rate_limits={"enabled": True, "limits": UNLIMITED})
    with serve(emu, host="127.0.0.1", port=0) as server:
        ours = _spawn("pull", server.url)
        base = _spawn("baseline", server.url)
    return {
        "size": size,
        "pull": ours,
        "baseline": base,
        "ratio": ours["seconds"] / base["seconds"],
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2])
        return
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    results = [measure(n) for n in sizes]
    print(
        f"{'messages':>9}  {'rcsync s':>9}  {'baseline s':>10}  {'ratio':>6}  "
        f"{'msg/s':>8}  {'rss MB':>7}  {'base rss':>8}  requests"
    )
    for r in results:
        p, b = r["pull"], r["baseline"]
        print(
            f"{r['size']:>9,}  {p['seconds']:>9.2f}  {b['seconds']:>10.2f}  "
            f"{r['ratio']:>5.2f}x  {p['messages'] / p['seconds']:>8,.0f}  "
            f"{p['peak_rss_mb']:>7.1f}  {b['peak_rss_mb']:>8.1f}  {p['requests']}"
        )
    if len(results) > 1:
        growth = results[-1]["pull"]["peak_rss_mb"] / results[0]["pull"]["peak_rss_mb"]
        print(
            f"peak RSS {results[-1]['size']:,} vs {results[0]['size']:,}: {growth:.2f}x "
            "(goal <= 1.25x)"
        )
    worst = max(r["ratio"] for r in results)
    print(f"worst time ratio rcsync/baseline: {worst:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main(sys.argv[1:])
