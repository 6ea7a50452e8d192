"""Global options anywhere, -n, -q still showing what was asked, -v naming the setup,
one-line usage errors, and the lock message offering --wait only where it exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rcsync.cli.globalopts import hoist_global_options
from rcsync.lock import engine_lock
from tests.cli.ux_helpers import message, run, seed

CREDENTIALS = {"RCSYNC_CLIENT_ID": "id", "RCSYNC_SERVER": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        (["pull", "-q"], ["-q", "pull"]),
        (["status", "--db", "x.db", "-vv"], ["--db", "x.db", "-vv", "status"]),
        (["db", "path", "--config=c.toml"], ["--config=c.toml", "db", "path"]),
        (["--db", "a.db", "push", "-n"], ["--db", "a.db", "push", "-n"]),
        (["search", "--", "-v"], ["search", "--", "-v"]),  # a query stays a query
    ],
)
def test_global_options_move_before_the_command(given: list[str], parsed: list[str]) -> None:
    assert hoist_global_options(given) == parsed


def test_options_after_the_command_work(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, [message(1, "hello")])
    result = run("status", "--json", "--db", str(db), "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["messages"]["total"] == 1


def test_quiet_status_still_prints_the_status(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, [message(1, "hello")])
    result = run("-q", "--db", str(db), "status")
    assert result.exit_code == 0
    assert "messages     1" in result.stdout


def test_verbose_names_config_database_server_and_user(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[ringcentral]\nusername = "+16505550100"\nextension = "101"\n')
    db = tmp_path / "m.db"
    result = run("--config", str(conf), "db", "path", "-v", "--db", str(db))
    assert result.exit_code == 0
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("config "))
    for part in (str(conf), str(db), "https://platform.ringcentral.com", "+16505550100 ext 101"):
        assert part in line


def test_dry_run_has_a_short_form(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, [])
    result = run("--db", str(db), "push", "-n", env=CREDENTIALS)
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout


def test_usage_errors_are_one_line_with_exit_2() -> None:
    result = run("status", "--bogus")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("rcsync: error: No such option")
    assert "--bogus" in line and line.endswith("(see `rcsync status --help`)")


@pytest.mark.parametrize(("command", "hint"), [("pull", True), ("push", False), ("sync", False)])
def test_lock_message_offers_wait_only_to_commands_that_have_it(
    tmp_path: Path, command: str, hint: bool
) -> None:
    db = tmp_path / "m.db"
    seed(db, [])
    with engine_lock(db, what="watch"):
        result = run("--db", str(db), command, env=CREDENTIALS)
    assert result.exit_code != 0
    assert "in use by rcsync watch" in result.stderr
    assert ("--wait" in result.stderr) is hint


def test_a_bad_choice_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    seed(db, [message(1, "hello", type_="Fax")])
    bad = run("--db", str(db), "search", "hello", "--type", "Telegram")
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1
    ok = run("--db", str(db), "search", "hello", "--type", "fax")
    assert ok.exit_code == 0 and ok.stdout.startswith("1  ")


@pytest.mark.parametrize("args", [[], ["db"], ["config"]])
def test_a_group_without_a_command_shows_its_help(args: list[str]) -> None:
    result = run(*args)
    assert "Commands:" in result.output
    assert "rcsync: error" not in result.output
