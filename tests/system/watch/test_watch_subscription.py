"""`rcsync watch` as a real process over an account archive (3 users, watch_interval 300, so
the safety ISync is an hour away): the WebSocket subscription follows the mirrored users.
A user added in RingCentral is subscribed to as soon as the pull their extension-list event
asks for has mirrored them, so their next message arrives by its own event; a deleted
user's filter leaves the subscription; both changes reach sync_state and `status`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rcsync.api.notifications import EXTENSION_LIST_FILTER, filter_extension
from rcsync.store.state import WS_SESSION
from tests.harness.extensions import server_ids
from tests.harness.loopback import WatchSetup
from tests.harness.processes import WatchProcess, wait_for

pytestmark = pytest.mark.slow

WAIT = 20.0


def _subscribed(setup: WatchSetup) -> set[str]:
    """The extensions the emulator's one subscription watches (ids, from its filters)."""
    with httpx.Client(base_url=setup.url) as ctl:
        subs = ctl.get("/_emulator/ws").json()["subscriptions"]
    live = [s for s in subs if s["connected"]]
    if len(live) != 1:
        return set()
    return {e for f in live[0]["eventFilters"] if (e := filter_extension(f)) is not None}


def _saved_filters(setup: WatchSetup) -> set[str]:
    """What sync_state keeps for a restarted watch: the filters of the subscription."""
    rows = setup.query("SELECT value FROM sync_state WHERE key = ?", (WS_SESSION,))
    return set(json.loads(rows[0][0])["filters"]) if rows else set()


def _local_ids(setup: WatchSetup, extension: str) -> set[int]:
    rows = setup.query("SELECT id FROM message WHERE extension_id = ?", (extension,))
    return {int(r[0]) for r in rows}


def _control(setup: WatchSetup, method: str, path: str, body: Any = None) -> Any:
    with httpx.Client(base_url=setup.url) as ctl:
        answer = ctl.request(method, path, json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def _watching(make_setup: Callable[..., WatchSetup]) -> tuple[WatchSetup, WatchProcess, set[str]]:
    setup = make_setup(messages=10, extensions=3, interval=300)
    setup.first_pull()
    ids = {str(e.id) for e in setup.emu.account}
    watch = setup.watch()
    watch.wait_log("push notifications: connected")
    wait_for(lambda: _subscribed(setup) == ids, WAIT, "the subscription to the 3 users")
    return setup, watch, ids


def test_a_user_added_mid_watch_has_their_messages_by_event(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup, watch, ids = _watching(make_setup)
    [added] = _control(setup, "POST", "/_emulator/extensions", {"count": 1, "messages": 3})[
        "records"
    ]
    new = str(added["id"])
    # The extension-list event's pull mirrors the new user (that much needs no update)...
    wait_for(
        lambda: _local_ids(setup, new) == server_ids(setup.emu, int(new)) != set(),
        WAIT,
        "the new user's first pull",
    )
    # ...and the subscription follows (posted before this, a message would also come by
    # the one ISync of the new user that follows the update, with no event at all)...
    wait_for(lambda: _subscribed(setup) == {*ids, new}, WAIT, "the new user's filter")
    # ...so a message to them now comes by its own event, not the hourly ISync.
    [message] = _control(setup, "POST", "/_emulator/messages", {"count": 1, "extension": int(new)})[
        "records"
    ]
    wait_for(
        lambda: int(message["id"]) in _local_ids(setup, new),
        WAIT,
        "the new user's message in the archive, by its event",
    )
    events = [line for line in watch.log().splitlines() if "notification: " in line]
    assert any(f"/extension/{new}/message-store" in line for line in events), watch.log()
    wait_for(
        lambda: any(new in f for f in _saved_filters(setup)), WAIT, "the new filter in sync_state"
    )
    assert EXTENSION_LIST_FILTER in _saved_filters(setup)
    status = setup.rcsync("status")
    assert status.returncode == 0, status.stderr
    assert "subscription updated" in status.stdout
    assert "(1 event filter added)" in status.stdout
    assert "Traceback" not in watch.log()


def test_a_deleted_users_filter_leaves_the_subscription(
    make_setup: Callable[..., WatchSetup],
) -> None:
    setup, watch, ids = _watching(make_setup)
    gone = max(ids, key=int)  # not the admin, who cannot be deleted
    _control(setup, "DELETE", f"/_emulator/extensions/{gone}")
    wait_for(lambda: _subscribed(setup) == ids - {gone}, WAIT, "the subscription without them")
    wait_for(
        lambda: _saved_filters(setup) and not any(gone in f for f in _saved_filters(setup)),
        WAIT,
        "sync_state without their filter",
    )
    # Their archive stays: a user deleted in RingCentral is never a delete here.
    assert _local_ids(setup, gone)
    status = setup.rcsync("status")
    assert "(1 event filter removed)" in status.stdout, status.stdout
    assert "Traceback" not in watch.log()


def test_a_user_deleted_while_no_watch_ran_does_not_end_notifications(
    make_setup: Callable[..., WatchSetup],
) -> None:
    """The archive still lists them when the next watch starts. The channel reads the filters
    when it connects, after the first pull has marked them gone (the 404 on their path), so
    it subscribes to the others; the filters read when `watch` started would name them and
    be refused. (A connection before that pull is refused and retried after one:
    test_watch_channel covers that order.)"""
    setup, watch, ids = _watching(make_setup)
    assert watch.stop() == 0
    gone = max(ids, key=int)
    _control(setup, "DELETE", f"/_emulator/extensions/{gone}")
    again = setup.watch()
    wait_for(lambda: _subscribed(setup) == ids - {gone}, WAIT, "the subscription to the others")
    again.wait_log("push notifications: connected")
    assert "pulling every watch_interval instead" not in again.log()
    assert _local_ids(setup, gone)  # their archive stays
