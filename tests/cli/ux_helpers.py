"""Small builders for the CLI usability tests: a seeded archive, a CliRunner call."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result

from rcsync.cli import cli
from rcsync.db import open_database

_INSERT = sa.text(
    "INSERT INTO message (id, type, direction, subject, creation_time, conversation_id,"
    " from_name, from_phone_number, raw, read_status, base_read_status, remote_read_status,"
    " availability, base_availability, remote_availability)"
    " VALUES (:id, :type, 'Inbound', :subject, :ct, :conv, :name, :num, :raw, :rs, :rs, :rs,"
    " :av, :av, :av)"
)


def message(
    mid: int,
    subject: str,
    *,
    name: str = "Alice",
    number: str = "+15550100",
    read: str = "Read",
    avail: str = "Alive",
    created: str = "2024-01-10T12:00:00.000Z",
    conv: str = "c1",
    type_: str = "SMS",
) -> dict[str, Any]:
    return {
        "id": mid,
        "type": type_,
        "subject": subject,
        "ct": created,
        "conv": conv,
        "name": name,
        "num": number,
        "raw": json.dumps({"id": mid}),
        "rs": read,
        "av": avail,
    }


def seed(db: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    engine = open_database(db)
    with engine.begin() as conn:
        if rows:
            conn.execute(_INSERT, list(rows))
    engine.dispose()


def add_conflicts(db: Path, message_id: int, n: int) -> None:
    engine = open_database(db)
    with engine.begin() as conn:
        for i in range(n):
            conn.execute(
                sa.text(
                    "INSERT INTO conflict (message_id, field, local_value, remote_value,"
                    " policy, resolution, detected_at) VALUES (:m, 'read_status', 'Read',"
                    " 'Unread', 'newest', 'kept_local', :at)"
                ),
                {"m": message_id, "at": f"2024-02-0{i + 1}T10:00:00.000Z"},
            )
    engine.dispose()


def run(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=dict(env or {}), input=input, prog_name="rcsync")
