"""Real `rcsync` processes: one command run to completion, one started in the background,
and `rcsync watch` with its log; `wait_for` polls a condition with a deadline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def rcsync_cmd() -> list[str]:
    """The real command line program (the installed entry point, else ``python -m``)."""
    exe = Path(sys.executable).with_name("rcsync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rcsync"]


def run_rcsync(
    config: Path, *args: str, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`rcsync --config CONFIG ARGS...` to completion; `env` adds to the environment."""
    return subprocess.run(
        [*rcsync_cmd(), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def popen_rcsync(config: Path, *args: str) -> subprocess.Popen[str]:
    """`rcsync --config CONFIG ARGS...` started, its output piped."""
    return subprocess.Popen(
        [*rcsync_cmd(), "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `predicate` until it returns something true (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


# Lines of the standard loggers under -v ("<time> INFO alembic...: ..."), not the watch's.
OTHER_LOGGER = re.compile(r"^\S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


@dataclass
class WatchProcess:
    """`rcsync -v watch` in the background, its output in a log file."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, config: Path, args: list[str], log_path: Path) -> WatchProcess:
        log = log_path.open("wb")
        popen = subprocess.Popen(
            [*rcsync_cmd(), "--config", str(config), "-v", "watch", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return cls(popen, log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 20) -> None:
        """Wait for a line of the watch's own log (rcsync.watch) containing `text`; other
        loggers' lines (-v shows migrations, API calls) could contain the same words."""

        def watch_lines() -> str:
            return "\n".join(
                line for line in self.log().splitlines() if not OTHER_LOGGER.match(line)
            )

        def seen() -> bool:
            if self.popen.poll() is not None and text not in watch_lines():
                raise AssertionError(f"watch exited ({self.popen.returncode}):\n{self.log()}")
            return text in watch_lines()

        wait_for(seen, timeout, f"{text!r} in the watch log")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
