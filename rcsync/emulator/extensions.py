"""Extension operations: listExtensions (``GET /restapi/v1.0/account/~/extension``) and
readExtension, as the spec describes them.

listExtensions (Medium group): every extension of the account in extension-number order,
deleted ones gone. Filters: ``status`` and ``type`` (repeatable or comma-joined; a value
outside the spec's enum is 400 ``CMN-101``; an empty ``status=`` means all, the spec's
``allowEmptyValue``), ``extensionNumber`` (exact), ``email`` (repeatable, case-insensitive).
``status=Unassigned`` matches extensions without a number, of which the emulator has none.
Paging: ``page`` ≥ 1 (default 1), ``perPage`` 1..1000 (default 100; outside → ``CMN-101``),
``paging`` as the spec's ``EnumeratedPagingModel`` (``pageStart``/``pageEnd`` only on a page
with records) and ``navigation`` with absolute URIs of the pages that exist.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from . import params
from .account import Account, Extension, ExtensionStatus, ExtensionType
from .wire import ApiFailure, Request, Response, invalid, json_response

MAX_PER_PAGE = 1000
_E = TypeVar("_E", bound=StrEnum)


def _members(request: Request, name: str, kind: type[_E]) -> set[_E] | None:
    values = request.all(name)
    if not values:
        return None
    try:
        return {kind(v) for v in values}
    except ValueError:
        raise ApiFailure(invalid(name)) from None


def _matching(request: Request, account: Account) -> list[Extension]:
    statuses = _members(request, "status", ExtensionStatus)
    types = _members(request, "type", ExtensionType)
    number = request.one("extensionNumber")
    emails = {e.lower() for e in request.all("email")} or None
    return [
        ext
        for ext in sorted(account, key=lambda e: int(e.number))
        if (statuses is None or ext.status in statuses)
        and (types is None or ext.type in types)
        and (number is None or ext.number == number)
        and (emails is None or ext.profile.email.lower() in emails)
    ]


def list_extensions(request: Request, account: Account) -> Response:
    page = params.integer(request, "page", 1, low=1)
    per_page = params.integer(request, "perPage", 100, low=1, high=MAX_PER_PAGE)
    assert page is not None and per_page is not None  # both have defaults
    found = _matching(request, account)
    total = len(found)
    start = (page - 1) * per_page
    chosen = found[start : start + per_page]
    base_url = account.base_url.rstrip("/")
    list_uri = f"{base_url}/restapi/v1.0/account/{account.admin.profile.account_id}/extension"
    self_uri, links = params.page_links(request, list_uri, page, per_page, total, len(chosen))
    body = {
        "uri": self_uri,
        "records": [ext.list_info(base_url) for ext in chosen],
        **links,
    }
    return json_response(200, body)


def read_extension(account: Account, target: Extension) -> Response:
    return json_response(200, target.info(account.base_url.rstrip("/")))
