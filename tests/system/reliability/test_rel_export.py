"""The export bootstrap in real ``rcsync pull`` processes: a pull whose zip downloads keep
breaking gives those zips up with one line each, fetches their files through the content
endpoint instead, and ends with every file verified; the next pull has nothing to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rcsync.api.retry import RetryPolicy
from rcsync.rules.export import PACKED_TYPES
from tests.harness.account import EMULATOR_CREDENTIALS
from tests.harness.config import write_toml
from tests.harness.loopback import Served

ARCHIVE = "readMessageStoreReportArchiveContent"


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


def test_a_pull_whose_downloads_keep_breaking_falls_back(make_served) -> None:  # type: ignore[no-untyped-def]
    env: Served = make_served(messages=600, seed=8)
    env.configure(export={"task_seconds": 0, "task_seconds_per_1000": 0, "max_zip_bytes": 200_000})
    # Every try of the first two zip downloads (the JSON one, then the first of attachments)
    # breaks mid-body: the client gives each up after its retries.
    env.post(
        "/_emulator/faults",
        {
            "operation": ARCHIVE,
            "after_write": "reset",
            "times": 2 * RetryPolicy().attempts,
        },
    )
    config = _config(env)
    first = env.run("pull", config=config)
    assert first.returncode == 0, first.stderr
    out = first.stdout + first.stderr
    assert "Traceback" not in out
    broken = [line for line in out.splitlines() if "come from the content endpoint instead" in line]
    assert len(broken) == 2 and all("connection lost during download" in b for b in broken)
    assert "from the message-store export)" in out
    ops = env.counters()["by_operation"]
    assert ops.get("readMessageContent", 0) > 0 and ops["createMessageStoreReport"] == 1
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

    env.reset_counters()
    second = env.run("pull", config=config)
    assert second.returncode == 0, second.stderr
    ops = env.counters()["by_operation"]
    assert ops.get("createMessageStoreReport", 0) == 0 and ops.get(ARCHIVE, 0) == 0
