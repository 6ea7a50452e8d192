"""PURE mapping of RingCentral message records to database rows. No clock, no I/O.

A record is the JSON dict the API returned (``GetMessageInfoResponse``), ids exact. Two
shapes reach the pull engine:

* a full record (listing, FSync, ISync for new/changed Alive messages): every column is
  mapped from it, and ``raw`` keeps the whole record; SMS and Pager text is the subject,
  where RingCentral replicates it (so the Text part need not be downloaded);
* a *stub* (ISync for deleted/purged messages): only ``id`` and ``availability``. A stub
  never replaces stored metadata; it patches availability (and the stored ``raw``).

Text is stored as received except for lone UTF-16 surrogates (an SMS cut inside an emoji
arrives as ``"\ud83d"``), which SQLite cannot store as UTF-8: columns get U+FFFD in their
place (`storable`), and ``raw`` keeps them as JSON escapes (`dumps`), so ``json.loads(raw)``
gives back exactly the record received.

Times stay RingCentral's ISO-8601 UTC text (``2024-05-13T10:22:01.000Z``), which sorts as
text; the keyset listing of the first pull moves its ``dateTo`` with `plus_one_ms`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from rcsync.types import Availability, iso_utc

Record = Mapping[str, Any]
Row = dict[str, Any]

# Columns a full record sets (besides the three-way fields, raw and synced_at).
META_COLUMNS = (
    "extension_id", "type", "direction", "subject", "message_status", "priority",
    "creation_time", "last_modified_time", "conversation_id", "from_phone_number",
    "from_name", "to_phone_numbers", "to_names", "fax_page_count", "vm_duration",
)  # fmt: skip
ATTACHMENT_COLUMNS = ("message_id", "id", "type", "content_type", "size", "uri", "file_name")
# What `message_row` maps, in the order of `message_values`.
ROW_COLUMNS = ("id", *META_COLUMNS, "read_status", "availability", "text", "raw")
# "For SMS and Pager messages [subject] replicates message text which is also returned as
# an attachment" (GetMessageInfoResponse.subject): their text needs no download.
TEXT_IN_SUBJECT = frozenset({"SMS", "Pager"})


# A lone surrogate: json.loads pairs valid ones into one character, so any left are lone.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# One encoder for every record: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(record: Record) -> str:
    """Compact JSON text for ``raw`` (Python's json keeps 64-bit ints exact).

    Lone surrogates can only sit inside JSON strings, where their ``\\uXXXX`` escape is
    valid JSON that loads back to the same character: lossless, and storable as UTF-8.
    """
    text = _ENCODER.encode(record)
    return text if text.isascii() else _SURROGATE.sub(_escape, text)


def storable(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (SQLite stores UTF-8 only)."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def is_stub(record: Record) -> bool:
    """ISync's deleted/purged form: id and availability, nothing to map the rest from."""
    return "creationTime" not in record or "type" not in record


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # JSON objects are dicts; the exact type test first spares the ABC check per field.
    return type(value) is dict or isinstance(value, Mapping)


def _party_number(party: Mapping[str, Any]) -> str | None:
    # Pager messages address extensions, which have no phone number.
    value = party.get("phoneNumber") or party.get("extensionNumber")
    return None if value is None else storable(str(value))


def _joined(values: list[Any]) -> str | None:
    present = [_text(v) or "" for v in values if v]
    return ",".join(present) if present else None


def _conversation_id(record: Record) -> str | None:
    conv = record.get("conversation")
    if _is_map(conv) and conv.get("id") is not None:
        return storable(str(conv["id"]))
    legacy = record.get("conversationId")
    return None if legacy is None else storable(str(legacy))


def _attachments(record: Record) -> list[Mapping[str, Any]]:
    atts = record.get("attachments")
    return [a for a in atts if _is_map(a)] if type(atts) is list else []


def _vm_duration(record: Record, attachments: list[Mapping[str, Any]]) -> int | None:
    for att in attachments:
        if att.get("vmDuration") is not None:
            return _optional_int(att["vmDuration"])
    return _optional_int(record.get("vmDuration"))


def _optional_int(value: Any) -> int | None:
    """An integer column: a value that is no integer stays only in ``raw``."""
    try:
        number = None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is None or -(2**63) <= number < 2**63 else None  # SQLite INTEGER


def _text(value: Any) -> str | None:
    """A text column: unknown strings are stored as-is, other JSON values as JSON text."""
    if type(value) is str:  # the common case first, without the ABC checks below
        return value if value.isascii() else storable(value)
    if value is None:
        return None
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, Mapping | list):
        return storable(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))
    return storable(str(value))


def _optional_str(value: Any) -> str | None:
    return None if value is None else storable(str(value))


