"""RingCentral's retention limits, and the warnings `status` gives against them. PURE.

What RingCentral drops by itself, from its documentation (API-NOTES §7; the account-wide
notes §4): past **200 unheard voicemails** or **200 unread faxes** the oldest are
overwritten; **sent faxes** are kept **30 days**; SMS/MMS have no time limit but
**5,000 messages per folder** (Inbox, Sent, Deleted); faxes and voicemail are kept for the
account's ``retentionPeriod`` (7..90 days, ``GET /account/~/message-store-configuration``,
admin only), which `verify` reads and stores. Without it the fax/voicemail time limit is
unknown and only the documented defaults apply: every report says which (`Source`).

"Near" is within `SOON_DAYS` of a time limit, or at `NEAR_SHARE` of a cap. A message near
a limit that is not fully archived (a file still to fetch) is what can be lost: those are
counted apart, and the warning says to pull now.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

VOICEMAIL_UNHEARD_CAP = 200
FAX_UNREAD_CAP = 200
SMS_FOLDER_CAP = 5000
SENT_FAX_DAYS = 30
SOON_DAYS = 7
NEAR_SHARE = 0.9


class Source(StrEnum):
    """Where the limits come from."""

    ACCOUNT = "account configuration"  # retentionPeriod read by `rcsync verify`
    DEFAULTS = "documented defaults"


@dataclass(frozen=True)
class Limits:
    retention_days: int | None  # faxes and voicemail (the account's setting); None: unknown
    source: Source
    read_at: str | None = None  # when verify read the account's setting
    voicemail_cap: int = VOICEMAIL_UNHEARD_CAP
    fax_cap: int = FAX_UNREAD_CAP
    sms_folder_cap: int = SMS_FOLDER_CAP
    sent_fax_days: int = SENT_FAX_DAYS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        kept = (
            f"faxes and voicemail {self.retention_days} days"
            if self.retention_days is not None
            else "fax/voicemail retention unknown (`rcsync verify` reads it, as an admin)"
        )
        return (
            f"{self.voicemail_cap} unheard voicemails, {self.fax_cap} unread faxes, "
            f"{self.sms_folder_cap:,} SMS per folder, sent faxes {self.sent_fax_days} days, "
            f"{kept}; from {self.source.value}"
        )


def limits_from(stored: str | None) -> Limits:
    """The limits from what verify stored (JSON ``{"retention_period", "read_at"}``)."""
    try:
        data = json.loads(stored) if stored else {}
    except ValueError:
        data = {}
    days = data.get("retention_period") if isinstance(data, dict) else None
    if isinstance(days, int) and not isinstance(days, bool) and days > 0:
        return Limits(days, Source.ACCOUNT, data.get("read_at"))
    return Limits(None, Source.DEFAULTS)


@dataclass(frozen=True)
class Cutoffs:
    """Creation-time windows (ISO UTC, ``[start, end)``) of messages within SOON_DAYS of
    being dropped; `live_since`: older faxes/voicemail are past the account's retention
    (gone from RingCentral already, whatever the archive last heard), None when unknown."""

    sent_fax: tuple[str, str]
    retention: tuple[str, str] | None
    live_since: str | None


def cutoffs(limits: Limits, now: dt.datetime) -> Cutoffs:
    def ago(days: int) -> str:
        return (now - dt.timedelta(days=days)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def window(days: int) -> tuple[str, str]:
        return ago(days), ago(days - SOON_DAYS)

    days = limits.retention_days
    return Cutoffs(
        window(limits.sent_fax_days),
        window(days) if days is not None else None,
        ago(days) if days is not None else None,
    )


@dataclass
class ExtensionCounts:
    """What the archive says of one extension's store (its remote state)."""

    extension_id: str
    unheard_voicemail: int = 0
    unread_fax: int = 0
    sms_folders: dict[str, int] = field(default_factory=dict)
    expiring: int = 0  # within SOON_DAYS of a time limit
    expiring_incomplete: int = 0  # of those, with a file still to fetch
    capped_incomplete: int = 0  # unheard voicemail / unread faxes with a file to fetch


def warnings(c: ExtensionCounts, limits: Limits) -> list[str]:
    """The lines `status` shows for one extension (empty when nothing is near a limit)."""
    who = f"extension {c.extension_id}: " if c.extension_id else ""
    out: list[str] = []
    for n, cap, what in (
        (c.unheard_voicemail, limits.voicemail_cap, "unheard voicemails"),
        (c.unread_fax, limits.fax_cap, "unread faxes"),
    ):
        if n >= cap * NEAR_SHARE:
            out.append(
                f"{who}{n:,} {what} of RingCentral's cap of {cap}: past it the oldest are "
                "overwritten (marking them read, then `rcsync push`, frees room)"
            )
    if c.capped_incomplete and (
        c.unheard_voicemail >= limits.voicemail_cap * NEAR_SHARE
        or c.unread_fax >= limits.fax_cap * NEAR_SHARE
    ):
        out.append(f"{who}{c.capped_incomplete:,} of them not fully archived: `rcsync pull` now")
    for folder, n in sorted(c.sms_folders.items()):
        if n >= limits.sms_folder_cap * NEAR_SHARE:
            out.append(
                f"{who}{n:,} SMS in {folder} of RingCentral's {limits.sms_folder_cap:,} per folder"
            )
    if c.expiring:
        out.append(
            f"{who}{c.expiring:,} messages reach RingCentral's time limit within {SOON_DAYS} days"
            + (
                f", {c.expiring_incomplete:,} of them not fully archived: `rcsync pull` now"
                if c.expiring_incomplete
                else " (all archived)"
            )
        )
    return out
