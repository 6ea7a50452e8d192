"""A lone UTF-16 surrogate in one record never wedges the mirror (issue 10, case 7).

An SMS cut inside an emoji reaches the client as ``"\\ud83d"``. Between real `rcsync`
processes and the served emulator sits a loopback proxy that cuts one message's subject
that way in every answer. On the main of before the fix every pull failed at that page
with a UnicodeEncodeError traceback, and `watch` stopped on it.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.harness.harsh import relay, surrogate_subject
from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote, integrity_ok

CUT = "cut inside an emoji \ud83d"


@contextmanager
def cutting_proxy(upstream: str, message_id: int) -> Iterator[str]:
    """A loopback HTTP proxy to `upstream` that cuts `message_id`'s subject."""
    with relay(upstream, lambda inner: surrogate_subject(inner, message_id, CUT)) as url:
        yield url


def _an_sms(env: Served) -> int:
    return min(
        i for i, r in env.remote().items() if r["type"] == "SMS" and r["availability"] == "Alive"
    )


def test_pull_keeps_a_record_with_a_lone_surrogate(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=2_500)  # the record sits on one of three pages
    sms = _an_sms(env)
    with cutting_proxy(env.url, sms) as proxy:
        config = env.config_file(rc={"server": proxy})
        first = env.run("pull", config=config)
        assert first.returncode == 0, first.stderr
        subject, text, raw = env.rows(f"SELECT subject, text, raw FROM message WHERE id = {sms}")[0]
        assert subject == text == "cut inside an emoji \ufffd"
        assert json.loads(raw)["subject"] == CUT  # raw as received, losslessly escaped
        env.ctl.patch(f"/_emulator/messages/{sms}", json={"readStatus": "Read"})
        env.post("/_emulator/messages", {"count": 3})
        again = env.run("pull", config=config)
        assert again.returncode == 0, again.stderr
        found = env.run("search", "emoji", config=config)
        assert found.returncode == 0, found.stderr
        assert "cut inside an emoji" in found.stdout  # full-text search finds it
    assert env.scalar(f"SELECT read_status FROM message WHERE id = {sms}") == "Read"
    assert_mirror_matches_remote(env)
    integrity_ok(env)


def test_watch_is_not_stopped_by_a_lone_surrogate(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=300)
    sms = _an_sms(env)
    with cutting_proxy(env.url, sms) as proxy:
        watch = env.popen(
            "watch", "--interval", "0.5", config=env.config_file(rc={"server": proxy})
        )
        try:
            deadline = time.monotonic() + 60
            while env.scalar("SELECT count(*) FROM sqlite_master") == 0 or not env.rows(
                f"SELECT 1 FROM message WHERE id = {sms}"
            ):
                assert watch.poll() is None, watch.communicate()
                assert time.monotonic() < deadline, "watch never stored the record"
                time.sleep(0.2)
            env.post("/_emulator/messages", {"count": 2})
            time.sleep(2)
            assert watch.poll() is None, watch.communicate()  # still running
        finally:
            watch.send_signal(signal.SIGTERM)
            _out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    assert "Traceback" not in err
    assert (
        env.scalar(f"SELECT subject FROM message WHERE id = {sms}") == "cut inside an emoji \ufffd"
    )
