"""Account-wide archives (issue 12): many extensions, one database, one rate budget.

An admin's login may read every extension's message store, each under its own path
(``…/extension/{id}/message-store``), but RingCentral counts all of those requests in one
budget per user and app. So an account pull is:

1. who logs in (`readExtension`) and the account's extensions (`listExtensions`), against
   ``[account] extensions`` (`rcsync.rules.extensions.select`). A plain user naming another
   extension is refused before anything is written; ``"all"`` for a plain user is their own
   extension, with a note. Extensions RingCentral no longer lists are marked gone; their
   archive stays (never inferred as deletes). What was read serves the next pulls
   (`resolve_cached`: an idle round is one ISync per extension) until it may have changed:
   another login's token, ``--full``, a named number not known, a 403, an hour
   (`rcsync.rules.extensions.REREAD_AFTER`), or `reread_extensions` (watch, on RingCentral's
   extension-list event). A user deleted meanwhile needs no list: the 404 on their path
   marks them gone;
2. an interrupted push's journal is settled (`RoutingClient` reads each message on its own
   extension's path);
3. every chosen extension's pull (`rcsync.sync.pull.pull_messages`: its own cursor, full or
   incremental, resumable) runs in its own thread, and every request of every extension
   passes a `Turnstile`: round robin by request over the extensions waiting to send one
   (`rcsync.rules.interleave.next_turn`), so a large first pull cannot starve the others
   and the shared `RateBudget` paces the whole account without a 429. An extension the
   login may not read (403) or that was deleted meanwhile (404 on its path) is reported by
   number and the others go on;
4. attachments, once for the account, as a phase of their own (edits first:
   `rcsync.sync.edits_first`).

The single-extension pull is wrapped, not rewritten: its unit is "pull this extension's
messages with this client and these cursor keys". ``"self"`` with no ``--extension`` is
exactly the single-extension pull of old (no extra request).

Push: `RoutingClient` sends each edit to its message's extension path (looked up in the
database), one extension at a time, with the client's own bulk limits per request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar

from rcsync.api.results import ItemResult
from rcsync.config import Config
from rcsync.errors import (
    AmbiguousWriteError,
    ApiError,
    AuthError,
    ExtensionAccessError,
    StopRequested,
)
from rcsync.progress import NullProgress, Progress, WaitReason, plural
from rcsync.rules.extensions import (
    ExtensionInfo,
    LoginCache,
    Selection,
    cached_selection,
    select,
)
from rcsync.rules.interleave import next_turn
from rcsync.store import extensions as store
from rcsync.store.database import serialized_writes, translate_errors
from rcsync.sync.apply import settle_journal
from rcsync.sync.pull import PullSummary, pull_attachments, pull_messages
from rcsync.sync.push import PushSummary, push
from rcsync.types import ExtensionScope, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from rcsync.api.client import MessageStoreClient

T = TypeVar("T")

# A 404 on an extension's own paths: RingCentral no longer has that extension.
_EXTENSION_GONE_STATUS = 404
_FORBIDDEN_STATUS = 403


# --- fair turns ---------------------------------------------------------------------------


class Turnstile:
    """Lets one request leave at a time, in round-robin order among those waiting.

    Thread-safe. A participant registers (its place in the order) before its first turn
    and leaves when it is done; `turn` blocks until `next_turn` picks it. The first turn is
    given only once every participant registered at the start is waiting (or has left), so
    the first round goes in order whatever the threads' start times; after that an
    extension busy writing is skipped rather than waited for.
    """

    def __init__(self, order: Sequence[str] = ()) -> None:
        self._order: list[str] = list(order)
        self._waiting: set[str] = set()
        self._busy = False
        self._last: str | None = None
        self._opened = not self._order
        self._cond = threading.Condition()
        self.served: list[str] = []  # who went, in order (tests and benchmarks read it)

    def join(self, key: str) -> None:
        with self._cond:
            if key not in self._order:
                self._order.append(key)

    def _open(self) -> bool:
        if not self._opened and set(self._order) <= self._waiting:
            self._opened = True
        return self._opened

    def leave(self, key: str) -> None:
        with self._cond:
            if key in self._order:
                self._order.remove(key)
            self._waiting.discard(key)
            self._cond.notify_all()

    @contextlib.contextmanager
    def turn(self, key: str) -> Iterator[None]:
        with self._cond:
            self.join(key)
            self._waiting.add(key)
            self._cond.notify_all()  # this arrival may open the gate for someone else
            while (
                self._busy
                or not self._open()
                or next_turn(self._order, self._last, self._waiting) != key
            ):
                self._cond.wait()
            self._waiting.discard(key)
            self._busy, self._last = True, key
            self.served.append(key)
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class FairClient:
    """One extension's `PullClient` whose every call waits for its turn first.

    `stop` ends the pull between requests (a failed sibling, Ctrl-C in the main thread).
    """

    def __init__(
        self, inner: MessageStoreClient, key: str, gate: Turnstile, stop: threading.Event
    ) -> None:
        self.inner, self.key, self.gate, self.stop = inner, key, gate, stop

    def _go(self, call: Callable[[], T]) -> T:
        if self.stop.is_set():
            raise StopRequested("the account pull is stopping")
        with self.gate.turn(self.key):
            return call()

    def list_messages(self, **kwargs: Any) -> Any:
        return self._go(lambda: self.inner.list_messages(**kwargs))

    def full_sync(self, **kwargs: Any) -> Any:
        return self._go(lambda: self.inner.full_sync(**kwargs))

    @contextlib.contextmanager
    def stream_full_sync(self, **kwargs: Any) -> Iterator[Any]:
        """The turn covers sending the request, not reading its (long) answer: the other
        extensions' requests go on while this one's FSync streams in and is written."""
        if self.stop.is_set():
            raise StopRequested("the account pull is stopping")
        with contextlib.ExitStack() as stack:
            with self.gate.turn(self.key):
                stream = stack.enter_context(self.inner.stream_full_sync(**kwargs))
            yield stream

    def incremental_sync(self, sync_token: str, *, date_from: str | None = None) -> Any:
        return self._go(lambda: self.inner.incremental_sync(sync_token, date_from=date_from))

    def get_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]:
        return self._go(lambda: self.inner.get_messages(ids))

    def download_content(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int:
        return self._go(lambda: self.inner.download_content(uri, dest, offset=offset))


# --- routing by extension -----------------------------------------------------------------


class RoutingClient:
    """A `PushClient` that sends each message id to its own extension's paths.

    Ids of the home extension (and ids whose extension is not known) go through `client`
    as they always did; others through ``client.for_extension(id)`` (same login, same
    budget). Each extension's share is chunked by that client, so bulk limits hold.
    """

    def __init__(self, engine: Engine, client: MessageStoreClient) -> None:
        self.engine, self.client = engine, client
        self._clients: dict[str, MessageStoreClient] = {}
        with engine.connect() as conn:
            self.home = store.home_extension(conn)
            # A deleted user's paths answer nothing but 404: their ids are not sent.
            self._gone = {r.id for r in store.load_extensions(conn) if r.remote_gone}

    @property
    def budget(self) -> Any:
        return self.client.budget

    def __getattr__(self, name: str) -> Any:
        # The rest (the message-store export's calls, `pause`) is the login's whatever the
        # extension: the attachment phase's export bootstrap goes through this client too.
        return getattr(self.client, name)

    def _for(self, extension_id: str | None) -> MessageStoreClient:
        if extension_id is None or extension_id == self.home:
            return self.client
        if extension_id not in self._clients:
            self._clients[extension_id] = self.client.for_extension(extension_id)
        return self._clients[extension_id]

    def _groups(self, ids: Sequence[int]) -> list[tuple[MessageStoreClient, list[int]]]:
        return [(self._for(ext), chunk) for ext, chunk in self._by_extension(ids).items()]

    def _by_extension(self, ids: Sequence[int]) -> dict[str | None, list[int]]:
        with self.engine.connect() as conn:
            owners = store.extensions_of(conn, list(ids))
        groups: dict[str | None, list[int]] = defaultdict(list)
        for i in ids:
            owner = owners.get(i)
            groups[None if owner == self.home else owner].append(i)
        return groups

    def get_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]:
        """Each extension's share read on its path; a deleted user's ids get no answer
        (nothing is known of them: never a purge), and are not asked again."""
        out: dict[int, ItemResult] = {}
        for ext, chunk in self._by_extension(ids).items():
            if ext in self._gone:
                continue
            answers = self._for(ext).get_messages(chunk)
            if ext is not None and _path_not_found(answers, chunk) and self._is_gone(ext):
                continue
            out.update(answers)
        return out

    def _is_gone(self, extension_id: str) -> bool:
        """Whether RingCentral says this extension no longer exists (one readExtension on
        its path); if so it is marked gone, as an ISync's 404 would."""
        try:
            self._for(extension_id).read_extension()
        except ApiError as exc:
            if exc.status != _EXTENSION_GONE_STATUS:
                return False
            with self.engine.begin() as conn:
                store.mark_gone_one(conn, extension_id, iso_utc())
            self._gone.add(extension_id)
            return True
        return False

    def set_read_status(self, changes: Mapping[int, str]) -> dict[int, ItemResult]:
        out: dict[int, ItemResult] = {}
        for client, chunk in self._groups(list(changes)):
            out.update(client.set_read_status({i: changes[i] for i in chunk}))
        return out

    def restore_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]:
        out: dict[int, ItemResult] = {}
        for client, chunk in self._groups(ids):
            out.update(client.restore_messages(chunk))
        return out

    def delete_messages(self, ids: Sequence[int], *, purge: bool) -> dict[int, ItemResult]:
        out: dict[int, ItemResult] = {}
        for client, chunk in self._groups(ids):
            try:
                out.update(client.delete_messages(chunk, purge=purge))
            except AmbiguousWriteError as exc:
                # What the other extensions completed is known too; later groups unsent.
                raise AmbiguousWriteError(
                    str(exc),
                    ids=exc.ids,
                    completed={**out, **exc.completed},
                    status=exc.status,
                    code=exc.code,
                ) from None
        return out

    def download_content(self, uri: str, dest: IO[bytes], *, offset: int = 0) -> int:
        # Content URIs are absolute and name their extension: any client of the login works.
        return self.client.download_content(uri, dest, offset=offset)


