"""Database writes of the pull direction (habit 7: save_* only writes the DB, no HTTP).

`save_records` stores one batch of remote records inside the caller's transaction:

1. read what the batch touches (one query): existing rows with their three-way fields, and
   tombstones (ids the user deleted locally are never recreated); a batch whose ids lie
   outside the stored and the tombstoned id ranges (a first pull's pages, newest first)
   cannot touch either, and skips both lookups (`_outside_stored`);
2. upsert full records with one ``executemany`` of ``INSERT ... ON CONFLICT(id) DO UPDATE``
   (never ``INSERT OR REPLACE``: it would fire the delete triggers and make tombstones).
   The rows it inserts are added to the FTS index by one ``INSERT ... SELECT`` afterwards,
   with the per-row insert trigger stood aside meanwhile (`FTS_BATCH`, migration 0006):
   half the cost of a first pull's inserts was that trigger's one FTS write per row
   (status's tally, migration 0008, is added to the same way, one grouped statement);
   Per field, the upsert applies the three-way rule itself: a clean field (local IS base)
   gets local = base = remote; a dirty one keeps local and base and only moves remote_*.
   Local-only columns are never clobbered: transcription is not in the SET list, and text
   (SMS/Pager text, taken from the subject) follows the subject only while it is NULL or
   still equal to the stored subject, so a downloaded Text part or a user's text stays;
3. apply stubs (ISync's id + availability for deleted/purged messages) the same way,
   patching the stored raw instead of replacing it;
4. for the few dirty rows whose remote value changed, run `merge_field` per field and
   apply the Decision (local, base) and the conflict log, as the configured policy says.

The caller's transaction is ``BEGIN IMMEDIATE`` (`rcsync.store.database`), so no other connection
commits between step 1's read and the writes. The writes still guard on what was read, so
a stale read can never undo a user's change: a new row is only inserted while no tombstone
names it (a row the user deleted never comes back), and a merge decision is only applied
while the field still holds the local and base values it was decided on (a pending purge
never turns into a trash); a decision whose guard fails is dropped, conflict row included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.rules import records as rec
from rcsync.rules.merge import FieldState, Outcome, merge_field
from rcsync.store import tally
from rcsync.store.schema import Message
from rcsync.store.state import DEFERRED_TRIGGERS, get_state, save_conflict, set_state
from rcsync.types import Availability, ConflictPolicy

FIELDS = ("read_status", "availability")
_REMOTE_KEY = {"read_status": "readStatus", "availability": "availability"}

# The parameters are `rec.message_values(record)` + (now,); ?N placeholders reuse the
# remote read status and availability for the local and base columns of a new row.
_ROW = {c: i + 1 for i, c in enumerate(rec.ROW_COLUMNS)}
_INSERT = {
    **{c: f"?{n}" for c, n in _ROW.items()},
    **{f"{p}_{f}": f"?{_ROW[f]}" for p in ("base", "remote") for f in FIELDS},
    "synced_at": f"?{len(rec.ROW_COLUMNS) + 1}",
}
# Row indexes into `rec.message_values` tuples.
_ID, _LMT, _READ, _AVAIL = (
    _ROW[c] - 1 for c in ("id", "last_modified_time", "read_status", "availability")
)
# extension_id, type, direction: adjacent in ROW_COLUMNS, as in the tally's key.
_EXT, _DIRECTION_END = _ROW["extension_id"] - 1, _ROW["direction"]


def _clean_case(f: str, value: str) -> str:
    return f"CASE WHEN {f} IS base_{f} THEN {value} ELSE {{target}} END"


def _upsert_sql() -> str:
    sets = [f"{c} = excluded.{c}" for c in (*rec.META_COLUMNS, "raw", "synced_at")]
    for f in FIELDS:
        sets.append(f"{f} = " + _clean_case(f, f"excluded.{f}").format(target=f))
        sets.append(f"base_{f} = " + _clean_case(f, f"excluded.{f}").format(target=f"base_{f}"))
        sets.append(f"remote_{f} = excluded.remote_{f}")
    # text follows the subject only while it is empty or still the (old) subject: a text
    # from a downloaded Text part, or one a user wrote, is never clobbered.
    sets.append("text = CASE WHEN text IS NULL OR text IS subject THEN excluded.text ELSE text END")
    # INSERT ... SELECT ... WHERE: a row the user deleted (a tombstone) is never recreated.
    return (
        f"INSERT INTO message ({', '.join(_INSERT)}) SELECT {', '.join(_INSERT.values())}"
        f" WHERE NOT EXISTS (SELECT 1 FROM tombstone WHERE message_id = ?{_ROW['id']})"
        f" ON CONFLICT (id) DO UPDATE SET {', '.join(sets)}"
    )


UPSERT_MESSAGE = _upsert_sql()

STUB_UPDATE = (
    "UPDATE message SET remote_availability = ?1,"
    " availability = CASE WHEN availability IS base_availability THEN ?1 ELSE availability END,"
    " base_availability = CASE WHEN availability IS base_availability THEN ?1"
    " ELSE base_availability END,"
    " raw = coalesce(?2, raw), synced_at = ?3 WHERE id = ?4"
)

UPSERT_ATTACHMENT = (
    "INSERT INTO attachment (message_id, id, type, content_type, size, uri, file_name)"
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM message WHERE id = ?1)"
    " ON CONFLICT (message_id, id) DO UPDATE SET"
    " type = excluded.type, content_type = excluded.content_type,"
    " size = coalesce(attachment.size, excluded.size), uri = excluded.uri,"
    " file_name = excluded.file_name"
)

# While this sync_state key exists, message_fts_insert stands aside (migration 0006). It is
# inserted and deleted inside the caller's BEGIN IMMEDIATE transaction, so no other
# connection ever sees it, and a crash rolls it back with the rows it covered.
FTS_BATCH = "fts_batch"
_FTS_COLUMNS = (
    "subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers"
)
_FTS_BATCH_ON = f"INSERT INTO sync_state (key, value) VALUES ('{FTS_BATCH}', NULL)"
_FTS_BATCH_OFF = f"DELETE FROM sync_state WHERE key = '{FTS_BATCH}'"
# Only rows this batch inserted: an external-content index must hold each row exactly once.
_FTS_INDEX = (
    f"INSERT INTO message_fts (rowid, {_FTS_COLUMNS}) SELECT id, {_FTS_COLUMNS} FROM message"
    " WHERE id IN (SELECT value FROM json_each(?))"
)

_EXISTING = sa.text(
    "SELECT m.id, m.read_status, m.base_read_status, m.remote_read_status, m.availability,"
    " m.base_availability, m.remote_availability, m.last_modified_time, m.raw, e.edited_at"
    " FROM message m LEFT JOIN local_edit e ON e.message_id = m.id"
    " WHERE m.id IN (SELECT value FROM json_each(:ids))"
)
_TOMBSTONED = sa.text(
    "SELECT message_id FROM tombstone WHERE message_id IN (SELECT value FROM json_each(:ids))"
)
# Each subquery is one primary-key B-tree descent (SQLite's min/max optimisation needs the
# aggregate alone in its SELECT, hence four of them rather than one min(), max() pair).
_STORED_RANGES = (
    "SELECT (SELECT min(id) FROM message), (SELECT max(id) FROM message),"
    " (SELECT min(message_id) FROM tombstone), (SELECT max(message_id) FROM tombstone)"
)


@dataclass(frozen=True)
class Existing:
    """A stored row as far as the merge and the counts need it."""

    id: int
    local: Mapping[str, str | None]
    base: Mapping[str, str | None]
    remote: Mapping[str, str | None]
    last_modified_time: str | None
    raw: str | None
    edited_at: str | None

    def dirty(self, f: str) -> bool:
        return self.local[f] != self.base[f]


@dataclass
class SaveCounts:
    new: int = 0
    updated: int = 0
    remote_deleted: int = 0
    purged: int = 0
    conflicts: int = 0
    tombstoned: int = 0
    dropped: int = 0  # first heard of as Purged: nothing to store (progress totals)
    new_ids: list[int] = field(default_factory=list)

    def add(self, other: SaveCounts) -> None:
        for name in (
            "new",
            "updated",
            "remote_deleted",
            "purged",
            "conflicts",
            "tombstoned",
            "dropped",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def fetch_existing(conn: Connection, ids: Sequence[int]) -> tuple[dict[int, Existing], set[int]]:
    """Stored rows and tombstones among `ids` (two indexed queries, whatever the batch size)."""
    if _outside_stored(conn, ids):
        return {}, set()
    param = {"ids": json.dumps(list(ids))}
    existing: dict[int, Existing] = {}
    for r in conn.execute(_EXISTING, param):
        existing[r[0]] = Existing(
            id=r[0],
            local={"read_status": r[1], "availability": r[4]},
            base={"read_status": r[2], "availability": r[5]},
            remote={"read_status": r[3], "availability": r[6]},
            last_modified_time=r[7],
            raw=r[8],
            edited_at=r[9],
        )
    tombstoned = {r[0] for r in conn.execute(_TOMBSTONED, param)}
    return existing, tombstoned


def _outside_stored(conn: Connection, ids: Sequence[int]) -> bool:
    """True if no stored row and no tombstone can be among `ids`: the batch's id range lies
    wholly outside the stored ids' range and the tombstoned ids' range.

    A first pull reads RingCentral's listing newest first, and where message ids grow with
    time (RingCentral's do in practice, without promising it) each page's ids lie below
    everything stored before it: the two lookups (a sixth of a first pull's database time
    at 100k) would find nothing. Where they do not, the ranges overlap and the batch takes
    the lookups: the shortcut only ever skips work that provably finds nothing. The proof
    reads the table itself under the caller's write lock (BEGIN IMMEDIATE: nobody writes
    between it and the upsert), so a row or tombstone a user made between batches, whatever
    its id, is inside a range it reads, and the batch then takes the full lookup. The upsert
    keeps its ON CONFLICT and tombstone guards either way.
    """
    lo, hi = min(ids), max(ids)
    m_lo, m_hi, t_lo, t_hi = conn.exec_driver_sql(_STORED_RANGES).one()
    return all(
        first is None or hi < first or lo > last for first, last in ((m_lo, m_hi), (t_lo, t_hi))
    )


def _count_change(
    counts: SaveCounts, old: Existing, remote: Mapping[str, Any], lmt: str | None
) -> None:
    avail = remote.get("availability")
    if avail != old.remote["availability"]:
        counts.remote_deleted += avail == Availability.DELETED
        counts.purged += avail == Availability.PURGED
    if (
        lmt != old.last_modified_time
        or avail != old.remote["availability"]
        or remote.get("read_status") != old.remote["read_status"]
    ):
        counts.updated += 1


def save_records(
    conn: Connection,
    records: Iterable[Mapping[str, Any]],
    *,
    policy: ConflictPolicy,
    now: str,
    prepared: Mapping[int, rec.Prepared] | None = None,
) -> SaveCounts:
    """Store a batch of remote records (full or stubs) by the three-way rule; see module doc.

    `prepared` may hold the records' rows already mapped (`rec.prepare`, same records):
    the pull maps on another thread while this one writes.
    """
    batch = _dedupe(records)
    counts = SaveCounts()
    if not batch:
        return counts
    existing, tombstoned = fetch_existing(conn, list(batch))
    counts.tombstoned = sum(1 for i in batch if i in tombstoned)
    full = [r for i, r in batch.items() if i not in tombstoned and not rec.is_stub(r)]
    stubs = [r for i, r in batch.items() if i not in tombstoned and rec.is_stub(r)]
    # A message we first hear of as Purged has nothing left to keep: no row for it.
    kept = [
        r for r in full if int(r["id"]) in existing or r.get("availability") != Availability.PURGED
    ]
    known_stubs = [r for r in stubs if int(r["id"]) in existing]
    counts.dropped = len(full) - len(kept) + len(stubs) - len(known_stubs)
    full, stubs = kept, known_stubs
    remote_values: dict[int, tuple[dict[str, Any], str | None]] = {}
    _upsert_full(conn, full, existing, counts, remote_values, now, prepared or {})
    _apply_stubs(conn, stubs, existing, counts, remote_values, now)
    counts.conflicts = _merge_dirty(conn, existing, remote_values, policy, now)
    return counts


def _dedupe(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    # The last record of an id wins; a full record is never replaced by a stub of the same
    # batch only if the stub came first (batch order is the server's order).
    out: dict[int, Mapping[str, Any]] = {}
    for r in records:
        out[int(r["id"])] = r
    return out


def _upsert_full(
    conn: Connection,
    full: list[Mapping[str, Any]],
    existing: dict[int, Existing],
    counts: SaveCounts,
    remote_values: dict[int, tuple[dict[str, Any], str | None]],
    now: str,
    prepared: Mapping[int, rec.Prepared],
) -> None:
    if not full:
        return
    mapped = [
        prepared.get(int(r["id"])) or (rec.message_values(r), rec.attachment_values(r))
        for r in full
    ]
    rows = [values for values, _ in mapped]
    new_rows = [row for row in rows if row[_ID] not in existing]
    _upsert_rows(conn, [(*row, now) for row in rows], new_rows)
    attachments = [a for _, atts in mapped for a in atts]
    if attachments:
        conn.exec_driver_sql(UPSERT_ATTACHMENT, attachments)
    for row in rows:
        old = existing.get(row[_ID])
        if old is None:
            counts.new += 1
            counts.new_ids.append(row[_ID])
            continue
        remote = {"read_status": row[_READ], "availability": row[_AVAIL]}
        _count_change(counts, old, remote, row[_LMT])
        remote_values[old.id] = (remote, row[_LMT])


def _upsert_rows(
    conn: Connection, params: list[tuple[Any, ...]], new_rows: list[tuple[Any, ...]]
) -> None:
    """The upsert, then the FTS entries of the rows it inserted, in one statement.

    `new_rows` are the batch's rows with no stored row and no tombstone (read under this
    transaction's write lock), i.e. exactly the rows the upsert inserts; rows it updates are
    already indexed, and their update trigger keeps them current.
    """
    if not new_rows:
        conn.exec_driver_sql(UPSERT_MESSAGE, params)
        return
    conn.exec_driver_sql(_FTS_BATCH_ON)
    conn.exec_driver_sql(UPSERT_MESSAGE, params)
    conn.exec_driver_sql(_FTS_BATCH_OFF)
    conn.exec_driver_sql(_FTS_INDEX, (json.dumps([row[_ID] for row in new_rows]),))
    # The status tally's insert trigger stood aside too (migration 0008): count them here.
    tally.save_inserted(conn, (_tally_key(row) for row in new_rows))


def _tally_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """`tally.MESSAGE_KEY_COLUMNS` of a row the upsert inserts: a new row's remote_* columns
    are bound to its (remote) read status and availability, as `_INSERT` says."""
    return (*row[_EXT:_DIRECTION_END], row[_AVAIL], row[_AVAIL], row[_READ])


def _apply_stubs(
    conn: Connection,
    stubs: list[Mapping[str, Any]],
    existing: dict[int, Existing],
    counts: SaveCounts,
    remote_values: dict[int, tuple[dict[str, Any], str | None]],
    now: str,
) -> None:
    params = []
    for stub in stubs:
        old = existing[int(stub["id"])]
        avail = stub.get("availability")
        params.append((avail, rec.patch_raw(old.raw, avail), now, old.id))
        remote = {"read_status": old.remote["read_status"], "availability": avail}
        _count_change(counts, old, remote, old.last_modified_time)
        # No lastModifiedTime in a stub: the merge counts the remote change as newer.
        remote_values[old.id] = (remote, None)
    if params:
        conn.exec_driver_sql(STUB_UPDATE, params)


def _merge_dirty(
    conn: Connection,
    existing: dict[int, Existing],
    remote_values: dict[int, tuple[dict[str, Any], str | None]],
    policy: ConflictPolicy,
    now: str,
) -> int:
    """Three-way merge of the dirty fields the batch changed remotely; returns conflicts."""
    conflicts = 0
    for message_id, (remote, remote_time) in remote_values.items():
        old = existing.get(message_id)
        if old is None or not any(old.dirty(f) for f in FIELDS):
            continue
        for f in FIELDS:
            if not old.dirty(f) or remote[f] == old.base[f]:
                continue  # clean fields were settled by the upsert; unchanged remote: no news
            state = FieldState(old.local[f], old.base[f], remote[f], old.edited_at, remote_time)
            decision = merge_field(f, state, policy)
            if decision.outcome is not Outcome.UNCHANGED and not _apply_decision(
                conn, message_id, f, old, decision.local, decision.base
            ):
                continue  # the row is no longer what the decision was made on
            if decision.conflict is not None:
                conflicts += 1
                save_conflict(
                    conn,
                    message_id=message_id,
                    field=f,
                    state=state,
                    policy=policy,
                    resolution=decision.conflict,
                    resolved_value=decision.local,
                    detected_at=now,
                )
        _keep_edit_time(conn, old)
    return conflicts


def _apply_decision(
    conn: Connection, message_id: int, f: str, old: Existing, local: str | None, base: str | None
) -> bool:
    """Store a merge decision if the field still holds the local and base it was made on."""
    result = conn.exec_driver_sql(
        f"UPDATE message SET {f} = ?, base_{f} = ? WHERE id = ? AND {f} IS ? AND base_{f} IS ?",
        (local, base, message_id, old.local[f], old.base[f]),
    )
    return bool(result.rowcount)


def _keep_edit_time(conn: Connection, old: Existing) -> None:
    # The edit trigger refreshes edited_at on any write to a still-dirty row; the user's
    # edit time is what the "newest" policy compares, so put it back.
    if old.edited_at is not None:
        conn.exec_driver_sql(
            "UPDATE local_edit SET edited_at = ? WHERE message_id = ?", (old.edited_at, old.id)
        )


# ---------------------------------------------------------------------------------------
# Secondary indexes and insert triggers deferred while a first pull fills an empty table.
#
# Each inserted row costs one B-tree insert per secondary index (a third of a first pull's
# database time at 100k rows); one CREATE INDEX over the filled table costs far less. So a
# full pull that starts on an EMPTY message table drops them (nothing is there to look up)
# and the commit that ends the pull re-creates them, with the sync token. A crash between
# leaves a database without them: every `open_database` re-creates missing ones
# (`ensure_message_indexes`), so the next command, and the resumed pull, have them again.
# Indexes change no query's answer, only its speed: a user query in between is right.
#
# The insert triggers that only count or index rows are dropped with them: the message
# table's FTS and tally ones, which stand aside for the engine's batches anyway
# (`FTS_BATCH`: the engine adds its rows to both per batch, in bulk), and the attachment
# tally's, whose table is recounted in one pass when it comes back (`tally.recount`). Even
# standing aside, SQLite runs a trigger's program once per row: the three cost about a
# tenth of a first pull's CPU time. Their SQL is kept in sync_state (`DEFERRED_TRIGGERS`,
# same transaction) and they are re-created from it when the indexes are. The triggers
# that record a user's edits (UPDATE, DELETE) are never dropped. A row some other writer
# inserts meanwhile (a user's INSERT) gets no FTS entry and no tally count from a trigger:
# the message tally then sums to fewer rows than the table holds (the engine counts
# exactly its own inserts), and that mismatch, checked when the triggers come back,
# rebuilds the FTS index too.
# ---------------------------------------------------------------------------------------

_INSERT_TRIGGERS = ("message_fts_insert", "message_tally_insert", "attachment_tally_insert")


def _message_indexes() -> list[sa.Index]:
    table: sa.Table = Message.__table__  # type: ignore[attr-defined]
    return sorted(table.indexes, key=lambda ix: str(ix.name))


def defer_message_indexes(conn: Connection) -> bool:
    """Drop the message table's secondary indexes and insert triggers if it is empty; True
    if they were dropped."""
    if conn.dialect.name != "sqlite":
        return False
    if conn.exec_driver_sql("SELECT 1 FROM message LIMIT 1").first() is not None:
        return False
    for index in _message_indexes():
        index.drop(conn, checkfirst=True)
    _defer_insert_triggers(conn)
    return True


def _defer_insert_triggers(conn: Connection) -> None:
    names = ", ".join(f"'{name}'" for name in _INSERT_TRIGGERS)
    triggers: dict[str, str] = dict(
        conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})"
        ).all()
    )
    if not triggers:
        return  # already deferred (a full pull started over within one run)
    set_state(conn, DEFERRED_TRIGGERS, json.dumps(triggers))
    for name in triggers:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")


def insert_triggers_deferred(conn: Connection) -> bool:
    """True while a first pull's insert triggers are dropped (see above)."""
    return get_state(conn, DEFERRED_TRIGGERS) is not None


