"""Rendering message records as RingCentral's API shows them (`GetMessageInfoResponse`).

Generated messages are rendered straight to JSON bytes from their columns plus `World.facts`,
with every per-participant fragment pre-encoded: the list endpoint serves 1000-record pages
by joining bytes, never building dicts. Injected (custom) records keep the dict they arrived
with and are merged with their live state. The same bytes back ``store.get`` (parsed), so
the Python view and the HTTP view cannot drift.

Attachment ids of generated messages are ``message_id * 10 + k`` (unique store-wide, int64);
``size`` always equals the bytes `media` serves for them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from . import media
from .data import (
    PAGER,
    SMS,
    TYPE_NAMES,
    VOICEMAIL,
    Contact,
    Facts,
    World,
)
from .times import format_ms

_AVAIL = ("Alive", "Deleted", "Purged", "Purged")
_READ = ("Unread", "Read")
_DIRECTION = ("Inbound", "Outbound")


@dataclass(frozen=True)
class Attachment:
    """One attachment of a record, enough to serve its content."""

    id: int
    type: str
    content_type: str
    size: int
    file_name: str | None = None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=4)
def _encoded(texts: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """JSON and UTF-8 sizes of a phrase bank (shared by every extension that shares it)."""
    return [_dumps(t) for t in texts], [len(t.encode()) for t in texts]


def media_base_for(api_base: str) -> str:
    """RingCentral serves content from ``media.`` beside ``platform.``; elsewhere the same host."""
    if "://platform." in api_base:
        return api_base.replace("://platform.", "://media.", 1)
    return api_base


class Renderer:
    """Turns a message's state into record JSON for a given base URL."""

    def __init__(self, world: World, base_url: str) -> None:
        self.world = world
        profile = world.profile
        self._owner_phone = _dumps(
            {"phoneNumber": profile.phone, "name": profile.name, "location": profile.location}
        )
        self._owner_ext = _dumps(
            {
                "extensionNumber": profile.extension_number,
                "extensionId": profile.extension_id,
                "name": profile.name,
            }
        )
        self._contact_json = [self._contact(c) for c in world.contacts]
        self._texts, self._text_sizes = _encoded(tuple(world.texts))
        self.set_base_url(base_url)

    @staticmethod
    def _contact(contact: Contact) -> str:
        if contact.extension_number:
            return _dumps(
                {
                    "extensionNumber": contact.extension_number,
                    "extensionId": contact.extension_id,
                    "name": contact.name,
                }
            )
        return _dumps(
            {"phoneNumber": contact.phone, "name": contact.name, "location": contact.location}
        )

    def set_base_url(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.media_base = media_base_for(self.base_url)
        profile = self.world.profile
        suffix = f"/restapi/v1.0/account/{profile.account_id}/extension/{profile.extension_id}"
        self.store_uri = f"{self.base_url}{suffix}/message-store"
        self.content_uri = f"{self.media_base}{suffix}/message-store"

    def message_uri(self, message_id: int) -> str:
        return f"{self.store_uri}/{message_id}"

    def attachment_uri(self, message_id: int, attachment_id: int) -> str:
        return f"{self.content_uri}/{message_id}/content/{attachment_id}"

    # -- generated records ------------------------------------------------------------------

    def generated_attachments(
        self, message_id: int, kind: int, facts: Facts | None = None
    ) -> list[Attachment]:
        facts = facts or self.world.facts(message_id)
        base = message_id * 10
        if kind in (SMS, PAGER):
            text = Attachment(base, "Text", "text/plain", self._text_sizes[facts.text_index])
            if kind == SMS and facts.mms:
                image = Attachment(
                    base + 1,
                    "MmsAttachment",
                    "image/png",
                    media.png_size(facts.variant % 8),
                    f"image{facts.variant}.png",
                )
                return [text, image]
            return [text]
        if kind == VOICEMAIL:
            audio = Attachment(
                base, "AudioRecording", "audio/x-wav", media.wav_size(facts.vm_seconds)
            )
            if not facts.transcribed:
                return [audio]
            script = self.transcript(message_id)
            return [audio, Attachment(base + 1, "AudioTranscription", "text/plain", len(script))]
        pdf = media.pdf_size(facts.fax_pages)
        return [
            Attachment(base, "RenderedDocument", "application/pdf", pdf, f"fax-{message_id}.pdf")
        ]

    def transcript(self, message_id: int) -> bytes:
        facts = self.world.facts(message_id)
        return self.world.transcripts[facts.variant % len(self.world.transcripts)].encode()

    def generated_content(self, message_id: int, kind: int, attachment_id: int) -> bytes | None:
        facts = self.world.facts(message_id)
        k = attachment_id - message_id * 10
        if kind in (SMS, PAGER):
            if k == 0:
                return facts.text.encode()
            return (
                media.png_bytes(facts.variant % 8) if k == 1 and kind == SMS and facts.mms else None
            )
        if kind == VOICEMAIL:
            if k == 0:
                return media.wav_bytes(facts.vm_seconds)
            return self.transcript(message_id) if k == 1 and facts.transcribed else None
        return media.pdf_bytes(facts.fax_pages) if k == 0 else None

    def _attachments_json(self, message_id: int, kind: int, facts: Facts) -> str:
        if kind == PAGER or (kind == SMS and not facts.mms):  # the common case, kept cheap
            att_id = message_id * 10
            return (
                f'{{"id":{att_id},"uri":"{self.content_uri}/{message_id}/content/{att_id}",'
                f'"type":"Text","contentType":"text/plain","size":{self._text_sizes[facts.text_index]}}}'
            )
        parts = []
        vm_seconds = facts.vm_seconds
        for att in self.generated_attachments(message_id, kind, facts):
            extra = ""
            if att.type == "AudioRecording":
                extra = f',"vmDuration":{vm_seconds}'
            elif att.type == "MmsAttachment":
                extra = f',"fileName":"{att.file_name}","height":16,"width":16'
            elif att.file_name:
                extra = f',"fileName":"{att.file_name}"'
            parts.append(
                f'{{"id":{att.id},"uri":"{self.attachment_uri(message_id, att.id)}",'
                f'"type":"{att.type}","contentType":"{att.content_type}","size":{att.size}{extra}}}'
            )
        return ",".join(parts)

    def generated(
        self,
        message_id: int,
        created: int,
        modified: int,
        kind: int,
        direction: int,
        read: int,
        avail: int,
        contact_index: int,
    ) -> bytes:
        """JSON bytes of a generated record in its current state."""
        world = self.world
        contact = world.contacts[contact_index]
        facts = world.facts(message_id)
        other = self._contact_json[contact_index]
        owner = self._owner_ext if kind == PAGER else self._owner_phone
        sender, receiver = (owner, other) if direction else (other, owner)
        attachments = "" if avail >= 2 else self._attachments_json(message_id, kind, facts)
        if kind in (SMS, PAGER):
            subject = self._texts[facts.text_index]
            status = (
                "Delivered" if direction and kind == SMS else "Sent" if direction else "Received"
            )
            conv = contact.conversation_id
            extra = (
                f',"conversationId":{conv},"conversation":{{"id":"{conv}",'
                f'"uri":"{self.base_url}/restapi/v1.0/conversation/{conv}"}}'
            )
            if kind == PAGER:
                extra += ',"pgToDepartment":false'
        elif kind == VOICEMAIL:
            subject = _dumps(f"Voice Message from {contact.name}")
            status = "Received"
            transcription = "Completed" if facts.transcribed else "NotAvailable"
            extra = f',"vmTranscriptionStatus":"{transcription}"'
        else:
            subject = _dumps(f"Fax to {contact.name}" if direction else f"Fax from {contact.name}")
            status = "Sent" if direction else "Received"
            resolution = "High" if facts.fax_high else "Low"
            extra = (
                f',"faxResolution":"{resolution}","faxPageCount":{facts.fax_pages},"coverIndex":0'
            )
        priority = "High" if facts.priority_high else "Normal"
        text = (
            f'{{"uri":"{self.store_uri}/{message_id}","id":{message_id},'
            f'"extensionId":"{world.profile.extension_id}","to":[{receiver}],"from":{sender},'
            f'"type":"{TYPE_NAMES[kind]}","creationTime":"{format_ms(created)}",'
            f'"readStatus":"{_READ[read]}","priority":"{priority}","attachments":[{attachments}],'
            f'"direction":"{_DIRECTION[direction]}","availability":"{_AVAIL[avail]}",'
            f'"subject":{subject},"messageStatus":"{status}"{extra},'
            f'"lastModifiedTime":"{format_ms(modified)}"}}'
        )
        return text.encode()

    # -- injected records -------------------------------------------------------------------

    def custom(self, record: dict[str, Any], modified: int, read: int, avail: int) -> bytes:
        """JSON bytes of an injected record: its own fields, live state, our URIs."""
        out = dict(record)
        message_id = int(out["id"])
        out["uri"] = self.message_uri(message_id)
        out["readStatus"] = _READ[read]
        out["availability"] = _AVAIL[avail]
        out["lastModifiedTime"] = format_ms(modified)
        atts = [] if avail >= 2 else [dict(a) for a in record.get("attachments", [])]
        for att in atts:
            att["uri"] = self.attachment_uri(message_id, int(att["id"]))
        out["attachments"] = atts
        return _dumps(out).encode()
