"""``csv``: the columns a person reads, one row per message (UTF-8, header row, RFC 4180).

The columns are documented in the README ("Reading the archive"); keep the two in step.
"""

from __future__ import annotations

import csv
from typing import Any

from rcsync.export.base import Job
from rcsync.store.archive import iter_messages

COLUMNS = (
    "id",
    "creation_time",
    "type",
    "direction",
    "from_name",
    "from_phone_number",
    "to_names",
    "to_phone_numbers",
    "subject",
    "text",
    "transcription",
    "read_status",
    "availability",
    "message_status",
    "conversation_id",
    "extension_id",
    "fax_page_count",
    "vm_duration",
    "attachments",
)


def _row(job: Job, record: dict[str, Any]) -> list[Any]:
    paths = []
    for attachment in record["attachments"]:
        if job.attachment_file(attachment) is not None:
            paths.append(str(attachment["path"]))
    values = {**record, "attachments": ";".join(paths)}
    return [values.get(c) for c in COLUMNS]


def write(job: Job) -> None:
    with job.target.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for record in iter_messages(job.conn, job.filters):
            out.writerow(_row(job, record))
            job.tally.messages += 1
            job.progress.advance()
