"""Account archives (issue 12): an emulator of several extensions, configs that mirror
some of them (as the admin or the plain user), what each extension's mirror holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.config import AccountConfig, Config, ExtensionScope
from rcsync.emulator import Clock, Emulator
from rcsync.emulator.auth import USER_JWT_ASSERTION
from tests.harness.config import make_config
from tests.harness.inprocess import UNLIMITED


def account_emulator(extensions: int, messages: int, clock: Clock | None = None) -> Emulator:
    emu = Emulator(messages=messages, seed=5, extensions=extensions, clock=clock)
    emu.configure(
        rate_limits={"enabled": True, "limits": {g: n for g, (n, _w) in UNLIMITED.items()}}
    )
    return emu


def account_config(
    tmp_path: Path,
    extensions: ExtensionScope | tuple[str, ...] = ExtensionScope.ALL,
    *,
    user: bool = False,
    **sync: Any,
) -> Config:
    config = make_config(tmp_path, **sync)
    if user:  # the plain user's JWT (extension 102)
        rc = dataclasses.replace(config.ringcentral, jwt=USER_JWT_ASSERTION)
        config = dataclasses.replace(config, ringcentral=rc)
    return dataclasses.replace(config, account=AccountConfig(extensions=extensions))


def server_ids(emu: Emulator, extension_id: int) -> set[int]:
    """Ids of one extension's messages that a mirror holds (every one not Purged)."""
    ext = emu.account.get(extension_id) or emu.account.removed[extension_id]
    return {int(r["id"]) for r in ext.store.all_records() if r["availability"] != "Purged"}


def stored_ids(engine: Engine, extension_id: int) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id FROM message WHERE extension_id = :e"), {"e": str(extension_id)}
        )
        return {int(r[0]) for r in rows}


def extension_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM extension")).mappings()
        return {r["number"]: dict(r) for r in rows}
