"""How quickly `rcsync watch` sends an edit and receives a remote change, and what it costs
when nothing happens.

Serves the emulator in this process (real loopback HTTP), mirrors it with a first pull,
starts `rcsync watch` as a separate process (push notifications on), then

* makes 50 edits with the sqlite3 shell, one at a time, and times each from the moment the
  shell's commit returns to the moment the emulator holds the new value (median, p95);
* makes 50 remote changes through the emulator's control API (alternately a new message and
  a read-status flip of an existing one) and times each from the moment the control call
  returns to the moment the local row shows it (median, p95), with ``--interval`` 300: only
  a notification can bring them that fast;
* leaves the watch idle for 60 s and reads its CPU time (utime + stime, /proc/<pid>/stat)
  and the API requests it sent;
* the same number of remote changes with notifications off (polling, the old behaviour),
  *measured* at ``--interval`` itself: the changes are made at uniformly random moments of
  one polling period, all within the same ~5 minutes, and each is timed until the poll
  after it lands it (so 50 changes at 300 s cost about one period of wall time, not 50).
  ``--poll-interval 10`` is the quick run: measured at 10 s and *scaled* to ``--interval``
  (a polled change waits a uniformly distributed part of the period), and it says so;
* API requests per idle hour, *simulated*: the watch's own scheduler run on a fake clock
  for an hour with the channel up, and with notifications off.

    python benchmarks/watch.py [--edits 50] [--changes 50] [--idle 60] [--interval 300]
                               [--poll-interval SECONDS (default: --interval)]
                               [--poll-changes 50]

Goals: issue 6, edit latency median < 0.5 s, idle CPU < 0.5 s per 60 s; issue 13, remote
change median < 1 s (against ~150 s by polling at 300 s), no API requests in an idle hour
besides the socket's keep-alive and wstoken renewals. The emulator's rate limits are off
(the figures are latencies of the watch, not of RingCentral's budget). Prints figures
only; no assertion.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from rcsync.emulator import Emulator, serve
from rcsync.watch.channel import SAFETY_INTERVAL
from rcsync.watch.schedule import Pending, Scheduler, StepKind

SQLITE3 = "/usr/bin/sqlite3"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), after "(comm)"
    return ticks / os.sysconf("SC_CLK_TCK")


def write_config(root: Path, url: str, *, push: bool = True) -> Path:
    config = root / ("config.toml" if push else "config-polling.toml")
    config.write_text(
        f'[ringcentral]\nserver = "{url}"\nclient_id = "emulator-client"\n'
        f'client_secret = "emulator-secret"\njwt = "emulator-jwt"\n'
        f'token_file = "{root / "tokens.json"}"\n'
        f'[database]\npath = "{root / "messages.db"}"\n'
        "[sync]\ndownload_attachments = false\n"
        f"push_notifications = {'true' if push else 'false'}\n"
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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(round(share * len(ordered)) - 1, 0))]


def describe(values: list[float], unit: float = 1000.0, suffix: str = "ms", digits: int = 0) -> str:
    def show(v: float) -> str:
        return f"{v * unit:.{digits}f} {suffix}"

    return (
        f"median {show(statistics.median(values))}, p95 {show(percentile(values, 0.95))}, "
        f"max {show(max(values))}"
    )


class RemoteChanges:
    """Changes made "on another device": the emulator's control API, then the local row."""

    def __init__(self, url: str, db: Path) -> None:
        self.http = httpx.Client(base_url=url)
        self.db = sqlite3.connect(db, timeout=30, isolation_level=None)  # each read sees commits

    def _local(self, mid: int) -> str | None:
        row = self.db.execute("SELECT read_status FROM message WHERE id = ?", (mid,)).fetchone()
        return None if row is None else str(row[0])

    def _until(self, done: Callable[[], bool], started: float, limit: float) -> float:
        while not done():
            if time.monotonic() > started + limit:
                raise RuntimeError(f"remote change not seen locally after {limit:.0f} s")
            time.sleep(0.002)
        return time.monotonic() - started

    def one(self, n: int, limit: float) -> float:
        """A new message (even n) or a read-status flip of an existing one (odd n)."""
        if n % 2 == 0:
            answer = self.http.post("/_emulator/messages", json={"count": 1})
            mid = int(answer.json()["records"][0]["id"])
            started = time.monotonic()
            return self._until(lambda: self._local(mid) is not None, started, limit)
        row = self.db.execute(
            "SELECT id, read_status FROM message WHERE availability = 'Alive' "
            "ORDER BY random() LIMIT 1"
        ).fetchone()
        mid, new = int(row[0]), "Unread" if row[1] == "Read" else "Read"
        self.http.patch(f"/_emulator/messages/{mid}", json={"readStatus": new})
        started = time.monotonic()
        return self._until(lambda: self._local(mid) == new, started, limit)

    def close(self) -> None:
        self.http.close()
        self.db.close()


