"""`watch`: run until stopped, pushing local edits as they happen and pulling periodically.

Parses options, sets up the log lines (timestamps on stderr, optionally a file), takes the
engine lock for the whole run, and hands over to `rcsync.watch.run`. SIGINT/SIGTERM end it
with exit 0 after the current step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click

from rcsync.cli.app import App
from rcsync.cli.options import force_option, wait_option
from rcsync.config import home_path

LOG_FORMAT = "%(asctime)s %(message)s"
LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S%z"


def _level(verbosity: int) -> int:
    return logging.ERROR if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG


@contextmanager
def _watch_log(verbosity: int, log_file: Path | None) -> Iterator[None]:
    """One timestamped line per action on stderr (and appended to `log_file`)."""
    logger = logging.getLogger("rcsync.watch")
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATEFMT)
    stderr = logging.StreamHandler()
    stderr.setLevel(_level(verbosity))
    handlers: list[logging.Handler] = [stderr]
    if log_file is not None:
        home_path(log_file).parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(home_path(log_file), mode="a", encoding="utf-8")
        to_file.setLevel(min(_level(verbosity), logging.INFO))
        handlers.append(to_file)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(min(h.level for h in handlers))
    logger.propagate = False
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _take_engine_lock(app: App, held: ExitStack, *, wait: bool) -> None:
    """The engine lock for the whole watch (released by `held`); with --wait, say whom we
    are waiting for."""
    from rcsync.errors import LockedError

    try:
        held.enter_context(app.engine_lock("watch"))
        return
    except LockedError as exc:
        if not wait:
            raise
        logging.getLogger("rcsync.watch").info("waiting: %s", str(exc).split(";")[0])
    held.enter_context(app.engine_lock("watch", wait=True))


def _exit_now() -> None:
    raise click.exceptions.Exit(0)


@click.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    metavar="SECONDS",
    help="Seconds between pulls without push notifications (default: [sync] watch_interval, 300).",
)
@wait_option
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also append the log lines to this file.",
)
@force_option
@click.pass_obj
def watch(app: App, interval: float | None, wait: bool, log_file: Path | None, force: bool) -> None:
    """Run until stopped: push edits as the database changes, pull periodically.

    Edits made with any SQLite client are sent within about a second. Remote changes
    arrive as soon as RingCentral notifies them ([sync] push_notifications, over a
    WebSocket; the periodic pull is then an hourly safety net), else every --interval
    seconds (and right after each push). Network trouble, 5xx and
    429 answers are retried with backoff; an expired login stops it (exit 1). Ctrl-C or
    SIGTERM stop it after the current step (exit 0). One engine per database: a second
    watch, pull, push or sync is refused while it runs (or waits, with --wait).

    \b
    Example:
      rcsync watch --interval 60 --log-file ~/rcsync-watch.log
    """
    from rcsync import watch as daemon
    from rcsync.watch.signals import stop_on_signals

    every = interval if interval is not None else app.config.sync.watch_interval
    with _watch_log(app.verbosity, log_file), ExitStack() as held:
        # Nothing is under way while waiting for the lock (--wait): a signal just ends it.
        with stop_on_signals(_exit_now):
            app.require_credentials()
            _take_engine_lock(app, held, wait=wait)
        daemon.run(
            app.engine,
            app.config,
            app.database_path,
            interval=every,
            force=force,
            insecure=app.insecure,
        )


COMMANDS: list[click.Command] = [watch]
