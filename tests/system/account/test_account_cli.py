"""Account archives from the command line over loopback HTTP (issue 12): an admin pulls
every extension, status lists them, --extension narrows, a plain user is refused in one
line, an edit is pushed to its own extension's path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rcsync.cli.main import cli
from rcsync.emulator import Emulator, serve
from rcsync.emulator.auth import USER_JWT_ASSERTION
from rcsync.store.database import open_database
from tests.harness.account import EMULATOR_ENV
from tests.harness.extensions import account_emulator, server_ids, stored_ids

Run = Callable[..., Result]


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emu = account_emulator(3, 60)
    with serve(emu, host="127.0.0.1", port=0) as server:
        yield emu, server.url


def _runner(
    url: str, tmp_path: Path, extensions: str, jwt: str | None = None, sync: str = ""
) -> Run:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ringcentral]\ntoken_file = "{tmp_path / "tokens.json"}"\n'
        f'[database]\nfiles = "{tmp_path / "files"}"\n'
        f"[sync]\ndownload_attachments = false\n{sync}"
        f"[account]\nextensions = {extensions}\n"
    )
    env = {"RCSYNC_SERVER": url, **EMULATOR_ENV, "RCSYNC_CONFIG": str(config)}
    if jwt is not None:
        env["RCSYNC_JWT"] = jwt

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--db", str(tmp_path / "m.db"), *args], env=env)

    return invoke


def _ids(emu: Emulator) -> list[int]:
    return [e.id for e in sorted(emu.account, key=lambda e: int(e.number))]


def test_admin_pull_status_search_push(served: tuple[Emulator, str], tmp_path: Path) -> None:
    emu, url = served
    run = _runner(url, tmp_path, '"all"')
    pulled = run("pull")
    assert pulled.exit_code == 0, pulled.output
    assert "over 3 extensions" in pulled.output
    engine = open_database(tmp_path / "m.db")
    for eid in _ids(emu):
        assert stored_ids(engine, eid) == server_ids(emu, eid)
    status = run("status", "--json")
    report = json.loads(status.stdout)
    assert [e["number"] for e in report["extensions"]] == ["101", "102", "103"]
    assert {"messages", "pending", "last_pull"} <= set(report)  # the existing keys stay
    one = json.loads(run("status", "--json", "--extension", "102").stdout)
    assert [e["number"] for e in one["extensions"]] == ["102"]
    bad = run("status", "--extension", "999")
    assert bad.exit_code == 1 and "extension 999 is not in this archive" in bad.output
    # An edit of extension 103's message goes to 103's path, and only --extension 103's.
    target = sorted(server_ids(emu, _ids(emu)[2]))[0]
    record = emu.account.get(_ids(emu)[2]).store.get(target)  # type: ignore[union-attr]
    new_status = "Unread" if record["readStatus"] == "Read" else "Read"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE message SET read_status = '{new_status}' WHERE id = {target}")
    pending = json.loads(run("pending", "--json", "--extension", "102").stdout)
    assert pending == []
    assert len(json.loads(run("pending", "--json", "--extension", "103").stdout)) == 1
    pushed = run("push", "--extension", "102")
    assert pushed.exit_code == 0 and "pushed 0 edits" in pushed.output
    pushed = run("push")
    assert pushed.exit_code == 0 and "pushed 1 edit " in pushed.output, pushed.output
    after = emu.account.get(_ids(emu)[2]).store.get(target)  # type: ignore[union-attr]
    assert after["readStatus"] == new_status


def test_plain_user_naming_another_gets_one_line_and_exit_1(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    _emu, url = served
    run = _runner(url, tmp_path, '["101"]', jwt=USER_JWT_ASSERTION)
    result = run("pull")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "101" in lines[0] and "ReadMessages" in lines[0], result.output
    assert "Traceback" not in result.output
    engine = open_database(tmp_path / "m.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM message").scalar() == 0


def test_plain_user_all_pulls_their_own_and_says_why(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emu, url = served
    run = _runner(url, tmp_path, '"all"', jwt=USER_JWT_ASSERTION)
    result = run("pull")
    assert result.exit_code == 0, result.output
    assert "no administrator permission" in result.output
    engine = open_database(tmp_path / "m.db")
    assert stored_ids(engine, _ids(emu)[1]) == server_ids(emu, _ids(emu)[1])
    assert stored_ids(engine, _ids(emu)[0]) == set()


def _availability(emu: Emulator, eid: int, mid: int) -> str:
    record = emu.account.get(eid).store.get(mid)  # type: ignore[union-attr]
    return str(record["availability"])


def test_delete_guard_counts_the_whole_account(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    """Two trashes in each of three extensions: each under delete_guard = 5, together
    over it. A push of the archive is refused (exit 1, nothing sent); `--extension`
    counts its own extension; --force sends the rest."""
    emu, url = served
    run = _runner(url, tmp_path, '"all"', sync="delete_guard = 5\n")
    assert run("pull").exit_code == 0
    trashed = {
        eid: sorted(i for i in server_ids(emu, eid) if _availability(emu, eid, i) == "Alive")[:2]
        for eid in _ids(emu)
    }
    engine = open_database(tmp_path / "m.db")
    with engine.begin() as conn:
        for ids in trashed.values():
            conn.exec_driver_sql(
                f"UPDATE message SET availability = 'Deleted' WHERE id IN ({ids[0]}, {ids[1]})"
            )
    emu.counters.reset()
    for command in ("push", "sync"):
        refused = run(command)
        assert refused.exit_code == 1, refused.output
        assert "refusing to trash 6 and purge 0 messages" in refused.output
        assert "Traceback" not in refused.output
    assert "deleteMessage" not in emu.counters.snapshot()["by_operation"]
    assert all(_availability(emu, e, i) == "Alive" for e, ids in trashed.items() for i in ids)
    assert len(json.loads(run("pending", "--json").stdout)) == 6
    one = run("push", "--extension", "102")  # 2 of its own: under the guard
    assert one.exit_code == 0, one.output
    a, b, _c = _ids(emu)
    assert all(_availability(emu, b, i) == "Deleted" for i in trashed[b])
    assert all(_availability(emu, a, i) == "Alive" for i in trashed[a])
    forced = run("push", "--force")
    assert forced.exit_code == 0, forced.output
    assert all(_availability(emu, e, i) == "Deleted" for e, ids in trashed.items() for i in ids)
    assert json.loads(run("pending", "--json").stdout) == []
