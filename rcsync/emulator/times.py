"""RingCentral's timestamp format, both ways.

Records carry ``YYYY-MM-DDTHH:MM:SS.sssZ``; query parameters accept any ISO 8601 date-time
(with ``Z`` or an offset) or a bare date, as the API's examples do. Internally every time is
an integer of epoch milliseconds, which keeps the columnar store compact and comparisons cheap.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_DAYS: dict[int, str] = {}


def format_ms(ms: int) -> str:
    """Epoch milliseconds -> ``2024-08-19T20:23:52.020Z``.

    Hot path of record rendering: the date part is memoised per day, the rest is arithmetic.
    """
    days, rest = divmod(ms, 86_400_000)
    prefix = _DAYS.get(days)
    if prefix is None:
        prefix = _DAYS[days] = time.strftime("%Y-%m-%dT", time.gmtime(days * 86_400))
    seconds, millis = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def parse_iso(text: str) -> int:
    """ISO 8601 date-time or date -> epoch milliseconds (naive values are UTC).

    Raises ValueError on anything else. A ``+`` offset mangled into a space by an un-encoding
    client (RingCentral's Python SDK does not URL-encode) is repaired.
    """
    text = text.strip()
    if " " in text and "T" in text:
        text = text.replace(" ", "+")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def seconds_to_ms(seconds: float) -> int:
    return int(seconds * 1000)
