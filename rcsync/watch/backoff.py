"""Exponential backoff with jitter, for retrying a whole engine step (`watch`).

The ceiling grows ``base * factor**(n-1)`` with the number of consecutive failures ``n`` and
stops at ``cap``; the delay is drawn uniformly from ``[ceiling/2, ceiling]`` ("equal jitter",
AWS architecture blog's name). Full jitter (``[0, ceiling]``) spreads retries best but can
draw a delay near zero, which for a daemon that retries forever is a tight loop in
disguise; half of the ceiling is kept as a floor. Pure: the random source is injected.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    rng: Callable[[], float] = field(default=random.random, repr=False)
    failures: int = 0

    def ceiling(self, failures: int) -> float:
        """The largest delay after `failures` consecutive failures (failures >= 1)."""
        exponent = max(failures - 1, 0)
        # Beyond ~60 doublings the float would overflow long before; the cap applies anyway.
        if exponent > 60:
            return self.cap
        return float(min(self.cap, self.base * self.factor**exponent))

    def next_delay(self, *, at_least: float = 0.0) -> float:
        """Record one more failure; return how long to wait before retrying."""
        self.failures += 1
        top = self.ceiling(self.failures)
        delay = top / 2 + self.rng() * top / 2
        return max(delay, at_least)

    def reset(self) -> None:
        """A success: the next failure starts from `base` again."""
        self.failures = 0
