"""The prose catalogs: ``locales/<lang>/*.toml``, merged into one flat ``{"section.key": text}`` per language
(no SymPy here: `derive list` reads them and must start fast)."""
from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping


@lru_cache(maxsize=None)
def catalog(lang: str) -> Mapping[str, str]:
    """The flat ``{"section.key": text}`` catalog of a language, merged from ``locales/<lang>/*.toml``."""
    folder = resources.files("derive.locales").joinpath(lang)
    flat: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            part = _flatten(tomllib.loads(entry.read_text(encoding="utf-8")))
            clash = flat.keys() & part.keys()
            if clash:
                raise ValueError(f"catalog {lang}: {entry.name} redefines {sorted(clash)[0]}")
            flat.update(part)
    return flat


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
