"""Which messages an export takes: parsed, checked options (no SQL here; see source.py).

Dates accept ``YYYY-MM-DD`` or an ISO-8601 date-time (``2024-05-01T08:00``, ``…Z``,
``…+02:00``); a time without an offset is UTC, as every time in the database is. ``--since``
is inclusive. ``--until`` with a date takes that whole day; with a time, messages up to and
including that instant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rcsync.config import MESSAGE_TYPES
from rcsync.errors import RcsyncError


class ExportError(RcsyncError):
    """The export cannot be made as asked (bad option, unwritable or occupied destination)."""


@dataclass(frozen=True)
class Filters:
    """All optional; empty means everything. Bounds are ISO-8601 UTC text like the database's."""

    types: tuple[str, ...] = ()
    since: str | None = None  # creation_time >= since
    before: str | None = None  # creation_time < before
    conversation: str | None = None
    extension: str | None = None


def normalize_type(value: str) -> str:
    """``sms`` -> ``SMS``, ``voicemail`` -> ``VoiceMail``."""
    for known in MESSAGE_TYPES:
        if known.lower() == value.strip().lower():
            return known
    raise ExportError(f"unknown message type {value!r}: expected one of {', '.join(MESSAGE_TYPES)}")


def _utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(value: str, option: str) -> tuple[dt.datetime, bool]:
    """The instant, and whether only a date was given."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), True
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"{option} {value!r}: not a date (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z])"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment, False


def since_bound(value: str) -> str:
    return _utc_text(_parse(value, "--since")[0])


def before_bound(value: str) -> str:
    """The exclusive upper bound for ``--until``."""
    moment, whole_day = _parse(value, "--until")
    step = dt.timedelta(days=1) if whole_day else dt.timedelta(milliseconds=1)
    return _utc_text(moment + step)


def build_filters(
    *,
    types: tuple[str, ...] = (),
    since: str | None = None,
    until: str | None = None,
    conversation: str | None = None,
    extension: str | None = None,
) -> Filters:
    filters = Filters(
        types=tuple(dict.fromkeys(normalize_type(t) for t in types)),
        since=since_bound(since) if since else None,
        before=before_bound(until) if until else None,
        conversation=conversation.strip() if conversation else None,
        extension=extension.strip() if extension else None,
    )
    if filters.since and filters.before and filters.since >= filters.before:
        raise ExportError(f"--since {since} is not before --until {until}: nothing to export")
    return filters
