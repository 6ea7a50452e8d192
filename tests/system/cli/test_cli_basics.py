"""The CLI surface: every command explains itself, errors are one line, usage errors exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rcsync import __version__
from rcsync.cli import cli

REPO = Path(__file__).resolve().parents[3]


def all_commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, cmd in group.commands.items():
            out.append((*prefix, name))
            if isinstance(cmd, click.Group):
                walk(cmd, (*prefix, name))

    walk(cli, ())
    return out


INTERFACE_COMMANDS = {
    "init",
    "login",
    "logout",
    "pull",
    "push",
    "sync",
    "watch",
    "status",
    "search",
    "db",
    "emulator",
    "demo",
}


def test_every_interface_command_exists() -> None:
    assert set(cli.commands) >= INTERFACE_COMMANDS
    assert {"upgrade", "current"} <= set(cli.commands["db"].commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`rcsync {' '.join(path)} --help` has no example"


def test_readme_mentions_every_command() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [
        " ".join(p)
        for p in all_commands()
        if f"rcsync {' '.join(p)}" not in readme and f"`{' '.join(p)}`" not in readme
    ]
    assert missing == []


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(cli, ["pull", "--no-such-flag"])
    assert result.exit_code == 2


def test_unknown_command_exits_2() -> None:
    assert CliRunner().invoke(cli, ["frobnicate"]).exit_code == 2


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[sync]\nconflict_policy = "sometimes"\n', "expected newest, remote or local"),
        ('[sync]\nconflict_polcy = "x"\n', "unknown key 'conflict_polcy'"),
        ("[sync\n", "line 1, column"),
    ],
)
def test_config_errors_are_one_line_exit_1(tmp_path: Path, text: str, fragment: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and str(cfg) in lines[0]
    assert "Traceback" not in result.output


def test_database_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path), "status"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"rcsync: error: {tmp_path}: is a directory, expected a database file"
    ]


def test_traceback_only_with_verbose(tmp_path: Path) -> None:
    args = ["--db", str(tmp_path), "status"]
    assert "Traceback" not in CliRunner().invoke(cli, args).stderr
    assert "Traceback" in CliRunner().invoke(cli, ["-v", *args]).stderr


def test_init_writes_a_loadable_private_config(tmp_path: Path) -> None:
    target = tmp_path / "c" / "config.toml"
    result = CliRunner().invoke(
        cli,
        [
            "init",
            "--path",
            str(target),
            "--client-id",
            "abc",
            "--client-secret",
            "s3cret",
            "--jwt",
            "j.w.t",
        ],
    )
    assert result.exit_code == 0, result.output
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(cli, ["init", "--path", str(target), "--client-id", "x"])
    assert again.exit_code == 1 and "--force" in again.stderr
    status = CliRunner().invoke(
        cli, ["--config", str(target), "--db", str(tmp_path / "m.db"), "status", "--json"]
    )
    assert status.exit_code == 0, status.output
    assert '"database_exists": false' in status.output
    assert not (tmp_path / "m.db").exists()  # a report creates nothing


@pytest.mark.parametrize(
    "command", [["search", "hello"], ["pending"], ["mark", "read", "1"], ["revert", "--all"]]
)
def test_commands_that_need_a_pulled_database_create_none(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "typo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), *command])
    assert result.exit_code == 1
    assert "no database yet" in result.stderr
    assert not db.exists()


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    r = CliRunner().invoke(cli, ["--db", str(db), "db", "current"])
    assert r.exit_code == 1 and "no database yet" in r.stderr
    assert CliRunner().invoke(cli, ["--db", str(db), "db", "upgrade"]).exit_code == 0
    r = CliRunner().invoke(cli, ["--db", str(db), "db", "current"])
    assert r.exit_code == 0 and re.search(r"\d+ \(up to date\)", r.output)


def test_installed_script_works_outside_the_repository(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("rcsync")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCSYNC_")}
    done = subprocess.run(
        [str(script), "--db", "new.db", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    import sqlite3

    names = {
        r[0] for r in sqlite3.connect(tmp_path / "new.db").execute("SELECT name FROM sqlite_master")
    }
    assert {"message", "attachment", "conflict", "pending_change"} <= names
