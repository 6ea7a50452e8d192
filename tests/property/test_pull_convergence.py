"""Property: whatever the remote does between pulls, and wherever a pull is cut off, the next
completed pull leaves a mirror equal to the server (nothing lost, nothing duplicated, purged
rows kept, tombstoned rows never back)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rcsync.store.database import open_database
from rcsync.sync.pull import pull
from tests.harness.config import make_config
from tests.harness.database import count_rows
from tests.harness.inprocess import fast_emulator, make_client
from tests.harness.mirror import mirror_problems
from tests.harness.transports import Interrupted, Interrupting


class PullMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 50), n=st.integers(0, 2500))
    def setup(self, seed: int, n: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pullprop-"))
        self.emu = fast_emulator(n, seed)
        self.config = make_config(self.tmp)
        self.engine = open_database(self.config.database.path)
        self.control = httpx.Client(
            transport=self.emu.transport(), base_url="https://platform.ringcentral.com"
        )
        self.synced = False

    def _ids(self, availability: str) -> list[int]:
        return [r["id"] for r in self.emu.store.all_records() if r["availability"] == availability]

    @rule(n=st.integers(1, 30))
    def arrive(self, n: int) -> None:
        self.control.post("/_emulator/messages", json={"count": n}).raise_for_status()
        self.synced = False

    @rule(data=st.data(), field=st.sampled_from(["readStatus", "availability"]))
    def remote_change(self, data: st.DataObject, field: str) -> None:
        alive, deleted = self._ids("Alive"), self._ids("Deleted")
        if not alive and not deleted:
            return
        mid = data.draw(st.sampled_from(alive + deleted))
        if field == "readStatus":
            value = data.draw(st.sampled_from(["Read", "Unread"]))
        else:
            value = data.draw(st.sampled_from(["Alive", "Deleted", "Purged"]))
        self.control.patch(f"/_emulator/messages/{mid}", json={field: value}).raise_for_status()
        self.synced = False

    @rule()
    def invalidate_tokens(self) -> None:
        self.control.post("/_emulator/invalidate-sync-tokens").raise_for_status()

    @rule(
        after=st.integers(0, 3),
        marker=st.sampled_from(["message-store?", "message-sync", "message-store/"]),
    )
    def interrupted_pull(self, after: int, marker: str) -> None:
        transport = Interrupting(self.emu.transport(), after=after, marker=marker)
        try:
            pull(self.engine, make_client(self.config, transport), self.config)
        except Interrupted:
            return

    @rule(full=st.booleans())
    def complete_pull(self, full: bool) -> None:
        rows_before = count_rows(self.engine)
        pull(self.engine, make_client(self.config, self.emu.transport()), self.config, full=full)
        assert count_rows(self.engine) >= rows_before  # never deletes
        self.synced = True

    @invariant()
    def mirror_equals_server_after_a_pull(self) -> None:
        if getattr(self, "synced", False):
            assert mirror_problems(self.engine, self.emu) == []

    @invariant()
    def no_duplicates(self) -> None:
        if hasattr(self, "engine"):
            with self.engine.connect() as conn:
                dup = conn.execute(
                    sa.text("SELECT count(*) - count(DISTINCT id) FROM message")
                ).scalar_one()
            assert dup == 0

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            self.engine.dispose()
            self.control.close()


PullMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("RCSYNC_MAX_EXAMPLES", "30")),
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestPullConvergence = PullMachine.TestCase
