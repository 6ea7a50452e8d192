"""Small shared DB helpers of the sync engine: key/value engine state and the conflict log.

Both directions use these; they only write the database (habit 7: save_* = DB only).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rcsync.rules.merge import FieldState, Resolution
from rcsync.types import ConflictPolicy, iso_utc

# Keys of sync_state (documented in the README's database section).
SYNC_TOKEN = "sync_token"  # the message-sync token of the last committed pull
SYNC_FRAME = "sync_frame"  # JSON: history_start + message types the token covers
FIRST_PULL = "first_pull"  # JSON progress of an unfinished first/full pull
# JSON {name: sql}: insert triggers a first pull dropped (store.messages), to re-create.
DEFERRED_TRIGGERS = "deferred_triggers"
# PUSH_IN_FLIGHT = "push_in_flight" (apply.IN_FLIGHT): writes sent, answer not yet recorded.
LAST_PULL_AT = "last_pull_at"
EXPORT = "export"  # JSON progress of a bootstrap from the message-store export (rules.export)
LAST_PUSH_AT = "last_push_at"
# JSON: the WebSocket session a restarted watch resumes (newest wsc, subscription, filters).
WS_SESSION = "ws_session"
# JSON: the notification channel as `status` shows it (state, connected since, events, last).
WS_CHANNEL = "ws_channel"


def get_state(conn: Connection, key: str) -> str | None:
    row = conn.execute(sa.text("SELECT value FROM sync_state WHERE key = :k"), {"k": key}).first()
    return None if row is None else row[0]


def set_state(conn: Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute(sa.text("DELETE FROM sync_state WHERE key = :k"), {"k": key})
        return
    conn.execute(
        sa.text(
            "INSERT INTO sync_state (key, value) VALUES (:k, :v) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ),
        {"k": key, "v": value},
    )


def read_state(engine: Engine, key: str) -> str | None:
    """One key, in a transaction of its own (for a thread beside the engine's steps)."""
    with engine.connect() as conn:
        return get_state(conn, key)


def save_state(engine: Engine, values: Mapping[str, str | None]) -> None:
    """Set (None: delete) keys in one short transaction of their own."""
    with engine.begin() as conn:
        for key, value in values.items():
            set_state(conn, key, value)


def write_state(engine: Engine, key: str, value: str | None) -> None:
    """`set_state` committed at once (None deletes the key)."""
    with engine.begin() as conn:
        set_state(conn, key, value)


def save_conflict(
    conn: Connection,
    *,
    message_id: int,
    field: str,
    state: FieldState,
    policy: ConflictPolicy,
    resolution: Resolution | str,
    resolved_value: str | None,
    detected_at: str | None = None,
) -> None:
    """Record one field changed on both sides, with both values and what was done."""
    conn.execute(
        sa.text(
            "INSERT INTO conflict (message_id, field, base_value, local_value, remote_value,"
            " local_time, remote_time, policy, resolution, resolved_value, detected_at)"
            " VALUES (:mid, :field, :base, :local, :remote, :lt, :rt, :policy, :res, :val, :at)"
        ),
        {
            "mid": message_id,
            "field": field,
            "base": state.base,
            "local": state.local,
            "remote": state.remote,
            "lt": state.local_time,
            "rt": state.remote_time,
            "policy": str(policy),
            "res": str(resolution),
            "val": resolved_value,
            "at": detected_at or iso_utc(),
        },
    )
