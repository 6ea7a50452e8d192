"""Building the HTTP client and the API client from the configuration.

The only place that knows how the pieces fit: one `RateBudget` shared by the auth flow (token
requests are rate-limited too) and the session, one `TokenStore`, one ``httpx.Client`` whose
base URL is the server. Plain ``http://`` is accepted only to loopback (the emulator) unless the
user explicitly asks for it, because the bearer token would travel unencrypted.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

import httpx

from rcsync import __version__
from rcsync.api.auth import Credentials, RingCentralAuth
from rcsync.api.client import MessageStoreClient
from rcsync.api.ratelimit import RateBudget
from rcsync.api.session import ApiSession
from rcsync.api.tokens import TokenStore
from rcsync.config import RingCentralConfig
from rcsync.errors import ConfigError
from rcsync.progress import WaitCallback, no_wait_report

USER_AGENT = f"rcsync/{__version__}"


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_server(server: str, *, insecure: bool = False) -> httpx.URL:
    """The server URL, if it is http(s) and (for plain http) loopback or explicitly allowed."""
    try:
        url = httpx.URL(server)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f'server {server!r}: expected an http(s) URL such as "https://platform.ringcentral.com"'
        )
    if url.scheme == "http" and not insecure and not is_loopback(url.host):
        raise ConfigError(
            f"server {server!r}: refusing plain http:// to {url.host} (tokens would travel "
            "unencrypted); use https:// or pass --insecure"
        )
    return url


def build_http_client(
    cfg: RingCentralConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    insecure: bool = False,
    auth: httpx.Auth | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` for `cfg.server`: timeouts, TLS per config, our User-Agent."""
    url = check_server(cfg.server, insecure=insecure or cfg.insecure)
    return httpx.Client(
        base_url=url,
        auth=auth,
        transport=transport,
        verify=cfg.verify_tls,
        timeout=httpx.Timeout(cfg.timeout, connect=min(cfg.timeout, 15.0)),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )


def build_client(
    cfg: RingCentralConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    store: TokenStore | None = None,
    insecure: bool = False,
    budget: RateBudget | None = None,
    on_wait: WaitCallback = no_wait_report,
) -> MessageStoreClient:
    """A ready `MessageStoreClient`: logs in by itself when a JWT is configured.

    `on_wait` hears of every rate-limit wait and retry backoff (the CLI's display).
    """
    budget = budget or RateBudget(clock=clock, sleep=sleep, on_wait=on_wait)
    store = store or TokenStore(cfg.token_file)
    auth = RingCentralAuth(
        Credentials.from_config(cfg),
        store,
        server=cfg.server,
        clock=clock,
        sleep=sleep,
        budget=budget,
    )
    http = build_http_client(cfg, transport=transport, insecure=insecure, auth=auth)
    return MessageStoreClient(ApiSession(http, budget=budget, sleep=sleep))
