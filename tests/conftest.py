"""Fixtures shared by every test: isolated user dirs, a migrated temporary database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from rcsync.store.database import open_database


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test may read or write the real user's config, data or tokens."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for var in (
        "RCSYNC_CONFIG",
        "RCSYNC_CLIENT_ID",
        "RCSYNC_CLIENT_SECRET",
        "RCSYNC_JWT",
        "RCSYNC_SERVER",
        "RCSYNC_DB",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a freshly migrated database."""
    path = tmp_path / "messages.db"
    open_database(path).dispose()
    return path


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    eng = open_database(db_path)
    yield eng
    eng.dispose()
