"""The ``extension`` table and each extension's cursor (issue 12, migration 0007).

An account archive mirrors several extensions into one database. Each has its own
message-sync cursor and first-pull progress in ``sync_state``: the *home* extension (the
login that built the database; `HOME_EXTENSION` names its id) keeps the unsuffixed keys a
single-extension database always had, so an existing archive upgrades without moving a
row; every other extension's keys carry its id (``sync_token@409564008``). Rows stored
before ``message.extension_id`` was filled in belong to the home extension.

An extension RingCentral no longer lists is marked ``remote_gone``; nothing of its archive
is touched (a deleted user's messages are exactly what an admin archive is for).

``sync_state.login_cache`` keeps who logged in and when the list was last read
(`rcsync.rules.extensions.LoginCache`), so that an idle round needs neither again;
deleting it (`forget_login_cache`) makes the next account pull read both.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.rules.extensions import ExtensionInfo, LoginCache, mirrored
from rcsync.store.state import (
    FIRST_PULL,
    LAST_PULL_AT,
    SYNC_FRAME,
    SYNC_TOKEN,
    get_state,
    set_state,
)
from rcsync.types import ExtensionScope

HOME_EXTENSION = "home_extension"  # sync_state: the id whose cursor has the plain keys
LOGIN_CACHE = "login_cache"  # sync_state: JSON of the last login and extension list read


@dataclass(frozen=True)
class StateKeys:
    """The sync_state keys of one extension's cursor."""

    sync_token: str = SYNC_TOKEN
    sync_frame: str = SYNC_FRAME
    first_pull: str = FIRST_PULL
    last_pull_at: str = LAST_PULL_AT

    @classmethod
    def suffixed(cls, extension_id: str) -> StateKeys:
        # last_pull_at stays account-wide: "when did rcsync last pull" (status, watch).
        return cls(
            sync_token=f"{SYNC_TOKEN}@{extension_id}",
            sync_frame=f"{SYNC_FRAME}@{extension_id}",
            first_pull=f"{FIRST_PULL}@{extension_id}",
        )


HOME_KEYS = StateKeys()


@dataclass(frozen=True)
class ExtensionRow:
    """One row of ``extension``."""

    id: str
    number: str | None
    name: str | None
    type: str | None
    status: str | None
    first_seen: str
    last_pulled: str | None
    remote_gone: bool
    gone_since: str | None

    def label(self) -> str:
        number = self.number or self.id
        return f"extension {number} ({self.name})" if self.name else f"extension {number}"


_COLUMNS = "id, number, name, type, status, first_seen, last_pulled, remote_gone, gone_since"


def home_extension(conn: Connection) -> str | None:
    return get_state(conn, HOME_EXTENSION)


def adopt_home(conn: Connection, extension_id: str) -> str:
    """Make `extension_id` the home extension unless one is set; returns the home id.

    The first account-aware pull of a database runs this: its rows without an extension
    (stored before 0007, or from records without ``extensionId``) are the home's.
    """
    home = home_extension(conn)
    if home is None:
        home = extension_id
        set_state(conn, HOME_EXTENSION, home)
        conn.execute(
            sa.text("UPDATE message SET extension_id = :e WHERE extension_id IS NULL"),
            {"e": home},
        )
    return home


def adopt_home_from_rows(conn: Connection, now: str) -> str | None:
    """After a single-extension pull (no request spent on who logs in): the home is the
    extension its records name. Marks it pulled; returns it (None: nothing stored yet)."""
    home = home_extension(conn)
    if home is None:
        row = conn.execute(
            sa.text(
                "SELECT extension_id FROM message WHERE extension_id IS NOT NULL"
                " GROUP BY extension_id ORDER BY count(*) DESC LIMIT 1"
            )
        ).first()
        if row is None:
            return None
        home = adopt_home(conn, str(row[0]))
    conn.execute(
        sa.text(
            "INSERT INTO extension (id, first_seen, remote_gone) VALUES (:id, :now, :gone)"
            " ON CONFLICT (id) DO NOTHING"
        ),
        {"id": home, "now": now, "gone": False},
    )
    set_last_pulled(conn, home, now)
    return home


def save_login_cache(conn: Connection, cache: LoginCache) -> None:
    value = {
        "login": cache.login.as_json(),
        "read_at": cache.read_at.isoformat(),
        "listed": cache.listed,
        "every_user": cache.every_user,
    }
    set_state(conn, LOGIN_CACHE, json.dumps(value))


