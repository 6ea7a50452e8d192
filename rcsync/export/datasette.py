"""The Datasette configuration `rcsync datasette` writes beside the database, and the command
line that serves it (Datasette runs as its own process; rcsync only prepares it).

The metadata describes every table and column a person sees, hides the engine's
bookkeeping, opens the reading views newest first with facets and full-text search (the
``message_fts`` index; on views through ``fts_table``/``fts_pk``), and offers canned write
queries (mark read/unread, trash, restore). Those are plain UPDATEs of ``message``: the
database's triggers turn them into pending changes that the next push sends, exactly like
an edit made in any other SQLite client.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from rcsync.errors import ExportError
from rcsync.store.user_sql import CANNED_EDITS

FILES_MOUNT = "files"
FACETS = ["type", "direction", "read_status", "availability", "extension_id"]
HIDDEN = ["local_edit", "tombstone", "sync_state", "alembic_version", "message_fts"]

COLUMNS = {
    "id": "RingCentral's message id",
    "creation_time": "When the message was sent or received (ISO-8601, UTC)",
    "type": "SMS, Fax, VoiceMail or Pager",
    "direction": "Inbound (received) or Outbound (sent)",
    "from_name": "Sender's name, as RingCentral knows it",
    "from_phone_number": "Sender's number (or extension number for Pager)",
    "to_names": "Recipients' names, comma-separated",
    "to_phone_numbers": "Recipients' numbers, comma-separated",
    "subject": "RingCentral's subject (the text itself for SMS)",
    "text": "Full SMS/Pager text",
    "transcription": "Voicemail transcription",
    "read_status": "Read or Unread; change it and `rcsync push` sends the change",
    "availability": "Alive, Deleted (in RingCentral's trash) or Purged (gone for good)",
    "message_status": "Received, Sent, Delivered, Queued, SendingFailed, …",
    "conversation_id": "RingCentral's conversation (SMS thread) id",
    "extension_id": "The extension whose message store holds the message",
    "fax_page_count": "Pages of a fax",
    "vm_duration": "Voicemail length in seconds",
    "file": "The recording, fax or first picture (opens from the attachments folder)",
    "raw": "The whole last record RingCentral sent, as JSON",
}
MESSAGE_LIST_COLUMNS = [c for c in COLUMNS if c != "raw"]  # and "file", which message lacks
# The columns of migration 0005's voicemail_list and fax_list views.
VOICEMAIL_COLUMNS = [
    *("id", "creation_time", "from_name", "from_phone_number", "vm_duration"),
    *("transcription", "read_status", "availability", "extension_id", "file"),
]
FAX_COLUMNS = [
    *("id", "creation_time", "direction", "from_name", "from_phone_number", "to_names"),
    *("to_phone_numbers", "fax_page_count", "message_status", "read_status", "availability"),
    *("extension_id", "file"),
]

EDIT_NOTE = "The change is sent to RingCentral by the next `rcsync push`, `sync` or `watch`."


def _columns(names: list[str]) -> dict[str, str]:
    return {n: COLUMNS[n] for n in names if n in COLUMNS}


def _reading_view(description: str, names: list[str], facets: list[str]) -> dict[str, Any]:
    return {
        "description": description,
        "sort_desc": "creation_time",
        "facets": facets,
        "columns": _columns(names),
        "fts_table": "message_fts",
        "fts_pk": "id",
        "searchmode": "raw",
    }


def _tables() -> dict[str, Any]:
    tables: dict[str, Any] = {name: {"hidden": True} for name in HIDDEN}
    tables["message_list"] = _reading_view(
        "Every message, newest first, without the sync engine's columns. Search covers "
        "text, subjects, transcriptions, names and numbers.",
        MESSAGE_LIST_COLUMNS,
        FACETS,
    )
    tables["voicemail_list"] = _reading_view(
        "Voicemail, newest first: play the recording, read the transcription.",
        VOICEMAIL_COLUMNS,
        ["read_status", "availability", "extension_id"],
    )
    tables["fax_list"] = _reading_view(
        "Faxes sent and received, newest first; open the PDF.",
        FAX_COLUMNS,
        ["direction", "read_status", "availability", "extension_id"],
    )
    tables["conversation_list"] = {
        "description": "One row per conversation (SMS thread, or the voicemail and faxes of "
        "one number), latest activity first.",
        "sort_desc": "last_message",
    }
    tables["message"] = {
        "description": "The mirror of RingCentral's message store, one row per message, with "
        "the engine's base_*/remote_* bookkeeping. Edit read_status or availability (or use "
        "the queries below) and rcsync pushes the change.",
        "sort_desc": "creation_time",
        "facets": FACETS,
        "columns": {
            **_columns([c for c in COLUMNS if c != "file"]),
            "base_read_status": "Last value both sides agreed on (engine bookkeeping)",
            "base_availability": "Last value both sides agreed on (engine bookkeeping)",
            "remote_read_status": "Last value RingCentral reported (engine bookkeeping)",
            "remote_availability": "Last value RingCentral reported (engine bookkeeping)",
            "synced_at": "When rcsync last wrote this row from RingCentral",
        },
    }
    tables["attachment"] = {
        "description": "Files of each message; path is relative to the attachments folder "
        "(NULL until downloaded).",
        "columns": {
            "path": "Relative to the attachments folder; opens in the browser",
            "sha256": "Checksum of the downloaded file",
            "skipped": "Why it was not downloaded",
        },
    }
    tables["pending_change"] = {
        "description": "Local edits not yet confirmed by RingCentral (sent by `rcsync push`)."
    }
    tables["conflict"] = {
        "description": "Fields changed on both sides, both values and the resolution applied."
    }
    return tables


def _queries() -> dict[str, Any]:
    return {
        name: {
            "title": title,
            "sql": sql,
            "write": True,
            "description": EDIT_NOTE,
            "on_success_message": "Saved. " + EDIT_NOTE,
            "params": ["id"],
        }
        for name, (title, sql) in CANNED_EDITS.items()
    }


def metadata(db_path: Path) -> dict[str, Any]:
    """Datasette's metadata for this database (its name in Datasette is the file's stem)."""
    return {
        "title": "RingCentral messages (rcsync)",
        "description": "Browse, search and edit the archive. Start with message_list, "
        "voicemail_list, fax_list or conversation_list.",
        "databases": {db_path.stem: {"tables": _tables(), "queries": _queries()}},
    }


def config_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".datasette.json")


def plugins_dir() -> Path:
    return Path(str(files("rcsync.export").joinpath("datasette_plugins")))


def write_config(db_path: Path) -> Path:
    """Write (or refresh) the metadata file beside the database; returns its path."""
    path = config_path(db_path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(metadata(db_path), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)
    except OSError as exc:
        raise ExportError(
            f"{path}: cannot write the Datasette configuration: {exc.strerror}"
        ) from None
    return path


def datasette_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("datasette") is not None


def command(
    db_path: Path, files_dir: Path, *, host: str, port: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """The command line that serves the archive (metadata written first)."""
    if not datasette_available():
        raise ExportError(
            "Datasette is not installed: pip install 'rcsync[datasette]' (or pip install datasette)"
        )
    args = [sys.executable, "-m", "datasette", "serve", str(db_path)]
    args += ["--metadata", str(write_config(db_path)), "--plugins-dir", str(plugins_dir())]
    if files_dir.is_dir():
        args += ["--static", f"{FILES_MOUNT}:{files_dir}"]
    return [*args, "--host", host, "--port", str(port), *extra]
