"""RingCentral's per-user rate limits: sliding windows per usage-plan group, with a penalty.

Each (key, group) has a sliding window (default 60 s) of accepted requests; at the group's
limit (Light 50, Medium 40, Heavy 10, Auth 5) the request is refused with 429 and a penalty
(default 60 s) starts. Every request in that group during the penalty is refused *and
restarts it*, as RingCentral documents ("it may stuck in the 429 trap forever"). The key is
app+user for API calls and the client id for the Auth group.

Window, penalty and limits can be scaled by the control API so tests need not wait minutes.
Every decision is logged (`events`: time, key, group, outcome) so tests can check that a
client never sends anything during a penalty; ``GET /_emulator/rate-limit-log`` returns it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from .clock import Clock

DEFAULT_LIMITS = {"Light": 50, "Medium": 40, "Heavy": 10, "Auth": 5}


#: The limit advertised while rate limiting is switched off.
UNLIMITED = 1_000_000


@dataclass
class Verdict:
    allowed: bool
    group: str
    limit: int
    remaining: int
    window: float
    retry_after: int = 0

    def headers(self) -> list[tuple[str, str]]:
        out = [
            ("X-Rate-Limit-Group", self.group),
            ("X-Rate-Limit-Limit", str(self.limit)),
            ("X-Rate-Limit-Remaining", str(self.remaining)),
            ("X-Rate-Limit-Window", str(math.ceil(self.window))),
        ]
        if not self.allowed:
            out.append(("Retry-After", str(self.retry_after)))
        return out


@dataclass(frozen=True)
class Event:
    """One rate-limit decision: ``ok``, ``throttled`` (over the limit: penalty starts) or
    ``penalty`` (sent while a penalty was running: refused, penalty restarted)."""

    at: float
    key: str
    group: str
    outcome: str


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0


class RateLimiter:
    def __init__(self, clock: Clock, *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self.window = 60.0
        self.penalty = 60.0
        self.limits = dict(DEFAULT_LIMITS)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.events: deque[Event] = deque(maxlen=100_000)
        self._lock = threading.Lock()

    def configure(
        self,
        *,
        enabled: bool | None = None,
        window: float | None = None,
        penalty: float | None = None,
        limits: dict[str, int] | None = None,
    ) -> None:
        with self._lock:
            if enabled is not None:
                self.enabled = enabled
            if window is not None:
                self.window = float(window)
            if penalty is not None:
                self.penalty = float(penalty)
            if limits:
                self.limits.update({k: int(v) for k, v in limits.items()})
            self._buckets.clear()
            self.events.clear()

    def check(self, key: str, group: str) -> Verdict:
        """Count one request; say whether it may proceed and what headers to send."""
        with self._lock:
            limit = self.limits.get(group, 50)
            if not self.enabled:
                # "No limits" is announced as a limit no client will reach, so clients that
                # pace themselves by these headers (rcsync does) run at full speed.
                return Verdict(True, group, UNLIMITED, UNLIMITED, self.window)
            now = self.clock.now()
            bucket = self._buckets.setdefault((key, group), _Bucket())
            while bucket.hits and bucket.hits[0] <= now - self.window:
                bucket.hits.popleft()
            if now < bucket.penalty_until or len(bucket.hits) >= limit:
                outcome = "penalty" if now < bucket.penalty_until else "throttled"
                self.events.append(Event(now, key, group, outcome))
                bucket.penalty_until = now + self.penalty
                return Verdict(False, group, limit, 0, self.window, math.ceil(self.penalty))
            bucket.hits.append(now)
            self.events.append(Event(now, key, group, "ok"))
            return Verdict(True, group, limit, limit - len(bucket.hits), self.window)
