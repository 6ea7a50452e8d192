"""RingCentral's WebSocket notification gateway, served by the emulator on loopback.

Flow (`gateway_protocol` has the frames): ``POST /restapi/oauth/wstoken`` (Auth group, bearer
token, app permission ``WebSocket``) → ``{ws_access_token, uri, expires_in}`` with ``uri`` =
this server's ``ws://…/ws``; the client upgrades ``/ws?access_token=…[&wsc=…]``; the first
frame is ``ConnectionDetails``; a ``ClientRequest`` ``POST /restapi/v1.0/subscription`` sets
the connection's one subscription (a second replaces it); every store change a filter
matches becomes one ``ServerNotification``.

Why these pieces:

- WebSocket framing is `websockets`' sans-I/O protocol: h11 (`server`) parses the upgrade
  request, `websockets.server.ServerProtocol` validates the handshake and then frames, pings
  and closes, and this module owns the socket. The same library is the client side's, and
  the official SDK's, so one dependency serves both ends.
- One thread per connection (the server's), blocked in `select` on the socket and a wake
  pair; store changes (made in HTTP threads, under the store lock) are only turned into
  frames and queued, never written from there, so a slow client cannot stall a writer.
- A *session* (identified by its ``wsc`` token) outlives its connection: when a connection
  ends (drop, timeout, network) its session is kept for ``recoveryTimeout``, buffering up
  to ``recoveryBufferSize`` notifications (the newest win); reconnecting with ``wsc``
  in time answers ``recoveryState: Successful`` and replays them, else ``Failed`` with a
  fresh session on the same socket.
- Liveness: a ping frame every ``ping_interval``; no pong within ``pong_timeout`` → the
  connection is cut. No ClientRequest or Heartbeat for ``idleTimeout`` → ``Error`` WSG-902
  and close; ``absoluteTimeout`` after opening → WSG-903 and close. Both leave the session
  recoverable, as the guide's "reconnect" advice implies.
- A missing, expired or already used ws token: the upgrade succeeds, then close code 4400.

Extensions: a filter may name the signed-in extension (``~``) or, for an administrator,
another extension of the account (SUB-405 otherwise; for an unknown one, a code
RingCentral does not document: SUB-408 by default, or the documented SUB-405 with
``{"websocket": {"unknown_user_code": "SUB-405"}}``, the harsher reading); the extension
list filter gets ``Create``/``Delete`` events.
"""

from __future__ import annotations

import contextlib
import secrets
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import Protocol, Side, State
from websockets.server import ServerProtocol

from . import gateway_protocol as wsg
from .gateway_protocol import FrameType, RecoveryState
from .store import StoreEvent
from .wire import Request, Response, api_error, error_body, json_response, not_found

if TYPE_CHECKING:
    from .app import Emulator
    from .auth import Session as OAuthSession
    from .server import Accepted

WS_PATH = "/ws"
_RECV = 64 * 1024
_CLOSE_GRACE = 2.0  # seconds to wait for the client's close frame after ours
_SEND_TIMEOUT = 10.0  # a client that stops reading is cut after this


@dataclass
class _WsToken:
    expires_at: float  # emulator clock
    oauth_session: str
    owner_id: str
    used: bool = False


@dataclass
class _Session:
    token: str
    oauth_session: str
    owner_id: str
    sequence: int = 0
    subscription: wsg.Subscription | None = None
    link: _Link | None = None
    detached_at: float | None = None  # monotonic
    missed: deque[dict[str, Any]] = field(default_factory=deque)

    def next_wsc(self) -> dict[str, Any]:
        self.sequence += 1
        return {"token": self.token, "sequence": self.sequence}


