"""`rcsync pull` with `[account] use_export` against an emulator served on loopback HTTP."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from rcsync.cli.main import cli
from rcsync.emulator import Emulator, serve
from tests.harness.account import EMULATOR_ENV
from tests.harness.inprocess import UNLIMITED


def _pull(url: str, tmp_path: Path, use_export: str, jwt: str | None = None) -> Result:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[ringcentral]\ntoken_file = "{tmp_path / "tokens.json"}"\n'
        f'[database]\nfiles = "{tmp_path / "files"}"\n'
        f'[account]\nuse_export = "{use_export}"\n'
    )
    env = {"RCSYNC_SERVER": url, **EMULATOR_ENV, "RCSYNC_CONFIG": str(config)}
    if jwt is not None:
        env["RCSYNC_JWT"] = jwt
    return CliRunner().invoke(cli, ["--db", str(tmp_path / "m.db"), "pull"], env=env)


def _emulator(extensions: int = 1) -> Emulator:
    emu = Emulator(messages=300, seed=12, extensions=extensions)
    limits = {g: n for g, (n, _) in UNLIMITED.items()}
    emu.configure(
        rate_limits={"enabled": True, "limits": limits},
        export={"task_seconds": 0, "task_seconds_per_1000": 0},  # Completed at once
    )
    return emu


def test_pull_takes_attachments_from_the_export(tmp_path: Path) -> None:
    emu = _emulator()
    with serve(emu, host="127.0.0.1", port=0) as server:
        result = _pull(server.url, tmp_path, "always")
    assert result.exit_code == 0, result.output
    assert "from the message-store export)" in result.output
    assert emu.counters.by_operation["readMessageStoreReportArchiveContent"] >= 1
    assert list((tmp_path / "files").rglob("*.wav"))
    assert not (tmp_path / "files" / ".export").exists()


def test_a_plain_user_gets_one_line_and_the_content_endpoint(tmp_path: Path) -> None:
    emu = _emulator(extensions=2)
    with serve(emu, host="127.0.0.1", port=0) as server:
        result = _pull(server.url, tmp_path, "always", jwt="emulator-user-jwt")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "message-store export" in line]
    assert len(lines) == 1 and "not available to this login" in lines[0], result.output
    assert "Traceback" not in result.output
    assert emu.counters.by_operation["readMessageContent"] > 0
