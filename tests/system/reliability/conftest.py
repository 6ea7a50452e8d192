"""Fixtures for reliability tests: a served emulator (real loopback HTTP) per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.system.reliability.rel_env import Served, served


@pytest.fixture
def make_served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    with ExitStack() as stack:
        count = 0

        def make(**kw: Any) -> Served:
            nonlocal count
            count += 1
            return stack.enter_context(served(tmp_path / f"user{count}", **kw))

        yield make


@pytest.fixture
def env(make_served: Callable[..., Served]) -> Served:
    return make_served()
