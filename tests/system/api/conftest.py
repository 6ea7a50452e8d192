"""The API client against the emulator: in-process (httpx transport) with a fake clock
shared by emulator and client, and over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rcsync.api import MessageStoreClient, TokenStore, build_client
from rcsync.config import RingCentralConfig
from tests.fixtures import EMULATOR_CREDENTIALS

emulator = pytest.importorskip("rcsync.emulator")

SERVER = "https://platform.ringcentral.com"
ALL_TYPES = ("SMS", "Fax", "VoiceMail", "Pager")
EPOCH = "2000-01-01T00:00:00.000Z"
FAR = "2100-01-01T00:00:00.000Z"


def emulator_config(tmp_path: Path, server: str = SERVER, **extra: Any) -> RingCentralConfig:
    return RingCentralConfig(
        server=server,
        **EMULATOR_CREDENTIALS,
        token_file=tmp_path / "state" / "tokens.json",
        **extra,
    )


class Env:
    """An emulator with a FakeClock, a client sharing that clock, and its control API."""

    def __init__(self, tmp_path: Path, messages: int = 300, rate_limits: bool = True) -> None:
        self.clock = emulator.FakeClock()
        self.emu = emulator.Emulator(
            messages=messages, seed=1, rate_limits=rate_limits, clock=self.clock
        )
        self.cfg = emulator_config(tmp_path)
        self.store = TokenStore(self.cfg.token_file)
        self.control = httpx.Client(transport=self.emu.transport(), base_url=SERVER)

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def client(self) -> MessageStoreClient:
        return build_client(
            self.cfg,
            transport=self.emu.transport(),
            clock=self.clock.now,
            sleep=self.sleep,
            store=self.store,
        )

    def remote(self) -> dict[int, dict[str, Any]]:
        records = self.control.get("/_emulator/messages").json()["records"]
        return {r["id"]: r for r in records}

    def requests(self) -> dict[str, Any]:
        data: dict[str, Any] = self.control.get("/_emulator/requests").json()
        return data

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.control.post(path, json=body if body is not None else {})


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., Env]:
    return lambda **kw: Env(tmp_path, **kw)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Any, RingCentralConfig]]:
    """The emulator served over real HTTP on loopback (real clock)."""
    emu = emulator.Emulator(messages=200, seed=2)
    with emulator.serve(emu, host="127.0.0.1", port=0) as server:
        yield emu, emulator_config(tmp_path, server=server.url)
