"""Read operations: listMessages, readMessage (single and bulk), syncMessages.

List semantics (documented choices where RingCentral is silent):
- ``dateFrom`` is inclusive, ``dateTo`` exclusive (creationTime in [dateFrom, dateTo)).
- Without ``availability`` only Alive messages are listed, as RingCentral's older SDK docs
  say ("Default value is 'Alive'"); pass ``availability=Deleted`` etc. to see the trash.
- Newest first: creationTime descending, then id descending.
- ``perPage`` defaults to 100, is capped at 1000 and must not be negative; ``perPage=0`` is
  an empty result set (no records, no page links; paging keeps ``perPage`` and
  ``totalElements``, the spec's MessagingPagingInfo omits ``page`` for it). ``page`` must be
  ≥ 1 ("Only positive number values are accepted"), ``page=0`` included.
- ``navigation`` holds absolute URIs for firstPage/previousPage/nextPage/lastPage, only
  those that exist; ``paging`` has zero-based pageStart/pageEnd (omitted on an empty page).
- ``distinctConversations`` keeps the newest message per conversation (others unaffected);
  syncMessages validates it the same way and applies it to FSync's record set. ISync is a
  change feed and ignores it: a change to an older message of a conversation must still
  reach the client.
- Ids in the path are ASCII digits (`params.digits`); anything else is not found.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from urllib.parse import urlencode

from . import params
from .bulk import Part, multi_status
from .store import Query, Store
from .sync import SyncService, SyncTokenError
from .wire import ApiFailure, Request, Response, api_error, invalid, not_found, raw_json

MAX_PER_PAGE = 1000
MAX_BULK_GET = 50


def list_query(request: Request, store: Store) -> Query:
    date_from, date_to = params.date_range(request, store.now_ms())
    avails = params.availabilities(request)
    return Query(
        date_from=date_from,
        date_to=date_to,
        kinds=params.kinds(request),
        directions=params.directions(request),
        reads=params.reads(request),
        avails=frozenset({0}) if avails is None else avails,
        conversation=params.integer(request, "conversationId", low=0, high=params.INT64_MAX),
    )


def list_messages(request: Request, store: Store) -> Response:
    query = list_query(request, store)
    page = params.integer(request, "page", 1, low=1)
    per_page = params.integer(request, "perPage", 100, low=0)
    assert page is not None and per_page is not None  # both have defaults
    per_page = min(MAX_PER_PAGE, per_page)
    distinct = params.boolean(request, "distinctConversations")
    if per_page == 0:
        return _empty_page(request, store, query, distinct)
    with store.lock:
        slots = store.select(query)
        if distinct:
            slots = _distinct(store, slots)
        total = len(slots)
        start = (page - 1) * per_page
        top = total - start
        chosen = (
            [slots[i] for i in range(top - 1, max(top - per_page, 0) - 1, -1)] if top > 0 else []
        )
        records = b",".join(store.record_bytes(s) for s in chosen)
    self_uri, links = params.page_links(
        request, store.renderer.store_uri, page, per_page, total, len(chosen)
    )
    head = json.dumps(self_uri).encode()
    tail = json.dumps(links, separators=(",", ":")).encode()
    return raw_json(200, b'{"uri":' + head + b',"records":[' + records + b"]," + tail[1:])


def _empty_page(request: Request, store: Store, query: Query, distinct: bool) -> Response:
    """``perPage=0``: how many match, and nothing else (there are no pages to link)."""
    with store.lock:
        slots = store.select(query)
        total = len(_distinct(store, slots) if distinct else slots)
    query_string = urlencode(request.query, safe=":,")
    body = {
        "uri": f"{store.renderer.store_uri}?{query_string}",
        "records": [],
        "paging": {"perPage": 0, "totalElements": total},
        "navigation": {},
    }
    return raw_json(200, json.dumps(body, separators=(",", ":")).encode())


def sync_frame(request: Request, store: Store) -> Query:
    """The FSync frame: an absent dateTo leaves it open so later arrivals belong to it."""
    date_to = params.date(request, "dateTo")
    date_from = params.date(request, "dateFrom")
    if date_from is None:
        date_from = (store.now_ms() if date_to is None else date_to) - params.DAY_MS
    return Query(
        date_from=date_from,
        date_to=date_to,
        kinds=params.kinds(request),
        directions=params.directions(request),
        conversation=params.integer(request, "conversationId", low=0, high=params.INT64_MAX),
    )


def _distinct(store: Store, slots: Sequence[int]) -> array[int]:
    seen: set[int] = set()
    keep: list[int] = []
    for slot in reversed(slots):
        conv = store.conversation_of(slot)
        if conv is None or conv not in seen:
            keep.append(slot)
            if conv is not None:
                seen.add(conv)
    keep.reverse()
    return array("i", keep)


def parse_ids(raw: str) -> list[str]:
    ids = [part for part in raw.split(",") if part]
    if not ids:
        raise ApiFailure(not_found("messageId"))  # "," names no message at all
    return ids


def slot_for(store: Store, resource_id: str) -> int | None:
    message_id = params.digits(resource_id)
    return None if message_id is None else store.slot_of(message_id)


def part_href(store: Store, resource_id: str) -> str:
    """The href a bulk answer's part names: the message's URI, or the id as given."""
    message_id = params.digits(resource_id)
    return resource_id if message_id is None else store.renderer.message_uri(message_id)


def read_message(request: Request, store: Store, raw_ids: str) -> Response:
    ids = parse_ids(raw_ids)
    if len(ids) > MAX_BULK_GET:
        raise ApiFailure(
            api_error(400, "CMN-106", f"Batch request is limited to {MAX_BULK_GET} entries")
        )
    with store.lock:
        if len(ids) == 1:
            slot = slot_for(store, ids[0])
            if slot is None:
                return not_found("messageId")
            record = json.loads(store.record_bytes(slot))
            # The spec makes vmSideRecipients required with minItems 1, so an empty list would
            # not conform: list the message's own recipients.
            record["vmSideRecipients"] = record.get("to") or [{"name": ""}]
            return raw_json(200, json.dumps(record, ensure_ascii=False).encode())
        parts = []
        for resource_id in ids:
            slot = slot_for(store, resource_id)
            href = part_href(store, resource_id)
            if slot is None:
                parts.append(Part(resource_id, 404, not_found("messageId").body, href))
            else:
                parts.append(Part(resource_id, 200, store.record_bytes(slot), href))
    return multi_status(request, parts)


def sync_messages(request: Request, store: Store, sync: SyncService) -> Response:
    sync_type = request.one("syncType") or "FSync"
    distinct = params.boolean(request, "distinctConversations")
    try:
        if sync_type == "ISync":
            token = request.one("syncToken")
            if not token:
                raise SyncTokenError("missing")
            result = sync.incremental(token, params.date(request, "dateFrom"))
        elif sync_type == "FSync":
            frame = sync_frame(request, store)
            count = params.integer(request, "recordCount", low=0)
            keep = (lambda slots: _distinct(store, slots)) if distinct else None
            result = sync.full(frame, count, keep)
        else:
            raise ApiFailure(invalid("syncType"))
    except SyncTokenError:
        return sync.token_error()
    return raw_json(200, result.body())
