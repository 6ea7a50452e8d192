"""The control API (``/_emulator/…``): test and demo hooks, not part of RingCentral's API.

JSON in and out; never rate limited, never faulted, not counted. As INTERFACE.md fixes:

- ``GET /_emulator/health`` → ``{"status": "ok", "messages": n}``
- ``GET /_emulator/messages`` → ``{"records": [...]}`` every record, all availabilities,
  newest first, as the API renders them
- ``POST /_emulator/messages`` ``{"count": N}`` (new inbound arrivals, created now) or
  ``{"records": [...]}`` (kept as given; uris rewritten; attachments get content) →
  ``{"records": [created...]}``
- ``PATCH /_emulator/messages/{id}`` ``{"readStatus", "availability"}`` → the record
- ``GET`` / ``DELETE /_emulator/requests`` → counters / reset them
- ``PUT /_emulator/config`` ``{"rate_limits": bool | {"enabled", "window", "penalty",
  "limits": {"Light": 50, ...}}, "faults": {"error_rate", "reset_rate", "latency_ms"},
  "access_token_ttl": s, "invalid_sync_token_code": "MSG-333" | "CMN-101",
  "sync_frame": "dates" | "records", "isync_max_records": n | null}`` → the whole config
  (``GET`` returns it too; see `sync` for the last three)
- ``POST /_emulator/expire-tokens`` / ``POST /_emulator/invalidate-sync-tokens``
- ``POST /_emulator/faults`` ``{"operation", "status", "body", "headers", "times"}`` or
  ``{"operation", "after_write": "reset" | "delay", "delay_ms", "times"}`` → 201 the rule
  (see `targeted`); ``GET /_emulator/faults`` → ``{"rules": [...]}`` (``times`` = what is
  left); ``DELETE /_emulator/faults`` → ``{"removed": n}``

Extensions:

- ``POST /_emulator/expire-refresh-tokens``: every refresh token issued so far expires
- ``POST /_emulator/retention`` ``{"before": iso}``: physically drop messages created
  before that time (RingCentral's retention), → ``{"dropped": n}``
- ``POST /_emulator/clock`` ``{"advance": s}``: move a `FakeClock` forward (409 otherwise)
- ``GET /_emulator/ws`` → ``{"connections": n, "subscriptions": [SubscriptionInfo +
  "connected", "missed", "ownerId"]}``; ``POST /_emulator/ws/drop`` cuts every WebSocket
  connection without a close frame (sessions stay recoverable) → ``{"dropped": n}``;
  ``PUT /_emulator/config`` ``{"websocket": {...}}`` sets the gateway's limits (`gateway`)
- ``GET /_emulator/rate-limit-log`` → ``{"events": [{"at", "key", "group", "outcome"}]}``
  every rate-limit decision since the last reconfiguration (outcome ``ok``, ``throttled``
  or ``penalty`` = sent during a running penalty)
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .clock import FakeClock
from .store import StoreError
from .targeted import FaultSpecError
from .times import format_ms, parse_iso
from .wire import Request, Response, api_error, json_response, raw_json

if TYPE_CHECKING:
    from .app import Emulator

_MESSAGE = re.compile(r"^/_emulator/messages/(\d+)$")


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
    except (KeyError, ValueError, TypeError, StoreError) as exc:
        return _bad(f"{type(exc).__name__}: {exc}")


def _dispatch(emu: Emulator, request: Request, body: Any) -> Response:
    method, path = request.method, request.path.rstrip("/")
    store = emu.store
    match (method, path):
        case ("GET", "/_emulator/health"):
            return json_response(200, {"status": "ok", "messages": len(store)})
        case ("GET", "/_emulator/messages"):
            with store.lock:
                rows = b",".join(store.record_bytes(s) for s in reversed(list(store.all_slots())))
            return raw_json(200, b'{"records":[' + rows + b"]}")
        case ("POST", "/_emulator/messages"):
            if "records" in body:
                return json_response(201, {"records": store.inject(body["records"])})
            return json_response(201, {"records": store.arrive(int(body.get("count", 1)))})
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
            return json_response(200, {"dropped": store.drop_before(parse_iso(body["before"]))})
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
        try:
            record = store.remote_edit(
                int(found.group(1)),
                read_status=body.get("readStatus"),
                availability=body.get("availability"),
            )
        except KeyError:
            return api_error(
                404, "CMN-102", "Resource for parameter [messageId] is not found", "messageId"
            )
        return json_response(200, record)
    return api_error(404, "EMU-404", f"no control endpoint {method} {path}")
