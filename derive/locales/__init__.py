"""The prose catalogs: ``locales/<lang>/*.toml``, merged into one flat ``{"section.key": text}`` per language
(no SymPy here: `derive list` reads them and must start fast). A merged catalog is kept in the per-user cache
(`derive.usercache`) under a digest of its files' bytes, so that a start reads one JSON entry instead of parsing
every TOML file (`SOURCES`, loaded by name, parses them when the cache has no entry); the entry is the same dict,
in the same order."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import import_module, resources
from typing import Mapping

from .. import usercache

CACHE_KIND = "catalog"
SOURCES = "derive.locales.sources"


@lru_cache(maxsize=None)
def catalog(lang: str) -> Mapping[str, str]:
    """The flat ``{"section.key": text}`` catalog of a language, merged from ``locales/<lang>/*.toml``."""
    files = catalog_files(lang)
    merger = resources.files("derive.locales").joinpath("sources.py").read_bytes()  # a change to it: a new key
    key = usercache.digest(lang, merger, *(part for name, data in files for part in (name, data)))
    cached = _from_cache(key)
    if cached is not None:
        return cached
    flat = import_module(SOURCES).merged(lang, files)
    usercache.write(CACHE_KIND, key, json.dumps(flat, ensure_ascii=False).encode("utf-8"))
    return flat


def catalog_files(lang: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of each TOML file of a language, by name."""
    folder = resources.files("derive.locales").joinpath(lang)
    return [(entry.name, entry.read_bytes()) for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".toml")]


def _from_cache(key: str) -> dict[str, str] | None:
    data = usercache.read(CACHE_KIND, key)
    if data is None:
        return None
    try:
        flat = json.loads(data.decode("utf-8"))
    except ValueError:  # a damaged entry (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        return None
    return flat if isinstance(flat, dict) else None
