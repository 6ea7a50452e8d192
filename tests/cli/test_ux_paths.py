"""Finding the database: `db path`, `config show` with origins, config-relative paths,
the path printed when a database is created, help examples that open the real file."""

from __future__ import annotations

import json
from pathlib import Path

from rcsync.cli.main import cli
from rcsync.config import default_db_path
from tests.cli.ux_helpers import run


def test_db_path_prints_the_default_and_creates_nothing() -> None:
    result = run("db", "path")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(default_db_path())
    assert not default_db_path().exists()


def test_relative_paths_in_a_config_are_relative_to_its_folder(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "c.toml").write_text('[database]\npath = "data/m.db"\nfiles = "att"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("--config", "../conf/c.toml", "db", "path", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["path"] == str(conf_dir / "data" / "m.db")
    assert doc["files"] == str(conf_dir / "att")
    assert doc["source"] == "config file"


def test_config_show_names_where_each_value_came_from(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[ringcentral]\nclient_id = "abc"\njwt = "sec.ret.jwt"\n')
    env = {"RCSYNC_SERVER": "http://127.0.0.1:9"}
    args = ["--config", str(conf), "--db", str(tmp_path / "x.db"), "config", "show"]
    doc = json.loads(run(*args, "--json", env=env).stdout)
    rc, db = doc["values"]["ringcentral"], doc["values"]["database"]
    assert doc["config_file"] == str(conf)
    assert (rc["client_id"]["source"], rc["client_id"]["where"]) == ("config file", str(conf))
    assert (rc["server"]["source"], rc["server"]["where"]) == ("env", "$RCSYNC_SERVER")
    assert (db["path"]["source"], db["path"]["value"]) == ("flag", str(tmp_path / "x.db"))
    assert rc["timeout"]["source"] == "default"
    assert rc["jwt"]["value"] == "***"  # never a secret
    text = run(*args, env=env)
    assert text.exit_code == 0
    assert "sec.ret.jwt" not in text.output
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("ringcentral.server"))
    assert "env $RCSYNC_SERVER" in line


def test_creating_a_database_says_where(tmp_path: Path) -> None:
    db = tmp_path / "new" / "m.db"
    first = run("--db", str(db), "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"created database {db}" in first.stderr
    again = run("--db", str(db), "db", "upgrade")
    assert "created database" not in again.output


def test_help_examples_open_the_real_database() -> None:
    main_help = run("--help").output
    assert 'sqlite3 "$(rcsync db path)"' in main_help
    assert "sqlite3 messages.db" not in main_help
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "sqlite3 messages.db" not in readme
    assert 'sqlite3 "$(rcsync db path)"' in readme
    assert "path" in cli.commands["db"].commands  # type: ignore[attr-defined]
