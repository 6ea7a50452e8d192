"""Write operations: updateMessage (PUT), patchMessage, deleteMessage, deleteMessageByFilter.

Bulk forms (RingCentral's batch syntax): ids in the path, comma-separated (at most 50), or
``*`` in the path with the ids in the body (at most 1000). Beyond → 400 ``CMN-106``.
PUT/PATCH bodies: one object (applied to every id), a JSON array of ``{"resourceId"?,
"body"}`` (``resourceId`` required with ``*``; otherwise parts pair with path ids in order),
or ``multipart/mixed`` with one JSON part per path id. Bulk answers are 207 (see `bulk`);
a bulk DELETE answers 204 when every part succeeded.

``DELETE …/message-store/*`` without a body, and ``DELETE …/message-store`` without
``conversationId``, delete every message of ``type`` created before ``dateTo`` — as the spec
warns. ``type`` (default ``All``) narrows every delete: a path id of another type is left
alone and answered 404, like an id that does not exist. An empty value (``conversationId=``,
``type=``, ``dateTo=``) on a delete is a 400, never "absent": read as absent it would widen
a destructive call to every message. Every delete is one step of Alive → Deleted → Purged
(``purge=true`` goes straight to Purged); deleting a Purged message is a no-op 204.
"""

from __future__ import annotations

import json
from typing import Any

from . import params
from .bulk import Part, multi_status, parse_multipart_mixed
from .data import ALIVE, DELETED, TYPE_NAMES
from .reading import parse_ids, part_href, slot_for
from .store import Store, StoreError
from .wire import ApiFailure, Request, Response, api_error, invalid, not_found, raw_json

MAX_PATH_IDS = 50
MAX_BODY_IDS = 1000
DELETE_TYPES = ("Fax", "SMS", "VoiceMail", "Pager", "Text", "All")
_DELETE_PARAMS = ("conversationId", "type", "dateTo", "purge")


def _limit(count: int, limit: int) -> None:
    if count > limit:
        raise ApiFailure(api_error(400, "CMN-106", f"Batch request is limited to {limit} entries"))


def _json_body(request: Request) -> Any:
    if not request.body.strip():
        raise ApiFailure(api_error(400, "CMN-104", "Cannot parse request"))
    try:
        if request.headers.get("content-type", "").startswith("multipart/mixed"):
            return parse_multipart_mixed(request.headers["content-type"], request.body)
        return json.loads(request.body)
    except ValueError as exc:
        raise ApiFailure(api_error(400, "CMN-103", "JSON can't be parsed.")) from exc


def _pairs(request: Request, raw_ids: str) -> tuple[list[tuple[str, Any]], bool]:
    """[(resourceId, body)] for a PUT/PATCH, and whether it is a bulk request."""
    body = _json_body(request)
    if raw_ids == "*":
        if not isinstance(body, list):
            raise ApiFailure(invalid("resourceId"))
        _limit(len(body), MAX_BODY_IDS)
        pairs = [
            (str(item.get("resourceId", "")), item.get("body"))
            for item in body
            if isinstance(item, dict)
        ]
        return pairs, True
    ids = parse_ids(raw_ids)
    _limit(len(ids), MAX_PATH_IDS)
    if isinstance(body, list):
        if len(body) != len(ids):
            raise ApiFailure(invalid("messageId"))
        pairs = []
        for rid, item in zip(ids, body, strict=True):
            inner = item.get("body", item) if isinstance(item, dict) else item
            pairs.append(
                (str(item.get("resourceId", rid)) if isinstance(item, dict) else rid, inner)
            )
        return pairs, len(ids) > 1
    return [(rid, body) for rid in ids], len(ids) > 1


def _apply_update(store: Store, slot: int, body: Any, *, patch: bool) -> Response | None:
    """Apply one PUT/PATCH body; an error response, or None on success."""
    if not isinstance(body, dict):
        return invalid("readStatus")
    read = body.get("readStatus")
    avail = body.get("availability") if patch else None
    if read is None and avail is None:
        return invalid("availability" if patch else "readStatus")
    if read is not None and read not in ("Read", "Unread"):
        return invalid("readStatus")
    if avail is not None:
        if avail != "Alive":
            return invalid("availability")
        try:
            store.set_availability(slot, "Alive")
        except StoreError:
            return invalid("availability")
    if read is not None:
        store.set_read(slot, read)
    return None


