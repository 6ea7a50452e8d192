"""What `verify`, `prune` and the retention warnings read: the archive's side of each check.

Read-only queries (the repairs go through the pull's `save_records` and the attachment
rows' own writers). Batches of ids are looked up by primary key, so comparing a page of
1,000 remote records costs one indexed query, and the archive-wide scans (the ids in a
frame, the recorded files) read in keyset chunks or one column at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rcsync.types import Availability

_FILE_CHUNK = 5000


@dataclass(frozen=True)
class LocalRow:
    """The synced fields of one archived message (local value and base)."""

    read_status: str | None
    base_read_status: str | None
    availability: str | None
    base_availability: str | None


@dataclass(frozen=True)
class FileRow:
    """One recorded attachment file."""

    message_id: int
    id: int
    path: str
    size: int | None
    sha256: str | None


def _in(ids: Sequence[int]) -> str:
    # Ids are ints from our own parsing: inlined, so one statement serves any batch size.
    return ",".join(str(int(i)) for i in ids) or "NULL"


def read_rows(conn: Connection, ids: Sequence[int]) -> dict[int, LocalRow]:
    """The archived rows among `ids`."""
    rows = conn.execute(
        sa.text(
            "SELECT id, read_status, base_read_status, availability, base_availability"
            f" FROM message WHERE id IN ({_in(ids)})"
        )
    )
    return {int(r[0]): LocalRow(r[1], r[2], r[3], r[4]) for r in rows}


def read_tombstoned(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Ids among `ids` whose row the user deleted (pushed or not): absent on purpose."""
    rows = conn.execute(
        sa.text(f"SELECT message_id FROM tombstone WHERE message_id IN ({_in(ids)})")
    )
    return {int(r[0]) for r in rows}


def _frame(
    extension_id: str | None, since: str, types: Sequence[str]
) -> tuple[str, dict[str, object]]:
    names = {f"t{i}": t for i, t in enumerate(types)}
    where = f" creation_time >= :since AND type IN ({','.join(':' + k for k in names) or 'NULL'})"
    params: dict[str, object] = {"since": since, **names}
    if extension_id is not None:
        where += " AND extension_id = :ext"
        params["ext"] = extension_id
    return where, params


def archive_ids(
    conn: Connection, *, extension_id: str | None, since: str, types: Sequence[str]
) -> set[int]:
    """Ids of the archived messages in a listing's frame that are not Purged here."""
    where, params = _frame(extension_id, since, types)
    rows = conn.execute(
        sa.text(f"SELECT id FROM message WHERE{where} AND availability IS NOT :purged"),
        {**params, "purged": Availability.PURGED},
    )
    return {int(r[0]) for r in rows}


def count_files(engine: Engine, message_ids: Sequence[int] | None = None) -> int:
    only = "" if message_ids is None else f" AND message_id IN ({_in(message_ids)})"
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(f"SELECT count(*) FROM attachment WHERE path IS NOT NULL{only}")
            ).scalar_one()
        )


def read_files(engine: Engine, message_ids: Sequence[int] | None = None) -> Iterator[FileRow]:
    """Every recorded file (of `message_ids` only, when given), in keyset chunks."""
    only = "" if message_ids is None else f" AND message_id IN ({_in(message_ids)})"
    query = sa.text(
        "SELECT message_id, id, path, size, sha256 FROM attachment WHERE path IS NOT NULL"
        f"{only} AND (message_id, id) > (:mid, :aid) ORDER BY message_id, id LIMIT :n"
    )
    last = (-1, -1)
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query, {"mid": last[0], "aid": last[1], "n": _FILE_CHUNK}).all()
        for mid, aid, path, size, digest in rows:
            yield FileRow(int(mid), int(aid), str(path), size, digest)
        if len(rows) < _FILE_CHUNK:
            return
        last = (rows[-1][0], rows[-1][1])


# --- prune -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneRow:
    """A message old enough to prune, with what decides whether it may be."""

    id: int
    pending: bool  # a local edit waits to be pushed
    conflicted: bool  # a conflict was ever recorded for it
    complete: bool  # the whole record is here and every attachment has a hashed file
    read: tuple[str | None, str | None, str | None]  # local, base, remote
    availability: tuple[str | None, str | None, str | None]
    last_modified_time: str | None


def read_prune_rows(
    conn: Connection,
    *,
    before: str,
    types: Sequence[str],
    availability: Sequence[str],
    extension_id: str | None,
    text_part_reason: str,
) -> list[PruneRow]:
    """Messages created before `before` of `types` whose local availability is one of
    `availability` (what RingCentral still holds), with their pending/conflict/complete
    flags. A Text part held back by `[sync] download_text_parts` is complete: its text is
    the subject, stored in the row."""
    where, params = _frame(extension_id, "", types)
    avail = {f"a{i}": a for i, a in enumerate(availability)}
    rows = conn.execute(
        sa.text(
            "SELECT m.id,"
            " EXISTS (SELECT 1 FROM local_edit e WHERE e.message_id = m.id),"
            " EXISTS (SELECT 1 FROM conflict c WHERE c.message_id = m.id),"
            " json_valid(m.raw) AND json_extract(m.raw, '$.creationTime') IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id"
            "  AND (a.path IS NULL OR a.sha256 IS NULL)"
            "  AND NOT (a.path IS NULL AND a.type = 'Text' AND a.skipped IS :held)),"
            " m.read_status, m.base_read_status, m.remote_read_status,"
            " m.availability, m.base_availability, m.remote_availability, m.last_modified_time"
            f" FROM message m WHERE{where} AND creation_time < :before"
            f" AND m.availability IN ({','.join(':' + k for k in avail)})"
            " ORDER BY m.creation_time, m.id"
        ),
        {**params, **avail, "before": before, "held": text_part_reason},
    )
    return [
        PruneRow(int(r[0]), bool(r[1]), bool(r[2]), bool(r[3]), (r[4], r[5], r[6]),
                 (r[7], r[8], r[9]), r[10])
        for r in rows
    ]  # fmt: skip


def stage_availability(conn: Connection, ids: Sequence[int], target: str) -> list[int]:
    """Set the local availability of `ids` to `target`, as a user's edit would (the
    triggers make it pending), only where nothing is pending yet; returns the ids staged."""
    if not ids:
        return []
    staged = conn.execute(
        sa.text(
            f"UPDATE message SET availability = :t WHERE id IN ({_in(ids)})"
            " AND availability IS base_availability AND read_status IS base_read_status"
            " AND availability IS NOT :t RETURNING id"
        ),
        {"t": target},
    )
    return sorted(int(r[0]) for r in staged)
