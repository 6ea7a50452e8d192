"""One full reconciliation, edits first: messages, push, attachments.

* settle the push journal: writes a crashed run left unanswered, before any merge could
  take their effect for a change made elsewhere;
* the messages, when a sync token exists (`pull_messages`: one ISync), so the push plans
  its three-way merge against current remote values (with their lastModifiedTime for the
  "newest" policy) instead of those of the last pull. Without a token that would be the
  whole history: the push verifies its trash candidates by itself, and the full listing
  comes after it;
* push: `rcsync.sync.push.push`;
* the messages again when the push wrote something (one ISync): the effects of our own
  writes (lastModifiedTime, ``raw``), which are not echoed back as edits;
* the attachments (`pull_attachments`), last: they may take hours at RingCentral's limit,
  and edits made meanwhile are pushed between two downloads
  (`rcsync.sync.edits_first`), whose reserve keeps the write budget for them.

Dry-run runs only the push's dry-run: a pull writes to the database. A stop request
(`stop`) is passed to the push (it stops between batches) and skips what comes after it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rcsync.api.ratelimit import RateBudget
from rcsync.config import Config
from rcsync.errors import ExtensionAccessError
from rcsync.progress import NullProgress, Progress, plural
from rcsync.store.extensions import extension_by_number
from rcsync.store.state import SYNC_TOKEN, get_state
from rcsync.sync.apply import settle_journal
from rcsync.sync.edits_first import EditsFirst
from rcsync.sync.push import PushSummary, push

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rcsync.sync.pull import PullSummary


@dataclass
class SyncSummary:
    push: PushSummary
    pulled_before: PullSummary | None = None
    pulled_after: PullSummary | None = None
    attachments: PullSummary | None = None

    @property
    def conflicts(self) -> int:
        return self.push.conflicts + sum(
            s.conflicts for s in (self.pulled_before, self.pulled_after) if s is not None
        )

    @property
    def new(self) -> int:
        """New messages the pulls brought (for `on_new_messages`)."""
        return sum(s.new for s in (self.pulled_before, self.pulled_after) if s is not None)

    def add_push(self, later: PushSummary) -> None:
        """A push made during the attachment phase counts with the first one."""
        first = self.push
        first.pending += later.pending
        first.planned += later.planned
        first.pushed += later.pushed
        first.settled += later.settled
        first.failed += later.failed
        first.conflicts += later.conflicts
        first.requests += later.requests
        first.errors += later.errors
        first.stopped, first.left = later.stopped, later.left

    def line(self) -> str:
        # The conflicts of the pulls too: "1 conflict" here while `status` said 2 confused.
        line = self.push.line(conflicts=self.conflicts)
        pulls = [s for s in (self.pulled_before, self.pulled_after) if s is not None]
        if pulls:
            got = sum(s.new + s.updated for s in pulls)
            line += f"; pulled {plural(got, 'change')}"
        files = self.attachments
        if files is not None and (files.attachments_downloaded or files.attachments_failed):
            line += f", {plural(files.attachments_downloaded, 'attachment')}"
            if files.attachments_failed:
                line += f" ({files.attachments_failed:,} failed, retried next pull)"
        if files is not None and files.attachments_left:
            line += f"; {plural(files.attachments_left, 'attachment')} left for later"
        return line

    def as_dict(self) -> dict[str, Any]:
        def pulled(s: PullSummary | None) -> Any:
            return None if s is None else asdict(s)

        return {
            "push": self.push.as_dict(),
            "pull_before": pulled(self.pulled_before),
            "pull_after": pulled(self.pulled_after),
            "attachments": pulled(self.attachments),
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
    """Messages, push, attachments (see the module docstring). `client` must serve both
    directions. Each direction covers the configured extensions of an account archive (or
    only the one numbered `extension`); edits go to their own extension's paths. Once
    `stop` is set the push sends no further batch, and nothing follows."""
    progress = progress or NullProgress()
    # The pull engine and the account wrapper (composition layer, like us).
    from rcsync.sync.account import RoutingClient, pull_account_messages

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
    from rcsync.sync.pull import pull_attachments

    def messages() -> PullSummary:
        return pull_account_messages(engine, client, config, progress=progress, only=extension)

    def push_edits() -> PushSummary:
        # A first account pull may have set the home extension: route afresh each time.
        return push(
            engine,
            RoutingClient(engine, client),
            config,
            force=force,
            progress=progress,
            stop=stop,
            extension=only,
        )

    settle_journal(engine, routing)
    before = messages() if _has_token(engine) else None
    pushed = push_edits()
    summary = SyncSummary(pushed, before)
    if stop is not None and stop.is_set():
        return summary
    if pushed.pushed or before is None:
        summary.pulled_after = messages()
    if config.sync.download_attachments:
        gate = EditsFirst(
            engine,
            config,
            budget=_budget(client),
            progress=progress,
            push=lambda: summary.add_push(push_edits()),
            interrupt=None if stop is None else stop.is_set,
            star=bool(getattr(client, "star_bulk", True)),
        )
        summary.attachments = pull_attachments(engine, client, config, progress=progress, gate=gate)
    return summary


def _extension_id(engine: Engine, number: str | None) -> str | None:
    if number is None:
        return None
    with engine.connect() as conn:
        found = extension_by_number(conn, number)
    if found is None:
        raise ExtensionAccessError(f"extension {number} is not in this archive")
    return found.id


def _has_token(engine: Engine) -> bool:
    with engine.connect() as conn:
        return get_state(conn, SYNC_TOKEN) is not None


def _budget(client: Any) -> RateBudget | None:
    budget = getattr(client, "budget", None)
    return budget if isinstance(budget, RateBudget) else None
