"""Fixtures for push integration tests (helpers live in push_env.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from push_env import PushEnv


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Callable[..., PushEnv]]:
    made: list[PushEnv] = []

    def make(**kw: Any) -> PushEnv:
        env = PushEnv(tmp_path / f"env{len(made)}", **kw)
        made.append(env)
        return env

    (tmp_path / "env0").mkdir()
    for i in range(1, 5):
        (tmp_path / f"env{i}").mkdir()
    yield make
    for env in made:
        env.close()


@pytest.fixture
def env(make_env: Callable[..., PushEnv]) -> PushEnv:
    return make_env()