def _restore_insert_triggers(conn: Connection) -> None:
    saved = get_state(conn, DEFERRED_TRIGGERS)
    if saved is None:
        return
    counted = conn.exec_driver_sql(
        "SELECT (SELECT count(*) FROM message)"
        f" = (SELECT coalesce(sum(n), 0) FROM {tally.MESSAGE_TALLY})"
    ).scalar()
    if not counted:
        # Someone else inserted rows meanwhile: index them from the rows.
        conn.exec_driver_sql("INSERT INTO message_fts (message_fts) VALUES ('rebuild')")
    # The attachment tally always (its insert trigger was gone). The message one only if
    # its sum fell short: the engine counted each of its own inserts, the edit and delete
    # triggers stayed, so the only change it can have missed is another writer's insert,
    # which leaves the sum below the table's count for good (a later delete of that row
    # takes one more off). Equal sums: the tally is exact, and regrouping the whole table
    # (0.15 s at 100k) would find the same.
    tally.recount(conn, messages=not counted)
    present = {
        r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    for name, sql in json.loads(saved).items():
        if name not in present:
            conn.exec_driver_sql(sql)
    set_state(conn, DEFERRED_TRIGGERS, None)


def missing_message_indexes(conn: Connection) -> list[str]:
    """Names of the message table's secondary indexes that the database lacks."""
    present = _index_names(conn)
    return [str(ix.name) for ix in _message_indexes() if str(ix.name) not in present]


def _index_names(conn: Connection) -> set[str]:
    rows = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message'"
    )
    return {r[0] for r in rows}


def ensure_message_indexes(conn: Connection) -> None:
    """Create whichever of the message table's secondary indexes is missing, and the
    insert triggers a first pull deferred."""
    for index in _message_indexes():
        index.create(conn, checkfirst=True)
    _restore_insert_triggers(conn)
