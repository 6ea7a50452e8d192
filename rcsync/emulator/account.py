"""An account of user extensions, each with its own message store (issue 12).

As in RingCentral: extension numbers are ``101``, ``102``, … and ids are large and differ
from the numbers (extension 101 is ``409563008``, each next one ``+1000``, the peers the
generated Pager messages already name). Extension 101 is the account's super admin and
may read and edit every extension's store; the others are plain users who may reach only
their own (`Account.may_reach`). Every store belongs to one `StoreGroup`, so message ids
are unique across the account and change listeners hear every extension.

Extension 101's data is exactly what a single-extension emulator has (index 0 streams);
adding extensions never changes it. A deleted extension leaves the account with its
messages, as a deleted RingCentral user does; its id is not reused.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .clock import Clock
from .data import EXTENSION_ID_STEP, Profile, World, person_name
from .records import Renderer
from .store import Store, StoreEvent, StoreGroup
from .sync import SyncService, SyncSettings
from .times import format_ms

_ADMIN_NUMBER = "101"  # the account's super admin, the login of JWT emulator-jwt
_BEFORE_HISTORY_MS = 4 * 365 * 86_400_000  # the first extensions predate their 3-year history


class ExtensionStatus(StrEnum):
    """The spec's ``ExtensionStatusEnumFull``."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"
    FROZEN = "Frozen"
    NOT_ACTIVATED = "NotActivated"
    UNASSIGNED = "Unassigned"


class ExtensionType(StrEnum):
    """The spec's ``AllExtensionTypesEnum`` (``Department`` = a call queue)."""

    USER = "User"
    DEPARTMENT = "Department"
    ANNOUNCEMENT = "Announcement"
    VOICEMAIL = "Voicemail"
    DIGITAL_USER = "DigitalUser"
    VIRTUAL_USER = "VirtualUser"
    FAX_USER = "FaxUser"
    PAGING_ONLY = "PagingOnly"
    SHARED_LINES_GROUP = "SharedLinesGroup"
    DELEGATED_LINES_GROUP = "DelegatedLinesGroup"
    GROUP_CALL_PICKUP = "GroupCallPickup"
    IVR_MENU = "IvrMenu"
    APPLICATION_EXTENSION = "ApplicationExtension"
    PROXY_ADMIN = "ProxyAdmin"
    ROOM_CONNECTOR = "RoomConnector"
    PARK_LOCATION = "ParkLocation"
    LIMITED = "Limited"
    BOT = "Bot"
    SITE = "Site"
    ROOM = "Room"
    FLEXIBLE_USER = "FlexibleUser"
    TIE_LINE = "TieLine"
    UNKNOWN = "Unknown"


@dataclass
class Extension:
    """One extension of the account and its message store."""

    index: int
    profile: Profile
    store: Store
    sync: SyncService
    created_ms: int
    admin: bool = False
    type: ExtensionType = ExtensionType.USER
    status: ExtensionStatus = ExtensionStatus.ENABLED

    @property
    def id(self) -> int:
        return self.store.extension_id

    @property
    def number(self) -> str:
        return self.profile.extension_number

    def uri(self, base_url: str) -> str:
        return f"{base_url}/restapi/v1.0/account/{self.profile.account_id}/extension/{self.id}"

    def summary(self) -> dict[str, Any]:
        """The control API's record (``GET /_emulator/extensions``)."""
        return {
            "id": self.id,
            "extensionNumber": self.number,
            "name": self.profile.name,
            "type": self.type.value,
            "status": self.status.value,
        }

    def list_info(self, base_url: str) -> dict[str, Any]:
        """``GetExtensionListInfoResponse``: one record of ``listExtensions``."""
        p = self.profile
        return {
            "id": self.id,
            "uri": self.uri(base_url),
            "extensionNumber": p.extension_number,
            "name": p.name,
            "type": self.type.value,
            "status": self.status.value,
            "contact": {
                "firstName": p.first_name,
                "lastName": p.last_name,
                "email": p.email,
                "businessPhone": p.phone,
            },
            "permissions": {"admin": {"enabled": self.admin}},
            "hidden": False,
            "creationTime": format_ms(self.created_ms),
        }

    def info(self, base_url: str) -> dict[str, Any]:
        """``GetExtensionInfoResponse`` (``readExtension``): the list record plus the account."""
        account_id = self.profile.account_id
        return {
            **self.list_info(base_url),
            "account": {"id": account_id, "uri": f"{base_url}/restapi/v1.0/account/{account_id}"},
        }


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


