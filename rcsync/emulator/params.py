"""Query-parameter parsing shared by the message operations (enums, dates, ints).

Bad values answer 400 ``CMN-101`` "Parameter [name] value is invalid." naming the parameter.
Integers and ids are ASCII digits only (Python's ``int()`` would also take ``+1``, ``1_000``,
spaces and non-ASCII digits) and must fit the spec's format (int32/int64).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from .data import AVAILABILITY_NAMES, DIRECTIONS, READ_NAMES, TYPE_NAMES
from .times import parse_iso
from .wire import ApiFailure, Request, invalid

FILTER_TYPES = ("SMS", "Pager", "VoiceMail", "Fax")  # MessageTypeEnum: no "Text" here
DAY_MS = 86_400_000
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"-?[0-9]+")


def digits(text: str) -> int | None:
    """An id: ASCII digits only, within int64; None for anything else."""
    if _DIGITS.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= INT64_MAX else None


def enum_codes(
    request: Request, name: str, allowed: tuple[str, ...], names: tuple[str, ...]
) -> frozenset[int] | None:
    values = request.all(name)
    if not values:
        return None
    if any(v not in allowed for v in values):
        raise ApiFailure(invalid(name))
    return frozenset(names.index(v) for v in values)


def kinds(request: Request, name: str = "messageType") -> frozenset[int] | None:
    return enum_codes(request, name, FILTER_TYPES, TYPE_NAMES)


def directions(request: Request) -> frozenset[int] | None:
    return enum_codes(request, "direction", DIRECTIONS, DIRECTIONS)


def reads(request: Request) -> frozenset[int] | None:
    return enum_codes(request, "readStatus", READ_NAMES, READ_NAMES)


def availabilities(request: Request) -> frozenset[int] | None:
    return enum_codes(request, "availability", AVAILABILITY_NAMES, AVAILABILITY_NAMES)


def date(request: Request, name: str) -> int | None:
    value = request.one(name)
    if value is None or value == "":
        return None
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise ApiFailure(invalid(name)) from exc


def integer(
    request: Request,
    name: str,
    default: int | None = None,
    *,
    low: int = -INT32_MAX - 1,
    high: int = INT32_MAX,
) -> int | None:
    """An integer in [low, high] (int32 unless told), the default when absent or empty."""
    value = request.one(name)
    if value is None or value == "":
        return default
    if _INTEGER.fullmatch(value) is None or not low <= int(value) <= high:
        raise ApiFailure(invalid(name))
    return int(value)


def reject_empty(request: Request, names: tuple[str, ...]) -> None:
    """400 for ``name=`` (or an empty list item): on a destructive call empty is not absent."""
    for key, value in request.query:
        if key in names and (value == "" or "" in value.split(",")):
            raise ApiFailure(invalid(key))


def boolean(request: Request, name: str) -> bool:
    value = (request.one(name) or "false").lower()
    if value not in ("true", "false"):
        raise ApiFailure(invalid(name))
    return value == "true"


def date_range(request: Request, now_ms: int) -> tuple[int, int]:
    """(dateFrom, dateTo): dateTo defaults to now, dateFrom to dateTo − 24 h (the spec's rule).

    dateTo is exclusive, so the default is one millisecond past now: a message that arrived
    this very millisecond is listed.
    """
    date_to = date(request, "dateTo")
    date_to = now_ms + 1 if date_to is None else date_to
    date_from = date(request, "dateFrom")
    return (date_to - DAY_MS if date_from is None else date_from), date_to


def page_links(
    request: Request, list_uri: str, page: int, per_page: int, total: int, shown: int
) -> tuple[str, dict[str, Any]]:
    """RingCentral's ``paging`` and ``navigation`` for page `page` of a `total`-item list
    showing `shown` items: (this page's uri, ``{"paging", "navigation"}``). Every other
    query parameter is kept in the links, as RingCentral's are."""
    total_pages = max(1, -(-total // per_page))
    paging: dict[str, int] = {
        "page": page,
        "perPage": per_page,
        "totalPages": total_pages,
        "totalElements": total,
    }
    if shown:
        start = (page - 1) * per_page
        paging.update(pageStart=start, pageEnd=start + shown - 1)
    others = [(k, v) for k, v in request.query if k not in ("page", "perPage")]

    def uri(p: int) -> dict[str, str]:
        query = urlencode([*others, ("page", str(p)), ("perPage", str(per_page))], safe=":,")
        return {"uri": f"{list_uri}?{query}"}

    navigation = {"firstPage": uri(1)}
    if 1 < page <= total_pages + 1:
        navigation["previousPage"] = uri(page - 1)
    if page < total_pages:
        navigation["nextPage"] = uri(page + 1)
    navigation["lastPage"] = uri(total_pages)
    return uri(page)["uri"], {"paging": paging, "navigation": navigation}
