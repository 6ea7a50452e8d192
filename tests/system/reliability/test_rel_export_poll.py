"""The export bootstrap in real ``rcsync pull`` processes when RingCentral keeps failing the
task's status or its archive list (a 5xx, a dropped connection) more often than the client
retries: the pull does not fail. It keeps the task in ``sync_state`` for the next pull,
says so in one line, and fetches this pull's files through the content endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rcsync.api.export import ARCHIVES, TASK
from rcsync.api.retry import RetryPolicy
from rcsync.store.state import EXPORT
from tests.harness.loopback import Served
from tests.system.reliability.test_rel_export import _config

_MISSING = (
    "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
    " WHERE a.path IS NULL AND m.availability <> 'Purged'"
    " AND a.type IN ('AudioRecording', 'RenderedDocument', 'MmsAttachment')"
)


def _export_state(env: Served) -> dict[str, Any]:
    rows = env.rows(f"SELECT value FROM sync_state WHERE key = '{EXPORT}'")
    return dict(json.loads(rows[0][0])) if rows else {}


@pytest.mark.parametrize(
    ("operation", "fault"),
    [
        (TASK.name, {"status": 503}),  # the task's status: a 5xx on every try
        (ARCHIVES.name, {"after_write": "reset"}),  # the archive list: the connection drops
    ],
)
def test_an_export_that_cannot_be_read_keeps_its_task_and_the_pull_goes_on(
    make_served: Any, operation: str, fault: dict[str, Any]
) -> None:
    env: Served = make_served(messages=300, seed=16)
    env.configure(export={"task_seconds": 0, "task_seconds_per_1000": 0})
    env.post(
        "/_emulator/faults", {"operation": operation, "times": RetryPolicy().attempts, **fault}
    )
    config = _config(env)

    first = env.run("pull", config=config)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert "Traceback" not in out
    kept = [line for line in out.splitlines() if "kept for the next pull" in line]
    assert len(kept) == 1, out
    assert "content endpoint" in kept[0]
    assert env.ctl.get("/_emulator/faults").json() == {"rules": []}  # every try was refused
    ops = env.counters()["by_operation"]
    assert ops["createMessageStoreReport"] == 1
    assert ops.get("readMessageContent", 0) > 0
    assert env.scalar(_MISSING) == 0  # the content endpoint fetched them all in this pull
    state = _export_state(env)
    # The task is not counted as a failed attempt: the next pull asks about it again.
    assert state["task_id"] and state["attempts"] == 1 and not state["failures"]

    env.reset_counters()
    second = env.run("pull", config=config)
    assert second.returncode == 0, second.stderr
    ops = env.counters()["by_operation"]
    # Nothing is missing any more: the kept task is dropped, no new one is made.
    assert ops.get("createMessageStoreReport", 0) == 0
    assert _export_state(env) == {}
