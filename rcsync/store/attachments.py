"""The attachment rows: what is still to fetch, what was fetched, what was skipped and why.

The downloads themselves (file names, ``.part`` files, hashes, the API) are
`rcsync.sync.attachments`; this module only reads and writes ``attachment`` (and the text
columns of ``message`` that a downloaded Text part or transcription fills). Lists are read
in keyset chunks, so memory does not grow with the archive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.types import iso_utc

# `attachment.skipped`: why a file is not there. Stored values, shown by status and SQL.
PURGED_REASON = "purged remotely"
TEXT_PART_REASON = "text is in subject ([sync] download_text_parts = false)"
# Attachment types whose content also fills a searchable column of the message.
TEXT_COLUMNS = {"Text": "text", "AudioTranscription": "transcription"}
_CHUNK = 500
_CHECK_CHUNK = 5000


@dataclass(frozen=True)
class Job:
    """One attachment to fetch, with what its file name is made of."""

    message_id: int
    id: int
    type: str | None
    content_type: str | None
    size: int | None
    uri: str | None
    message_type: str
    direction: str | None
    creation_time: str
    from_number: str | None
    to_numbers: str | None
    remote_availability: str | None
    extension_id: str | None = None  # whose store the message is in (the folder)


# Attachments worth a look: not held Text parts (:held is NULL when Text parts are wanted),
# nor those purged remotely, unless that mark contradicts the message (not Purged, as
# older versions marked any 404): only a purged message's files are gone. Nor those of a
# user deleted in RingCentral (`extension.remote_gone`): their files went with them, and
# each pull would spend a content request and a read on every one; they stay missing.
_WANTED = (
    " a.path IS NULL AND (a.skipped IS NULL OR (a.skipped <> :purged AND a.skipped IS NOT :held)"
    " OR (a.skipped = :purged AND a.uri IS NOT NULL AND m.remote_availability IS NOT 'Purged'))"
    " AND NOT EXISTS (SELECT 1 FROM extension x WHERE x.id = m.extension_id AND x.remote_gone)"
)
_JOBS = sa.text(
    "SELECT a.message_id, a.id, a.type, a.content_type, a.size, a.uri, m.type, m.direction,"
    " m.creation_time, m.from_phone_number, m.to_phone_numbers, m.remote_availability,"
    " m.extension_id"
    " FROM attachment a JOIN message m ON m.id = a.message_id WHERE"
    + _WANTED
    + " AND (a.message_id, a.id) > (:mid, :aid) ORDER BY a.message_id, a.id LIMIT :n"
)
_COUNT_JOBS = sa.text(
    "SELECT count(*) FROM attachment a JOIN message m ON m.id = a.message_id WHERE" + _WANTED
)
# Held Text parts in one statement (not one transaction per part); purged ones are left to
# the job loop, which records why.
_HOLD_TEXT_PARTS = sa.text(
    "UPDATE attachment SET skipped = :held WHERE type = 'Text' AND path IS NULL"
    " AND uri IS NOT NULL AND (skipped IS NULL OR skipped NOT IN (:held, :purged))"
    " AND NOT EXISTS (SELECT 1 FROM message m WHERE m.id = attachment.message_id"
    " AND m.remote_availability = 'Purged')"
)
_FORGET = sa.text(
    "UPDATE attachment SET path = NULL, sha256 = NULL WHERE message_id = :mid AND id = :aid"
)
_DOWNLOADED = sa.text(
    "SELECT message_id, id, path, size FROM attachment WHERE path IS NOT NULL"
    " AND (message_id, id) > (:mid, :aid) ORDER BY message_id, id LIMIT :n"
)


def _reasons(held_text: bool) -> dict[str, str | None]:
    return {"purged": PURGED_REASON, "held": TEXT_PART_REASON if held_text else None}


def read_jobs(engine: Engine, *, held_text: bool) -> Iterator[Job]:
    """Attachments still to fetch, in keyset chunks. `held_text`: Text parts are not wanted."""
    last = (-1, -1)
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                _JOBS, {**_reasons(held_text), "mid": last[0], "aid": last[1], "n": _CHUNK}
            ).all()
        for r in rows:
            yield Job(*r)
        if len(rows) < _CHUNK:
            return
        last = (rows[-1][0], rows[-1][1])


def count_jobs(engine: Engine, *, held_text: bool) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_COUNT_JOBS, _reasons(held_text)).scalar_one())


def hold_text_parts(engine: Engine) -> int:
    """Mark Text parts skipped (`TEXT_PART_REASON`); returns how many were new."""
    with engine.begin() as conn:
        result = conn.execute(_HOLD_TEXT_PARTS, _reasons(True))
    return int(result.rowcount)


def read_downloaded(engine: Engine) -> Iterator[tuple[int, int, str, int | None]]:
    """(message_id, id, path, size) of every recorded file, in keyset chunks."""
    last = (-1, -1)
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                _DOWNLOADED, {"mid": last[0], "aid": last[1], "n": _CHECK_CHUNK}
            ).all()
        for mid, aid, path, size in rows:
            yield int(mid), int(aid), str(path), size
        if len(rows) < _CHECK_CHUNK:
            return
        last = (rows[-1][0], rows[-1][1])


def forget_files(engine: Engine, keys: Sequence[tuple[int, int]]) -> None:
    """The files of these (message_id, id) are gone: fetch them again."""
    if keys:
        with engine.begin() as conn:
            conn.execute(_FORGET, [{"mid": mid, "aid": aid} for mid, aid in keys])


def save_file(
    engine: Engine, job: Job, rel: str, size: int, digest: str, *, text: str | None
) -> None:
    """The file of `job` is at `rel` (verified); `text` fills its message's text column."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE attachment SET path = :p, sha256 = :h, size = :s, downloaded_at = :t,"
                " skipped = NULL WHERE message_id = :mid AND id = :aid"
            ),
            {
                "p": rel,
                "h": digest,
                "s": size,
                "t": iso_utc(),
                "mid": job.message_id,
                "aid": job.id,
            },
        )
        column = TEXT_COLUMNS.get(job.type or "")
        if column is not None and text is not None:
            conn.execute(
                sa.text(f"UPDATE message SET {column} = :v WHERE id = :id AND {column} IS NOT :v"),
                {"v": text, "id": job.message_id},
            )


def save_skipped(engine: Engine, job: Job, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE attachment SET skipped = :r WHERE message_id = :mid AND id = :aid"),
            {"r": reason, "mid": job.message_id, "aid": job.id},
        )
