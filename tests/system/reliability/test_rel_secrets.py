"""Secrets never show: every command run with -vv against the served emulator, and the
client secret, the JWT, the Basic header and every access/refresh token issued are looked
for in stdout and stderr. The token file is private (0600), and a readable one is reported.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable

from tests.harness.account import CLIENT_ID, CLIENT_SECRET, JWT
from tests.harness.loopback import Served

COMMANDS = [
    ["login"],
    ["status"],
    ["status", "--json"],
    ["pull"],
    ["pull", "--full"],
    ["search", "meeting"],
    ["push", "--dry-run"],
    ["push"],
    ["sync"],
    ["sync", "--json"],
    ["pending"],
    ["logout"],
    ["pull"],  # pull after logout: logs in again by itself (JWT)
]


def test_no_secret_in_any_output(make_served: Callable[..., Served]) -> None:
    env = make_served(messages=300)
    env.configure(access_token_ttl=600)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets = {CLIENT_SECRET, JWT, basic}
    outputs: list[str] = []

    def run(*args: str) -> None:
        done = env.run("-vv", *args)
        outputs.append(f"$ rcsync -vv {' '.join(args)}\n{done.stdout}\n{done.stderr}")
        assert done.returncode == 0, (args, done.stderr[-2000:])
        if env.token_file.exists():
            tokens = json.loads(env.token_file.read_text())
            secrets.update(t for t in (tokens["access_token"], tokens["refresh_token"]) if t)

    for i, args in enumerate(COMMANDS):
        if args == ["push", "--dry-run"]:
            env.sql(
                "UPDATE message SET read_status = CASE read_status WHEN 'Read' THEN"
                " 'Unread' ELSE 'Read' END WHERE id IN (SELECT id FROM message LIMIT 3);"
            )
        if i == 5:
            env.post("/_emulator/expire-tokens")  # a 401 and a refresh, logged at -vv
        run(*args)
    # Errors too: a wrong secret, a wrong JWT, a dead session.
    for rc in ({"client_secret": "Wrong-Secret-4242"}, {"jwt": "Wrong-Jwt-4242"}):
        env.token_file.unlink(missing_ok=True)
        done = env.run("-vv", "pull", config=env.config_file("bad.toml", rc=rc))
        assert done.returncode == 1
        outputs.append(done.stdout + done.stderr)
        secrets.update(rc.values())
    assert env.run("login").returncode == 0
    env.post("/_emulator/expire-tokens")
    env.post("/_emulator/expire-refresh-tokens")
    done = env.run("-vv", "pull", config=env.config_file("nojwt.toml", rc={"jwt": ""}))
    outputs.append(done.stdout + done.stderr)

    text = "\n".join(outputs)
    assert "DEBUG" in text  # -vv really logged
    leaked = sorted(s for s in secrets if s and s in text)
    assert not leaked, [s[:6] + "..." for s in leaked]
    print(
        f"\n{len(outputs)} runs with -vv, {len(text):,} characters of output, "
        f"{len(secrets)} secret values, none shown"
    )


def test_token_file_is_private_and_a_readable_one_is_reported(env: Served) -> None:
    assert env.run("pull").returncode == 0
    assert stat.S_IMODE(env.token_file.stat().st_mode) == 0o600
    os.chmod(env.token_file, 0o644)
    done = env.run("pull")
    assert done.returncode == 0
    assert "accessible by other users" in done.stderr and "chmod 600" in done.stderr
