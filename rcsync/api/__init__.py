"""RingCentral API client: auth (httpx.Auth), rate-limit budget, retries, typed calls. No DB.

Typical use::

    client = build_client(cfg.ringcentral)          # logs in by itself when a JWT is set
    page = client.list_messages(date_from=..., date_to=..., message_types=["SMS"])

Modules: `tokens` (token file), `oauth` (token endpoint wire format), `auth` (httpx.Auth),
`ratelimit` (per-group budget), `retry` (backoff, write safety), `session` (the one request
path), `multipart` (207 parsing), `stream` (a large answer read as it arrives), `client`
(typed calls), `content` (attachment download),
`factory` (building it all from the config).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcsync.api.auth import Credentials, RingCentralAuth, login, logout
    from rcsync.api.client import MessageStoreClient
    from rcsync.api.factory import build_client, build_http_client, check_server
    from rcsync.api.ratelimit import Group, GroupStats, RateBudget
    from rcsync.api.results import ItemResult, MessagePage, SyncResult
    from rcsync.api.retry import RetryPolicy
    from rcsync.api.session import ApiSession, Operation
    from rcsync.api.tokens import TokenInfo, TokenStore

# Loaded on first use (PEP 562): `rcsync status` reads the token file through `tokens`
# and must not pay for httpx and the whole client to do so.
_HOMES = {
    "auth": ("Credentials", "RingCentralAuth", "login", "logout"),
    "client": ("MessageStoreClient",),
    "factory": ("build_client", "build_http_client", "check_server"),
    "results": ("ItemResult", "MessagePage", "SyncResult"),
    "ratelimit": ("Group", "GroupStats", "RateBudget"),
    "retry": ("RetryPolicy",),
    "session": ("ApiSession", "Operation"),
    "tokens": ("TokenInfo", "TokenStore"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ApiSession",
    "Credentials",
    "Group",
    "GroupStats",
    "ItemResult",
    "MessagePage",
    "MessageStoreClient",
    "Operation",
    "RateBudget",
    "RetryPolicy",
    "RingCentralAuth",
    "SyncResult",
    "TokenInfo",
    "TokenStore",
    "build_client",
    "build_http_client",
    "check_server",
    "login",
    "logout",
]
