"""`rcsync watch` as a real process with push notifications (loopback emulator): a change made
remotely lands locally long before the periodic pull (watch_interval 300) could bring it."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.harness import config as harness_config
from tests.harness.loopback import WatchSetup as Setup
from tests.harness.processes import wait_for

# Far below watch_interval (300 s): only a notification can bring a change this fast.
ARRIVAL = 2.0


def write_config(root: Path, url: str, *, interval: float) -> Path:
    """The setup's config file again, with another watch interval."""
    return harness_config.write_config(
        root / "config.toml",
        server=url,
        token_file=root / "tokens.json",
        db=root / "messages.db",
        watch_interval=interval,
    )


def control(setup: Setup, method: str, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.request(method, setup.url + path, json=body)
    assert answer.is_success, answer.text
    return answer.json()


def local(setup: Setup, message_id: int) -> tuple[str, ...] | None:
    rows = setup.query("SELECT read_status FROM message WHERE id = ?", (message_id,))
    return tuple(rows[0]) if rows else None


def test_remote_arrivals_and_changes_land_within_two_seconds(
    make_setup: Callable[..., Setup],
) -> None:
    setup = make_setup()
    write_config(setup.root, setup.url, interval=300)
    setup.first_pull()
    proc = setup.watch()
    proc.wait_log("push notifications: connected")
    proc.wait_log("pulled")  # the start's pulls are over
    created = control(setup, "POST", "/_emulator/messages", {"count": 1})
    new_id = int(created["records"][0]["id"])
    wait_for(lambda: local(setup, new_id), ARRIVAL, "the new message in the database")
    flipped = "Read" if local(setup, new_id) == ("Unread",) else "Unread"
    control(setup, "PATCH", f"/_emulator/messages/{new_id}", {"readStatus": flipped})
    wait_for(lambda: local(setup, new_id) == (flipped,), ARRIVAL, "the remote read status")
    status = setup.rcsync("status")
    assert "channel      connected since" in status.stdout, status.stdout
    assert proc.stop(signal.SIGTERM) == 0
    assert "stopped at" in setup.rcsync("status").stdout


def test_after_sigkill_status_no_longer_says_connected(
    make_setup: Callable[..., Setup],
) -> None:
    """A killed watch cannot record that it stopped: status checks that the process that
    wrote "connected" still holds the database's engine lock."""
    setup = make_setup()
    setup.first_pull()
    proc = setup.watch()
    proc.wait_log("push notifications: connected")
    wait_for(
        lambda: "channel      connected since" in setup.rcsync("status").stdout,
        20,
        "status saying connected",
    )
    assert json.loads(setup.rcsync("status", "--json").stdout)["notifications"]["running"]
    proc.kill()  # SIGKILL, and reaped: the pid is gone
    status = setup.rcsync("status")
    assert "channel      not running (last connected since" in status.stdout, status.stdout
    assert "or later" in status.stdout
    report = json.loads(setup.rcsync("status", "--json").stdout)["notifications"]
    assert report["running"] is False
    assert report["state"] == "connected"  # what the killed watch last recorded, kept
    assert report["pid"] == proc.pid


def test_a_restarted_watch_resumes_its_notification_session(
    make_setup: Callable[..., Setup],
) -> None:
    setup = make_setup()
    setup.first_pull()
    first = setup.watch()
    first.wait_log("push notifications: connected")
    assert first.stop() == 0
    second = setup.watch(name="again")
    second.wait_log("push notifications: connected (session recovered")
    assert second.stop() == 0


def test_without_the_websocket_permission_watch_warns_once_and_polls(
    make_setup: Callable[..., Setup],
) -> None:
    setup = make_setup()
    setup.first_pull()
    control(setup, "PUT", "/_emulator/config", {"websocket": {"permission": False}})
    proc = setup.watch()
    proc.wait_log("push notifications unavailable")
    created = control(setup, "POST", "/_emulator/messages", {"count": 1})
    new_id = int(created["records"][0]["id"])
    # watch_interval is 1 s here: polling brings it.
    wait_for(lambda: local(setup, new_id), 30, "the new message, by polling")
    assert proc.log().count("push notifications unavailable") == 1
    assert proc.stop() == 0
    assert "unavailable" in setup.rcsync("status").stdout
