"""The first pull's FSync, streamed and saved as it arrives (issue 17), under each reading
the docs allow: an FSync with only Alive records (the emulator's), one that includes the
trash, and one a server caps (``olderRecordsExist``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.progress import NullProgress
from rcsync.store.database import open_database
from rcsync.store.state import FIRST_PULL, get_state
from rcsync.sync.pull import pull
from tests.harness.config import make_config
from tests.harness.database import count_rows
from tests.harness.harsh import Harsh
from tests.harness.inprocess import fast_emulator, make_client
from tests.harness.mirror import mirror_problems
from tests.harness.transports import Interrupted, Interrupting


class Recorder(NullProgress):
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, phase: str, total: int | None = None) -> None:
        if phase == "messages":
            self.total, self.done = total, 0

    def advance(self, n: int = 1) -> None:
        self.done += n

    def discount(self, n: int) -> None:
        self.total = None if self.total is None else self.total - n


class Requests(httpx.BaseTransport):
    """Remembers the query of every message-store listing request."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.listings = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/message-store"):
            self.listings.append(request.url.params)
        return self.inner.handle_request(request)


def _deleted(emu: Emulator) -> list[dict[str, Any]]:
    return [r for r in emu.store.all_records() if r["availability"] == "Deleted"]


def test_an_fsync_of_alive_records_leaves_only_the_trash_to_list(
    emu: Emulator, config: Config, db: Engine
) -> None:
    seen = Requests(emu.transport())
    progress = Recorder()
    pull(db, make_client(config, seen), config, progress=progress)
    assert mirror_problems(db, emu) == []
    count, *listing = seen.listings
    assert count.get_list("availability") == ["Alive", "Deleted", "Purged"]
    assert count["perPage"] == "1"
    assert [q.get_list("availability") for q in listing] == [["Deleted", "Purged"]]
    assert progress.total == progress.done == count_rows(db)


def test_an_fsync_that_includes_the_trash(emu: Emulator, config: Config, db: Engine) -> None:
    assert _deleted(emu), "the seed must have trashed messages"
    harsh = Harsh(emu.transport(), fsync_trash=lambda: _deleted(emu))
    progress = Recorder()
    summary = pull(db, make_client(config, harsh), config, progress=progress)
    assert mirror_problems(db, emu) == []
    # The trash came twice (FSync, listing) and was saved and counted once.
    assert summary.new == count_rows(db) == progress.done == progress.total
    target = _deleted(emu)[0]["id"]
    emu.store.remote_edit(target, availability="Alive")
    assert not pull(db, make_client(config, harsh), config).full
    assert mirror_problems(db, emu) == []


@pytest.mark.parametrize("cap", [0, 1, 100, 200])
def test_a_capped_fsync_lists_everything_below_what_it_returned(
    emu: Emulator, config: Config, db: Engine, cap: int
) -> None:
    assert sum(r["availability"] == "Alive" for r in emu.store.all_records()) > cap
    seen = Requests(Harsh(emu.transport(), fsync_cap=cap))
    pull(db, make_client(config, seen), config)
    assert mirror_problems(db, emu) == []
    passes = [tuple(q.get_list("availability")) for q in seen.listings[1:]]
    everything = ("Alive", "Deleted", "Purged")
    if cap == 0:  # nothing returned: the whole history, every availability
        assert set(passes) == {everything}
    else:  # the trash above the FSync's oldest record, then everything from it down
        assert passes[0] == ("Deleted", "Purged") and passes[-1] == everything
        oldest = seen.listings[1]["dateFrom"]
        first_older = next(q for q in seen.listings[1:] if q.get_list("availability")[0] == "Alive")
        assert first_older["dateTo"] > oldest


def test_a_capped_fsync_cut_inside_a_crowded_instant(tmp_path: Path) -> None:
    emu = fast_emulator(200, 4)
    when = "2031-05-05T05:05:05.000Z"  # the newest instant of all
    emu.store.inject(
        [
            {
                "id": 1_600_000_000_000 + i,
                "creationTime": when,
                "subject": f"burst {i}",
                "from": {"phoneNumber": "+15550001111"},
                "to": [{"phoneNumber": "+15550002222"}],
            }
            for i in range(40)
        ]
    )
    config = make_config(tmp_path)
    engine = open_database(config.database.path)
    pull(engine, make_client(config, Harsh(emu.transport(), fsync_cap=15)), config)
    assert mirror_problems(engine, emu) == []
    assert count_rows(engine, f"SELECT count(*) FROM message WHERE creation_time = '{when}'") == 40


def test_a_capped_fsyncs_listing_resumes_in_its_second_pass(
    emu: Emulator, config: Config, db: Engine
) -> None:
    harsh = Harsh(emu.transport(), fsync_cap=100)
    # count, the trash above the cut, then the first page of everything below it
    broken = make_client(config, Interrupting(harsh, after=2, marker="message-store?"))
    with pytest.raises(Interrupted):
        pull(db, broken, config)
    with db.connect() as conn:
        assert get_state(conn, FIRST_PULL) is not None
    seen = Requests(harsh)
    summary = pull(db, make_client(config, seen), config)
    assert summary.full and mirror_problems(db, emu) == []
    # No count and no FSync again: the listing's second pass goes on, then one ISync.
    assert harsh.isyncs == 1 and seen.listings
    assert all(
        q.get_list("availability") == ["Alive", "Deleted", "Purged"] and q["perPage"] == "1000"
        for q in seen.listings
    )
