"""`[hooks]`: the user's shell commands, run after each engine command and by `watch`.

After `pull`, `push`, `sync`, `verify`, `prune` (and each of `watch`'s pulls and pushes),
``on_success`` or ``on_failure`` runs, and ``on_new_messages`` too when new messages
arrived. Each gets the outcome in its environment (``RCSYNC_EVENT``: the command,
``RCSYNC_NEW``: new messages, ``RCSYNC_ERROR``: the one-line error, empty on success) and
a JSON summary on stdin (``{"event", "ok", "new", "error", "summary"}``).

A hook is the user's business, never the sync's: it runs after the work is committed, in
its own process group with ``[hooks] timeout`` seconds (the whole group is killed after
it, so a hung ``curl`` and its children go too), and whatever it does — exit non-zero,
hang, not exist — is returned as a `HookRun` to report and never raised. Here, below
`watch` and the CLI, so both run hooks the same way; it needs no database and no API.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rcsync.config import HooksConfig

#: The last characters of a failing hook's stderr kept for the report.
ERROR_TAIL = 200


class Hook(StrEnum):
    ON_SUCCESS = "on_success"
    ON_FAILURE = "on_failure"
    ON_NEW_MESSAGES = "on_new_messages"


class Event(StrEnum):
    """``RCSYNC_EVENT``: what ran."""

    PULL = "pull"
    PUSH = "push"
    SYNC = "sync"
    VERIFY = "verify"
    PRUNE = "prune"
    WATCH = "watch"


@dataclass(frozen=True)
class HookRun:
    """How one hook went."""

    hook: Hook
    command: str
    returncode: int | None  # None: it did not finish (timeout) or could not start
    timed_out: bool = False
    error: str | None = None  # stderr's tail, or why it could not start

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        """``hook on_success timed out after 30 s`` / ``... failed (exit 3): reason``."""
        if self.timed_out:
            return f"hook {self.hook.value} timed out ({self.error}); the sync is unaffected"
        if self.returncode is None:
            return f"hook {self.hook.value} could not run: {self.error}"
        why = f": {self.error}" if self.error else ""
        return f"hook {self.hook.value} failed (exit {self.returncode}){why}"


def hooks_due(config: HooksConfig, *, new: int, failed: bool) -> list[tuple[Hook, str]]:
    """The configured hooks an outcome calls for, in the order they run."""
    due = [(Hook.ON_FAILURE, config.on_failure) if failed else (Hook.ON_SUCCESS, config.on_success)]
    if new > 0:
        due.append((Hook.ON_NEW_MESSAGES, config.on_new_messages))
    return [(hook, command) for hook, command in due if command]


def run_hooks(
    config: HooksConfig,
    event: Event,
    summary: Mapping[str, Any],
    *,
    new: int = 0,
    error: str | None = None,
) -> list[HookRun]:
    """Run the hooks `event`'s outcome calls for; never raises for a hook's sake."""
    due = hooks_due(config, new=new, failed=error is not None)
    if not due:
        return []
    payload = {"event": event.value, "ok": error is None, "new": new, "error": error}
    stdin = json.dumps({**payload, "summary": summary}, default=str).encode()
    env = {
        **os.environ,
        "RCSYNC_EVENT": event.value,
        "RCSYNC_NEW": str(new),
        "RCSYNC_ERROR": error or "",
    }
    return [
        run_hook(hook, command, env=env, stdin=stdin, timeout=config.timeout)
        for hook, command in due
    ]


def run_hook(
    hook: Hook, command: str, *, env: Mapping[str, str], stdin: bytes, timeout: float
) -> HookRun:
    """`command` with the shell, in its own process group, bounded by `timeout`."""
    try:
        proc = subprocess.Popen(
            command,
            shell=True,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own group: a timeout kills its children too
        )
    except OSError as exc:
        return HookRun(hook, command, None, error=exc.strerror or str(exc))
    try:
        _out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return HookRun(hook, command, None, timed_out=True, error=f"killed after {timeout:g} s")
    tail = err.decode("utf-8", "replace").strip()[-ERROR_TAIL:] or None
    return HookRun(hook, command, proc.returncode, error=tail if proc.returncode else None)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
