"""The catalogs' source files, TOML, parsed and merged into one flat ``{"section.key": text}``: loaded by
`derive.locales` by name, only when its per-user cache has no entry for the files (tomllib costs start-up time)."""
from __future__ import annotations

import tomllib
from typing import Any, Mapping


def merged(lang: str, sources: list[tuple[str, bytes]]) -> dict[str, str]:
    """The files, (name, bytes) in order, parsed and merged; a key defined by two files is an error."""
    flat: dict[str, str] = {}
    for name, data in sources:
        part = _flatten(tomllib.loads(data.decode("utf-8")))
        clash = flat.keys() & part.keys()
        if clash:
            raise ValueError(f"catalog {lang}: {name} redefines {sorted(clash)[0]}")
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
