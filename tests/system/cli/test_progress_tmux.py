"""The progress display on a real terminal: `rcsync pull` in a tmux pane, under small rate
limits, captured while it waits. The captures are printed (``pytest -s``) to be looked at.

Skipped without tmux, unless RCSYNC_REQUIRE_TMUX=1 (CI installs it and sets that).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rcsync.emulator import Emulator, serve
from tests.harness.account import EMULATOR_TOML
from tests.system.cli.test_pull_waits import SMALL_LIMITS

WIDTH, HEIGHT = int(os.environ.get("RCSYNC_TMUX_WIDTH", "72")), 12
DEADLINE = 60.0

if shutil.which("tmux") is None:
    if os.environ.get("RCSYNC_REQUIRE_TMUX") == "1":
        raise RuntimeError("RCSYNC_REQUIRE_TMUX=1 but tmux is not installed")
    pytest.skip("tmux is not installed (apt-get install tmux)", allow_module_level=True)


class Pane:
    """One tmux server of our own (its socket in tmp_path), one window of a fixed size."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        cmd = ["tmux", "-S", str(self.socket), *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def start(self, command: str) -> None:
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        self.tmux("new-session", "-d", "-s", "t", *size, command)

    def capture(self) -> str:
        # -J: a wrapped line comes back whole (so a status line that wrapped is seen long).
        shot = self.tmux("capture-pane", "-p", "-J", "-t", "t")
        return "\n".join(line.rstrip() for line in shot.splitlines())

    def stop(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True)


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    p = Pane(tmp_path / "tmux.sock")
    yield p
    p.stop()


def _command(url: str, tmp_path: Path) -> str:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ringcentral]\nserver = "{url}"\n{EMULATOR_TOML}token_file = "{tmp_path / "t.json"}"\n'
        f'[database]\npath = "{tmp_path / "m.db"}"\nfiles = "{tmp_path / "files"}"\n'
    )
    pull = [sys.executable, "-m", "rcsync", "--config", str(config), "pull"]
    # The pane stays after the command ends, so the last screen can be read.
    return f"{shlex.join(pull)}; echo EXIT=$?; sleep 600"


def test_the_display_under_rate_limits_reads_well(pane: Pane, tmp_path: Path) -> None:
    emu = Emulator(messages=12, seed=3)
    with serve(emu, host="127.0.0.1", port=0) as server:
        httpx.put(f"{server.url}/_emulator/config", json=SMALL_LIMITS).raise_for_status()
        pane.start(_command(server.url, tmp_path))
        waiting: list[str] = []
        end = time.monotonic() + DEADLINE
        screen = ""
        while time.monotonic() < end:
            screen = pane.capture()
            if "waiting" in screen and screen not in waiting:
                waiting.append(screen)
            if "EXIT=" in screen:
                break
            time.sleep(0.1)
    for shot in [*waiting, screen]:
        print(f"--- pane {WIDTH}x{HEIGHT} ---\n{shot.rstrip()}\n---")
    assert "EXIT=0" in screen, screen
    assert waiting, "no capture showed a wait"
    line = next(ln for ln in waiting[0].splitlines() if "waiting" in ln)
    # One line: the phase, the count so far, the wait with its group, limit and length.
    assert line.startswith("attachments  ")
    assert "/9" in line and line.endswith("(Medium, 3 per 2 s): waiting 3 s")
    # Fitted: the redraw line never wraps onto a second row of the pane.
    assert all(len(ln) < WIDTH for shot in waiting for ln in shot.splitlines())
    final = [ln for ln in screen.splitlines() if ln.strip()]
    assert any(ln.startswith("attachments  ") and "9/9" in ln for ln in final), screen
    assert any(ln.startswith("full pull: pulled 12 messages") for ln in final), screen


def test_ctrl_c_during_a_wait_says_what_is_done_and_how_to_resume(
    pane: Pane, tmp_path: Path
) -> None:
    emu = Emulator(messages=12, seed=3)
    with serve(emu, host="127.0.0.1", port=0) as server:
        httpx.put(f"{server.url}/_emulator/config", json=SMALL_LIMITS).raise_for_status()
        pane.start(_command(server.url, tmp_path))
        end = time.monotonic() + DEADLINE
        screen = ""
        while time.monotonic() < end and "waiting" not in screen:
            screen = pane.capture()
            time.sleep(0.05)
        pane.tmux("send-keys", "-t", "t", "C-c")
        while time.monotonic() < end and "EXIT=" not in screen:
            screen = pane.capture()
            time.sleep(0.1)
    print(f"--- pane {WIDTH}x{HEIGHT} after Ctrl-C ---\n{screen.rstrip()}\n---")
    assert "EXIT=130" in screen, screen
    text = " ".join(screen.split())
    assert "interrupted: 12 of 12 messages, 3 of 9 attachments done;" in text, screen
    assert "`rcsync pull` resumes where this one stopped" in text
    assert "Traceback" not in screen
