"""The README's code map names every package and module of rcsync, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "rcsync"


def code_map() -> dict[str, set[str]]:
    """{folder ("" for the top level): module names} as the README's code map lists them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("Code map (`rcsync/`)", 1)[1].split("\n\n", 2)[1]
    listed: dict[str, set[str]] = {}
    for item in block.split("\n- "):
        item = item.removeprefix("- ")
        head = re.match(r"`(\w+)/`", item)
        folder = head[1] if head else ""
        if not head:
            assert item.startswith("top level:"), item
        # Parenthesised notes first (they may hold a colon), then "what: modules; remarks".
        names = re.sub(r"\([^)]*\)", "", item).split(":", 1)[1].split(";")[0]
        listed[folder] = set(re.findall(r"`(\w+)`", names))
    return listed


def modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")}


def test_every_package_has_a_line_and_every_line_a_package() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert set(code_map()) - {""} == packages


def test_each_line_names_exactly_the_modules_of_its_folder() -> None:
    for folder, names in code_map().items():
        assert names == modules(PACKAGE / folder), f"README code map, {folder or 'top level'}"
