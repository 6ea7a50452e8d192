"""readMessageContent: attachment bytes with Range and Content-Disposition support.

``Range: bytes=a-b`` / ``a-`` / ``-n`` (one range) → 206 with ``Content-Range``;
unsatisfiable → 416 ``CMN-107`` with ``Content-Range: bytes */size``; several ranges are
answered with the whole content (allowed by RFC 9110). ``contentDisposition=Inline|Attachment``
adds a ``Content-Disposition`` header, named by ``contentDispositionFilename`` or the
attachment's file name. Purged messages have no content (404).

The file name is written per RFC 6266: a quoted ``filename`` (``\\`` and ``"`` escaped) and,
for a name outside ASCII, an RFC 8187 ``filename*=UTF-8''…`` with an ASCII fallback. A
name with control characters (CR/LF would inject headers) is a 400.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from . import params
from .reading import slot_for
from .store import Store
from .wire import ApiFailure, Request, Response, api_error, invalid, not_found

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 8187 attr-char beyond letters and digits
_EXTENSIONS = {
    "audio/x-wav": "wav",
    "application/pdf": "pdf",
    "image/png": "png",
    "text/plain": "txt",
}


def read_content(request: Request, store: Store, message_id: str, attachment_id: str) -> Response:
    slot = slot_for(store, message_id)
    if slot is None:
        return not_found("messageId")
    number = params.digits(attachment_id)
    found = None if number is None else store.content(slot, number)
    if found is None:
        return not_found("attachmentId")
    attachment, data = found
    content_type = attachment.content_type
    if content_type == "text/plain":
        content_type = "text/plain;charset=UTF-8"
    headers = [("Content-Type", content_type), ("Accept-Ranges", "bytes")]
    disposition = request.one("contentDisposition")
    if disposition is not None:
        if disposition not in ("Inline", "Attachment"):
            raise ApiFailure(invalid("contentDisposition"))
        name = (
            request.one("contentDispositionFilename")
            or attachment.file_name
            or (f"{attachment.id}.{_EXTENSIONS.get(attachment.content_type, 'bin')}")
        )
        headers.append(("Content-Disposition", disposition_value(disposition.lower(), name)))
    wanted = request.headers.get("range")
    if wanted is None or "," in wanted:
        return Response(200, data, headers)
    return _partial(data, wanted, headers)


def disposition_value(kind: str, name: str) -> str:
    """``kind; filename="…"`` (+ ``filename*`` outside ASCII); 400 on control characters."""
    if _CONTROL.search(name):
        raise ApiFailure(invalid("contentDispositionFilename"))
    fallback = name if name.isascii() else "".join(c if c.isascii() else "_" for c in name)
    quoted = fallback.replace("\\", "\\\\").replace('"', '\\"')
    value = f'{kind}; filename="{quoted}"'
    if not name.isascii():
        value += f"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return value


def _partial(data: bytes, wanted: str, headers: list[tuple[str, str]]) -> Response:
    size = len(data)
    match = _RANGE.match(wanted.strip())
    if match is None:
        return Response(200, data, headers)  # not a byte range we understand: ignore it
    first: int | None = None
    if match.group(1) or match.group(2):
        start, end = match.group(1), match.group(2)
        if start:
            first, last = int(start), min(int(end), size - 1) if end else size - 1
            if end and int(end) < first:
                first = None
        else:
            length = int(end)
            first, last = max(0, size - length), size - 1
            if length == 0:
                first = None
    if first is None or first >= size:
        response = api_error(416, "CMN-107", "Requested Range Not Satisfiable")
        response.headers.append(("Content-Range", f"bytes */{size}"))
        return response
    headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
    return Response(206, data[first : last + 1], headers)
