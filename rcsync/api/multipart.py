"""Reading bulk (207 Multi-Status) answers into one `ItemResult` per message id.

RingCentral answers a bulk call in one of two formats, chosen by the ``Accept`` header
(API-NOTES §2.2): ``application/vnd.ringcentral.multipart+json`` — a JSON array of
``{resourceId, status, body}`` — or ``multipart/mixed``, whose first part lists
``{href, status}`` per id and whose following parts are the bodies in the same order. We ask
for the JSON form but read both. A part names its message by ``resourceId`` (or the last path
segment of ``href``); when it does not, parts are matched to the requested ids by position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rcsync.api.errors import error_details, malformed
from rcsync.api.results import ItemResult

MULTIPART_JSON = "application/vnd.ringcentral.multipart+json"


@dataclass(frozen=True)
class Part:
    resource_id: int | None
    status: int
    body: Any


def _as_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        tail = value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return None


def _json_parts(data: Any, op: str) -> list[Part]:
    if not isinstance(data, list):
        raise malformed(op, "207 body is not a JSON array")
    parts = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("status"), int):
            raise malformed(op, "207 part without an integer status")
        parts.append(Part(_as_id(item.get("resourceId")), item["status"], item.get("body")))
    return parts


def _boundary(content_type: str) -> bytes | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode()
    return None


def split_mixed(content_type: str, body: bytes) -> list[bytes]:
    """The payloads of a multipart/mixed body (part headers dropped; CRLF or LF)."""
    boundary = _boundary(content_type)
    if boundary is None:
        return []
    payloads = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        pieces = re.split(rb"\r?\n\r?\n", chunk.lstrip(b" \t"), maxsplit=1)
        payload = pieces[1] if len(pieces) == 2 else b""
        payloads.append(payload.removesuffix(b"\n").removesuffix(b"\r"))
    return payloads


def _mixed_parts(response: httpx.Response, op: str) -> list[Part]:
    texts = split_mixed(response.headers.get("content-type", ""), response.content)
    if not texts:
        raise malformed(op, "multipart/mixed body has no parts")
    try:
        summary = json.loads(texts[0])["response"]
        bodies = [json.loads(t) if t.strip() else None for t in texts[1:]]
    except (ValueError, KeyError, TypeError) as exc:
        raise malformed(
            op, f"multipart/mixed part is not JSON ({exc.__class__.__name__})"
        ) from None
    if not isinstance(summary, list) or len(summary) != len(bodies):
        raise malformed(op, "multipart/mixed status list does not match its parts")
    parts = []
    for entry, body in zip(summary, bodies, strict=True):
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), int):
            raise malformed(op, "multipart/mixed status entry without an integer status")
        parts.append(Part(_as_id(entry.get("href")), entry["status"], body))
    return parts


def parse_parts(response: httpx.Response, op: str) -> list[Part]:
    """The parts of a 207 answer, in either format."""
    ctype = response.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/"):
        return _mixed_parts(response, op)
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise malformed(op, "207 body is not JSON") from None
    return _json_parts(data, op)


def item_from(message_id: int, status: int, body: Any) -> ItemResult:
    ok = 200 <= status < 300
    if ok:
        record = body if isinstance(body, dict) else None
        return ItemResult(message_id, True, status, record)
    code, message = error_details(body)
    return ItemResult(message_id, False, status, None, code, message)


def results_from_parts(ids: Sequence[int], parts: Sequence[Part]) -> dict[int, ItemResult]:
    """One result per requested id; an id the server did not mention gets status 0."""
    wanted = set(ids)
    out: dict[int, ItemResult] = {}
    unnamed = [p for p in parts if p.resource_id is None or p.resource_id not in wanted]
    for part in parts:
        if part.resource_id is not None and part.resource_id in wanted:
            out[part.resource_id] = item_from(part.resource_id, part.status, part.body)
    # Parts without a usable id: match them to the remaining ids by position.
    rest = [i for i in ids if i not in out]
    for message_id, part in zip(rest, unnamed, strict=False):
        out[message_id] = item_from(message_id, part.status, part.body)
    for message_id in ids:
        out.setdefault(
            message_id,
            ItemResult(message_id, False, 0, None, None, "not mentioned in the server's answer"),
        )
    return out
