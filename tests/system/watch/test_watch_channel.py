"""The watch's notification thread (`rcsync.watch.channel`) against the emulator's gateway on
loopback, with a real database: hints, what is kept for a restart, drop and recovery,
timeouts, and the fallback to polling."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcsync.api import build_client
from rcsync.api.notifications import message_store_filter
from rcsync.config import RingCentralConfig
from rcsync.emulator import Emulator, serve
from rcsync.store.database import open_database
from rcsync.store.state import WS_CHANNEL, WS_SESSION, read_state
from rcsync.watch.backoff import Backoff
from rcsync.watch.channel import Channel, State
from rcsync.watch.notices import ChannelState, Hint, Inbox, Notice
from tests.harness.account import EMULATOR_CREDENTIALS
from tests.harness.processes import wait_for

WAIT = 10.0


class Notices:
    """An inbox that remembers every notice, and waits for one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seen: list[Notice] = []
        self.inbox = Inbox(self._woken)

    def _woken(self) -> None:
        with self._cond:
            self.seen += self.inbox.take()
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Notice]], bool]) -> list[Notice]:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.seen), WAIT), self.seen
            return list(self.seen)

    def clear(self) -> None:
        with self._cond:
            self.seen.clear()


def ups(notices: list[Notice]) -> int:
    return sum(1 for n in notices if n == ChannelState(up=True))


