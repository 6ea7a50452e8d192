"""Run the next request on a helper thread while the caller writes the previous answer.

The pull's listing alternates network waits (a page of 1,000 records) with SQLite work
(upsert, FTS, commit), and both mostly run without the GIL. Fetching page N+1 while page N
is written overlaps them, as soon as N+1's parameters are known (the keyset listing needs
only page N's oldest time). Requests stay strictly one at a time: a page is asked for only
after the previous answer arrived, and nothing else uses the client meanwhile.

The thread is a daemon, so Ctrl-C never waits for it; after any other failure the caller
`settle`s it first, so the client is idle again before the error goes up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetch(Generic[T]):
    """`fn()` started on a daemon thread; `result()` waits for it and returns or raises."""

    def __init__(self, fn: Callable[[], T], *, name: str = "rcsync-prefetch") -> None:
        self._fn = fn
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value  # type: ignore[return-value]

    def settle(self) -> None:
        """Wait for the request to end, dropping its answer or error (the caller failed)."""
        self._thread.join()
