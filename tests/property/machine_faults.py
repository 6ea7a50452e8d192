"""What the sync machine's targeted-fault, crash and watch rules need around the emulator.

* `ClientTimeout`: the emulator's after-write ``delay`` as the client meets it, without
  waiting: the hold is taken off the emulator (recorded instead of slept) and an answer held
  longer than the request's read timeout becomes ``httpx.ReadTimeout``, although the write
  was performed; a shorter hold just moves the fake clock.
* `DiesOnLostAnswer`: a process killed right after its write reached RingCentral. The
  emulator's after-write ``reset`` drops the answer; instead of the client's own handling
  (which would re-read at once) the process dies there, leaving the push journal behind.
* `watch_sweep`: one sweep of `rcsync watch` in-process: the real `Runner`, `Scheduler` and
  `EngineWorker`, stopped at the first wait (push what is pending, then pull).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.emulator.targeted import AfterWrite, Rule
from rcsync.emulator.wire import Response
from rcsync.watch.runner import EngineWorker, Runner, Verdict, classify
from rcsync.watch.schedule import Scheduler

# A sweep is due at start; the next one must not come within the single sweep we run.
SWEEP_INTERVAL = 3600.0


class ProcessDied(BaseException):
    """The process was killed here (a BaseException: no `except Exception` may survive it)."""


class ClientTimeout(httpx.BaseTransport):
    """The emulator's transport, with held-back answers timed against the read timeout."""

    def __init__(self, emu: Emulator, read_timeout: float, advance: Callable[[float], Any]) -> None:
        self.inner = emu.transport()
        self.read_timeout, self.advance = read_timeout, advance
        self._held = threading.local()  # the pull's prefetch thread sends requests too
        self._reset = emu._after_write
        emu._after_write = self._after_write  # type: ignore[method-assign]

    def _after_write(self, rule: Rule, response: Response) -> None:
        if rule.after_write is AfterWrite.DELAY:
            self._held.seconds = rule.delay_ms / 1000
        else:
            self._reset(rule, response)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._held.seconds = 0.0
        response = self.inner.handle_request(request)
        held: float = self._held.seconds
        if held:
            timeout = request.extensions.get("timeout", {}).get("read") or self.read_timeout
            if held > timeout:
                raise httpx.ReadTimeout(f"no answer within {timeout} s", request=request)
            self.advance(held)
        return response


class DiesOnLostAnswer(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.died = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.RemoteProtocolError:
            self.died = True
            raise ProcessDied(f"killed after {request.method} {request.url.path}") from None


class _OneSweep:
    """The runner's `Wakeable`: no file events; asked to wait, it stops the loop instead."""

    def __init__(self) -> None:
        self.stop_requested = threading.Event()

    def wait(self, timeout: float | None) -> int:
        self.stop_requested.set()
        return 0

    def take_changes(self) -> int:
        return 0


def _fatal(exc: BaseException) -> Verdict:
    return Verdict.FATAL


def watch_sweep(engine: Any, client: Any, config: Config, *, strict: bool) -> None:
    """One watch sweep. `strict`: any error ends it (raised), not only the watch's fatal ones
    (without faults a failed step is a finding, not something to retry later)."""
    worker = EngineWorker(engine, client, config, force=True)
    scheduler = Scheduler(interval=SWEEP_INTERVAL, now=0.0)
    runner = Runner(
        worker, scheduler, _OneSweep(), clock=lambda: 0.0, classifier=_fatal if strict else classify
    )
    runner.run()
