"""Account pulls (issue 12) over the in-process emulator: an admin mirrors every extension,
a plain user only their own, extensions added and deleted mid-way, crashes resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.errors import ExtensionAccessError
from rcsync.rules.extensions import REREAD_AFTER
from rcsync.store.attachments import PURGED_REASON
from rcsync.store.database import open_database
from rcsync.store.extensions import StateKeys, read_login_cache, save_login_cache
from rcsync.store.state import get_state
from rcsync.sync.account import (
    AccountPullSummary,
    pull_account,
    pull_account_messages,
    push_account,
    reread_extensions,
)
from rcsync.sync.pull import pull_attachments
from rcsync.sync.verify import verify_archive
from rcsync.types import ExtensionScope
from tests.harness.database import execute
from tests.harness.extensions import (
    account_config,
    account_emulator,
    extension_rows,
    server_ids,
    stored_ids,
)
from tests.harness.inprocess import make_client
from tests.harness.transports import Faults, Interrupted, Interrupting, Recording, rc_body


@pytest.fixture
def emu() -> Emulator:
    return account_emulator(3, 120)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return account_config(tmp_path)


def _ids(emu: Emulator) -> list[int]:
    return [e.id for e in sorted(emu.account, key=lambda e: int(e.number))]


def test_admin_all_mirrors_every_extension(emu: Emulator, config: Config, db: Engine) -> None:
    summary = pull_account(db, make_client(config, emu.transport()), config)
    assert isinstance(summary, AccountPullSummary)
    assert [e.info.number for e in summary.extensions] == ["101", "102", "103"]
    for eid in _ids(emu):
        assert stored_ids(db, eid) == server_ids(emu, eid)
    rows = extension_rows(db)
    assert set(rows) == {"101", "102", "103"}
    assert all(r["last_pulled"] and not r["remote_gone"] for r in rows.values())
    # The admin's own cursor has the plain keys; the others', keys of their own.
    with db.connect() as conn:
        assert get_state(conn, "sync_token") is not None
        for eid in _ids(emu)[1:]:
            assert get_state(conn, StateKeys.suffixed(str(eid)).sync_token) is not None


def test_idle_round_is_one_isync_per_extension(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull_account(db, client, config)
    emu.counters.reset()
    summary = pull_account(db, client, config)
    # The login and the list read by the first pull still hold: neither is read again.
    assert emu.counters.snapshot()["by_operation"] == {"syncMessages": 3}
    assert summary.messages == 0
    # ... also by a new process (a new client) of the same login: the token file says who.
    emu.counters.reset()
    pull_account(db, make_client(config, emu.transport()), config)
    assert emu.counters.snapshot()["by_operation"] == {"syncMessages": 3}


def test_full_rereads_the_login_and_the_list(emu: Emulator, config: Config, db: Engine) -> None:
    client = make_client(config, emu.transport())
    pull_account(db, client, config)
    emu.counters.reset()
    pull_account(db, client, config, full=True)
    ops = emu.counters.snapshot()["by_operation"]
    assert ops["readExtension"] == 1 and ops["listExtensions"] == 1


def test_another_login_is_read_not_taken_from_the_cache(
    emu: Emulator, config: Config, db: Engine, tmp_path: Path
) -> None:
    pull_account(db, make_client(config, emu.transport()), config)
    # The plain user's own token file, the admin's database: the token names another owner.
    user = account_config(tmp_path / "user", user=True)
    user = dataclasses.replace(user, database=config.database)
    emu.counters.reset()
    summary = pull_account(db, make_client(user, emu.transport()), user)
    ops = emu.counters.snapshot()["by_operation"]
    assert ops == {"getToken": 1, "readExtension": 1, "syncMessages": 1}
    assert isinstance(summary, AccountPullSummary)
    assert [e.info.number for e in summary.extensions] == ["102"]
    assert "no administrator permission" in summary.notes[0]


def _age_the_cache(db: Engine) -> None:
    with db.begin() as conn:
        cache = read_login_cache(conn)
        assert cache is not None
        old = cache.read_at - REREAD_AFTER
        save_login_cache(conn, dataclasses.replace(cache, read_at=old))


def _reread(how: str, db: Engine, emu: Emulator, new: Any) -> dict[str, Any]:
    """How a pull comes to read the list again; the keyword args of that pull."""
    if how == "watch event":
        reread_extensions(db)
    elif how == "an hour later":
        _age_the_cache(db)
    elif how == "full":
        return {"full": True}
    elif how == "--extension NEW":
        return {"only": new.number}
    return {}


@pytest.mark.parametrize("how", ["watch event", "an hour later", "full", "--extension NEW"])
def test_extension_added_is_picked_up_and_deleted_keeps_its_archive(
    emu: Emulator, config: Config, db: Engine, how: str
) -> None:
    client = make_client(config, emu.transport())
    pull_account(db, client, config)
    [new] = emu.account.add(1, messages=40)
    gone = _ids(emu)[2]
    kept = stored_ids(db, gone)
    emu.account.remove(gone)
    # Without a reason to list again the round is ISyncs only: the new user waits, the
    # deleted one answers 404 on its own path and is marked gone by that.
    emu.counters.reset()
    pull_account(db, client, config)
    assert emu.counters.snapshot()["by_operation"] == {"syncMessages": 3}
    assert stored_ids(db, new.id) == set()
    rows = extension_rows(db)
    assert rows["103"]["remote_gone"] == 1 and rows["103"]["gone_since"]
    summary = pull_account(db, client, config, **_reread(how, db, emu, new))
    assert isinstance(summary, AccountPullSummary)
    assert stored_ids(db, new.id) == server_ids(emu, new.id)
    assert stored_ids(db, gone) == kept and kept  # nothing inferred as deleted
    rows = extension_rows(db)
    assert rows[new.number]["remote_gone"] == 0
    assert rows["103"]["remote_gone"] == 1 and rows["103"]["gone_since"]
    # Listed once, the new user is one of the idle round's ISyncs from now on.
    emu.counters.reset()
    pull_account(db, client, config)
    assert emu.counters.snapshot()["by_operation"] == {"syncMessages": 3}


def test_named_extensions_are_pulled_alone_without_asking_who_they_are(
    emu: Emulator, config: Config, db: Engine
) -> None:
    """What a notification naming one extension costs: its ISync, nothing else."""
    sent = Recording(emu.transport())
    client = make_client(config, sent)
    pull_account(db, client, config)
    _a, b, c = _ids(emu)
    emu.account.get(b).store.arrive(1)  # type: ignore[union-attr]
    emu.account.get(c).store.arrive(1)  # type: ignore[union-attr]
    sent.take()
    summary = pull_account_messages(db, client, config, extensions=frozenset({str(b)}))
    assert sent.take() == {("GET", f"/restapi/v1.0/account/~/extension/{b}/message-sync"): 1}
    assert summary.new == 1
    assert stored_ids(db, b) == server_ids(emu, b)
    assert stored_ids(db, c) != server_ids(emu, c)
    # An id the archive does not mirror (or no longer knows) costs nothing.
    pull_account_messages(db, client, config, extensions=frozenset({"4242"}))
    assert sent.take() == {}


def test_requests_take_turns(emu: Emulator, config: Config, db: Engine) -> None:
    arrived: list[str] = []

    class Recording(Interrupting):
        def handle_request(self, request):  # type: ignore[no-untyped-def]
            path = request.url.path
            if "/message-sync" in path or "/message-store" in path:
                arrived.append(path.split("/extension/")[1].split("/")[0])
            return self.inner.handle_request(request)

    config_small = account_config(config.database.path.parent)
    client = make_client(config_small, Recording(emu.transport(), after=10**9, marker="x"))
    pull_account(db, client, config_small)
    # Every extension needs the same requests (a count, the FSync, ..., the ISync): in
    # turns, the first round goes one to each, in order.
    assert arrived[:3] == [str(i) for i in _ids(emu)]
    assert sorted(arrived.count(str(i)) for i in _ids(emu)) == [len(arrived) // 3] * 3


def test_named_numbers(emu: Emulator, tmp_path: Path) -> None:
    config = account_config(tmp_path, ("103",))
    engine = open_database(config.database.path)
    pull_account(engine, make_client(config, emu.transport()), config)
    a, _b, c = _ids(emu)
    assert stored_ids(engine, c) == server_ids(emu, c)
    assert stored_ids(engine, a) == set()


def test_plain_user_all_gets_their_own_with_a_note(emu: Emulator, tmp_path: Path) -> None:
    config = account_config(tmp_path, ExtensionScope.ALL, user=True)
    engine = open_database(config.database.path)
    summary = pull_account(engine, make_client(config, emu.transport()), config)
    assert isinstance(summary, AccountPullSummary)
    assert [e.info.number for e in summary.extensions] == ["102"]
    assert len(summary.notes) == 1 and "no administrator permission" in summary.notes[0]
    assert stored_ids(engine, _ids(emu)[1]) == server_ids(emu, _ids(emu)[1])


def test_plain_user_naming_another_is_refused_and_nothing_written(
    emu: Emulator, tmp_path: Path
) -> None:
    config = account_config(tmp_path, ("101",), user=True)
    engine = open_database(config.database.path)
    with pytest.raises(ExtensionAccessError, match=r"extension 101: .*ReadMessages"):
        pull_account(engine, make_client(config, emu.transport()), config)
    assert extension_rows(engine) == {}
    assert stored_ids(engine, _ids(emu)[0]) == set()


def test_only_one_extension(emu: Emulator, config: Config, db: Engine) -> None:
    pull_account(db, make_client(config, emu.transport()), config, only="102")
    a, b, _c = _ids(emu)
    assert stored_ids(db, b) == server_ids(emu, b) and stored_ids(db, a) == set()
    with pytest.raises(ExtensionAccessError, match="extension 999: not found"):
        pull_account(db, make_client(config, emu.transport()), config, only="999")


def test_extension_deleted_during_the_pull_is_reported_and_others_go_on(
    emu: Emulator, config: Config, db: Engine
) -> None:
    victim = _ids(emu)[1]

    class DeleteMidway(Interrupting):
        def handle_request(self, request):  # type: ignore[no-untyped-def]
            if "listExtensions" not in str(request.url) and "/extension?" in str(request.url):
                pass
            if f"/extension/{victim}/message-store" in str(request.url) and emu.account.get(victim):
                emu.account.remove(victim)
            return self.inner.handle_request(request)

    client = make_client(config, DeleteMidway(emu.transport(), after=10**9, marker="x"))
    summary = pull_account(db, client, config)
    assert isinstance(summary, AccountPullSummary)
    problems = {e.info.number: e.problem for e in summary.extensions if e.problem}
    assert list(problems) == ["102"] and "deleted" in (problems["102"] or "")
    assert extension_rows(db)["102"]["remote_gone"] == 1
    for eid in (_ids(emu)[0], _ids(emu)[1]):  # the live ones, 101 and 103
        assert stored_ids(db, eid) == server_ids(emu, eid)


class Counting(Interrupting):
    """Counts the listing requests and FSyncs that pass (never interrupts)."""

    def __init__(self, inner: object) -> None:
        super().__init__(inner, after=10**9, marker="\x00")  # type: ignore[arg-type]
        self.listings = self.fsyncs = 0

    def handle_request(self, request):  # type: ignore[no-untyped-def]
        url = str(request.url)
        self.listings += "/message-store?" in url
        self.fsyncs += "syncType=FSync" in url
        return self.inner.handle_request(request)


@pytest.mark.parametrize("after", [1, 4])
def test_crash_mid_account_pull_resumes_per_extension(tmp_path: Path, after: int) -> None:
    emu = account_emulator(3, 2_500)  # three listing pages per extension
    config = account_config(tmp_path)
    engine = open_database(config.database.path)
    before = Counting(Interrupting(emu.transport(), after=after, marker="/message-store?"))
    with pytest.raises(Interrupted):
        pull_account(engine, make_client(config, before), config)
    counting = Counting(emu.transport())
    pull_account(engine, make_client(config, counting), config)
    for eid in _ids(emu):
        assert stored_ids(engine, eid) == server_ids(emu, eid)
    # Resumed where each extension stopped, not restarted: one FSync per extension over
    # both runs (those that had stored theirs did not send another).
    assert before.fsyncs + counting.fsyncs == 3
    assert before.fsyncs >= 1


def _flip_read(db: Engine, emu: Emulator, eid: int, mid: int) -> str:
    record = emu.account.get(eid).store.get(mid)  # type: ignore[union-attr]
    value = "Unread" if record["readStatus"] == "Read" else "Read"
    execute(db, "UPDATE message SET read_status = :v WHERE id = :id", v=value, id=mid)
    return value


def test_a_deleted_users_unsettled_write_and_edits_do_not_stop_the_archive(
    emu: Emulator, config: Config, db: Engine
) -> None:
    """A push dies with a write to 103 in flight, then 103 is deleted in RingCentral. The
    next pull cannot read that message any more: it marks 103 gone (its path is not
    found) and goes on; the next push sends the others' edits and keeps 103's pending."""
    a, _b, c = _ids(emu)
    pull_account(db, make_client(config, emu.transport()), config)
    theirs = sorted(stored_ids(db, c))[0]
    _flip_read(db, emu, c, theirs)
    dying = Interrupting(emu.transport(), after=0, marker=f"/extension/{c}/message-store/")
    with pytest.raises(Interrupted):
        push_account(db, make_client(config, dying), config)
    emu.account.remove(c)
    ours = sorted(stored_ids(db, a))[0]
    wanted = _flip_read(db, emu, a, ours)
    client = make_client(config, emu.transport())
    summary = pull_account(db, client, config)  # not JournalUnsettled: the rest goes on
    assert isinstance(summary, AccountPullSummary)
    assert extension_rows(db)["103"]["remote_gone"] == 1
    pushed = push_account(db, client, config)
    assert (pushed.pushed, pushed.failed, pushed.held) == (1, 0, 1)
    assert "1 message of extensions gone from RingCentral kept pending" in pushed.line()
    assert emu.account.get(a).store.get(ours)["readStatus"] == wanted  # type: ignore[union-attr]
    with db.connect() as conn:
        left = [r[0] for r in conn.exec_driver_sql("SELECT message_id FROM pending_change")]
    assert left == [theirs]  # the deleted user's edit: kept, not lost, not sent


@dataclasses.dataclass
class _TheirFile:
    """An account mirror (messages only) and another user's voicemail whose content
    answers 404 through `faults`."""

    config: Config
    db: Engine
    faults: Faults
    message_id: int
    attachment_id: str

    def skipped(self) -> str | None:
        with self.db.connect() as conn:
            value: str | None = conn.exec_driver_sql(
                "SELECT skipped FROM attachment WHERE message_id = ? AND id = ?",
                (self.message_id, self.attachment_id),
            ).scalar_one()
        return value


@pytest.fixture
def their_file(emu: Emulator, tmp_path: Path) -> _TheirFile:
    config = account_config(tmp_path, download_attachments=True)
    db = open_database(config.database.path)
    pull_account_messages(db, make_client(config, emu.transport()), config)
    theirs = _ids(emu)[1]
    with db.connect() as conn:
        mid, aid = conn.exec_driver_sql(
            "SELECT a.message_id, a.id FROM attachment a JOIN message m ON m.id = a.message_id"
            f" WHERE m.extension_id = '{theirs}' AND a.type = 'AudioRecording' LIMIT 1"
        ).one()
    faults = Faults(emu.transport())
    faults.answer("GET", rf"/message-store/{mid}/content/{aid}$", 404, rc_body("not found"))
    return _TheirFile(config, db, faults, mid, aid)


def test_a_content_404_of_another_users_live_message_is_not_taken_for_a_purge(
    their_file: _TheirFile,
) -> None:
    """After a content 404 the message is read to see whether it is purged: on its own
    extension's path. On the login's own path another user's live message is "not found",
    which marked its file "purged remotely"."""
    f = their_file
    pull_attachments(f.db, make_client(f.config, f.faults), f.config)
    skipped = f.skipped()
    assert f.faults.hits and skipped is not None
    assert skipped != PURGED_REASON  # an error, retried by the next pull


def test_verify_repair_reads_another_users_message_on_its_own_path(
    their_file: _TheirFile,
) -> None:
    """`verify --deep --repair` of an account fetches the files still missing; after a
    content 404 it reads the message on its owner's path, as the pull does."""
    f = their_file
    verify_archive(f.db, make_client(f.config, f.faults), f.config, deep=True, repair=True)
    with f.db.connect() as conn:
        fetched = conn.exec_driver_sql(
            "SELECT count(*) FROM attachment WHERE path IS NOT NULL"
        ).scalar_one()
    skipped = f.skipped()
    assert f.faults.hits and fetched > 0  # the repair fetched the others
    assert skipped is not None and skipped != PURGED_REASON  # an error, tried again later
