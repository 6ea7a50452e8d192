"""`init`: write a config file, from flags or by asking on a terminal.

Each answer is checked at its prompt (a bad server URL is re-asked before any secret is
typed); with no terminal and no flags there is nothing to write, so it is a usage error
rather than an empty config. The last line is the exact command to run next.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from rcsync.cli.app import App
from rcsync.config import (
    DEFAULT_SERVER,
    default_config_path,
    home_path,
    load_config,
    parse_server,
)
from rcsync.errors import ConfigError

pass_app = click.make_pass_decorator(App)


@dataclass
class Answers:
    server: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    jwt: str | None = None
    username: str | None = None
    extension: str | None = None
    password: str | None = None

    @property
    def given(self) -> bool:
        return any(vars(self).values())

    @property
    def password_login(self) -> bool:
        return bool(self.username) and not self.jwt


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(values: dict[str, dict[str, str]]) -> str:
    lines = ["# rcsync configuration; every key is documented in config.example.toml", ""]
    for section, keys in values.items():
        if not keys:
            continue
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {_toml_str(v)}" for k, v in keys.items())
        lines.append("")
    return "\n".join(lines)


def _checked(check: Callable[[str], Any]) -> Callable[[str], str]:
    """A click value_proc: a ValueError from `check` re-asks the same prompt."""

    def proc(value: str) -> str:
        try:
            check(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        return value.strip()

    return proc


def _non_empty(value: str) -> None:
    if not value.strip():
        raise ValueError("expected a value")


def _server_flag(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_server(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _ask(answers: Answers) -> None:
    """Interactive: one checked prompt per value; JWT or password login."""
    answers.server = click.prompt(
        "API server", default=DEFAULT_SERVER, value_proc=_checked(parse_server)
    )
    answers.client_id = click.prompt("Client id", value_proc=_checked(_non_empty))
    answers.client_secret = click.prompt(
        "Client secret", hide_input=True, value_proc=_checked(_non_empty)
    )
    method = click.prompt(
        "Log in with", type=click.Choice(["jwt", "password"]), default="jwt", show_choices=True
    )
    if method == "jwt":
        answers.jwt = click.prompt(
            "JWT credential", hide_input=True, value_proc=_checked(_non_empty)
        )
        return
    answers.username = click.prompt(
        "Username (phone number or email)", value_proc=_checked(_non_empty)
    )
    answers.extension = click.prompt("Extension (empty for the main one)", default="")
    answers.password = click.prompt("Password", hide_input=True, value_proc=_checked(_non_empty))


def can_ask() -> bool:
    """A person is there to answer (tests replace this to script the prompts)."""
    return sys.stdin.isatty()


def _absolute(value: str | None) -> str | None:
    """A path typed on the command line means the current folder, not the config's."""
    return str(home_path(value).absolute()) if value else None


def _write_private(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, target)


def next_command(target: Path, answers: Answers) -> str:
    """The exact command line to run next for this config."""
    prefix = "rcsync"
    if home_path(target).absolute() != default_config_path().absolute():
        prefix += f" --config {shlex.quote(str(target))}"
    login = f"{prefix} login --password" if answers.password_login else f"{prefix} login"
    return f"{login} && {prefix} pull"


@click.command()
@click.option(
    "--path",
    "target",
    type=click.Path(path_type=Path),
    help="Where to write (default: --config, $RCSYNC_CONFIG or the user config dir).",
)
@click.option("--server", callback=_server_flag, help=f"API server (default {DEFAULT_SERVER}).")
@click.option("--client-id", help="Your app's client id.")
@click.option("--client-secret", help="Your app's client secret.")
@click.option("--jwt", help="Your JWT credential (Developer Console → Credentials).")
@click.option("--username", help="Password login (legacy apps): phone number or email.")
@click.option("--extension", help="Password login: extension number (empty = main).")
@click.option("--password", help="Password login: the password (stored in the file, 0600).")
@click.option("--database", "database", help="Database file path.")
@click.option("--files", help="Attachments folder (default: 'files' beside the database).")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_app
def init(
    app: App,
    /,
    target: Path | None,
    database: str | None,
    files: str | None,
    force: bool,
    **flags: str | None,
) -> None:
    """Write a config file, from flags or by asking (on a terminal).

    \b
    Examples:
      rcsync init --client-id ABC --client-secret XYZ --jwt "$(cat my.jwt)"
      rcsync init --client-id ABC --client-secret XYZ --username +16505550100 --extension 101
    """
    target = target or app.config_path or default_config_path()
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists (pass --force to overwrite)")
    answers = Answers(**flags)
    if not answers.given:
        if not can_ask():
            raise click.UsageError(
                "no terminal to ask on: pass --client-id, --client-secret and --jwt "
                "(or --username for password login)"
            )
        _ask(answers)
    rc = {k: v for k, v in vars(answers).items() if v}
    db = {k: v for k, v in (("path", _absolute(database)), ("files", _absolute(files))) if v}
    _write_private(target, render_config({"ringcentral": rc, "database": db}))
    try:
        load_config(target, env={})  # what we wrote must load
    except ConfigError:
        target.unlink()
        raise
    app.output.echo(f"wrote {target}")
    app.output.echo(f"next: {next_command(target, answers)}")
