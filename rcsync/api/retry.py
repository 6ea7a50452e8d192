"""Bounded retries with exponential backoff and full jitter, and the write-safety rule.

What is retried: connection failures and timeouts (``httpx.TransportError``) and 500/502/503/504,
at most `RetryPolicy.attempts` times, sleeping ``random() * min(cap, base * 2**n)`` between
attempts (full jitter: many clients that failed together do not come back together), or the
server's ``Retry-After`` on a 503.

Write safety: a request whose answer was lost may have been applied. Repeating it is harmless
when it is idempotent (PUT readStatus, PATCH restore, purge, every GET). A plain trash DELETE
is not: a second DELETE purges a message the first one trashed. For such requests only a
failure that provably happened *before the request left* (could not connect, no free
connection in the pool, or a failure of a different request such as the token refresh inside
the auth flow) is retried; anything else — a dropped or timed-out answer, any 5xx — is
reported as ambiguous so the caller re-reads the remote state first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})

# These mean the request never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` = total tries (first one included)."""

    attempts: int = 5
    base: float = 2.0  # RingCentral's docs: start at 2 s, double, cap at 60 s
    cap: float = 60.0
    max_retry_after: float = 300.0

    def backoff(self, retry: int, rand: float) -> float:
        """Delay before retry number `retry` (0-based), given `rand` in [0, 1)."""
        return rand * min(self.cap, self.base * (2.0**retry))


def failed_before_sending(exc: httpx.TransportError, request: httpx.Request) -> bool:
    """True if `exc` proves `request` never reached the server."""
    if isinstance(exc, _NOT_SENT):
        return True
    try:
        failed = exc.request
    except RuntimeError:  # an httpx error raised without a request attached
        return False
    # The auth flow may have been refreshing the token: that request failed, not ours.
    return failed is not request and (failed.method != request.method or failed.url != request.url)


def jitter() -> float:
    return random.random()
