"""The notification channel of `watch`: a thread that keeps a WebSocket subscription open and
turns its events into pull hints for the loop.

    resume <- sync_state[ws_session]        (newest wsc + subscription of the last watch)
    loop:  open_session(filters, resume)    (wstoken: Auth group, through the shared budget)
           recovered?  yes: missed events follow as ordinary events
                       no:  events were lost (or this is the first connection): Hint(all)
           each event -> Hint(extensions it names); the newest wsc -> sync_state
           connection lost / WSG-902 / WSG-903 -> ChannelState(down), backoff + jitter, again
    no WebSocket permission / no gateway   -> one warning line, the thread ends, polling stays
    after each pull (the loop's thread): `refresh` -> the mirrored extensions changed?
           yes: one PUT of the new filters over the socket (`rcsync.rules.subscription`);
                its answer -> sync_state[ws_session], and an ISync of each added extension

Which filters are wanted is read from the database (`wanted`) at every connection and after
every pull, so a user added mid-watch has their events at once and a deleted one's filter
goes, without a restart; a refused update ends the connection and the reconnect subscribes
to what is wanted by then.

The events are hints: every one only makes the loop run an ISync, which stays the source of
truth, so a duplicate or a spurious event costs one request and loses nothing. What `status`
shows (state, connected since, events received, last event) is written to
sync_state[ws_channel] as it changes. Database writes from this thread are short
transactions of their own; if one fails (a user's long write) it is logged and retried with
the next change, never a reason to stop.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rcsync.api.notifications import (
    OTHER_EXTENSION_REFUSALS,
    Connected,
    Event,
    EventKind,
    NotificationSocket,
    SavedSession,
    Updated,
    filter_extension,
    open_session,
)
from rcsync.errors import (
    NotificationError,
    NotificationsUnavailable,
    RcsyncError,
    StopRequested,
)
from rcsync.rules.subscription import filter_change
from rcsync.store import is_busy_error, is_driver_error
from rcsync.store.state import WS_CHANNEL, WS_SESSION, read_state, save_state
from rcsync.types import iso_utc
from rcsync.watch.backoff import Backoff
from rcsync.watch.notices import ChannelState, Hint, Inbox

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rcsync.api import ApiSession

log = logging.getLogger("rcsync.watch")

# A connection that lived this long was healthy: the reconnect backoff starts over.
HEALTHY_AFTER = 60.0
# While the channel is up the periodic pull is a safety net: hourly (or watch_interval).
SAFETY_INTERVAL = 3600.0
# The pull after a push waits this long for the notification of the push itself, so that
# one ISync covers both (else every edit would cost two). The base is refreshed that much
# later; the next push still waits for it (`rcsync.watch.schedule`).
ECHO_WAIT = 1.0
_JOIN_TIMEOUT = 5.0


class State(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    UNAVAILABLE = "unavailable"  # no permission / no gateway: polling only
    STOPPED = "stopped"


def hint_for(event: Event) -> Hint | None:
    """The pull an event asks for: its extension's, every one for the extension list."""
    if event.kind is EventKind.MESSAGE_STORE:
        return Hint(None if event.extension_id is None else frozenset({event.extension_id}))
    if event.kind is EventKind.EXTENSION_LIST:
        return Hint(None)  # an extension came or went: the mirror's list is re-read
    return None


