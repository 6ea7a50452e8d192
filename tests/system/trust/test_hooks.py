"""`[hooks]`: run after commands and by watch with the outcome; a failing or hanging hook is
reported and never breaks the sync (real shell processes)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

from rcsync.config import load_config
from rcsync.store.database import open_database
from rcsync.watch.runner import EngineWorker
from tests.harness.config import make_config
from tests.harness.inprocess import make_client
from tests.system.trust.trust_env import TrustEnv

# Each hook appends its name, env and stdin to a log, one JSON line per run.
RECORD = (
    "python3 -c \"import json,os,sys; open(sys.argv[1],'a').write(json.dumps({{"
    "'hook': sys.argv[2], 'event': os.environ['RCSYNC_EVENT'], 'new': os.environ['RCSYNC_NEW'],"
    " 'error': os.environ['RCSYNC_ERROR'], 'stdin': json.load(sys.stdin)}})+'\\\\n')\""
    " {log} {name}"
)


def _hooks_toml(log: Path, **override: str) -> str:
    lines = ["[hooks]"]
    for name in ("on_success", "on_failure", "on_new_messages"):
        command = override.get(name, RECORD.format(log=log, name=name))
        lines.append(f"{name} = {json.dumps(command)}")
    if "timeout" in override:
        lines.append(f"timeout = {override['timeout']}")
    return "\n".join(lines) + "\n"


def _runs(log: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_pull_runs_on_success_and_on_new_messages_with_the_outcome(env: TrustEnv) -> None:
    log = env.root / "hooks.log"
    env.write_config(_hooks_toml(log))
    result = env.run("pull")
    assert result.exit_code == 0, result.output
    runs = _runs(log)
    assert [r["hook"] for r in runs] == ["on_success", "on_new_messages"]
    total = len(env.emu.store.all_records())
    for r in runs:
        assert (r["event"], r["error"]) == ("pull", "")
        assert r["stdin"]["ok"] is True and r["stdin"]["event"] == "pull"
    stored = runs[0]["stdin"]["summary"]["new"]
    assert 0 < stored <= total and runs[0]["new"] == str(stored)
    log.unlink()
    again = env.run("pull")
    assert again.exit_code == 0
    assert [(r["hook"], r["new"]) for r in _runs(log)] == [("on_success", "0")]


def test_a_failed_run_calls_on_failure_with_the_error(pulled: TrustEnv) -> None:
    log = pulled.root / "hooks.log"
    pulled.write_config("[sync]\ndelete_guard = 1\n" + _hooks_toml(log))
    pulled.sql("UPDATE message SET availability = 'Deleted' WHERE type = 'SMS'")
    push = pulled.run("push")
    assert push.exit_code == 1
    [run] = _runs(log)
    assert run["hook"] == "on_failure" and run["event"] == "push"
    assert "delete_guard = 1" in run["error"] and run["stdin"]["ok"] is False
    log.unlink()
    pulled.emu.store.arrive(1)  # missing locally: verify fails, and says so to on_failure
    verify = pulled.run("verify")
    assert verify.exit_code == 1
    [run] = _runs(log)
    assert (run["hook"], run["event"]) == ("on_failure", "verify")
    assert "problem" in run["error"] and run["stdin"]["summary"]["counts"]["missing_locally"] == 1


def test_a_failing_hook_is_reported_and_the_sync_goes_on(env: TrustEnv) -> None:
    env.write_config(_hooks_toml(env.root / "x.log", on_success="echo 'no such host' >&2; exit 3"))
    result = env.run("pull")
    assert result.exit_code == 0, result.output
    assert "hook on_success failed (exit 3): no such host" in result.output
    assert env.sql("SELECT count(*) FROM message")[0][0] > 0


def test_a_hanging_hook_is_killed_with_its_children(env: TrustEnv) -> None:
    pidfile = env.root / "child.pid"
    hang = f"sleep 60 & echo $! > {pidfile}; wait"
    env.write_config(_hooks_toml(env.root / "x.log", on_success=hang, timeout="0.5"))
    result = env.run("pull")
    assert result.exit_code == 0, result.output
    assert "hook on_success timed out (killed after 0.5 s)" in result.output
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the hook's child outlived the timeout"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_watch_steps_run_the_hooks(pulled: TrustEnv) -> None:
    log = pulled.root / "hooks.log"
    pulled.write_config(_hooks_toml(log))
    hooks = load_config(pulled.root / "config.toml").hooks
    base = make_config(pulled.root / "w")
    config = dataclasses.replace(
        base,
        database=dataclasses.replace(base.database, path=pulled.db, files=pulled.files),
        hooks=hooks,
    )
    pulled.emu.store.arrive(2)
    engine = open_database(pulled.db)
    client = make_client(config, pulled.emu.transport())
    try:
        EngineWorker(engine, client, config).pull()
    finally:
        client.close()
        engine.dispose()
    runs = _runs(log)
    assert [(r["hook"], r["event"], r["new"]) for r in runs] == [
        ("on_success", "watch", "2"),
        ("on_new_messages", "watch", "2"),
    ]
    assert runs[0]["stdin"]["summary"]["step"] == "pull"
    assert os.environ.get("RCSYNC_EVENT") is None  # the hooks' env is their own


def test_a_dry_run_runs_no_hook(pulled: TrustEnv) -> None:
    log = pulled.root / "hooks.log"
    pulled.write_config(_hooks_toml(log))
    pulled.sql("UPDATE message SET read_status = 'Read' WHERE id = (SELECT min(id) FROM message)")
    for args in (
        ("push", "--dry-run"),
        ("sync", "--dry-run"),
        ("prune", "--older-than", "0", "-n"),
    ):
        result = pulled.run(*args)
        assert result.exit_code == 0, result.output
    assert _runs(log) == []
    assert pulled.run("push").exit_code == 0
    assert [r["hook"] for r in _runs(log)] == ["on_success"]
