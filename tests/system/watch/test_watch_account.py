"""`watch` over an account archive of 3 extensions, the emulator's gateway on loopback: a
notification for one extension costs one ISync of that extension alone, and events lost
with a failed recovery cost one ISync of every extension."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from rcsync.api import build_client
from rcsync.emulator import Emulator, serve
from rcsync.store.database import open_database
from rcsync.sync.account import pull_account
from rcsync.watch import run_watch, watch_filters
from rcsync.watch.channel import Channel
from rcsync.watch.notices import Hint, Inbox, Notice
from rcsync.watch.runner import EngineWorker, Waker
from rcsync.watch.schedule import Outcome
from tests.harness.extensions import account_config, server_ids, stored_ids
from tests.harness.processes import wait_for
from tests.harness.transports import Recording

WAIT = 20.0
ORDER = itertools.count()  # one sequence for notices and pulls: which came first


class Notices(Inbox):
    """The channel's inbox, remembering when each notice was posted."""

    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__(wake)
        self.posted: list[tuple[int, Notice]] = []

    def post(self, notice: Notice) -> None:
        self.posted.append((next(ORDER), notice))
        super().post(notice)


@dataclass
class Pulls(EngineWorker):
    """The engine worker, remembering when each pull began and ended, and of what."""

    done: list[tuple[int, int, frozenset[str] | None]] = field(default_factory=list)

    def pull(self) -> Outcome:
        return self._timed(None, super().pull)

    def pull_extensions(self, extensions: frozenset[str]) -> Outcome:
        return self._timed(extensions, lambda: super(Pulls, self).pull_extensions(extensions))

    def _timed(self, what: frozenset[str] | None, pull: Callable[[], Outcome]) -> Outcome:
        began = next(ORDER)
        outcome = pull()
        self.done.append((began, next(ORDER), what))
        return outcome


@dataclass
class Account:
    emu: Emulator
    ids: list[str]
    control: httpx.Client
    sent: Recording
    worker: Pulls
    notices: Notices
    channel: Channel

    def isyncs(self) -> dict[str, int]:
        """Message-sync requests sent since the last call, per extension id."""
        out: dict[str, int] = {}
        for (_method, path), n in self.sent.take().items():
            if path.endswith("/message-sync"):
                ext = path.split("/extension/")[1].split("/")[0]
                out[ext] = out.get(ext, 0) + n
        return out

    def settled(self, seq: int) -> None:
        """Wait until the last every-extension hint posted (after `seq`) has had a full pull
        begin after it and end: nothing the channel asked for is left to do."""

        def done() -> bool:
            hints = [s for s, n in self.notices.posted if n == Hint(None) and s > seq]
            return bool(hints) and any(
                b > hints[-1] and what is None for b, _e, what in self.worker.done
            )

        wait_for(done, WAIT, "the full pull after the channel's every-extension hint")

    def pulled_after(self, seq: int) -> list[frozenset[str] | None]:
        return [what for b, _e, what in self.worker.done if b > seq]


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    emu = Emulator(messages=20, seed=5, extensions=3, rate_limits=False)
    with serve(emu) as server, httpx.Client(base_url=server.url) as control:
        config = account_config(tmp_path, watch_interval=300)
        config = dataclasses.replace(
            config, ringcentral=dataclasses.replace(config.ringcentral, server=server.url)
        )
        sent = Recording(httpx.HTTPTransport())
        client = build_client(config.ringcentral, transport=sent)
        engine = open_database(config.database.path)
        pull_account(engine, client, config)  # the archive knows its 3 extensions
        waker = Waker()
        worker = Pulls(engine, client, config)
        notices = Notices(waker.nudge)
        channel = Channel(
            client.session,
            engine,
            notices,
            watch_filters(config, engine),
            wanted=lambda: watch_filters(config, engine),
        )
        ids = sorted((str(e.id) for e in emu.account), key=int)
        errors: list[BaseException] = []

        def target() -> None:
            try:
                run_watch(worker, config.database.path, waker, interval=300, channel=channel)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        try:
            yield Account(emu, ids, control, sent, worker, notices, channel)
        finally:
            waker.request_stop()
            thread.join(WAIT)
            client.close()
            engine.dispose()
        assert not errors, errors


def test_an_event_for_one_extension_is_one_isync_of_that_extension(account: Account) -> None:
    account.settled(-1)  # connected, and the first pull of everything is done
    start = next(ORDER)
    account.sent.take()
    one = account.ids[1]
    answer = account.control.post("/_emulator/messages", json={"count": 1, "extension": one})
    assert answer.status_code == 201
    wait_for(
        lambda: stored_ids(account.worker.engine, int(one)) == server_ids(account.emu, int(one)),
        WAIT,
        "the new message of the second extension in the archive",
    )
    wait_for(lambda: account.pulled_after(start), WAIT, "the end of that pull")
    # Nothing else: no ISync of the others, no re-reading who logs in or the account's list.
    path = f"/restapi/v1.0/account/~/extension/{one}/message-sync"
    assert account.sent.take() == {("GET", path): 1}
    assert account.pulled_after(start) == [frozenset({one})]


def test_events_lost_with_a_failed_recovery_cost_one_isync_of_every_extension(
    account: Account,
) -> None:
    account.settled(-1)
    # The reconnect comes after a backoff of at least 1 s: past this window, so the
    # session is not recovered and its events are lost.
    answer = account.control.put("/_emulator/config", json={"websocket": {"recovery_timeout": 0.3}})
    assert answer.status_code == 200, answer.text
    start = next(ORDER)
    account.isyncs()
    assert account.control.post("/_emulator/ws/drop").status_code == 200
    account.settled(start)
    assert account.pulled_after(start) == [None]
    assert account.isyncs() == {ext: 1 for ext in account.ids}


def test_an_extension_list_event_has_the_new_user_mirrored_at_once(account: Account) -> None:
    """The account pulls go by a cached extension list (an hour); the list's event must
    make the pull it asks for read the list again, so a new user is mirrored now."""
    account.settled(-1)
    start = next(ORDER)
    answer = account.control.post("/_emulator/extensions", json={"count": 1})
    assert answer.status_code in (200, 201), answer.text
    known = {str(e.id) for e in account.emu.account}
    (new,) = known - set(account.ids)
    account.settled(start)
    wait_for(
        lambda: stored_ids(account.worker.engine, int(new)) == server_ids(account.emu, int(new)),
        WAIT,
        "the new user's messages in the archive",
    )
    assert server_ids(account.emu, int(new)), "the emulator gave the new user messages"


def test_a_new_users_filter_is_followed_by_one_isync_of_them(account: Account) -> None:
    """Between the new user's first pull and the subscription update their messages have no
    event: once the gateway takes the new filter, one ISync of that user alone covers it."""
    account.settled(-1)
    start = next(ORDER)
    answer = account.control.post("/_emulator/extensions", json={"count": 1})
    assert answer.status_code == 201, answer.text
    new = str(answer.json()["records"][0]["id"])
    wait_for(
        lambda: Hint(frozenset({new})) in [n for s, n in account.notices.posted if s > start],
        WAIT,
        "the channel's hint for the new user, after the subscription update",
    )
    wait_for(lambda: frozenset({new}) in account.pulled_after(start), WAIT, "the new user's ISync")
    [held] = account.control.get("/_emulator/ws").json()["subscriptions"]
    assert any(f"/extension/{new}/message-store" in f for f in held["eventFilters"])
