"""The client over real HTTP on loopback against the served emulator (real clock)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from rcsync.api import build_client, login, logout
from rcsync.api.tokens import TokenStore
from rcsync.errors import AmbiguousWriteError

pytest.importorskip("rcsync.emulator")

ALL_TYPES = ("SMS", "Fax", "VoiceMail", "Pager")


def test_end_to_end_over_http(live: Any) -> None:
    _emu, cfg = live
    client = build_client(cfg)
    page = client.list_messages(
        date_from="2000-01-01T00:00:00Z",
        date_to="2100-01-01T00:00:00Z",
        message_types=ALL_TYPES,
        per_page=1000,
    )
    assert page.records and not page.has_next
    alive = [r for r in page.records if r["availability"] == "Alive"]
    ids = [r["id"] for r in alive[:60]]
    assert all(r.ok for r in client.set_read_status(dict.fromkeys(ids, "Read")).values())
    assert all(r.ok for r in client.get_messages(ids).values())
    att = next(a for r in alive for a in r.get("attachments", []) if a.get("size", 0) > 100)
    assert httpx.URL(att["uri"]).host == "127.0.0.1"
    dest = io.BytesIO()
    assert client.download_content(att["uri"], dest) == att["size"]
    full = client.full_sync(date_from="2000-01-01T00:00:00Z", message_types=ALL_TYPES)
    assert client.incremental_sync(full.sync_token).sync_token


def test_shortened_rate_window_never_hits_429(live: Any) -> None:
    emu, cfg = live
    emu.configure(
        rate_limits={"enabled": True, "window": 2, "penalty": 2, "limits": {"Light": 5, "Auth": 5}}
    )
    client = build_client(cfg)
    client.budget._margin = 0.2
    for _ in range(15):
        client.read_extension()
    counts = emu.counters.snapshot()
    assert counts["status"].get("429", 0) == 0
    assert client.budget.waited > 0


def test_dropped_connection_on_trash_is_ambiguous(live: Any) -> None:
    emu, cfg = live
    client = build_client(cfg)
    client.read_extension()
    target = next(
        r["id"]
        for r in client.list_messages(
            date_from="2000-01-01T00:00:00Z",
            date_to="2100-01-01T00:00:00Z",
            message_types=ALL_TYPES,
            availability=["Alive"],
        ).records
    )
    emu.configure(faults={"reset_rate": 1.0})
    # A 204 has no body to cut in half, so ask for a 207 (one id does not exist).
    with pytest.raises(AmbiguousWriteError):
        client.delete_messages([target, 1], purge=False)
    emu.configure(faults={"reset_rate": 0.0})
    assert emu.counters.snapshot()["by_operation"]["deleteMessage"] == 1


def test_login_logout_over_http(live: Any) -> None:
    _emu, cfg = live
    store = TokenStore(cfg.token_file)
    with httpx.Client(base_url=cfg.server) as http:
        tokens = login(http, cfg, store)
        assert store.load() == tokens
        assert logout(http, cfg, store) is True
    assert store.load() is None
