"""Fixtures of the account-pull tests: an in-process emulator with several extensions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.emulator import Emulator
from rcsync.store.database import open_database
from tests.engine.account.account_harness import account_config, account_emulator


@pytest.fixture
def emu() -> Emulator:
    return account_emulator(3, 120)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return account_config(tmp_path)


@pytest.fixture
def db(config: Config) -> Iterator[Engine]:
    eng = open_database(config.database.path)
    yield eng
    eng.dispose()
