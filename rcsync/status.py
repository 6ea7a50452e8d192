"""Collect the facts `rcsync status` and `rcsync conflicts` show. Read-only; no network."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.api.tokens import TokenStore
from rcsync.config import Config
from rcsync.sync.state import LAST_PULL_AT, LAST_PUSH_AT, get_state


def login_state(config: Config, now: float | None = None) -> str:
    """Describe the stored tokens without revealing them.

    Read through the API's own token store, so a damaged file or a pair issued to another
    app or server (which the client would ignore) is reported as the client sees it.
    """
    rc = config.ringcentral
    warnings: list[str] = []
    tokens = TokenStore(rc.token_file, on_warning=warnings.append).load()
    jwt_note = " (a JWT is configured: pull logs in by itself)" if rc.jwt else ""
    if tokens is None:
        if warnings and rc.token_file.exists():
            return f"token file {rc.token_file} is unreadable; run `rcsync login`"
        return "not logged in" + jwt_note
    if not tokens.matches(rc.server, rc.client_id):
        return "not logged in to this server/app (stored tokens are for another)" + jwt_note
    now = time.time() if now is None else now
    if tokens.refresh_expires_at is not None and tokens.refresh_expires_at < now:
        return "logged in, but the refresh token has expired; run `rcsync login`"
    left = int(tokens.expires_at - now)
    return (
        f"logged in (access token valid for {left // 60} min)"
        if left > 0
        else "logged in (access token expired; it is refreshed on next use)"
    )


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
    for mtype, avail, n in conn.execute(
        sa.text("SELECT type, coalesce(availability, '?'), count(*) FROM message GROUP BY 1, 2")
    ):
        by_type.setdefault(mtype, {})[avail] = n
        total += n
    att_total, att_done, att_bytes, att_skipped = conn.execute(
        sa.text(
            "SELECT count(*), count(path),"
            " coalesce(sum(CASE WHEN path IS NOT NULL THEN size END), 0),"
            " count(CASE WHEN path IS NULL AND skipped IS NOT NULL THEN 1 END) FROM attachment"
        )
    ).one()
    pending_by_field: dict[str, int] = {}
    for field, n in conn.execute(
        sa.text("SELECT field, count(*) FROM pending_change GROUP BY field")
    ):
        pending_by_field[field] = n
    conflicts = conn.execute(sa.text("SELECT count(*) FROM conflict")).scalar_one()
    return {
        "database": str(config.database.path),
        "database_exists": True,
        "messages": {"total": total, "by_type": by_type},
        "attachments": {
            "total": att_total,
            "downloaded": att_done,
            "bytes": att_bytes,
            "skipped": att_skipped,
            "waiting": att_total - att_done - att_skipped,
        },
        "pending": {"total": sum(pending_by_field.values()), "by_field": pending_by_field},
        "conflicts": conflicts,
        "last_pull": get_state(conn, LAST_PULL_AT),
        "last_push": get_state(conn, LAST_PUSH_AT),
        "login": login_state(config),
    }


_CONFLICT_COLUMNS = (
    "id, message_id, field, base_value, local_value, remote_value, local_time, remote_time,"
    " policy, resolution, resolved_value, detected_at"
)


def list_conflicts(conn: Connection, *, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest `limit` recorded conflicts as plain dicts, and how many there are in all
    (the same count `status` shows)."""
    total = conn.execute(sa.text("SELECT count(*) FROM conflict")).scalar_one()
    rows = conn.execute(
        sa.text(
            f"SELECT {_CONFLICT_COLUMNS} FROM conflict ORDER BY detected_at DESC, id DESC LIMIT :n"
        ),
        {"n": limit},
    ).mappings()
    return [dict(r) for r in rows], int(total)
