"""Fixtures of the watch tests (the helpers are in `watch_harness`)."""

from watch_harness import make_setup

__all__ = ["make_setup"]
