"""Issue 10 cases 2 and 8 with real ``rcsync`` processes and the emulator's targeted faults
(``POST /_emulator/faults``): a 404 or 405 that does not name the message is a failed
request, never a purge. The edit stays pending with its error, ``push`` reports it failed,
and the next push (the fault over) sends it; a content 404 of a message that is not Purged
is an error retried on the next pull, not a file "purged remotely" for good.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.loopback import Served
from tests.harness.mirror import assert_mirror_matches_remote

pytestmark = pytest.mark.slow


def fault(env: Served, **rule: Any) -> None:
    env.post("/_emulator/faults", {"times": 1, **rule})


def rcsync(env: Served, *args: str, config: Any = None) -> str:
    done = env.run(*args, config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def mirrored(env: Served) -> None:
    rcsync(env, "pull")


def ids(env: Served, where: str, n: int) -> list[int]:
    got = [r[0] for r in env.rows(f"SELECT id FROM message WHERE {where} ORDER BY id LIMIT {n}")]
    assert len(got) == n, where
    return got


def in_list(mids: list[int]) -> str:
    return ",".join(map(str, mids))


def nothing_purged_locally(env: Served) -> None:
    """Local Purged only where the server has Purged: no message was taken for gone."""
    remote = env.remote()
    local = env.rows("SELECT id FROM message WHERE availability = 'Purged'")
    wrong = [mid for (mid,) in local if remote[mid]["availability"] != "Purged"]
    assert wrong == [], f"purged locally, not on the server: {wrong}"
    assert env.rows("SELECT * FROM conflict") == []


def assert_pending_with_error(env: Served, wanted: list[tuple[int, str, str]]) -> None:
    rows = env.rows("SELECT message_id, field, new_value, last_error FROM pending_change")
    assert sorted(r[:3] for r in rows) == sorted(wanted)
    assert all(r[3] for r in rows), rows


def push_again_converges(env: Served, count: int) -> None:
    out = rcsync(env, "push")
    edits = f"{count} edit" + ("s" if count != 1 else "")  # the summaries count in words
    assert f"pushed {edits} in " in out and "0 failed" in out, out
    rcsync(env, "pull")
    assert_mirror_matches_remote(env)


# Each of these fails on main: the edit became local Purged (local = base), push said
# "0 failed, 0 conflicts", and the schema trigger then refused any repair.


def test_404_to_a_read_status_put(env: Served) -> None:
    mirrored(env)
    mids = ids(env, "availability = 'Alive' AND read_status = 'Read'", 1)
    env.sql(f"UPDATE message SET read_status = 'Unread' WHERE id IN ({in_list(mids)});")
    fault(env, operation="updateMessage", status=404)
    out = rcsync(env, "push")
    assert "1 failed" in out, out
    nothing_purged_locally(env)
    assert_pending_with_error(env, [(m, "read_status", "Unread") for m in mids])
    push_again_converges(env, 1)


def test_404_for_a_whole_bulk_trash(env: Served) -> None:
    mirrored(env)
    mids = ids(env, "availability = 'Alive'", 3)
    env.sql(f"UPDATE message SET availability = 'Deleted' WHERE id IN ({in_list(mids)});")
    fault(env, operation="deleteMessage", status=404)
    out = rcsync(env, "push")
    assert "3 failed" in out, out
    nothing_purged_locally(env)
    assert {env.remote()[m]["availability"] for m in mids} == {"Alive"}
    assert_pending_with_error(env, [(m, "availability", "Deleted") for m in mids])
    push_again_converges(env, 3)
    assert {env.remote()[m]["availability"] for m in mids} == {"Deleted"}  # not purged


@pytest.mark.parametrize("status", [404, 405])
def test_404_or_405_to_a_single_id_restore(env: Served, status: int) -> None:
    mirrored(env)
    mids = ids(env, "availability = 'Alive'", 1)
    for mid in mids:
        env.ctl.patch(f"/_emulator/messages/{mid}", json={"availability": "Deleted"})
    rcsync(env, "pull")
    env.sql(f"UPDATE message SET availability = 'Alive' WHERE id IN ({in_list(mids)});")
    fault(env, operation="patchMessage", status=status)
    out = rcsync(env, "push")
    assert "1 failed" in out, out
    nothing_purged_locally(env)
    assert_pending_with_error(env, [(m, "availability", "Alive") for m in mids])
    push_again_converges(env, 1)
    assert env.remote()[mids[0]]["availability"] == "Alive"


def test_404_without_cmn_102_on_the_read_before_a_trash(env: Served) -> None:
    mirrored(env)
    mids = ids(env, "availability = 'Alive'", 1)
    env.sql(f"UPDATE message SET availability = 'Deleted' WHERE id IN ({in_list(mids)});")
    before = env.counters()["by_operation"].get("deleteMessage", 0)
    fault(env, operation="readMessage", status=404)  # the gateway's body: about [path]
    out = rcsync(env, "push")
    assert "1 failed" in out, out
    assert env.counters()["by_operation"].get("deleteMessage", 0) == before  # not sent
    nothing_purged_locally(env)
    assert_pending_with_error(env, [(m, "availability", "Deleted") for m in mids])
    push_again_converges(env, 1)
    assert env.remote()[mids[0]]["availability"] == "Deleted"


def test_content_404_of_an_alive_message_is_retried(env: Served) -> None:
    # Case 8. Fails on main: the file was marked "purged remotely" and never fetched.
    config = env.config_file("files.toml", download_attachments=True)
    fault(env, operation="readMessageContent", status=404)
    out = rcsync(env, "pull", config=config)
    assert "1 attachment failed" in out, out
    failed = env.rows(
        "SELECT a.message_id, a.id, m.remote_availability FROM attachment a"
        " JOIN message m ON m.id = a.message_id WHERE a.skipped LIKE 'error:%404%'"
    )
    assert len(failed) == 1 and failed[0][2] != "Purged", failed
    wrong = env.rows(
        "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
        " WHERE a.skipped = 'purged remotely' AND m.remote_availability <> 'Purged'"
    )
    assert wrong == [(0,)]
    out = rcsync(env, "pull", config=config)
    assert "attachments failed" not in out, out
    mid, aid, _ = failed[0]
    assert env.rows(
        f"SELECT path IS NOT NULL, skipped FROM attachment WHERE message_id = {mid} AND id = {aid}"
    ) == [(1, None)]
