"""The trust tests' setup: an emulator served on loopback, a config file, the CLI in-process
(`click.testing.CliRunner`), and a pulled archive to verify, prune and hook."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from rcsync.cli.main import cli
from rcsync.emulator import Emulator
from rcsync.store.database import open_database
from tests.harness.account import EMULATOR_ENV


@dataclass
class TrustEnv:
    emu: Emulator
    url: str
    root: Path
    extra_config: str = ""

    @property
    def db(self) -> Path:
        return self.root / "m.db"

    @property
    def files(self) -> Path:
        return self.root / "files"

    def write_config(self, extra: str = "") -> None:
        self.extra_config = extra
        (self.root / "config.toml").write_text(
            f'[ringcentral]\ntoken_file = "{self.root / "tokens.json"}"\n'
            f'[database]\nfiles = "{self.files}"\n{extra}'
        )

    def run(self, *args: str) -> Result:
        env = {
            "RCSYNC_SERVER": self.url,
            **EMULATOR_ENV,
            "RCSYNC_CONFIG": str(self.root / "config.toml"),
        }
        return CliRunner().invoke(cli, ["--db", str(self.db), *args], env=env)

    def json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.run(*args, "--json")
        try:
            return result.exit_code, json.loads(result.stdout)
        except json.JSONDecodeError:
            raise AssertionError(result.output) from None

    def engine(self) -> Engine:
        return open_database(self.db)

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = self.engine()
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(query), params)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def files_of(self, mtype: str) -> list[tuple[int, int, Path]]:
        rows = self.sql(
            "SELECT a.message_id, a.id, a.path FROM attachment a JOIN message m ON m.id ="
            " a.message_id WHERE a.path IS NOT NULL AND m.type = :t ORDER BY a.message_id",
            t=mtype,
        )
        return [(int(m), int(a), self.files / p) for m, a, p in rows]

    def list_pages(self) -> int:
        return int(self.emu.counters.by_operation.get("listMessages", 0))

    def reset_counters(self) -> None:
        self.emu.counters.reset()


def pages_for(n: int) -> int:
    return math.ceil(n / 1000)
