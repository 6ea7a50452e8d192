"""``smsxml``: the XML of SMS Backup & Restore, which Android apps and archivers import.

``<smses count="N">`` holds one ``<sms>`` per text message and one ``<mms>`` per message with
pictures or other files (their bytes inline, base64, in ``<part data=…>``). Only SMS
messages go in (the format has no voicemail, fax or pager). ``type``/``msg_box`` 1 = received,
2 = sent; dates are milliseconds since 1970; ``read`` is 1/0; absent values are the
format's literal ``null``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from rcsync.export.base import Job, epoch_ms
from rcsync.store.archive import count_messages, iter_messages

SMS_TYPE = "SMS"
RECEIVED, SENT = 1, 2
# MMS address roles (PduHeaders FROM / TO) and the UTF-8 charset code (MIBenum 106).
ADDR_FROM, ADDR_TO, UTF8 = 137, 151, 106
TEXT_ATTACHMENT = "Text"
# XML 1.0 forbids most control characters even as references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _attr(value: Any) -> str:
    if value is None:
        return '"null"'
    return quoteattr(_NOT_XML.sub("", str(value)), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _attrs(pairs: Iterable[tuple[str, Any]]) -> str:
    return " ".join(f"{k}={_attr(v)}" for k, v in pairs)


def _common(record: dict[str, Any]) -> list[tuple[str, Any]]:
    inbound = record["direction"] != "Outbound"
    return [
        ("date", epoch_ms(record["creation_time"])),
        ("read", 0 if record["read_status"] == "Unread" else 1),
        ("readable_date", record["creation_time"]),
        ("contact_name", (record["from_name"] if inbound else record["to_names"]) or "(Unknown)"),
        ("address", _address(record)),
    ]


def _address(record: dict[str, Any]) -> str:
    if record["direction"] == "Outbound":
        return "~".join((record["to_phone_numbers"] or "").split(","))
    return str(record["from_phone_number"] or "")


def _sms(record: dict[str, Any]) -> str:
    box = SENT if record["direction"] == "Outbound" else RECEIVED
    pairs = [
        ("protocol", 0),
        *_common(record),
        ("type", box),
        ("subject", None),
        ("body", record["text"] or record["subject"] or ""),
        ("toa", None),
        ("sc_toa", None),
        ("service_center", None),
        ("status", -1),
        ("locked", 0),
        ("date_sent", 0),
    ]
    return f"  <sms {_attrs(pairs)} />\n"


def _parts(job: Job, record: dict[str, Any], media: list[dict[str, Any]]) -> Iterable[str]:
    body = record["text"] or record["subject"]
    seq = 0
    if body:
        text = [("seq", seq), ("ct", "text/plain"), ("name", None), ("chset", UTF8)]
        yield f"      <part {_attrs([*text, ('cl', 'text.txt'), ('text', body)])} />\n"
    for attachment in media:
        path = job.attachment_file(attachment)
        if path is None:
            continue
        seq += 1
        name = attachment["file_name"] or path.name
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        pairs = [
            ("seq", seq),
            ("ct", attachment["content_type"] or "application/octet-stream"),
            ("name", name),
            ("chset", None),
            ("cl", name),
            ("text", None),
            ("data", data),
        ]
        job.tally.attachments += 1
        yield f"      <part {_attrs(pairs)} />\n"


def _addrs(record: dict[str, Any]) -> Iterable[str]:
    yield f"      <addr {_attrs([('address', record['from_phone_number']), ('type', ADDR_FROM), ('charset', UTF8)])} />\n"  # noqa: E501
    for number in (record["to_phone_numbers"] or "").split(","):
        if number:
            yield f"      <addr {_attrs([('address', number), ('type', ADDR_TO), ('charset', UTF8)])} />\n"  # noqa: E501


def _mms(job: Job, record: dict[str, Any], media: list[dict[str, Any]], fh: IO[str]) -> None:
    box = SENT if record["direction"] == "Outbound" else RECEIVED
    pairs = [
        *_common(record),
        ("msg_box", box),
        ("ct_t", "application/vnd.wap.multipart.related"),
        ("m_type", 128 if box == SENT else 132),  # send-req / retrieve-conf
        ("sub", None),
        ("text_only", 0),
    ]
    fh.write(f"  <mms {_attrs(pairs)}>\n    <parts>\n")
    fh.writelines(_parts(job, record, media))
    fh.write("    </parts>\n    <addrs>\n")
    fh.writelines(_addrs(record))
    fh.write("    </addrs>\n  </mms>\n")


def write(job: Job) -> None:
    count = count_messages(job.conn, job.filters)
    with job.target.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
        fh.write(f"<smses count={_attr(count)} type={_attr('full')}>\n")
        for record in iter_messages(job.conn, job.filters):
            media = [a for a in record["attachments"] if a["type"] != TEXT_ATTACHMENT]
            if media:
                _mms(job, record, media, fh)
            else:
                fh.write(_sms(record))
            job.tally.messages += 1
            job.progress.advance()
        fh.write("</smses>\n")
