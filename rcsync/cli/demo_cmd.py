"""`demo`: the whole main job on the built-in emulator, with nothing configured.

It starts the emulator on a free loopback port, writes a config for it into a demo folder,
pulls the generated history with progress, shows status and a search, then edits messages
with plain SQL (as any SQLite client would), pushes them, changes something on the "remote"
side, syncs, and prints a before/after table. Nothing here is special-cased for the demo:
it drives the same engine functions as `pull`, `push` and `sync`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from rcsync.cli.app import App
from rcsync.cli.output import Output
from rcsync.errors import ConfigError
from rcsync.store import user_sql
from rcsync.types import ReadStatus

pass_app = click.make_pass_decorator(App)

DEMO_QUERY = "appointment"


@contextmanager
def _demo_folder(directory: Path | None) -> Iterator[Path]:
    if directory is None:
        tmp = Path(tempfile.mkdtemp(prefix="rcsync-demo-"))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory}: not empty; give --dir a new or empty folder")
    directory.mkdir(parents=True, exist_ok=True)
    yield directory


def _write_config(folder: Path, server: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        "# Written by `rcsync demo`: the built-in emulator's default credentials.\n"
        "[ringcentral]\n"
        f'server = "{server}"\n'
        'client_id = "emulator-client"\nclient_secret = "emulator-secret"\n'
        'jwt = "emulator-jwt"\n'
        f'token_file = "{folder / "tokens.json"}"\n\n'
        "[database]\n"
        f'path = "{folder / "messages.db"}"\n'
    )
    path.chmod(0o600)
    return path


def _heading(out: Output, text: str) -> None:
    out.echo("")
    out.echo(click.style(f"== {text}", bold=True) if out.interactive else f"== {text}")


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo in this (new or empty) folder instead of a temporary one.",
)
@click.option(
    "--messages",
    default=1000,
    show_default=True,
    type=click.IntRange(10, 1_000_000),
    help="How many messages the emulator generates.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Generator seed.")
@pass_app
def demo(app: App, directory: Path | None, messages: int, seed: int) -> None:
    """Mirror a generated message store from the built-in emulator, edit it with SQL,
    push the edits, sync a remote change, and show the result. Needs no account.

    \b
    Examples:
      rcsync demo
      rcsync demo --dir ./rcsync-demo && sqlite3 ./rcsync-demo/messages.db
    """
    from rcsync.emulator import Emulator, serve

    out = app.output
    # Without rate limits: RingCentral allows 40 attachment downloads a minute, which would
    # turn a one-minute demo into a quarter of an hour. `rcsync emulator` serves them.
    emu = Emulator(messages=messages, seed=seed, rate_limits=False)
    with _demo_folder(directory) as folder, serve(emu, host="127.0.0.1", port=0) as server:
        out.echo(
            f"emulator: {messages:,} generated messages at {server.url}"
            " (rate limits off for the demo)"
        )
        out.echo(f"demo folder: {folder}")
        demo_app = App(
            config_path=_write_config(folder, server.url),
            db_path=None,
            verbosity=app.verbosity,
            output=out,
        )
        try:
            _run(demo_app, emu)
        finally:
            demo_app.close()
        _closing(out, folder, kept=directory is not None)


def _run(app: App, emu: Any) -> None:
    from rcsync.cli.status_cmd import print_status
    from rcsync.store.search import search
    from rcsync.sync.pull import pull
    from rcsync.sync.push import push
    from rcsync.sync.reconcile import sync

    out = app.output
    config = app.config
    engine, client = app.engine(), app.client()

    _heading(out, "1. pull: the whole history, into SQLite")
    started = time.monotonic()
    summary = pull(engine, client, config, progress=app.progress())
    out.echo(f"{summary.describe()} in {time.monotonic() - started:.1f} s")
    print_status(app)

    _heading(out, f"2. search: rcsync search {DEMO_QUERY}")
    with engine.connect() as conn:
        hits = search(conn, DEMO_QUERY, limit=3)
    for hit in hits:
        out.echo(f"  {hit.creation_time[:16]}  {hit.type:<9} {hit.who:<24} {hit.snippet}")

    picked = user_sql.pick_messages(config.database.path)
    before = _snapshot(config.database.path, emu, picked)

    _heading(out, "3. edit with plain SQL (any SQLite client would do)")
    for sql in user_sql.user_edits(picked):
        out.echo(f"  sqlite> {sql};")
    user_sql.run_as_user(config.database.path, user_sql.user_edits(picked))
    n = user_sql.count_pending_changes(config.database.path)
    out.echo(f"  pending_change now lists {n} edits")

    _heading(out, "4. push: the edits go to RingCentral")
    out.echo(push(engine, client, config).describe())

    _heading(out, "5. meanwhile, on another device: one message marked unread, 3 arrive")
    if picked["read"]:
        emu.store.remote_edit(picked["read"][0], read_status=ReadStatus.UNREAD)
    emu.store.arrive(3)

    _heading(out, "6. sync: push + pull, three-way")
    out.echo(sync(engine, client, config).line())

    _heading(out, "7. before and after (local = your database, remote = the emulator)")
    after = _snapshot(config.database.path, emu, picked)
    remote_unread = picked["read"][0] if picked["read"] else None
    rows = [
        (
            mid,
            what + ("; then unread on another device" if mid == remote_unread else ""),
            before[mid],
            after[mid],
        )
        for what, ids in picked.items()
        for mid in ids
    ]
    out.table(
        ["message id", "local edit", "before (local | remote)", "after (local | remote)"], rows
    )


def _snapshot(db: Path, emu: Any, picked: dict[str, list[int]]) -> dict[int, str]:
    local = user_sql.read_local(db, [m for ids in picked.values() for m in ids])
    out: dict[int, str] = {}
    for mid, (read_status, availability) in local.items():
        remote = emu.store.get(mid)
        there = f"{remote.get('readStatus')}/{remote.get('availability')}"
        out[mid] = f"{read_status}/{availability} | {there}"
    return out


def _closing(out: Output, folder: Path, *, kept: bool) -> None:
    _heading(out, "your turn")
    if kept:
        db = folder / "messages.db"
        out.echo(f"  sqlite3 {db} 'SELECT type, count(*) FROM message GROUP BY type'")
        out.echo(f"  datasette {db}        # pip install datasette: browse it in a browser")
        out.echo(f"  rcsync --config {folder / 'config.toml'} status")
    else:
        out.echo("  the demo folder was temporary and is gone; keep one with:")
        out.echo("  rcsync demo --dir ./rcsync-demo && sqlite3 ./rcsync-demo/messages.db")
    out.echo("  with your own account: rcsync init, then rcsync pull (see README)")


COMMANDS: list[click.Command] = [demo]
