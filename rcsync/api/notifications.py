"""RingCentral's WebSocket notifications, client side: as small as the protocol allows.

The steps (ACCOUNT-PUSH-EXPORT.md §2; INTERFACE.md "Push notifications"):

1. ``POST /restapi/oauth/wstoken`` with the bearer token: a short-lived, single-use
   ``ws_access_token`` and the gateway's ``uri``. It is an **Auth**-group request, the group
   token refresh uses (5/min), so it goes through the one `ApiSession` and its `RateBudget`:
   paced with the refreshes, never a burst that earns a 429 there.
2. Connect to ``uri?access_token=…`` (``&wsc=…`` to recover a session) with `websockets`' sync
   client, which answers the server's ping frames and sends its own (a socket that died
   silently is noticed within ``ping_interval + ping_timeout``).
3. The first frame is ``ConnectionDetails``: its ``wsc`` is the session's recovery token, its
   body the limits and, on a recovery, ``recoveryState`` (``Successful``: the subscription
   lives on and missed events follow; ``Failed``: they are lost, subscribe again).
4. Subscribe with a ``ClientRequest`` ``POST /restapi/v1.0/subscription/`` naming the event
   filters; one subscription per connection, a second request replaces the first. Its
   filters change with ``PUT /restapi/v1.0/subscription/{id}`` over the same socket (never
   over HTTP: "WebSocket subscriptions cannot be updated via HTTP interface"): `update`
   sends it from any thread, and the answer comes out of `receive` as an `Updated`.
5. ``ServerNotification`` frames are the events; `Event` keeps what a mirror needs from them
   (which extension's message store, or the extension list). They are hints only: ISync
   stays the source of truth.
6. The gateway closes a connection idle for ``idleTimeout`` (WSG-902): only client text
   frames count as activity, so a JSON ``Heartbeat`` is sent every `heartbeat_every` seconds
   (the official SDKs send one every 10 minutes). WSG-903 closes it after
   ``absoluteTimeout``; both leave the session recoverable.

The newest ``wsc`` may come on any frame (its ``sequence`` grows); `NotificationSocket.wsc`
is always the newest seen, and `SavedSession` is what a restarted client needs to resume.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from rcsync import __version__
from rcsync.api.errors import malformed
from rcsync.api.factory import is_loopback
from rcsync.api.ratelimit import Group
from rcsync.api.session import ApiSession, Operation
from rcsync.errors import ApiError, NotificationError, NotificationsUnavailable

log = logging.getLogger("rcsync.api")

WSTOKEN = Operation("authWsToken", Group.AUTH)
WSTOKEN_PATH = "/restapi/oauth/wstoken"
SUBSCRIPTION_PATH = "/restapi/v1.0/subscription/"
EXTENSION_LIST_FILTER = "/restapi/v1.0/account/~/extension"
# Statuses of the wstoken call that mean "no notifications here": the app lacks the
# WebSocket permission (403 CMN-401), or the server has no gateway at all.
_UNAVAILABLE = frozenset({403, 404, 405, 501})
# The gateway closes a socket whose token is missing, expired or used with this code.
CLOSE_UNAUTHORIZED = 4400
# At most this long between client text frames (the SDKs' 10 minutes), and never more
# than a third of the announced idle timeout, so one lost heartbeat is no disconnect.
HEARTBEAT_MAX = 600.0
# A subscription refused because a filter names an extension this login may not subscribe
# to: RingCentral documents SUB-405 (403, "Not allowed subscribe for messages to other
# extensions") and no code for a user deleted since the archive last read the account's
# list (the emulator answers SUB-408 or, the harsher reading, SUB-405). The list may just be
# behind, so it is not by itself a reason to give notifications up: the channel pulls with
# the list read anew and gives up only if the same filters are refused after that.
OTHER_EXTENSION_REFUSALS = frozenset({"SUB-405", "SUB-408"})
OPEN_TIMEOUT = 15.0
REPLY_TIMEOUT = 15.0


def message_store_filter(extension: str = "~") -> str:
    """The event filter for every change in one extension's message store."""
    return f"/restapi/v1.0/account/~/extension/{extension}/message-store"


