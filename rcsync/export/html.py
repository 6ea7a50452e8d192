"""``html``: a folder that reads like a phone's messages app, offline from ``file://``.

Layout: ``index.html`` (conversations, newest first, with a search box that filters the
list in the page itself), ``c/<conversation>.html`` (one thread each), ``files/`` (the
attachments, hard-linked from the archive when possible, else copied) and ``assets/``
(one stylesheet, one small script; nothing is fetched from anywhere else). Pages are
rendered by Jinja2 with autoescaping and streamed: a thread's messages go from the
database cursor into the file without being collected first.

Times are written in UTC (``<time datetime=…>``); the script shows them in the reader's
local time and keeps UTC in the tooltip.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from rcsync.export.base import Job
from rcsync.store.archive import Order, iter_conversations, iter_messages

ASSETS = ("style.css", "app.js")
PAGES_DIR, FILES_DIR, ASSETS_DIR = "c", "files", "assets"


class AttachmentKind(StrEnum):
    AUDIO = "AudioRecording"
    TRANSCRIPT = "AudioTranscription"
    FAX = "RenderedDocument"
    TEXT = "Text"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rcsync.export", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["utc"] = utc_label
    env.filters["duration"] = duration
    return env


def utc_label(iso: str | None) -> str:
    """``2024-01-01T22:22:53.830Z`` -> ``2024-01-01 22:22 UTC`` (shown until the script runs)."""
    return f"{iso[:16].replace('T', ' ')} UTC" if iso else ""


def duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    return f"{seconds // 60}:{seconds % 60:02d}"


def page_name(key: str) -> str:
    """A file name for a conversation key; a hash keeps keys that differ only in symbols apart."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")[:80] or "conversation"
    if slug != key:
        slug += "-" + hashlib.sha1(key.encode()).hexdigest()[:6]
    return f"{slug}.html"


@dataclass
class FileView:
    href: str
    name: str
    content_type: str
    size: int | None


@dataclass
class MessageView:
    record: dict[str, Any]
    audio: list[FileView] = field(default_factory=list)
    images: list[FileView] = field(default_factory=list)
    documents: list[FileView] = field(default_factory=list)
    missing: int = 0

    def __getattr__(self, name: str) -> Any:
        try:
            return self.record[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def body(self) -> str | None:
        if self.record["type"] in ("SMS", "Pager"):
            return str(self.record["text"] or self.record["subject"] or "") or None
        return None

    @property
    def sender(self) -> str:
        return _person(self.record["from_name"], self.record["from_phone_number"])

    @property
    def recipients(self) -> str:
        return _person(self.record["to_names"], self.record["to_phone_numbers"])


def _person(name: str | None, number: str | None) -> str:
    if name and number and name != number:
        return f"{name} ({number})"
    return name or number or "unknown"


class Site:
    """Writes the folder; one instance per export."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.env = _environment()
        self.root = job.target
        self._made: set[Path] = set()

    def build(self) -> None:
        for sub in (PAGES_DIR, FILES_DIR, ASSETS_DIR):
            (self.root / sub).mkdir()
        for name in ASSETS:
            data = files("rcsync.export").joinpath("templates", name).read_bytes()
            (self.root / ASSETS_DIR / name).write_bytes(data)
        self._threads()
        self._index()

    def _render(self, template: str, path: Path, **context: Any) -> None:
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(self.env.get_template(template).generate(**context))

    def _threads(self) -> None:
        rows = iter_messages(self.job.conn, self.job.filters, order=Order.CONVERSATION)
        for key, group in itertools.groupby(rows, key=lambda r: r["conversation_key"]):
            self._thread(str(key), group)
            self.job.tally.conversations += 1

    def _thread(self, key: str, group: Iterator[dict[str, Any]]) -> None:
        first = next(group)
        self._render(
            "conversation.html.j2",
            self.root / PAGES_DIR / page_name(key),
            root="../",
            first=MessageView(first),
            count=first["conversation_size"],
            messages=self._views(itertools.chain([first], group)),
        )

    def _views(self, rows: Iterable[dict[str, Any]]) -> Iterator[MessageView]:
        for record in rows:
            yield self._view(record)
            self.job.tally.messages += 1
            self.job.progress.advance()

    def _view(self, record: dict[str, Any]) -> MessageView:
        view = MessageView(record)
        for attachment in record["attachments"]:
            if attachment["type"] in (AttachmentKind.TEXT, AttachmentKind.TRANSCRIPT):
                continue  # their text is in the message's columns
            source = self.job.attachment_file(attachment)
            if source is None:
                view.missing += 0 if attachment.get("skipped") else 1
                continue
            file_view = self._place(source, attachment)
            content_type = file_view.content_type
            if attachment["type"] == AttachmentKind.AUDIO or content_type.startswith("audio/"):
                view.audio.append(file_view)
            elif content_type.startswith("image/"):
                view.images.append(file_view)
            else:
                view.documents.append(file_view)
        return view

    def _place(self, source: Path, attachment: dict[str, Any]) -> FileView:
        rel = str(attachment["path"])
        dest = self.root / FILES_DIR / rel
        if dest.parent not in self._made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(dest.parent)
        try:
            os.link(source, dest)  # no copy when the export is on the archive's disk
        except OSError:
            shutil.copyfile(source, dest)
        self.job.tally.attachments += 1
        return FileView(
            href=f"../{FILES_DIR}/{quote(rel)}",
            name=attachment["file_name"] or source.name,
            content_type=attachment["content_type"] or "application/octet-stream",
            size=source.stat().st_size,
        )

    def _index(self) -> None:
        def rows() -> Iterator[dict[str, Any]]:
            for conversation in iter_conversations(self.job.conn, self.job.filters):
                conversation["href"] = f"{PAGES_DIR}/{quote(page_name(conversation['key']))}"
                yield conversation

        self._render(
            "index.html.j2",
            self.root / "index.html",
            root="",
            conversations=rows(),
            total_messages=self.job.tally.messages,
            total_conversations=self.job.tally.conversations,
        )


def write(job: Job) -> None:
    Site(job).build()
