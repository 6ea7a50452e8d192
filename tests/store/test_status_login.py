"""`rcsync status` describes the stored login as the API client would see it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rcsync.api.tokens import TokenInfo, TokenStore, login_state
from rcsync.config import Config, RingCentralConfig

NOW = 1_800_000_000.0


def config(tmp_path: Path, **rc: str) -> Config:
    ring = RingCentralConfig(
        server="https://platform.ringcentral.com",
        client_id="app",
        token_file=tmp_path / "tokens.json",
    )
    return Config(ringcentral=replace(ring, **rc))  # type: ignore[arg-type]


def store(
    cfg: Config,
    *,
    server: str = "https://platform.ringcentral.com",
    expires: float = NOW + 1800,
    refresh_expires: float = NOW + 86400,
) -> None:
    TokenStore(cfg.ringcentral.token_file).save(
        TokenInfo(
            access_token="a",
            refresh_token="r",
            expires_at=expires,
            refresh_expires_at=refresh_expires,
            server=server,
            client_id="app",
        )
    )


def test_not_logged_in_mentions_a_configured_jwt(tmp_path: Path) -> None:
    assert login_state(config(tmp_path), NOW) == "not logged in"
    assert "pull logs in by itself" in login_state(config(tmp_path, jwt="j"), NOW)


def test_valid_and_expired_tokens(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    store(cfg)
    assert login_state(cfg, NOW) == "logged in (access token valid for 30 min)"
    store(cfg, expires=NOW - 1)
    assert "refreshed on next use" in login_state(cfg, NOW)
    store(cfg, refresh_expires=NOW - 1)
    assert "run `rcsync login`" in login_state(cfg, NOW)


def test_tokens_of_another_server_do_not_count(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    store(cfg, server="http://127.0.0.1:8090")
    assert login_state(cfg, NOW).startswith("not logged in to this server")


def test_damaged_token_file(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    cfg.ringcentral.token_file.write_text("{not json")
    assert "unreadable" in login_state(cfg, NOW)
