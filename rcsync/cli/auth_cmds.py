"""`login` and `logout` (placeholders until the API client lands)."""

from __future__ import annotations

import click

from rcsync.cli.placeholder import not_yet


@click.command()
@click.option("--password", "use_password", is_flag=True,
              help="Legacy password grant (username/extension/password from the config).")
def login(use_password: bool) -> None:
    """Log in to RingCentral and store the tokens (JWT grant by default).

    \b
    Example:
      rcsync login
    """
    raise not_yet("login")


@click.command()
def logout() -> None:
    """Revoke the stored tokens and forget them.

    \b
    Example:
      rcsync logout
    """
    raise not_yet("logout")


COMMANDS: list[click.Command] = [login, logout]
