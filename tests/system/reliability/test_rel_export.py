"""The export bootstrap in real ``rcsync pull`` processes: a pull whose zip download keeps
breaking fails with one line and leaves its ``.part``; the next pull resumes the same task
and that zip with ``Range``, and ends with every file verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rcsync.api.retry import RetryPolicy
from rcsync.rules.export import PACKED_TYPES
from tests.harness.account import EMULATOR_CREDENTIALS
from tests.harness.config import write_toml
from tests.harness.loopback import Served


def _config(env: Served) -> Path:
    return write_toml(
        env.home / "config.toml",
        {
            "ringcentral": {
                "server": env.url,
                **EMULATOR_CREDENTIALS,
                "token_file": str(env.token_file),
            },
            "database": {"path": str(env.db), "files": str(env.home / "files")},
            "account": {"use_export": "always"},
        },
    )


def test_a_pull_killed_by_broken_downloads_resumes(make_served) -> None:  # type: ignore[no-untyped-def]
    env: Served = make_served(messages=600, seed=8)
    env.configure(export={"task_seconds": 0, "task_seconds_per_1000": 0, "max_zip_bytes": 200_000})
    # Every try of the first zip download breaks mid-body: the pull gives up on it.
    env.post(
        "/_emulator/faults",
        {
            "operation": "readMessageStoreReportArchiveContent",
            "after_write": "reset",
            "times": RetryPolicy().attempts,
        },
    )
    config = _config(env)
    first = env.run("pull", config=config)
    assert first.returncode == 1, first.stderr
    # The info line that the export is under way, then the error, and no traceback.
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in first.stderr
    assert "message-store export" in lines[0] and "connection lost during download" in lines[1]
    parts = list((env.home / "files" / ".export").rglob("*.zip.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    env.reset_counters()

    second = env.run("pull", config=config)
    assert second.returncode == 0, second.stderr
    counters = env.counters()
    ops = counters["by_operation"]
    assert ops.get("createMessageStoreReport", 0) == 0  # the same task, resumed
    assert counters["status"].get("206", 0) >= 1  # the broken zip continued with Range
    assert "from the message-store export)" in second.stdout + second.stderr
    rows = env.rows(
        "SELECT a.path, a.sha256 FROM attachment a JOIN message m ON m.id = a.message_id"
        " WHERE m.availability <> 'Purged' AND a.type IN "
        f"({', '.join(repr(t) for t in sorted(PACKED_TYPES))})"
    )
    assert rows and all(path for path, _ in rows)
    for path, sha in rows:
        data = (env.home / "files" / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
    assert not (env.home / "files" / ".export").exists()
