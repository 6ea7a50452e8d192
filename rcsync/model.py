"""The database: SQLModel tables, plus the SQL that makes the database itself the user interface.

A user edits messages with any SQLite client. To tell those edits apart from rcsync's own
writes without a daemon watching, each syncable field is stored three times (the three-way
state of vdirsyncer/mbsync, habit 2 of STYLE.md):

    read_status / availability                 the local value, which users edit
    base_read_status / base_availability       the last value both sides agreed on
    remote_read_status / remote_availability   the last value RingCentral reported

A field is *dirty* (a pending local edit) when local IS NOT base. The engine always writes
local and base together, so its writes are never mistaken for edits (habit 6). Triggers
keep ``local_edit`` (one row per dirty message, with the edit time) and ``tombstone`` (one
row per ``DELETE FROM message``) so that finding pending edits costs O(pending), not
O(archive). ``pending_change`` is a view over both. ``message_fts`` is an FTS5 index over
subject, SMS text and voicemail transcriptions, kept current by triggers.

Columns are portable SQL; the triggers/views/FTS below are SQLite's and are only installed
on SQLite (a PostgreSQL archive will get its own equivalents).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

# A 64-bit integer that is still SQLite's rowid alias ("INTEGER PRIMARY KEY") there.
Int64 = BigInteger().with_variant(Integer(), "sqlite")

READ_STATUSES = ("Read", "Unread")
AVAILABILITIES = ("Alive", "Deleted", "Purged")
# Fields a user may edit locally and that are pushed back.
SYNCED_FIELDS = ("read_status", "availability")


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_creation_time", "creation_time"),
        Index("ix_message_conversation", "conversation_id"),
        Index("ix_message_type_availability", "type", "availability"),
    )

    id: int = Field(sa_column=Column(Int64, primary_key=True, autoincrement=False))
    extension_id: str | None = Field(default=None, sa_type=Text)
    type: str = Field(sa_type=Text)
    direction: str | None = Field(default=None, sa_type=Text)
    subject: str | None = Field(default=None, sa_type=Text)
    read_status: str | None = Field(default=None, sa_type=Text)
    availability: str | None = Field(default=None, sa_type=Text)
    message_status: str | None = Field(default=None, sa_type=Text)
    priority: str | None = Field(default=None, sa_type=Text)
    creation_time: str = Field(sa_type=Text)
    last_modified_time: str | None = Field(default=None, sa_type=Text)
    # TEXT: RingCentral conversation ids exceed 2^53 and are strings in conversation.id.
    conversation_id: str | None = Field(default=None, sa_type=Text)
    from_phone_number: str | None = Field(default=None, sa_type=Text)
    from_name: str | None = Field(default=None, sa_type=Text)
    # Recipients, comma-separated, for easy SQL; the full list is in raw.
    to_phone_numbers: str | None = Field(default=None, sa_type=Text)
    to_names: str | None = Field(default=None, sa_type=Text)
    # Full SMS/Pager text (the Text attachment) and the voicemail transcription.
    text: str | None = Field(default=None, sa_type=Text)
    transcription: str | None = Field(default=None, sa_type=Text)
    fax_page_count: int | None = Field(default=None)
    vm_duration: int | None = Field(default=None)
    # The whole last remote record, as JSON text (64-bit ints exact).
    raw: str = Field(sa_type=Text)
    base_read_status: str | None = Field(default=None, sa_type=Text)
    base_availability: str | None = Field(default=None, sa_type=Text)
    remote_read_status: str | None = Field(default=None, sa_type=Text)
    remote_availability: str | None = Field(default=None, sa_type=Text)
    # When the engine last wrote this row from a remote record (ISO-8601 UTC).
    synced_at: str | None = Field(default=None, sa_type=Text)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"

    message_id: int = Field(
        sa_column=Column(
            Int64,
            ForeignKey("message.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    id: int = Field(sa_column=Column(Int64, primary_key=True, autoincrement=False))
    type: str | None = Field(default=None, sa_type=Text)
    content_type: str | None = Field(default=None, sa_type=Text)
    # Size as reported by RingCentral (may be absent) and as downloaded.
    size: int | None = Field(default=None)
    uri: str | None = Field(default=None, sa_type=Text)
    file_name: str | None = Field(default=None, sa_type=Text)
    # Relative to [database] files; NULL until downloaded and verified.
    path: str | None = Field(default=None, sa_type=Text)
    sha256: str | None = Field(default=None, sa_type=Text)
    downloaded_at: str | None = Field(default=None, sa_type=Text)
    # Why it was not downloaded (too large, type filtered, purged remotely, last error).
    skipped: str | None = Field(default=None, sa_type=Text)


class Conflict(SQLModel, table=True):
    __tablename__ = "conflict"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(sa_column=Column(Int64, nullable=False, index=True))
    field: str = Field(sa_type=Text)
    base_value: str | None = Field(default=None, sa_type=Text)
    local_value: str | None = Field(default=None, sa_type=Text)
    remote_value: str | None = Field(default=None, sa_type=Text)
    local_time: str | None = Field(default=None, sa_type=Text)
    remote_time: str | None = Field(default=None, sa_type=Text)
    policy: str = Field(sa_type=Text)
    # kept_local | took_remote | purged (restore lost to a remote purge) | rejected
    resolution: str = Field(sa_type=Text)
    resolved_value: str | None = Field(default=None, sa_type=Text)
    detected_at: str = Field(sa_type=Text)


class LocalEdit(SQLModel, table=True):
    """One row per message with a pending field edit; maintained by triggers."""

    __tablename__ = "local_edit"

    message_id: int = Field(sa_column=Column(Int64, primary_key=True, autoincrement=False))
    edited_at: str = Field(sa_type=Text)
    attempts: int = Field(default=0)
    last_attempt_at: str | None = Field(default=None, sa_type=Text)
    last_error: str | None = Field(default=None, sa_type=Text)


class Tombstone(SQLModel, table=True):
    """A message row deleted locally (``DELETE FROM message``); maintained by a trigger.

    It keeps the row (``row_json``) so the delete can be undone before it is pushed, and it
    outlives the push so later pulls never bring the row back.
    """

    __tablename__ = "tombstone"
    # Pending row deletes are found without scanning every tombstone ever made.
    __table_args__ = (
        Index(
            "ix_tombstone_pending",
            "message_id",
            sqlite_where=text("pushed_at IS NULL"),
            postgresql_where=text("pushed_at IS NULL"),
        ),
    )

    message_id: int = Field(sa_column=Column(Int64, primary_key=True, autoincrement=False))
    deleted_at: str = Field(sa_type=Text)
    base_availability: str | None = Field(default=None, sa_type=Text)
    row_json: str | None = Field(default=None, sa_type=Text)
    # The message's attachment rows (JSON array), restored with the row on undo.
    attachments_json: str | None = Field(default=None, sa_type=Text)
    # trash | purge, decided when pushed ([sync] row_delete); NULL while pending.
    action: str | None = Field(default=None, sa_type=Text)
    pushed_at: str | None = Field(default=None, sa_type=Text)
    attempts: int = Field(default=0)
    last_attempt_at: str | None = Field(default=None, sa_type=Text)
    last_error: str | None = Field(default=None, sa_type=Text)


class SyncState(SQLModel, table=True):
    """Key/value engine state: sync token, frame, progress of a first pull, last runs."""

    __tablename__ = "sync_state"

    key: str = Field(sa_type=Text, primary_key=True)
    value: str | None = Field(default=None, sa_type=Text)


# ---------------------------------------------------------------------------------------
# SQLite-only SQL: edit capture, pending_change view, full-text search.
# Installed by the migrations (alembic/versions), kept here so there is one source.
# ---------------------------------------------------------------------------------------

NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
# Columns of the full-text index (migration 0005), in index order.
FTS_COLUMNS = (
    "subject",
    "text",
    "transcription",
    "from_name",
    "from_phone_number",
    "to_names",
    "to_phone_numbers",
)

MESSAGE_COLUMNS = tuple(Message.__table__.columns.keys())  # type: ignore[attr-defined]
ATTACHMENT_COLUMNS = tuple(Attachment.__table__.columns.keys())  # type: ignore[attr-defined]

_DIRTY = (
    "(NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability)"
)

_USER_CHANGE = (
    "((NEW.read_status IS NOT OLD.read_status AND NEW.read_status IS NOT NEW.base_read_status)"
    " OR (NEW.availability IS NOT OLD.availability"
    " AND NEW.availability IS NOT NEW.base_availability))"
)

SQLITE_DDL: tuple[str, ...] = (
    # Reject local edits that can never be pushed, with a message the sqlite3 shell shows.
    # Engine writes set value = base, so unknown values RingCentral sends are stored as-is.
    f"""
    CREATE TRIGGER message_edit_check BEFORE UPDATE OF read_status, availability ON message
    BEGIN
      SELECT RAISE(ABORT, 'rcsync: read_status must be ''Read'' or ''Unread''')
       WHERE NEW.read_status IS NOT OLD.read_status
         AND NEW.read_status IS NOT NEW.base_read_status
         AND NEW.read_status NOT IN {READ_STATUSES!r};
      SELECT RAISE(ABORT, 'rcsync: availability must be ''Alive'', ''Deleted'' or ''Purged''')
       WHERE NEW.availability IS NOT OLD.availability
         AND NEW.availability IS NOT NEW.base_availability
         AND NEW.availability NOT IN {AVAILABILITIES!r};
      SELECT RAISE(ABORT, 'rcsync: a purged message cannot be restored or un-purged')
       WHERE NEW.availability IS NOT OLD.availability
         AND NEW.base_availability = 'Purged' AND NEW.availability <> 'Purged';
    END
    """,
    # A user's change: a synced field moved to a value other than its base (the engine
    # moves value and base together, so its writes never match). It stamps the edit time,
    # which the `newest` conflict policy compares with RingCentral's lastModifiedTime.
    f"""
    CREATE TRIGGER message_edit AFTER UPDATE OF read_status, availability ON message
    WHEN NEW.read_status IS NOT OLD.read_status OR NEW.availability IS NOT OLD.availability
    BEGIN
      INSERT INTO local_edit (message_id, edited_at, attempts)
        SELECT NEW.id, {NOW_SQL}, 0 WHERE {_USER_CHANGE}
        ON CONFLICT (message_id) DO UPDATE SET edited_at = excluded.edited_at,
                                               last_error = NULL;
      DELETE FROM local_edit WHERE message_id = NEW.id AND NOT {_DIRTY};
    END
    """,
    # The engine moving base: meeting local (a confirmed push) cleans the edit up; moving
    # away from it (the user undid an edit while its write was in flight) makes one.
    f"""
    CREATE TRIGGER message_base_moved AFTER UPDATE OF base_read_status, base_availability
    ON message
    BEGIN
      DELETE FROM local_edit WHERE message_id = NEW.id AND NOT {_DIRTY};
      INSERT INTO local_edit (message_id, edited_at, attempts)
        SELECT NEW.id, {NOW_SQL}, 0 WHERE {_DIRTY}
        ON CONFLICT (message_id) DO NOTHING;
    END
    """,
    # DELETE FROM message: remember it (the row and its attachment rows, for undo); the
    # engine never deletes rows. BEFORE, so the attachment rows are still there to keep
    # (a client with foreign keys on cascades them away), and they are removed here so a
    # client with foreign keys off (the sqlite3 shell's default) leaves no orphans.
    """
    CREATE TRIGGER message_row_delete BEFORE DELETE ON message
    BEGIN
      INSERT INTO tombstone (message_id, deleted_at, base_availability, row_json,
                             attachments_json, attempts)
        VALUES (OLD.id, {now}, OLD.base_availability, json_object({pairs}),
                (SELECT json_group_array(json_object({att_pairs}))
                   FROM attachment WHERE message_id = OLD.id), 0)
        ON CONFLICT (message_id) DO NOTHING;
      DELETE FROM local_edit WHERE message_id = OLD.id;
      DELETE FROM attachment WHERE message_id = OLD.id;
    END
    """.format(
        now=NOW_SQL,
        pairs=", ".join(f"'{c}', OLD.{c}" for c in MESSAGE_COLUMNS),
        att_pairs=", ".join(f"'{c}', {c}" for c in ATTACHMENT_COLUMNS),
    ),
    # CROSS JOIN makes local_edit the outer loop: SQLite's planner would otherwise scan
    # the whole archive, and finding pending edits must cost O(pending), not O(archive).
    """
    CREATE VIEW pending_change AS
      SELECT m.id AS message_id, 'read_status' AS field, m.base_read_status AS old_value,
             m.read_status AS new_value, e.edited_at AS since, e.attempts AS attempts,
             e.last_error AS last_error
        FROM local_edit e CROSS JOIN message m ON m.id = e.message_id
       WHERE m.read_status IS NOT m.base_read_status
      UNION ALL
      SELECT m.id, 'availability', m.base_availability, m.availability, e.edited_at,
             e.attempts, e.last_error
        FROM local_edit e CROSS JOIN message m ON m.id = e.message_id
       WHERE m.availability IS NOT m.base_availability
      UNION ALL
      SELECT t.message_id, 'row', t.base_availability, 'row deleted', t.deleted_at,
             t.attempts, t.last_error
        FROM tombstone t WHERE t.pushed_at IS NULL
    """,
    # Full-text search over subject, SMS text, transcription and who sent/received it
    # (external content). content="message" in double quotes: Datasette and sqlite-utils
    # detect a table's FTS index only by that spelling (or content=[message]).
    f"""
    CREATE VIRTUAL TABLE message_fts USING fts5(
      {", ".join(FTS_COLUMNS)},
      content="message", content_rowid="id",
      tokenize='unicode61 remove_diacritics 2'
    )
    """,
    f"""
    CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
      INSERT INTO message_fts (rowid, {", ".join(FTS_COLUMNS)})
        VALUES (NEW.id, {", ".join("NEW." + c for c in FTS_COLUMNS)});
    END
    """,
    f"""
    CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
      INSERT INTO message_fts (message_fts, rowid, {", ".join(FTS_COLUMNS)})
        VALUES ('delete', OLD.id, {", ".join("OLD." + c for c in FTS_COLUMNS)});
    END
    """,
    f"""
    CREATE TRIGGER message_fts_update AFTER UPDATE OF {", ".join(FTS_COLUMNS)} ON message
    WHEN {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FTS_COLUMNS)}
    BEGIN
      INSERT INTO message_fts (message_fts, rowid, {", ".join(FTS_COLUMNS)})
        VALUES ('delete', OLD.id, {", ".join("OLD." + c for c in FTS_COLUMNS)});
      INSERT INTO message_fts (rowid, {", ".join(FTS_COLUMNS)})
        VALUES (NEW.id, {", ".join("NEW." + c for c in FTS_COLUMNS)});
    END
    """,
)

# Objects the SQL above creates, so migrations can drop them and the model-vs-migration
# comparison can ignore FTS shadow tables.
SQLITE_OBJECTS = {
    "trigger": (
        "message_edit_check",
        "message_edit",
        "message_base_moved",
        "message_row_delete",
        "message_fts_insert",
        "message_fts_delete",
        "message_fts_update",
    ),
    # The reading views (message_list, conversation_list, voicemail_list, fax_list) are
    # defined once, in migration 0005: nothing in rcsync depends on them.
    "view": ("pending_change", "message_list", "conversation_list", "voicemail_list", "fax_list"),
    "table": ("message_fts",),
}
FTS_SHADOW_PREFIX = "message_fts"