def simulated_idle_hour(interval: float, *, notifications: bool) -> int:
    """Pulls (one ISync each) the watch's scheduler asks for in an idle hour, on a fake
    clock: the channel up the whole hour, or no notifications at all."""
    safety = SAFETY_INTERVAL if notifications else None
    s = Scheduler(interval=interval, now=0.0, safety_interval=safety)
    if notifications:
        s.channel(up=True)
    pulls, now = 0, 0.0
    while now <= 3600.0:
        step = s.next_step(now)
        if step.kind is StepKind.WAIT:
            now = step.until
        elif step.kind is StepKind.CHECK:
            s.checked(Pending(), sweep=step.sweep, started=now)
        elif step.kind is StepKind.PULL:
            pulls += 0.0 < now <= 3600.0  # the start's pull is not part of the idle hour
            s.pulled(now, step.extensions)
    return pulls


def start_watch(
    config: Path, interval: float, flags: list[str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        command = rcsync(config, *flags, "watch", "--interval", str(interval))
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def stop_watch(proc: subprocess.Popen[bytes], what: str) -> None:
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    print(f"{what} stopped with SIGTERM: exit {rc}")


class PolledChanges:
    """Remote changes made at chosen moments, all outstanding at once, each timed from its
    control call to the moment the local row shows it (a polling watch lands a whole
    period's changes with one ISync, so they are measured together)."""

    def __init__(self, url: str, db: Path, ids: list[int]) -> None:
        self.http = httpx.Client(base_url=url)
        self.db = sqlite3.connect(db, timeout=30, isolation_level=None)
        self.ids = ids  # distinct messages to flip: two flips of one would cancel out

    def _make(self, n: int) -> tuple[int, str | None]:
        """A new message (even n; lands when its row exists) or a read-status flip."""
        if n % 2 == 0:
            answer = self.http.post("/_emulator/messages", json={"count": 1})
            return int(answer.json()["records"][0]["id"]), None
        mid = self.ids[n // 2]
        row = self.db.execute("SELECT read_status FROM message WHERE id = ?", (mid,)).fetchone()
        new = "Unread" if row[0] == "Read" else "Read"
        self.http.patch(f"/_emulator/messages/{mid}", json={"readStatus": new})
        return mid, new

    def _landed(self, waiting: dict[int, tuple[str | None, float]]) -> list[int]:
        marks = ",".join("?" * len(waiting))
        rows = self.db.execute(
            f"SELECT id, read_status FROM message WHERE id IN ({marks})", list(waiting)
        )
        return [int(mid) for mid, status in rows if waiting[int(mid)][0] in (None, status)]

    def run(self, offsets: list[float], limit: float) -> list[float]:
        """Make change n at `offsets[n]` seconds from now; return every latency."""
        t0 = time.monotonic()
        due = sorted(range(len(offsets)), key=lambda n: offsets[n])
        waiting: dict[int, tuple[str | None, float]] = {}
        latencies: list[float] = []
        while due or waiting:
            now = time.monotonic()
            while due and now >= t0 + offsets[due[0]]:
                mid, new = self._make(due.pop(0))
                waiting[mid] = (new, time.monotonic())
            if waiting:
                for mid in self._landed(waiting):
                    latencies.append(time.monotonic() - waiting.pop(mid)[1])
            if waiting and now > min(t for _v, t in waiting.values()) + limit:
                raise RuntimeError(f"{len(waiting)} remote changes not seen after {limit:.0f} s")
            time.sleep(0.005)
        return latencies

    def close(self) -> None:
        self.http.close()
        self.db.close()


def polling_figures(url: str, root: Path, db: Path, args: argparse.Namespace) -> list[float]:
    """Remote-change latency of a polling watch at --poll-interval: changes at uniformly
    random moments of one period, in flight together."""
    config = write_config(root, url, push=False)
    log = root / "watch-polling.log"
    proc = start_watch(config, args.poll_interval, args.watch_flags, log)
    flips = random.Random(7).sample(local_alive_ids(db), (args.poll_changes + 1) // 2)
    changes = PolledChanges(url, db, flips)
    try:
        wait_for_text(log, "watching", 30)
        time.sleep(2.0)  # its first sweep and pull
        rng = random.Random(13)
        offsets = [rng.uniform(0, args.poll_interval) for _ in range(args.poll_changes)]
        return changes.run(offsets, args.poll_interval * 2 + 60)
    finally:
        changes.close()
        stop_watch(proc, "polling watch")


def print_comparison(pushed: list[float], polled: list[float], args: argparse.Namespace) -> None:
    """Both modes side by side at --interval (the polled figures scaled when measured at a
    shorter --poll-interval, and labelled so), and the ratio of the medians."""
    scale = args.interval / args.poll_interval
    measured = "measured" if scale == 1 else f"measured at {args.poll_interval:g} s"
    print(f"remote change -> local row, interval {args.interval:g} s, emulator rate limits off:")
    print(f"  notifications: {len(pushed)} changes, {describe(pushed)} (measured)")
    print(f"  polling:       {len(polled)} changes, {describe(polled, 1.0, 's', 1)} ({measured})")
    if scale != 1:
        polled = [v * scale for v in polled]
        print(
            f"  polling scaled to {args.interval:g} s (x{scale:g}, estimated, not measured): "
            f"{describe(polled, 1.0, 's', 1)}"
        )
    print(f"  (a uniform wait over the period has median {args.interval / 2:g} s)")
    ratio = statistics.median(polled) / statistics.median(pushed)
    print(f"  notifications are {ratio:,.0f}x faster (median against median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("--changes", type=int, default=50, help="remote changes, notified")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="watch_interval of the polling run (default: --interval, measured; shorter: "
        "a quick run, scaled to --interval and labelled so)",
    )
    parser.add_argument("--poll-changes", type=int, default=50, help="remote changes, polled")
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
    if args.poll_interval is None:
        args.poll_interval = args.interval

    emu = Emulator(messages=300, seed=21, rate_limits=False)
    with serve(emu) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["XDG_CONFIG_HOME"] = str(root / "xdg")
        config = write_config(root, server.url)
        first_pull(config)
        db = root / "messages.db"
        log = root / "watch.log"
        proc = start_watch(config, args.interval, args.watch_flags, log)
        changes = RemoteChanges(server.url, db)
        try:
            wait_for_text(log, "watching", 30)
            wait_for_text(log, "push notifications: connected", 30)
            time.sleep(2.0)  # its first sweep and pulls
            ids = local_alive_ids(db)
            latencies = []
            emu.counters.reset()
            for i in range(args.edits):
                latencies.append(one_edit(emu, db, ids[i % len(ids)]))
                # One edit at a time, spaced so the client's own rate-limit pacing (RingCentral's
                # Light 50/min, Medium 40/min per app and user) never has to hold a request.
                time.sleep(args.spacing)
            ops = emu.counters.snapshot()["by_operation"]
            print(f"API requests during the edits: {dict(sorted(ops.items()))}")
            print(f"edit-to-remote latency over {len(latencies)} edits: {describe(latencies)}")

            time.sleep(2.0)
            emu.counters.reset()
            pushed = []
            for n in range(args.changes):
                pushed.append(changes.one(n, 30))
                time.sleep(args.spacing / 2)
            ops = emu.counters.snapshot()["by_operation"]
            print(f"API requests during the remote changes: {dict(sorted(ops.items()))}")
            print(
                f"remote-change-to-local-row latency over {len(pushed)} changes, push "
                f"notifications, interval {args.interval:g} s: {describe(pushed)}"
            )

            time.sleep(2.0)  # settle
            before, started = cpu_seconds(proc.pid), time.monotonic()
            requests_before = emu.counters.snapshot()["total"]
            time.sleep(args.idle)
            used, elapsed = cpu_seconds(proc.pid) - before, time.monotonic() - started
            requests = emu.counters.snapshot()["total"] - requests_before
            print(
                f"idle watch (interval {args.interval:g} s, notifications on): {used:.3f} CPU s "
                f"over {elapsed:.0f} s, {requests} API requests (measured)"
            )
        except RuntimeError as exc:
            proc.send_signal(signal.SIGUSR1)  # the watch dumps its threads' stacks to its log
            time.sleep(1)
            print(f"{exc}; the watch log:\n{log.read_text(errors='replace')[-6000:]}")
            raise SystemExit(1) from None
        finally:
            stop_watch(proc, "watch")
            changes.close()

        try:
            polled = polling_figures(server.url, root, db, args)
        except RuntimeError as exc:
            print(f"polling: {exc}")
            raise SystemExit(1) from None
        print_comparison(pushed, polled, args)

    on = simulated_idle_hour(args.interval, notifications=True)
    off = simulated_idle_hour(args.interval, notifications=False)
    print(
        f"API requests per idle hour (simulated with the watch's scheduler on a fake clock, "
        f"interval {args.interval:g} s): notifications up {on} (the safety-net ISync; plus one "
        f"Auth-group wstoken per reconnect: every 24 h by RingCentral's absolute timeout), "
        f"polling {off}; the socket's keep-alive is a Heartbeat frame every 10 min and ping "
        f"frames, none of them API requests"
    )


if __name__ == "__main__":
    main()
