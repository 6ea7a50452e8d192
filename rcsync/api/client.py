"""Typed calls to RingCentral's message store over an injected ``httpx.Client``.

Every call goes through `ApiSession.request` (rate-limit budget, retries, error mapping).
Records are returned as received: raw JSON dicts with exact 64-bit ids.

Bulk rules (API-NOTES §2.2-2.5): ids travel comma-separated in the path, at most 50 per request;
read-status updates may instead use the ``*`` path with the ids in the body, at most 1000 per
request. Each element of a bulk body carries its own ``body``, so Read and Unread changes share
requests: 1,000 edits cost at most 20 requests with ids in the path, 1 with ``*``.

Safety: a DELETE is only ever built from a non-empty list of integer ids in the path. The
``*``-without-body and the by-filter forms (``DELETE …/message-store``) delete *everything*
and cannot be produced by this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

import httpx

from rcsync.api import export
from rcsync.api.auth import RingCentralAuth
from rcsync.api.content import download
from rcsync.api.errors import describe, malformed, response_json
from rcsync.api.multipart import (
    MULTIPART_JSON,
    Part,
    item_from,
    parse_parts,
    results_from_parts,
)
from rcsync.api.ratelimit import Group, RateBudget
from rcsync.api.results import ItemResult, MessagePage, Record, SyncResult
from rcsync.api.session import ApiSession, Operation
from rcsync.api.stream import RecordStream
from rcsync.errors import AmbiguousWriteError, ApiError, NetworkError, SyncTokenInvalid
from rcsync.types import PATH_BATCH, READ_BATCH, Availability, ReadStatus, iso_utc

LIST = Operation("listMessages", Group.LIGHT)
READ = Operation("readMessage", Group.LIGHT)
SYNC = Operation("syncMessages", Group.LIGHT)
UPDATE = Operation("updateMessage", Group.MEDIUM)
PATCH = Operation("patchMessage", Group.MEDIUM)
TRASH = Operation("deleteMessage", Group.MEDIUM, idempotent=False)  # 2nd DELETE purges
PURGE = Operation("deleteMessage", Group.MEDIUM)
EXTENSION = Operation("readExtension", Group.LIGHT)
STORE_CONFIGURATION = Operation("readMessageStoreConfiguration", Group.LIGHT)
EXTENSIONS = Operation("listExtensions", Group.MEDIUM)
# listExtensions' largest page: one request lists an account of up to 1,000 extensions.
EXTENSIONS_PER_PAGE = 1000
MAX_EXTENSION_PAGES = 1000

# Statuses that concern the message itself rather than the call (one id per request).
_ITEM_STATUSES = frozenset({400, 404, 409, 410, 422})
# Answers to a bulk PATCH meaning "this server does not do bulk PATCH": fall back to one by one.
_NO_BULK = frozenset({404, 405, 501})
# RingCentral's "not found" code; which resource it is about is in the error's parameter.
NOT_FOUND_CODE = "CMN-102"
MESSAGE_PARAMETER = "messageId"
_PARAMETER_IN_TEXT = re.compile(r"parameter \[(\w+)\]")


def iso(value: str | datetime) -> str:
    """ISO 8601 with ``Z``; strings are passed through (the caller owns their format)."""
    if isinstance(value, str):
        return value
    return iso_utc(value)


def ids_path(ids: Sequence[int]) -> str:
    """``1,2,3`` for the path; refuses anything that could widen a bulk call to everything."""
    if not ids:
        raise ValueError("refusing a bulk call without message ids")
    for i in ids:
        if type(i) is not int or i <= 0:
            raise ValueError(f"message ids must be positive integers, got {i!r}")
    return ",".join(str(i) for i in ids)


def chunks(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


class MessageStoreClient:
    """RingCentral message-store operations for one extension (``~`` = the logged-in one)."""

    def __init__(
        self,
        session: ApiSession,
        *,
        account: str = "~",
        extension: str = "~",
        star_bulk: bool = True,
        bulk_patch: bool = True,
    ):
        self.session = session
        self.account_base = f"/restapi/v1.0/account/{account}"
        self.base = f"{self.account_base}/extension/{extension}"
        self.account = account
        self.extension = extension
        self.store = f"{self.base}/message-store"
        #: Use `PUT …/message-store/*` (ids in the body) when it saves requests.
        self.star_bulk = star_bulk
        #: Restore several ids per PATCH; turned off by itself if the server refuses.
        self.bulk_patch = bulk_patch

    def for_extension(self, extension_id: str) -> MessageStoreClient:
        """The same login, session and rate budget on another extension's paths (an admin
        reads every extension's store with its own token: RingCentral counts one budget)."""
        return MessageStoreClient(
            self.session,
            account=self.account,
            extension=extension_id,
            star_bulk=self.star_bulk,
            bulk_patch=self.bulk_patch,
        )

    @property
    def budget(self) -> RateBudget:
        """Per-group counters (requests, 429s, seconds waited) for progress/status output."""
        return self.session.budget

    def token_owner(self) -> str | None:
        """The extension id the login's token belongs to, without a request (None: no
        token yet). An account pull compares it with the login it read before."""
        auth = self.session.http.auth
        return auth.owner_id() if isinstance(auth, RingCentralAuth) else None

    def close(self) -> None:
        self.session.http.close()

    def __enter__(self) -> MessageStoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------

    def list_messages(
        self,
        *,
        date_from: str | datetime,
        date_to: str | datetime,
        message_types: Sequence[str],
        availability: Sequence[str] = (Availability.ALIVE, Availability.DELETED),
        page: int = 1,
        per_page: int = 1000,
    ) -> MessagePage:
        params: list[tuple[str, str | int]] = [
            ("dateFrom", iso(date_from)),
            ("dateTo", iso(date_to)),
        ]
        params += [("messageType", t) for t in message_types]
        params += [("availability", a) for a in availability]
        params += [("page", page), ("perPage", per_page)]
        data = self._get_json(LIST, self.store, params)
        records = _records(LIST, data)
        paging = _object(data, "paging")
        navigation = _object(data, "navigation")
        has_next = isinstance(navigation.get("nextPage"), dict)
        if not navigation and isinstance(paging.get("totalPages"), int):
            current = paging.get("page", page)
            has_next = isinstance(current, int) and current < paging["totalPages"]
        return MessagePage(records, has_next, paging)

    def full_sync(
        self,
        *,
        date_from: str | datetime,
        message_types: Sequence[str],
        record_count: int | None = None,
        date_to: str | datetime | None = None,
    ) -> SyncResult:
        return self._sync(_fsync_params(date_from, message_types, record_count, date_to))

    @contextlib.contextmanager
    def stream_full_sync(
        self,
        *,
        date_from: str | datetime,
        message_types: Sequence[str],
        batch: int = 1000,
        record_count: int | None = None,
        date_to: str | datetime | None = None,
    ) -> Iterator[SyncStream]:
        """`full_sync` read while it arrives: ``stream.batches()`` yields its records
        `batch` at a time, then ``stream.result`` holds the token (``records`` empty).

        For an FSync of the whole history, whose one answer holds every Alive record:
        memory stays at one batch (`rcsync.api.stream`). The request is retried like any
        other until its headers arrive; a connection lost in the body raises `NetworkError`
        (the records already handed out were whole, and saving them again is harmless).
        """
        params = _fsync_params(date_from, message_types, record_count, date_to)
        url, query = f"{self.base}/message-sync", httpx.QueryParams(tuple(params))
        with self.session.stream(SYNC, url, ok=(200,), params=query) as r:
            yield SyncStream(r, batch)

    def incremental_sync(self, sync_token: str, *, date_from: str | None = None) -> SyncResult:
        """Changes since `sync_token`; raises `SyncTokenInvalid` when a FSync is due.

        RingCentral rejects a stale token with ``MSG-333``, and (what its own MessageStore
        client also expects) with a 400 ``CMN-101`` "Parameter [syncToken] is invalid": any
        400 naming the token means the same. `date_from` widens the token's frame (docs).
        """
        params: list[tuple[str, str | int]] = [("syncType", "ISync"), ("syncToken", sync_token)]
        if date_from is not None:
            params.append(("dateFrom", date_from))
        try:
            return self._sync(params)
        except SyncTokenInvalid:
            raise
        except ApiError as exc:
            if exc.status == 400 and "synctoken" in str(exc).lower():
                raise SyncTokenInvalid(
                    f"{exc} (a full resync is needed)", status=exc.status, code=exc.code
                ) from None
            raise

    def get_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]:
        """Records by id, 50 per request; a missing message is an ItemResult with ok=False."""
        out: dict[int, ItemResult] = {}
        for chunk in chunks(ids, PATH_BATCH):
            response = self.session.request(
                READ,
                "GET",
                f"{self.store}/{ids_path(chunk)}",
                headers=_accept(chunk),
                ok=self._ok(chunk, 200, 207),
            )
            out.update(self._results(READ, chunk, response))
        return out

    def read_extension(self) -> dict[str, Any]:
        data = self._get_json(EXTENSION, self.base, [])
        return data

    def read_store_configuration(self) -> dict[str, Any]:
        """The account's ``MessageStoreConfiguration`` (``retentionPeriod``); admin only."""
        return self._get_json(
            STORE_CONFIGURATION, f"{self.account_base}/message-store-configuration", []
        )

    def list_extensions(self) -> list[Record]:
        """Every extension of the account (`listExtensions`, Medium), all pages."""
        url = f"/restapi/v1.0/account/{self.account}/extension"
        out: list[Record] = []
        for page in range(1, MAX_EXTENSION_PAGES + 1):
            params: list[tuple[str, str | int]] = [
                ("page", page),
                ("perPage", EXTENSIONS_PER_PAGE),
            ]
            data = self._get_json(EXTENSIONS, url, params)
            records = _records(EXTENSIONS, data)
            out += records
            navigation = _object(data, "navigation")
            if not isinstance(navigation.get("nextPage"), dict) or not records:
                return out
        raise malformed(EXTENSIONS.name, f"more than {MAX_EXTENSION_PAGES} pages")

    def download_content(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int:
        """Stream an attachment into `dest` (see `rcsync.api.content.download`)."""
        return download(self.session, uri, dest, offset=offset)

    # --- the account's message-store export (admin only; `rcsync.api.export`) -----------

    def create_export(
        self, *, date_from: str, date_to: str, message_types: Sequence[str] = ()
    ) -> export.ExportTask:
        return export.create_task(
            self.session,
            self.account,
            date_from=date_from,
            date_to=date_to,
            message_types=message_types,
        )

    def read_export(self, task_id: str) -> export.ExportTask:
        return export.read_task(self.session, self.account, task_id)

    def export_archives(self, task_id: str) -> list[export.ArchiveInfo]:
        return export.list_archives(self.session, self.account, task_id)

    def download_archive(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int:
        return export.download_archive(self.session, uri, dest, offset=offset)

    def pause(self, seconds: float, detail: str) -> None:
        """Wait between polls of a server-side job (`ApiSession.pause`)."""
        self.session.pause(seconds, detail)

    # --- writing ---------------------------------------------------------------------

    def set_read_status(
        self, changes: Mapping[int, str], *, ids_in_path: bool | None = None
    ) -> dict[int, ItemResult]:
        """Set readStatus per id. `ids_in_path=True` forbids the `*` form."""
        for message_id, value in changes.items():
            ids_path([message_id])
            if value not in tuple(ReadStatus):
                raise ValueError(f"readStatus must be Read or Unread, got {value!r}")
        ids = list(changes)
        star = self.star_bulk if ids_in_path is None else not ids_in_path
        out: dict[int, ItemResult] = {}
        if star and len(ids) > PATH_BATCH:
            for chunk in chunks(ids, READ_BATCH):
                body = _bulk_body({i: {"readStatus": changes[i]} for i in chunk})
                response = self.session.request(
                    UPDATE,
                    "PUT",
                    f"{self.store}/*",
                    content=body,
                    headers={"Content-Type": MULTIPART_JSON, "Accept": MULTIPART_JSON},
                    ok=(200, 207),
                )
                out.update(self._results(UPDATE, chunk, response))
            return out
        for chunk in chunks(ids, PATH_BATCH):
            out.update(
                self._write(UPDATE, "PUT", chunk, {i: {"readStatus": changes[i]} for i in chunk})
            )
        return out

    def delete_messages(self, ids: Sequence[int], *, purge: bool) -> dict[int, ItemResult]:
        """Trash (``purge=False``) or purge messages, ids in the path, 50 per request.

        A trash DELETE whose outcome is unknown raises `AmbiguousWriteError` (never resent):
        its `.completed` holds the results of the chunks done before, later chunks are not sent.
        """
        ids_path(ids)  # validate everything before the first request leaves
        op = PURGE if purge else TRASH
        params = {"purge": "true"} if purge else None
        out: dict[int, ItemResult] = {}
        for chunk in chunks(ids, PATH_BATCH):
            try:
                response = self.session.request(
                    op,
                    "DELETE",
                    f"{self.store}/{ids_path(chunk)}",
                    params=params,
                    headers=_accept(chunk),
                    ok=self._ok(chunk, 200, 204, 207),
                    ids=chunk,
                )
            except AmbiguousWriteError as exc:
                raise AmbiguousWriteError(
                    str(exc), ids=chunk, completed=out, status=exc.status, code=exc.code
                ) from None
            out.update(self._results(op, chunk, response))
        return out

    def restore_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]:
        """PATCH availability=Alive (Deleted -> Alive), bulk when the server allows it."""
        ids_path(ids)
        out: dict[int, ItemResult] = {}
        alive: dict[str, str] = {"availability": Availability.ALIVE}
        for chunk in chunks(ids, PATH_BATCH):
            if len(chunk) > 1 and self.bulk_patch:
                try:
                    out.update(self._write(PATCH, "PATCH", chunk, dict.fromkeys(chunk, alive)))
                    continue
                except ApiError as exc:
                    if exc.status not in _NO_BULK and exc.code != "CMN-202":
                        raise
                    self.bulk_patch = False  # this server does not do bulk PATCH
            for message_id in chunk:
                out.update(self._write(PATCH, "PATCH", [message_id], {message_id: alive}))
        return out

    # --- helpers ---------------------------------------------------------------------

    def _write(
        self, op: Operation, method: str, chunk: list[int], bodies: Mapping[int, dict[str, str]]
    ) -> dict[int, ItemResult]:
        if len(chunk) == 1:
            content = json.dumps(bodies[chunk[0]]).encode()
            headers = {"Content-Type": "application/json"}
        else:
            content = _bulk_body(bodies)
            headers = {"Content-Type": MULTIPART_JSON}
        headers.update(_accept(chunk))
        if op is PATCH and len(chunk) > 1:
            ok = self._ok(chunk, 200, 207) - _NO_BULK  # let the caller fall back
        elif op is PATCH:
            # One id and no PATCH on this server (405): that message's restore failed; the
            # others of the batch are still tried, each with its own result.
            ok = self._ok(chunk, 200, 204, 207) | {405}
        else:
            ok = self._ok(chunk, 200, 204, 207)
        response = self.session.request(
            op,
            method,
            f"{self.store}/{ids_path(chunk)}",
            content=content,
            headers=headers,
            ok=ok,
            ids=chunk,
        )
        return self._results(op, chunk, response)

    @staticmethod
    def _ok(chunk: Sequence[int], *statuses: int) -> frozenset[int]:
        # One id: a 4xx is about that message (an ItemResult). Several: only 404 is.
        extra = _ITEM_STATUSES if len(chunk) == 1 else frozenset({404})
        return frozenset(statuses) | extra

    @staticmethod
    def _results(
        op: Operation, chunk: list[int], response: httpx.Response
    ) -> dict[int, ItemResult]:
        status = response.status_code
        if status == 204:
            return {i: ItemResult(i, True, 204) for i in chunk}
        if status == 207:
            return _part_results(chunk, parse_parts(response, op.name))
        if status >= 400:
            text, code = describe(op.name, response)
            gone = op is READ and len(chunk) == 1 and _names_missing_message(response)
            return {i: ItemResult(i, False, status, None, code, text, gone) for i in chunk}
        body = ApiSession.json(op, response)
        if isinstance(body, list):
            return _part_results(chunk, parse_parts(response, op.name))
        if len(chunk) == 1 and isinstance(body, dict):
            return {chunk[0]: item_from(chunk[0], status, body)}
        raise malformed(op.name, f"HTTP {status} answer to a bulk call is not a list of parts")

    def _get_json(
        self, op: Operation, url: str, params: list[tuple[str, str | int]]
    ) -> dict[str, Any]:
        response = self.session.request(op, "GET", url, params=params)
        data = ApiSession.json(op, response)
        if not isinstance(data, dict):
            raise malformed(op.name, "expected a JSON object")
        return data

    def _sync(self, params: list[tuple[str, str | int]]) -> SyncResult:
        data = self._get_json(SYNC, f"{self.base}/message-sync", params)
        return _sync_result(_records(SYNC, data), data)


class SyncStream:
    """One streamed message-sync answer (see `MessageStoreClient.stream_full_sync`)."""

    def __init__(self, response: httpx.Response, batch: int) -> None:
        self._response = response
        self._batch = batch
        #: The answer's token and flags, once `batches` is exhausted (``records`` empty).
        self.result: SyncResult | None = None

    def batches(self) -> Iterator[list[Record]]:
        for batch in self.batches_with_text():
            yield [record for record, _text in batch]

    def batches_with_text(self) -> Iterator[list[tuple[Record, str]]]:
        """`batches`, each record with its JSON text as received (`RecordStream`)."""
        parser = RecordStream(self._response.iter_bytes(), operation=SYNC.name)
        batch: list[tuple[Record, str]] = []
        try:
            for record, text in parser.records_with_text():
                batch.append((_checked(SYNC, record), text))
                if len(batch) >= self._batch:
                    yield batch
                    batch = []
        except httpx.DecodingError:
            raise malformed(SYNC.name, "the body cannot be decoded") from None
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{SYNC.name}: connection lost while the answer arrived "
                f"({exc.__class__.__name__}); pull again to start it over"
            ) from None
        if not parser.found:
            raise malformed(SYNC.name, "missing or invalid 'records'")
        if batch:
            yield batch
        self.result = _sync_result([], parser.rest)