def filter_extension(event_filter: str) -> str | None:
    """The extension a `message_store_filter` watches (None for any other filter)."""
    path = event_filter.split("?")[0].rstrip("/")
    if not path.endswith("/message-store"):
        return None
    return path.split("/")[-2]


class FrameType(StrEnum):
    CLIENT_REQUEST = "ClientRequest"
    SERVER_NOTIFICATION = "ServerNotification"
    ERROR = "Error"
    CONNECTION_DETAILS = "ConnectionDetails"
    HEARTBEAT = "Heartbeat"


class RecoveryState(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


class EventKind(StrEnum):
    MESSAGE_STORE = "message-store"  # something arrived or changed in one extension's store
    EXTENSION_LIST = "extension-list"  # an extension was added, changed or removed
    OTHER = "other"


# -- the token ---------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class WsToken:
    token: str
    uri: str
    expires_in: float

    def __repr__(self) -> str:  # the token is a secret
        return f"WsToken(uri={self.uri!r}, expires_in={self.expires_in!r})"


def request_ws_token(session: ApiSession) -> WsToken:
    """One wstoken (Auth group). `NotificationsUnavailable` when the app or server has none."""
    try:
        response = session.request(WSTOKEN, "POST", WSTOKEN_PATH)
    except ApiError as exc:
        if exc.status in _UNAVAILABLE:
            raise NotificationsUnavailable(
                f"push notifications unavailable: {exc}", status=exc.status, code=exc.code
            ) from None
        raise
    body = ApiSession.json(WSTOKEN, response)
    token = body.get("ws_access_token") if isinstance(body, dict) else None
    uri = body.get("uri") if isinstance(body, dict) else None
    expires = body.get("expires_in", 30) if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or not isinstance(uri, str):
        raise malformed(WSTOKEN.name, "no ws_access_token or uri")
    check_gateway_uri(uri)
    seconds = float(expires) if isinstance(expires, int | float) else 30.0
    return WsToken(token, uri, seconds)


def check_gateway_uri(uri: str) -> None:
    """wss:// only, except to loopback (the emulator): the token travels in the query."""
    parts = urlsplit(uri)
    if parts.scheme == "wss" or (parts.scheme == "ws" and is_loopback(parts.hostname or "")):
        return
    raise malformed(WSTOKEN.name, f"gateway uri {uri!r} is not wss://")


# -- frames -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wsc:
    """The session's recovery token; `sequence` orders the copies frames carry."""

    token: str
    sequence: int

    @staticmethod
    def of(head: dict[str, Any]) -> Wsc | None:
        raw = head.get("wsc")
        if not isinstance(raw, dict) or not isinstance(raw.get("token"), str):
            return None
        sequence = raw.get("sequence")
        return Wsc(raw["token"], sequence if isinstance(sequence, int) else 0)


@dataclass(frozen=True)
class ConnectionDetails:
    recovery_state: RecoveryState | None
    recovery_timeout: float
    idle_timeout: float
    absolute_timeout: float
    body: dict[str, Any]

    @staticmethod
    def parse(body: Any) -> ConnectionDetails:
        data = body if isinstance(body, dict) else {}
        state = data.get("recoveryState")
        return ConnectionDetails(
            RecoveryState(state) if state in tuple(RecoveryState) else None,
            _seconds(data.get("recoveryTimeout"), 180.0),
            _seconds(data.get("idleTimeout"), 1800.0),
            _seconds(data.get("absoluteTimeout"), 86_400.0),
            data,
        )


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return float(value)


@dataclass(frozen=True)
class Subscription:
    id: str
    event_filters: tuple[str, ...]


@dataclass(frozen=True)
class Updated:
    """The gateway's answer to `NotificationSocket.update`: the subscription as it now is,
    and the filters that request asked for (``~`` and all, as `SavedSession` keeps them)."""

    subscription: Subscription
    requested: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """One notification as a mirror reads it: which extension (or the extension list)."""

    kind: EventKind
    extension_id: str | None
    event: str
    body: dict[str, Any] = field(repr=False)

    @staticmethod
    def parse(body: Any) -> Event:
        data = body if isinstance(body, dict) else {}
        event = str(data.get("event", ""))
        inner = data.get("body")
        inner = inner if isinstance(inner, dict) else {}
        raw_ext = inner.get("extensionId")
        extension = str(raw_ext) if isinstance(raw_ext, int | str) and raw_ext != "" else None
        path = event.split("?")[0].rstrip("/")
        if path.endswith("/message-store"):
            kind = EventKind.MESSAGE_STORE
            if extension is None:  # the event names it too: …/extension/{id}/message-store
                extension = path.split("/")[-2]
        elif path.endswith("/extension"):
            kind = EventKind.EXTENSION_LIST
        else:
            kind = EventKind.OTHER
        return Event(kind, extension, event, data)


def _frame(text: str | bytes) -> tuple[dict[str, Any], Any]:
    try:
        frame = json.loads(text)
    except ValueError:
        raise NotificationError("the gateway sent a frame that is not JSON") from None
    if not isinstance(frame, list) or not frame or not isinstance(frame[0], dict):
        raise NotificationError("the gateway sent a frame that is not [meta, body]")
    return frame[0], frame[1] if len(frame) > 1 else None


def _encode(kind: FrameType, message_id: str, body: Any = None, **head: Any) -> str:
    meta = {"type": kind.value, "messageId": message_id, **head}
    return json.dumps([meta] if body is None else [meta, body], separators=(",", ":"))


def _closed(exc: ConnectionClosed) -> NotificationError:
    close = exc.rcvd
    if close is not None and close.code == CLOSE_UNAUTHORIZED:
        return NotificationError(f"the gateway refused the WebSocket token ({close.reason})")
    if close is None:
        return NotificationError("WebSocket connection lost (no close frame)")
    what = f"code {close.code}" + (f", {close.reason}" if close.reason else "")
    return NotificationError(f"WebSocket connection closed ({what})")


# -- the socket ---------------------------------------------------------------------------------


class NotificationSocket:
    """One open gateway connection. `receive` from one thread; `close` from any."""

    def __init__(
        self,
        connection: ClientConnection,
        details: ConnectionDetails,
        wsc: Wsc | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ws = connection
        self.details = details
        self.wsc = wsc
        self._clock = clock
        self._queued: deque[Event | Updated] = deque()
        # Update requests sent and not answered yet: messageId -> the filters asked for.
        self._updates: dict[str, tuple[str, ...]] = {}
        self._last_sent = clock()
        self.heartbeat_every = min(HEARTBEAT_MAX, details.idle_timeout / 3)

    @classmethod
    def open(
        cls, grant: WsToken, *, wsc: str | None = None, timeout: float = OPEN_TIMEOUT
    ) -> NotificationSocket:
        """Connect and read ConnectionDetails (nothing may be sent before it arrives)."""
        url = f"{grant.uri}{'&' if '?' in grant.uri else '?'}access_token={quote(grant.token)}"
        if wsc:
            url += f"&wsc={quote(wsc)}"
        host = urlsplit(grant.uri).hostname or ""
        try:
            ws = connect(
                url,
                open_timeout=timeout,
                user_agent_header=f"rcsync/{__version__}",
                # Loopback (the emulator) never goes through a proxy from the environment.
                proxy=None if is_loopback(host) else True,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise NotificationError(
                f"cannot connect to the notification gateway ({type(exc).__name__})"
            ) from None
        try:
            head, body = _frame(ws.recv(timeout=timeout))
        except TimeoutError:
            ws.close()
            raise NotificationError("no ConnectionDetails from the gateway") from None
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        if head.get("type") != FrameType.CONNECTION_DETAILS:
            ws.close()
            raise NotificationError(f"the gateway opened with {head.get('type')!r}")
        return cls(ws, ConnectionDetails.parse(body), Wsc.of(head))

    def _note_wsc(self, head: dict[str, Any]) -> None:
        wsc = Wsc.of(head)
        if wsc is not None and (self.wsc is None or wsc.sequence >= self.wsc.sequence):
            self.wsc = wsc

    def _send(self, text: str) -> None:
        try:
            self._ws.send(text)
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        self._last_sent = self._clock()

    def _next_frame(self, timeout: float | None) -> tuple[dict[str, Any], Any] | None:
        try:
            text = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        head, body = _frame(text)
        self._note_wsc(head)
        if head.get("type") == FrameType.ERROR:
            code = body.get("errorCode") if isinstance(body, dict) else None
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise NotificationError(f"gateway error {code}: {message}", code=code)
        return head, body

    def subscribe(self, filters: Sequence[str], *, timeout: float = REPLY_TIMEOUT) -> Subscription:
        """Create this connection's one subscription (replacing any) for `filters`."""
        message_id = str(uuid.uuid4())
        body = {"eventFilters": list(filters), "deliveryMode": {"transportType": "WebSocket"}}
        self._send(
            _encode(
                FrameType.CLIENT_REQUEST,
                message_id,
                body,
                method="POST",
                path=SUBSCRIPTION_PATH,
            )
        )
        deadline = self._clock() + timeout
        while True:
            frame = self._next_frame(max(deadline - self._clock(), 0.0))
            if frame is None:
                raise NotificationError("no answer to the subscription request")
            head, answer = frame
            if head.get("type") == FrameType.SERVER_NOTIFICATION:
                self._queued.append(Event.parse(answer))  # delivered by `receive` later
            elif head.get("messageId") == message_id:
                return _subscription(head, answer)

    def update(self, subscription_id: str, filters: Sequence[str]) -> None:
        """Ask for this connection's subscription to have `filters` instead (any thread:
        `receive` may be waiting in another). The answer comes out of `receive` as an
        `Updated`; a refusal ends the connection (`receive` raises NotificationError), and
        the reconnect subscribes anew to whatever is wanted by then."""
        message_id = str(uuid.uuid4())
        body = {"eventFilters": list(filters), "deliveryMode": {"transportType": "WebSocket"}}
        self._updates[message_id] = tuple(filters)
        frame = _encode(
            FrameType.CLIENT_REQUEST,
            message_id,
            body,
            method="PUT",
            path=f"{SUBSCRIPTION_PATH}{subscription_id}",
        )
        self._send(frame)

    def _answered(self, head: dict[str, Any], body: Any) -> Updated | None:
        requested = self._updates.pop(str(head.get("messageId")), None)
        if requested is None:
            return None  # an answer to nothing asked on this socket: not ours to read
        try:
            return Updated(_subscription(head, body), requested)
        except NotificationError as exc:
            # Even a 403 here is no reason to give up notifications: the filters that were
            # fine a moment ago still are, and the reconnect subscribes to them again.
            raise NotificationError(f"subscription update refused: {exc}", code=exc.code) from None

    def receive(self, timeout: float | None = None) -> Event | Updated | None:
        """The next event (or answer to `update`), or None after `timeout` seconds;
        heartbeats are sent when due."""
        deadline = None if timeout is None else self._clock() + timeout
        while not self._queued:
            now = self._clock()
            beat_at = self._last_sent + self.heartbeat_every
            if now >= beat_at:
                self._send(_encode(FrameType.HEARTBEAT, str(uuid.uuid4())))
                continue
            if deadline is not None and now >= deadline:
                return None
            wait = beat_at - now if deadline is None else min(beat_at, deadline) - now
            frame = self._next_frame(wait)
            if frame is None:
                continue
            kind = frame[0].get("type")
            if kind == FrameType.SERVER_NOTIFICATION:
                self._queued.append(Event.parse(frame[1]))
            elif kind == FrameType.CLIENT_REQUEST and (answer := self._answered(*frame)):
                self._queued.append(answer)
        return self._queued.popleft()

    def close(self) -> None:
        """Close (from any thread): a `receive` under way ends with NotificationError."""
        self._ws.close()


def _subscription(head: dict[str, Any], body: Any) -> Subscription:
    status = head.get("status")
    data = body if isinstance(body, dict) else {}
    if status != 200:
        code = data.get("errorCode")
        text = data.get("message") or f"status {status}"
        refused = status in (401, 403) and code not in OTHER_EXTENSION_REFUSALS
        error = NotificationsUnavailable if refused else NotificationError
        raise error(f"subscription refused: {code}: {text}", code=code)
    filters = data.get("eventFilters")
    if not isinstance(data.get("id"), str) or not isinstance(filters, list):
        raise NotificationError("the subscription answer has no id or eventFilters")
    return Subscription(data["id"], tuple(str(f) for f in filters))


# -- sessions: connect, recover, subscribe --------------------------------------------------------


@dataclass(frozen=True)
class SavedSession:
    """What a restarted client needs to resume: the newest wsc and what it asked to be
    subscribed to (the filters as requested, ``~`` and all, not as the server resolved them)."""

    wsc: str
    sequence: int
    subscription_id: str
    filters: tuple[str, ...]
    saved_at: float  # wall clock (time.time), to tell whether the recovery window passed
    recovery_timeout: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "wsc": self.wsc,
                "sequence": self.sequence,
                "subscription_id": self.subscription_id,
                "filters": list(self.filters),
                "saved_at": self.saved_at,
                "recovery_timeout": self.recovery_timeout,
            }
        )

    @staticmethod
    def from_json(text: str | None) -> SavedSession | None:
        try:
            data = json.loads(text) if text else None
            if not isinstance(data, dict):
                return None
            return SavedSession(
                str(data["wsc"]),
                int(data["sequence"]),
                str(data["subscription_id"]),
                tuple(str(f) for f in data["filters"]),
                float(data["saved_at"]),
                float(data["recovery_timeout"]),
            )
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: start a fresh session, which is always safe


@dataclass
class Connected:
    """An open, subscribed connection; `recovered`: the old session's events were kept."""

    socket: NotificationSocket
    subscription: Subscription
    recovered: bool
    requested: tuple[str, ...]

    def saved(self, now: float) -> SavedSession | None:
        wsc = self.socket.wsc
        if wsc is None:
            return None
        return SavedSession(
            wsc.token,
            wsc.sequence,
            self.subscription.id,
            self.requested,
            now,
            self.socket.details.recovery_timeout,
        )


def open_session(
    session: ApiSession,
    filters: Sequence[str],
    resume: SavedSession | None = None,
    *,
    open_socket: Callable[[WsToken, str | None], NotificationSocket] | None = None,
) -> Connected:
    """Get a wstoken, connect (recovering `resume` if given) and make sure `filters` are
    subscribed. Recovery that fails, or a subscription for other filters, subscribes anew."""
    grant = request_ws_token(session)
    opener = open_socket or (lambda g, w: NotificationSocket.open(g, wsc=w))
    sock = opener(grant, resume.wsc if resume else None)
    try:
        recovered = resume is not None and sock.details.recovery_state is RecoveryState.SUCCESSFUL
        if recovered and resume is not None and tuple(filters) == resume.filters:
            log.debug("notification session recovered (subscription %s)", resume.subscription_id)
            subscription = Subscription(resume.subscription_id, resume.filters)
        else:
            subscription = sock.subscribe(filters)
        return Connected(sock, subscription, recovered, tuple(filters))
    except BaseException:
        sock.close()
        raise
