from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_subpackage_ships_in_the_wheel() -> None:
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "rcsync").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert {"rcsync.migrations", "rcsync.migrations.versions"} <= listed


def test_migrations_folder_is_not_an_importable_alembic() -> None:
    # An __init__.py here would shadow the real `alembic` package from the repository root.
    assert not (REPO / "alembic" / "__init__.py").exists()
    assert (REPO / "alembic" / "env.py").exists()
