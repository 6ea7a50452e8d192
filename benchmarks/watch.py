"""How quickly `rcsync watch` sends an edit, and what it costs when nothing happens.

Serves the emulator in this process (real loopback HTTP), mirrors it with a first pull,
starts `rcsync watch` as a separate process, then

* makes 50 edits with the sqlite3 shell, one at a time, and times each from the moment the
  shell's commit returns to the moment the emulator holds the new value (median, p95);
* leaves the watch idle for 60 s and reads its CPU time (utime + stime, /proc/<pid>/stat).

    python benchmarks/watch.py [--edits 50] [--idle 60] [--interval 300]

Goals (issue 6): median latency < 0.5 s; idle CPU < 0.5 s per 60 s. Prints figures only;
no assertion.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rcsync.emulator import Emulator, serve

SQLITE3 = "/usr/bin/sqlite3"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), after "(comm)"
    return ticks / os.sysconf("SC_CLK_TCK")


def write_config(root: Path, url: str) -> Path:
    config = root / "config.toml"
    config.write_text(
        f'[ringcentral]\nserver = "{url}"\nclient_id = "emulator-client"\n'
        f'client_secret = "emulator-secret"\njwt = "emulator-jwt"\n'
        f'token_file = "{root / "tokens.json"}"\n'
        f'[database]\npath = "{root / "messages.db"}"\n'
        "[sync]\ndownload_attachments = false\n"
    )
    return config


def rcsync(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "rcsync", "--config", str(config), *args]


def first_pull(config: Path) -> None:
    done = subprocess.run(rcsync(config, "pull"), capture_output=True, text=True)
    if done.returncode == 0:
        return
    # The pull command may still be a placeholder: use the engine directly.
    from rcsync.api import build_client
    from rcsync.config import load_config
    from rcsync.store.database import open_database
    from rcsync.sync.pull import pull

    cfg = load_config(config)
    engine = open_database(cfg.database.path)
    with build_client(cfg.ringcentral) as client:
        pull(engine, client, cfg)
    engine.dispose()


def wait_for_text(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"watch did not log {text!r}:\n{path.read_text()}")
        time.sleep(0.05)


def local_alive_ids(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id FROM message WHERE availability = 'Alive' ORDER BY id")
        return [int(r[0]) for r in rows]
    finally:
        conn.close()


def one_edit(emu: Emulator, db: Path, mid: int) -> float:
    record = emu.store.get(mid)
    assert record is not None
    new = "Unread" if record["readStatus"] == "Read" else "Read"
    subprocess.run(
        [
            SQLITE3,
            "-cmd",
            ".timeout 30000",
            str(db),
            f"UPDATE message SET read_status = '{new}' WHERE id = {mid}",
        ],
        check=True,
    )
    committed = time.monotonic()
    deadline = committed + 30
    while (emu.store.get(mid) or {}).get("readStatus") != new:
        if time.monotonic() > deadline:
            raise RuntimeError(f"edit of {mid} not seen on the emulator after 30 s")
        time.sleep(0.002)
    return time.monotonic() - committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument(
        "--spacing",
        type=float,
        default=2.0,
        help="seconds between one edit arriving and the next edit",
    )
    parser.add_argument(
        "--watch-flags",
        nargs="*",
        default=[],
        help="global rcsync flags for the watch process, e.g. -v",
    )
    args = parser.parse_args()

    emu = Emulator(messages=300, seed=21, rate_limits=False)
    with serve(emu) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(root / "xdg")
        config = write_config(root, server.url)
        first_pull(config)
        db = root / "messages.db"
        log = root / "watch.log"
        with log.open("wb") as out:
            command = rcsync(config, *args.watch_flags, "watch", "--interval", str(args.interval))
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_text(log, "watching", 30)
            time.sleep(2.0)  # its first sweep and pull
            ids = local_alive_ids(db)
            latencies = []
            emu.counters.reset()
            for i in range(args.edits):
                latencies.append(one_edit(emu, db, ids[i % len(ids)]))
                # One edit at a time, spaced so the client's own rate-limit pacing (RingCentral's
                # Light 50/min, Medium 40/min per app and user) never has to hold a request.
                time.sleep(args.spacing)
            latencies.sort()
            ops = emu.counters.snapshot()["by_operation"]
            print(f"API requests during the edits: {dict(sorted(ops.items()))}")
            p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
            print(
                f"edit-to-remote latency over {len(latencies)} edits: "
                f"median {statistics.median(latencies) * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
            )

            time.sleep(2.0)  # settle
            before, started = cpu_seconds(proc.pid), time.monotonic()
            requests_before = emu.counters.snapshot()["total"]
            time.sleep(args.idle)
            used, elapsed = cpu_seconds(proc.pid) - before, time.monotonic() - started
            requests = emu.counters.snapshot()["total"] - requests_before
            print(
                f"idle watch (interval {args.interval:g} s): {used:.3f} CPU s over "
                f"{elapsed:.0f} s, {requests} API requests"
            )
        except RuntimeError as exc:
            proc.send_signal(signal.SIGUSR1)  # the watch dumps its threads' stacks to its log
            time.sleep(1)
            print(f"{exc}; the watch log:\n{log.read_text(errors='replace')[-6000:]}")
            raise SystemExit(1) from None
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
            print(f"watch stopped with SIGTERM: exit {rc}")


if __name__ == "__main__":
    main()
