from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from rcsync.config import _CHECKERS, load_config
from rcsync.errors import ConfigError
from rcsync.types import ExtensionScope

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_defaults_without_any_file() -> None:
    cfg = load_config(env={})
    assert cfg.source == "defaults"
    assert cfg.ringcentral.server == "https://platform.ringcentral.com"
    assert cfg.sync.conflict_policy == "newest"
    assert cfg.sync.row_delete == "trash"
    assert cfg.database.files_dir == cfg.database.path.parent / "files"


def test_values_are_read_and_converted(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[sync]\nhistory_start = "2019-05-01"\nmessage_types = ["SMS"]\n'
        'watch_interval = 5\n[database]\npath = "~/x.db"\n',
    )
    cfg = load_config(p, env={})
    assert cfg.sync.history_start == dt.date(2019, 5, 1)
    assert cfg.sync.message_types == ("SMS",)
    assert cfg.sync.watch_interval == 5.0
    assert cfg.database.path == Path("~/x.db").expanduser()


def test_wrong_value_names_file_key_and_expectation(tmp_path: Path) -> None:
    p = write(tmp_path, '[sync]\nconflict_policy = "sometimes"\n')
    with pytest.raises(ConfigError) as err:
        load_config(p, env={})
    assert str(err.value) == (
        f'{p}: [sync] conflict_policy = "sometimes": expected newest, remote or local'
    )


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    p = write(tmp_path, '[sync]\nconflict_polcy = "newest"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'conflict_polcy'"):
        load_config(p, env={})


def test_unknown_section_is_reported(tmp_path: Path) -> None:
    p = write(tmp_path, "[synk]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section \[synk\]"):
        load_config(p, env={})


def test_broken_toml_shows_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, '[sync]\nrow_delete = "trash\n')
    with pytest.raises(ConfigError) as err:
        load_config(p, env={})
    assert re.search(r"line 2, column \d+", str(err.value))
    assert str(p) in str(err.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[sync]\nmessage_types = ["SMS", "Email"]\n', "expected a list of SMS, Fax"),
        ("[sync]\nmessage_types = []\n", "at least one"),
        ("[sync]\nwatch_interval = -1\n", "expected a positive number"),
        ("[sync]\ndelete_guard = true\n", "expected a whole number"),
        ('[sync]\nhistory_start = "yesterday"\n', "expected a date"),
        ('[ringcentral]\nserver = "ftp://x"\n', "expected an http(s) URL"),
        ('[ringcentral]\ninsecure = "yes"\n', "expected true or false"),
        ("sync = 3\n", "must be a table"),
    ],
)
def test_each_checker_rejects_bad_values(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert fragment in str(err.value)


def test_environment_overrides_file(tmp_path: Path) -> None:
    p = write(tmp_path, '[ringcentral]\nclient_id = "file"\n')
    cfg = load_config(
        p,
        env={
            "RCSYNC_CLIENT_ID": "env",
            "RCSYNC_DB": str(tmp_path / "e.db"),
            "RCSYNC_SERVER": "http://127.0.0.1:9",
        },
    )
    assert cfg.ringcentral.client_id == "env"
    assert cfg.database.path == tmp_path / "e.db"
    assert cfg.ringcentral.server == "http://127.0.0.1:9"


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"\$RCSYNC_SERVER"):
        load_config(env={"RCSYNC_SERVER": "platform.ringcentral.com"})


def test_lookup_order_env_var_then_missing_file(tmp_path: Path) -> None:
    p = write(tmp_path, '[sync]\nrow_delete = "purge"\n')
    assert load_config(env={"RCSYNC_CONFIG": str(p)}).sync.row_delete == "purge"
    with pytest.raises(ConfigError, match="not found"):
        load_config(env={"RCSYNC_CONFIG": str(tmp_path / "nope.toml")})


def test_explicit_path_wins_and_db_override_wins(tmp_path: Path) -> None:
    a = write(tmp_path, '[sync]\nrow_delete = "purge"\n')
    cfg = load_config(a, env={"RCSYNC_CONFIG": "/nonexistent"}, db_override=tmp_path / "o.db")
    assert cfg.sync.row_delete == "purge"
    assert cfg.database.path == tmp_path / "o.db"


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    p = write(tmp_path, '[ringcentral]\nclient_secret = "s3cr3t"\njwt = "eyJhbG"\n')
    cfg = load_config(p, env={})
    assert "s3cr3t" not in repr(cfg) and "eyJhbG" not in repr(cfg)


def test_example_config_documents_every_key_and_loads() -> None:
    example = REPO / "config.example.toml"
    data = tomllib.loads(example.read_text())
    documented = {(s, k) for s, keys in data.items() for k in keys}
    known = {(s, k) for s, keys in _CHECKERS.items() for k in keys}
    assert documented == known
    load_config(example, env={})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"self"', ExtensionScope.SELF),
        ('"all"', ExtensionScope.ALL),
        ('["101", "105", "101"]', ("101", "105")),
        ("[101, 105]", ("101", "105")),
    ],
)
def test_account_extensions(tmp_path: Path, value: str, expected: object) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[account]\nextensions = {value}\n")
    assert load_config(path, env={}).account.extensions == expected


@pytest.mark.parametrize("value", ['"everyone"', "[]", '["10a"]', "[true]", "5"])
def test_account_extensions_rejected(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[account]\nextensions = {value}\n")
    with pytest.raises(ConfigError, match=r"\[account\] extensions = .*expected \"self\", \"all\""):
        load_config(path, env={})


def test_account_defaults_to_self() -> None:
    assert load_config(None, env={}).account.extensions == ExtensionScope.SELF


NO_SUCH_USER = "~rcsync-no-such-user-0"


def test_a_home_of_no_user_is_a_config_error_not_a_traceback(tmp_path: Path) -> None:
    # Found by test_rel_fuzz (`path = "~0"`): pathlib raises RuntimeError for an unknown user.
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{NO_SUCH_USER}/messages.db"\n')
    named = rf"\[database\] path = .*: {NO_SUCH_USER} names no home directory$"
    with pytest.raises(ConfigError, match=named):
        load_config(cfg, env={})
    with pytest.raises(ConfigError, match="names no home directory"):
        load_config(None, env={}, db_override=f"{NO_SUCH_USER}/m.db")
