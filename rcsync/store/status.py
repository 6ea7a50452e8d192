"""Collect the facts `rcsync status` and `rcsync conflicts` show. Read-only; no network.

The queries run on a plain DB-API connection (`sqlite3`, read-only) or a SQLAlchemy one:
`status` uses the former so it starts without loading SQLAlchemy and Alembic. The counts
come from the tallies the triggers keep (`rcsync.store.tally`): O(groups), not O(archive).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rcsync.config import Config
from rcsync.store import tally
from rcsync.store.lock import holds_engine_lock

# Keys of sync_state (rcsync.store.state owns them; repeated here to stay import-light).
LAST_PULL_AT = "last_pull_at"
LAST_PUSH_AT = "last_push_at"
WS_CHANNEL = "ws_channel"


def _rows(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` (qmark parameters) on a sqlite3 or SQLAlchemy connection."""
    if hasattr(conn, "exec_driver_sql"):  # SQLAlchemy
        return [tuple(r) for r in conn.exec_driver_sql(sql, tuple(params)).all()]
    return [tuple(r) for r in conn.execute(sql, tuple(params)).fetchall()]


def _state(conn: Any, key: str) -> str | None:
    found = _rows(conn, "SELECT value FROM sync_state WHERE key = ?", (key,))
    return found[0][0] if found else None


def extension_id_for(conn: Any, number: str) -> str | None:
    """The id of the archive's extension with this number (``--extension``), or None."""
    found = _rows(conn, "SELECT id FROM extension WHERE number = ?", (number,))
    return str(found[0][0]) if found else None


def extensions(conn: Any, only: str | None = None) -> list[dict[str, Any]]:
    """One entry per extension the archive mirrors (`status --json` ``"extensions"``)."""
    sql = (
        "SELECT x.id, x.number, x.name, x.type, x.status, x.first_seen, x.last_pulled,"
        " x.remote_gone, x.gone_since FROM extension x"
        + (" WHERE x.id = ?" if only is not None else "")
        + " ORDER BY x.number, x.id"
    )
    # A database not yet migrated to 0007 (opened read-only by `status`) has no table yet.
    if not _rows(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'extension'"):
        return []
    rows = _rows(conn, sql, (only,) if only is not None else ())
    per_extension: dict[Any, int] = {}
    for g in tally.message_groups(_rows, conn):
        per_extension[g.extension_id] = per_extension.get(g.extension_id, 0) + g.n
    keys = ("id", "number", "name", "type", "status", "first_seen", "last_pulled")
    return [
        {
            **dict(zip(keys, r[:7], strict=True)),
            "remote_gone": bool(r[7]),
            "gone_since": r[8],
            "messages": per_extension.get(r[0], 0),
        }
        for r in rows
    ]


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
        "extensions": [],
        "notifications": None,
    }


def _attachments(conn: Any) -> dict[str, int]:
    states = tally.attachment_states(_rows, conn)

    def n(state: tally.AttachmentState) -> int:
        return states.get(state, (0, 0))[0]

    done, skipped = n(tally.AttachmentState.DOWNLOADED), n(tally.AttachmentState.SKIPPED)
    waiting = n(tally.AttachmentState.WAITING)
    return {
        "total": done + skipped + waiting,
        "downloaded": done,
        "bytes": states.get(tally.AttachmentState.DOWNLOADED, (0, 0))[1],
        "skipped": skipped,
        "waiting": waiting,
    }


def collect_status(conn: Any, config: Config) -> dict[str, Any]:
    """The status report; `conn` is a sqlite3 or SQLAlchemy connection."""
    by_type: dict[str, dict[str, int]] = {}
    for g in tally.message_groups(_rows, conn):
        counts = by_type.setdefault(g.type, {})
        avail = "?" if g.availability is None else g.availability
        counts[avail] = counts.get(avail, 0) + g.n
    pending_by_field = dict(
        _rows(conn, "SELECT field, count(*) FROM pending_change GROUP BY field")
    )
    return {
        "database": str(config.database.path),
        "database_exists": True,
        "messages": {"total": sum(sum(v.values()) for v in by_type.values()), "by_type": by_type},
        "attachments": _attachments(conn),
        "pending": {"total": sum(pending_by_field.values()), "by_field": pending_by_field},
        "conflicts": count_conflicts(conn),
        "last_pull": _state(conn, LAST_PULL_AT),
        "last_push": _state(conn, LAST_PUSH_AT),
        "extensions": extensions(conn),
        "notifications": _channel(_state(conn, WS_CHANNEL), config.database.path),
    }


def _channel(text: str | None, db_path: Path) -> dict[str, Any] | None:
    """The notification channel as the last `watch` recorded it (None: never ran), and
    ``running``: whether that watch still runs. A watch killed with SIGKILL cannot record
    that it stopped, so its last word ("connected") is believed only while the process
    that wrote it holds the engine lock (None: a record from before rcsync kept ``pid``)."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    pid = value.get("pid")
    value["running"] = holds_engine_lock(db_path, pid) if isinstance(pid, int) else None
    return value


def count_conflicts(conn: Any) -> int:
    """Every recorded conflict: the number `status`, `conflicts`, `push` and `sync` show."""
    return int(_rows(conn, "SELECT count(*) FROM conflict")[0][0])


_CONFLICT_COLUMNS = (
    "id",
    "message_id",
    "field",
    "base_value",
    "local_value",
    "remote_value",
    "local_time",
    "remote_time",
    "policy",
    "resolution",
    "resolved_value",
    "detected_at",
)


def list_conflicts(conn: Any, *, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest `limit` recorded conflicts as plain dicts, and how many there are in all."""
    rows = _rows(
        conn,
        f"SELECT {', '.join(_CONFLICT_COLUMNS)} FROM conflict"
        " ORDER BY detected_at DESC, id DESC LIMIT ?",
        (limit,),
    )
    return [dict(zip(_CONFLICT_COLUMNS, r, strict=True)) for r in rows], count_conflicts(conn)
