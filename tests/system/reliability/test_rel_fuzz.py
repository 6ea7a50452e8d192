"""Generated bad input never produces a traceback: random TOML configurations go through
`load_config`, random API records go through the whole pull pipeline (API client, record
mapping, three-way save) from an ``httpx.MockTransport``. Only `RcsyncError`s may escape,
and the database stays consistent.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rcsync.api import TokenStore, build_client
from rcsync.config import Config, DatabaseConfig, RingCentralConfig, SyncConfig, load_config
from rcsync.errors import RcsyncError
from rcsync.store.database import open_database
from tests.harness.config import toml_value

SERVER = "https://platform.ringcentral.com"

# --- configurations -------------------------------------------------------------------------

KEYS = {
    "ringcentral": [
        "server",
        "client_id",
        "client_secret",
        "jwt",
        "username",
        "extension",
        "password",
        "token_file",
        "insecure",
        "verify_tls",
        "timeout",
        "bogus",
    ],
    "database": ["path", "files", "bogus"],
    "sync": [
        "history_start",
        "message_types",
        "download_attachments",
        "download_text_parts",
        "max_attachment_size",
        "attachment_types",
        "conflict_policy",
        "row_delete",
        "watch_interval",
        "delete_guard",
        "bogus",
    ],
    "bogus": ["x"],
}
scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "SMS",
            "https://x.example",
            "http://127.0.0.1:1",
            "2024-02-30",
            "1999-12-31",
            "newest",
            "purge",
            "~/x",
            "$HOME/y",
            "",
        ]
    ),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
sections = st.dictionaries(
    st.sampled_from(list(KEYS)),
    st.just(None),
    max_size=4,
).flatmap(
    lambda names: st.fixed_dictionaries(
        {name: st.dictionaries(st.sampled_from(KEYS[name]), values, max_size=6) for name in names}
    )
)


def render(data: dict[str, dict[str, Any]]) -> str:
    out = []
    for name, items in data.items():
        out.append(f"[{name}]")
        for key, value in items.items():
            if isinstance(value, float) and value in (float("inf"), float("-inf")):
                value = "inf" if value > 0 else "-inf"
                out.append(f"{key} = {value}")
                continue
            out.append(f"{key} = {toml_value(value)}")
    return "\n".join(out) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=sections)
def test_generated_configs_load_or_fail_cleanly(data: dict[str, dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(render(data))
        try:
            load_config(path, env={})
        except RcsyncError as exc:
            assert "\n" not in str(exc).strip()


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=string.printable + "é☃\x00", max_size=200))
def test_random_toml_text_loads_or_fails_cleanly(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with contextlib.suppress(RcsyncError):
            load_config(path, env={})


# --- API payloads through the pull pipeline ----------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=12),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
times = st.one_of(
    st.sampled_from(
        [
            "2024-05-13T10:22:01.000Z",
            "2024-05-13T10:22:01Z",
            "2019-01-01T00:00:00.000Z",
            "not a time",
            "",
            "2024-13-45T99:99:99.000Z",
        ]
    ),
    junk,
)
party = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "phoneNumber": st.one_of(st.text(max_size=12), junk),
            "name": st.one_of(st.text(), junk),
            "extensionNumber": junk,
        },
    ),
)
attachment = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.integers(1, 2**63 - 1), junk),
            "uri": st.one_of(st.text(), junk),
            "type": st.one_of(st.sampled_from(["Text", "AudioRecording", "Weird"]), junk),
            "contentType": st.one_of(st.text(max_size=20), junk),
            "size": junk,
        },
    ),
)
record = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(1, 2**63 - 1), st.integers(1, 5))},
    optional={
        "type": st.one_of(st.sampled_from(["SMS", "Fax", "VoiceMail", "Pager", "Carrier"]), junk),
        "creationTime": times,
        "lastModifiedTime": times,
        "readStatus": st.one_of(st.sampled_from(["Read", "Unread", "Maybe"]), junk),
        "availability": st.one_of(st.sampled_from(["Alive", "Deleted", "Purged", "Gone"]), junk),
        "direction": junk,
        "subject": st.one_of(st.text(), junk),
        "messageStatus": junk,
        "priority": junk,
        "from": party,
        "to": st.one_of(junk, st.lists(party, max_size=3)),
        "conversation": st.one_of(junk, st.fixed_dictionaries({"id": junk})),
        "conversationId": junk,
        "attachments": st.one_of(junk, st.lists(attachment, max_size=3)),
        "faxPageCount": junk,
        "vmTranscriptionStatus": junk,
    },
)
payloads = st.lists(record, max_size=8)


def mock_api(listing: list[dict[str, Any]], changes: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/oauth/token"):
            return httpx.Response(
                200,
                json={
                    "access_token": "A" * 20,
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "refresh_token": "R" * 20,
                    "refresh_token_expires_in": 604800,
                    "scope": "x",
                    "owner_id": "1",
                    "session_id": "s",
                },
            )
        if path.endswith("/message-sync"):
            full = request.url.params.get("syncType") == "FSync"
            body = {
                "records": [] if full else changes,
                "syncInfo": {
                    "syncType": "FSync" if full else "ISync",
                    "syncToken": "tok",
                    "syncTime": "2025-01-01T00:00:00.000Z",
                },
            }
            return httpx.Response(200, content=json.dumps(body, default=str).encode())
        if path.endswith("/message-store"):
            body = {"records": listing, "paging": {"page": 1}, "navigation": {}}
            return httpx.Response(200, content=json.dumps(body, default=str).encode())
        if "/message-store/" in path:  # bulk GET of trashed stubs
            return httpx.Response(
                404, json={"errors": [{"errorCode": "CMN-102", "message": "not found"}]}
            )
        return httpx.Response(404)

    return httpx.MockTransport(handle)


TEMPLATE: dict[str, Path] = {}


def fresh_db(tmp: Path) -> Path:
    if "db" not in TEMPLATE:
        base = Path(tempfile.mkdtemp()) / "template.db"
        open_database(base).dispose()
        TEMPLATE["db"] = base
    db = tmp / "messages.db"
    shutil.copy(TEMPLATE["db"], db)
    return db


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(listing=payloads, changes=payloads)
def test_generated_records_never_crash_the_pull(
    listing: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> None:
    from rcsync.sync.pull import pull

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        db = fresh_db(tmp)
        rc = RingCentralConfig(
            server=SERVER, client_id="c", client_secret="s", jwt="j", token_file=tmp / "tokens.json"
        )
        config = Config(
            ringcentral=rc,
            database=DatabaseConfig(path=db),
            sync=SyncConfig(download_attachments=False),
        )
        client = build_client(
            rc,
            transport=mock_api(listing, changes),
            store=TokenStore(rc.token_file),
            sleep=lambda s: None,
        )
        engine = open_database(db)
        try:
            for _ in range(2):  # the full pull, then an incremental one
                try:
                    pull(engine, client, config)
                except RcsyncError as exc:
                    assert "\n" not in str(exc).strip()
            with engine.connect() as conn:
                assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
                # Engine writes are never mistaken for local edits.
                assert conn.execute(sa.text("SELECT count(*) FROM local_edit")).scalar() == 0
        finally:
            engine.dispose()
            client.close()