def _path_not_found(answers: Mapping[int, ItemResult], chunk: Sequence[int]) -> bool:
    """Every id answered by a whole-request 404 that names no message: the path is unknown."""
    return all(
        (r := answers.get(i)) is not None and r.status == _EXTENSION_GONE_STATUS and not r.gone
        for i in chunk
    )


# --- the account pull ---------------------------------------------------------------------


@dataclass
class ExtensionPull:
    """One extension's part of an account pull."""

    info: ExtensionInfo
    summary: PullSummary | None = None
    problem: str | None = None  # why it was not (fully) pulled: 403, deleted meanwhile

    def line(self) -> str:
        if self.problem is not None:
            return f"{self.info.label()}: {self.problem}"
        assert self.summary is not None
        return f"{self.info.label()}: {self.summary.describe()}"

    def as_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "id": self.info.id,
            "number": self.info.number,
            "name": self.info.name,
            "new": s.new if s else 0,
            "updated": s.updated if s else 0,
            "requests": s.requests if s else 0,
            "full": s.full if s else False,
            "problem": self.problem,
        }


@dataclass
class AccountPullSummary(PullSummary):
    """A `PullSummary` of the whole account, plus one entry per extension pulled."""

    extensions: list[ExtensionPull] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        line = super().describe()
        if len(self.extensions) > 1:
            line += f" over {plural(len(self.extensions), 'extension')}"
        problems = [e for e in self.extensions if e.problem]
        if problems:
            line += f"; {plural(len(problems), 'extension')} not pulled"
        return line

    def merge(self, part: PullSummary) -> None:
        for name in (
            "new", "updated", "remote_deleted", "purged", "conflicts", "tombstoned", "requests",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.full = self.full or part.full


def account_mode(config: Config, only: str | None) -> bool:
    """Whether this run is an account pull (not the single-extension one of old)."""
    return only is not None or config.account.extensions != ExtensionScope.SELF


def _wanted(config: Config, only: str | None) -> ExtensionScope | tuple[str, ...]:
    return (only,) if only is not None else config.account.extensions


def resolve(
    client: MessageStoreClient, config: Config, only: str | None
) -> tuple[ExtensionInfo, Selection, list[ExtensionInfo] | None]:
    """(login, selection, the account's list if it was read). Raises ExtensionAccessError
    for what cannot be mirrored as asked; no database write happens before this."""
    login = ExtensionInfo.from_record(client.read_extension())
    wanted = _wanted(config, only)
    listed: list[ExtensionInfo] | None = None
    if login.admin and wanted != ExtensionScope.SELF:
        listed = [ExtensionInfo.from_record(r) for r in client.list_extensions()]
    picked = select(wanted, login, listed)
    # A named extension that cannot be mirrored is an error when it is all that was asked
    # for (or a plain user asks for another's): one line, nothing written.
    if picked.refused and (only is not None or not login.admin or not picked.chosen):
        raise ExtensionAccessError(picked.refused[0])
    return login, picked, listed


def resolve_cached(
    engine: Engine, client: MessageStoreClient, config: Config, only: str | None, *, full: bool
) -> tuple[ExtensionInfo, Selection] | None:
    """(login, selection) from what an earlier pull read, without a request; None when
    RingCentral must be asked again (`rcsync.rules.extensions.cached_selection`)."""
    with engine.connect() as conn:
        cache, live = store.read_login_cache(conn), store.live_extensions(conn)
    picked = cached_selection(
        _wanted(config, only),
        cache,
        live,
        client.token_owner(),
        full=full,
        now=dt.datetime.now(dt.UTC),
    )
    if picked is None or cache is None:
        return None
    return cache.login, picked


def reread_extensions(engine: Engine) -> None:
    """Make the next account pull read the login and the account's extension list again:
    for the watch daemon when RingCentral notifies that the list changed."""
    with translate_errors(engine), engine.begin() as conn:
        store.forget_login_cache(conn)


def pull_account(
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    *,
    full: bool = False,
    progress: Progress | None = None,
    only: str | None = None,
) -> PullSummary:
    """The pull of the configured extensions: their messages, then (unless ``[sync]
    download_attachments`` is off) the attachments of the account, once."""
    summary = pull_account_messages(engine, client, config, full=full, progress=progress, only=only)
    if config.sync.download_attachments:
        summary.add_attachments_of(pull_attachments(engine, client, config, progress=progress))
    return summary


def pull_account_messages(
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    *,
    full: bool = False,
    progress: Progress | None = None,
    only: str | None = None,
    extensions: Collection[str] | None = None,
) -> PullSummary:
    """The messages of the configured extensions (see the module docstring); attachments
    are a phase of their own (`rcsync.sync.pull.pull_attachments`: content is fetched by
    its own URI, whichever extension it belongs to).

    `extensions` (ids, e.g. the ones a notification names) narrows an account pull to the
    mirrored extensions among them, as the archive knows them: no request goes to who logs
    in or to the account's list, only their own pulls (`watch`: one ISync per event).
    """
    progress = progress or NullProgress()
    if not account_mode(config, only):
        summary = pull_messages(engine, client, config, full=full, progress=progress)
        with translate_errors(engine), engine.begin() as conn:
            store.adopt_home_from_rows(conn, iso_utc())
        return summary
    if extensions is not None:
        return _pull_named(engine, client, config, extensions, full=full, progress=progress)
    started = time.monotonic()
    read_at = dt.datetime.now(dt.UTC)
    cached = resolve_cached(engine, client, config, only, full=full)
    listed: list[ExtensionInfo] | None = None
    if cached is None:
        login, picked, listed = resolve(client, config, only)
    else:
        login, picked = cached
    out = AccountPullSummary(notes=[*picked.notes, *picked.refused])
    for note in out.notes:
        progress.note(note)
    with translate_errors(engine):
        now = iso_utc()
        with engine.begin() as conn:
            store.adopt_home(conn, login.id)
            if cached is None:  # what was just read; the cache itself came from these rows
                _save_read(conn, login, picked, listed, read_at, config.account.extensions)
            if listed is not None:
                for gone in store.mark_gone(conn, [e.id for e in listed], now):
                    progress.note(f"{gone.label()} is gone from RingCentral; its archive stays")
        _pull_chosen(out, engine, client, config, picked.chosen, full, progress)
    out.seconds = time.monotonic() - started
    return out


def _pull_named(
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    extensions: Collection[str],
    *,
    full: bool,
    progress: Progress,
) -> AccountPullSummary:
    """The pull of the mirrored extensions among `extensions` only (see the caller)."""
    started = time.monotonic()
    out = AccountPullSummary()
    with translate_errors(engine):
        with engine.connect() as conn:
            mirrored = store.mirrored_extensions(conn, config.account.extensions)
        chosen = [e for e in mirrored if e.id in extensions]
        _pull_chosen(out, engine, client, config, chosen, full, progress)
    out.seconds = time.monotonic() - started
    return out


def _pull_chosen(
    out: AccountPullSummary,
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    chosen: Sequence[ExtensionInfo],
    full: bool,
    progress: Progress,
) -> None:
    """Settle an interrupted push, then pull every one of `chosen` into `out`."""
    settle_journal(engine, RoutingClient(engine, client))
    writes = serialized_writes(engine)  # one thread per extension, one writer at a time
    out.extensions = _pull_each(writes, client, config, chosen, full, progress)
    for part in out.extensions:
        if part.summary is not None:
            out.merge(part.summary)


def _save_read(
    conn: Connection,
    login: ExtensionInfo,
    picked: Selection,
    listed: list[ExtensionInfo] | None,
    read_at: dt.datetime,
    configured: ExtensionScope | tuple[str, ...],
) -> None:
    """Record the extensions RingCentral just described, and that it did (the cache).

    Under ``"all"`` every User extension listed is recorded, also by a ``--extension``
    pull: they are all mirrored, so the next rounds can go by the rows alone."""
    every_user = listed is not None and configured == ExtensionScope.ALL
    seen = [login, *picked.chosen]
    if every_user:
        seen += select(ExtensionScope.ALL, login, listed).chosen
    store.record_seen(conn, seen, iso_utc(read_at))  # a login listed too: upserted twice
    cache = LoginCache(login, read_at, listed=listed is not None, every_user=every_user)
    store.save_login_cache(conn, cache)


def _pull_each(
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    chosen: Sequence[ExtensionInfo],
    full: bool,
    progress: Progress,
) -> list[ExtensionPull]:
    """Every extension's messages, in threads taking turns; failures are per extension."""
    with engine.connect() as conn:
        keys = {e.id: store.keys_for(conn, e.id) for e in chosen}
    gate = Turnstile([e.id for e in chosen])
    stop = threading.Event()
    shared = _SharedProgress(progress)
    parts = [ExtensionPull(e) for e in chosen]
    shared.begin()

    def one(part: ExtensionPull) -> None:
        ext = part.info
        fair = FairClient(client.for_extension(ext.id), ext.id, gate, stop)
        try:
            part.summary = pull_messages(
                engine, fair, config, keys[ext.id], full=full, progress=shared, settle=False
            )
        except ApiError as exc:
            if isinstance(exc, AuthError) or exc.status not in (
                _FORBIDDEN_STATUS,
                _EXTENSION_GONE_STATUS,
            ):
                stop.set()  # the others stop between requests; this error goes up
                raise
            part.problem = _problem(engine, ext, exc)
            progress.note(part.line())
            return
        except BaseException:
            stop.set()
            raise
        finally:
            gate.leave(ext.id)
        with engine.begin() as conn:
            store.set_last_pulled(conn, ext.id, iso_utc())
        shared.note(part.line())

    try:
        _run_all(one, parts, stop)
    finally:
        shared.end()
    return parts


def _problem(engine: Engine, ext: ExtensionInfo, exc: ApiError) -> str:
    if exc.status == _EXTENSION_GONE_STATUS:
        with engine.begin() as conn:
            store.mark_gone_one(conn, ext.id, iso_utc())
        return "deleted in RingCentral during the pull; its archive stays"
    # A 403: the login's permissions may have changed since they were read; read anew.
    with engine.begin() as conn:
        store.forget_login_cache(conn)
    return f"not pulled: {exc}"


def _run_all(
    work: Callable[[ExtensionPull], None], parts: list[ExtensionPull], stop: threading.Event
) -> None:
    """Run `work` on every part at once; the first error goes up after all have ended."""
    if not parts:
        return
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="rcsync-ext") as pool:
        futures: list[Future[None]] = [pool.submit(work, p) for p in parts]
        try:
            errors = [f.exception() for f in futures]
        except BaseException:
            stop.set()  # Ctrl-C: every extension stops at its next request
            raise
    first = next((e for e in errors if e is not None and not isinstance(e, StopRequested)), None)
    if first is None:
        first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first


