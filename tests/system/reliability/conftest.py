"""Here `env` is a `Served` emulator (shared fixtures: tests/harness/fixtures.py)."""

import pytest

from tests.harness.loopback import Served


@pytest.fixture
def env(served_env: Served) -> Served:
    return served_env
