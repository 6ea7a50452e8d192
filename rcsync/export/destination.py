"""Where an export goes, written so that nothing half-done ever looks complete.

Everything is written into a hidden temporary sibling of the destination (same folder, so
the final rename is atomic and never crosses file systems) and renamed into place only at
the end. A failure or Ctrl-C removes the temporary; an existing destination is replaced
only with ``--force``, and only once the new export is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rcsync.config import home_path
from rcsync.errors import ExportError


def _check(out: Path, *, folder: bool, force: bool) -> None:
    if out.exists() or out.is_symlink():
        if folder and not out.is_dir():
            raise ExportError(f"{out}: exists and is not a folder")
        if not folder and out.is_dir():
            raise ExportError(f"{out}: is a folder, expected a file name")
        occupied = not folder or any(out.iterdir())
        if occupied and not force:
            what = "folder is not empty" if folder else "file exists"
            raise ExportError(f"{out}: {what} (use --force to replace it)")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{parent}: cannot create folder: {exc.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{parent}: folder is not writable")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _put_in_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(tmp, out)
        return
    if not out.is_dir():
        os.replace(tmp, out)  # atomic for a file
        return
    # A folder cannot be swapped atomically: move the old one aside first, then drop it.
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, old / out.name)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged(out: Path, *, folder: bool, force: bool) -> Iterator[Path]:
    """A temporary path to write; it becomes ``out`` when the block ends without error."""
    out = home_path(out)
    _check(out, folder=folder, force=force)
    try:
        if folder:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{out.name}.partial-", dir=out.parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write: {exc.strerror}") from None
    try:
        yield tmp
        if not folder:
            tmp.chmod(0o644 & ~_umask())
        else:
            tmp.chmod(0o755 & ~_umask())
        _put_in_place(tmp, out)
    except BaseException:
        _remove(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def size_of(path: Path) -> int:
    """Bytes written: the file's size, or the sum over a folder's files."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
