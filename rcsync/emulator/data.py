"""Seeded, deterministic message history.

`generate` lays out years of an extension's messages as flat columns (see `Columns`): SMS
conversations with stable participants and conversation ids above 2^53, voicemails (most with
a completed transcription), faxes, internal pager messages; both directions; mostly read;
a few already Deleted or Purged; creation times on whole seconds, with bursts of messages
sharing one second. Everything else about a generated message (its text, the
voicemail length, fax pages, attachment ids) is derived from its id by `facts`, so nothing
per message is stored beyond a few machine integers: a million messages take tens of MB.

The same (count, seed, end time) always yields the same data. In an account of several
extensions (see `account`) each extension's `World` has an ``index`` (0 = extension 101):
index 0 draws exactly the streams a single-extension emulator always drew; others draw
their own (``stream`` suffixes every random stream's name), and their generated ids start
above the ids of the extensions made before them, so ids stay unique across the account.
"""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass, field
from typing import NamedTuple

SMS, PAGER, VOICEMAIL, FAX, TEXT = 0, 1, 2, 3, 4
TYPE_NAMES = ("SMS", "Pager", "VoiceMail", "Fax", "Text")
DIRECTIONS = ("Inbound", "Outbound")
READ_NAMES = ("Unread", "Read")
ALIVE, DELETED, PURGED, GONE = 0, 1, 2, 3
AVAILABILITY_NAMES = ("Alive", "Deleted", "Purged")
CUSTOM_CONTACT = 0xFFFF
HISTORY_MS = 3 * 365 * 86_400_000
FIRST_ID = 1_400_000_000_000
BURST_ODDS = 0.15  # a generated message shares the previous one's creation second