class Gateway:
    """Tokens, sessions and connections of the emulated WebSocket gateway."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.limits = wsg.Limits()
        self._lock = threading.RLock()
        self._tokens: dict[str, _WsToken] = {}
        self._sessions: dict[str, _Session] = {}
        self._links: set[_Link] = set()
        emulator.store.add_listener(self._on_store)

    # -- HTTP: the wstoken operation ----------------------------------------------------------

    def issue_token(self, session: OAuthSession) -> Response:
        if not self.limits.permission:
            return api_error(
                403,
                "CMN-401",
                "In order to call this API endpoint, application needs to have "
                "[WebSocket] permission",
            )
        token = "WSG1" + secrets.token_urlsafe(24)
        ttl = self.limits.token_ttl
        with self._lock:
            now = self.emu.clock.now()
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens[token] = _WsToken(now + ttl, session.id, session.owner_id)
        body = {"ws_access_token": token, "uri": self.uri(), "expires_in": wsg.whole_seconds(ttl)}
        return json_response(200, body, [("Cache-Control", "no-store")])

    def uri(self) -> str:
        base = self.emu.base_url
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{WS_PATH}"

    # -- the upgrade hook (server.serve(upgrades={"websocket": gateway.upgrade})) -------------

    def upgrade(self, request: Request) -> Accepted | Response:
        from .server import Accepted  # server imports app, which builds this gateway

        if request.path.rstrip("/") != WS_PATH:
            return not_found("path")
        protocol = ServerProtocol()
        handshake = protocol.accept(WsRequest(WS_PATH, Headers(request.headers.items())))
        if handshake.status_code != 101:
            skip = {"date", "server", "content-length"}
            headers = [(k, v) for k, v in handshake.headers.raw_items() if k.lower() not in skip]
            return Response(handshake.status_code, handshake.body or b"", headers)
        # h11 writes the 101 itself (with the headers below); from here a plain server-side
        # Protocol frames the connection (ServerProtocol's parser would expect a handshake).
        link = _Link(self, Protocol(Side.SERVER))
        self._open(link, request.one("access_token"), request.one("wsc"))
        skip = {"date", "server"}
        headers = [(k, v) for k, v in handshake.headers.raw_items() if k.lower() not in skip]
        return Accepted(headers, link.run)

    def _open(self, link: _Link, access_token: str | None, wsc: str | None) -> None:
        """Authenticate the connection and attach (or recover) its session."""
        with self._lock:
            grant = self._take_token(access_token)
            if grant is None:
                link.refuse("Invalid or expired WebSocket access token")
                return
            self._purge()
            session, state, code = self._resume(grant, wsc)
            session.link, session.detached_at = link, None
            link.session = session
            self._links.add(link)
            details = self.limits.connection_details(self._now_ms())
            if state is not None:
                details["recoveryState"] = state.value
                if code is not None:
                    details["recoveryErrorCode"] = code.value
            head = wsg.meta(FrameType.CONNECTION_DETAILS, wsg.new_id(), wsc=session.next_wsc())
            link.enqueue(wsg.encode(head, details))
            while session.missed:
                self._send_notification(session, session.missed.popleft())

    def _take_token(self, access_token: str | None) -> _WsToken | None:
        grant = self._tokens.get(access_token or "")
        if grant is None or grant.used or grant.expires_at <= self.emu.clock.now():
            return None
        grant.used = self.limits.token_single_use
        return grant

    def _resume(
        self, grant: _WsToken, wsc: str | None
    ) -> tuple[_Session, RecoveryState | None, wsg.WsgError | None]:
        old = self._sessions.get(wsc) if wsc else None
        if wsc is None:
            return self._new_session(grant), None, None
        if old is None:
            return self._new_session(grant), RecoveryState.FAILED, None
        if old.oauth_session != grant.oauth_session:
            return self._new_session(grant), RecoveryState.FAILED, wsg.WsgError.OTHER_OAUTH_SESSION
        if old.subscription is None:
            return self._new_session(grant), RecoveryState.FAILED, wsg.WsgError.NO_SUBSCRIPTION
        if old.link is not None:
            old.link.abort()  # the same session on a new socket: the old one is stale
            old.link = None
        return old, RecoveryState.SUCCESSFUL, None

    def _new_session(self, grant: _WsToken) -> _Session:
        session = _Session(secrets.token_urlsafe(24), grant.oauth_session, grant.owner_id)
        self._sessions[session.token] = session
        return session

    def _purge(self) -> None:
        """Forget sessions whose recovery window has passed."""
        horizon = time.monotonic() - self.limits.recovery_timeout
        for token, session in list(self._sessions.items()):
            if session.link is None and (session.detached_at or 0) < horizon:
                del self._sessions[token]

    def detach(self, link: _Link) -> None:
        """The connection is gone; its session waits `recovery_timeout` for a recovery."""
        with self._lock:
            self._links.discard(link)
            session = link.session
            if session is not None and session.link is link:
                session.link = None
                session.detached_at = time.monotonic()
                session.missed = deque(maxlen=self.limits.recovery_buffer_size)

    # -- frames from clients ---------------------------------------------------------------

    def handle_text(self, link: _Link, text: str) -> None:
        session = link.session
        if session is None:
            return
        try:
            frame = wsg.parse_client_frame(text)
        except wsg.FrameError as exc:
            body = error_body("CMN-104", f"Cannot parse request: {exc}")
            self.reply(link, FrameType.ERROR, exc.message_id or wsg.new_id(), 400, body)
            return
        if frame.kind is FrameType.HEARTBEAT:
            self.reply(link, FrameType.HEARTBEAT, frame.message_id, 200, None)
            return
        try:
            status, body = self._client_request(session, frame)
        except wsg.RequestError as exc:
            status, body = exc.status, exc.body
        self.reply(link, FrameType.CLIENT_REQUEST, frame.message_id, status, body)

    def reply(self, link: _Link, kind: FrameType, message_id: str, status: int, body: Any) -> None:
        """Queue a frame on `link`, stamped with its session's next wsc (under the lock, so
        sequences stay in send order)."""
        with self._lock:
            session = link.session
            wsc = session.next_wsc() if session is not None else None
            link.enqueue(wsg.encode(wsg.meta(kind, message_id, status=status, wsc=wsc), body))

    def _client_request(self, session: _Session, frame: wsg.ClientFrame) -> tuple[int, Any]:
        method = str(frame.head.get("method", "")).upper()
        path = str(frame.head.get("path", "")).split("?")[0].rstrip("/")
        if path == wsg.SUBSCRIPTION_PATH:
            if method != "POST":
                raise wsg.RequestError(405, "CMN-202", "Operation is not supported")
            return 200, self._subscribe(session, frame.body, None)
        prefix = wsg.SUBSCRIPTION_PATH + "/"
        if not path.startswith(prefix) or "/" in path[len(prefix) :]:
            # REST over the socket (an SDK option) is not emulated.
            raise wsg.RequestError(
                404, "CMN-102", "Resource for parameter [path] is not found", "path"
            )
        with self._lock:
            current = session.subscription
        if current is None or current.id != path[len(prefix) :]:
            raise wsg.RequestError(
                404,
                "CMN-102",
                "Resource for parameter [subscriptionId] is not found",
                "subscriptionId",
            )
        match method:
            case "GET":
                return 200, current.info()
            case "PUT":
                return 200, self._subscribe(session, frame.body, current)
            case "DELETE":
                with self._lock:
                    session.subscription = None
                return 204, None
        raise wsg.RequestError(405, "CMN-202", "Operation is not supported")

    def _subscribe(
        self, session: _Session, body: Any, current: wsg.Subscription | None
    ) -> dict[str, Any]:
        """Create (replacing any other) or update the connection's one subscription."""
        texts = wsg.check_subscription_body(body)
        filters = self._resolve_filters(texts, session.owner_id)
        with self._lock:
            if current is not None and session.subscription is current:
                current.filters = filters
                return current.info()
            session.subscription = wsg.Subscription(wsg.new_id(), filters, self._now_ms())
            return session.subscription.info()

    def _resolve_filters(self, texts: list[str], owner_id: str) -> list[wsg.Filter]:
        account = self.emu.world.profile.account_id
        parsed: list[wsg.Filter] = []
        invalid: list[str] = []
        for text in texts:
            try:
                flt = wsg.parse_filter(text, account, owner_id)
            except wsg.FilterRefused as exc:
                raise wsg.RequestError(exc.status, exc.code, str(exc)) from exc
            if flt is None:
                invalid.append(text)
            else:
                parsed.append(flt)
        if invalid:
            raise wsg.refused_filters(invalid)
        for flt in parsed:
            self._check_access(flt, owner_id)
        return list(dict.fromkeys(parsed))

    def _check_access(self, flt: wsg.Filter, owner_id: str) -> None:
        if flt.extension_id is None:
            return
        account = self.emu.account
        login = account.get(int(owner_id))
        target = account.get(int(flt.extension_id)) if flt.extension_id.isdigit() else None
        if target is None or login is None:
            code = self.limits.unknown_user_code
            text = (
                "Not allowed subscribe for unknown user"
                if code == "SUB-408"
                else "Not allowed subscribe for messages to other extensions"
            )
            raise wsg.RequestError(403, code, text)
        if not account.may_reach(login, target):
            raise wsg.RequestError(
                403, "SUB-405", "Not allowed subscribe for messages to other extensions"
            )

    # -- store events → notifications -----------------------------------------------------

    def _on_store(self, extension: int, event: str, message_ids: list[int]) -> None:
        """A store listener: runs in the writer's thread under the store lock, so it only
        renders and queues frames."""
        kind, extension_id = StoreEvent(event), str(extension)
        now = self._now_ms()
        changes = [] if kind in _EXTENSION_EVENTS else self._changes(extension, message_ids)
        with self._lock:
            for session in list(self._sessions.values()):
                subscription = session.subscription
                if subscription is None:
                    continue
                for flt in subscription.filters:
                    body = self._event_body(
                        flt, subscription, session, extension_id, kind, changes, now
                    )
                    if body is not None:
                        self._send_notification(session, body)

    @staticmethod
    def _event_body(
        flt: wsg.Filter,
        subscription: wsg.Subscription,
        session: _Session,
        extension_id: str,
        kind: StoreEvent,
        changes: list[wsg.Change],
        now: int,
    ) -> dict[str, Any] | None:
        if kind in _EXTENSION_EVENTS:
            if flt.kind is not wsg.FilterKind.EXTENSION_LIST:
                return None
            return wsg.extension_event(
                flt, subscription.id, session.owner_id, extension_id, kind, now
            )
        if flt.kind is not wsg.FilterKind.MESSAGE_STORE or flt.extension_id != extension_id:
            return None
        return wsg.message_event(flt, subscription.id, session.owner_id, kind, changes, now)

    def _changes(self, extension: int, message_ids: list[int]) -> list[wsg.Change]:
        owner = self.emu.account.get(extension)
        out = []
        for message_id in message_ids:
            record = owner.store.get(message_id) if owner is not None else None
            if record is not None:
                out.append(wsg.Change(message_id, str(record["type"]), str(record["direction"])))
        return out

    def _send_notification(self, session: _Session, body: dict[str, Any]) -> None:
        if session.link is not None:
            head = wsg.meta(FrameType.SERVER_NOTIFICATION, body["uuid"], wsc=session.next_wsc())
            session.link.enqueue(wsg.encode(head, body))
        elif session.detached_at is not None:
            session.missed.append(body)  # maxlen: beyond recoveryBufferSize the oldest go

    # -- control API -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._purge()
            subscriptions = []
            for session in self._sessions.values():
                if session.subscription is None:
                    continue
                info = session.subscription.info()
                info["connected"] = session.link is not None
                info["missed"] = len(session.missed)
                info["ownerId"] = session.owner_id
                subscriptions.append(info)
            return {"connections": len(self._links), "subscriptions": subscriptions}

    def drop_all(self) -> int:
        """Cut every connection without a close frame; sessions stay recoverable."""
        with self._lock:
            links = list(self._links)
        for link in links:
            self.detach(link)
            link.abort()
        return len(links)

    def configure(self, values: dict[str, Any]) -> None:
        with self._lock:
            self.limits.configure(values)

    def _now_ms(self) -> int:
        return int(self.emu.clock.now() * 1000)