class World:
    def __init__(self, tmp_path: Path, url: str, emu: Emulator) -> None:
        self.emu = emu
        self.extension = str(emu.world.profile.extension_id)
        self.control = httpx.Client(base_url=url)
        cfg = RingCentralConfig(
            server=url, **EMULATOR_CREDENTIALS, token_file=tmp_path / "tokens.json"
        )
        self.client = build_client(cfg)
        self.engine = open_database(tmp_path / "messages.db")
        self.channels: list[Channel] = []

    def channel(self, **kw: Any) -> tuple[Channel, Notices]:
        notices = Notices()
        channel = Channel(
            self.client.session, self.engine, notices.inbox, [message_store_filter()], **kw
        )
        self.channels.append(channel)
        channel.start()
        return channel, notices

    def config(self, **websocket: Any) -> None:
        answer = self.control.put("/_emulator/config", json={"websocket": websocket})
        assert answer.status_code == 200, answer.text

    def new_message(self) -> None:
        assert self.control.post("/_emulator/messages", json={"count": 1}).status_code == 201

    def wstokens(self) -> int:
        ops = self.control.get("/_emulator/requests").json()["by_operation"]
        return int(ops.get("authWsToken", 0))

    def recorded(self) -> dict[str, Any]:
        text = read_state(self.engine, WS_CHANNEL)
        assert text is not None
        value: dict[str, Any] = json.loads(text)
        return value

    def recorded_if(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The record when `wanted` holds for it (else None: `wait_for` asks again; also
        while nothing is recorded yet, the channel's thread may be about to)."""
        if read_state(self.engine, WS_CHANNEL) is None:
            return None
        value = self.recorded()
        return value if wanted(value) else None


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    emu = Emulator(messages=20, seed=4, rate_limits=True)
    with serve(emu) as server:
        w = World(tmp_path, server.url, emu)
        yield w
        for channel in w.channels:
            channel.close()
        w.client.close()
        w.control.close()
        w.engine.dispose()


def test_events_become_hints_for_their_extension(world: World) -> None:
    channel, notices = world.channel()
    # Up, then one pull of everything: events before the subscription would be lost.
    first = notices.wait_for(lambda n: Hint(None) in n)
    assert first[0] == ChannelState(up=True)
    world.new_message()
    notices.wait_for(lambda n: Hint(frozenset({world.extension})) in n)
    # The hint goes to the loop first (its pull starts at once); the record for `status`
    # is written just after, in the channel's thread: wait for it, however loaded the box.
    recorded = wait_for(lambda: world.recorded_if(lambda r: r["events"] == 1), WAIT, "1 event")
    assert recorded["state"] == State.CONNECTED
    assert recorded["connected_since"] and recorded["last_event"]
    channel.close()
    wait_for(lambda: world.recorded_if(lambda r: r["state"] == State.STOPPED), WAIT, "stopped")
    assert notices.seen[-1] == ChannelState(up=False)


def test_a_restart_within_the_window_resumes_and_gets_the_missed_events(world: World) -> None:
    first, notices = world.channel()
    notices.wait_for(lambda n: Hint(None) in n)
    first.close()
    assert read_state(world.engine, WS_SESSION) is not None
    world.new_message()  # while no watch runs
    world.new_message()
    _second, again = world.channel()
    seen = again.wait_for(lambda n: n.count(Hint(frozenset({world.extension}))) == 2)
    assert Hint(None) not in seen  # recovered: no need to pull everything
    assert world.control.get("/_emulator/ws").json()["connections"] == 1


def test_a_restart_after_the_window_subscribes_again_and_pulls_everything(world: World) -> None:
    world.config(recovery_timeout=0.3)
    first, notices = world.channel()
    notices.wait_for(lambda n: Hint(None) in n)
    first.close()
    world.new_message()  # lost with the session
    time.sleep(0.6)
    _second, again = world.channel()
    again.wait_for(lambda n: Hint(None) in n)
    world.new_message()
    again.wait_for(lambda n: Hint(frozenset({world.extension})) in n)


def test_a_dropped_connection_is_recovered_with_the_events_of_the_gap(world: World) -> None:
    _channel, notices = world.channel()
    notices.wait_for(lambda n: Hint(None) in n)
    notices.clear()
    world.control.post("/_emulator/ws/drop")
    world.new_message()  # possibly before the reconnect: replayed on recovery
    seen = notices.wait_for(lambda n: ups(n) == 1 and Hint(frozenset({world.extension})) in n)
    assert seen[0] == ChannelState(up=False)
    assert Hint(None) not in seen
    assert world.wstokens() == 2


def test_heartbeats_keep_an_idle_channel_open(world: World) -> None:
    world.config(idle_timeout=0.9)
    _channel, notices = world.channel()
    notices.wait_for(lambda n: Hint(None) in n)
    time.sleep(2.5)  # almost three idle timeouts
    world.new_message()
    seen = notices.wait_for(lambda n: Hint(frozenset({world.extension})) in n)
    assert ChannelState(up=False) not in seen and world.wstokens() == 1


def test_the_absolute_timeout_reconnects_and_recovers(world: World) -> None:
    world.config(absolute_timeout=1.0)
    _channel, notices = world.channel()
    seen = notices.wait_for(lambda n: ups(n) >= 2)
    assert ChannelState(up=False) in seen
    assert seen.count(Hint(None)) == 1  # the second connection recovered the session


def test_no_websocket_permission_is_one_warning_then_polling(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.config(permission=False)
    caplog.set_level(logging.WARNING, logger="rcsync.watch")
    channel, _notices = world.channel()
    assert channel._thread is not None
    channel._thread.join(WAIT)
    assert not channel._thread.is_alive()  # given up, not retrying
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "CMN-401" in warnings[0]
    assert world.recorded()["state"] == State.UNAVAILABLE
    assert world.wstokens() == 1


# RingCentral documents no code for a filter naming a deleted user: the emulator's own, and
# the documented "other extensions" refusal a client cannot tell from a permission one.
UNKNOWN_USER_CODES = ("SUB-408", "SUB-405")


@pytest.mark.parametrize("code", UNKNOWN_USER_CODES)
def test_a_user_the_gateway_does_not_know_is_a_retry_after_a_pull_not_the_end(
    world: World, code: str
) -> None:
    """The archive still lists a user RingCentral deleted (while no watch ran): the gateway
    refuses the subscription. That is no missing permission: the channel asks for a pull of
    everything (whose 404 marks the user gone) and subscribes to what is wanted then."""
    world.config(unknown_user_code=code)
    wanted = [message_store_filter(), message_store_filter("999")]  # 999: deleted
    channel, notices = world.channel(
        wanted=lambda: list(wanted), backoff=Backoff(base=0.2, cap=0.4)
    )
    notices.wait_for(lambda n: Hint(None) in n)
    assert ChannelState(up=True) not in notices.seen
    recorded = wait_for(
        lambda: world.recorded_if(lambda r: r["state"] == State.RECONNECTING), WAIT, "a retry"
    )
    assert code in recorded["detail"]
    del wanted[1]  # what the pull leaves: the deleted user marked gone
    notices.wait_for(lambda n: ChannelState(up=True) in n)
    assert channel.state is State.CONNECTED


@pytest.mark.parametrize("code", UNKNOWN_USER_CODES)
def test_the_same_filters_refused_again_after_a_pull_are_given_up(
    world: World, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A refusal that a pull with the list read anew does not cure is a real one: one
    warning, then polling, not a reconnect every two minutes for ever."""
    world.config(unknown_user_code=code)
    wanted = [message_store_filter(), message_store_filter("999")]
    channel, notices = world.channel(
        wanted=lambda: list(wanted), backoff=Backoff(base=0.2, cap=0.4)
    )
    notices.wait_for(lambda n: Hint(None) in n)  # the pull it asks for
    assert channel.state is not State.UNAVAILABLE
    channel.refresh()  # that pull ran (as the loop tells the channel) and changed nothing
    assert channel._thread is not None
    channel._thread.join(WAIT)
    assert not channel._thread.is_alive()  # given up, not retrying
    assert world.recorded()["state"] == State.UNAVAILABLE
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert code in warnings[-1] and "pulling every watch_interval" in warnings[-1]
