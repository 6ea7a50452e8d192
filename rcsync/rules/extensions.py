"""Which extensions an account archive mirrors: RingCentral's extension list against
``[account] extensions``. PURE (the records come from `listExtensions`; no I/O here).

Only ``User`` extensions have a message store worth mirroring here (call queues, IVR menus
and the like are not people). A plain user may read only their own store (RingCentral
answers 403 ``CMN-408`` for anyone else's), so for a login without admin permission
``"all"`` means their own extension (with a note saying why), and naming another one is
refused before anything is written.

What one pull read (the login, and the list when one was needed) serves the next ones
(`cached_selection`): an idle round then costs one ISync per extension and nothing else.
It is read again on the first account pull, on ``--full``, when the token belongs to
another login, when a named number is not known (it may be new), when asked to
(``sync_state`` loses it: watch's extension-list event) and after `REREAD_AFTER`, so a
user added in RingCentral is mirrored within the hour under ``"all"``. A user deleted
meanwhile needs no list: the 404 on their own path marks them gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rcsync.types import ExtensionScope

USER_TYPE = "User"
# The user permission a message-store read needs (the spec's x-user-permission).
READ_PERMISSION = "ReadMessages"
#: How long a login and extension list read by one pull serve the following ones. An hour:
#: the watch daemon's safety-net pull is hourly too, and RingCentral's own Archiver copies
#: every 30 minutes; a new user waits at most that long (or `pull --extension NUMBER`).
REREAD_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ExtensionInfo:
    """What RingCentral says of one extension (a `listExtensions` / `readExtension` record)."""

    id: str
    number: str | None
    name: str | None
    type: str | None
    status: str | None
    admin: bool = False

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ExtensionInfo:
        perms = record.get("permissions")
        admin = perms.get("admin") if isinstance(perms, Mapping) else None
        return cls(
            id=str(record["id"]),
            number=_text(record.get("extensionNumber")),
            name=_text(record.get("name")),
            type=_text(record.get("type")),
            status=_text(record.get("status")),
            admin=isinstance(admin, Mapping) and admin.get("enabled") is True,
        )

    def label(self) -> str:
        """``extension 105 (Ann Lee)``: how messages name it."""
        number = self.number or self.id
        return f"extension {number} ({self.name})" if self.name else f"extension {number}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "extensionNumber": self.number,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "permissions": {"admin": {"enabled": self.admin}},
        }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Selection:
    """The extensions to mirror now, and what to tell the user about the others."""

    chosen: tuple[ExtensionInfo, ...]
    notes: tuple[str, ...] = ()
    # Numbers asked for that cannot be mirrored, with the reason (an error for a named one).
    refused: tuple[str, ...] = field(default=())


def select(
    wanted: ExtensionScope | Sequence[str],
    login: ExtensionInfo,
    listed: Sequence[ExtensionInfo] | None,
) -> Selection:
    """Resolve `wanted` against the login and the account's list (None: not listed).

    ``self``: the login. ``all``: every User extension listed (the login's only, for a
    plain user). Numbers: each must be listed; for a plain user each must be their own.
    """
    if wanted == ExtensionScope.SELF:
        return Selection((login,))
    if not login.admin:
        return _plain_user(wanted, login)
    users = [e for e in listed or () if e.type in (None, USER_TYPE)]
    if login.id not in {e.id for e in users} and login.type in (None, USER_TYPE):
        users.insert(0, login)
    if wanted == ExtensionScope.ALL:
        return Selection(tuple(users))
    by_number = {e.number: e for e in listed or ()}
    chosen: list[ExtensionInfo] = []
    refused: list[str] = []
    for number in wanted:
        found = by_number.get(number) or (login if login.number == number else None)
        if found is None:
            refused.append(f"extension {number}: not found in the account")
        elif found.type not in (None, USER_TYPE):
            refused.append(f"extension {number}: a {found.type} extension has no user messages")
        else:
            chosen.append(found)
    return Selection(tuple(dict.fromkeys(chosen)), refused=tuple(refused))


def mirrored(
    wanted: ExtensionScope | Sequence[str], known: Sequence[ExtensionInfo]
) -> list[ExtensionInfo]:
    """Which of the archive's `known` extensions (those RingCentral still has) ``wanted``
    mirrors, without asking RingCentral again: what `watch` subscribes to, and what a
    notification naming one of them may pull.

    The archive holds only extensions an earlier `select` chose, and the login: so ``all``
    is every User extension known (a plain user's archive knows only its own), numbers are
    those named (an admin login not named is known, but not mirrored).
    """
    users = [e for e in known if e.type in (None, USER_TYPE)]
    if wanted == ExtensionScope.ALL:
        return users
    return [e for e in users if e.number in wanted]


def _plain_user(wanted: ExtensionScope | Sequence[str], login: ExtensionInfo) -> Selection:
    who = login.label()
    if wanted == ExtensionScope.ALL:
        note = (
            f'[account] extensions = "all": {who} has no administrator permission,'
            " so only its own messages are mirrored"
        )
        return Selection((login,), notes=(note,))
    refused = tuple(
        f"extension {n}: {who} may not read it ({READ_PERMISSION} permission required)"
        for n in wanted
        if n != login.number
    )
    return Selection((login,) if login.number in wanted else (), refused=refused)


@dataclass(frozen=True)
class LoginCache:
    """What the last pull that asked RingCentral read: who logs in and, if it listed the
    account, whether that list was for ``"all"`` (every User extension then got a row)."""

    login: ExtensionInfo
    read_at: dt.datetime
    listed: bool = False
    every_user: bool = False


def cached_selection(
    wanted: ExtensionScope | Sequence[str],
    cache: LoginCache | None,
    live: Sequence[ExtensionInfo],
    owner: str | None,
    *,
    full: bool,
    now: dt.datetime,
) -> Selection | None:
    """The selection from `cache` and the `live` extensions (known, not gone), or None:
    read the login (and the list) again. `owner`: whose token this run uses."""
    if full or cache is None or owner is None or owner != cache.login.id:
        return None
    if now - cache.read_at >= REREAD_AFTER:
        return None
    login = cache.login
    if wanted == ExtensionScope.SELF or not login.admin:
        picked = select(wanted, login, None)  # no list is read for these
    elif not cache.listed or (wanted == ExtensionScope.ALL and not cache.every_user):
        return None  # the rows hold only the numbers named before: "all" must list
    else:
        picked = select(wanted, login, live)
    # A number the rows do not know may be a user added since: only a list can tell (and
    # a refusal is said by the read that proves it).
    return None if picked.refused else picked
