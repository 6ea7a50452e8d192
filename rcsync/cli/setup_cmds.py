"""Setting up: `init` (write a config), `db upgrade` / `db current`, `login` / `logout`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from rcsync.cli.app import App
from rcsync.cli.config_cmds import config, db_path
from rcsync.config import DEFAULT_SERVER, default_config_path, load_config
from rcsync.errors import ConfigError

pass_app = click.make_pass_decorator(App)


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


@click.command()
@click.option(
    "--path",
    "target",
    type=click.Path(path_type=Path),
    help="Where to write (default: --config, $RCSYNC_CONFIG or the user config dir).",
)
@click.option("--server", help=f"API server (default {DEFAULT_SERVER}).")
@click.option("--client-id", help="Your app's client id.")
@click.option("--client-secret", help="Your app's client secret.")
@click.option("--jwt", help="Your JWT credential (Developer Console → Credentials).")
@click.option("--database", "database", help="Database file path.")
@click.option("--files", help="Attachments folder (default: 'files' beside the database).")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_app
def init(
    app: App,
    target: Path | None,
    server: str | None,
    client_id: str | None,
    client_secret: str | None,
    jwt: str | None,
    database: str | None,
    files: str | None,
    force: bool,
) -> None:
    """Write a config file, from flags or by asking (on a terminal).

    \b
    Example:
      rcsync init --client-id ABC --client-secret XYZ --jwt "$(cat my.jwt)"
    """
    target = target or app.config_path or default_config_path()
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists (pass --force to overwrite)")
    ask = sys.stdin.isatty() and not any((server, client_id, client_secret, jwt))
    if ask:
        server = click.prompt("API server", default=DEFAULT_SERVER)
        client_id = click.prompt("Client id")
        client_secret = click.prompt("Client secret", hide_input=True)
        jwt = click.prompt("JWT credential", hide_input=True)
    rc = {
        k: v
        for k, v in (
            ("server", server),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("jwt", jwt),
        )
        if v
    }
    db = {k: v for k, v in (("path", database), ("files", files)) if v}
    text = render_config({"ringcentral": rc, "database": db})
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, target)
    try:
        load_config(target, env={})  # what we wrote must load
    except ConfigError:
        target.unlink()
        raise
    app.output.echo(f"wrote {target}")
    app.output.echo("next: rcsync login, then rcsync pull")


@click.group()
def db() -> None:
    """The database: where it is, and its schema migrations.

    \b
    Examples:
      rcsync db path
      rcsync --db messages.db db upgrade
      rcsync db current
    """


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Create the database or bring its schema up to date.

    \b
    Example:
      rcsync --db new.db db upgrade
    """
    from rcsync.db import head_revision

    app.engine()
    app.output.echo(f"{app.database_path}: schema at {head_revision()} (current)")


@db.command()
@pass_app
def current(app: App) -> None:
    """Show the database's schema revision (without changing anything).

    \b
    Example:
      rcsync db current
    """
    from rcsync.db import create_db_engine, current_revision, head_revision

    path = app.database_path
    if not path.exists():
        raise ConfigError(f"{path}: no database yet (run `rcsync db upgrade` or `rcsync pull`)")
    engine = create_db_engine(path)
    try:
        with engine.connect() as conn:
            rev = current_revision(conn)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if rev == head else f"head is {head}; run `rcsync db upgrade`"
    app.output.result(f"{rev or 'empty'} ({state})")


db.add_command(db_path)

COMMANDS: list[click.Command] = [init, db, config]
