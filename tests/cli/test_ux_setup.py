"""First steps: a pull with no config, tokens per config, and `init`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rcsync.cli import init_cmd
from rcsync.config import default_config_path, default_db_path, default_token_file, load_config
from tests.cli.ux_helpers import run


def test_pull_without_config_points_to_init_and_creates_nothing() -> None:
    result = run("pull")
    assert result.exit_code == 1
    assert "rcsync init" in result.stderr
    assert not default_db_path().exists()
    assert not default_db_path().parent.exists()


def test_two_configs_get_two_token_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    for conf in (a, b):
        conf.write_text('[ringcentral]\nclient_id = "x"\n')
    token_a = load_config(a, env={}).ringcentral.token_file
    token_b = load_config(b, env={}).ringcentral.token_file
    assert token_a != token_b
    assert token_a.parent == token_b.parent == default_token_file().parent


def test_default_config_keeps_the_existing_token_file() -> None:
    # Existing users must not be logged out by the upgrade.
    default_config_path().parent.mkdir(parents=True)
    default_config_path().write_text('[ringcentral]\nclient_id = "x"\n')
    assert load_config(env={}).ringcentral.token_file == default_token_file()
    assert load_config(env={}).ringcentral.token_file.name == "tokens.json"


def test_a_configured_token_file_wins(tmp_path: Path) -> None:
    conf = tmp_path / "a.toml"
    conf.write_text('[ringcentral]\ntoken_file = "t.json"\n')
    assert load_config(conf, env={}).ringcentral.token_file == tmp_path / "t.json"


def test_init_without_terminal_or_flags_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "c.toml"
    result = run("init", "--path", str(target), input="\n")
    assert result.exit_code == 2
    assert "--client-id" in result.stderr
    assert not target.exists()


def test_init_rechecks_a_bad_server_before_any_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init_cmd, "can_ask", lambda: True)
    target = tmp_path / "c.toml"
    answers = "ftp://nope\nhttps://platform.ringcentral.com\nabc\nsecret\njwt\nj.w.t\n"
    result = run("init", "--path", str(target), input=answers)
    assert result.exit_code == 0, result.output
    # The bad URL is refused at its own prompt, before the secrets are asked.
    assert result.output.index("expected an http(s) URL") < result.output.index("Client id")
    cfg = load_config(target, env={})
    assert (cfg.ringcentral.client_id, cfg.ringcentral.jwt) == ("abc", "j.w.t")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"next: rcsync --config {target} login && rcsync --config {target} pull" in (
        result.output
    )


def test_init_password_login_writes_username_and_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(init_cmd, "can_ask", lambda: True)
    target = tmp_path / "c.toml"
    answers = "\nabc\nsecret\npassword\n+16505550100\n101\npw\n"
    result = run("init", "--path", str(target), input=answers)
    assert result.exit_code == 0, result.output
    rc = load_config(target, env={}).ringcentral
    assert (rc.username, rc.extension, rc.password, rc.jwt) == ("+16505550100", "101", "pw", "")
    assert "login --password" in result.output


def test_init_flags_for_password_login_and_a_checked_server(tmp_path: Path) -> None:
    target = tmp_path / "c.toml"
    bad = run("init", "--path", str(target), "--server", "nope", "--client-id", "x")
    assert bad.exit_code == 2 and not target.exists()
    ok = run(
        "init", "--path", str(target), "--client-id", "x", "--username", "u", "--extension", "7"
    )
    assert ok.exit_code == 0, ok.output
    rc = load_config(target, env={}).ringcentral
    assert (rc.username, rc.extension) == ("u", "7")
