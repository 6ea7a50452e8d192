"""Configs that point rcsync at the emulator: as `Config` objects (in-process tests) and as
TOML files (real processes). Every one logs in with the emulator's credentials and keeps
its tokens and database in the test's own folder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig
from tests.harness.account import EMULATOR_CREDENTIALS, SERVER

#: What the tests' syncs default to: no attachment downloads (most tests do not look at
#: files) and a delete guard no test trips by accident.
TEST_SYNC: dict[str, Any] = {"download_attachments": False, "delete_guard": 100_000}


def rc_config(token_file: Path, *, server: str = SERVER, **extra: Any) -> RingCentralConfig:
    """The [ringcentral] table: the emulator's credentials, `server`, `token_file`."""
    values: dict[str, Any] = {**EMULATOR_CREDENTIALS, "server": server, "token_file": token_file}
    values.update(extra)
    return RingCentralConfig(**values)


def make_config(tmp_path: Path, *, server: str = SERVER, **sync: Any) -> Config:
    """A config whose tokens, database and files live in `tmp_path`; `sync` overrides
    `SyncConfig` fields (attachments are off unless asked for)."""
    sync.setdefault("download_attachments", False)
    return Config(
        ringcentral=rc_config(tmp_path / "tokens.json", server=server),
        database=DatabaseConfig(path=tmp_path / "messages.db", files=tmp_path / "files"),
        sync=replace(SyncConfig(), **sync),
    )


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_toml(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def write_config(
    path: Path,
    *,
    server: str,
    token_file: Path,
    db: Path,
    rc: Mapping[str, Any] | None = None,
    account: Mapping[str, Any] | None = None,
    **sync: Any,
) -> Path:
    """A config file for a real `rcsync` process; `rc` overrides [ringcentral] keys (a
    None value leaves the key out), `account` gives [account] keys, `sync` the [sync]
    keys over `TEST_SYNC`."""
    rcv: dict[str, Any] = {"server": server, **EMULATOR_CREDENTIALS, "token_file": token_file}
    rcv.update(rc or {})
    tables: dict[str, Mapping[str, Any]] = {
        "ringcentral": {k: v for k, v in rcv.items() if v is not None},
        "database": {"path": db},
        "sync": {**TEST_SYNC, **sync},
    }
    if account:
        tables["account"] = account
    return write_toml(path, tables)
