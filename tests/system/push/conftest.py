"""Here `env` is a `PushEnv` (shared fixtures: tests/harness/fixtures.py)."""

from collections.abc import Callable

import pytest

from tests.harness.inprocess import PushEnv


@pytest.fixture
def make_env(make_push_env: Callable[..., PushEnv]) -> Callable[..., PushEnv]:
    return make_push_env


@pytest.fixture
def env(push_env: PushEnv) -> PushEnv:
    return push_env
