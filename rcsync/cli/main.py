"""The `rcsync` command group: global options and the one place errors reach the user.

Library code raises `rcsync.errors.RcsyncError`; here each becomes one line on stderr and
exit status 1 (with the traceback only under -v). Usage errors exit 2 (click's rule).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import sqlalchemy.exc

from rcsync import __version__
from rcsync.cli.app import App
from rcsync.cli.output import Output
from rcsync.errors import RcsyncError


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class RcsyncGroup(click.Group):
    """A click group that turns errors into one line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("rcsync: interrupted", err=True)
            ctx.exit(130)
        except RcsyncError as exc:
            self._report(ctx, exc, _one_line(exc))
            ctx.exit(exc.exit_code)
        except (sqlalchemy.exc.SQLAlchemyError, sqlite3.Error) as exc:
            from rcsync.db import describe_sqlite_error

            self._report(ctx, exc, f"database: {describe_sqlite_error(exc)}")
            ctx.exit(1)
        except BrokenPipeError:
            # `rcsync search x | head`: the reader left; that is not an error worth a line.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            self._report(ctx, exc, f"{where}{exc.strerror or _one_line(exc)}")
            ctx.exit(1)
        except Exception as exc:  # a bug: still one line, details with -v
            self._report(
                ctx,
                exc,
                f"internal error: {type(exc).__name__}: {_one_line(exc)} (run with -v for details)",
            )
            ctx.exit(1)

    @staticmethod
    def _report(ctx: click.Context, exc: BaseException, line: str) -> None:
        app = ctx.obj if isinstance(ctx.obj, App) else None
        if app is not None and app.verbosity > 0:
            traceback.print_exception(exc, file=sys.stderr)
        click.echo(f"rcsync: error: {line}", err=True)


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    # httpx logs full URLs at INFO; ours are enough, and theirs would be noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic narrates every migration step at INFO; that is debug detail for us.
    logging.getLogger("alembic").setLevel(logging.INFO if verbosity > 1 else logging.WARNING)


@click.group(cls=RcsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="RCSYNC_CONFIG",
    help="Config file (default: $RCSYNC_CONFIG, then the user config dir).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    help="Database file (overrides [database] path and $RCSYNC_DB).",
)
@click.option("-v", "--verbose", count=True, help="More detail; -vv for debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow plain http:// to a non-loopback host (tokens travel unencrypted).",
)
@click.version_option(__version__, prog_name="rcsync")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    db_path: Path | None,
    verbose: int,
    quiet: bool,
    insecure: bool,
) -> None:
    """Keep a local, offline SQLite copy of a RingCentral message store, and push the edits
    you make to it (read/unread, delete, purge, restore) back to RingCentral.

    \b
    Try it with no account:   rcsync demo
    Mirror your messages:     rcsync init && rcsync login && rcsync pull
    Edit, then send edits:    sqlite3 messages.db "UPDATE message SET read_status='Read'"
                              rcsync push
    """
    verbosity = -1 if quiet else verbose
    _setup_logging(verbosity)
    app = App(
        config_path=config_path,
        db_path=db_path,
        verbosity=verbosity,
        output=Output(verbosity),
        insecure=insecure,
    )
    ctx.obj = app
    ctx.call_on_close(app.close)


def _register() -> None:
    from rcsync.cli import (
        auth_cmds,
        datasette_cmd,
        demo_cmd,
        emulator_cmd,
        export_cmd,
        pull_cmds,
        push_cmds,
        setup_cmds,
        status_cmd,
        watch_cmd,
    )

    for module in (
        setup_cmds,
        auth_cmds,
        pull_cmds,
        push_cmds,
        watch_cmd,
        status_cmd,
        emulator_cmd,
        demo_cmd,
        export_cmd,
        datasette_cmd,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="rcsync")
