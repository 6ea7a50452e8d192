"""Options several commands share, defined once so their name, meaning and help agree."""

from __future__ import annotations

import click

#: `--json`: one JSON document on stdout instead of the human-readable lines.
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")

#: `--force`: a push may trash or purge more messages than `[sync] delete_guard`.
force_option = click.option(
    "--force", is_flag=True, help="Allow trashing/purging more than [sync] delete_guard."
)

#: `--extension`: one extension of an account archive, by the number users know it by.
extension_option = click.option(
    "--extension",
    "extension",
    metavar="NUMBER",
    help="Only this extension of an account archive (its number, e.g. 102).",
)

#: `--wait`: wait for the engine lock instead of refusing while another rcsync holds it.
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="If another rcsync is working on this database, wait for it to finish.",
)
