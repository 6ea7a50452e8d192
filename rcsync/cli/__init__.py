"""rcsync's command line. `main` is the console script; `cli` the click group."""

from rcsync.cli.main import cli, main

__all__ = ["cli", "main"]