_FIRST = [
    "Alice",
    "Bob",
    "Carmen",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kofi",
    "Lena",
    "Marta",
    "Nikos",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Chloé",
    "Jürgen",
    "Søren",
    "Ana",
]
_LAST = [
    "Adams",
    "Brown",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Patel",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Wong",
    "Xu",
    "Young",
    "Zimmermann",
]
_AREAS = (
    ("650", "San Mateo, CA"),
    ("415", "San Francisco, CA"),
    ("212", "New York, NY"),
    ("312", "Chicago, IL"),
    ("206", "Seattle, WA"),
    ("512", "Austin, TX"),
    ("617", "Boston, MA"),
    ("303", "Denver, CO"),
)
_OPENERS = (
    "Hi",
    "Hey",
    "Hello",
    "Good morning",
    "Quick question",
    "FYI",
    "Heads up",
    "Thanks",
    "Hola",
    "Reminder",
)
_BODIES = (
    "are we still on for {t}?",
    "the invoice #{n} is ready for review.",
    "can you call me back when you get a chance?",
    "running {n} minutes late, sorry!",
    "the package arrived today 📦",
    "please confirm the appointment on {d}.",
    "meeting moved to {t}, room {n}.",
    "got it, thanks!",
    "see you at the café at {t} ☕",
    "your verification code is {n}.",
    "did you get the fax I sent?",
    "let's touch base on {d}.",
    "the contract needs one more signature.",
    "happy birthday! 🎉",
    "can we reschedule to {d}?",
)
_TRANSCRIPTS = (
    "Hi, this is {name}. Please call me back at your earliest convenience. Thanks.",
    "Hello, it's {name} from the clinic, confirming your appointment on {d}.",
    "Hey, {name} here. I'm running late, be there in about {n} minutes.",
    "This is {name}. Just checking in about the proposal. Talk soon.",
    "Good afternoon, {name} calling about invoice {n}. Please give us a call.",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str  # E.164, or "" for internal extensions
    location: str
    extension_number: str = ""
    extension_id: str = ""
    conversation_id: int = 0  # > 2**53, stable per participant


@dataclass(frozen=True)
class Profile:
    """The signed-in account/extension that owns the message store."""

    account_id: str = "409562008"
    extension_id: str = "409563008"
    extension_number: str = "101"
    name: str = "Emulator User"
    first_name: str = "Emulator"
    last_name: str = "User"
    email: str = "emulator.user@example.com"
    phone: str = "+16505550100"
    location: str = "San Mateo, CA"


@dataclass
class Columns:
    """One entry per message slot, in creation order for generated data."""

    ids: array[int] = field(default_factory=lambda: array("q"))
    ctime: array[int] = field(default_factory=lambda: array("q"))
    lmt: array[int] = field(default_factory=lambda: array("q"))
    kind: array[int] = field(default_factory=lambda: array("b"))
    direction: array[int] = field(default_factory=lambda: array("b"))
    read: array[int] = field(default_factory=lambda: array("b"))
    avail: array[int] = field(default_factory=lambda: array("b"))
    contact: array[int] = field(default_factory=lambda: array("H"))


class Facts(NamedTuple):
    """What a generated message says, derived from its id (see `facts`)."""

    text: str
    text_index: int
    mms: bool
    vm_seconds: int
    transcribed: bool
    fax_pages: int
    fax_high: bool
    priority_high: bool
    variant: int


INTERNAL_CONTACTS = 40
EXTENSION_ID_STEP = 1000  # extension k's id is extension 101's id + k * this


class World:
    """The cast (contacts) and the phrase banks, fixed by the seed and the extension index.

    ``directory`` names the account's extensions by index, so that the internal contacts
    (Pager peers) of one extension carry the names the account's other extensions have.
    ``phrases`` lends another world's phrase banks (texts, transcripts): building them is
    half of a world's cost, and one company's messages may well share them.
    """

    def __init__(
        self,
        seed: int,
        profile: Profile | None = None,
        *,
        index: int = 0,
        directory: dict[int, str] | None = None,
        phrases: World | None = None,
    ) -> None:
        self.seed = seed
        self.profile = profile or Profile()
        self.index = index
        self.stream = "" if index == 0 else f"-ext{index}"
        self._directory = directory or {}
        rng = random.Random(f"world-{seed}{self.stream}")
        self.external = self._external(rng)
        self.internal = self._internal(rng)
        self.contacts: list[Contact] = self.external + self.internal
        self.texts: list[str]
        self.transcripts: list[str]
        if phrases is not None:
            self.texts, self.transcripts = phrases.texts, phrases.transcripts
        else:
            self.texts = [self._sms_text(rng) for _ in range(512)]
            self.transcripts = [self._transcript(rng) for _ in range(256)]

    def _external(self, rng: random.Random) -> list[Contact]:
        people = []
        for i in range(400):
            area, city = _AREAS[i % len(_AREAS)]
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            phone = f"+1{area}555{(100 + i) % 10000:04d}"
            people.append(Contact(name, phone, city, conversation_id=_conv_id(rng)))
        return people

    def _internal(self, rng: random.Random) -> list[Contact]:
        # The account's other extensions by index j (number 101 + j); for index 0 that is
        # j = 1..40, the cast a single-extension emulator always had.
        first_id = int(self.profile.extension_id) - EXTENSION_ID_STEP * self.index
        peers = [j for j in range(INTERNAL_CONTACTS + 1) if j != self.index]
        contacts = []
        for j in peers[:INTERNAL_CONTACTS]:
            drawn = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"  # drawn always: stable streams
            contacts.append(
                Contact(
                    self._directory.get(j, drawn),
                    "",
                    "",
                    extension_number=str(101 + j),
                    extension_id=str(first_id + EXTENSION_ID_STEP * j),
                    conversation_id=_conv_id(rng),
                )
            )
        return contacts

    @staticmethod
    def _fill(rng: random.Random, template: str, name: str = "") -> str:
        return template.format(
            t=f"{rng.randint(8, 18)}:{rng.choice(('00', '15', '30', '45'))}",
            n=rng.randint(2, 99999),
            d=rng.choice(_DAYS),
            name=name,
        )

    def _sms_text(self, rng: random.Random) -> str:
        return f"{rng.choice(_OPENERS)}, {self._fill(rng, rng.choice(_BODIES))}"

    def _transcript(self, rng: random.Random) -> str:
        return self._fill(rng, rng.choice(_TRANSCRIPTS), rng.choice(_FIRST))

    def facts(self, message_id: int) -> Facts:
        """Everything about a generated message that is not in the columns."""
        h = ((message_id ^ (self.seed * 0x9E3779B97F4A7C15)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        h ^= h >> 31
        index = h % 512
        return Facts(
            self.texts[index],
            index,
            (h >> 9) % 20 == 0,
            3 + (h >> 14) % 40,
            (h >> 20) % 10 < 8,
            1 + (h >> 24) % 5,
            (h >> 28) % 2 == 0,
            (h >> 30) % 50 == 0,
            (h >> 36) % 256,
        )


def person_name(rng: random.Random) -> str:
    """A "First Last" name from the cast's name banks."""
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _conv_id(rng: random.Random) -> int:
    # RingCentral conversation ids exceed 2**53 (JavaScript's exact-integer limit).
    return (1 << 62) | rng.getrandbits(62)


def generate(world: World, count: int, end_ms: int, first_id: int = FIRST_ID) -> Columns:
    """`count` messages spread over three years before `end_ms`, oldest first, ids ascending
    and above `first_id`."""
    rng = random.Random(f"history-{world.seed}-{count}{world.stream}")
    start = end_ms - HISTORY_MS
    times = sorted(start + int(rng.random() * HISTORY_MS) for _ in range(count))
    # Real stores stamp whole seconds (…:28.000Z) and many messages share one (an MMS in
    # parts, a group text, a fax and its cover), so creationTime is no unique key: each
    # message shares the previous one's second with odds BURST_ODDS. Its own stream, so ids,
    # kinds and states stay what they were for a given seed; inline here, as this loop is
    # the generator's hot path.
    burst = random.Random(f"bursts-{world.seed}-{count}{world.stream}").random
    previous = -1
    cols = Columns()
    n_external, n_internal = len(world.external), len(world.internal)
    next_id = first_id
    recent = end_ms - 14 * 86_400_000
    rand = rng.random
    for created in times:
        created = previous if previous >= 0 and burst() < BURST_ODDS else created - created % 1000
        previous = created
        next_id += 1 + int(rand() * 4000)
        roll = rand()
        if roll < 0.70:
            kind, contact = SMS, int(n_external * rand() ** 2)
            outbound = rand() < 0.5
        elif roll < 0.80:
            kind, contact = PAGER, n_external + int(n_internal * rand())
            outbound = rand() < 0.5
        elif roll < 0.92:
            kind, contact, outbound = VOICEMAIL, int(n_external * rand()), False
        else:
            kind, contact = FAX, int(n_external * rand())
            outbound = rand() < 0.3
        unread_odds = 0.4 if created > recent else 0.03
        read = 1 if outbound or rand() >= unread_odds else 0
        roll = rand()
        avail = DELETED if roll < 0.03 else PURGED if roll < 0.04 else ALIVE
        touched = created
        if read and not outbound:
            touched += int(rand() * 3 * 86_400_000)
        if avail != ALIVE:
            touched += int(rand() * 30 * 86_400_000)
        _append(
            cols, next_id, created, min(touched, end_ms), kind, int(outbound), read, avail, contact
        )
    return cols


def _append(
    cols: Columns,
    message_id: int,
    created: int,
    modified: int,
    kind: int,
    direction: int,
    read: int,
    avail: int,
    contact: int,
) -> None:
    cols.ids.append(message_id)
    cols.ctime.append(created)
    cols.lmt.append(modified)
    cols.kind.append(kind)
    cols.direction.append(direction)
    cols.read.append(read)
    cols.avail.append(avail)
    cols.contact.append(contact)


def arrival(world: World, rng: random.Random) -> tuple[int, int, int]:
    """(kind, direction, contact) of a newly arriving message: inbound, mostly SMS."""
    n_external, n_internal = len(world.external), len(world.internal)
    roll = rng.random()
    if roll < 0.7:
        return SMS, 0, int(n_external * rng.random() ** 2)
    if roll < 0.8:
        return PAGER, 0, n_external + rng.randrange(n_internal)
    if roll < 0.93:
        return VOICEMAIL, 0, rng.randrange(n_external)
    return FAX, 0, rng.randrange(n_external)