class _SharedProgress:
    """The account's one progress bar, fed by every extension's thread.

    Each extension's listing announces its size when it starts; the account bar's total is
    the sum of those known so far. Lines (notes) say when each extension is done.
    """

    def __init__(self, parent: Progress) -> None:
        self.parent = parent
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0

    def begin(self) -> None:
        self.parent.start("messages")

    def end(self) -> None:
        self.parent.finish()

    def start(self, phase: str, total: int | None = None) -> None:
        if total is None:
            return
        with self._lock:
            self._total += total
            self.parent.start(phase, self._total)  # a bar's start counts from zero again
            if self._done:
                self.parent.advance(self._done)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._done += n
            self.parent.advance(n)

    def discount(self, n: int) -> None:
        with self._lock:
            self.parent.discount(n)

    def finish(self) -> None:
        pass  # one extension's end is not the account's

    def note(self, message: str) -> None:
        with self._lock:
            self.parent.note(message)

    def hint(self, message: str) -> None:
        pass  # per-extension estimates would only interleave; the account bar speaks

    def waiting(self, reason: WaitReason, seconds: float | None, detail: str) -> None:
        with self._lock:
            self.parent.waiting(reason, seconds, detail)


# --- push ---------------------------------------------------------------------------------


def push_account(
    engine: Engine,
    client: MessageStoreClient,
    config: Config,
    **kwargs: Any,
) -> PushSummary:
    """`rcsync.sync.push.push` with each edit sent to its message's extension path."""
    return push(engine, RoutingClient(engine, client), config, **kwargs)
