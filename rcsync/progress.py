"""How long-running library code reports progress without printing.

The engine calls a `Progress` it was given; the CLI supplies one that draws a bar on a
terminal (or nothing with -q / when not a TTY), tests supply a recorder. Only the CLI prints.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, phase: str, total: int | None = None) -> None:
        """A new phase begins ("messages", "attachments"); total may be unknown."""

    def advance(self, n: int = 1) -> None:
        """n more items of the current phase are done."""

    def finish(self) -> None:
        """The current phase is over."""

    def note(self, message: str) -> None:
        """A one-line event worth telling the user (retry, wait, conflict)."""


class NullProgress:
    """Reports nothing."""

    def start(self, phase: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass
