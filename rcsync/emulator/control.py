"""The control API (``/_emulator/…``): test and demo hooks, not part of RingCentral's API.

JSON in and out; never rate limited, never faulted, not counted. As INTERFACE.md fixes:

- ``GET /_emulator/health`` → ``{"status": "ok", "messages": n}`` (n: the whole account)
- ``GET /_emulator/messages[?extension=ID]`` → ``{"records": [...]}`` every record of that
  extension, or of every extension when absent, all availabilities, newest first, as the
  API renders them (each carries its ``extensionId``)
- ``POST /_emulator/messages`` ``{"count": N}`` (new inbound arrivals, created now) or
  ``{"records": [...]}`` (kept as given; uris rewritten; attachments get content), to
  extension 101 or to ``"extension": ID`` → ``{"records": [created...]}``
- ``PATCH /_emulator/messages/{id}`` ``{"readStatus", "availability"}`` → the record,
  whichever extension holds it
- ``GET /_emulator/extensions`` → ``{"records": [{"id", "extensionNumber", "name", "type",
  "status"}]}``; ``POST /_emulator/extensions`` ``{"count": 1, "messages": n, "type":
  "User", "status": "Enabled"}`` (all optional; ``messages`` defaults to ``--messages``)
  → 201 ``{"records": [new...]}``; ``DELETE /_emulator/extensions/{id}`` deletes a user and
  their messages (not extension 101, the admin) → ``{"deleted": record, "messages": n}``
- ``GET`` / ``DELETE /_emulator/requests`` → counters / reset them
- ``PUT /_emulator/config`` ``{"rate_limits": bool | {"enabled", "window", "penalty",
  "limits": {"Light": 50, ...}}, "faults": {"error_rate", "reset_rate", "latency_ms"},
  "access_token_ttl": s, "invalid_sync_token_code": "MSG-333" | "CMN-101",
  "sync_frame": "dates" | "records", "isync_max_records": n | null, "permission_error_code":
  "CMN-408" | "CMN-404"}`` → the whole config
  (``GET`` returns it too; see `sync` for the sync readings, `app` for the permission code)
- ``POST /_emulator/expire-tokens`` / ``POST /_emulator/invalidate-sync-tokens``
- ``POST /_emulator/faults`` ``{"operation", "status", "body", "headers", "times"}`` or
  ``{"operation", "after_write": "reset" | "delay", "delay_ms", "times"}`` → 201 the rule
  (see `targeted`); ``GET /_emulator/faults`` → ``{"rules": [...]}`` (``times`` = what is
  left); ``DELETE /_emulator/faults`` → ``{"removed": n}``

Extensions:

- ``POST /_emulator/expire-refresh-tokens``: every refresh token issued so far expires
- ``PUT /_emulator/config`` ``{"retention_period": N}``: the account's message-store
  ``retentionPeriod`` (7..90 days; `store_config`), a setting only
- ``POST /_emulator/retention`` ``{"before": iso}``: physically drop messages created
  before that time (RingCentral's retention), → ``{"dropped": n}``
- ``POST /_emulator/clock`` ``{"advance": s}``: move a `FakeClock` forward (409 otherwise)
- ``POST /_emulator/message-store-report`` ``{"fate": "AttemptFailed" | "Failed" |
  "Cancelled" | "Completed", "times": 1}``: how the next export tasks end;
  ``GET /_emulator/message-store-report`` → ``{"tasks": [...], "forced": [...]}`` (`reports`)
- ``GET /_emulator/ws`` → ``{"connections": n, "subscriptions": [SubscriptionInfo +
  "connected", "missed", "ownerId"]}``; ``POST /_emulator/ws/drop`` cuts every WebSocket
  connection without a close frame (sessions stay recoverable) → ``{"dropped": n}``;
  ``PUT /_emulator/config`` ``{"websocket": {...}}`` sets the gateway's limits (`gateway`)
- ``GET /_emulator/rate-limit-log`` → ``{"events": [{"at", "key", "group", "outcome"}]}``
  every rate-limit decision since the last reconfiguration (outcome ``ok``, ``throttled``
  or ``penalty`` = sent during a running penalty)
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .account import Extension, ExtensionStatus, ExtensionType
from .clock import FakeClock
from .store import Store, StoreError
from .targeted import FaultSpecError
from .times import format_ms, parse_iso
from .wire import Request, Response, api_error, json_response, raw_json

if TYPE_CHECKING:
    from .app import Emulator

_MESSAGE = re.compile(r"^/_emulator/messages/(\d+)$")
_EXTENSION = re.compile(r"^/_emulator/extensions/(\d+)$")


def _bad(message: str) -> Response:
    return api_error(400, "EMU-400", message)


def handle_control(emu: Emulator, request: Request) -> Response:
    try:
        body: Any = json.loads(request.body) if request.body.strip() else {}
    except ValueError:
        return _bad("body is not JSON")
    try:
        return _dispatch(emu, request, body)
    except FaultSpecError as exc:
        return _bad(str(exc))
    except _UnknownExtension as exc:
        return api_error(404, "EMU-404", f"no extension {exc.args[0]}")
    except (KeyError, ValueError, TypeError, StoreError) as exc:
        return _bad(f"{type(exc).__name__}: {exc}")


def _dispatch(emu: Emulator, request: Request, body: Any) -> Response:
    method, path = request.method, request.path.rstrip("/")
    store = emu.store
    match (method, path):
        case ("GET", "/_emulator/health"):
            return json_response(200, {"status": "ok", "messages": emu.account.total_messages()})
        case ("GET", "/_emulator/messages"):
            return _list_messages(emu, request.one("extension"))
        case ("POST", "/_emulator/messages"):
            store = _extension(emu, body.get("extension")).store
            if "records" in body:
                return json_response(201, {"records": store.inject(body["records"])})
            return json_response(201, {"records": store.arrive(int(body.get("count", 1)))})
        case ("POST", "/_emulator/message-store-report"):
            return json_response(201, emu.reports.force(body))
        case ("GET", "/_emulator/message-store-report"):
            return json_response(200, emu.reports.describe())
        case ("GET", "/_emulator/extensions"):
            return json_response(200, {"records": [e.summary() for e in emu.account]})
        case ("POST", "/_emulator/extensions"):
            added = emu.add_extensions(
                int(body.get("count", 1)),
                None if body.get("messages") is None else int(body["messages"]),
                ExtensionType(body.get("type", "User")),
                ExtensionStatus(body.get("status", "Enabled")),
            )
            return json_response(201, {"records": [e.summary() for e in added]})
        case ("GET", "/_emulator/rate-limit-log"):
            events = [vars(e) for e in list(emu.limiter.events)]
            return json_response(200, {"events": events})
        case ("GET", "/_emulator/requests"):
            return json_response(200, emu.counters.snapshot())
        case ("DELETE", "/_emulator/requests"):
            emu.counters.reset()
            return json_response(200, emu.counters.snapshot())
        case ("PUT", "/_emulator/config"):
            return json_response(200, emu.configure(**body))
        case ("GET", "/_emulator/config"):
            return json_response(200, emu.config())
        case ("POST", "/_emulator/faults"):
            return json_response(201, emu.fault_rules.add(body).describe())
        case ("GET", "/_emulator/faults"):
            return json_response(200, {"rules": emu.fault_rules.describe()})
        case ("DELETE", "/_emulator/faults"):
            return json_response(200, {"removed": emu.fault_rules.clear()})
        case ("POST", "/_emulator/expire-tokens"):
            emu.auth.expire_all()
            return json_response(200, {"expired": "access"})
        case ("POST", "/_emulator/expire-refresh-tokens"):
            emu.auth.expire_refresh_all()
            return json_response(200, {"expired": "refresh"})
        case ("POST", "/_emulator/invalidate-sync-tokens"):
            emu.sync.invalidate()
            return json_response(200, {"generation": emu.sync.generation})
        case ("POST", "/_emulator/retention"):
            before = parse_iso(body["before"])
            dropped = sum(e.store.drop_before(before) for e in emu.account)
            return json_response(200, {"dropped": dropped})
        case ("GET", "/_emulator/ws"):
            return json_response(200, emu.gateway.snapshot())
        case ("POST", "/_emulator/ws/drop"):
            return json_response(200, {"dropped": emu.gateway.drop_all()})
        case ("POST", "/_emulator/clock"):
            if not isinstance(emu.clock, FakeClock):
                return api_error(409, "EMU-409", "the emulator runs on the system clock")
            now = emu.clock.advance(float(body.get("advance", 0)))
            return json_response(200, {"now": format_ms(int(now * 1000))})
    found = _MESSAGE.match(path)
    if found and method == "PATCH":
        return _remote_edit(emu, int(found.group(1)), body)
    found = _EXTENSION.match(path)
    if found and method == "DELETE":
        return _delete_extension(emu, int(found.group(1)))
    return api_error(404, "EMU-404", f"no control endpoint {method} {path}")


class _UnknownExtension(LookupError):
    pass


def _extension(emu: Emulator, raw: Any) -> Extension:
    """The extension a control call names by id (extension 101 when it names none)."""
    if raw is None:
        return emu.account.admin
    ext = emu.account.get(int(raw))
    if ext is None:
        raise _UnknownExtension(raw)
    return ext


def _newest_first(store: Store) -> Iterator[tuple[int, int, Store, int]]:
    cols = store.cols
    for slot in reversed(list(store.all_slots())):
        yield cols.ctime[slot], cols.ids[slot], store, slot


def _list_messages(emu: Emulator, raw: str | None) -> Response:
    stores = [e.store for e in emu.account] if raw is None else [_extension(emu, raw).store]
    with emu.store.lock:
        if len(stores) == 1:  # the common case, kept as cheap as it always was
            one = stores[0]
            rows = b",".join(one.record_bytes(s) for s in reversed(list(one.all_slots())))
        else:
            merged = heapq.merge(*(_newest_first(s) for s in stores), reverse=True)
            rows = b",".join(store.record_bytes(slot) for _, _, store, slot in merged)
    return raw_json(200, b'{"records":[' + rows + b"]}")


def _remote_edit(emu: Emulator, message_id: int, body: Any) -> Response:
    owner = emu.account.owner_of(message_id)
    if owner is None:
        return api_error(
            404, "CMN-102", "Resource for parameter [messageId] is not found", "messageId"
        )
    record = owner.store.remote_edit(
        message_id, read_status=body.get("readStatus"), availability=body.get("availability")
    )
    return json_response(200, record)


def _delete_extension(emu: Emulator, extension_id: int) -> Response:
    try:
        removed = emu.delete_extension(extension_id)
    except KeyError:
        raise _UnknownExtension(extension_id) from None
    return json_response(200, {"deleted": removed.summary(), "messages": len(removed.store)})
