"""Stopping a long-running command cleanly on SIGINT and SIGTERM.

Python runs signal handlers in the main thread, between bytecodes. A handler that takes a
lock the interrupted code already holds (``Event.set`` inside ``Event.wait``) deadlocks. So
the work runs in a worker thread, and the main thread only waits for it (`Thread.join` is
interrupted by signals on POSIX); the handler asks the work to stop (setting an Event the
main thread never holds), and the work finishes its current step (a committed transaction,
a complete push batch) before it returns.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger("rcsync.watch")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[None]:
    """While in the block, SIGINT/SIGTERM call `request_stop` instead of killing us."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping after the current step", signal.Signals(signum).name)
        request_stop()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_stoppable(work: Callable[[], None], request_stop: Callable[[], None]) -> None:
    """Run `work` in a worker thread until it returns; signals ask it to stop.

    The main thread blocks in join (no polling). An exception in `work` is re-raised here.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the main thread, which reports it
            failure.append(exc)

    thread = threading.Thread(target=target, name="rcsync-watch")
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how a stuck daemon is diagnosed.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        with stop_on_signals(request_stop):
            thread.start()
            thread.join()
    finally:
        faulthandler.unregister(signal.SIGUSR1)
    if failure:
        raise failure[0]
