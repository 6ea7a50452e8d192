"""One engine per database, across real processes: a running watch refuses (or, with --wait,
outlasts) a second engine, and names itself as the holder."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from rcsync.errors import LockedError
from rcsync.store.lock import engine_lock
from tests.harness.loopback import WatchSetup

pytestmark = pytest.mark.slow


def test_second_watch_is_refused_and_told_who_holds_the_database(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup = make_setup(messages=20)
    first = setup.watch("--interval", "60")
    first.wait_log("watching")
    second = setup.rcsync("watch", "--interval", "60", timeout=30)
    assert second.returncode == 1
    assert f"rcsync watch (pid {first.pid})" in second.stderr
    assert "--wait" in second.stderr
    assert second.stderr.count("\n") == 1  # one line, no traceback
    # ...and so is any engine in another process (here: this test process).
    with pytest.raises(LockedError, match=f"pid {first.pid}"), engine_lock(setup.db):
        pass
    assert first.stop() == 0


@pytest.mark.parametrize("command", ["pull", "push", "sync"])
def test_pull_push_sync_are_refused_while_watch_runs(
    make_setup: Callable[..., WatchSetup], command: str
) -> None:
    setup = make_setup(messages=20)
    first = setup.watch("--interval", "60")
    first.wait_log("watching")
    other = setup.rcsync(command, timeout=30)
    if "not implemented" in other.stderr:
        pytest.skip(f"`rcsync {command}` is still a placeholder")
    assert other.returncode == 1
    assert f"rcsync watch (pid {first.pid})" in other.stderr
    assert first.stop() == 0


def test_watch_with_wait_starts_when_the_holder_finishes(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup = make_setup(messages=20)
    first = setup.watch("--interval", "60")
    first.wait_log("watching")
    second = setup.watch("--interval", "60", "--wait", name="second")
    time.sleep(2)
    assert second.popen.poll() is None
    assert "watching" not in second.log()
    assert first.stop() == 0
    second.wait_log("watching", timeout=10)
    assert second.stop() == 0


def test_sigterm_while_waiting_for_the_lock_exits_0(make_setup: Callable[..., WatchSetup]) -> None:
    setup = make_setup(messages=20)
    first = setup.watch("--interval", "60")
    first.wait_log("watching")
    second = setup.watch("--interval", "60", "--wait", name="second")
    second.wait_log(f"waiting: {setup.db}: in use by rcsync watch (pid {first.pid})")
    assert second.stop() == 0, second.log()
    assert "watching" not in second.log()
    assert first.stop() == 0


def test_watch_waits_for_an_engine_in_another_process(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup = make_setup(messages=20)
    setup.first_pull()
    with engine_lock(setup.db, what="pull"):
        refused = setup.rcsync("watch", timeout=30)
        assert refused.returncode == 1
        assert "rcsync pull (pid" in refused.stderr
