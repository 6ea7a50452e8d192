"""RingCentral's WebSocket Gateway (WSG) protocol as data: frames, limits, event filters, bodies.

No I/O here; `gateway` runs connections and sessions on top of it. Sources: the public guide
(``docs/notifications/websockets/*``, ``code-samples/websockets/*.json``), the SDKs' clients
and a live answer posted in ringcentral/ringcentral-python#92 (see ACCOUNT-PUSH-EXPORT.md §2).

Every frame is a JSON array ``[meta, body]`` (``[meta]`` when there is no body); ``meta.type``
is a `FrameType`. Server frames carry ``headers`` (the official Python SDK reads
``meta["headers"]`` on every ``ClientRequest`` answer and fails without it) and ``wsc
{token, sequence}``, the session's recovery token, whose ``sequence`` grows with every frame.

Choices where no public source is precise (documented so a client does not rely on them):
``status`` of an ``Error`` frame is 408 for the two timeouts; ``newMessageIds`` is always
present (empty for updates only); ``accountId``/``extensionId`` of a message event are numbers
as in the WebSocket sample (the older webhook sample has strings); an extension-list event
has the spec's single-extension body ``{extensionId, eventType, ownerId}``.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from .store import StoreEvent
from .times import format_ms
from .wire import error_body

SUBSCRIPTION_PATH = "/restapi/v1.0/subscription"
# RingCentral answers a WebSocket subscription with expiresIn 86399 ("renewed automatically").
SUBSCRIPTION_LIFETIME = 86_399
MESSAGE_TYPES = ("Fax", "SMS", "VoiceMail", "Pager")
DIRECTIONS = ("Inbound", "Outbound")


class FrameType(StrEnum):
    CLIENT_REQUEST = "ClientRequest"
    SERVER_NOTIFICATION = "ServerNotification"
    ERROR = "Error"
    CONNECTION_DETAILS = "ConnectionDetails"
    HEARTBEAT = "Heartbeat"


class RecoveryState(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


class FilterKind(StrEnum):
    MESSAGE_STORE = "message-store"
    EXTENSION_LIST = "extension-list"


class WsgError(StrEnum):
    IDLE_TIMEOUT = "WSG-902"
    ABSOLUTE_TIMEOUT = "WSG-903"
    # Recovery failures seen live (tylerlong/rc-ws-recover-test): another OAuth session, and a
    # session that never had a subscription.
    OTHER_OAUTH_SESSION = "WSG-1003"
    NO_SUBSCRIPTION = "WSG-1005"


# Close code RingCentral's gateway uses when the socket carries no valid authorization
# (ringclaw/openclaw-ringcentral#150: "close code 4400").
CLOSE_UNAUTHORIZED = 4400


#: Codes `Limits.unknown_user_code` may take.
UNKNOWN_USER_CODES = frozenset({"SUB-408", "SUB-405"})


@dataclass
class Limits:
    """What ConnectionDetails announces and the gateway enforces; ``PUT /_emulator/config``
    ``{"websocket": {...}}`` changes them (seconds may be fractional so tests run fast)."""

    recovery_buffer_size: int = 100
    recovery_timeout: float = 180
    idle_timeout: float = 1800
    absolute_timeout: float = 86_400
    max_connections_per_session: int = 50
    max_active_requests: int = 10
    # Server ping frames; a pong must come back within pong_timeout ("within 10 seconds").
    ping_interval: float = 30
    pong_timeout: float = 10
    # The guide's sample: expires_in 30, "good for a single use only".
    token_ttl: float = 30
    token_single_use: bool = True
    # The app's WebSocket permission ([SPEC] x-app-permission: WebSocket); false → CMN-401.
    permission: bool = True
    # The 403 for a filter naming a user the account no longer has: RingCentral documents
    # no code for it. SUB-408 (default) is the emulator's own; SUB-405 is the documented
    # "Not allowed subscribe for messages to other extensions", the harsher reading (a
    # client cannot tell it from a real permission refusal by its code).
    unknown_user_code: str = "SUB-408"

    def configure(self, values: dict[str, Any]) -> None:
        """Apply `values` (all or nothing): unknown names and bad values raise ValueError."""
        known = {f.name: f for f in fields(self)}
        checked: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown websocket setting {name!r}")
            kind = known[name].type  # "bool" | "int" | "float" | "str" (annotations are strings)
            if kind == "str":
                if value not in UNKNOWN_USER_CODES:
                    codes = ", ".join(sorted(UNKNOWN_USER_CODES))
                    raise ValueError(f"websocket {name} must be one of {codes}")
            elif kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"websocket {name} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"websocket {name} must be a number")
            elif not math.isfinite(value) or value <= 0:
                raise ValueError(f"websocket {name} must be positive")
            elif kind == "int" and not float(value).is_integer():
                raise ValueError(f"websocket {name} must be a whole number")
            checked[name] = {"bool": bool, "int": int, "str": str}.get(str(kind), float)(value)
        for name, value in checked.items():
            setattr(self, name, value)

    def describe(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def connection_details(self, creation_ms: int) -> dict[str, Any]:
        return {
            "creationTime": format_ms(creation_ms),
            "maxConnectionsPerSession": self.max_connections_per_session,
            "recoveryBufferSize": self.recovery_buffer_size,
            "recoveryTimeout": whole_seconds(self.recovery_timeout),
            "idleTimeout": whole_seconds(self.idle_timeout),
            "absoluteTimeout": whole_seconds(self.absolute_timeout),
            "maxActiveRequests": self.max_active_requests,
        }


def whole_seconds(value: float) -> int | float:
    """Seconds as RingCentral writes them (180, not 180.0); fractions only from tests."""
    return int(value) if float(value).is_integer() else value


# -- frames -----------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def meta(
    kind: FrameType,
    message_id: str,
    *,
    status: int | None = 200,
    wsc: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind.value, "messageId": message_id}
    if status is not None:
        out["status"] = status
    if wsc is not None:
        out["wsc"] = wsc
    out["headers"] = {"RCRequestId": new_id(), "Content-Type": "application/json"}
    return out


def encode(head: dict[str, Any], body: Any = None) -> str:
    frame = [head] if body is None else [head, body]
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class FrameError(ValueError):
    """A client frame that is not ``[meta, body?]`` with a known ``meta.type``."""

    def __init__(self, message: str, message_id: str | None = None) -> None:
        super().__init__(message)
        self.message_id = message_id


@dataclass(frozen=True)
class ClientFrame:
    kind: FrameType
    message_id: str
    head: dict[str, Any]
    body: Any


def parse_client_frame(text: str) -> ClientFrame:
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise FrameError("JSON can't be parsed") from exc
    if not isinstance(frame, list) or not 1 <= len(frame) <= 2 or not isinstance(frame[0], dict):
        raise FrameError("a frame is a JSON array [meta, body]")
    head = frame[0]
    message_id = head.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise FrameError("meta.messageId is required")
    try:
        kind = FrameType(str(head.get("type")))
    except ValueError as exc:
        raise FrameError("unknown meta.type", message_id) from exc
    if kind not in (FrameType.CLIENT_REQUEST, FrameType.HEARTBEAT):
        raise FrameError(f"a client may not send {kind.value}", message_id)
    return ClientFrame(kind, message_id, head, frame[1] if len(frame) == 2 else None)


# -- subscription requests --------------------------------------------------------------------


class RequestError(Exception):
    """A ClientRequest answered with an error status and RingCentral's error body."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = error_body(code, message, parameter)


