"""The per-user cache: data that is slow to make and quick to look up (the parsed message catalogs, the compiled
templates), so that a command does not make it again at every start.

The folder is ``$DERIVE_CACHE_DIR`` if set (empty: no cache), else ``$XDG_CACHE_HOME/derive``, else
``~/.cache/derive``; never inside the package. An entry's name is a digest of everything the entry is made from
(the source's bytes, the versions of the tools that made it), so a changed source finds no entry rather than a stale
one. The cache never changes an output: an absent, unreadable or unwritable folder, or a damaged entry, only means
the data is made again. Entries are written atomically (a temporary file renamed into place); nothing removes old
ones, which are small.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

LAYOUT = 1
"""The version of the entries' layout, part of every entry's name: raise it when what an entry holds changes."""
ENV_FOLDER = "DERIVE_CACHE_DIR"


def folder() -> Path | None:
    """Where the cache lives (None: no cache), from the environment at the time of the call."""
    chosen = os.environ.get(ENV_FOLDER)
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative: ignored, as the XDG specification says
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "derive") if os.path.isabs(base) else None  # no home folder: no cache


def digest(*parts: str | bytes) -> str:
    """One SHA-256 over ``parts`` (each length-prefixed, so that no two lists of parts run together), with the
    layout version and Python's version in it."""
    hashed = hashlib.sha256(f"{LAYOUT} {sys.version}".encode())
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hashed.update(len(data).to_bytes(8, "big"))
        hashed.update(data)
    return hashed.hexdigest()


def read(kind: str, key: str) -> bytes | None:
    """The bytes of an entry, None when there is none or it cannot be read."""
    where = folder()
    if where is None:
        return None
    try:
        return (where / f"{kind}-{key}").read_bytes()
    except (OSError, ValueError):
        return None


def write(kind: str, key: str, data: bytes) -> None:
    """Store an entry; quietly nothing when the folder cannot be made or written."""
    where = folder()
    if where is None:
        return
    temp = None
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".tmp", dir=where)
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(temp, where / f"{kind}-{key}")
        temp = None
    except (OSError, ValueError):
        pass
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
