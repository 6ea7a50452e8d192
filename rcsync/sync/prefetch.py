"""Run the next request on a helper thread while the caller writes the previous answer.

The pull's listing alternates network waits (a page of 1,000 records) with SQLite work
(upsert, FTS, commit), and both mostly run without the GIL. Fetching page N+1 while page N
is written overlaps them, as soon as N+1's parameters are known (the keyset listing needs
only page N's oldest time). Requests stay strictly one at a time: a page is asked for only
after the previous answer arrived, and nothing else uses the client meanwhile.

The thread is a daemon, so Ctrl-C never waits for it; after any other failure the caller
`settle`s it first, so the client is idle again before the error goes up.

`short_gil_slices`: while the helper thread runs Python (parsing, mapping), the writing
thread's ``executemany`` needs the GIL back between rows, and by default waits up to 5 ms
each time (``sys.getswitchinterval``). The streamed FSync shortens the slice to 0.5 ms
while it runs: a first pull of 50,000 messages measured 11.1-11.6 s at 5 ms and 8.5-8.9 s
at 0.5 ms. The setting is the process's, so it is restored when the last user leaves.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
SHORT_SLICE = 0.0005
_slices = threading.Lock()
_users = 0
_saved = 0.0


@contextlib.contextmanager
def short_gil_slices() -> Iterator[None]:
    """Switch threads every `SHORT_SLICE` seconds meanwhile (see the module docstring)."""
    global _users, _saved
    with _slices:
        if _users == 0:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved, SHORT_SLICE))
        _users += 1
    try:
        yield
    finally:
        with _slices:
            _users -= 1
            if _users == 0:
                sys.setswitchinterval(_saved)


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