def invalid_parameter(name: str) -> RequestError:
    return RequestError(400, "CMN-101", f"Parameter [{name}] value is invalid.", name)


@dataclass(frozen=True)
class Filter:
    """One event filter with ``~`` resolved: who it watches and how it is narrowed."""

    kind: FilterKind
    account_id: str
    extension_id: str | None  # None for the extension list
    types: frozenset[str] | None = None
    directions: frozenset[str] | None = None
    query: str = ""

    @property
    def event(self) -> str:
        """The ``event`` field of its notifications: the filter, ids resolved."""
        path = f"/restapi/v1.0/account/{self.account_id}/extension"
        if self.kind is FilterKind.MESSAGE_STORE:
            path += f"/{self.extension_id}/message-store"
        return f"{path}?{self.query}" if self.query else path

    def wants(self, message_type: str, direction: str) -> bool:
        return (self.types is None or message_type in self.types) and (
            self.directions is None or direction in self.directions
        )


_FILTER = re.compile(
    r"^/restapi/v1\.0/account/(?P<account>[^/?]+)/extension"
    r"(?:/(?P<extension>[^/?]+)/message-store)?/?(?:\?(?P<query>.*))?$"
)


class FilterRefused(Exception):
    """A filter the caller may not use: (status, code) and RingCentral's message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def parse_filter(text: str, account_id: str, owner_id: str) -> Filter | None:
    """The filter, or None when its syntax is not one the gateway serves (→ SUB-508).
    Raises FilterRefused for another account's filter (SUB-406)."""
    found = _FILTER.match(text)
    if found is None:
        return None
    account = found["account"]
    if account not in ("~", account_id):
        raise FilterRefused(
            403, "SUB-406", "Not allowed subscribe for events to extensions of other account"
        )
    query = found["query"] or ""
    if found["extension"] is None:
        return None if query else Filter(FilterKind.EXTENSION_LIST, account_id, None)
    extension = owner_id if found["extension"] == "~" else found["extension"]
    narrowed = _narrowing(query)
    if narrowed is None:
        return None
    types, directions = narrowed
    return Filter(FilterKind.MESSAGE_STORE, account_id, extension, types, directions, query)