_EXTENSION_EVENTS = frozenset({StoreEvent.EXTENSION_ADDED, StoreEvent.EXTENSION_REMOVED})


class _Link:
    """One WebSocket connection: its socket loop, outbox and timers."""

    def __init__(self, gateway: Gateway, protocol: Protocol) -> None:
        self.gateway = gateway
        self.protocol = protocol
        self.session: _Session | None = None
        self._outbox: deque[str] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sock: socket.socket | None = None
        self._aborted = threading.Event()
        self._refusal: str | None = None
        self.opened = self.last_active = time.monotonic()
        self._next_ping = self.opened + gateway.limits.ping_interval
        self._ping: tuple[bytes, float] | None = None  # (payload, deadline)
        self._closing_until: float | None = None
        self._fragments: list[bytes] = []

    # -- any thread -------------------------------------------------------------------------

    def enqueue(self, text: str) -> None:
        self._outbox.append(text)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def refuse(self, reason: str) -> None:
        self._refusal = reason

    def abort(self) -> None:
        """End the connection abruptly: no close frame, the TCP connection just goes."""
        self._aborted.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- the connection's own thread ----------------------------------------------------------

    def run(self, sock: socket.socket, leftover: bytes) -> None:
        self._sock = sock
        sock.settimeout(_SEND_TIMEOUT)
        try:
            if self._refusal is not None:
                self._close(wsg.CLOSE_UNAUTHORIZED, self._refusal)
            if leftover:
                self._receive(leftover)
            self._loop(sock)
        except OSError:
            pass
        finally:
            self.gateway.detach(self)
            for end in (self._wake_r, self._wake_w):
                end.close()

    def _loop(self, sock: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._aborted.is_set() and self.protocol.state is not State.CLOSED:
                self._flush(sock)
                if self._closing_until is not None and time.monotonic() > self._closing_until:
                    return
                for key, _ in selector.select(self._wait()):
                    if key.fileobj is self._wake_r:
                        self._wake_r.recv(4096)
                    elif not self._receive(sock.recv(_RECV)):
                        return
                self._timers()
            self._flush(sock)

    def _wait(self) -> float:
        limits = self.gateway.limits
        deadlines = [self._next_ping, self.last_active + limits.idle_timeout]
        deadlines.append(self.opened + limits.absolute_timeout)
        if self._ping is not None:
            deadlines.append(self._ping[1])
        if self._closing_until is not None:
            deadlines.append(self._closing_until)
        return max(0.0, min(deadlines) - time.monotonic())

    def _flush(self, sock: socket.socket) -> None:
        while self._outbox and self.protocol.state is State.OPEN:
            self.protocol.send_text(self._outbox.popleft().encode())
        for data in self.protocol.data_to_send():
            if data:
                sock.sendall(data)
            else:  # the protocol's end-of-stream signal: half-close so the client sees EOF
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)

    def _receive(self, data: bytes) -> bool:
        """Feed bytes (b"" = EOF) to the protocol; False when the peer is gone."""
        if not data:
            self.protocol.receive_eof()
            return False
        self.protocol.receive_data(data)
        for frame in self.protocol.events_received():
            if not isinstance(frame, Frame):
                continue  # handshake events: already handled by h11 and `upgrade`
            if frame.opcode is Opcode.PONG and self._ping and frame.data == self._ping[0]:
                self._ping = None
            elif frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self._fragments.append(bytes(frame.data))
                if frame.fin:
                    self.last_active = time.monotonic()
                    text = b"".join(self._fragments).decode("utf-8", "replace")
                    self._fragments.clear()
                    self.gateway.handle_text(self, text)
        return True

    def _timers(self) -> None:
        now, limits = time.monotonic(), self.gateway.limits
        if self._closing_until is not None:
            return
        if self._ping is not None and now >= self._ping[1]:
            self.abort()  # no pong in time: the client is gone as far as we can tell
        elif now >= self.opened + limits.absolute_timeout:
            self._timeout(wsg.WsgError.ABSOLUTE_TIMEOUT, "Absolute timeout expired")
        elif now >= self.last_active + limits.idle_timeout:
            self._timeout(wsg.WsgError.IDLE_TIMEOUT, "Idle timeout expired")
        elif now >= self._next_ping and self._ping is None:
            payload = secrets.token_bytes(4)
            self.protocol.send_ping(payload)
            self._ping = (payload, now + limits.pong_timeout)
            self._next_ping = now + limits.ping_interval

    def _timeout(self, code: wsg.WsgError, message: str) -> None:
        body = {"errorCode": code.value, "message": message}
        self.gateway.reply(self, FrameType.ERROR, wsg.new_id(), 408, body)
        if self._sock is not None:
            self._flush(self._sock)
        self._close(1000, message)

    def _close(self, code: int, reason: str) -> None:
        self.protocol.send_close(code, reason)
        self._closing_until = time.monotonic() + _CLOSE_GRACE
