"""RingCentral API client: auth (httpx.Auth), rate-limit budget, retries, typed calls. No DB.

Typical use::

    client = build_client(cfg.ringcentral)          # logs in by itself when a JWT is set
    page = client.list_messages(date_from=..., date_to=..., message_types=["SMS"])

Modules: `tokens` (token file), `oauth` (token endpoint wire format), `auth` (httpx.Auth),
`ratelimit` (per-group budget), `retry` (backoff, write safety), `session` (the one request
path), `multipart` (207 parsing), `client` (typed calls), `content` (attachment download),
`factory` (building it all from the config).
"""

from rcsync.api.auth import Credentials, RingCentralAuth, login, logout
from rcsync.api.client import MessageStoreClient
from rcsync.api.factory import build_client, build_http_client, check_server
from rcsync.api.ratelimit import Group, GroupStats, RateBudget
from rcsync.api.results import ItemResult, MessagePage, SyncResult
from rcsync.api.retry import RetryPolicy
from rcsync.api.session import ApiSession, Operation
from rcsync.api.tokens import TokenInfo, TokenStore

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
