"""``jsonl``: one message per line, every column of the mirror, the raw record as JSON (not
as a string), and each attachment with its path relative to the files folder and absolute.
"""

from __future__ import annotations

import json
from typing import Any

from rcsync.export.base import Job
from rcsync.store.archive import iter_messages

# Bookkeeping of the sync engine, not part of the message (base_*/remote_* are in raw's past).
_INTERNAL = ("conversation_size",)


def _line(job: Job, record: dict[str, Any]) -> str:
    data = {k: v for k, v in record.items() if k not in _INTERNAL}
    data["raw"] = json.loads(record["raw"]) if record.get("raw") else None
    for attachment in data["attachments"]:
        path = job.attachment_file(attachment)
        attachment["file"] = str(path) if path else None
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write(job: Job) -> None:
    with job.target.open("w", encoding="utf-8", newline="\n") as fh:
        for record in iter_messages(job.conn, job.filters):
            fh.write(_line(job, record) + "\n")
            job.tally.messages += 1
            job.progress.advance()
