"""TokenStore: atomic private writes, warnings, damaged files, the cross-process lock."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rcsync.api import TokenInfo, TokenStore


def _pair(access: str = "at-1") -> TokenInfo:
    return TokenInfo(
        access_token=access,
        refresh_token="rt-1",
        expires_at=1000.0,
        refresh_expires_at=2000.0,
        owner_id="101",
        scope="ReadMessages",
        server="https://platform.ringcentral.com",
        client_id="cid",
    )


def test_save_load_roundtrip_private_and_parents_created(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "a" / "b" / "tokens.json")
    store.save(_pair())
    assert store.load() == _pair()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    data = json.loads(store.path.read_text())
    assert set(data) == {
        "access_token",
        "refresh_token",
        "expires_at",
        "refresh_expires_at",
        "owner_id",
        "scope",
        "server",
        "client_id",
    }
    assert os.listdir(store.path.parent) == ["tokens.json"]  # no temp file left


def test_failed_replace_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.save(_pair("old"))

    def boom(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.save(_pair("new"))
    monkeypatch.undo()
    loaded = store.load()
    assert loaded is not None and loaded.access_token == "old"
    assert os.listdir(tmp_path) == ["tokens.json"]


def test_missing_file_is_none_and_clear_is_idempotent(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    assert store.load() is None
    store.clear()
    store.save(_pair())
    store.clear()
    assert store.load() is None


def test_warns_when_readable_by_others(tmp_path: Path) -> None:
    warnings: list[str] = []
    store = TokenStore(tmp_path / "tokens.json", on_warning=warnings.append)
    store.save(_pair())
    assert warnings == []
    store.path.chmod(0o644)
    assert store.load() is not None
    assert len(warnings) == 1 and "chmod 600" in warnings[0]


def test_damaged_file_is_treated_as_logged_out_with_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    store = TokenStore(tmp_path / "tokens.json", on_warning=warnings.append)
    store.path.write_text('{"access_token": "x"')
    store.path.chmod(0o600)
    assert store.load() is None
    assert "damaged" in warnings[0]


def test_repr_never_shows_tokens() -> None:
    text = repr(_pair("at-SECRET"))
    assert "at-SECRET" not in text and "rt-1" not in text


def test_lock_is_exclusive(tmp_path: Path) -> None:
    """A second holder (separate open file description, like another process) must wait."""
    store = TokenStore(tmp_path / "tokens.json")
    order: list[str] = []
    first_in = threading.Event()

    def second() -> None:
        first_in.wait()
        with store.locked():
            order.append("second")

    t = threading.Thread(target=second)
    t.start()
    with store.locked():
        first_in.set()
        time.sleep(0.2)
        order.append("first")
    t.join(5)
    assert order == ["first", "second"]
    assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600


def test_lock_works_across_processes(tmp_path: Path) -> None:
    import multiprocessing

    store = TokenStore(tmp_path / "tokens.json")
    ctx = multiprocessing.get_context("fork")
    with store.locked():
        proc = ctx.Process(target=_child_writes_under_lock, args=(str(store.path),))
        proc.start()
        time.sleep(0.3)
        assert store.load() is None  # the child is still waiting for the lock
    proc.join(10)
    loaded = store.load()
    assert loaded is not None and loaded.access_token == "child"


def _child_writes_under_lock(path: str) -> None:
    store = TokenStore(path)
    with store.locked():
        store.save(_pair("child"))
