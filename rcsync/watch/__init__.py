"""`watch`: the daemon that keeps the mirror current, reacting to local edits at once.

    run(engine, config, db path):
        waker  <- file events on the database (files), SIGINT/SIGTERM (signals)
        loop:  step <- schedule.next_step(now)            # pure: push, pull, check, wait
               CHECK: pending summary (store.pending) -> maybe a push is wanted
               PUSH:  sync.push, then a pull at once
               PULL:  sync.pull (incremental), every `interval` seconds
               WAIT:  block in the waker until a change, a stop, or the next deadline
               error: classify -> retry with backoff | hold the push (guard) | stop

With ``[sync] push_notifications`` a second thread (`channel`) keeps a WebSocket
subscription to the mirrored message store open; each event is a `notices.Hint` that makes
the loop pull at once, and while the socket is healthy the periodic pull becomes an hourly
safety net.

Modules: `schedule` (the pure scheduler), `backoff` (pure retry delays), `runner` (the loop,
the waker, the engine adapter), `notices` (what the channel tells the loop), `channel` (the
notification thread), `files` (watchdog on the database's folder), `signals` (stopping
cleanly from the main thread). `run` below is the wiring; the CLI calls it
after taking the engine lock and setting up the log lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rcsync.api import build_client
from rcsync.api.notifications import message_store_filter
from rcsync.config import Config
from rcsync.watch.backoff import Backoff
from rcsync.watch.channel import ECHO_WAIT, SAFETY_INTERVAL, Channel
from rcsync.watch.files import watching
from rcsync.watch.notices import Inbox
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
    # Rate-limit and retry waits inside a step end it early when a stop is requested.
    client = build_client(
        config.ringcentral, insecure=insecure, sleep=interruptible_sleep(waker.stop_requested)
    )
    try:
        # ...and a long push stops between its write batches.
        worker = EngineWorker(
            open_engine(),
            client,
            config,
            force=force,
            progress=LogProgress(),
            stop=waker.stop_requested,
        )
        channel = None
        if config.sync.push_notifications:
            channel = Channel(client.session, worker.engine, Inbox(waker.nudge), watch_filters())
        log.info(
            "watching %s (pull every %g s%s)",
            db_path,
            interval,
            f"; push notifications on: at once on an event, every {SAFETY_INTERVAL:g} s while "
            "the socket is up"
            if channel is not None
            else "",
        )
        run_stoppable(
            lambda: run_watch(worker, db_path, waker, interval=interval, channel=channel),
            waker.request_stop,
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
    channel: Channel | None = None,
) -> None:
    """Watch `db_path` and run the loop until `waker` is asked to stop (or a fatal error);
    with a `channel`, its notices drive pulls too."""
    scheduler = Scheduler(
        interval=interval,
        now=clock(),
        quiet=quiet,
        max_delay=max_delay,
        backoff=Backoff(),
        safety_interval=SAFETY_INTERVAL if channel is not None else None,
        echo_wait=ECHO_WAIT if channel is not None else 0.0,
    )
    inbox = channel.inbox if channel is not None else None
    with watching(db_path, waker.notify_change):
        if channel is not None:
            channel.start()
        try:
            Runner(worker, scheduler, waker, clock=clock, inbox=inbox).run()
        finally:
            if channel is not None:
                channel.close()


def watch_filters() -> list[str]:
    """The event filters of the mirrored extensions: today the login's own message store.
    (Account mode lists one per mirrored extension, and the extension list.)"""
    return [message_store_filter()]
