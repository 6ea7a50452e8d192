"""The pull engine against the in-process emulator: first pull, incremental, resume, resync."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.progress import NullProgress
from rcsync.rules.listing import Listing
from rcsync.store.database import open_database
from rcsync.store.state import FIRST_PULL, SYNC_FRAME, SYNC_TOKEN, get_state
from rcsync.sync.pull import pull
from tests.harness.config import make_config
from tests.harness.database import count_rows
from tests.harness.inprocess import fast_emulator, make_client
from tests.harness.mirror import mirror_problems
from tests.harness.transports import CutFSync, Interrupted, Interrupting


def _state(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return get_state(conn, key)


def _api_requests(emu: Emulator) -> int:
    ops = emu.counters.snapshot()["by_operation"]
    return sum(n for op, n in ops.items() if op != "getToken")


def test_first_pull_mirrors_alive_and_deleted(emu: Emulator, config: Config, db: Engine) -> None:
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.full
    assert mirror_problems(db, emu) == []
    listed = [r for r in emu.store.all_records() if r["availability"] != "Purged"]
    assert summary.new == len(listed) == count_rows(db)
    assert {"Alive", "Deleted"} <= {r["availability"] for r in listed}
    assert _state(db, SYNC_TOKEN) and _state(db, SYNC_FRAME)
    assert _state(db, FIRST_PULL) is None


def test_incremental_pull_follows_remote_changes(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    alive = [r["id"] for r in emu.store.all_records() if r["availability"] == "Alive"]
    emu.store.arrive(5)
    emu.store.remote_edit(alive[0], read_status="Read")
    emu.store.remote_edit(alive[1], read_status="Unread")
    emu.store.remote_edit(alive[2], availability="Deleted")
    emu.store.remote_edit(alive[3], availability="Purged")
    emu.store.remote_edit(alive[4], availability="Deleted")
    emu.store.remote_edit(alive[4], read_status="Read")  # stub does not say: re-read
    summary = pull(db, client, config)
    assert not summary.full
    assert summary.new == 5 and summary.purged == 1 and summary.remote_deleted == 2
    assert mirror_problems(db, emu) == []
    with db.connect() as conn:
        purged = conn.execute(
            sa.text("SELECT availability, raw FROM message WHERE id = :i"), {"i": alive[3]}
        ).one()
    assert purged[0] == "Purged" and json.loads(purged[1])["availability"] == "Purged"


def test_pull_with_nothing_new_makes_one_request(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    emu.counters.reset()
    summary = pull(db, client, config)
    assert emu.counters.snapshot()["by_operation"] == {"syncMessages": 1}
    assert summary.requests == 1 and summary.messages == 0


def test_first_pull_request_count_and_no_429(tmp_path: Path) -> None:
    n = 12_000
    emu = Emulator(messages=n, seed=3)  # default rate limits (Light 50/min)
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    summary = pull(engine, make_client(config, emu.transport(), paced=True), config)
    listed = sum(1 for r in emu.store.all_records() if r["availability"] != "Purged")
    purged = sum(1 for r in emu.store.all_records() if r["availability"] == "Purged")
    assert count_rows(engine) == listed
    alive = sum(1 for r in emu.store.all_records() if r["availability"] == "Alive")
    trash = listed - alive + purged
    # One count, one FSync (every Alive message), the trash's listing pages, one ISync.
    assert _api_requests(emu) == 1 + 1 + max(1, math.ceil(trash / 1000)) + 1
    assert emu.counters.snapshot()["by_operation"]["syncMessages"] == 2
    assert emu.counters.snapshot()["status"].get("429", 0) == 0
    assert summary.requests == _api_requests(emu)


def _sync_requests(emu: Emulator) -> int:
    return int(emu.counters.snapshot()["by_operation"].get("syncMessages", 0))


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_first_pull_interrupted_mid_fsync_restarts_the_fsync(
    tmp_path: Path, fraction: float
) -> None:
    emu = fast_emulator(2500, 5)
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    alive = sum(r["availability"] == "Alive" for r in emu.store.all_records())
    broken = make_client(config, CutFSync(emu.transport(), after=fraction))
    with pytest.raises(Interrupted):
        pull(engine, broken, config)
    stored = count_rows(engine)
    # The FSync's records were saved while it arrived, a whole batch per transaction.
    assert stored % 1000 == 0 and stored <= alive * fraction
    assert stored >= 1000 if fraction > 0.5 else True
    marker = _state(engine, FIRST_PULL)
    assert marker is not None and not Listing.from_json(marker).fsynced
    assert _state(engine, SYNC_TOKEN) is None
    emu.counters.reset()
    emu.store.arrive(3)  # arrivals while we were down
    summary = pull(engine, make_client(config, emu.transport()), config)
    assert mirror_problems(engine, emu) == []
    assert summary.full and summary.new == count_rows(engine) - stored
    assert _sync_requests(emu) == 2  # the FSync again, then the ISync with its token
    assert _state(engine, FIRST_PULL) is None


def test_an_interrupted_full_resync_stays_a_full_one(
    emu: Emulator, config: Config, db: Engine
) -> None:
    pull(db, make_client(config, emu.transport()), config)
    broken = make_client(config, CutFSync(emu.transport(), after=0.5, chunk=1024))
    with pytest.raises(Interrupted):
        pull(db, broken, config, full=True)
    # A valid token is stored, but the next pull does the full one it was asked for.
    emu.store.remote_edit(emu.store.all_records()[0]["id"], read_status="Read")
    summary = pull(db, make_client(config, emu.transport()), config)
    assert summary.full and _state(db, FIRST_PULL) is None
    assert mirror_problems(db, emu) == []


@pytest.mark.parametrize("after", [0, 1])
def test_interrupted_listing_resumes_without_a_new_fsync(tmp_path: Path, after: int) -> None:
    emu = fast_emulator(2500, 5)
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    # Request 1 of the list endpoint counts the messages; request 2 is the listing's first.
    broken = make_client(
        config, Interrupting(emu.transport(), after=after, marker="message-store?")
    )
    with pytest.raises(Interrupted):
        pull(engine, broken, config)
    stored = count_rows(engine)
    alive = sum(r["availability"] == "Alive" for r in emu.store.all_records())
    assert stored == (alive if after else 0)
    assert _state(engine, FIRST_PULL) is not None
    emu.counters.reset()
    emu.store.arrive(3)
    summary = pull(engine, make_client(config, emu.transport()), config)
    assert mirror_problems(engine, emu) == []
    assert summary.full and summary.new == count_rows(engine) - stored
    # After the FSync, the resumed pull lists and ends with one ISync: no FSync again.
    assert _sync_requests(emu) == (1 if after else 2)


def test_interrupt_before_final_isync_keeps_progress(tmp_path: Path) -> None:
    emu = fast_emulator(1500, 9)
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    # The FSync goes through, the ISync that ends the first pull does not.
    broken = make_client(config, Interrupting(emu.transport(), after=1, marker="message-sync"))
    with pytest.raises(Interrupted):
        pull(engine, broken, config)
    assert _state(engine, SYNC_TOKEN) is None
    emu.store.remote_edit(emu.store.all_records()[0]["id"], read_status="Read")
    pull(engine, make_client(config, emu.transport()), config)
    assert mirror_problems(engine, emu) == []
    assert _state(engine, FIRST_PULL) is None


def test_invalid_sync_token_triggers_full_resync_keeping_local_state(
    emu: Emulator, config: Config, db: Engine
) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    alive = [r["id"] for r in emu.store.all_records() if r["availability"] == "Alive"]
    with db.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE message SET read_status = 'Read', text = 'local text'"
                " WHERE id = :i AND read_status = 'Unread'"
            ),
            {"i": alive[0]},
        )
        conn.execute(sa.text("UPDATE message SET text = 'kept' WHERE id = :i"), {"i": alive[1]})
        conn.execute(sa.text("DELETE FROM message WHERE id = :i"), {"i": alive[2]})
    pending_before = count_rows(db, "SELECT count(*) FROM pending_change")
    emu.sync.invalidate()
    emu.store.remote_edit(alive[3], availability="Purged")
    summary = pull(db, client, config)
    assert summary.full
    assert mirror_problems(db, emu) == []
    with db.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT text FROM message WHERE id = :i"), {"i": alive[1]}
            ).scalar_one()
            == "kept"
        )
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM message WHERE id = :i"), {"i": alive[2]}
            ).scalar_one()
            == 0
        )
    assert count_rows(db, "SELECT count(*) FROM pending_change") == pending_before


def test_full_flag_and_frame_change_resync(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, replace(config, sync=replace(config.sync, message_types=("SMS",))))
    assert count_rows(db, "SELECT count(*) FROM message WHERE type <> 'SMS'") == 0
    assert mirror_problems(db, emu, types=("SMS",)) == []
    summary = pull(db, client, config)  # more types now: a full resync
    assert summary.full and mirror_problems(db, emu) == []
    assert pull(db, client, config, full=True).full
    assert mirror_problems(db, emu) == []


def test_crowded_instant_pages_through(tmp_path: Path) -> None:
    emu = fast_emulator(50, 2)
    when = "2024-03-01T12:00:00.000Z"
    emu.store.inject(
        [
            {
                "id": 1_500_000_000_000 + i,
                "type": "SMS",
                "creationTime": when,
                "subject": f"crowd {i}",
                "from": {"phoneNumber": "+15550001111"},
                "to": [{"phoneNumber": "+15550002222"}],
            }
            for i in range(2300)
        ]
    )
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    pull(engine, make_client(config, emu.transport()), config)
    assert mirror_problems(engine, emu) == []
    assert (
        count_rows(engine, f"SELECT count(*) FROM message WHERE creation_time = '{when}'") == 2300
    )


def test_retention_never_deletes_rows(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull(db, client, config)
    before = count_rows(db)
    oldest = min(r["creationTime"] for r in emu.store.all_records())
    from rcsync.emulator.times import parse_iso

    assert emu.store.drop_before(parse_iso(oldest) + 86_400_000 * 30) > 0
    pull(db, client, config, full=True)
    assert count_rows(db) == before


class _Totals(httpx.BaseTransport):
    """Listing pages whose ``paging.totalElements`` is `junk`."""

    def __init__(self, inner: httpx.BaseTransport, junk: object) -> None:
        self.inner, self.junk = inner, junk

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/message-store"):
            return response
        data = json.loads(response.read())
        data["paging"]["totalElements"] = self.junk
        return httpx.Response(response.status_code, json=data, request=request)


class _Recorder(NullProgress):
    def __init__(self) -> None:
        self.totals: list[int | None] = []

    def start(self, phase: str, total: int | None = None) -> None:
        self.totals.append(total)


@pytest.mark.parametrize("junk", ["lots", 1.5, {"n": 3}, [], True, -3, "9" * 5000, None])
def test_junk_total_elements_means_total_unknown(
    emu: Emulator, config: Config, db: Engine, junk: object
) -> None:
    progress = _Recorder()
    pull(db, make_client(config, _Totals(emu.transport(), junk)), config, progress=progress)
    assert mirror_problems(db, emu) == []
    assert progress.totals == [None]  # the listing's total stays unknown


def test_total_elements_as_text_still_counts(emu: Emulator, config: Config, db: Engine) -> None:
    progress = _Recorder()
    pull(db, make_client(config, _Totals(emu.transport(), "123")), config, progress=progress)
    assert 123 in progress.totals


def test_failed_page_write_leaves_earlier_pages_and_an_idle_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rcsync.sync.pull as pull_module

    emu = fast_emulator(2500, 5)
    # A trash of three listing pages (the FSync answers the Alive messages).
    for record in emu.store.all_records()[:2200]:
        if record["availability"] == "Alive":
            emu.store.remote_edit(record["id"], availability="Deleted")
    alive = sum(r["availability"] == "Alive" for r in emu.store.all_records())
    assert alive < 1000 and len(emu.store.all_records()) - alive > 2000
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    real_save, calls = pull_module.save_records, []

    def failing_save(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # the FSync's batch, listing page 1, then page 2 fails
            raise RuntimeError("disk full")
        return real_save(*args, **kw)

    monkeypatch.setattr(pull_module, "save_records", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        pull(engine, make_client(config, emu.transport()), config)
    # Page 3 was already asked for (fetched while page 2 was written), and has arrived;
    # the first listing request only counted.
    assert emu.counters.snapshot()["by_operation"]["listMessages"] == 1 + 3
    assert alive + 970 <= count_rows(engine) <= alive + 1000
    monkeypatch.setattr(pull_module, "save_records", real_save)
    pull(engine, make_client(config, emu.transport()), config)
    assert mirror_problems(engine, emu) == []


def test_prefetch_returns_raises_and_settles() -> None:
    from rcsync.sync.prefetch import Prefetch

    assert Prefetch(lambda: 42).result() == 42

    def boom() -> int:
        raise ValueError("no")

    failing = Prefetch(boom)
    with pytest.raises(ValueError, match="no"):
        failing.result()
    failing.settle()  # an error already handed over is not raised again


def test_read_change_on_an_already_trashed_message_is_pulled(
    emu: Emulator, config: Config, db: Engine
) -> None:
    # RingCentral reports any change to a trashed message as the same id + availability
    # stub, so a stub for a message we already know as trashed must still be re-read.
    client = make_client(config, emu.transport())
    pull(db, client, config)
    target = next(
        r["id"]
        for r in emu.store.all_records()
        if r["availability"] == "Alive" and r["readStatus"] == "Read"
    )
    emu.store.remote_edit(target, availability="Deleted")
    pull(db, client, config)
    emu.store.remote_edit(target, read_status="Unread")
    pull(db, client, config)
    with db.connect() as conn:
        row = conn.execute(
            sa.text("SELECT read_status, availability FROM message WHERE id = :i"), {"i": target}
        ).one()
    assert tuple(row) == ("Unread", "Deleted")
    assert mirror_problems(db, emu) == []


def test_short_gil_slices_last_only_while_used(
    emu: Emulator, config: Config, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import rcsync.sync.pull as pull_module
    from rcsync.sync.prefetch import SHORT_SLICE, short_gil_slices

    before = sys.getswitchinterval()
    assert before > SHORT_SLICE
    with short_gil_slices():
        assert sys.getswitchinterval() == SHORT_SLICE
        with short_gil_slices():  # a second user (another pull in this process)
            pass
        assert sys.getswitchinterval() == SHORT_SLICE  # the first still runs
    assert sys.getswitchinterval() == before
    seen: list[float] = []
    real_save = pull_module.save_records

    def spying_save(*args: Any, **kw: Any) -> Any:
        seen.append(sys.getswitchinterval())
        return real_save(*args, **kw)

    monkeypatch.setattr(pull_module, "save_records", spying_save)
    pull(db, make_client(config, emu.transport()), config)
    assert seen[0] == SHORT_SLICE  # the FSync's batch
    assert sys.getswitchinterval() == before  # restored after it, even with the pull done
