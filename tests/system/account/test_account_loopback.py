"""Account archives with real ``rcsync pull`` processes over loopback (issue 12): a user
deleted in RingCentral in the middle of an account pull, and a first account pull killed
(SIGKILL) half way.

A relay (`harsh.relay`) sits between the process and the served emulator: it logs every
request with its query (`Tapped`), deletes the extension through the control API at a
chosen request, or holds one request while the test kills the process; its `Harsh` FSync
cap (as the docs allow a server to answer) leaves most of each history to the keyset
listing, so each extension's first pull takes several listing pages.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rcsync.config import SyncConfig
from rcsync.rules import records as rec
from rcsync.rules.listing import Listing
from rcsync.store import extensions as ext_store
from rcsync.store.state import get_state
from tests.harness.extensions import server_ids, stored_ids
from tests.harness.harsh import Harsh, relay
from tests.harness.loopback import Served
from tests.harness.processes import wait_for
from tests.harness.transports import Sent, Tapped

MESSAGES = 2_500  # per extension: with the FSync capped, four listing pages each (one of
# the trash above the FSync's oldest record, three of everything below it)
FSYNC_CAP = 300
ALL = {"extensions": "all"}


@pytest.fixture
def account(make_served: Callable[..., Served]) -> Served:
    return make_served(messages=MESSAGES, seed=12, extensions=3)


def _ids(env: Served) -> dict[str, int]:
    """Extension number -> id, as the control API lists them."""
    records = env.ctl.get("/_emulator/extensions").json()["records"]
    return {r["extensionNumber"]: int(r["id"]) for r in records}


def _page(sent: Sent, extension_id: int | None = None) -> bool:
    """A listing page request (not the one-record count), of `extension_id` if given."""
    tail = f"/extension/{extension_id}/message-store" if extension_id else "/message-store"
    return sent.method == "GET" and sent.path.endswith(tail) and sent.get("perPage") == "1000"


def _of(sent: Sent, extension_id: int) -> bool:
    return f"/extension/{extension_id}/" in sent.path + "/"


@contextmanager
def _tapped(env: Served, *, sync: Any = None, **hooks: Any) -> Iterator[tuple[Tapped, Any]]:
    """The relay and the config file that points `rcsync` at it (every extension);
    `sync`: [sync] keys."""
    taps: list[Tapped] = []

    def wrap(transport: Any) -> Any:
        taps.append(Tapped(Harsh(transport, fsync_cap=FSYNC_CAP), **hooks))
        return taps[-1]

    with relay(env.url, wrap) as proxy:
        yield taps[0], env.config_file(rc={"server": proxy}, account=ALL, **(sync or {}))


def _run(env: Served, config: Any, *args: str) -> str:
    done = env.run(*args, config=config)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out
    return out


def test_a_user_deleted_mid_pull_keeps_their_archive_and_the_others_go_on(
    account: Served,
) -> None:
    env = account
    ids = _ids(env)
    victim = ids["103"]
    pages = 0

    def delete_before_third_page(sent: Sent) -> None:
        nonlocal pages
        if _page(sent, victim):
            pages += 1
            if pages == 3:  # two pages in (and saved); the third is not sent yet
                env.ctl.delete(f"/_emulator/extensions/{victim}").raise_for_status()

    with _tapped(env, before=delete_before_third_page) as (tap, config):
        done = env.run("pull", config=config)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "3 extensions; 1 extension not pulled" in done.stdout
        out = done.stdout + done.stderr
        gone = [line for line in out.splitlines() if "deleted in RingCentral" in line]
        assert len(gone) == 1 and "103" in gone[0] and "archive stays" in gone[0], out
        for number in ("101", "102"):  # the others' lines, once each too
            assert len([x for x in out.splitlines() if f"extension {number} (" in x]) == 1, out
        with env.engine() as engine:
            for number in ("101", "102"):
                assert stored_ids(engine, ids[number]) == server_ids(env.emu, ids[number])
            kept = stored_ids(engine, victim)
        # What was pulled before the user was deleted stays: the FSync's part and two pages.
        assert len(kept) > FSYNC_CAP + 900 and kept < server_ids(env.emu, victim)

        status = json.loads(_run(env, config, "status", "--json"))
        by_number = {e["number"]: e for e in status["extensions"]}
        assert by_number["103"]["remote_gone"] is True
        assert not by_number["101"]["remote_gone"] and not by_number["102"]["remote_gone"]
        assert "gone from RingCentral (archive kept)" in _run(env, config, "status")

        tap.take()
        again = _run(env, config, "pull")
        assert "deleted in RingCentral" not in again  # said once, not every pull
        # The next pull leaves the deleted user alone and removes nothing of theirs.
        assert not [s for s in tap.take() if _of(s, victim)]
        with env.engine() as engine:
            assert stored_ids(engine, victim) == kept


def test_a_deleted_users_files_are_not_asked_for(make_served: Callable[..., Served]) -> None:
    """Their content went with them (RingCentral answers 404): a pull does not try each of
    their files again (and read each message to see why) every time, nor marks them
    purged; the live users' files come as usual."""
    env = make_served(messages=40, seed=12, extensions=3)
    victim = _ids(env)["103"]
    config = env.config_file(account=ALL, download_attachments=True)
    _run(env, config, "pull", "--no-attachments")
    env.ctl.delete(f"/_emulator/extensions/{victim}").raise_for_status()
    env.reset_counters()
    out = _run(env, config, "pull")
    assert "deleted in RingCentral during the pull" in out
    counters = env.counters()
    assert counters["status"].get("404") == 1, counters  # its ISync: the user is gone
    assert counters["by_operation"]["readMessageContent"] > 0  # the others' files
    left = (
        "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id"
        f" WHERE m.extension_id = '{victim}' AND a.path IS NULL AND a.skipped IS NULL"
    )
    assert env.scalar(left) > 0  # still missing, not marked purged: nothing inferred
    env.reset_counters()
    _run(env, config, "pull")
    assert env.counters()["by_operation"] == {"syncMessages": 2}  # the live users' ISyncs