def _fsync_params(
    date_from: str | datetime,
    message_types: Sequence[str],
    record_count: int | None,
    date_to: str | datetime | None,
) -> list[tuple[str, str | int]]:
    params: list[tuple[str, str | int]] = [("syncType", "FSync"), ("dateFrom", iso(date_from))]
    if date_to is not None:
        params.append(("dateTo", iso(date_to)))
    params += [("messageType", t) for t in message_types]
    if record_count is not None:
        params.append(("recordCount", record_count))
    return params


def _sync_result(records: list[Record], data: Mapping[str, Any]) -> SyncResult:
    info = data.get("syncInfo")
    if not isinstance(info, dict) or not isinstance(info.get("syncToken"), str):
        raise malformed(SYNC.name, "missing syncInfo.syncToken")
    sync_time = info.get("syncTime")
    return SyncResult(
        records=records,
        sync_token=info["syncToken"],
        sync_time=sync_time if isinstance(sync_time, str) else None,
        older_records_exist=info.get("olderRecordsExist") is True,
        sync_type=str(info.get("syncType", "")),
    )


def _part_results(chunk: list[int], parts: list[Part]) -> dict[int, ItemResult]:
    """Per-id results of a multi-status answer; a 404 part is `gone` only if it names its id
    (a part matched to an id by position alone is no evidence about that message)."""
    named = {p.resource_id for p in parts if p.resource_id is not None}
    results = results_from_parts(chunk, parts)
    return {
        i: dataclasses.replace(r, gone=True) if r.status == 404 and i in named else r
        for i, r in results.items()
    }


