"""Fixtures of the pull tests: an in-process emulator, a config and a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store.database import open_database
from tests.engine.pull.pull_harness import fast_emulator, make_config


@pytest.fixture
def emu() -> Emulator:
    return fast_emulator(300, 7)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def db(config: Config) -> Iterator[Engine]:
    eng = open_database(config.database.path)
    yield eng
    eng.dispose()
