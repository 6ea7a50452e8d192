"""Setting up: `init` (write a config), `config show`, `db path` / `upgrade` / `current`."""

from __future__ import annotations

import click

from rcsync.cli.app import App
from rcsync.cli.config_cmds import config, db_path
from rcsync.cli.init_cmd import init, render_config
from rcsync.errors import ConfigError

__all__ = ["COMMANDS", "render_config"]

pass_app = click.make_pass_decorator(App)


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
