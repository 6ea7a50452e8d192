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

With ``[sync] push_notifications`` a second thread (`channel`) keeps a WebSocket
subscription to the mirrored message store open; each event is a `notices.Hint` that makes
the loop pull at once, and while the socket is healthy the periodic pull becomes an hourly
safety net. After every pull the loop tells the channel (`Channel.refresh`), which updates
the subscription's filters when the mirrored extensions changed (a user added or gone).

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
from rcsync.api.notifications import EXTENSION_LIST_FILTER, message_store_filter
from rcsync.config import Config
from rcsync.store.database import on_busy_wait
from rcsync.store.extensions import mirrored_extensions
from rcsync.types import ExtensionScope
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
        channel = None
        if config.sync.push_notifications:
            channel = Channel(
                client.session,
                worker.engine,
                Inbox(waker.nudge),
                watch_filters(config, worker.engine),
                wanted=lambda: watch_filters(config, worker.engine),
            )
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
        attachments=worker.config.sync.download_attachments,
        safety_interval=SAFETY_INTERVAL if channel is not None else None,
        echo_wait=ECHO_WAIT if channel is not None else 0.0,
    )
    inbox = channel.inbox if channel is not None else None
    with watching(db_path, waker.notify_change):
        if channel is not None:
            channel.start()
        try:
            after_pull = channel.refresh if channel is not None else None
            Runner(worker, scheduler, waker, clock=clock, inbox=inbox, after_pull=after_pull).run()
        finally:
            if channel is not None:
                channel.close()


def watch_filters(config: Config, engine: Engine) -> list[str]:
    """The event filters of the mirrored extensions: the login's own message store, or in
    an account archive every mirrored extension's (those RingCentral still has) and the
    account's extension list (a new user is picked up by the pull it triggers)."""
    if config.account.extensions == ExtensionScope.SELF:
        return [message_store_filter()]
    with engine.connect() as conn:
        # The same set an event may pull (`EngineWorker.pull_extensions`).
        rows = mirrored_extensions(conn, config.account.extensions)
    stores = [message_store_filter(e.id) for e in rows] or [message_store_filter()]
    return [*stores, EXTENSION_LIST_FILTER]
