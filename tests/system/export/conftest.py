"""An archive to export: a pull of the emulator with attachments downloaded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rcsync.config import Config
from rcsync.store.database import open_database
from rcsync.sync.pull import pull
from tests.engine.pull.pull_harness import fast_emulator, make_client, make_config


@dataclass(frozen=True)
class Archive:
    config: Config
    db_path: Path
    files: Path


@pytest.fixture(scope="session")
def _pulled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    config = make_config(root, download_attachments=True)
    emu = fast_emulator(150, 3)
    engine = open_database(config.database.path)
    pull(engine, make_client(config, emu.transport()), config)
    engine.dispose()
    return root


@pytest.fixture
def archive(_pulled: Path, tmp_path: Path) -> Archive:
    """A private copy of the pulled archive (tests may edit it)."""
    root = tmp_path / "archive"
    shutil.copytree(_pulled, root)
    config = make_config(root, download_attachments=True)
    return Archive(config, config.database.path, config.database.files_dir)


@pytest.fixture
def archive_engine(archive: Archive) -> Iterator[Engine]:
    engine = open_database(archive.db_path)
    yield engine
    engine.dispose()
