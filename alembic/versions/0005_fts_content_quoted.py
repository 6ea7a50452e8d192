"""Full-text index that Datasette and sqlite-utils detect, and that knows who wrote.

- message_fts is declared with ``content="message"`` (double quotes): Datasette and
  sqlite-utils find a table's FTS index by that exact spelling (or ``content=[message]``),
  and never saw the single-quoted ``content='message'`` of 0001.
- It also indexes from_name, from_phone_number, to_names and to_phone_numbers, so a search
  for a person's name or number finds their messages (issue 19).
- The triggers that keep it current cover the new columns; the index is rebuilt from the
  message table once here.
- Views for reading (Datasette shows them as tables): message_list (a message without the
  engine's base_*/remote_*/raw columns, plus its main file), conversation_list,
  voicemail_list and fax_list. Read-only; edits go to the message table as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The SQL of this revision, frozen.
FTS_TABLE = """
    CREATE VIRTUAL TABLE message_fts USING fts5(
      subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers,
      content="message", content_rowid="id",
      tokenize='unicode61 remove_diacritics 2'
    )
"""
FTS_INSERT = """
    CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
      INSERT INTO message_fts (rowid, subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers)
        VALUES (NEW.id, NEW.subject, NEW.text, NEW.transcription, NEW.from_name, NEW.from_phone_number, NEW.to_names, NEW.to_phone_numbers);
    END
"""
FTS_DELETE = """
    CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
      INSERT INTO message_fts (message_fts, rowid, subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers)
        VALUES ('delete', OLD.id, OLD.subject, OLD.text, OLD.transcription, OLD.from_name, OLD.from_phone_number, OLD.to_names, OLD.to_phone_numbers);
    END
"""
FTS_UPDATE = """
    CREATE TRIGGER message_fts_update AFTER UPDATE OF subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers ON message
    WHEN NEW.subject IS NOT OLD.subject OR NEW.text IS NOT OLD.text
      OR NEW.transcription IS NOT OLD.transcription OR NEW.from_name IS NOT OLD.from_name
      OR NEW.from_phone_number IS NOT OLD.from_phone_number OR NEW.to_names IS NOT OLD.to_names
      OR NEW.to_phone_numbers IS NOT OLD.to_phone_numbers
    BEGIN
      INSERT INTO message_fts (message_fts, rowid, subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers)
        VALUES ('delete', OLD.id, OLD.subject, OLD.text, OLD.transcription, OLD.from_name, OLD.from_phone_number, OLD.to_names, OLD.to_phone_numbers);
      INSERT INTO message_fts (rowid, subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers)
        VALUES (NEW.id, NEW.subject, NEW.text, NEW.transcription, NEW.from_name, NEW.from_phone_number, NEW.to_names, NEW.to_phone_numbers);
    END
"""
TRIGGERS = ("message_fts_insert", "message_fts_delete", "message_fts_update")

# The file a person opens for a message: the recording, the fax, the first picture.
_FILE = """(SELECT a.path FROM attachment a WHERE a.message_id = m.id AND a.path IS NOT NULL
      AND a.type = '{kind}' ORDER BY a.id LIMIT 1)"""
_MAIN_FILE = """(SELECT a.path FROM attachment a WHERE a.message_id = m.id AND a.path IS NOT NULL
      AND a.type IN ('AudioRecording', 'RenderedDocument', 'MmsAttachment') ORDER BY a.id LIMIT 1)"""
VIEWS = {
    "message_list": f"""
    CREATE VIEW message_list AS
      SELECT m.id, m.creation_time, m.type, m.direction, m.from_name, m.from_phone_number,
             m.to_names, m.to_phone_numbers, m.subject, m.text, m.transcription, m.read_status,
             m.availability, m.message_status, m.conversation_id, m.extension_id,
             m.fax_page_count, m.vm_duration, {_MAIN_FILE} AS file
        FROM message m
""",
    # SQLite's bare-column rule: with one max(), the party columns come from the newest row.
    "conversation_list": """
    CREATE VIEW conversation_list AS
      SELECT COALESCE(NULLIF(m.conversation_id, ''), 'with:' || COALESCE(CASE WHEN m.direction = 'Outbound' THEN m.to_phone_numbers ELSE m.from_phone_number END, 'unknown')) AS conversation,
             max(m.creation_time) AS last_message,
             CASE WHEN m.direction = 'Outbound' THEN m.to_names ELSE m.from_name END AS name,
             CASE WHEN m.direction = 'Outbound' THEN m.to_phone_numbers ELSE m.from_phone_number END AS number,
             count(*) AS messages, sum(m.read_status = 'Unread') AS unread,
             group_concat(DISTINCT m.type) AS types,
             COALESCE(m.text, m.transcription, m.subject) AS last_text
        FROM message m GROUP BY conversation
""",
    "voicemail_list": f"""
    CREATE VIEW voicemail_list AS
      SELECT m.id, m.creation_time, m.from_name, m.from_phone_number, m.vm_duration,
             m.transcription, m.read_status, m.availability, m.extension_id,
             {_FILE.format(kind="AudioRecording")} AS file
        FROM message m WHERE m.type = 'VoiceMail'
""",
    "fax_list": f"""
    CREATE VIEW fax_list AS
      SELECT m.id, m.creation_time, m.direction, m.from_name, m.from_phone_number, m.to_names,
             m.to_phone_numbers, m.fax_page_count, m.message_status, m.read_status,
             m.availability, m.extension_id, {_FILE.format(kind="RenderedDocument")} AS file
        FROM message m WHERE m.type = 'Fax'
""",
}


def _drop_fts() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS message_fts")


def _rebuild() -> None:
    # External content: the index is recomputed from the message table as it is now.
    op.execute("INSERT INTO message_fts (message_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_fts()
    for statement in (FTS_TABLE, FTS_INSERT, FTS_DELETE, FTS_UPDATE):
        op.execute(statement)
    _rebuild()
    for name, statement in VIEWS.items():
        op.execute(f"DROP VIEW IF EXISTS {name}")
        op.execute(statement)


def downgrade() -> None:
    import importlib.util
    from pathlib import Path

    if op.get_bind().dialect.name != "sqlite":
        return
    spec = importlib.util.spec_from_file_location(
        "rcsync_migration_0001", Path(__file__).with_name("0001_initial.py")
    )
    assert spec is not None and spec.loader is not None
    v1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(v1)
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    _drop_fts()
    for statement in v1.SQLITE_DDL_0001:
        if "message_fts" in statement:
            op.execute(statement)
    _rebuild()
