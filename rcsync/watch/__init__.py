"""`watch`: the daemon that keeps the mirror current, reacting to local edits at once.

    run(engine, config, db path):
        waker  <- file events on the database (files), SIGINT/SIGTERM (signals)
        loop:  step <- schedule.next_step(now)            # pure: push, pull, check, wait
               CHECK: pending summary (store.pending) -> maybe a push is wanted
               PUSH:  sync.push, then a pull at once
               PULL:  sync.pull_messages (ISync), every `interval` seconds and after a push
               ATTACHMENTS: sync.pull_attachments after a pull; ends as soon as an edit
                      waits or a pull is due, and goes on after them (edits first)
               WAIT:  block in the waker until a change, a stop, or the next deadline
               error: classify -> retry with backoff | hold the push (guard) | stop

Modules: `schedule` (the pure scheduler), `backoff` (pure retry delays), `runner` (the loop,
the waker, the engine adapter), `files` (watchdog on the database's folder), `signals`
(stopping cleanly from the main thread). `run` below is the wiring; the CLI calls it
after taking the engine lock and setting up the log lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rcsync.api import build_client
from rcsync.config import Config
from rcsync.store.database import on_busy_wait
from rcsync.watch.backoff import Backoff
from rcsync.watch.files import watching
from rcsync.watch.runner import EngineWorker, LogProgress, Runner, Waker, interruptible_sleep
from rcsync.watch.schedule import Scheduler
from rcsync.watch.signals import run_stoppable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger("rcsync.watch")


def run(
    open_engine: Callable[[], Engine],
    config: Config,
    db_path: Path,
    *,
    interval: float,
    force: bool = False,
    insecure: bool = False,
) -> None:
    """Run until SIGINT/SIGTERM (returns) or a fatal error (raises); the caller holds the lock.

    `open_engine` is called once the API client is built, so a configuration error leaves
    no database behind.
    """
    waker = Waker()
    progress = LogProgress()
    # Rate-limit and retry waits inside a step end it early when a stop is requested, and
    # each is a log line (`LogProgress.waiting`).
    client = build_client(
        config.ringcentral,
        insecure=insecure,
        sleep=interruptible_sleep(waker.stop_requested),
        on_wait=progress.waiting,
    )
    try:
        # ...and a long push stops between its write batches.
        engine = open_engine()
        on_busy_wait(engine, progress.waiting)  # a user's long write transaction: logged
        worker = EngineWorker(
            engine,
            client,
            config,
            force=force,
            progress=progress,
            stop=waker.stop_requested,
        )
        log.info("watching %s (pull every %g s)", db_path, interval)
        run_stoppable(
            lambda: run_watch(worker, db_path, waker, interval=interval), waker.request_stop
        )
        log.info("stopped")
    finally:
        client.close()


def run_watch(
    worker: EngineWorker,
    db_path: Path,
    waker: Waker,
    *,
    interval: float,
    quiet: float = 0.2,
    max_delay: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Watch `db_path` and run the loop until `waker` is asked to stop (or a fatal error)."""
    scheduler = Scheduler(
        interval=interval,
        now=clock(),
        quiet=quiet,
        max_delay=max_delay,
        backoff=Backoff(),
        attachments=worker.config.sync.download_attachments,
    )
    with watching(db_path, waker.notify_change):
        Runner(worker, scheduler, waker, clock=clock).run()
