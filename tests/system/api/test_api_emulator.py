"""MessageStoreClient end to end against the emulator (in-process, fake clock shared)."""

from __future__ import annotations

import io
import stat
from typing import Any

import pytest

from rcsync.errors import AmbiguousWriteError, SyncTokenInvalid

pytest.importorskip("rcsync.emulator")

ALL_TYPES = ("SMS", "Fax", "VoiceMail", "Pager")
EPOCH = "2000-01-01T00:00:00.000Z"
FAR = "2100-01-01T00:00:00.000Z"


def _all_pages(client: Any, per_page: int = 100) -> list[dict[str, Any]]:
    records, page = [], 1
    while True:
        result = client.list_messages(
            date_from=EPOCH, date_to=FAR, message_types=ALL_TYPES, page=page, per_page=per_page
        )
        records += result.records
        if not result.has_next:
            return records
        page += 1


def test_jwt_login_stores_private_tokens(env: Any) -> None:
    client = env.client()
    assert client.read_extension()["extensionNumber"]
    assert stat.S_IMODE(env.store.path.stat().st_mode) == 0o600
    tokens = env.store.load()
    assert tokens is not None and tokens.refresh_token
    assert env.requests()["by_operation"]["getToken"] == 1


def test_list_paging_sees_every_alive_and_deleted_message(env: Any) -> None:
    client = env.client()
    records = _all_pages(client, per_page=40)
    remote = env.remote()
    wanted = {i for i, r in remote.items() if r["availability"] in ("Alive", "Deleted")}
    assert {r["id"] for r in records} == wanted
    assert len(records) == len(wanted)  # no duplicates across pages


def test_fsync_then_isync_sees_remote_changes(env: Any) -> None:
    client = env.client()
    full = client.full_sync(date_from=EPOCH, message_types=ALL_TYPES)
    assert full.records and full.sync_token
    some = full.records[0]["id"]
    env.clock.advance(10)
    env.control.patch(
        f"/_emulator/messages/{some}", json={"readStatus": "Read", "availability": "Deleted"}
    )
    new = env.post("/_emulator/messages", {"count": 2}).json()["records"]
    env.clock.advance(10)
    inc = client.incremental_sync(full.sync_token)
    ids = {r["id"] for r in inc.records}
    assert some in ids and {r["id"] for r in new} <= ids
    assert inc.sync_token


def test_msg_333_after_invalidation(env: Any) -> None:
    client = env.client()
    full = client.full_sync(date_from=EPOCH, message_types=ALL_TYPES)
    env.post("/_emulator/invalidate-sync-tokens")
    with pytest.raises(SyncTokenInvalid, match="MSG-333"):
        client.incremental_sync(full.sync_token)


def test_get_messages_bulk(env: Any) -> None:
    client = env.client()
    remote = env.remote()
    ids = [*list(remote)[:120], 999]
    results = client.get_messages(ids)
    assert all(results[i].ok and results[i].record == remote[i] for i in ids[:-1])
    assert not results[999].ok and results[999].status == 404
    assert env.requests()["by_operation"]["readMessage"] == 3


@pytest.mark.parametrize(("ids_in_path", "requests"), [(False, 1), (True, 20)])
def test_thousand_read_status_edits(make_env: Any, ids_in_path: bool, requests: int) -> None:
    env = make_env(messages=1100)
    client = env.client()
    remote = env.remote()
    alive = [i for i, r in remote.items() if r["availability"] == "Alive"][:1000]
    assert len(alive) == 1000
    changes = {i: ("Unread" if remote[i]["readStatus"] == "Read" else "Read") for i in alive}
    results = client.set_read_status(changes, ids_in_path=ids_in_path)
    assert all(r.ok for r in results.values()), [r for r in results.values() if not r.ok][:3]
    after = env.remote()
    assert all(after[i]["readStatus"] == v for i, v in changes.items())
    counts = env.requests()
    assert counts["by_operation"]["updateMessage"] == requests
    assert counts["status"].get("429", 0) == 0


