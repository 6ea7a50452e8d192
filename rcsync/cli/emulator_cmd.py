"""`emulator`: serve the built-in RingCentral stand-in on loopback until stopped."""

from __future__ import annotations

import click

from rcsync.cli.app import App

pass_app = click.make_pass_decorator(App)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8090,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 = any free port).",
)
@click.option(
    "--messages",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="How many messages of history to generate (per extension).",
)
@click.option(
    "--extensions",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="User extensions in the account: 101 is the admin, 102 a plain user, ...",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the generator.")
@click.option("--no-rate-limits", is_flag=True, help="Serve without RingCentral's rate limits.")
@pass_app
def emulator(
    app: App,
    host: str,
    port: int,
    messages: int,
    extensions: int,
    seed: int,
    no_rate_limits: bool,
) -> None:
    """Serve the local RingCentral emulator until stopped (Ctrl-C).

    Credentials: client id emulator-client, secret emulator-secret, JWT emulator-jwt
    (extension 101, the account's super admin); with --extensions 2 or more, JWT
    emulator-user-jwt logs in as extension 102, a plain user. Control API under
    /_emulator/ (see README).

    \b
    Example:
      rcsync emulator --port 8090 --messages 5000
      rcsync emulator --extensions 50 --messages 2000
      RCSYNC_SERVER=http://127.0.0.1:8090 RCSYNC_CLIENT_ID=emulator-client \\
        RCSYNC_CLIENT_SECRET=emulator-secret RCSYNC_JWT=emulator-jwt rcsync pull
    """
    from rcsync.emulator import run_forever

    def ready(url: str) -> None:
        what = f"{messages:,} messages"
        if extensions > 1:
            what = f"{extensions} extensions × {messages:,} messages"
        app.output.info(f"RingCentral emulator serving {what} at {url} (Ctrl-C to stop)")

    run_forever(
        host=host,
        port=port,
        messages=messages,
        seed=seed,
        rate_limits=not no_rate_limits,
        on_ready=ready,
        extensions=extensions,
    )


COMMANDS: list[click.Command] = [emulator]
