"""Which RingCentral operation a request is: method + path → (operationId, group, handler args).

Operation ids and throttling groups are the spec's (``operationId``, ``x-throttling-group``).
``{accountId}``/``{extensionId}`` accept ``~`` or real ids (which extension an id names, and
whether the login may reach it, is `app`'s business). Paths
arrive percent-decoded once (`wire.Request.build`), so ``%7E`` is ``~`` and ``%2C`` joins ids.
A known path with another method is 405 with the ``Allow`` header RFC 9110 §15.5.6 requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .wire import Response, api_error

_ACCT = r"/restapi/v1\.0/account/(?P<account>[^/]+)/extension/(?P<extension>[^/]+)"
# The message-store export (`reports`): account-level; the archive file is not in the spec,
# its operationId is the one older generated SDKs carry, Heavy like the other three.
_REPORT = r"/restapi/v1\.0/account/(?P<account>[^/]+)/message-store-report"
_TABLE: list[tuple[str, re.Pattern[str], str, str]] = [
    ("POST", re.compile(r"^/restapi/oauth/token$"), "getToken", "Auth"),
    ("POST", re.compile(r"^/restapi/oauth/revoke$"), "revokeToken", "Auth"),
    ("POST", re.compile(r"^/restapi/oauth/wstoken$"), "authWsToken", "Auth"),
    (
        "GET",
        re.compile(r"^/restapi/v1\.0/account/(?P<account>[^/]+)/extension/?$"),
        "listExtensions",
        "Medium",
    ),
    ("GET", re.compile(f"^{_ACCT}$"), "readExtension", "Light"),
    ("GET", re.compile(f"^{_ACCT}/message-store/?$"), "listMessages", "Light"),
    ("DELETE", re.compile(f"^{_ACCT}/message-store/?$"), "deleteMessageByFilter", "Medium"),
    ("GET", re.compile(f"^{_ACCT}/message-sync/?$"), "syncMessages", "Light"),
    (
        "GET",
        re.compile(f"^{_ACCT}/message-store/(?P<ids>[^/]+)/content/(?P<att>[^/]+)$"),
        "readMessageContent",
        "Medium",
    ),
    ("GET", re.compile(f"^{_ACCT}/message-store/(?P<ids>[^/]+)$"), "readMessage", "Light"),
    ("PUT", re.compile(f"^{_ACCT}/message-store/(?P<ids>[^/]+)$"), "updateMessage", "Medium"),
    ("PATCH", re.compile(f"^{_ACCT}/message-store/(?P<ids>[^/]+)$"), "patchMessage", "Medium"),
    ("DELETE", re.compile(f"^{_ACCT}/message-store/(?P<ids>[^/]+)$"), "deleteMessage", "Medium"),
    (
        "GET",
        re.compile(r"^/restapi/v1\.0/account/(?P<account>[^/]+)/message-store-configuration$"),
        "readMessageStoreConfiguration",
        "Light",
    ),
    (
        "PUT",
        re.compile(r"^/restapi/v1\.0/account/(?P<account>[^/]+)/message-store-configuration$"),
        "updateMessageStoreConfiguration",
        "Light",
    ),
    ("POST", re.compile(f"^{_REPORT}/?$"), "createMessageStoreReport", "Heavy"),
    ("GET", re.compile(f"^{_REPORT}/(?P<task>[^/]+)$"), "readMessageStoreReportTask", "Heavy"),
    (
        "GET",
        re.compile(f"^{_REPORT}/(?P<task>[^/]+)/archive/?$"),
        "readMessageStoreReportArchive",
        "Heavy",
    ),
    (
        "GET",
        re.compile(f"^{_REPORT}/(?P<task>[^/]+)/archive/(?P<archive>[^/]+)$"),
        "readMessageStoreReportArchiveContent",
        "Heavy",
    ),
]


@dataclass(frozen=True)
class Route:
    operation: str
    group: str
    params: dict[str, str]


def resolve(method: str, path: str) -> Route | bool | None:
    """The route; False when the path exists with another method (405); None when unknown."""
    path_known = False
    for verb, pattern, operation, group in _TABLE:
        match = pattern.match(path)
        if match is None:
            continue
        path_known = True
        if verb == method:
            return Route(
                operation, group, {k: v for k, v in match.groupdict().items() if v is not None}
            )
    return False if path_known else None


def allowed_methods(path: str) -> list[str]:
    """The methods the path answers, in table order (empty for an unknown path)."""
    methods: list[str] = []
    for verb, pattern, _operation, _group in _TABLE:
        if verb not in methods and pattern.match(path):
            methods.append(verb)
    return methods


def method_not_allowed(path: str) -> Response:
    response = api_error(405, "CMN-202", "Operation is not supported")
    response.headers.append(("Allow", ", ".join(allowed_methods(path))))
    return response
