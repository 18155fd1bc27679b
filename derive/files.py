"""Atomic file writes: a reader (or an interrupted build) sees the old file or the new one, never a part."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def _file_mode() -> int:
    mask = os.umask(0)  # the only way to read the umask is to set it; done once, at import, before any thread
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()
"""What ``open(path, "w")`` would give (temporary files are created 0600)."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder and rename it over ``path``."""
    if not path.name or path.is_dir():
        raise InputError(f"{path} is a folder", "path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"the folder {parent} does not exist", "path")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        elif isinstance(exc, OSError):  # no temporary file: the folder cannot be written to
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
