"""Commands of INTERFACE.md that a later milestone delivers say so honestly (exit 1)."""

from __future__ import annotations

from rcsync.errors import NotYetImplemented


def not_yet(command: str) -> NotYetImplemented:
    return NotYetImplemented(f"`rcsync {command}` is not implemented yet in this version")
