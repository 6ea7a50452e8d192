"""Real processes with RingCentral's default rate limits on, ~2,000 attachments waiting for
the Medium window: an edit made with the sqlite3 shell is pushed at once by `rcsync watch`,
and by a `rcsync push` started while `rcsync pull` downloads; not after the downloads,
nor after the window reopens, nor after a 429 penalty.

What is asserted is the order of the requests the emulator saw (no download between the
edit and its write), the emulator's rate-limit log (no 429) and the watch's log lines,
not a duration; the waits only bound how long the test may hang.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcsync.emulator import Emulator, serve
from tests.harness.config import write_config
from tests.harness.loopback import WatchSetup
from tests.harness.processes import popen_rcsync, wait_for

pytestmark = pytest.mark.slow

CONTENT = "readMessageContent"
MEDIUM_LIMIT = 40


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[WatchSetup]:
    emu = Emulator(messages=6000, seed=5, rate_limits=True)  # Medium: 40 a minute
    with serve(emu, host="127.0.0.1", port=0) as server:
        db = tmp_path / "messages.db"
        config = write_config(
            tmp_path / "config.toml",
            server=server.url,
            token_file=tmp_path / "tokens.json",
            db=db,
            watch_interval=600,
            download_attachments=True,
            # The content endpoint's Medium window is what these tests are about. With
            # "auto", the ~1,300 missing voicemails and faxes would come from a
            # message-store export first (its edits-first tests are elsewhere), and
            # only the rest through the window, after the edit or not, as timing has it.
            account={"use_export": "never"},
        )
        setup = WatchSetup(emu, server.url, tmp_path, config, db)
        done = setup.rcsync("pull", "--no-attachments", timeout=120)  # the messages only
        assert done.returncode == 0, done.stderr
        yield setup
        for proc in setup.procs:
            proc.kill()


def _downloads(setup: WatchSetup) -> int:
    return int(setup.emu.counters.by_operation[CONTENT])


def _writes(setup: WatchSetup) -> int:
    return int(setup.emu.counters.by_operation["updateMessage"])


def test_an_edit_during_the_downloads_goes_out_before_the_next_download(
    limited: WatchSetup,
) -> None:
    setup = limited
    missing = setup.query("SELECT count(*) FROM attachment WHERE path IS NULL")[0][0]
    assert missing > 1500
    watch = setup.watch()
    # The first burst: the Medium window, less what is kept for edits; then it waits.
    watch.wait_log("RingCentral rate limit (Medium, 40/min): waiting", timeout=60)
    burst = _downloads(setup)
    assert 0 < burst < MEDIUM_LIMIT

    mid, status = setup.query(
        "SELECT id, read_status FROM message WHERE availability = 'Alive' ORDER BY id LIMIT 1"
    )[0]
    flipped = "Unread" if status == "Read" else "Read"
    setup.sql(f"UPDATE message SET read_status = '{flipped}' WHERE id = {mid}")
    wait_for(
        lambda: setup.emu.store.get(mid)["readStatus"] == flipped,
        20,  # the window reopens after ~60 s: a push that waited for it fails here
        "the edit on the server",
    )
    # No download went between the edit and its write: it did not wait behind them.
    assert _downloads(setup) == burst and _writes(setup) == 1
    wait_for(lambda: setup.pending() == 0, 10, "pending_change to empty")
    refused = [e for e in setup.emu.limiter.events if e.outcome != "ok"]
    assert refused == []
    assert watch.stop() == 0, watch.log()
    log = watch.log()
    assert "pushed 1" in log and "Traceback" not in log
    # The phase stopped for the edit and went on after it (where it had stopped).
    stopped = r"downloaded [\d,]+ attachments? \([^)]*\), [\d,]+ attachments left, edits first"
    assert re.search(stopped, log), log
    left = setup.query("SELECT count(*) FROM attachment WHERE path IS NULL")[0][0]
    assert left > 1500


def test_a_push_started_while_pull_downloads_goes_out_at_once(limited: WatchSetup) -> None:
    """Downloads hold a lock of their own, not the engine's: `rcsync push` runs beside them
    (before, it was refused: "in use by rcsync pull"), and the downloads left it room in
    the window RingCentral counts for both processes."""
    setup = limited
    puller = popen_rcsync(setup.config, "pull", "--attachments-only")
    try:
        wait_for(lambda: _downloads(setup) >= MEDIUM_LIMIT - 3, 60, "the first burst")
        wait_for(lambda: puller.poll() is None and _downloads_stalled(setup), 30, "the wait")
        burst = _downloads(setup)
        mid, status = setup.query(
            "SELECT id, read_status FROM message WHERE availability = 'Alive' ORDER BY id LIMIT 1"
        )[0]
        flipped = "Unread" if status == "Read" else "Read"
        setup.sql(f"UPDATE message SET read_status = '{flipped}' WHERE id = {mid}")
        pushed = setup.rcsync("push", timeout=50)  # a minute would mean a wait or a penalty
        assert pushed.returncode == 0, pushed.stderr
        assert "pushed 1 edit" in pushed.stdout
        assert "waiting" not in pushed.stderr and "429" not in pushed.stderr
        assert setup.emu.store.get(mid)["readStatus"] == flipped
        assert _downloads(setup) == burst  # still in the pull's wait: the push did not queue
        assert [e for e in setup.emu.limiter.events if e.outcome != "ok"] == []
        assert puller.poll() is None  # the pull goes on downloading
    finally:
        puller.terminate()
        puller.wait(10)


def _downloads_stalled(setup: WatchSetup) -> bool:
    """No download for half a second: the pull waits for the window."""
    before = _downloads(setup)
    time.sleep(0.5)
    return _downloads(setup) == before
