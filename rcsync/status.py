"""Collect the facts `rcsync status` shows. Read-only; no network."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.config import Config


def _state(conn: Connection, key: str) -> str | None:
    row = conn.execute(sa.text("SELECT value FROM sync_state WHERE key = :k"), {"k": key}).first()
    return None if row is None else row[0]


def login_state(config: Config, now: float | None = None) -> str:
    """Describe the stored tokens without revealing them."""
    path = config.ringcentral.token_file
    if not path.exists():
        return "not logged in" + (" (a JWT is configured: pull logs in by itself)"
                                  if config.ringcentral.jwt else "")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"token file {path} is unreadable; run `rcsync login`"
    now = time.time() if now is None else now
    refresh_exp = data.get("refresh_expires_at")
    access_exp = data.get("expires_at")
    if isinstance(refresh_exp, int | float) and refresh_exp < now:
        return "logged in, but the refresh token has expired; run `rcsync login`"
    if isinstance(access_exp, int | float):
        left = int(access_exp - now)
        return (f"logged in (access token valid for {left // 60} min)" if left > 0
                else "logged in (access token expired; it is refreshed on next use)")
    return "logged in"


def empty_status(config: Config) -> dict[str, Any]:
    """The report for a database that does not exist yet."""
    return {
        "database": str(config.database.path),
        "database_exists": False,
        "messages": {"total": 0, "by_type": {}},
        "attachments": {"total": 0, "downloaded": 0, "bytes": 0, "skipped": 0, "waiting": 0},
        "pending": {"total": 0, "by_field": {}},
        "conflicts": 0,
        "last_pull": None,
        "last_push": None,
        "login": login_state(config),
    }


def collect_status(conn: Connection, config: Config) -> dict[str, Any]:
    by_type: dict[str, dict[str, int]] = {}
    total = 0
    for mtype, avail, n in conn.execute(sa.text(
            "SELECT type, coalesce(availability, '?'), count(*) FROM message GROUP BY 1, 2")):
        by_type.setdefault(mtype, {})[avail] = n
        total += n
    att_total, att_done, att_bytes, att_skipped = conn.execute(sa.text(
        "SELECT count(*), count(path), coalesce(sum(CASE WHEN path IS NOT NULL THEN size END), 0),"
        " count(CASE WHEN path IS NULL AND skipped IS NOT NULL THEN 1 END) FROM attachment")).one()
    pending_by_field: dict[str, int] = {}
    for field, n in conn.execute(sa.text(
            "SELECT field, count(*) FROM pending_change GROUP BY field")):
        pending_by_field[field] = n
    conflicts = conn.execute(sa.text("SELECT count(*) FROM conflict")).scalar_one()
    return {
        "database": str(config.database.path),
        "database_exists": True,
        "messages": {"total": total, "by_type": by_type},
        "attachments": {"total": att_total, "downloaded": att_done, "bytes": att_bytes,
                        "skipped": att_skipped,
                        "waiting": att_total - att_done - att_skipped},
        "pending": {"total": sum(pending_by_field.values()), "by_field": pending_by_field},
        "conflicts": conflicts,
        "last_pull": _state(conn, "last_pull_at"),
        "last_push": _state(conn, "last_push_at"),
        "login": login_state(config),
    }
