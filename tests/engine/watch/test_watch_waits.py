"""`watch` logs each wait (rate limit, retry, lock, a user's write transaction) at the
default level, in the words the terminal display uses; pacing under a second is not news."""

from __future__ import annotations

import logging

import pytest

from rcsync.progress import WaitReason
from rcsync.watch.runner import LogProgress

RATE = "RingCentral rate limit (Medium, 40/min)"


def test_each_wait_is_an_info_line(caplog: pytest.LogCaptureFixture) -> None:
    progress = LogProgress()
    with caplog.at_level(logging.INFO, logger="rcsync.watch"):
        progress.waiting(WaitReason.RATE_LIMIT, 58.2, RATE)
        progress.waiting(WaitReason.RETRY, 4, "server unreachable (ConnectError), retry 2/4")
        progress.waiting(WaitReason.LOCK, None, "database locked by rcsync pull (pid 7)")
        progress.waiting(WaitReason.BUSY, 29, "m.db: written by another program")
        progress.waiting(WaitReason.RATE_LIMIT, 0.4, RATE)  # pacing: not logged
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, f"{RATE}: waiting 58 s"),
        (logging.INFO, "server unreachable (ConnectError), retry 2/4 in 4 s"),
        (logging.INFO, "database locked by rcsync pull (pid 7): waiting"),
        (logging.INFO, "m.db: written by another program: waiting up to 29 s"),
    ]
