"""`login` and `logout`: get and store tokens / revoke and forget them. Tokens are never shown."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from rcsync.cli.app import App
from rcsync.errors import AuthError

pass_app = click.make_pass_decorator(App)


def describe_extension(info: dict[str, Any]) -> str:
    name = info.get("name") or "?"
    number = info.get("extensionNumber")
    return f"{name} (extension {number})" if number else str(name)


@click.command()
@click.option(
    "--password",
    "use_password",
    is_flag=True,
    help="Legacy password grant (username/extension/password from the config).",
)
@pass_app
def login(app: App, use_password: bool) -> None:
    """Log in to RingCentral and store the tokens (JWT grant by default).

    The token file is [ringcentral] token_file, written private (0600). `pull` logs in by
    itself when a JWT is configured; `login` checks the credentials now.

    \b
    Examples:
      rcsync login
      rcsync login --password
    """
    from rcsync.api import TokenStore, build_client, build_http_client
    from rcsync.api import login as api_login

    cfg = app.config.ringcentral
    if use_password:
        cfg = dataclasses.replace(cfg, jwt="")  # the JWT would otherwise take precedence
        if not (cfg.username and cfg.password):
            raise AuthError(
                "password login needs [ringcentral] username and password in the config file"
            )
    elif not cfg.jwt:
        raise AuthError(
            "no JWT configured: set [ringcentral] jwt or RCSYNC_JWT "
            "(or use --password for a legacy app)"
        )
    store = TokenStore(cfg.token_file, on_warning=app.output.warn)
    with build_http_client(cfg, insecure=app.insecure) as http:
        api_login(http, cfg, store)
    with build_client(cfg, store=store, insecure=app.insecure) as client:
        info = client.read_extension()
    app.output.echo(f"logged in as {describe_extension(info)}; tokens saved in {store.path}")


@click.command()
@pass_app
def logout(app: App) -> None:
    """Revoke the stored tokens and forget them.

    \b
    Example:
      rcsync logout
    """
    from rcsync.api import TokenStore, build_http_client
    from rcsync.api import logout as api_logout

    cfg = app.config.ringcentral
    store = TokenStore(cfg.token_file, on_warning=app.output.warn)
    if store.load() is None:
        store.clear()
        app.output.echo("not logged in")
        return
    with build_http_client(cfg, insecure=app.insecure) as http:
        revoked = api_logout(http, cfg, store)
    app.output.echo(
        "logged out"
        + ("" if revoked else " (the server did not confirm; tokens forgotten locally)")
    )


COMMANDS: list[click.Command] = [login, logout]
