"""The exception tree drawn in rcsync/errors.py's docstring is the real one, and complete."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import rcsync
from rcsync import errors
from rcsync.errors import RcsyncError

# "    │   ├── AuthError   text": the depth is the position of the class name.
_NODE = re.compile(r"^(?P<indent>[ │├└─]*?)(?P<name>[A-Z]\w+)(\s{2,}.*)?$")


def drawn_tree() -> dict[str, str | None]:
    """{class name: parent name} as the docstring draws the RcsyncError tree."""
    doc = errors.__doc__ or ""
    block = doc.split("    RcsyncError\n", 1)[1].split("\n\n", 1)[0]
    parents: dict[str, str | None] = {"RcsyncError": None}
    stack: list[tuple[int, str]] = [(0, "RcsyncError")]
    for line in block.splitlines():
        m = _NODE.match(line[4:])
        assert m, f"unreadable tree line: {line!r}"
        depth = len(m["indent"]) // 4
        while stack[-1][0] >= depth:
            stack.pop()
        parents[m["name"]] = stack[-1][1]
        stack.append((depth, m["name"]))
    return parents


def real_tree(cls: type[BaseException] = RcsyncError) -> dict[str, str | None]:
    tree: dict[str, str | None] = {cls.__name__: None} if cls is RcsyncError else {}
    for sub in cls.__subclasses__():
        tree[sub.__name__] = cls.__name__
        tree.update(real_tree(sub))
    return tree


def test_the_docstring_draws_every_subclass_under_its_parent() -> None:
    assert drawn_tree() == real_tree()


def test_every_exception_class_of_rcsync_is_defined_in_errors() -> None:
    """Outside the emulator (which stands alone), no module defines a public exception."""
    elsewhere = []
    for info in pkgutil.walk_packages(rcsync.__path__, "rcsync."):
        if info.name == "rcsync.errors" or info.name.startswith(
            ("rcsync.emulator", "rcsync.migrations", "rcsync.__main__")
        ):
            continue
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseException)
                and obj.__module__ == info.name
                and not name.startswith("_")
            ):
                elsewhere.append(f"{info.name}.{name}")
    assert elsewhere == []


def test_the_control_flow_exceptions_are_named_outside_the_tree() -> None:
    defined = {
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == "rcsync.errors"
    }
    outside = defined - set(real_tree())
    assert outside == {"StopRequested", "StepIncomplete"}
    doc = errors.__doc__ or ""
    for name in outside:
        assert re.search(rf"^    {name}\s", doc, re.M), name
        assert not issubclass(getattr(errors, name), RcsyncError)