def _key(sent: Sent) -> tuple[Any, ...]:
    """What makes one listing request that page and no other."""
    return (sent.every("availability"), sent.get("dateFrom"), sent.get("dateTo"), sent.get("page"))


def _cursor_key(listing: Listing) -> tuple[Any, ...]:
    """The key of the request a stored cursor makes next (`sync.listing.walk_listing`)."""
    date_from = listing.date_from or rec.day_start(SyncConfig().history_start)
    return (listing.availability, date_from, listing.date_to, str(listing.page))


def test_a_first_account_pull_killed_half_way_resumes_per_extension(account: Served) -> None:
    env = account
    ids = _ids(env)
    seen = 0

    def ninth_page(sent: Sent) -> bool:
        nonlocal seen
        seen += _page(sent)
        return _page(sent) and seen == 9  # of twelve: 3 extensions x 4 pages

    with _tapped(env, hold=ninth_page) as (tap, config):
        proc = env.popen("pull", config=config)
        try:
            wait_for(tap.held.is_set, 120, "the ninth listing page to be held")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            tap.release.set()
        first = tap.take()
        with env.engine() as engine, engine.connect() as conn:
            keys = {eid: ext_store.keys_for(conn, str(eid)) for eid in ids.values()}
            progress = {eid: get_state(conn, k.first_pull) for eid, k in keys.items()}
            tokens = {eid: get_state(conn, k.sync_token) for eid, k in keys.items()}

        out = _run(env, config, "pull")
        second = tap.take()

    finished_pages = 0
    for eid in ids.values():
        before = [s for s in first if _page(s, eid)]
        after = [s for s in second if _of(s, eid)]
        after_pages = [s for s in after if _page(s, eid)]
        if progress[eid] is None:  # its first pull had ended: one ISync, nothing listed
            assert tokens[eid] and not after_pages
            assert [s.get("syncType") for s in after] == ["ISync"], after
            finished_pages += len(before)
            continue
        listing = Listing.from_json(progress[eid])
        if not listing.fsynced:  # killed while its FSync was saved: that step starts again
            assert not before, "a page listed before its FSync was stored"
            continue
        # Resumed at its cursor: no FSync again, no count, and no page before the cursor.
        assert not [s for s in after if s.get("syncType") == "FSync" or s.get("perPage") == "1"]
        cursor = _cursor_key(listing)
        assert after_pages and _key(after_pages[0]) == cursor, (cursor, after_pages[:1])
        done = [_key(s) for s in before]
        done = done[: done.index(cursor)] if cursor in done else done
        finished_pages += len(done)
        assert not set(done) & {_key(s) for s in after_pages}, "a finished page listed again"
    assert finished_pages >= 3, "the kill came too early to show anything"
    assert "Traceback" not in out

    with env.engine() as engine:
        for eid in ids.values():
            assert stored_ids(engine, eid) == server_ids(env.emu, eid)  # nothing lost
    total = env.scalar("SELECT count(*) FROM message")
    assert total == sum(len(server_ids(env.emu, eid)) for eid in ids.values())  # nor doubled
