"""`config show` and `db path`: where rcsync reads and writes, and why there.

Each setting is shown with where it came from (default, config file, environment, flag),
so "which database is this?" has an answer without reading the lookup rules.
"""

from __future__ import annotations

from typing import Any

import click

from rcsync.cli.app import App
from rcsync.config import Origin, as_toml_dict

pass_app = click.make_pass_decorator(App)


def _describe(origin: Origin, where: str) -> str:
    return f"{origin.value} {where}" if where else origin.value


def config_report(app: App) -> dict[str, Any]:
    """The effective settings, secrets hidden, each with its origin (the --json shape)."""
    cfg = app.config
    values: dict[str, dict[str, Any]] = {}
    for section, keys in as_toml_dict(cfg).items():
        for key, value in keys.items():
            origin, where = cfg.origin(section, key)
            if (section, key) == ("database", "files") and value is None:
                value, where = str(cfg.database.files_dir), "beside the database"
            values.setdefault(section, {})[key] = {
                "value": value,
                "source": origin.value,
                "where": where or None,
            }
    return {
        "config_file": None if cfg.source == "defaults" else cfg.source,
        "values": values,
    }


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return '""' if value == "" else str(value)


@click.group()
def config() -> None:
    """Inspect the configuration rcsync uses.

    \b
    Example:
      rcsync config show
    """


@config.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@pass_app
def show(app: App, as_json: bool) -> None:
    """Every setting in effect, with where it came from (default, config file, env, flag).

    Secrets are shown as ***.

    \b
    Examples:
      rcsync config show
      rcsync --config work.toml config show --json | jq .values.database
    """
    report = config_report(app)
    if as_json:
        app.output.json(report)
        return
    out = app.output
    out.result(f"config file: {report['config_file'] or 'none (built-in defaults)'}")
    rows = [
        (
            f"{section}.{key}",
            _shown(entry["value"]),
            _describe(Origin(entry["source"]), entry["where"] or ""),
        )
        for section, keys in report["values"].items()
        for key, entry in keys.items()
    ]
    out.table(["setting", "value", "from"], rows, always=True)


@click.command(name="path")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@pass_app
def db_path(app: App, as_json: bool) -> None:
    """Print the database file's path (whether or not it exists yet).

    \b
    Examples:
      sqlite3 "$(rcsync db path)"
      rcsync --config work.toml db path
    """
    path = app.database_path
    if as_json:
        origin, where = app.config.origin("database", "path")
        app.output.json(
            {
                "path": str(path),
                "exists": path.exists(),
                "files": str(app.config.database.files_dir),
                "source": origin.value,
                "where": where or None,
            }
        )
        return
    app.output.result(str(path))
    if not path.exists():
        app.output.info("(no database there yet: `rcsync pull` creates it)")
