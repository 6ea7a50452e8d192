"""`rcsync datasette`'s configuration, checked with Datasette's own test client: search,
facets, files served, and canned write queries that become pending changes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from datasette.app import Datasette

from rcsync.cli.main import cli
from rcsync.export.datasette import FILES_MOUNT, HIDDEN, metadata, plugins_dir, write_config
from tests.harness.inprocess import Archive


def _datasette(archive: Archive) -> Datasette:
    return Datasette(
        [str(archive.db_path)],
        metadata=metadata(archive.db_path),
        plugins_dir=str(plugins_dir()),
        static_mounts=[(FILES_MOUNT, str(archive.files))],
    )


def _get(ds: Datasette, path: str) -> Any:
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, (path, response.text[:300])
    return response.json() if ".json" in path else response.text


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for r in con.execute(sql)]
    finally:
        con.close()


def test_search_on_the_reading_view(archive: Archive) -> None:
    ds = _datasette(archive)
    (name, n) = _rows(
        archive.db_path,
        "SELECT from_name, count(*) FROM message WHERE direction = 'Inbound'"
        " GROUP BY from_name ORDER BY 2 DESC LIMIT 1",
    )[0]
    last = name.split()[-1]
    data = _get(ds, f"/messages/message_list.json?_search={last}&_shape=objects&_size=max")
    ids = {r["id"] for r in data["rows"]}
    expected = {
        r[0]
        for r in _rows(
            archive.db_path,
            f"SELECT rowid FROM message_fts WHERE message_fts MATCH '{last}'",
        )
    }
    assert ids == expected and len(ids) >= n
    assert "raw" not in data["rows"][0] and "base_read_status" not in data["rows"][0]


def test_facets_and_newest_first(archive: Archive) -> None:
    ds = _datasette(archive)
    data = _get(ds, "/messages/message_list.json?_shape=objects&_size=max")
    times = [r["creation_time"] for r in data["rows"]]
    assert times == sorted(times, reverse=True)
    facets = data["facet_results"]
    facets = facets.get("results", facets)  # Datasette 1.0 nests them
    by_type = {f["value"]: f["count"] for f in facets["type"]["results"]}
    assert by_type == dict(_rows(archive.db_path, "SELECT type, count(*) FROM message GROUP BY 1"))
    assert {"direction", "read_status", "availability", "extension_id"} <= set(facets)


def test_bookkeeping_hidden_and_files_served(archive: Archive) -> None:
    ds = _datasette(archive)
    tables = {t["name"]: t for t in _get(ds, "/messages.json")["tables"]}
    assert all(tables[name]["hidden"] for name in HIDDEN if name in tables)
    assert not tables["message"]["hidden"]
    page = _get(ds, "/messages/voicemail_list")
    assert "<audio controls" in page
    (path,) = _rows(
        archive.db_path,
        "SELECT path FROM attachment WHERE type = 'AudioRecording' AND path IS NOT NULL LIMIT 1",
    )[0]
    served = asyncio.run(ds.client.get(f"/{FILES_MOUNT}/{path}"))
    assert served.status_code == 200 and served.content == (archive.files / path).read_bytes()


@pytest.mark.parametrize(
    ("query", "before", "field", "new_value"),
    [
        ("mark_unread", "UPDATE message SET read_status = 'Read'", "read_status", "Unread"),
        ("trash", "UPDATE message SET availability = 'Alive'", "availability", "Deleted"),
    ],
)
def test_canned_write_becomes_a_pending_change(
    archive: Archive, query: str, before: str, field: str, new_value: str
) -> None:
    (mid,) = _rows(archive.db_path, "SELECT id FROM message WHERE availability = 'Alive' LIMIT 1")[
        0
    ]
    assert _rows(archive.db_path, "SELECT count(*) FROM pending_change") == [(0,)]
    ds = _datasette(archive)
    response = asyncio.run(ds.client.post(f"/messages/{query}", data={"id": str(mid)}))
    assert response.status_code in (200, 302), response.text[:300]
    assert _rows(archive.db_path, "SELECT message_id, field, new_value FROM pending_change") == [
        (mid, field, new_value)
    ]


def test_restore_undoes_trash(archive: Archive) -> None:
    (mid,) = _rows(archive.db_path, "SELECT id FROM message WHERE availability = 'Alive' LIMIT 1")[
        0
    ]
    ds = _datasette(archive)
    for query in ("trash", "restore"):
        asyncio.run(ds.client.post(f"/messages/{query}", data={"id": str(mid)}))
    assert _rows(archive.db_path, "SELECT count(*) FROM pending_change") == [(0,)]
    assert _rows(archive.db_path, f"SELECT availability FROM message WHERE id = {mid}") == [
        ("Alive",)
    ]


def test_cli_writes_config_beside_the_database(archive: Archive) -> None:
    config = archive.db_path.parent / "config.toml"
    config.write_text(f'[database]\nfiles = "{archive.files}"\n')
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "--db",
            str(archive.db_path),
            "datasette",
            "--config-only",
            "--port",
            "8123",
            "--",
            "--setting",
            "sql_time_limit_ms",
            "5000",
        ],
    )
    assert result.exit_code == 0, result.output
    written = archive.db_path.with_name("messages.datasette.json")
    assert json.loads(written.read_text()) == json.loads(json.dumps(metadata(archive.db_path)))
    line = result.stdout.strip()
    assert f"--static {FILES_MOUNT}:{archive.files}" in line
    assert line.endswith("--port 8123 --setting sql_time_limit_ms 5000")
    assert write_config(archive.db_path) == written


def test_column_descriptions_name_real_columns(archive: Archive) -> None:
    tables = metadata(archive.db_path)["databases"]["messages"]["tables"]
    con = sqlite3.connect(archive.db_path)
    try:
        for name, table in tables.items():
            real = {r[1] for r in con.execute(f"PRAGMA table_info({name})")}
            assert set(table.get("columns", {})) <= real, name
    finally:
        con.close()