def update_message(request: Request, store: Store, raw_ids: str, *, patch: bool) -> Response:
    pairs, bulk = _pairs(request, raw_ids)
    parts = []
    with store.batch():
        for resource_id, body in pairs:
            slot = slot_for(store, resource_id)
            href = part_href(store, resource_id)
            error = (
                not_found("messageId")
                if slot is None
                else _apply_update(store, slot, body, patch=patch)
            )
            if not bulk:
                return error or raw_json(200, store.record_bytes(slot))  # type: ignore[arg-type]
            if error is not None:
                parts.append(Part(resource_id, error.status, error.body, href))
            else:
                parts.append(Part(resource_id, 200, store.record_bytes(slot), href))  # type: ignore[arg-type]
    return multi_status(request, parts)


def _delete_type(request: Request) -> str:
    kind = request.one("type") or "All"
    if kind not in DELETE_TYPES:
        raise ApiFailure(invalid("type"))
    return kind


def _kind_code(kind: str) -> int | None:
    return None if kind == "All" else TYPE_NAMES.index(kind)


def delete_message(request: Request, store: Store, raw_ids: str) -> Response:
    params.reject_empty(request, _DELETE_PARAMS)
    purge = params.boolean(request, "purge")
    kind = _delete_type(request)
    if raw_ids == "*":
        if not request.body.strip():
            now = store.now_ms()
            return _delete_matching(store, purge, kind=kind, before=now, conversations=None)
        ids = _json_body(request)
        if not isinstance(ids, list) or not ids:
            raise ApiFailure(invalid("messageId"))
        ids = [str(i) for i in ids]
        _limit(len(ids), MAX_BODY_IDS)
    else:
        ids = parse_ids(raw_ids)
        _limit(len(ids), MAX_PATH_IDS)
    parts = []
    code = _kind_code(kind)
    with store.batch():
        for resource_id in ids:
            slot = slot_for(store, resource_id)
            href = part_href(store, resource_id)
            if slot is not None and code is not None and store.cols.kind[slot] != code:
                slot = None  # another type: this delete does not reach it
            if slot is None:
                parts.append(Part(resource_id, 404, not_found("messageId").body, href))
                continue
            store.delete_step(slot, purge=purge)
            parts.append(Part(resource_id, 204, None, href))
    if len(ids) == 1 and parts[0].status == 404:
        return not_found("messageId")
    if all(p.status == 204 for p in parts):
        return Response(204)
    return multi_status(request, parts)


def delete_by_filter(request: Request, store: Store) -> Response:
    params.reject_empty(request, _DELETE_PARAMS)
    conversations = request.all("conversationId")
    _limit(len(conversations), MAX_PATH_IDS)
    kind = _delete_type(request)
    numbers = [params.digits(c) for c in conversations]
    if None in numbers:
        raise ApiFailure(invalid("conversationId"))
    convs = {n for n in numbers if n is not None} or None
    before = params.date(request, "dateTo")
    return _delete_matching(
        store, params.boolean(request, "purge"), kind=kind,
        before=store.now_ms() if before is None else before, conversations=convs,
    )  # fmt: skip


def _delete_matching(
    store: Store, purge: bool, *, kind: str, before: int, conversations: set[int] | None
) -> Response:
    with store.batch():
        code = _kind_code(kind)
        avail, ctime, kinds = store.cols.avail, store.cols.ctime, store.cols.kind
        targets = [
            s
            for s in store.all_slots()
            if avail[s] in (ALIVE, DELETED)
            and ctime[s] < before
            and (code is None or kinds[s] == code)
            and (conversations is None or store.conversation_of(s) in conversations)
        ]
        for slot in targets:
            store.delete_step(slot, purge=purge)
    return Response(204)