def test_delete_two_step_purge_and_restore(env: Any) -> None:
    client = env.client()
    remote = env.remote()
    a, b, c = [i for i, r in remote.items() if r["availability"] == "Alive"][:3]
    assert all(r.ok for r in client.delete_messages([a, b], purge=False).values())
    assert [env.remote()[i]["availability"] for i in (a, b)] == ["Deleted", "Deleted"]
    assert client.restore_messages([a])[a].ok
    assert env.remote()[a]["availability"] == "Alive"
    client.delete_messages([b], purge=False)  # second DELETE purges
    assert env.remote().get(b, {"availability": "Purged"})["availability"] == "Purged"
    client.delete_messages([c], purge=True)
    assert env.remote().get(c, {"availability": "Purged"})["availability"] == "Purged"


def test_restore_bulk(env: Any) -> None:
    client = env.client()
    ids = [i for i, r in env.remote().items() if r["availability"] == "Alive"][:5]
    client.delete_messages(ids, purge=False)
    results = client.restore_messages(ids)
    assert all(r.ok for r in results.values())
    assert all(env.remote()[i]["availability"] == "Alive" for i in ids)


def test_content_download_and_resume(env: Any) -> None:
    client = env.client()
    attachments = [
        a
        for r in env.remote().values()
        if r["availability"] == "Alive"
        for a in r.get("attachments", [])
        if a.get("size", 0) > 1000
    ]
    att = attachments[0]
    full = io.BytesIO()
    assert client.download_content(att["uri"], full) == att["size"]
    half = att["size"] // 2
    partial = io.BytesIO(full.getvalue()[:half])
    partial.seek(0, io.SEEK_END)
    assert client.download_content(att["uri"], partial, offset=half) == att["size"] - half
    assert partial.getvalue() == full.getvalue()


def test_expired_access_tokens_are_renewed_transparently(env: Any) -> None:
    client = env.client()
    client.read_extension()
    env.post("/_emulator/expire-tokens")
    assert client.read_extension()
    counts = env.requests()
    assert counts["by_operation"]["getToken"] == 2
    assert counts["status"]["401"] == 1


def test_refresh_ahead_of_expiry_with_short_ttl(env: Any) -> None:
    env.control.put("/_emulator/config", json={"access_token_ttl": 600})
    client = env.client()
    client.read_extension()
    env.clock.advance(560)  # inside the refresh margin
    client.read_extension()
    counts = env.requests()
    assert counts["by_operation"]["getToken"] == 2 and counts["status"].get("401", 0) == 0


def test_default_rate_limits_never_hit(env: Any) -> None:
    client = env.client()
    ids = list(env.remote())[:60]
    for _ in range(120):
        client.read_extension()
    for i in ids:
        client.set_read_status({i: "Read"})
    counts = env.requests()
    assert counts["status"].get("429", 0) == 0
    assert client.budget.waited > 0  # it did have to pace


def test_penalty_from_outside_is_waited_out(env: Any) -> None:
    """Another client burned the quota: one 429, then the client waits the penalty."""
    other = env.client()
    other.budget._margin = 0
    for _ in range(50):
        other.read_extension()
    env.emu.limiter.check(f"user:emulator-client:{env.emu.world.profile.extension_id}", "Light")
    client = env.client()
    assert client.read_extension()
    assert env.requests()["status"]["429"] == 1


def test_reset_fault_makes_trash_ambiguous_not_repeated(env: Any) -> None:
    client = env.client()
    target = next(i for i, r in env.remote().items() if r["availability"] == "Alive")
    client.read_extension()
    env.control.put("/_emulator/config", json={"faults": {"reset_rate": 1.0}})
    with pytest.raises(AmbiguousWriteError) as info:
        client.delete_messages([target], purge=False)
    env.control.put("/_emulator/config", json={"faults": {"reset_rate": 0.0}})
    assert info.value.ids == (target,)
    assert env.remote()[target]["availability"] == "Deleted"  # applied once, not purged
    assert env.requests()["by_operation"]["deleteMessage"] == 1


def test_error_faults_are_retried(env: Any) -> None:
    client = env.client()
    client.read_extension()
    env.control.put("/_emulator/config", json={"faults": {"error_rate": 0.3}})
    records = _all_pages(client, per_page=50)
    assert records