def _names_missing_message(response: httpx.Response) -> bool:
    """A 404 whose body says the message is not found: ``CMN-102`` about ``messageId``.

    The same code also answers an unknown path or extension ("Resource for parameter
    [path] is not found"): those are failed requests, not purged messages.
    """
    if response.status_code != 404:
        return False
    body = response_json(response)
    if not isinstance(body, dict):
        return False
    errors = body.get("errors")
    entries = (
        [body, *(e for e in errors if isinstance(e, dict))] if isinstance(errors, list) else [body]
    )
    codes = {e.get("errorCode") for e in entries} - {None}
    if codes != {NOT_FOUND_CODE}:
        return False
    named = {e.get("parameterName") for e in entries} - {None}
    for e in entries:
        named |= set(_PARAMETER_IN_TEXT.findall(str(e.get("message", ""))))
    return named <= {MESSAGE_PARAMETER}


def _records(op: Operation, data: dict[str, Any]) -> list[Record]:
    """The records, each with a usable id: one that cannot be mirrored rejects the answer."""
    records = data.get("records")
    if not isinstance(records, list):
        raise malformed(op.name, "missing or invalid 'records'")
    return [_checked(op, r) for r in records]


def _checked(op: Operation, record: Any) -> Record:
    if not isinstance(record, dict):
        raise malformed(op.name, "missing or invalid 'records'")
    if not _is_id(record.get("id")):
        raise malformed(op.name, "a record has no valid 'id'")
    return record


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return isinstance(value, int) and 0 < value < 2**63  # SQLite INTEGER


def _accept(chunk: Sequence[int]) -> dict[str, str]:
    # Bulk answers (207) come as a JSON array with this Accept, multipart/mixed without it.
    # A single id gets a plain JSON answer; ask for exactly that.
    return {"Accept": MULTIPART_JSON if len(chunk) > 1 else "application/json"}


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _bulk_body(bodies: Mapping[int, dict[str, str]]) -> bytes:
    """The JSON multipart body: one ``{"resourceId", "body"}`` per id (ids as strings)."""
    return json.dumps([{"resourceId": str(i), "body": b} for i, b in bodies.items()]).encode()


def requests_needed(n: int, *, star: bool) -> int:
    """How many write requests `set_read_status` makes for `n` changes."""
    if star and n > PATH_BATCH:
        return math.ceil(n / READ_BATCH)
    return math.ceil(n / PATH_BATCH)
