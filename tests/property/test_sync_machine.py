"""Convergence of push + pull under random local SQL edits, remote edits, faults and crashes.

A hypothesis RuleBasedStateMachine (habit 11 of STYLE.md). Local edits are plain SQL on a
separate sqlite3 connection (what any SQLite client does); remote edits go straight into
the emulator's store (another device). A crash makes the transport raise after k requests
(before or after the request reached the server: a lost response), and the machine goes on
with a fresh engine and client, as a restarted process would. After every successful sync:

* both sides agree (local = base = remote for every row; deleted rows are deleted remotely);
* nothing is pending;
* no edit is lost: a field changed on one side only since the last sync has that side's
  value on both sides;
* nothing the user only trashed was purged, unless someone purged it;
* nothing is deleted remotely that nobody deleted.

RingCentral's harsher readings (issue 10) are rules too: tokens invalidated and rejected
with ``CMN-101``, record-bounded FSync frames and capped FSyncs, capped ISyncs
(``olderRecordsExist``), a lone surrogate in a record's text, and the user's SQL committed
by another connection between the pull's read and its writes (or, on the engine's own
connection, after a stale read).

Targeted faults go through the emulator's own fault rules (``/_emulator/faults``, in-process
`Emulator.fault_rules`), each after the local edit that makes the engine send that
operation: a whole-request 404 (no message named) on PUT/DELETE/PATCH or on the reads by id
(the push's verification read before a trash, the pull's re-reads), a 405 on PATCH, and a
write performed whose answer is then dropped (``after_write: reset``) or held back past the
client's read timeout (``delay``, met in emulated time: `machine_faults.ClientTimeout`).
A crash between send and save (the answer dropped and the process killed on the spot, so
the push journal holds the write) is followed by the user's SQL on the same message (undo
the trash, mark read/unread) and a plain pull, a watch sweep, a push or a sync. Plain
pulls, pushes and watch sweeps also run alone. After *every* step, whatever happened:

* a row the user deleted never comes back;
* nothing is Purged locally (as the engine's base, or at all unless the user asked) that
  RingCentral did not purge (the emulator's record: gone from its store, or Purged);
* a user's edit of a field nobody changed remotely is still local, or a conflict row says
  why not.

And at the end of every run (teardown), one fault-free sync leaves mirror == server.
Checked to bite: with any 404 read as "purged" the machine finds a verification read's
whole-request 404 purging an Alive message; with the pull not settling the push journal it
finds a read-status edit made after a crashed PUT lost by a plain pull.
The number of examples is ``RCSYNC_MAX_EXAMPLES`` (default 60).

`AccountSyncMachine` runs every rule over an account archive (issue 12): the admin mirrors
``[account] extensions = "all"`` of three extensions, remote edits land in the owning
extension, local edits touch messages of any extension, pulls and pushes go through the
account wrappers (`pull_account`, `push_account`; `sync` and watch route by themselves),
and the same invariants hold for every message of every extension, plus: each row is filed
under the extension that holds it. Derandomized, ``RCSYNC_ACCOUNT_EXAMPLES`` examples
(default 25). Checked to bite: with `RoutingClient` sending every edit to the home extension
it finds 9 distinct failures (local edits lost, a 404 from the wrong extension's path taken
as a purge).

Extensions also come and go mid-run through the control API (at most `MAX_CHANGES` a run):
a user added (mirrored once RingCentral's extension-list event has the list re-read,
`reread_extensions`, as watch does), a user deleted (never the admin). After every
fault-free sync: a deleted user's rows all stay (only the user's own row deletes remove
any), their extension is marked gone, their pending edits stay pending (no path takes
them), every announced new user's messages are all mirrored, and the live extensions
converge as before. Checked to bite: purging a gone user's rows is found ("Purged locally,
RingCentral did not purge it"); settling the push journal without setting a gone user's
messages aside stops every later run (`JournalUnsettled`); an event that does not re-read
the list leaves the new user unmirrored.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rcsync.api import TokenStore, build_client
from rcsync.config import AccountConfig, Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator.targeted import AfterWrite
from rcsync.errors import RcsyncError
from rcsync.store.database import open_database
from rcsync.types import ExtensionScope

emulator = pytest.importorskip("rcsync.emulator")
pull_mod = pytest.importorskip("rcsync.sync.pull")

import rcsync.store.messages as save_module  # noqa: E402
from rcsync.sync.account import pull_account, push_account, reread_extensions  # noqa: E402
from rcsync.sync.push import push  # noqa: E402
from rcsync.sync.reconcile import sync  # noqa: E402
from tests.harness.account import EMULATOR_CREDENTIALS  # noqa: E402
from tests.harness.harsh import Harsh, surrogate_subject  # noqa: E402
from tests.property.machine_faults import (  # noqa: E402
    ClientTimeout,
    DiesOnLostAnswer,
    ProcessDied,
    watch_sweep,
)

N = 10
EXTENSIONS = 3  # the account machine's: the admin's own and two users'
MAX_CHANGES = 2  # extensions added or deleted per run (each costs pulls; the suite stays quick)
NEW_MESSAGES = 3  # the history of an extension added mid-run
SERVER = "https://platform.ringcentral.com"
TIMEOUT = 30.0  # the client's read timeout (config default), met in emulated time


class Entry(StrEnum):
    """How a run of the engine starts: the CLI commands, and one sweep of `watch`."""

    PULL = "pull"
    PUSH = "push"
    SYNC = "sync"
    WATCH = "watch"


class Op(StrEnum):
    """The spec operationIds the targeted fault rules aim at."""

    UPDATE = "updateMessage"  # PUT readStatus
    PATCH = "patchMessage"  # PATCH availability=Alive (restore)
    DELETE = "deleteMessage"  # trash or purge
    READ = "readMessage"  # reads by id: the push's verification read, the pull's re-reads


WRITES = (Op.UPDATE, Op.PATCH, Op.DELETE)
PUSHING = (Entry.PUSH, Entry.SYNC, Entry.WATCH)  # a plain pull sends no write
# Whole-request failures that name no message: the emulator's default 404 body is CMN-102
# about [path] (an unrouted path), the bare one has no errorCode at all; a 405 says the
# method is not supported. None of them is evidence that a message is gone.
WHOLE_REQUEST_FAULTS = [
    (Op.UPDATE, 404),
    (Op.DELETE, 404),
    (Op.PATCH, 404),
    (Op.PATCH, 405),
    (Op.READ, 404),
]
BARE_404 = {"message": "Not Found"}


class AfterCrash(StrEnum):
    """What the user does in SQL after a push died between sending and saving."""

    UNDO_TRASH = "undo trash"
    READ = "Read"
    UNREAD = "Unread"


class Crash(Exception):
    """The process died here."""


class CrashingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, after: int, lose_response: bool) -> None:
        self.inner, self.left, self.lose = inner, after, lose_response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.left -= 1
        if self.left < 0:
            if self.lose:
                self.inner.handle_request(request)
            raise Crash(f"crash at {request.method} {request.url.path}")
        return self.inner.handle_request(request)


class SyncMachine(RuleBasedStateMachine):
    ACCOUNT = AccountConfig()  # the login's own extension ("self"): the single pull of old

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="rcsync-machine-"))
        self.clock = emulator.FakeClock()
        self.emu = self._emulator()
        rc = RingCentralConfig(
            server=SERVER,
            **EMULATOR_CREDENTIALS,
            token_file=self.tmp / "tokens.json",
        )
        self.config = Config(
            ringcentral=rc,
            database=DatabaseConfig(path=self.tmp / "m.db"),
            sync=SyncConfig(
                download_attachments=False, history_start=__import__("datetime").date(2000, 1, 1)
            ),
            account=self.ACCOUNT,
        )
        self.engine = open_database(self.config.database.path)
        self.ids = self._message_ids()
        # What was asked, by whom, over the whole run.
        self.trashed: set[int] = set()  # anyone asked for trash (user, row delete, remote)
        self.purged: set[int] = set()  # anyone asked for a purge
        self.restored: set[int] = set()  # restored remotely (another device)
        # Fields changed since the last successful sync, by side: {(id, field): value}.
        self.local_changes: dict[tuple[int, str], str] = {}
        self.remote_changes: dict[tuple[int, str], str] = {}
        self.synced = False
        # RingCentral's harsher readings, switched by rules; one instance keeps the
        # continuation tokens of partial ISyncs across clients.
        self.timed = ClientTimeout(self.emu, TIMEOUT, self.clock.advance)
        self.harsh = Harsh(self.timed)
        self.junk: int | None = None  # a message whose subject arrives cut in an emoji
        self.rows_deleted: set[int] = set()  # rows the user DELETEd: never to come back
        self._sync(faults=False)  # the first pull: a mirror to edit

    def teardown(self) -> None:
        """Whatever happened, one fault-free sync leaves the mirror equal to the server."""
        try:
            self.emu.fault_rules.clear()
            self._sync(faults=False)
            self.converged()
        finally:
            self.engine.dispose()

    # --- helpers ---------------------------------------------------------------------

    def server(self) -> httpx.BaseTransport:
        """The emulator as the client sees it: harsh modes and junk text applied."""
        if self.junk is None:
            return self.harsh
        return surrogate_subject(self.harsh, self.junk)

    def client(self, transport: httpx.BaseTransport | None = None) -> Any:
        return build_client(
            self.config.ringcentral,
            transport=transport or self.server(),
            clock=self.clock.now,
            sleep=self.clock.advance,
            store=TokenStore(self.config.ringcentral.token_file),
        )

    def sql(self, statement: str, *params: Any) -> int:
        con = sqlite3.connect(self.config.database.path, timeout=30)
        try:
            cur = con.execute(statement, params)
            con.commit()
            return cur.rowcount
        except sqlite3.IntegrityError:  # the schema refused an impossible edit (un-purge)
            return 0
        finally:
            con.close()

    def local_row(self, mid: int) -> tuple[str, str] | None:
        con = sqlite3.connect(self.config.database.path)
        try:
            row = con.execute(
                "SELECT read_status, availability FROM message WHERE id = ?", (mid,)
            ).fetchone()
        finally:
            con.close()
        return None if row is None else (row[0], row[1])

    def _emulator(self) -> Any:
        return emulator.Emulator(messages=N, seed=5, rate_limits=False, clock=self.clock)

    def _message_ids(self) -> list[int]:
        return [r["id"] for r in self.emu.store.all_records()]

    def remote_store(self, mid: int) -> Any:
        """The emulator's store that holds message `mid` (the one extension's, here)."""
        return self.emu.store

    def remote_edit_allowed(self, mid: int) -> bool:
        return True

    def check_synced(self, rows: dict[int, Any], pending: set[int]) -> set[int]:
        """Checks of a subclass after a fault-free sync; the ids exempt from convergence."""
        return set()

    def _pull(self, client: Any) -> None:
        pull_mod.pull(self.engine, client, self.config)

    def _push(self, client: Any) -> None:
        push(self.engine, client, self.config, force=True)

    def _sync(self, *, faults: bool, client: Any = None) -> bool:
        return self._run(Entry.SYNC, faults=faults, client=client)

    def _run(self, entry: Entry, *, faults: bool, client: Any = None) -> bool:
        """One run of the engine; False if it failed (allowed only with `faults`)."""
        self.clock.advance(1)
        client = client or self.client()
        try:
            match entry:
                case Entry.PULL:
                    self._pull(client)
                case Entry.PUSH:
                    self._push(client)
                case Entry.SYNC:
                    sync(self.engine, client, self.config, force=True)
                case Entry.WATCH:
                    watch_sweep(self.engine, client, self.config, strict=not faults)
        except RcsyncError:
            if faults:
                return False
            raise
        # Only a fault-free sync is a checkpoint: with faults a sync may succeed yet leave
        # edits for the next one, and a pull or push alone does only half the work.
        if entry is Entry.SYNC and not faults:
            self.synced = True
        return True

    def _restart(self) -> None:
        """A new process: fresh engine (and a fresh client at the next run)."""
        self.engine.dispose()
        self.engine = open_database(self.config.database.path)

    def _faulty_run(self, spec: dict[str, Any], entry: Entry) -> None:
        """Run `entry` with one targeted fault rule active; note (in hypothesis' statistics)
        whether any request of its operation was made, i.e. whether the rule could bite."""
        operation = spec["operation"]
        before = self.emu.counters.by_operation[operation]
        self.emu.fault_rules.add(spec)
        try:
            self._run(entry, faults=True)
        finally:
            self.emu.fault_rules.clear()
        reached = self.emu.counters.by_operation[operation] > before
        kind = spec.get("status", spec.get("after_write"))
        event(f"{operation} {kind} in {entry}: {'hit' if reached else 'not reached'}")

    def _provoke(self, op: Op, i: int) -> int:
        """Make the local edit that has the next push send `op` for message `i`."""
        mid = self.ids[i]
        row = self.local_row(mid)
        if op is Op.UPDATE and row is not None:
            self.local_read(i, "Unread" if row[0] == "Read" else "Read")
        elif op is Op.PATCH:
            if row is None or row[1] != "Deleted":
                # A restore needs a message trashed on both sides: trash it elsewhere and
                # let a fault-free sync (a checkpoint) bring that here first.
                self.remote_availability(i, "Deleted")
                self._sync(faults=False)
                self.converged()
            self.local_availability(i, "Alive")
        elif row is not None and row[1] == "Alive":  # DELETE, READ: the verification read
            self.local_availability(i, "Deleted")
        return mid

    # --- local edits (plain SQL) -------------------------------------------------------

    @rule(i=st.integers(0, N - 1), value=st.sampled_from(["Read", "Unread"]))
    def local_read(self, i: int, value: str) -> None:
        mid = self.ids[i]
        if self.sql(
            "UPDATE message SET read_status = ? WHERE id = ? AND availability <> 'Purged'",
            value,
            mid,
        ):
            self.local_changes[(mid, "read_status")] = value

    @rule(i=st.integers(0, N - 1), value=st.sampled_from(["Alive", "Deleted", "Purged"]))
    def local_availability(self, i: int, value: str) -> None:
        mid = self.ids[i]
        if self.sql("UPDATE message SET availability = ? WHERE id = ?", value, mid):
            {"Deleted": self.trashed, "Purged": self.purged}.get(value, set()).add(mid)
            self.local_changes[(mid, "availability")] = value

    @rule(i=st.integers(0, N - 1))
    def local_row_delete(self, i: int) -> None:
        mid = self.ids[i]
        if self.sql("DELETE FROM message WHERE id = ?", mid):
            self.trashed.add(mid)  # row_delete = trash
            self.rows_deleted.add(mid)

    # --- remote edits (another device) -------------------------------------------------

    @rule(i=st.integers(0, N - 1), value=st.sampled_from(["Read", "Unread"]))
    def remote_read(self, i: int, value: str) -> None:
        mid = self.ids[i]
        if not self.remote_edit_allowed(mid):
            return
        self.clock.advance(1)
        self.remote_store(mid).remote_edit(mid, read_status=value)
        self.remote_changes[(mid, "read_status")] = value

    @rule(i=st.integers(0, N - 1), value=st.sampled_from(["Alive", "Deleted", "Purged"]))
    def remote_availability(self, i: int, value: str) -> None:
        mid = self.ids[i]
        record = self.remote_store(mid).get(mid)
        if (
            not self.remote_edit_allowed(mid)
            or record is None
            or record["availability"] == "Purged"
        ):
            return
        self.clock.advance(1)
        self.remote_store(mid).remote_edit(mid, availability=value)
        if value == "Alive":
            self.restored.add(mid)
        {"Deleted": self.trashed, "Purged": self.purged}.get(value, set()).add(mid)
        self.remote_changes[(mid, "availability")] = value

    # --- syncs, faults, crashes --------------------------------------------------------

    @rule()
    def sync_clean(self) -> None:
        self._sync(faults=False)

    @rule(error=st.sampled_from([0.2, 0.5]), reset=st.sampled_from([0.0, 0.3]))
    def sync_with_faults(self, error: float, reset: float) -> None:
        self.emu.configure(faults={"error_rate": error, "reset_rate": reset})
        try:
            self._sync(faults=True)
        finally:
            self.emu.configure(faults={"error_rate": 0.0, "reset_rate": 0.0})

    @rule(after=st.integers(0, 8), lose=st.booleans())
    def crash_during_sync(self, after: int, lose: bool) -> None:
        transport = CrashingTransport(self.server(), after, lose)
        try:
            self._sync(faults=True, client=self.client(transport))
        except Crash:
            self.engine.dispose()  # a new process: fresh engine, fresh client next time
            self.engine = open_database(self.config.database.path)

    @rule(entry=st.sampled_from(Entry), faults=st.booleans())
    def run_alone(self, entry: Entry, faults: bool) -> None:
        """A plain pull, push or watch sweep (not always the full sync), maybe with noise."""
        if faults:
            self.emu.configure(faults={"error_rate": 0.3, "reset_rate": 0.2})
        try:
            self._run(entry, faults=faults)
        finally:
            self.emu.configure(faults={"error_rate": 0.0, "reset_rate": 0.0})

    # --- targeted faults (/_emulator/faults) ------------------------------------------------

    @rule(
        fault=st.sampled_from(WHOLE_REQUEST_FAULTS),
        bare=st.booleans(),
        times=st.integers(1, 3),
        i=st.integers(0, N - 1),
        data=st.data(),
    )
    def whole_request_fault(
        self, fault: tuple[Op, int], bare: bool, times: int, i: int, data: st.DataObject
    ) -> None:
        """The next `times` requests of one operation fail as a whole (404 or 405): no
        message is named, so nothing may be taken as purged and no edit dropped."""
        op, status = fault
        entry = data.draw(st.sampled_from(Entry if op is Op.READ else PUSHING), label="entry")
        self._provoke(op, i)
        spec: dict[str, Any] = {"operation": op.value, "status": status, "times": times}
        if bare and status == 404:
            spec["body"] = BARE_404
        self._faulty_run(spec, entry)

    @rule(
        op=st.sampled_from(WRITES),
        fault=st.sampled_from(AfterWrite),
        i=st.integers(0, N - 1),
        entry=st.sampled_from(PUSHING),
    )
    def answer_lost_after_write(self, op: Op, fault: AfterWrite, i: int, entry: Entry) -> None:
        """RingCentral performs the write, then the answer is dropped or held back past the
        client's read timeout: the client cannot know whether its write happened."""
        self._provoke(op, i)
        spec: dict[str, Any] = {"operation": op.value, "after_write": fault.value}
        if fault is AfterWrite.DELAY:
            spec["delay_ms"] = int(2 * TIMEOUT * 1000)
        self._faulty_run(spec, entry)

    @rule(
        op=st.sampled_from(WRITES),
        i=st.integers(0, N - 1),
        then=st.sampled_from(AfterCrash),
        entry=st.sampled_from(Entry),
    )
    def crash_between_send_and_save(self, op: Op, i: int, then: AfterCrash, entry: Entry) -> None:
        """A push's write is performed, its answer lost and the process killed before it
        saved anything (the push journal holds the write); the user then edits the same
        message in SQL and the next run is a plain pull, a watch sweep, a push or a sync."""
        self._provoke(op, i)
        self.emu.fault_rules.add({"operation": op.value, "after_write": AfterWrite.RESET.value})
        dying = DiesOnLostAnswer(self.server())
        try:
            self.clock.advance(1)
            self._push(self.client(dying))
        except (ProcessDied, RcsyncError):
            pass
        finally:
            self.emu.fault_rules.clear()
            event(f"crash after {op.value}: {'died' if dying.died else 'no write sent'}")
            self._restart()
        if then is AfterCrash.UNDO_TRASH:
            self.local_availability(i, "Alive")
        else:
            self.local_read(i, then.value)
        self._run(entry, faults=False)

    # --- RingCentral's harsher readings ---------------------------------------------------

    @rule(
        cmn_101=st.booleans(),
        record_frame=st.booleans(),
        fsync_cap=st.sampled_from([None, 2]),
        isync_cap=st.sampled_from([None, 1, 3]),
    )
    def harsh_modes(
        self, cmn_101: bool, record_frame: bool, fsync_cap: int | None, isync_cap: int | None
    ) -> None:
        h = self.harsh
        h.cmn_101, h.record_frame, h.fsync_cap, h.isync_cap = (
            cmn_101,
            record_frame,
            fsync_cap,
            isync_cap,
        )

    @rule(
        code=st.sampled_from(["MSG-333", "CMN-101"]),
        frame=st.sampled_from(["dates", "records"]),
        cap=st.sampled_from([None, 1, 2]),
    )
    def emulator_modes(self, code: str, frame: str, cap: int | None) -> None:
        """The emulator's own harsh readings (``PUT /_emulator/config``)."""
        self.emu.configure(invalid_sync_token_code=code, sync_frame=frame, isync_max_records=cap)

    @rule()
    def invalidate_sync_tokens(self) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        self.emu.sync.invalidate()  # MSG-333, or CMN-101 while that mode is on

    @rule(i=st.integers(0, N - 1))
    def junk_text(self, i: int) -> None:
        self.junk = self.ids[i]

    @rule(
        i=st.integers(0, N - 1),
        edit=st.sampled_from(
            [
                "UPDATE message SET read_status = 'Read' WHERE id = ? AND availability <> 'Purged'",
                "UPDATE message SET read_status = 'Unread' WHERE id = ?"
                " AND availability <> 'Purged'",
                "UPDATE message SET availability = 'Deleted' WHERE id = ?",
                "UPDATE message SET availability = 'Purged' WHERE id = ?",
                "DELETE FROM message WHERE id = ?",
            ]
        ),
        same_connection=st.booleans(),
    )
    def user_sql_during_pull(self, i: int, edit: str, same_connection: bool) -> None:
        """The user's SQL lands right after the pull read the rows it will write: from
        another connection (blocked by BEGIN IMMEDIATE: it is retried after the sync, as
        a shell with .timeout would), or on the engine's connection (a stale read)."""
        mid, done, blocked = self.ids[i], [], []
        real = save_module.fetch_existing

        def hooked(conn: Any, ids: Any) -> Any:
            out = real(conn, ids)
            if done:
                return out
            done.append(1)
            if same_connection:
                self._note_edit(mid, edit, conn.exec_driver_sql(edit, (mid,)).rowcount)
            else:
                con = sqlite3.connect(self.config.database.path, timeout=0.05)
                try:
                    rowcount = con.execute(edit, (mid,)).rowcount
                    con.commit()
                    self._note_edit(mid, edit, rowcount)
                except sqlite3.OperationalError:
                    blocked.append(1)
                except sqlite3.IntegrityError:
                    pass
                finally:
                    con.close()
            return out

        save_module.fetch_existing = hooked  # type: ignore[assignment]
        try:
            self._sync(faults=True)
        except sqlite3.IntegrityError:
            pass
        finally:
            save_module.fetch_existing = real  # type: ignore[assignment]
        self.synced = False  # the edit may still be pending: not a checkpoint
        if blocked or (not done and not same_connection):
            self._note_edit(mid, edit, self.sql(edit, mid))

    def _note_edit(self, mid: int, edit: str, rowcount: int) -> None:
        if not rowcount:
            return
        if edit.startswith("DELETE"):
            self.trashed.add(mid)
            self.rows_deleted.add(mid)
            self.local_changes.pop((mid, "read_status"), None)
            self.local_changes.pop((mid, "availability"), None)
            return
        value = edit.split("'")[1]
        fld = "read_status" if "read_status" in edit else "availability"
        if fld == "availability":
            {"Deleted": self.trashed, "Purged": self.purged}[value].add(mid)
        self.local_changes[(mid, fld)] = value

    # --- checks after every step ---------------------------------------------------------

    @invariant()
    def nothing_lost_or_invented(self) -> None:
        con = sqlite3.connect(self.config.database.path)
        try:
            rows = {
                r[0]: r[1:]
                for r in con.execute(
                    "SELECT id, read_status, availability, base_availability FROM message"
                )
            }
            deleted = {r[0] for r in con.execute("SELECT message_id FROM tombstone")}
            conflicts = {
                (r[0], r[1]) for r in con.execute("SELECT message_id, field FROM conflict")
            }
        finally:
            con.close()
        for mid in deleted | self.rows_deleted:
            assert mid not in rows, f"{mid}: deleted locally, and back"
        for mid, (read, avail, base_avail) in rows.items():
            remote = self.remote_store(mid).get(mid)
            # The emulator's own record decides: purged there = gone from its store or
            # Purged. Locally Purged otherwise only as the user's own pending purge.
            purged_there = remote is None or remote["availability"] == "Purged"
            if base_avail == "Purged":
                assert purged_there, f"{mid}: Purged locally, RingCentral did not purge it"
            if avail == "Purged" and not purged_there:
                assert mid in self.purged and base_avail != "Purged", (
                    f"{mid}: Purged locally, nobody asked and RingCentral did not purge it"
                )
            for fld, value in ((("read_status", read)), ("availability", avail)):
                wanted = self.local_changes.get((mid, fld))
                if wanted is None or (mid, fld) in self.remote_changes or (mid, fld) in conflicts:
                    continue
                if purged_there:
                    continue  # a purge (asked by someone) wins over any edit
                assert value == wanted, f"{mid}.{fld}: user set {wanted}, now {value}"

    # --- checks after a successful sync -------------------------------------------------

    @precondition(lambda self: self.synced)
    @invariant()
    def converged(self) -> None:
        self.synced = False
        con = sqlite3.connect(self.config.database.path)
        try:
            pending = {r[0] for r in con.execute("SELECT message_id FROM pending_change")}
            rows = {
                r[0]: r[1:]
                for r in con.execute(
                    "SELECT id, read_status, availability, base_read_status, base_availability"
                    " FROM message"
                )
            }
            rows_deleted = {r[0] for r in con.execute("SELECT message_id FROM tombstone")}
        finally:
            con.close()
        exempt = self.check_synced(rows, pending)
        assert pending <= exempt, f"pending after a sync: {sorted(pending - exempt)}"
        for mid in self.ids:
            if mid in exempt:
                continue
            remote = self.remote_store(mid).get(mid)
            assert remote is not None
            self._check_one(mid, remote, rows.get(mid), mid in rows_deleted)
            if mid not in rows_deleted and remote["availability"] != "Purged":
                self._check_not_lost(mid, remote)
        self.local_changes.clear()
        self.remote_changes.clear()

    def _check_not_lost(self, mid: int, remote: dict[str, Any]) -> None:
        """A field changed on one side only has that side's last value everywhere."""
        for fld, key in (("read_status", "readStatus"), ("availability", "availability")):
            local = self.local_changes.get((mid, fld))
            other = self.remote_changes.get((mid, fld))
            if local is not None and other is None:
                assert remote[key] == local, f"local edit {fld}={local} of {mid} lost"
            if other is not None and local is None:
                assert remote[key] == other, f"remote edit {fld}={other} of {mid} lost"

    def _check_one(
        self, mid: int, remote: dict[str, Any], row: tuple[Any, ...] | None, deleted_row: bool
    ) -> None:
        avail = remote["availability"]
        if avail != "Alive":
            assert mid in self.trashed | self.purged, f"{mid} deleted but nobody asked"
        if avail == "Purged":
            assert mid in self.purged, f"{mid} purged but only trashed"
        if deleted_row:
            # The row stays gone (INTERFACE.md), even if another device restores it later.
            assert row is None and (avail in ("Deleted", "Purged") or mid in self.restored), (
                mid,
                avail,
            )
            return
        assert row is not None, f"{mid} missing locally without a tombstone"
        read, local_avail, base_read, base_avail = row
        assert (local_avail, base_avail) == (avail, avail), (mid, row, remote)
        if avail != "Purged":
            assert (read, base_read) == (remote["readStatus"],) * 2, (mid, row, remote)


class AccountSyncMachine(SyncMachine):
    """The same machine over an account archive (issue 12): the admin's JWT mirrors
    ``[account] extensions = "all"`` of `EXTENSIONS` extensions, message ids interleaved
    across them so the rules' indexes land in every extension; remote edits go to the
    owning extension's store, pulls and pushes through the account wrappers (`sync` routes
    by itself), and every invariant holds per message, so per extension."""

    ACCOUNT = AccountConfig(extensions=ExtensionScope.ALL)

    def __init__(self) -> None:
        self.added: set[int] = set()  # extensions added remotely during the run
        self.announced: set[int] = set()  # ... and the list re-read since (watch's event)
        super().__init__()

    def _emulator(self) -> Any:
        per = -(-N // EXTENSIONS)  # enough for N ids; the rest are still checked
        return emulator.Emulator(
            messages=per, seed=5, rate_limits=False, clock=self.clock, extensions=EXTENSIONS
        )

    def _message_ids(self) -> list[int]:
        stores = [[r["id"] for r in e.store.all_records()] for e in self.emu.account]
        assert len(stores) == EXTENSIONS
        return [mid for row in zip(*stores, strict=True) for mid in row]

    def remote_store(self, mid: int) -> Any:
        return self._owner(mid).store

    def _pull(self, client: Any) -> None:
        pull_account(self.engine, client, self.config)

    def _push(self, client: Any) -> None:
        push_account(self.engine, client, self.config, force=True)

    def _invalidate(self) -> None:
        for ext in self.emu.account:
            ext.sync.invalidate()

    # --- extensions come and go (the control API, as an admin console would) -------------

    def _control(self) -> httpx.Client:
        return httpx.Client(transport=self.emu.transport(), base_url=SERVER)

    def _owner(self, mid: int) -> Any:
        """The extension holding `mid`: a live one, else one deleted since (frozen)."""
        owner = self.emu.account.owner_of(mid)
        if owner is None:
            owner = next(
                (e for e in self.emu.account.removed.values() if e.store.slot_of(mid) is not None),
                None,
            )
        assert owner is not None, f"{mid}: no extension holds it"
        return owner

    def _gone(self, mid: int) -> bool:
        return self._owner(mid).id in self.emu.account.removed

    @precondition(lambda self: len(self.emu.account.removed) + len(self.added) < MAX_CHANGES)
    @rule()
    def add_extension(self) -> None:
        """A user added in RingCentral: mirrored once the list is read again."""
        with self._control() as ctl:
            r = ctl.post("/_emulator/extensions", json={"count": 1, "messages": NEW_MESSAGES})
        r.raise_for_status()
        self.added.add(int(r.json()["records"][0]["id"]))
        event("extension added")

    @precondition(lambda self: len(self.emu.account.removed) + len(self.added) < MAX_CHANGES)
    @rule(k=st.integers(1, EXTENSIONS - 1))
    def delete_extension(self, k: int) -> None:
        """A user deleted in RingCentral (never the admin): their archive must stay."""
        victim = sorted(e.id for e in self.emu.account if not e.admin)[:k][-1:]
        for eid in victim:
            with self._control() as ctl:
                ctl.delete(f"/_emulator/extensions/{eid}").raise_for_status()
            event("extension deleted")

    @rule()
    def extension_list_event(self) -> None:
        """RingCentral's extension-list notification, as watch hears it: re-read the list."""
        reread_extensions(self.engine)
        self.announced |= self.added

    def remote_edit_allowed(self, mid: int) -> bool:
        return not self._gone(mid)  # nobody edits a deleted user's store

    def teardown(self) -> None:
        self.extension_list_event()  # the final sync mirrors every extension there is
        super().teardown()

    def check_synced(self, rows: dict[int, Any], pending: set[int]) -> set[int]:
        """The account's own checks after a fault-free sync; returns the ids of deleted
        extensions (their edits may stay pending: no path takes them any more)."""
        con = sqlite3.connect(self.config.database.path)
        try:
            ext_rows = {
                int(r[0]): bool(r[1]) for r in con.execute("SELECT id, remote_gone FROM extension")
            }
            stored: dict[int, set[int]] = {}
            for mid, ext in con.execute("SELECT id, extension_id FROM message"):
                stored.setdefault(int(ext), set()).add(int(mid))
        finally:
            con.close()
        gone_ids = {mid for mid in self.ids if self._gone(mid)}
        for eid in self.emu.account.removed:
            if eid in ext_rows:  # known here before it went: marked, never emptied
                assert ext_rows[eid], f"extension {eid} deleted remotely, not marked gone"
        for mid in gone_ids:
            assert mid in rows or mid in self.rows_deleted, f"{mid}: a gone user's row lost"
        for eid in self.announced:
            ext = self.emu.account.get(eid)
            if ext is None:
                continue
            assert ext_rows.get(eid) is False, f"new extension {eid} not mirrored"
            there = {int(r["id"]) for r in ext.store.all_records()}
            assert stored.get(eid, set()) == there, f"new extension {eid}: rows differ"
            event("new extension mirrored")
        if gone_ids & pending:
            event("a gone user's edits kept pending")
        return gone_ids

    @invariant()
    def rows_keep_their_extension(self) -> None:
        """Each local row is filed under the extension RingCentral keeps (or kept) it in."""
        con = sqlite3.connect(self.config.database.path)
        try:
            owners = dict(con.execute("SELECT id, extension_id FROM message"))
        finally:
            con.close()
        for mid, ext in owners.items():
            assert str(self._owner(mid).id) == str(ext), (mid, ext)


MACHINE_SETTINGS = settings(
    max_examples=int(os.environ.get("RCSYNC_MAX_EXAMPLES", "60")),
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SyncMachine.TestCase.settings = MACHINE_SETTINGS
TestSyncMachine = SyncMachine.TestCase
# Fewer examples by default: every step runs one pull per extension (and the suite must stay
# quick on two cores); RCSYNC_ACCOUNT_EXAMPLES asks for more.
AccountSyncMachine.TestCase.settings = settings(
    MACHINE_SETTINGS,
    max_examples=int(os.environ.get("RCSYNC_ACCOUNT_EXAMPLES", "25")),
    derandomize=True,  # the same runs every time: a failure in CI reproduces at once
)
TestAccountSyncMachine = AccountSyncMachine.TestCase
