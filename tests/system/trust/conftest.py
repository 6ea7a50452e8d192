"""Fixtures of the trust tests (verify, prune, hooks): a pulled archive over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rcsync.emulator import serve
from tests.harness.inprocess import fast_emulator
from tests.system.trust.trust_env import TrustEnv


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TrustEnv]:
    emu = fast_emulator(300, 15)
    with serve(emu, host="127.0.0.1", port=0) as server:
        env = TrustEnv(emu, server.url, tmp_path)
        env.write_config()
        yield env


@pytest.fixture
def pulled(env: TrustEnv) -> TrustEnv:
    result = env.run("pull")
    assert result.exit_code == 0, result.output
    env.reset_counters()
    return env