@dataclass
class Channel:
    """Runs the notification thread; `start` it, `close` it when the watch ends."""

    session: ApiSession
    engine: Engine
    inbox: Inbox
    filters: Sequence[str]
    # The filters the mirror wants now (the database's extensions); None: always `filters`.
    wanted: Callable[[], Sequence[str]] | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(base=1.0, cap=120.0))
    wall: Callable[[], float] = time.time
    clock: Callable[[], float] = time.monotonic
    opener: Callable[..., Connected] = open_session
    state: State = field(init=False, default=State.CONNECTING)
    events: int = field(init=False, default=0)
    connected_since: str | None = field(init=False, default=None)
    last_event_at: str | None = field(init=False, default=None)
    detail: str = field(init=False, default="")
    subscription_updated_at: str | None = field(init=False, default=None)
    subscription_change: str | None = field(init=False, default=None)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _socket: NotificationSocket | None = field(init=False, default=None)
    _thread: threading.Thread | None = field(init=False, default=None)
    _saved: SavedSession | None = field(init=False, default=None)
    _connected: Connected | None = field(init=False, default=None)
    # The filters last asked for on this connection (an update may still be unanswered).
    _asked: tuple[str, ...] = field(init=False, default=())
    # Filters refused as naming an extension the login may not have (`_behind`), and
    # whether a pull ran since (`refresh`): refused again after one, they are given up.
    _refused: tuple[str, ...] | None = field(init=False, default=None)
    _pulled_since_refused: bool = field(init=False, default=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="rcsync-notifications", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread: the socket is closed under it, its last state is recorded."""
        self._stop.set()
        with self._lock:
            sock = self._socket
        if sock is not None:
            sock.close()
        if self._thread is not None:
            self._thread.join(_JOIN_TIMEOUT)

    # -- the thread -----------------------------------------------------------------------

    def run(self) -> None:
        self._saved = SavedSession.from_json(self._read(WS_SESSION))
        try:
            while not self._stop.is_set():
                started = self.clock()
                filters = self._wanted_filters()
                try:
                    connected = self.opener(self.session, filters, self._saved)
                except NotificationsUnavailable as exc:
                    self._unavailable(exc)
                    return
                except StopRequested:
                    return
                except (RcsyncError, OSError) as exc:
                    if self._refused_after_pull(exc, filters):
                        self._unavailable(exc)
                        return
                    self._behind(exc, filters)
                    self._retry(exc, started)
                    continue
                self._serve(connected)
                if not self._stop.is_set():
                    self._retry(None, started)
        except Exception as exc:  # a bug here must not end the watch: polling goes on
            log.warning("push notifications stopped: %s; pulling every watch_interval", exc)
            self.inbox.post(ChannelState(up=False))
        finally:
            if self.state is not State.UNAVAILABLE:
                self._set(State.STOPPED, "")

    def _serve(self, connected: Connected) -> None:
        with self._lock:
            self._socket = connected.socket
            self._connected, self._asked = connected, connected.requested
        self._refused = None
        if self._stop.is_set():  # closed while connecting: `close` saw no socket
            connected.socket.close()
        self.connected_since = iso_utc()
        recovered = " (session recovered: missed events follow)" if connected.recovered else ""
        log.info("push notifications: connected%s", recovered)
        self._saved = connected.saved(self.wall())
        self._set(State.CONNECTED, "")
        self.inbox.post(ChannelState(up=True))
        if not connected.recovered:
            # Events may have been lost (a failed recovery, or none to recover): one ISync
            # of every extension covers whatever they would have said.
            self.inbox.post(Hint(None))
        try:
            while not self._stop.is_set():
                item = connected.socket.receive(None)
                if isinstance(item, Updated):
                    self._on_updated(item, connected)
                elif item is not None:
                    self._on_event(item, connected)
        except NotificationError as exc:
            self.detail = str(exc)
            if not self._stop.is_set():
                log.info("push notifications: %s; reconnecting", exc)
        finally:
            with self._lock:
                self._socket = self._connected = None
            connected.socket.close()
            self._saved = connected.saved(self.wall()) or self._saved
            self.inbox.post(ChannelState(up=False))

    # -- the subscription follows the mirrored extensions ------------------------------------

    def refresh(self) -> None:
        """After a pull (the loop's thread): the mirrored extensions may have changed, so
        bring the subscription in line with one update over the open socket. Not connected:
        nothing to do, the next connection subscribes to what is wanted then."""
        self._pulled_since_refused = True
        wanted = self._wanted_filters()
        with self._lock:
            connected = self._connected
            change = None if connected is None else filter_change(self._asked, wanted)
            if connected is None or change is None:
                return
            self._asked = tuple(wanted)
        log.info("push notifications: updating the subscription (%s)", change.describe())
        try:
            connected.socket.update(connected.subscription.id, wanted)
        except NotificationError as exc:  # the socket is gone: the reconnect subscribes
            log.info("push notifications: subscription not updated: %s", exc)

    def _on_updated(self, answer: Updated, connected: Connected) -> None:
        """The gateway took the new filters: keep them (and the id) for a restart, and pull
        each added extension once, since what reached it before this had no event."""
        change = filter_change(connected.requested, answer.requested)
        connected.subscription, connected.requested = answer.subscription, answer.requested
        if change is not None:
            self.subscription_change = change.describe()
        self.subscription_updated_at = iso_utc()
        log.info("push notifications: subscription updated (%s)", self.subscription_change)
        self._saved = connected.saved(self.wall()) or self._saved
        self._write()
        added = (filter_extension(f) for f in (change.added if change else ()))
        extensions = frozenset(e for e in added if e is not None)
        if extensions:
            self.inbox.post(Hint(extensions))

    def _wanted_filters(self) -> list[str]:
        """The filters to subscribe to: read anew when there is a `wanted`; if the database
        cannot answer now, the last ones read (the next pull's `refresh` reads again)."""
        if self.wanted is not None:
            try:
                self.filters = list(self.wanted())
            except Exception as exc:
                if not (is_busy_error(exc) or is_driver_error(exc) or isinstance(exc, RcsyncError)):
                    raise
                log.debug("event filters not read (%s); keeping the last ones", exc)
        return list(self.filters)

    def _behind(self, exc: BaseException, filters: Sequence[str]) -> None:
        """A subscription refused as naming an extension the login may not have (a user
        deleted while no watch ran, or before the pull that marks them gone): pull every
        extension with the list read anew, so the 404 marks them gone; the reconnect then
        leaves them out."""
        if _names_another_extension(exc):
            self._refused, self._pulled_since_refused = tuple(filters), False
            self._forget_extension_list()
            self.inbox.post(Hint(None))

    def _refused_after_pull(self, exc: BaseException, filters: Sequence[str]) -> bool:
        """The same filters refused again although a pull ran since the last refusal: no
        list is behind, the login may not subscribe to them (one warning, then polling)."""
        return (
            _names_another_extension(exc)
            and self._pulled_since_refused
            and self._refused == tuple(filters)
        )

    def _forget_extension_list(self) -> None:
        """An extension came or went: the pull this event asks for reads the account's
        list again instead of going by the cached one (which would wait up to an hour)."""
        from rcsync.sync.account import reread_extensions

        try:
            reread_extensions(self.engine)
        except RcsyncError as exc:  # busy or unwritable: the hourly re-read still comes
            log.warning("could not mark the extension list for re-reading: %s", exc)

    def _on_event(self, event: Event, connected: Connected) -> None:
        hint = hint_for(event)
        if hint is None:
            return
        self.events += 1
        self.last_event_at = iso_utc()
        log.debug("notification: %s", event.event)
        if event.kind is EventKind.EXTENSION_LIST:
            self._forget_extension_list()
        self.inbox.post(hint)
        self._saved = connected.saved(self.wall()) or self._saved
        self._write()

    def _retry(self, exc: BaseException | None, started: float) -> None:
        if self.clock() - started >= HEALTHY_AFTER:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        if exc is not None:
            self.detail = " ".join(str(exc).split()) or type(exc).__name__
            log.warning("push notifications: %s; retry in %.0f s", self.detail, delay)
        self._set(State.RECONNECTING, self.detail)
        self._stop.wait(delay)

    def _unavailable(self, exc: BaseException) -> None:
        # One line, then polling as before: the watch itself is fine without notifications.
        log.warning("%s; pulling every watch_interval instead", exc)
        self._set(State.UNAVAILABLE, str(exc))

    # -- what status shows, what a restart resumes ------------------------------------------

    def report(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "connected_since": self.connected_since if self.state is State.CONNECTED else None,
            "events": self.events,
            "last_event": self.last_event_at,
            "detail": self.detail or None,
            # How many filters the open subscription has, and its last change mid-watch.
            "filters": len(self._asked) if self.state is State.CONNECTED else None,
            "subscription_updated": self.subscription_updated_at,
            "subscription_change": self.subscription_change,
            "updated": iso_utc(),
            # Whose record this is: a watch killed with SIGKILL leaves "connected" behind,
            # and `status` checks this process still holds the database's engine lock.
            "pid": os.getpid(),
        }

    def _set(self, state: State, detail: str) -> None:
        self.state, self.detail = state, detail
        self._write()

    def _write(self) -> None:
        values = {WS_CHANNEL: json.dumps(self.report())}
        if self._saved is not None:
            values[WS_SESSION] = self._saved.to_json()
        try:
            save_state(self.engine, values)
        except Exception as exc:
            if not (is_busy_error(exc) or is_driver_error(exc)):
                raise
            log.debug("notification state not saved (%s); saved with the next change", exc)

    def _read(self, key: str) -> str | None:
        try:
            return read_state(self.engine, key)
        except Exception as exc:
            if not (is_busy_error(exc) or is_driver_error(exc)):
                raise
            return None


def _names_another_extension(exc: BaseException) -> bool:
    return isinstance(exc, NotificationError) and exc.code in OTHER_EXTENSION_REFUSALS
