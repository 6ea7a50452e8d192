"""Datasette plugin loaded by `rcsync datasette` (--plugins-dir): attachment files open.

A ``file`` column of rcsync's views (and ``attachment.path``) holds a path relative to the
attachments folder, which `rcsync datasette` mounts at ``/files/``. This renders a voicemail
recording as an audio player and anything else (a fax PDF, a picture) as a link, so they
play and open in the browser. Other databases and columns are left alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from markupsafe import Markup, escape

FILE_COLUMNS = {
    ("message_list", "file"),
    ("voicemail_list", "file"),
    ("fax_list", "file"),
    ("attachment", "path"),
}
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".webm")
MOUNT = "/files/"


@hookimpl  # type: ignore[untyped-decorator,unused-ignore]
def render_cell(value: Any, column: str, table: str | None, datasette: Any) -> Markup | None:
    if (table, column) not in FILE_COLUMNS or not isinstance(value, str) or not value:
        return None
    href = escape(datasette.urls.path(MOUNT + quote(value)))
    name = escape(value.rsplit("/", 1)[-1])
    if value.lower().endswith(AUDIO_SUFFIXES):
        return Markup(
            f'<audio controls preload="none" src="{href}" aria-label="Play {name}"></audio>'
            f'<br><a href="{href}">{name}</a>'
        )
    return Markup(f'<a href="{href}">{name}</a>')