def _narrowing(query: str) -> tuple[frozenset[str] | None, frozenset[str] | None] | None:
    """``type``/``direction`` of a message-store filter (since 1.0.39); None if invalid."""
    types: set[str] = set()
    directions: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "type" and value in MESSAGE_TYPES:
            types.add(value)
        elif name == "direction" and value in DIRECTIONS:
            directions.add(value)
        else:
            return None
    return (frozenset(types) or None, frozenset(directions) or None)


def refused_filters(texts: list[str]) -> RequestError:
    return RequestError(400, "SUB-508", f"Invalid event filters: [{', '.join(texts)}]")


def check_subscription_body(body: Any) -> list[str]:
    """The eventFilters of a create/update request (deliveryMode must be WebSocket)."""
    if not isinstance(body, dict):
        raise RequestError(400, "CMN-103", "JSON can't be parsed.")
    filters = body.get("eventFilters")
    if (
        not isinstance(filters, list)
        or not filters
        or not all(isinstance(f, str) and f for f in filters)
    ):
        raise invalid_parameter("eventFilters")
    mode = body.get("deliveryMode", {"transportType": "WebSocket"})
    if not isinstance(mode, dict) or mode.get("transportType") != "WebSocket":
        raise invalid_parameter("deliveryMode.transportType")
    return list(dict.fromkeys(filters))  # a repeated filter is one filter


# -- bodies -----------------------------------------------------------------------------------


@dataclass
class Subscription:
    id: str
    filters: list[Filter]
    creation_ms: int

    def info(self) -> dict[str, Any]:
        """SubscriptionInfo as the live gateway answers it (relative ``uri``, 86399 s)."""
        return {
            "uri": f"{SUBSCRIPTION_PATH}/{self.id}",
            "id": self.id,
            "creationTime": format_ms(self.creation_ms),
            "status": "Active",
            "eventFilters": [f.event for f in self.filters],
            "expirationTime": format_ms(self.creation_ms + SUBSCRIPTION_LIFETIME * 1000),
            "expiresIn": SUBSCRIPTION_LIFETIME,
            "deliveryMode": {"transportType": "WebSocket", "encryption": False},
        }


@dataclass(frozen=True)
class Change:
    """One message a store event names, with what a filter narrows on."""

    message_id: int
    message_type: str
    direction: str


def message_event(
    flt: Filter,
    subscription_id: str,
    owner_id: str,
    event: StoreEvent,
    changes: list[Change],
    now_ms: int,
) -> dict[str, Any] | None:
    """The notification `flt` gets for these changes, or None when it filters them all out."""
    per_type: dict[str, dict[str, Any]] = {}
    for change in changes:
        if not flt.wants(change.message_type, change.direction):
            continue
        entry = per_type.setdefault(
            change.message_type,
            {"type": change.message_type, "newCount": 0, "updatedCount": 0, "newMessageIds": []},
        )
        if event is StoreEvent.NEW:
            entry["newCount"] += 1
            entry["newMessageIds"].append(change.message_id)
        else:
            entry["updatedCount"] += 1
    if not per_type:
        return None
    body = {
        "accountId": int(flt.account_id),
        "extensionId": int(flt.extension_id or 0),
        "lastUpdated": format_ms(now_ms),
        "changes": list(per_type.values()),
    }
    return _notification(flt, subscription_id, owner_id, body, now_ms)


def extension_event(
    flt: Filter,
    subscription_id: str,
    owner_id: str,
    extension_id: str,
    event: StoreEvent,
    now_ms: int,
) -> dict[str, Any]:
    kind = "Create" if event is StoreEvent.EXTENSION_ADDED else "Delete"
    body = {"extensionId": extension_id, "eventType": kind, "ownerId": owner_id}
    return _notification(flt, subscription_id, owner_id, body, now_ms)


def _notification(
    flt: Filter, subscription_id: str, owner_id: str, body: dict[str, Any], now_ms: int
) -> dict[str, Any]:
    return {
        "uuid": new_id(),
        "event": flt.event,
        "timestamp": format_ms(now_ms),
        "subscriptionId": subscription_id,
        "ownerId": owner_id,
        "body": body,
    }
