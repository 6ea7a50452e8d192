"""The push's database writes (habit 7 of STYLE.md: `save_*` only writes the DB).

`rcsync.sync.apply` sends a plan's requests and calls these with RingCentral's answers;
`save_local_steps` performs the plan's database-only steps. All of them follow one rule:
the engine moves base (and remote) to a value both sides now hold and touches local only
where the plan saw it (`expected_local`), so a user edit made while a push ran is never
overwritten and stays pending.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.rules import records as rec
from rcsync.rules.actions import (
    AVAILABILITY,
    READ,
    ConflictNote,
    Deferred,
    Fix,
    LocalFix,
    Op,
    Plan,
    RemoteAction,
)
from rcsync.rules.merge import FieldState, Resolution
from rcsync.store.schema import NOW_SQL
from rcsync.store.state import save_conflict
from rcsync.types import Availability, ConflictPolicy, RowDelete

# The availability a successful call leaves a message in.
TARGET = {
    Op.RESTORE: Availability.ALIVE,
    Op.TRASH: Availability.DELETED,
    Op.PURGE: Availability.PURGED,
}


# --- results of remote writes ------------------------------------------------------------


def save_success(
    conn: Connection, a: RemoteAction, record: Mapping[str, Any] | None, now: str
) -> None:
    """RingCentral applied `a`: base and remote take the value sent; local is left alone."""
    if a.row:
        confirm_row(conn, a.message_id, RowDelete(a.op.value), now)
        return
    if a.op is Op.READ:
        confirm_field(conn, a.message_id, READ, str(a.value), record)
    else:
        confirm_field(conn, a.message_id, AVAILABILITY, TARGET[a.op], record)


def confirm_field(
    conn: Connection, mid: int, fld: str, value: str, record: Mapping[str, Any] | None
) -> None:
    key = "readStatus" if fld == READ else "availability"
    sets = [f"base_{fld} = :v", f"remote_{fld} = :v"]
    params: dict[str, Any] = {"id": mid, "v": value}
    if record is not None:
        sets += ["raw = :raw", "last_modified_time = coalesce(:lmt, last_modified_time)"]
        params |= {
            "raw": rec.dumps(record),  # lone surrogates escaped: storable, lossless
            "lmt": record.get("lastModifiedTime"),
        }
    else:
        sets.append(
            f"raw = CASE WHEN json_valid(raw) THEN json_set(raw, '$.{key}', :v) ELSE raw END"
        )
    conn.execute(sa.text(f"UPDATE message SET {', '.join(sets)} WHERE id = :id"), params)
    _ensure_edit_row(conn, mid)


def _ensure_edit_row(conn: Connection, mid: int) -> None:
    # If the user undid the edit while it was in flight (local back to the old base, which
    # dropped its local_edit row), moving base to the value sent makes local differ from
    # base again: that undo is now an edit of its own, and must be listed as pending. The
    # schema's triggers only remove local_edit rows when base moves, so we add it here.
    conn.execute(
        sa.text(
            f"INSERT INTO local_edit (message_id, edited_at, attempts) SELECT id, {NOW_SQL}, 0"
            " FROM message WHERE id = :id AND (read_status IS NOT base_read_status"
            " OR availability IS NOT base_availability) ON CONFLICT (message_id) DO NOTHING"
        ),
        {"id": mid},
    )


def confirm_row(conn: Connection, mid: int, action: RowDelete, now: str) -> None:
    conn.execute(
        sa.text(
            "UPDATE tombstone SET pushed_at = :now, action = :action, last_attempt_at = :now,"
            " last_error = NULL WHERE message_id = :id"
        ),
        {"id": mid, "action": action, "now": now},
    )


def save_gone(conn: Connection, a: RemoteAction, policy: ConflictPolicy, now: str) -> None:
    """RingCentral named the message as not found (`ItemResult.gone`: a 207 part with 404
    for it, or a read of it answered 404 CMN-102), i.e. it was purged. The purge wins; the
    edit that could not be applied (anything but a purge) is recorded as a conflict. A 404
    that names no message never comes here: it is a failure (`save_failure`)."""
    if a.row:
        confirm_row(conn, a.message_id, RowDelete.PURGE, now)
        return
    row = conn.execute(
        sa.text(
            "SELECT read_status, base_read_status, availability, base_availability FROM message"
            " WHERE id = :id"
        ),
        {"id": a.message_id},
    ).first()
    if row is None:
        return
    if a.op is not Op.PURGE:
        fld, local, base = (
            (READ, row[0], row[1]) if a.op is Op.READ else (AVAILABILITY, row[2], row[3])
        )
        save_conflict(
            conn,
            message_id=a.message_id,
            field=fld,
            state=FieldState(local, base, Availability.PURGED if fld == AVAILABILITY else None),
            policy=policy,
            resolution=Resolution.PURGED,
            resolved_value=Availability.PURGED if fld == AVAILABILITY else base,
            detected_at=now,
        )
    _take_remote(conn, a.message_id, READ, row[1], None, any_local=True)
    _take_remote(conn, a.message_id, AVAILABILITY, Availability.PURGED, None, any_local=True)


def save_failure(conn: Connection, a: RemoteAction, error: str, now: str) -> None:
    table, extra = ("tombstone", " AND pushed_at IS NULL") if a.row else ("local_edit", "")
    conn.execute(
        sa.text(
            f"UPDATE {table} SET attempts = attempts + 1, last_attempt_at = :now,"
            f" last_error = :err WHERE message_id = :id{extra}"
        ),
        {"id": a.message_id, "now": now, "err": error},
    )


# --- database-only steps -----------------------------------------------------------------


def save_local_steps(conn: Connection, plan: Plan, *, policy: ConflictPolicy, now: str) -> int:
    """Fixes, conflicts and deferrals of `plan`, in one transaction; returns the fix count."""
    for note in plan.conflicts:
        _save_note(conn, note, policy, now)
    for fix in plan.fixes:
        save_fix(conn, fix, now)
    for d in plan.deferred:
        _save_deferred(conn, d)
    return len(plan.fixes)


def _save_note(conn: Connection, note: ConflictNote, policy: ConflictPolicy, now: str) -> None:
    save_conflict(
        conn,
        message_id=note.message_id,
        field=note.field,
        state=note.state,
        policy=policy,
        resolution=note.resolution,
        resolved_value=note.resolved_value,
        detected_at=now,
    )


def save_fix(conn: Connection, fix: LocalFix, now: str) -> None:
    mid, fld, v = fix.message_id, fix.field, fix.value
    if fix.kind is Fix.CONFIRM_ROW:
        confirm_row(conn, mid, fix.row_action or RowDelete.TRASH, now)
    elif fix.kind is Fix.TAKE_REMOTE:
        _take_remote(conn, mid, fld, v, fix.expected_local)
    elif fix.kind is Fix.REJECT:
        _keep_edit_time(
            conn,
            mid,
            lambda: conn.execute(
                sa.text(f"UPDATE message SET {fld} = base_{fld} WHERE id = :id AND {fld} IS :exp"),
                {"id": mid, "exp": fix.expected_local},
            ),
        )
    else:  # CONVERGE and MOVE_BASE: base (and remote) move, local stays
        conn.execute(
            sa.text(
                f"UPDATE message SET base_{fld} = :v, remote_{fld} = :v"
                f" WHERE id = :id AND {fld} IS :exp"
            ),
            {"id": mid, "v": v, "exp": fix.expected_local},
        )


def _take_remote(
    conn: Connection,
    mid: int,
    fld: str,
    value: str | None,
    expected: str | None,
    *,
    any_local: bool = False,
) -> None:
    """local = base = remote = value, unless the user changed local since we planned."""
    guard = "" if any_local else f" AND {fld} IS :exp"
    _keep_edit_time(
        conn,
        mid,
        lambda: conn.execute(
            sa.text(
                f"UPDATE message SET {fld} = :v, base_{fld} = :v, remote_{fld} = :v"
                f" WHERE id = :id{guard}"
            ),
            {"id": mid, "v": value, "exp": expected},
        ),
    )


def _keep_edit_time(conn: Connection, mid: int, write: Callable[[], object]) -> None:
    # The capture trigger stamps edited_at with "now" whenever local changes; when the
    # other field is still pending its real edit time must survive (policy "newest").
    before = conn.execute(
        sa.text("SELECT edited_at FROM local_edit WHERE message_id = :id"), {"id": mid}
    ).scalar()
    write()
    if before is not None:
        conn.execute(
            sa.text("UPDATE local_edit SET edited_at = :t WHERE message_id = :id"),
            {"id": mid, "t": before},
        )


def _save_deferred(conn: Connection, d: Deferred) -> None:
    table, extra = ("tombstone", " AND pushed_at IS NULL") if d.row else ("local_edit", "")
    conn.execute(
        sa.text(f"UPDATE {table} SET last_error = :err WHERE message_id = :id{extra}"),
        {"id": d.message_id, "err": d.reason},
    )
