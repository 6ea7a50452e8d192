"""Token life cycle against the served emulator: access tokens expiring mid-pull, dead or
revoked refresh tokens without a JWT, a crash right after a refresh, and two processes
refreshing through one token file at the same time.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from rcsync.api import TokenStore, login
from tests.harness.account import CLIENT_ID, CLIENT_SECRET
from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote


class Hook(httpx.BaseTransport):
    """Real HTTP, with a callback after each answer (to act between two pages)."""

    def __init__(self, after: Callable[[httpx.Request, httpx.Response], None]) -> None:
        self.inner = httpx.HTTPTransport()
        self.after = after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.after(request, response)
        return response

    def close(self) -> None:
        self.inner.close()


def dump(env: Served) -> str:
    return env.sql(".dump")


def logged_in_mirror(env: Served) -> None:
    """A pulled mirror with pending edits, and a token pair on disk (JWT login)."""
    env.pull()
    env.sql(
        "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN 'Unread'"
        " ELSE 'Read' END WHERE id IN (SELECT id FROM message"
        " WHERE availability = 'Alive' ORDER BY id LIMIT 5);"
        "UPDATE message SET availability = 'Deleted' WHERE id IN (SELECT id FROM message"
        " WHERE availability = 'Alive' AND read_status IS base_read_status"
        " ORDER BY id DESC LIMIT 3);"
    )
    assert env.scalar("SELECT count(*) FROM pending_change") == 8


def test_access_token_expired_mid_pull_is_refreshed(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=5_000)
    answers = 0

    def after(request: httpx.Request, response: httpx.Response) -> None:
        nonlocal answers
        path = request.url.path
        if path.endswith(("/message-store", "/message-sync")) and response.status_code == 200:
            answers += 1
            if answers in (1, 2):  # after the count, and after the FSync
                env.post("/_emulator/expire-tokens")

    client = env.client(transport=Hook(after))
    summary = env.pull(client=client)
    counters = env.counters()
    assert answers >= 4  # count, FSync, the trash's listing, ISync
    assert counters["status"]["401"] == 2  # one per expiry, then a refresh and a resend
    assert counters["by_operation"]["getToken"] == 3  # login + two refreshes, no re-login
    assert summary.new == sum(r["availability"] != "Purged" for r in env.remote().values())
    assert_mirror_matches_remote(env)


def test_short_access_token_ttl(make_served: Callable[..., Served]) -> None:
    """RingCentral's shortest access token (600 s) on a clock that runs fast: rcsync refreshes
    ahead of expiry instead of meeting 401s."""
    env = make_served(messages=3_000)
    env.configure(access_token_ttl=600)
    env.pull()
    first = TokenStore(env.token_file).load()
    assert first is not None and first.expires_at - time.time() <= 600
    # Pretend ten minutes passed locally: the stored pair is within the refresh margin.
    TokenStore(env.token_file).save(replace(first, expires_at=time.time() + 30))
    env.post("/_emulator/messages", {"count": 5})
    env.pull()
    counters = env.counters()
    assert counters["status"].get("401", 0) == 0
    assert counters["by_operation"]["getToken"] == 2  # login, then one refresh ahead of time
    assert_mirror_matches_remote(env)


@pytest.mark.parametrize("how", ["expired", "revoked"])
@pytest.mark.parametrize("credentials", ["tokens only", "username without password"])
def test_dead_refresh_token_without_jwt_says_login(
    make_served: Callable[..., Served], how: str, credentials: str
) -> None:
    env = make_served(messages=300)
    logged_in_mirror(env)
    before = dump(env)
    rc: dict[str, str] = {"jwt": ""}
    if credentials == "username without password":
        rc.update(username="+15550100", extension="101")
    config = env.config_file("nojwt.toml", rc=rc)
    if how == "expired":
        env.post("/_emulator/expire-tokens")
        env.post("/_emulator/expire-refresh-tokens")
    else:
        refresh = json.loads(env.token_file.read_text())["refresh_token"]
        env.ctl.post(
            "/restapi/oauth/revoke",
            data={"token": refresh},
            auth=httpx.BasicAuth(CLIENT_ID, CLIENT_SECRET),
        ).raise_for_status()
    for command in (["push"], ["sync"]):
        done = env.run(*command, config=config)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "rcsync login" in lines[0], done.stderr
        assert "Traceback" not in done.stderr
    assert dump(env) == before  # database and pending edits untouched
    assert env.scalar("SELECT count(*) FROM pending_change") == 8
    assert env.counters()["by_operation"].get("updateMessage", 0) == 0


class Crash(BaseException):
    """Stands for SIGKILL: nothing after it runs (no except/finally in our code catches it)."""


def test_refreshed_pair_is_on_disk_before_it_is_used(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=300)
    env.pull()
    old = json.loads(env.token_file.read_text())
    env.post("/_emulator/expire-tokens")
    refreshed = False

    def after(request: httpx.Request, response: httpx.Response) -> None:
        nonlocal refreshed
        if request.url.path == "/restapi/oauth/token" and response.status_code == 200:
            refreshed = True
        elif refreshed:
            raise Crash  # the first API request with the new pair: the process dies

    with pytest.raises(Crash):
        env.pull(client=env.client(transport=Hook(after)))
    saved = json.loads(env.token_file.read_text())
    assert saved["refresh_token"] != old["refresh_token"]
    assert stat.S_IMODE(env.token_file.stat().st_mode) == 0o600
    # The old refresh token is spent; the saved pair works for a process with no JWT.
    env.post("/_emulator/messages", {"count": 3})
    env.pull(config=env.config(rc={"jwt": ""}), client=env.client(rc={"jwt": ""}))
    assert_mirror_matches_remote(env)


EXPIRIES = 4
WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from rcsync.api import TokenStore, build_client
    from rcsync.config import RingCentralConfig
    rc = RingCentralConfig(server=sys.argv[1], client_id="emulator-client",
                           client_secret="emulator-secret", jwt="",
                           token_file=Path(sys.argv[2]))
    client = build_client(rc, store=TokenStore(rc.token_file))
    stop = Path(sys.argv[3])
    client.read_extension()
    print("ready", flush=True)
    n = 1
    while not stop.exists():
        client.read_extension()
        n += 1
    print(n)
""")


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_processes_refreshing_one_token_file(make_served: Callable[..., Served]) -> None:
    """Two processes share a token file (no JWT: a dead refresh token would be fatal) and
    keep calling the API while every access token is expired 4 times, each after the
    previous refresh: each expiry meets both processes at once. Both keep working, one
    refresh is spent per expiry (the other process re-reads the file under the lock), and
    the file ends with a live refresh token."""
    env = make_served(messages=50)
    # Not limited, and the headers say so (the client paces itself by them).
    env.configure(
        rate_limits={"enabled": False, "window": 1, "limits": {"Light": 10_000, "Auth": 10_000}}
    )
    with httpx.Client(base_url=env.url) as http:
        login(http, env.rc(), TokenStore(env.token_file))
    stop = env.token_file.with_name("stop-workers")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, env.url, str(env.token_file), str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        # Paced by what the workers did, not by the wall clock: on a loaded machine a
        # fixed sleep can let two expiries pass between one worker's requests.
        for w in workers:
            assert w.stdout is not None
            assert w.stdout.readline().strip() == "ready", w.stderr
        for n in range(EXPIRIES):
            env.post("/_emulator/expire-tokens")
            _wait_until(
                lambda n=n: env.counters()["by_operation"]["getToken"] - 1 > n,
                f"refresh {n + 1}",
            )
            seen = env.counters()["by_operation"]["readExtension"]
            _wait_until(
                lambda seen=seen: env.counters()["by_operation"]["readExtension"] > seen + 4,
                "requests with the refreshed token",
            )
        stop.touch()
        results = [w.communicate(timeout=120) for w in workers]
    finally:
        stop.touch()
        for w in workers:
            if w.poll() is None:
                w.kill()
    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert int(out) > 10
    counters = env.counters()
    refreshes = counters["by_operation"]["getToken"] - 1
    assert counters["status"]["401"] >= EXPIRIES + 1  # both processes met expired tokens
    assert refreshes == EXPIRIES, counters
    # The surviving refresh token is alive: spend it once more.
    saved = json.loads(env.token_file.read_text())
    answer = env.ctl.post(
        "/restapi/oauth/token",
        auth=httpx.BasicAuth(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": saved["refresh_token"]},
    )
    assert answer.status_code == 200, answer.text
    print(
        f"\n2 processes: {EXPIRIES} expiries, {counters['status']['401']} 401s, "
        f"{refreshes} refreshes, {counters['total']} requests"
    )
