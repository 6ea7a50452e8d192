"""Injectable time for the emulator.

Token expiry, rate-limit windows and penalties, ``lastModifiedTime`` and the message-sync
overlap all read the clock through this protocol, so tests move time with `FakeClock.advance`
instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now()`` returning epoch seconds (float)."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward (never backward: server times must not run back) and return the new time."""
        if seconds < 0:
            raise ValueError("FakeClock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, epoch_seconds: float) -> None:
        """Jump to an absolute time not earlier than now."""
        with self._lock:
            if epoch_seconds < self._now:
                raise ValueError("FakeClock only moves forward")
            self._now = float(epoch_seconds)
