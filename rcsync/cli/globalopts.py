"""Let global options follow the command: `rcsync pull -q` means `rcsync -q pull`.

click only accepts a group's options before the subcommand. Users type them anywhere, so
before parsing, every global option found after the command name is moved in front of it.
Everything after a ``--`` is left alone (it may be a search query like ``-v``).
"""

from __future__ import annotations

import re

#: Options that take no value (and -vv, -vvv...).
_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose", "--insecure"})
_REPEATED_V = re.compile(r"^-v+$")
#: Options that take a value, as ``--db PATH`` or ``--db=PATH``.
_VALUED = frozenset({"--config", "--db"})


def _is_flag(token: str) -> bool:
    return token in _FLAGS or bool(_REPEATED_V.match(token))


def _takes_value(token: str) -> bool:
    return token in _VALUED


def _has_inline_value(token: str) -> bool:
    return token.split("=", 1)[0] in _VALUED and "=" in token


def _command_index(args: list[str]) -> int:
    """Where the command name is: the first token that is neither an option nor its value."""
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            return len(args)
        if _takes_value(token):
            i += 2
            continue
        if not token.startswith("-"):
            return i
        i += 1
    return len(args)


def hoist_global_options(args: list[str]) -> list[str]:
    """`args` with the global options that follow the command moved before it."""
    start = _command_index(args)
    front, moved, rest = args[:start], [], []
    i = start
    while i < len(args):
        token = args[i]
        if token == "--":
            rest.extend(args[i:])
            break
        if _is_flag(token) or _has_inline_value(token):
            moved.append(token)
        elif _takes_value(token) and i + 1 < len(args):
            moved.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(token)
        i += 1
    return front + moved + rest
