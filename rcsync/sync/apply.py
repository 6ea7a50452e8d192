"""Performing a push `Plan`: the only module that both calls the API and writes the DB.

Order of work (each step its own transaction, so a crash anywhere loses nothing):

1. database-only steps of the plan: fixes, conflicts, deferrals;
2. remote writes in batches, in `Op` order (restore, read status, trash, purge); after each
   request the per-message results are saved at once: a success moves base and remote to
   the value sent (never local: a user edit made meanwhile stays pending), a failure stays
   pending with its error and one more attempt. Only an answer that names the message as
   not found counts as "purged" (`ItemResult.gone`); a write's other 404s are checked by
   reading the message, and stay failures unless that read says it is gone.

The database writes themselves are in `rcsync.store.pushes`; this module decides which
to make from RingCentral's answers, and keeps the in-flight journal.

A stop request (`stop`, set by `rcsync watch` on SIGINT/SIGTERM) is honoured between batches,
never inside one: a batch that was sent always has its results saved (or its journal entry
left for the next push to settle); the batches not sent stay pending in local_edit/tombstone
and are planned afresh next time.

A trash DELETE is never resent blindly: a second DELETE purges. When its outcome is unknown
(`AmbiguousWriteError`), the messages are re-read before anything else and only the ones
RingCentral shows as Deleted are confirmed; the rest stay pending, and the next push reads
them again before sending (push.py verifies every trash candidate).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rcsync.api.results import ItemResult
from rcsync.errors import AmbiguousWriteError, AuthError, JournalUnsettled, RcsyncError
from rcsync.progress import NullProgress, Progress
from rcsync.rules.actions import AVAILABILITY, READ, Op, Plan, RemoteAction
from rcsync.store.extensions import of_gone_extensions
from rcsync.store.pushes import (
    TARGET,
    confirm_field,
    confirm_row,
    save_failure,
    save_gone,
    save_local_steps,
    save_success,
)
from rcsync.store.state import get_state, set_state
from rcsync.types import PATH_BATCH, READ_BATCH, Availability, ConflictPolicy, RowDelete, iso_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# sync_state key: JSON list of batches sent whose answers were not saved yet.
IN_FLIGHT = "push_in_flight"


class ReadClient(Protocol):
    """What settling the journal needs: reading messages by id (pull and push have it)."""

    def get_messages(self, ids: Sequence[int]) -> Mapping[int, ItemResult]: ...


class PushClient(ReadClient, Protocol):
    """What the push needs of `rcsync.api.MessageStoreClient`."""

    def get_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]: ...

    def set_read_status(self, changes: Mapping[int, str]) -> dict[int, ItemResult]: ...

    def delete_messages(self, ids: Sequence[int], *, purge: bool) -> dict[int, ItemResult]: ...

    def restore_messages(self, ids: Sequence[int]) -> dict[int, ItemResult]: ...


@dataclass
class ApplyResult:
    pushed: int = 0  # remote writes RingCentral confirmed
    failed: int = 0  # remote writes that failed (still pending)
    settled: int = 0  # database-only fixes made
    requests: int = 0  # write requests sent (not counting the client's own retries)
    errors: list[str] = field(default_factory=list)
    stopped: bool = False  # a stop request ended it between batches
    left: int = 0  # remote actions not sent because of it (still pending)

    def fail(self, message: str) -> None:
        self.failed += 1
        if len(self.errors) < 5 and message not in self.errors:
            self.errors.append(message)


@dataclass(frozen=True)
class Batch:
    """One client call: an op, the readStatus (READ), the actions (≤ one request's worth)."""

    op: Op
    value: str | None
    actions: tuple[RemoteAction, ...]

    @property
    def ids(self) -> list[int]:
        return [a.message_id for a in self.actions]

    @property
    def requests(self) -> int:
        # The client puts ≤ 50 read changes in the path, more go to the `*` form.
        if self.op is Op.READ and len(self.actions) > PATH_BATCH:
            return math.ceil(len(self.actions) / READ_BATCH)
        return math.ceil(len(self.actions) / PATH_BATCH)


def batches(plan: Plan) -> Iterator[Batch]:
    """The plan's remote actions as client calls, in `Op` order, each id once per op."""
    for op in Op:
        by_value: dict[str | None, dict[int, RemoteAction]] = {}
        for a in plan.of(op):
            # De-duplicated: the same id twice in one DELETE could count as two deletes.
            by_value.setdefault(a.value, {}).setdefault(a.message_id, a)
        size = READ_BATCH if op is Op.READ else PATH_BATCH
        for value, actions in by_value.items():
            items = list(actions.values())
            for start in range(0, len(items), size):
                yield Batch(op, value, tuple(items[start : start + size]))


def apply_plan(
    engine: Engine,
    client: PushClient,
    plan: Plan,
    *,
    policy: ConflictPolicy,
    now: Callable[[], str] = iso_utc,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Perform `plan`. Raises the API error that stopped it after saving what was done.

    Once `stop` is set, no further batch is sent: the result says `stopped`, and `left`
    counts the actions that stay pending.
    """
    progress = progress or NullProgress()
    result = ApplyResult()
    with engine.begin() as conn:
        result.settled = save_local_steps(conn, plan, policy=policy, now=now())
    for d in plan.deferred:
        # Not sent because RingCentral could not tell us the message's state: a failure
        # to report (it stays pending with the reason), not a success.
        result.fail(d.reason)
    todo = list(batches(plan))
    progress.start("push", total=len(plan.actions))
    for i, batch in enumerate(todo):
        if stop is not None and stop.is_set():
            result.stopped = True
            result.left = sum(len(b.actions) for b in todo[i:])
            break
        _send(engine, client, batch, result, policy=policy, now=now)
        progress.advance(len(batch.actions))
    progress.finish()
    return result


# --- sending ---------------------------------------------------------------------------


def _call(client: PushClient, batch: Batch) -> dict[int, ItemResult]:
    ids = batch.ids
    if batch.op is Op.READ:
        return client.set_read_status(dict.fromkeys(ids, str(batch.value)))
    if batch.op is Op.RESTORE:
        return client.restore_messages(ids)
    return client.delete_messages(ids, purge=batch.op is Op.PURGE)


def _send(
    engine: Engine,
    client: PushClient,
    batch: Batch,
    result: ApplyResult,
    *,
    policy: ConflictPolicy,
    now: Callable[[], str],
) -> None:
    result.requests += batch.requests
    with engine.begin() as conn:
        journal_add(conn, batch)  # before the request leaves: a crash now is recoverable
    try:
        answers = _call(client, batch)
    except AmbiguousWriteError as exc:
        answers = dict(exc.completed)
        answers.update(recheck_trash(client, exc.ids, str(exc)))
    except RcsyncError as exc:
        # The whole call failed (after the client's retries): record it, then stop the push.
        # The journal entry stays: the request may have been applied.
        with engine.begin() as conn:
            for a in batch.actions:
                save_failure(conn, a, str(exc), now())
                result.fail(str(exc))
        raise
    answers, reads = check_not_found(client, answers)
    result.requests += reads
    with engine.begin() as conn:
        save_answers(conn, batch, answers, result, policy=policy, now=now())
        unknown = [
            a.message_id
            for a in batch.actions
            if (r := answers.get(a.message_id)) is None or r.status == 0
        ]
        journal_settle(conn, batch, unknown)


# --- the in-flight journal ---------------------------------------------------------------
#
# A write whose answer never came (crash, lost response) may or may not have been applied.
# If the user then changes the message again (e.g. undoes the trash), the three-way merge
# would see local == base and take the remote value: the undo would be lost. So, like
# mbsync's journal, every batch is recorded before it is sent and removed with its results;
# the next run of any kind (pull, push, sync, a watch sweep: `settle_journal`, before it
# merges anything) reads those messages and, where RingCentral shows the value we sent,
# moves base there (local untouched): a later undo stays a pending edit.


def journal_load(conn: Connection) -> list[dict[str, Any]]:
    text = get_state(conn, IN_FLIGHT)
    entries = json.loads(text) if text else []
    return entries if isinstance(entries, list) else []


def _journal_save(conn: Connection, entries: list[dict[str, Any]]) -> None:
    set_state(conn, IN_FLIGHT, json.dumps(entries) if entries else None)


def journal_add(conn: Connection, batch: Batch) -> None:
    entry = {
        "op": batch.op.value,
        "value": batch.value,
        "ids": [a.message_id for a in batch.actions if not a.row],
        "rows": [a.message_id for a in batch.actions if a.row],
    }
    _journal_save(conn, [*journal_load(conn), entry])


def journal_settle(conn: Connection, batch: Batch, unknown: Sequence[int]) -> None:
    """Drop the batch's entry, keeping the ids whose outcome is still unknown."""
    entries = journal_load(conn)
    if entries:
        last = entries.pop()
        keep = set(unknown)
        last["ids"] = [i for i in last["ids"] if i in keep]
        last["rows"] = [i for i in last["rows"] if i in keep]
        if last["ids"] or last["rows"]:
            entries.append(last)
    _journal_save(conn, entries)


def settle_journal(engine: Engine, client: ReadClient, now: Callable[[], str] = iso_utc) -> int:
    """Settle writes a previous run sent without seeing the answer; returns ids settled.

    Every engine entry point (pull, push, sync, and so watch's sweeps) calls this before it
    merges anything: a pull that took the remote value of a journaled message for a change
    made elsewhere would revert the user's undo of our write without a conflict. Ids whose
    state RingCentral cannot tell now stay in the journal, and `JournalUnsettled` stops the
    caller before it merges; a failed read request raises its own error, the journal intact.
    """
    with engine.connect() as conn:
        entries = journal_load(conn)
    if not entries:
        return 0
    ids = sorted({i for e in entries for i in (*e["ids"], *e["rows"])})
    current, _reads = read_current(client, ids)
    unknown = {i for i in ids if not _answered(current.get(i))}
    settled = 0
    with engine.begin() as conn:
        for e in entries:
            settled += _recover_entry(conn, e, current, now())
        _journal_save(conn, _still_open(entries, unknown))
        # A deleted user's messages cannot be read any more: their entries stay open (they
        # settle if the extension comes back) and do not stop the rest of the archive.
        unknown -= of_gone_extensions(conn, sorted(unknown))
    if unknown:
        raise JournalUnsettled(
            f"{len(unknown):,} messages an interrupted push wrote to could not be read from"
            " RingCentral; nothing was merged, they are settled on the next run"
        )
    return settled


def _answered(r: ItemResult | None) -> bool:
    """RingCentral told us this message's state: a record, or that it is gone."""
    return r is not None and ((r.ok and r.record is not None) or r.gone)


def _still_open(entries: list[dict[str, Any]], unknown: set[int]) -> list[dict[str, Any]]:
    kept = []
    for e in entries:
        left = {**e, "ids": [i for i in e["ids"] if i in unknown]}
        left["rows"] = [i for i in e["rows"] if i in unknown]
        if left["ids"] or left["rows"]:
            kept.append(left)
    return kept


def read_current(client: ReadClient, ids: Sequence[int]) -> tuple[dict[int, ItemResult], int]:
    """The current state of `ids` (bulk GET, 50 per request); (results, requests).

    An id the bulk answer says nothing conclusive about (a 404 for the whole request, a
    part without its id, a failed part) is read again on its own: the single-message form,
    whose 404 ``CMN-102`` does name the message.
    """
    current: dict[int, ItemResult] = {}
    requests = 0
    for start in range(0, len(ids), PATH_BATCH):
        current.update(client.get_messages(ids[start : start + PATH_BATCH]))
        requests += 1
    if len(ids) > 1:
        for mid in ids:
            if not _answered(current.get(mid)):
                requests += 1
                try:
                    current.update(client.get_messages([mid]))
                except AuthError:
                    raise
                except RcsyncError:
                    continue
    return current, requests


def check_not_found(
    client: ReadClient, answers: Mapping[int, ItemResult]
) -> tuple[dict[int, ItemResult], int]:
    """Turn a write's 404 that does not name its message into evidence, or a failure.

    A 404 for a whole request, or for a single-id write, may mean the path or the call is
    unknown rather than the message: such messages are read, and only one that the read
    shows gone is treated as purged. Otherwise the write failed: the edit stays pending
    with the write's error. Returns (answers, read requests made).
    """
    out = dict(answers)
    unclear = [i for i, r in answers.items() if r.status == 404 and not r.gone]
    if not unclear:
        return out, 0
    try:
        current, reads = read_current(client, unclear)
    except AuthError:
        raise
    except RcsyncError:
        return out, 1
    for mid in unclear:
        r = current.get(mid)
        if r is not None and r.gone:
            out[mid] = dataclasses.replace(out[mid], gone=True)
    return out, reads


def _recover_entry(
    conn: Connection, entry: dict[str, Any], current: Mapping[int, ItemResult], now: str
) -> int:
    op = Op(entry["op"])
    key, target = ("readStatus", entry["value"]) if op is Op.READ else ("availability", TARGET[op])
    settled = 0
    for mid in entry["ids"]:
        r = current.get(mid)
        if r is not None and r.ok and (r.record or {}).get(key) == target:
            confirm_field(conn, mid, READ if op is Op.READ else AVAILABILITY, target, None)
            settled += 1
    for mid in entry["rows"]:
        r = current.get(mid)
        avail = (r.record or {}).get("availability") if r is not None and r.ok else None
        if avail in (Availability.DELETED, Availability.PURGED) or (r is not None and r.gone):
            gone = avail != Availability.DELETED
            confirm_row(conn, mid, RowDelete.PURGE if gone else RowDelete.TRASH, now)
            settled += 1
    return settled


def recheck_trash(client: PushClient, ids: Sequence[int], why: str) -> dict[int, ItemResult]:
    """Outcome of trash DELETEs whose answer was lost: read the messages again.

    Deleted → the trash happened (success). Purged or gone → 404 (handled as purged
    remotely). Alive or unreadable → failure, left pending; it is re-read before any resend.
    """
    unknown = f"trash outcome unknown ({why}); not resent, will be checked on the next push"
    try:
        current = client.get_messages(list(ids))
    except AuthError:
        raise
    except RcsyncError:
        current = {}
    out: dict[int, ItemResult] = {}
    for mid in ids:
        r = current.get(mid)
        avail = (r.record or {}).get("availability") if r is not None and r.ok else None
        if avail == Availability.DELETED:
            out[mid] = ItemResult(mid, True, 204)
        elif avail == Availability.PURGED or (r is not None and r.gone):
            out[mid] = ItemResult(mid, False, 404, None, None, "purged remotely", gone=True)
        else:
            out[mid] = ItemResult(mid, False, 0, None, None, unknown)
    return out


# --- saving results ----------------------------------------------------------------------


def save_answers(
    conn: Connection,
    batch: Batch,
    answers: Mapping[int, ItemResult],
    result: ApplyResult,
    *,
    policy: ConflictPolicy,
    now: str,
) -> None:
    for a in batch.actions:
        r = answers.get(a.message_id)
        if r is not None and r.ok:
            save_success(conn, a, r.record, now)
            result.pushed += 1
        elif r is not None and r.gone:
            save_gone(conn, a, policy, now)
            result.pushed += 1
        else:
            error = "no answer for this message" if r is None else (r.error or f"HTTP {r.status}")
            save_failure(conn, a, error, now)
            result.fail(error)
