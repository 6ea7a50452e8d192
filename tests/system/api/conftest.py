"""Here `env` is an `ApiEnv` (shared fixtures: tests/harness/fixtures.py)."""

from collections.abc import Callable

import pytest

from tests.harness.inprocess import ApiEnv


@pytest.fixture
def make_env(make_api_env: Callable[..., ApiEnv]) -> Callable[..., ApiEnv]:
    return make_api_env


@pytest.fixture
def env(api_env: ApiEnv) -> ApiEnv:
    return api_env
