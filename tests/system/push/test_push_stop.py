"""A stop request ends a push between write batches, never inside one.

The in-process emulator counts the requests; the stop is requested from the push's own
progress callback right after a batch is saved, so the test is deterministic.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable

import httpx

from rcsync.progress import NullProgress
from rcsync.store.state import get_state
from tests.harness.inprocess import PushEnv


class StopAfter(NullProgress):
    """Sets `stop` once `batches` batches have been sent and saved."""

    def __init__(self, stop: threading.Event, batches: int = 1) -> None:
        self.stop, self.left = stop, batches

    def advance(self, n: int = 1) -> None:
        self.left -= 1
        if self.left <= 0:
            self.stop.set()


class RecordDeletes(httpx.BaseTransport):
    """Forwards to the emulator and records the ids of every DELETE sent."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.deleted: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            last = request.url.path.rstrip("/").rsplit("/", 1)[-1]
            self.deleted += [int(i) for i in re.findall(r"\d+", last)]
        return self.inner.handle_request(request)


def _trash(env: PushEnv, count: int) -> list[int]:
    victims = env.ids("availability = 'Alive'", count)
    assert len(victims) == count, "the emulator's seed has too few Alive messages"
    env.sql(
        f"UPDATE message SET availability = 'Deleted' WHERE id IN ({','.join(map(str, victims))})"
    )
    return victims


def _deleted(env: PushEnv, ids: list[int]) -> list[int]:
    return [i for i in ids if env.remote(i)["availability"] == "Deleted"]


def test_stop_after_the_first_batch_sends_only_that_batch(make_env: Callable[..., PushEnv]) -> None:
    env = make_env(messages=300)
    victims = _trash(env, 120)  # 3 DELETE batches of 50, 50, 20
    recorder = RecordDeletes(env.emu.transport())
    stop = threading.Event()

    first = env.push(client=env.client(recorder), force=True, stop=stop, progress=StopAfter(stop))

    assert env.emu.counters.by_operation["deleteMessage"] == 1
    assert len(recorder.deleted) == 50
    assert sorted(_deleted(env, victims)) == sorted(recorder.deleted)
    assert (first.stopped, first.pushed, first.left, first.failed) == (True, 50, 70, 0)
    assert first.line().endswith("; stopped early; 70 edits left pending")
    assert first.describe() == first.line()
    assert len(env.pending()) == 70
    with env.engine.connect() as conn:  # the sent batch was settled, nothing is in flight
        assert get_state(conn, "push_in_flight") is None

    second = env.push(client=env.client(recorder))

    assert not second.stopped and second.failed == 0 and second.pushed == 70
    assert env.emu.counters.by_operation["deleteMessage"] == 1 + math.ceil(70 / 50)
    assert len(recorder.deleted) == len(set(recorder.deleted)) == 120  # none trashed twice
    assert sorted(_deleted(env, victims)) == victims
    assert env.pending() == []
    env.assert_mirror_equals_server()


def test_stop_requested_before_the_push_sends_no_write(env: PushEnv) -> None:
    victims = _trash(env, 3)
    stop = threading.Event()
    stop.set()
    summary = env.push(stop=stop)
    assert env.writes() == 0
    assert (summary.stopped, summary.pushed, summary.left) == (True, 0, 3)
    assert len(env.pending()) == 3
    assert _deleted(env, victims) == []
    env.push()
    assert sorted(_deleted(env, victims)) == victims and env.pending() == []


def test_a_stop_mid_sync_skips_the_pull_after_the_push(make_env: Callable[..., PushEnv]) -> None:
    from rcsync.sync.reconcile import sync

    env = make_env(messages=150)
    _trash(env, 60)
    stop = threading.Event()
    summary = sync(env.engine, env.client(), env.config, stop=stop, progress=StopAfter(stop))
    assert summary.push.stopped and summary.push.left == 10
    assert summary.pulled_after is None
    assert "stopped early; 10 edits left pending" in summary.line()
    assert env.emu.counters.by_operation["deleteMessage"] == 1
