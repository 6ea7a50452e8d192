"""The round-robin rule (`rcsync.rules.interleave`) and the extension selection
(`rcsync.rules.extensions`), both pure."""

from __future__ import annotations

import datetime as dt

import pytest

from rcsync.rules.extensions import (
    REREAD_AFTER,
    ExtensionInfo,
    LoginCache,
    cached_selection,
    mirrored,
    select,
)
from rcsync.rules.interleave import next_turn
from rcsync.types import ExtensionScope

ORDER = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("last", "waiting", "expected"),
    [
        (None, {"a", "b", "c", "d"}, "a"),
        ("a", {"a", "b", "c", "d"}, "b"),
        ("d", {"a", "b", "c", "d"}, "a"),  # wraps round
        ("a", {"a", "c"}, "c"),  # b is busy writing: skipped, nobody waits for it
        ("c", {"a", "c"}, "a"),  # ... and c does not go twice while a waits
        ("b", {"b"}, "b"),  # alone: it goes again
        ("gone", {"c"}, "c"),  # the last one left: counting starts over
        ("a", set(), None),
        ("a", {"z"}, None),  # not registered: never chosen
    ],
)
def test_next_turn(last: str | None, waiting: set[str], expected: str | None) -> None:
    assert next_turn(ORDER, last, waiting) == expected


def test_everyone_waiting_is_served_in_turn_and_none_starves() -> None:
    served: list[str] = []
    last = None
    for _ in range(8):
        last = next_turn(ORDER, last, set(ORDER))
        assert last is not None
        served.append(last)
    assert served == ORDER * 2


ADMIN = ExtensionInfo("1001", "101", "Admin", "User", "Enabled", admin=True)
USER = ExtensionInfo("2001", "102", "Plain", "User", "Enabled")
QUEUE = ExtensionInfo("3001", "103", "Queue", "Department", "Enabled")
OTHER = ExtensionInfo("4001", "104", "Other", "User", "Disabled")
LISTED = [ADMIN, USER, QUEUE, OTHER]


def test_self_is_the_login() -> None:
    assert select(ExtensionScope.SELF, USER, None).chosen == (USER,)


def test_all_for_an_admin_is_every_user_extension() -> None:
    picked = select(ExtensionScope.ALL, ADMIN, LISTED)
    assert picked.chosen == (ADMIN, USER, OTHER) and not picked.refused


def test_all_for_a_plain_user_is_their_own_with_a_note() -> None:
    picked = select(ExtensionScope.ALL, USER, LISTED)
    assert picked.chosen == (USER,)
    assert len(picked.notes) == 1 and "no administrator permission" in picked.notes[0]


def test_numbers_for_an_admin() -> None:
    picked = select(("104", "103", "999"), ADMIN, LISTED)
    assert picked.chosen == (OTHER,)
    assert picked.refused == (
        "extension 103: a Department extension has no user messages",
        "extension 999: not found in the account",
    )


def test_a_plain_user_naming_another_is_refused_with_the_permission() -> None:
    picked = select(("101",), USER, None)
    assert picked.chosen == ()
    assert picked.refused == (
        "extension 101: extension 102 (Plain) may not read it (ReadMessages permission required)",
    )
    assert select(("102",), USER, None).chosen == (USER,)


@pytest.mark.parametrize(
    ("wanted", "known", "expected"),
    [
        (ExtensionScope.ALL, LISTED, [ADMIN, USER, OTHER]),  # users only, not the queue
        (ExtensionScope.ALL, [USER], [USER]),  # a plain user's archive knows only its own
        (("104",), [ADMIN, OTHER], [OTHER]),  # the admin login is known, not named
        (("104", "999"), [ADMIN], []),
    ],
)
def test_mirrored_is_what_the_archive_knows_of_the_selection(
    wanted: ExtensionScope | tuple[str, ...],
    known: list[ExtensionInfo],
    expected: list[ExtensionInfo],
) -> None:
    assert mirrored(wanted, known) == expected


def test_from_record_reads_admin_permission() -> None:
    info = ExtensionInfo.from_record(
        {
            "id": 5,
            "extensionNumber": "101",
            "type": "User",
            "permissions": {"admin": {"enabled": True}},
        }
    )
    assert info.id == "5" and info.admin
    assert not ExtensionInfo.from_record({"id": 6}).admin


def test_as_json_round_trips() -> None:
    for info in (ADMIN, USER, QUEUE):
        assert ExtensionInfo.from_record(info.as_json()) == info


NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
JUST = NOW - dt.timedelta(minutes=5)
LIVE = [ADMIN, USER, OTHER]  # what the rows know (a listing of "all" recorded the users)
FOR_ALL = LoginCache(ADMIN, JUST, listed=True, every_user=True)
FOR_NUMBERS = LoginCache(ADMIN, JUST, listed=True)
PLAIN = LoginCache(USER, JUST)


@pytest.mark.parametrize(
    ("wanted", "cache", "owner", "full", "expected"),
    [
        # The cache serves: the idle round sends no readExtension, no listExtensions.
        (ExtensionScope.ALL, FOR_ALL, "1001", False, (ADMIN, USER, OTHER)),
        (("104",), FOR_NUMBERS, "1001", False, (OTHER,)),
        (("104",), FOR_ALL, "1001", False, (OTHER,)),
        (ExtensionScope.ALL, PLAIN, "2001", False, (USER,)),
        (("102",), PLAIN, "2001", False, (USER,)),
        # Read again: never read, --full, another login's token, no token yet.
        (ExtensionScope.ALL, None, "1001", False, None),
        (ExtensionScope.ALL, FOR_ALL, "1001", True, None),
        (ExtensionScope.ALL, FOR_ALL, "2001", False, None),
        (ExtensionScope.ALL, FOR_ALL, None, False, None),
        # ... "all" after a listing that recorded only named numbers, or none at all.
        (ExtensionScope.ALL, FOR_NUMBERS, "1001", False, None),
        (ExtensionScope.ALL, LoginCache(ADMIN, JUST), "1001", False, None),
        # ... a number the rows do not know (maybe a new user), a plain user's refusal.
        (("105",), FOR_ALL, "1001", False, None),
        (("101",), PLAIN, "2001", False, None),
        # ... after the hour.
        (
            ExtensionScope.ALL,
            LoginCache(ADMIN, NOW - REREAD_AFTER, True, True),
            "1001",
            False,
            None,
        ),
    ],
)
def test_cached_selection(
    wanted: ExtensionScope | tuple[str, ...],
    cache: LoginCache | None,
    owner: str | None,
    full: bool,
    expected: tuple[ExtensionInfo, ...] | None,
) -> None:
    picked = cached_selection(wanted, cache, LIVE, owner, full=full, now=NOW)
    assert (None if picked is None else picked.chosen) == expected


def test_cached_selection_keeps_the_plain_users_note() -> None:
    picked = cached_selection(ExtensionScope.ALL, PLAIN, LIVE, "2001", full=False, now=NOW)
    assert picked is not None and "no administrator permission" in picked.notes[0]
