"""Here `emu` is the fast emulator (the shared fixtures are in tests/harness/fixtures.py)."""

import pytest

from rcsync.emulator import Emulator


@pytest.fixture
def emu(fast_emu: Emulator) -> Emulator:
    return fast_emu
