"""When the watch's subscription changes (`rcsync.rules.subscription`), table-driven."""

from __future__ import annotations

import pytest

from rcsync.api.notifications import (
    EXTENSION_LIST_FILTER,
    filter_extension,
    message_store_filter,
)
from rcsync.rules.subscription import FilterChange, filter_change

A, B, C = (message_store_filter(e) for e in ("101", "102", "103"))
LIST = EXTENSION_LIST_FILTER


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ([A, B, LIST], [A, B, LIST], None),  # nothing changed: nothing is sent
        ([A, B, LIST], [LIST, B, A], None),  # order is no change
        ([A, A, LIST], [A, LIST], None),  # nor a repeat: the gateway keeps one
        ([A, LIST], [A, C, LIST], FilterChange((C,), ())),  # a user added
        ([A, B, LIST], [A, LIST], FilterChange((), (B,))),  # a user gone
        ([A, B, LIST], [A, C, LIST], FilterChange((C,), (B,))),  # both, in one update
        ([], [A, LIST], FilterChange((LIST, A), ())),  # sorted, whatever the order given
    ],
)
def test_filter_change(
    current: list[str], wanted: list[str], expected: FilterChange | None
) -> None:
    assert filter_change(current, wanted) == expected


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (FilterChange((A,), ()), "1 event filter added"),
        (FilterChange((), (A,)), "1 event filter removed"),
        (FilterChange((A, B), (C,)), "2 event filters added, 1 removed"),
        (FilterChange((), (A, B)), "2 event filters removed"),
    ],
)
def test_describe(change: FilterChange, text: str) -> None:
    assert change.describe() == text


@pytest.mark.parametrize(
    ("event_filter", "extension"),
    [
        (A, "101"),
        (message_store_filter(), "~"),
        (f"{B}?type=SMS", "102"),
        (LIST, None),  # the extension list watches no one extension
        ("/restapi/v1.0/account/~/extension/101/presence", None),
    ],
)
def test_filter_extension(event_filter: str, extension: str | None) -> None:
    assert filter_extension(event_filter) == extension
