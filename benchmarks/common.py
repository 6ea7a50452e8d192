"""What the benchmark scripts share: the emulator's login, its rate limits switched off,
and a client on the emulator's simulated clock.

Run a benchmark as ``python benchmarks/NAME.py``; its folder is then on ``sys.path``, so
``from common import …`` finds this module.
"""

from __future__ import annotations

from pathlib import Path

from rcsync.api import MessageStoreClient, TokenStore, build_client
from rcsync.config import AccountConfig, Config, DatabaseConfig, RingCentralConfig, SyncConfig
from rcsync.emulator import Emulator, FakeClock
from rcsync.emulator.auth import CLIENT_ID, CLIENT_SECRET, JWT_ASSERTION
from rcsync.types import ExtensionScope

#: Keyword arguments of `RingCentralConfig` that log in to the emulator as its admin.
EMULATOR_LOGIN = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "jwt": JWT_ASSERTION}

#: The emulator's ``rate_limits`` per group, high enough never to throttle (figures taken
#: with them say so).
UNLIMITED = {"Light": 1_000_000, "Medium": 1_000_000, "Heavy": 1_000_000, "Auth": 1_000_000}

#: The server the in-process emulator answers for (its transport ignores the host).
SERVER = "https://platform.ringcentral.com"


def simulated_client(emu: Emulator, clock: FakeClock, rc: RingCentralConfig) -> MessageStoreClient:
    """A client of the in-process emulator whose rate-limit waits advance `clock` (so the
    limits cost simulated minutes, not real ones)."""
    return build_client(
        rc,
        transport=emu.transport(),
        clock=clock.now,
        sleep=clock.advance,
        store=TokenStore(rc.token_file),
    )


def account_config(tmp: Path) -> Config:
    """The admin's archive of every extension in `tmp`, attachments off."""
    return Config(
        ringcentral=RingCentralConfig(
            server=SERVER, **EMULATOR_LOGIN, token_file=tmp / "tokens.json"
        ),
        database=DatabaseConfig(path=tmp / "m.db", files=tmp / "files"),
        sync=SyncConfig(download_attachments=False),
        account=AccountConfig(extensions=ExtensionScope.ALL),
    )
