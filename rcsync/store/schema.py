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

Columns are portable SQL; the triggers, the view and the FTS index are SQLite's, installed
by the migrations (alembic/versions) on SQLite only (a PostgreSQL archive will get its own
equivalents).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, Text, false, text
from sqlmodel import Field, SQLModel

from rcsync.store.tally import UNHEARD_SQL, todo_sql

# A 64-bit integer that is still SQLite's rowid alias ("INTEGER PRIMARY KEY") there.
Int64 = BigInteger().with_variant(Integer(), "sqlite")

# Fields a user may edit locally and that are pushed back.
SYNCED_FIELDS = ("read_status", "availability")


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_creation_time", "creation_time"),
        Index("ix_message_conversation", "conversation_id"),
        Index("ix_message_type_availability", "type", "availability"),
        Index("ix_message_extension", "extension_id"),
        # The unheard voicemails and unread faxes RingCentral caps (`rcsync.store.retention`):
        # a few hundred rows to count, by creation time, whatever the archive's size.
        Index(
            "ix_message_unheard",
            "creation_time",
            sqlite_where=text(UNHEARD_SQL),
            postgresql_where=text(UNHEARD_SQL),
        ),
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
    # The attachments a pull still has to fetch (`rcsync.store.tally.todo_sql`): what
    # the pull's attachment step walks is then what changed, not the archive. Created from
    # code (`ensure_attachment_indexes`), not by a migration: an index changes no answer.
    __table_args__ = (
        Index(
            "ix_attachment_todo",
            "message_id",
            "id",
            sqlite_where=text(todo_sql()),
            postgresql_where=text(todo_sql()),
        ),
    )

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


class Extension(SQLModel, table=True):
    """One extension of the account that the archive mirrors (issue 12, migration 0007).

    ``remote_gone`` is set when RingCentral no longer lists it (a deleted user): its
    messages stay, never inferred as deleted.
    """

    __tablename__ = "extension"

    # TEXT like message.extension_id: RingCentral's ids are 64-bit and travel as numbers
    # or strings; the archive compares them as text.
    id: str = Field(sa_type=Text, primary_key=True)
    number: str | None = Field(default=None, sa_type=Text)
    name: str | None = Field(default=None, sa_type=Text)
    type: str | None = Field(default=None, sa_type=Text)
    status: str | None = Field(default=None, sa_type=Text)
    first_seen: str = Field(sa_type=Text)
    last_pulled: str | None = Field(default=None, sa_type=Text)
    remote_gone: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    gone_since: str | None = Field(default=None, sa_type=Text)


class MessageTally(SQLModel, table=True):
    """How many messages share one combination of the grouped columns (`rcsync.store.tally`);
    kept by triggers (migration 0008)."""

    __tablename__ = "message_tally"

    # JSON array of the values, in `rcsync.store.tally.MESSAGE_KEY_COLUMNS` order.
    key: str = Field(sa_type=Text, primary_key=True)
    n: int = Field(sa_column=Column(Integer, nullable=False))


class AttachmentTally(SQLModel, table=True):
    """How many attachments are in one state (downloaded, skipped, waiting), and their bytes."""

    __tablename__ = "attachment_tally"

    state: str = Field(sa_type=Text, primary_key=True)
    n: int = Field(sa_column=Column(Integer, nullable=False))
    bytes: int = Field(sa_column=Column(Integer, nullable=False))


class SyncState(SQLModel, table=True):
    """Key/value engine state: sync token, frame, progress of a first pull, last runs."""

    __tablename__ = "sync_state"

    key: str = Field(sa_type=Text, primary_key=True)
    value: str | None = Field(default=None, sa_type=Text)


# ---------------------------------------------------------------------------------------
# SQLite-only SQL: edit capture, pending_change view, full-text search. Each migration in
# alembic/versions freezes the SQL of its revision; the migrated database is the source
# (tests/unit/foundation/test_db.py checks models and migrations agree).
# ---------------------------------------------------------------------------------------

NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

MESSAGE_COLUMNS = tuple(Message.__table__.columns.keys())  # type: ignore[attr-defined]
ATTACHMENT_COLUMNS = tuple(Attachment.__table__.columns.keys())  # type: ignore[attr-defined]

# The FTS5 index's shadow tables (message_fts_data, ...), which no model describes.
FTS_SHADOW_PREFIX = "message_fts"