def message_values(record: Record, *, raw: str | None = None) -> tuple[Any, ...]:
    """`message_row` as a tuple in `ROW_COLUMNS` order (the pull's hot path: no dict)."""
    sender: Mapping[str, Any] = record.get("from") or {}
    if not _is_map(sender):
        sender = {}
    to = record.get("to")
    recipients = [r for r in to if _is_map(r)] if type(to) is list else []
    kind = storable(str(record["type"]))
    subject = _text(record.get("subject"))
    return (
        int(record["id"]),
        _optional_str(record.get("extensionId")),
        kind,
        _text(record.get("direction")),
        subject,
        _text(record.get("messageStatus")),
        _text(record.get("priority")),
        storable(str(record["creationTime"])),
        _text(record.get("lastModifiedTime")),
        _conversation_id(record),
        _party_number(sender),
        _text(sender.get("name")),
        _joined([_party_number(r) for r in recipients]),
        _joined([r.get("name") for r in recipients]),
        _optional_int(record.get("faxPageCount")),
        _vm_duration(record, _attachments(record)),
        _text(record.get("readStatus")),
        _text(record.get("availability")),
        subject if kind in TEXT_IN_SUBJECT else None,
        dumps(record) if raw is None else raw,
    )


def message_row(record: Record, *, raw: str | None = None) -> Row:
    """Columns of `message` from a full record; read_status/availability are remote values.

    ``text`` is the subject for SMS and Pager, where RingCentral replicates the message
    text (save.py keeps a text that came from elsewhere, e.g. a downloaded Text part).
    """
    return dict(zip(ROW_COLUMNS, message_values(record, raw=raw), strict=True))


def attachment_values(record: Record) -> list[tuple[Any, ...]]:
    """`attachment_rows` as tuples in `ATTACHMENT_COLUMNS` order."""
    message_id = int(record["id"])
    rows = []
    for att in _attachments(record):
        att_id = _optional_int(att.get("id"))
        if att_id is None:
            continue
        rows.append(
            (
                message_id,
                att_id,
                _text(att.get("type")),
                _text(att.get("contentType")),
                _optional_int(att.get("size")),
                _text(att.get("uri")),
                _text(att.get("fileName")),
            )
        )
    return rows


#: `message_values` and `attachment_values` of a full record, computed ahead (`prepare`).
Prepared = tuple[tuple[Any, ...], list[tuple[Any, ...]]]


def prepare(records: list[Record], texts: list[str] | None = None) -> dict[int, Prepared]:
    """The rows of every full record by id, for `store.messages.save_records(prepared=)`.

    Pure and stateless, so the pull maps a batch on the thread that receives the next one,
    while SQLite (which releases the GIL) writes the previous batch. `texts`, when given,
    are the records' JSON texts as received (same order), kept as ``raw`` (`received_raw`).
    """
    if texts is None:
        return {
            int(r["id"]): (message_values(r), attachment_values(r))
            for r in records
            if not is_stub(r)
        }
    return {
        int(r["id"]): (message_values(r, raw=received_raw(t)), attachment_values(r))
        for r, t in zip(records, texts, strict=True)
        if not is_stub(r)
    }


def received_raw(text: str) -> str | None:
    """`text`, a record's JSON as the server sent it, if it can be ``raw`` as it stands.

    Re-serialising the parsed record (`dumps`) is most of what mapping a record costs, and
    the text received is already what ``raw`` must hold: JSON that loads back to exactly
    the record (lone surrogates stay ``\\uXXXX`` escapes: text decoded from UTF-8 holds
    none itself). A text with a line break is laid out by a pretty printer (a JSON string
    cannot hold a raw one): None then, so `dumps` stores it compact as any other record.
    """
    return None if "\n" in text else text


def attachment_rows(record: Record) -> list[Row]:
    """Rows of `attachment` for a full record (a purged record lists none: rows are kept)."""
    return [dict(zip(ATTACHMENT_COLUMNS, v, strict=True)) for v in attachment_values(record)]


def patch_raw(raw: str | None, availability: str | None) -> str | None:
    """The stored record with a stub's availability applied (None if nothing is stored)."""
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(record, dict):
        return raw
    record["availability"] = availability
    if availability == Availability.PURGED:
        # RingCentral: "Purged means that all attachments are already deleted".
        record["attachments"] = []
    return dumps(record)


# --- times -------------------------------------------------------------------------------


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def plus_one_ms(text: str) -> str:
    """`text` + 1 ms: a ``dateTo`` that includes `text` whether the API treats it as
    inclusive or exclusive (duplicates at that instant are removed by id)."""
    return iso_utc(parse_time(text) + dt.timedelta(milliseconds=1))


def day_start(day: dt.date) -> str:
    return iso_utc(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
