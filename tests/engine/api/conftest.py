"""Here `clock` is the fake RingCentral's clock (shared fixtures: tests/harness/fixtures.py)."""

import pytest

from tests.harness.fake_rc import Clock


@pytest.fixture
def clock(fake_rc_clock: Clock) -> Clock:
    return fake_rc_clock
