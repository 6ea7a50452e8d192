"""One full reconciliation: pull (when cheap and useful), push, pull.

* pull first only when there are pending edits *and* a sync token exists: one ISync
  request brings the remote changes made since the last pull, so the push plans its
  three-way merge against current remote values (with their lastModifiedTime for the
  "newest" policy) instead of the values of the last pull. Without a token the first pull
  is a full history download: not cheap, and the push verifies its trash candidates by
  itself anyway.
* push: `rcsync.sync.push.push`.
* pull last: collects what changed remotely, including the effects of our own writes
  (which, written as base = remote = local, are not echoed back as edits).

Dry-run runs only the push's dry-run: a pull writes to the database. A stop request
(`stop`) is passed to the push (it stops between batches) and skips the pull after it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rcsync.config import Config
from rcsync.errors import ExtensionAccessError
from rcsync.progress import NullProgress, Progress, plural
from rcsync.store.extensions import extension_by_number
from rcsync.store.pending import has_pending
from rcsync.store.state import SYNC_TOKEN, get_state
from rcsync.sync.apply import settle_journal
from rcsync.sync.push import PushSummary, push

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rcsync.sync.pull import PullSummary


@dataclass
class SyncSummary:
    push: PushSummary
    pulled_before: PullSummary | None = None
    pulled_after: PullSummary | None = None

    @property
    def conflicts(self) -> int:
        return self.push.conflicts + sum(
            s.conflicts for s in (self.pulled_before, self.pulled_after) if s is not None
        )

    def line(self) -> str:
        # The conflicts of the pulls too: "1 conflict" here while `status` said 2 confused.
        line = self.push.line(conflicts=self.conflicts)
        if self.pulled_after is None:
            return line
        got = self.pulled_after.new + self.pulled_after.updated
        if self.pulled_before is not None:
            got += self.pulled_before.new + self.pulled_before.updated
        return f"{line}; pulled {plural(got, 'change')}"

    def as_dict(self) -> dict[str, Any]:
        def pulled(s: PullSummary | None) -> Any:
            return None if s is None else asdict(s)

        return {
            "push": self.push.as_dict(),
            "pull_before": pulled(self.pulled_before),
            "pull_after": pulled(self.pulled_after),
        }


def sync(
    engine: Engine,
    client: Any,
    config: Config,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    extension: str | None = None,
) -> SyncSummary:
    """Pull (if cheap and useful), push, pull. `client` must serve both directions.

    Each direction covers the configured extensions of an account archive (or only the
    one numbered `extension`); edits go to their own extension's paths.

    Once `stop` is set the push sends no further batch and the last pull is skipped.
    """
    progress = progress or NullProgress()
    # The pull engine and the account wrapper (composition layer, like us).
    from rcsync.sync.account import RoutingClient, pull_account

    routing = RoutingClient(engine, client)
    only = _extension_id(engine, extension)
    if dry_run:
        return SyncSummary(
            push(
                engine,
                routing,
                config,
                dry_run=True,
                force=force,
                progress=progress,
                extension=only,
            )
        )
    # Writes a crashed run left unanswered are settled before any pull could mistake
    # their effect for a change made elsewhere.
    settle_journal(engine, routing)
    before = None
    if _has_pending(engine) and _has_token(engine):
        before = pull_account(engine, client, config, progress=progress, only=extension)
    routing = RoutingClient(engine, client)  # a first account pull may have set the home
    pushed = push(
        engine, routing, config, force=force, progress=progress, stop=stop, extension=only
    )
    if stop is not None and stop.is_set():
        return SyncSummary(pushed, before)
    after = pull_account(engine, client, config, progress=progress, only=extension)
    return SyncSummary(pushed, before, after)


def _extension_id(engine: Engine, number: str | None) -> str | None:
    if number is None:
        return None
    with engine.connect() as conn:
        found = extension_by_number(conn, number)
    if found is None:
        raise ExtensionAccessError(f"extension {number} is not in this archive")
    return found.id


def _has_pending(engine: Engine) -> bool:
    with engine.connect() as conn:
        return has_pending(conn)


def _has_token(engine: Engine) -> bool:
    with engine.connect() as conn:
        return get_state(conn, SYNC_TOKEN) is not None