def read_login_cache(conn: Connection) -> LoginCache | None:
    """The cache, or None (never saved, forgotten, or unreadable: then it is read anew)."""
    raw = get_state(conn, LOGIN_CACHE)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        read_at = dt.datetime.fromisoformat(value["read_at"])
        return LoginCache(
            ExtensionInfo.from_record(value["login"]),
            read_at if read_at.tzinfo else read_at.replace(tzinfo=dt.UTC),
            listed=value.get("listed") is True,
            every_user=value.get("every_user") is True,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def forget_login_cache(conn: Connection) -> None:
    set_state(conn, LOGIN_CACHE, None)


def live_extensions(conn: Connection) -> list[ExtensionInfo]:
    """The known extensions RingCentral still has, as a list would describe them."""
    return [
        ExtensionInfo(r.id, r.number, r.name, r.type, r.status)
        for r in load_extensions(conn)
        if not r.remote_gone
    ]


def extension_by_number(conn: Connection, number: str) -> ExtensionRow | None:
    """The known extension with this number (``--extension``), or None."""
    return next((r for r in load_extensions(conn) if r.number == number), None)


def keys_for(conn: Connection, extension_id: str) -> StateKeys:
    """`extension_id`'s cursor keys (see the module docstring)."""
    return HOME_KEYS if home_extension(conn) == extension_id else StateKeys.suffixed(extension_id)


def record_seen(conn: Connection, infos: Iterable[ExtensionInfo], now: str) -> None:
    """Insert or refresh what RingCentral says of these extensions (listed: not gone)."""
    conn.execute(
        sa.text(
            "INSERT INTO extension (id, number, name, type, status, first_seen, remote_gone)"
            " VALUES (:id, :number, :name, :type, :status, :now, :gone)"
            " ON CONFLICT (id) DO UPDATE SET number = excluded.number, name = excluded.name,"
            " type = excluded.type, status = excluded.status, remote_gone = excluded.remote_gone,"
            " gone_since = NULL"
        ),
        [
            {
                "id": e.id,
                "number": e.number,
                "name": e.name,
                "type": e.type,
                "status": e.status,
                "now": now,
                "gone": False,
            }
            for e in infos
        ],
    )


def mark_gone(conn: Connection, listed_ids: Iterable[str], now: str) -> list[ExtensionRow]:
    """Mark every known extension RingCentral no longer lists; returns the newly gone."""
    listed = set(listed_ids)
    newly = [r for r in load_extensions(conn) if r.id not in listed and not r.remote_gone]
    for row in newly:
        conn.execute(
            sa.text("UPDATE extension SET remote_gone = :gone, gone_since = :now WHERE id = :id"),
            {"gone": True, "now": now, "id": row.id},
        )
    return newly


def mark_gone_one(conn: Connection, extension_id: str, now: str) -> None:
    """One extension whose paths answered "not found" (deleted meanwhile)."""
    conn.execute(
        sa.text(
            "UPDATE extension SET remote_gone = :gone, gone_since = coalesce(gone_since, :now)"
            " WHERE id = :id"
        ),
        {"gone": True, "now": now, "id": extension_id},
    )


def set_last_pulled(conn: Connection, extension_id: str, now: str) -> None:
    conn.execute(
        sa.text("UPDATE extension SET last_pulled = :now WHERE id = :id"),
        {"now": now, "id": extension_id},
    )


def load_extensions(conn: Connection) -> list[ExtensionRow]:
    rows = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM extension ORDER BY number, id"))
    return [
        ExtensionRow(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8]) for r in rows
    ]


def mirrored_extensions(
    conn: Connection, wanted: ExtensionScope | tuple[str, ...]
) -> list[ExtensionInfo]:
    """The extensions ``[account] extensions = wanted`` mirrors, as the archive knows them
    (`rcsync.rules.extensions.mirrored`; the gone ones left out)."""
    known = [
        ExtensionInfo(r.id, r.number, r.name, r.type, r.status)
        for r in load_extensions(conn)
        if not r.remote_gone
    ]
    return mirrored(wanted, known)


def extensions_of(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The extension of each message id known here: the row's, else its tombstone's copy."""
    if not ids:
        return {}
    found: dict[int, str] = {}
    params = {"ids": json.dumps(list(ids))}
    for mid, ext in conn.execute(
        sa.text(
            "SELECT id, extension_id FROM message WHERE extension_id IS NOT NULL"
            " AND id IN (SELECT value FROM json_each(:ids))"
        ),
        params,
    ):
        found[int(mid)] = str(ext)
    missing = [i for i in ids if i not in found]
    if missing:
        for mid, row_json in conn.execute(
            sa.text(
                "SELECT message_id, row_json FROM tombstone WHERE row_json IS NOT NULL"
                " AND message_id IN (SELECT value FROM json_each(:ids))"
            ),
            {"ids": json.dumps(missing)},
        ):
            ext = _row_extension(row_json)
            if ext is not None:
                found[int(mid)] = ext
    return found


def of_gone_extensions(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Those of `ids` whose extension RingCentral no longer has (none in most archives:
    one cheap query on the small extension table first)."""
    gone = {r.id for r in load_extensions(conn) if r.remote_gone}
    if not gone or not ids:
        return set()
    return {mid for mid, ext in extensions_of(conn, ids).items() if ext in gone}


def _row_extension(row_json: str) -> str | None:
    try:
        row = json.loads(row_json)
    except ValueError:
        return None
    ext = row.get("extension_id") if isinstance(row, dict) else None
    return None if ext is None else str(ext)


def message_counts(conn: Connection) -> dict[str, int]:
    """Messages stored per extension id."""
    rows = conn.execute(
        sa.text(
            "SELECT extension_id, count(*) FROM message WHERE extension_id IS NOT NULL"
            " GROUP BY extension_id"
        )
    )
    return {str(e): int(n) for e, n in rows}
