"""The `rcsync` command group: global options and the one place errors reach the user.

Library code raises `rcsync.errors.RcsyncError`; here each becomes one line on stderr and
exit status 1 (with the traceback only under -v). Usage errors are one line too, exit 2.

Global options (-q, -v, --db, --config, --insecure) may also follow the command
(`rcsync pull -q`): they are moved in front of it before click parses (`hoist_global_options`).
Nothing heavy is imported here: `rcsync --help` and `--version` must start fast.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from rcsync import __version__
from rcsync.cli.app import App
from rcsync.cli.globalopts import hoist_global_options
from rcsync.cli.output import Output
from rcsync.errors import RcsyncError
from rcsync.store import is_driver_error


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# click >= 8.2 raises this (a UsageError) for a group called without a command.
_NO_ARGS_IS_HELP: type[click.UsageError] = getattr(
    click.exceptions, "NoArgsIsHelpError", type("_Never", (click.UsageError,), {})
)


def _usage_line(exc: click.UsageError) -> str:
    where = exc.ctx.command_path if exc.ctx is not None else "rcsync"
    return f"rcsync: error: {exc.format_message().rstrip('.')} (see `{where} --help`)"


class RcsyncGroup(click.Group):
    """A click group that turns errors into one line and an exit status."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = hoist_global_options(list(sys.argv[1:] if args is None else args))
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(argv, prog_name, complete_var, False, **extra)
        except _NO_ARGS_IS_HELP as exc:  # bare `rcsync` / `rcsync db`: the help, as click does
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            click.echo(_usage_line(exc), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("rcsync: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            if isinstance(ctx.obj, App):
                ctx.obj.report_created()
            return result
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("rcsync: interrupted", err=True)
            ctx.exit(130)
        except RcsyncError as exc:
            self._report(ctx, exc, _one_line(exc))
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # `rcsync search x | head`: the reader left; that is not an error worth a line.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
        except Exception as exc:
            if not is_driver_error(exc):
                if isinstance(exc, OSError):
                    self._report_os_error(ctx, exc)
                self._report_bug(ctx, exc)
            from rcsync.store.database import describe_sqlite_error

            self._report(ctx, exc, f"database: {describe_sqlite_error(exc)}")
            ctx.exit(1)

    def _report_os_error(self, ctx: click.Context, exc: OSError) -> None:
        where = f"{exc.filename}: " if exc.filename else ""
        self._report(ctx, exc, f"{where}{exc.strerror or _one_line(exc)}")
        ctx.exit(1)

    def _report_bug(self, ctx: click.Context, exc: Exception) -> None:
        """A bug: still one line, details with -v."""
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
    Where things are:         rcsync db path; rcsync config show
    Edit, then send edits:    sqlite3 "$(rcsync db path)" "UPDATE message SET read_status='Read'"
                              rcsync push

    Global options may also come after the command: rcsync pull -q
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
        prune_cmd,
        pull_cmds,
        push_cmds,
        setup_cmds,
        status_cmd,
        verify_cmd,
        watch_cmd,
    )

    for module in (
        setup_cmds,
        auth_cmds,
        pull_cmds,
        push_cmds,
        watch_cmd,
        status_cmd,
        verify_cmd,
        prune_cmd,
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
