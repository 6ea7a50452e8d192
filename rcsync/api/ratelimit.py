"""Client-side rate-limit budget, one per RingCentral usage-plan group.

RingCentral counts requests per (user, app, group) in a sliding window (Light 50/60 s, Medium
40/60 s, Auth 5/60 s by default; API-NOTES §4). Going over earns a 429 and a penalty, and *every
request sent during the penalty restarts it*. So the budget:

1. knows each operation's group before the first request (the caller passes it), and starts
   from the documented default limits, so even the first burst is paced;
2. keeps the send times of the last window per group and, when the window is full, makes the
   caller wait (injected ``sleep``) until the oldest request leaves it, plus a small margin for
   the difference between our clock and the server's;
3. learns the real limit/window from ``X-Rate-Limit-*`` headers and trusts the server's
   ``Remaining`` when it says fewer requests are left than we think (other clients of the same
   user count too);
4. on a 429 blocks *every* caller of that group (thread-safe) until ``Retry-After`` has passed,
   so at most the requests already in flight can meet the penalty.

Counters (requests, 429s, seconds waited) are kept for progress and status output, and
every wait is announced first through the injected ``on_wait`` (`rcsync.progress.WaitCallback`)
so the CLI can say what it waits for; the budget itself never prints.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from rcsync.progress import WaitCallback, WaitReason, no_wait_report

log = logging.getLogger("rcsync.api")


class Group(StrEnum):
    LIGHT = "Light"
    MEDIUM = "Medium"
    HEAVY = "Heavy"
    AUTH = "Auth"


#: Documented defaults (limit, window seconds); replaced by what the headers say.
DEFAULT_LIMITS: Mapping[str, tuple[int, float]] = {
    Group.LIGHT: (50, 60.0),
    Group.MEDIUM: (40, 60.0),
    Group.HEAVY: (10, 60.0),
    Group.AUTH: (5, 60.0),
}
#: Used when a 429 carries no Retry-After (docs: "retry in 30 seconds or later").
DEFAULT_PENALTY = 60.0


def normalize_group(name: str) -> str:
    """``light`` / ``LIGHT`` / ``Light`` -> ``Light`` (the header's case "may change")."""
    return name.strip().capitalize()


def describe_limit(group: str, limit: int, window: float) -> str:
    """``RingCentral rate limit (Medium, 40/min)``: what a wait of this group is for."""
    rate = f"{limit}/min" if window == 60 else f"{limit} per {window:g} s"
    return f"RingCentral rate limit ({group}, {rate})"


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    """Retry-After as seconds (delta or HTTP date); `default` if absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(when.timestamp() - time.time(), 0.0)


@dataclass(frozen=True)
class GroupStats:
    group: str
    requests: int
    throttled: int
    waited: float
    limit: int
    window: float


@dataclass
class _GroupState:
    limit: int
    window: float
    # One mutable cell per request still inside the window: [send-or-completion time].
    sent: list[list[float]] = field(default_factory=list)
    blocked_until: float = 0.0
    requests: int = 0
    throttled: int = 0
    waited: float = 0.0

    def delay(self, now: float, margin: float) -> float:
        """Seconds to wait before the next request may leave (0 = now)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self.sent = [c for c in self.sent if c[0] + self.window + margin > now]
        if len(self.sent) < max(self.limit, 1):
            return 0.0
        return min(c[0] for c in self.sent) + self.window + margin - now

    def delay_keeping(self, now: float, margin: float, keep: int) -> float:
        """Seconds until a request may leave with `keep` places of the window still free
        after it (0 = now); `keep` is capped so that one request per window always can."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self.sent = [c for c in self.sent if c[0] + self.window + margin > now]
        keep = min(max(keep, 0), max(self.limit, 1) - 1)
        # This many of the requests in the window must leave it first.
        leaving = len(self.sent) - (max(self.limit, 1) - keep - 1)
        if leaving <= 0:
            return 0.0
        times = sorted(c[0] for c in self.sent)
        return times[leaving - 1] + self.window + margin - now


class RateBudget:
    """Thread-safe pacing of requests per group. Inject `clock`/`sleep` in tests."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        limits: Mapping[str, tuple[int, float]] | None = None,
        margin: float = 1.0,
        on_wait: WaitCallback = no_wait_report,
    ):
        #: Told of every wait before it starts; public so the CLI can attach its display.
        self.on_wait = on_wait
        self._clock = clock
        self._sleep = sleep
        self._margin = margin
        self._defaults = dict(DEFAULT_LIMITS if limits is None else limits)
        self._groups: dict[str, _GroupState] = {}
        self._op_groups: dict[str, str] = {}
        self._lock = threading.Lock()

    def group_for(self, op: str, default: str) -> str:
        """The group `op` belongs to: learned from headers, else the documented `default`."""
        with self._lock:
            return self._op_groups.get(op, normalize_group(default))

    @contextlib.contextmanager
    def slot(self, group: str) -> Iterator[None]:
        """Wait for room in `group`, then hold a place in its window for this request."""
        cell = self._reserve(normalize_group(group))
        try:
            yield
        finally:
            # The server stamped the request somewhere between send and answer; using the
            # answer time keeps our window never shorter than the server's.
            with self._lock:
                cell[0] = max(cell[0], self._clock())

    def observe(self, op: str, response: httpx.Response) -> None:
        """Learn from the X-Rate-Limit-* headers of an answer."""
        h = response.headers
        name = h.get("X-Rate-Limit-Group")
        if not name:
            return
        group = normalize_group(name)
        try:
            limit = int(h["X-Rate-Limit-Limit"])
            remaining = int(h["X-Rate-Limit-Remaining"])
            window = float(h["X-Rate-Limit-Window"])
        except (KeyError, ValueError):
            with self._lock:
                self._op_groups[op] = group
            return
        with self._lock:
            self._op_groups[op] = group
            st = self._state(group)
            st.limit, st.window = max(limit, 1), max(window, 1.0)
            now = self._clock()
            st.delay(now, self._margin)  # prune
            missing = (limit - remaining) - len(st.sent)
            st.sent.extend([now] for _ in range(max(missing, 0)))
        log.debug("rate limit %s: %s/%s left (window %ss)", group, remaining, limit, window)

    def penalize(self, group: str, retry_after: float) -> None:
        """A 429: nothing more goes to `group` until `retry_after` seconds have passed."""
        group = normalize_group(group)
        with self._lock:
            st = self._state(group)
            st.throttled += 1
            until = self._clock() + max(retry_after, 1.0) + self._margin  # margin: clock skew
            st.blocked_until = max(st.blocked_until, until)
        log.debug("rate limit %s: 429, pausing the group for %.0fs", group, retry_after)

    def limit_of(self, group: str) -> tuple[int, float]:
        """(limit, window seconds) of `group` as known now: learned, else the default."""
        with self._lock:
            st = self._state(normalize_group(group))
            return st.limit, st.window

    def delay_keeping(self, group: str, keep: int) -> float:
        """Seconds until a request of `group` may leave and still leave `keep` places of
        the window to others (pending edits; see `rcsync.sync.edits_first`). 0 = now."""
        with self._lock:
            st = self._state(normalize_group(group))
            return st.delay_keeping(self._clock(), self._margin, keep)

    def now(self) -> float:
        """The budget's clock (epoch seconds)."""
        return self._clock()

    def pause(self, seconds: float) -> None:
        """Sleep with the injected `sleep` (a test's fake clock, the watch's stop request)."""
        self._sleep(seconds)

    def stats(self) -> dict[str, GroupStats]:
        with self._lock:
            return {
                g: GroupStats(g, s.requests, s.throttled, s.waited, s.limit, s.window)
                for g, s in self._groups.items()
            }

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.stats().values())

    @property
    def throttled(self) -> int:
        return sum(s.throttled for s in self.stats().values())

    @property
    def waited(self) -> float:
        return sum(s.waited for s in self.stats().values())

    def _state(self, group: str) -> _GroupState:
        st = self._groups.get(group)
        if st is None:
            limit, window = self._defaults.get(group, DEFAULT_LIMITS[Group.LIGHT])
            st = self._groups[group] = _GroupState(limit, window)
        return st

    def _reserve(self, group: str) -> list[float]:
        while True:
            with self._lock:
                st = self._state(group)
                now = self._clock()
                reason = WaitReason.PENALTY if now < st.blocked_until else WaitReason.RATE_LIMIT
                wait = st.delay(now, self._margin)
                if wait <= 0:
                    cell = [now]
                    st.sent.append(cell)
                    st.requests += 1
                    return cell
                st.waited += wait
                detail = describe_limit(group, st.limit, st.window)
            log.debug("rate limit %s: waiting %.1fs", group, wait)
            self.on_wait(reason, wait, detail)
            # Sleep outside the lock: other groups stay usable; callers of this group all
            # recompute their wait after waking, so none slips through during a penalty.
            self._sleep(wait)
