"""Bad input: wrong credentials, bad server URLs, unusable databases, malformed API answers.
Each ends in one clear line on stderr, exit status 1, no traceback, and nothing written.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcsync.api.factory import check_server
from rcsync.errors import RcsyncError
from tests.harness.loopback import Served
from tests.harness.mirror import integrity_ok


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def pulled(env: Served) -> Served:
    assert env.run("pull").returncode == 0
    return env


# --- credentials and server -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rc", "needles"),
    [
        ({"client_secret": "wrong-secret"}, ["OAU-146"]),
        ({"client_id": "someone-else"}, ["OAU-146"]),
        ({"jwt": "not-the-jwt"}, ["OAU-140"]),
        ({"client_id": ""}, ["client_id"]),
        ({"jwt": ""}, ["rcsync login"]),
    ],
)
def test_bad_credentials(pulled: Served, rc: dict[str, str], needles: list[str]) -> None:
    env = pulled
    env.token_file.unlink()
    before = env.sql(".dump")
    line = one_line_error(env.run("pull", config=env.config_file("bad.toml", rc=rc)), *needles)
    assert "wrong-secret" not in line and "not-the-jwt" not in line
    assert env.sql(".dump") == before
    assert not env.token_file.exists()


@pytest.mark.parametrize(
    ("server", "needle"),
    [
        ("ftp://platform.ringcentral.com", "http(s)"),
        ("platform.ringcentral.com", "http(s)"),
        ("http://platform.ringcentral.com", "--insecure"),
        ("http://10.1.2.3:8090", "--insecure"),
    ],
)
def test_bad_server_urls(env: Served, server: str, needle: str) -> None:
    done = env.run("pull", config=env.config_file("bad.toml", rc={"server": server}))
    one_line_error(done, needle)
    assert not env.db.exists() or env.scalar("SELECT count(*) FROM message") == 0


def test_insecure_allows_plain_http_elsewhere_only_when_asked() -> None:
    with pytest.raises(RcsyncError):
        check_server("http://10.1.2.3:8090")
    assert check_server("http://10.1.2.3:8090", insecure=True).host == "10.1.2.3"
    assert check_server("http://127.0.0.1:8090").host == "127.0.0.1"


def test_tls_verification_is_on_unless_disabled(env: Served) -> None:
    from rcsync.api import build_http_client
    from rcsync.config import load_config

    cfg = load_config(env.config_file())
    assert cfg.ringcentral.verify_tls is True
    off = load_config(env.config_file("off.toml", rc={"verify_tls": False}))
    assert off.ringcentral.verify_tls is False
    seen = []
    real = httpx.Client.__init__

    def spy(self: httpx.Client, *a: Any, **kw: Any) -> None:
        seen.append(kw.get("verify"))
        real(self, *a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpx.Client, "__init__", spy)
        build_http_client(cfg.ringcentral).close()
        build_http_client(off.ringcentral).close()
    assert seen == [True, False]


# --- the database ---------------------------------------------------------------------------


def test_database_is_a_directory(env: Served) -> None:
    env.db.mkdir()
    one_line_error(env.run("pull"), "is a directory")


def test_database_is_not_sqlite(env: Served) -> None:
    env.db.write_bytes(b"PK\x03\x04 this is a zip file, not a database" * 100)
    before = env.db.read_bytes()
    one_line_error(env.run("pull"), "not an SQLite database")
    assert env.db.read_bytes() == before


def test_database_from_a_newer_rcsync(pulled: Served) -> None:
    env = pulled
    env.sql("UPDATE alembic_version SET version_num = 'ffff_from_the_future';")
    before = env.sql(".dump")
    one_line_error(env.run("pull"), "newer rcsync")
    one_line_error(env.run("push"), "newer rcsync")
    assert env.sql(".dump") == before


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_database_on_a_read_only_filesystem(pulled: Served, tmp_path: Path) -> None:
    env = pulled
    with tmpfs(tmp_path / "ro", "16m") as mnt:
        db = mnt / "messages.db"
        env.sql(f"VACUUM INTO '{db}';")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        before = db.read_bytes()
        config = env.config_file("ro.toml", db=db)
        for command in ("pull", "push", "sync"):
            one_line_error(env.run(command, config=config), "read-only")
        assert db.read_bytes() == before


def test_full_disk_during_a_first_pull(env: Served, tmp_path: Path) -> None:
    """The first pull runs out of space part-way: one line, the pages committed so far are
    intact, and the same pull completes once there is room."""
    env.post("/_emulator/messages", {"count": 3_000})
    with tmpfs(tmp_path / "full", "600k") as mnt:
        db = mnt / "messages.db"
        config = env.config_file("full.toml", db=db)
        line = one_line_error(env.run("pull", config=config), "disk is full")
        assert "nothing was lost" in line
        integrity_ok(env, db=db)
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        done = env.run("pull", config=config)
        assert done.returncode == 0, done.stderr
        integrity_ok(env, db=db)
        remote = sum(r["availability"] != "Purged" for r in env.remote().values())
        assert env.scalar("SELECT count(*) FROM message", db=db) == remote


# --- malformed API answers ------------------------------------------------------------------


class Mangle(httpx.BaseTransport):
    """Real HTTP; the n-th answer of `op` (a path suffix) has its body rewritten."""

    def __init__(self, path_end: str, n: int, rewrite: Callable[[bytes], bytes]) -> None:
        self.inner = httpx.HTTPTransport()
        self.path_end, self.n, self.rewrite, self.seen = path_end, n, rewrite, 0
        self.delivered: set[int] = set()  # ids (not purged) of the answers not broken

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET":
            return response
        if request.url.path.endswith(self.path_end):
            self.seen += 1
        if self.seen != self.n or not request.url.path.endswith(self.path_end):
            # The ids of the answers of `op` that were delivered whole.
            json_answer = response.headers.get("content-type", "").startswith("application/json")
            if json_answer and request.url.path.endswith(self.path_end):
                data = json.loads(response.read())
                if isinstance(data, dict):
                    self.delivered |= {
                        int(r["id"])
                        for r in data.get("records", [])
                        if r.get("availability") != "Purged"
                    }
            return response
        body = self.rewrite(response.read())
        headers = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def records_rewrite(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[bytes], bytes]:
    def rewrite(body: bytes) -> bytes:
        data = json.loads(body)
        change(data["records"])
        return json.dumps(data).encode()

    return rewrite


def _drop_id(records: list[dict[str, Any]]) -> None:
    del records[len(records) // 2]["id"]


def _bad_id(records: list[dict[str, Any]]) -> None:
    records[3]["id"] = "not-a-number"


def _no_creation_time(records: list[dict[str, Any]]) -> None:
    for r in records:
        r.pop("creationTime", None)
        r.pop("type", None)


MALFORMED = {
    "truncated JSON": lambda body: body[: len(body) // 2],
    "not JSON": lambda body: b"<html>502 Bad Gateway</html>",
    "records missing": lambda body: b'{"navigation": {}, "paging": {}}',
    "record without id": records_rewrite(_drop_id),
    "id not a number": records_rewrite(_bad_id),
    "records without type and time": records_rewrite(_no_creation_time),
}


def _trash(n: int) -> dict[str, Any]:
    """`n` trashed messages (the first pull lists the trash; the FSync has the Alive ones)."""
    return {
        "records": [
            {
                "id": 1_700_000_000_000 + i,
                "type": "SMS",
                "availability": "Deleted",
                "creationTime": f"2023-02-{1 + i % 28:02d}T10:{i % 60:02d}:{i // 60 % 60:02d}.000Z",
                "subject": f"trashed {i}",
                "from": {"phoneNumber": "+15550001111"},
                "to": [{"phoneNumber": "+15550002222"}],
            }
            for i in range(n)
        ]
    }


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_listing_page_is_rejected_whole(
    make_served: Callable[..., Served], name: str
) -> None:
    env = make_served(messages=300)
    env.post("/_emulator/messages", _trash(2_500))  # the listing: 3 pages; the 2nd is broken
    # Answer 1 of the list endpoint is the count, 2 the listing's first page.
    mangle = Mangle("/message-store", 3, MALFORMED[name])
    with pytest.raises(RcsyncError) as err:
        env.pull(client=env.client(transport=mangle))
    assert "\n" not in str(err.value).strip()
    # The FSync and what came before the broken page were committed, nothing of that page.
    alive = {i for i, r in env.remote().items() if r["availability"] == "Alive"}
    local = {r[0] for r in env.rows("SELECT id FROM message")}
    assert local == mangle.delivered | alive and len(local - alive) >= 990
    integrity_ok(env)
    env.pull()  # the next pull resumes and completes
    remote = sum(r["availability"] != "Purged" for r in env.remote().values())
    assert env.scalar("SELECT count(*) FROM message") == remote


def _bad_id_midway(records: list[dict[str, Any]]) -> None:
    records[len(records) // 2]["id"] = "not-a-number"


FSYNC_MALFORMED = {
    "truncated JSON": MALFORMED["truncated JSON"],
    "record without id": MALFORMED["record without id"],
    "id not a number": records_rewrite(_bad_id_midway),
}


@pytest.mark.parametrize("name", list(FSYNC_MALFORMED))
def test_a_malformed_fsync_keeps_only_whole_batches_before_the_fault(
    make_served: Callable[..., Served], name: str
) -> None:
    env = make_served(messages=5_000)  # the fault is half way: 2,000 or more records before
    mangle = Mangle("/message-sync", 1, FSYNC_MALFORMED[name])
    with pytest.raises(RcsyncError) as err:
        env.pull(client=env.client(transport=mangle))
    assert "\n" not in str(err.value).strip()
    # Saved while it arrived: whole batches of the records before the fault, in order.
    alive = sum(r["availability"] == "Alive" for r in env.remote().values())
    local = env.scalar("SELECT count(*) FROM message")
    assert local % 1000 == 0 and 1000 <= local < alive
    integrity_ok(env)
    env.pull()  # the next pull starts the FSync over and completes
    remote = sum(r["availability"] != "Purged" for r in env.remote().values())
    assert env.scalar("SELECT count(*) FROM message") == remote


def test_unknown_enum_values_are_stored_as_is(env: Served) -> None:
    def odd(records: list[dict[str, Any]]) -> None:
        records[0].update(
            type="Carrier",
            readStatus="Maybe",
            messageStatus="Teleported",
            direction="Sideways",
            availability="Archived",
        )

    odd_id = max(env.remote())
    env.pull(client=env.client(transport=Mangle("/message-sync", 1, records_rewrite(odd))))
    row = env.rows(
        "SELECT type, read_status, availability, message_status, direction, raw"
        f" FROM message WHERE id = {odd_id}"
    )[0]
    assert row[:5] == ("Carrier", "Maybe", "Archived", "Teleported", "Sideways")
    assert json.loads(row[5])["readStatus"] == "Maybe"
    assert env.rows("SELECT * FROM pending_change") == []  # not mistaken for a local edit
