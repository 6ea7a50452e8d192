"""Which messages an export takes: parsed, checked options (no SQL here; see rcsync.store.archive).

Dates accept ``YYYY-MM-DD`` or an ISO-8601 date-time (``2024-05-01T08:00``, ``…Z``,
``…+02:00``); a time without an offset is UTC, as every time in the database is. ``--since``
is inclusive. ``--until`` with a date takes that whole day; with a time, messages up to and
including that instant.
"""

from __future__ import annotations

import datetime as dt

from rcsync.errors import ExportError
from rcsync.store.archive import Filters
from rcsync.types import MessageType, iso_utc


def normalize_type(value: str) -> str:
    """``sms`` -> ``SMS``, ``voicemail`` -> ``VoiceMail``."""
    for known in MessageType:
        if known.lower() == value.strip().lower():
            return known
    raise ExportError(f"unknown message type {value!r}: expected one of {', '.join(MessageType)}")


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
    return iso_utc(_parse(value, "--since")[0])


def before_bound(value: str) -> str:
    """The exclusive upper bound for ``--until``."""
    moment, whole_day = _parse(value, "--until")
    step = dt.timedelta(days=1) if whole_day else dt.timedelta(milliseconds=1)
    return iso_utc(moment + step)


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