class Account:
    """The account's extensions in creation order; the first is the super admin (101)."""

    def __init__(
        self,
        seed: int,
        clock: Clock,
        base_url: str,
        messages: int,
        extensions: int = 1,
        settings: SyncSettings | None = None,
    ) -> None:
        if extensions < 1:
            raise ValueError("an account has at least one extension")
        self.seed = seed
        self.clock = clock
        self.base_url = base_url
        self.messages = messages
        self.group = StoreGroup()
        self.settings = settings or SyncSettings()
        self._live: dict[int, Extension] = {}
        self.removed: dict[int, Extension] = {}
        self._created = 0
        self._directory: dict[int, str] = {}
        self._initial = True
        first = self._build(0, messages, ExtensionType.USER, ExtensionStatus.ENABLED)
        # The other extensions carry the names extension 101's Pager peers already have.
        self._directory = {0: first.profile.name}
        self._directory.update(
            {j: contact.name for j, contact in enumerate(first.store.world.internal, start=1)}
        )
        self.admin = first
        for _ in range(extensions - 1):
            self._build(self._created, messages, ExtensionType.USER, ExtensionStatus.ENABLED)
        self._initial = False

    # -- lookups ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Extension]:
        return iter(list(self._live.values()))

    def __len__(self) -> int:
        return len(self._live)

    def get(self, extension_id: int) -> Extension | None:
        """A live extension by id (None for an unknown or deleted one)."""
        return self._live.get(extension_id)

    def by_number(self, number: str) -> Extension | None:
        return next((e for e in self._live.values() if e.number == number), None)

    def owner_of(self, message_id: int) -> Extension | None:
        """The live extension whose store holds this message."""
        live = self._live.values()
        return next((e for e in live if e.store.slot_of(message_id) is not None), None)

    def may_reach(self, login: Extension, target: Extension) -> bool:
        """Whether `login` may read and edit `target`'s message store (admins: any)."""
        return login.admin or login.id == target.id

    def total_messages(self) -> int:
        return sum(len(e.store) for e in self._live.values())

    # -- changes ----------------------------------------------------------------------------

    def add(
        self,
        count: int = 1,
        messages: int | None = None,
        type: ExtensionType = ExtensionType.USER,
        status: ExtensionStatus = ExtensionStatus.ENABLED,
    ) -> list[Extension]:
        """`count` new extensions, each with `messages` of history (default: the account's)."""
        per = self.messages if messages is None else messages
        if count < 0 or per < 0:
            raise ValueError("count and messages must not be negative")
        with self.group.lock:
            return [self._build(self._created, per, type, status) for _ in range(count)]

    def remove(self, extension_id: int) -> Extension:
        """Delete an extension and its messages (KeyError if unknown; ValueError: the admin)."""
        with self.group.lock:
            ext = self._live[extension_id]
            if ext.admin:
                raise ValueError(f"extension {ext.number} is the account's super admin")
            del self._live[extension_id]
            self.group.stores.remove(ext.store)
            self.removed[extension_id] = ext
            self.group.emit(extension_id, StoreEvent.EXTENSION_REMOVED, [])
            return ext

    def set_base_url(self, base_url: str) -> None:
        self.base_url = base_url
        for ext in [*self._live.values(), *self.removed.values()]:
            ext.store.set_base_url(base_url)

    def _build(
        self, index: int, messages: int, type: ExtensionType, status: ExtensionStatus
    ) -> Extension:
        profile = self._profile(index)
        phrases = self.admin.store.world if index else None
        world = World(self.seed, profile, index=index, directory=self._directory, phrases=phrases)
        store = Store(world, self.clock, Renderer(world, self.base_url), messages, self.group)
        now = int(self.clock.now() * 1000)
        ext = Extension(
            index=index,
            profile=profile,
            store=store,
            sync=SyncService(store, self.settings),
            created_ms=now - _BEFORE_HISTORY_MS if self._initial else now,
            admin=profile.extension_number == _ADMIN_NUMBER,
            type=type,
            status=status,
        )
        self._created = index + 1
        self._live[ext.id] = ext
        if index:
            self.group.emit(ext.id, StoreEvent.EXTENSION_ADDED, [])
        return ext

    def _profile(self, index: int) -> Profile:
        base = Profile()
        if index == 0:
            return base
        name = self._directory.get(index) or _directory_name(self.seed, index)
        first, _, last = name.partition(" ")
        return replace(
            base,
            extension_id=str(int(base.extension_id) + EXTENSION_ID_STEP * index),
            extension_number=str(101 + index),
            name=name,
            first_name=first,
            last_name=last,
            email=f"{_ascii(first)}.{_ascii(last)}.{101 + index}@example.com",
            phone=f"+1650555{(100 + index) % 10000:04d}",
        )


def _directory_name(seed: int, index: int) -> str:
    """A stable name for an extension beyond the 40 that extension 101's peers name."""
    return person_name(random.Random(f"directory-{seed}-{index}"))
