"""Jinja environments and the one entry point that turns a `Walkthrough` into text in a format and language."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError
from .walkthrough import Walkthrough

FORMATS = ("markdown", "json")
LANGUAGES = ("en", "ja")
_EXTENSIONS = {"markdown": "md", "json": "json"}


def templates_root() -> Path:
    """The package's templates: shipped as ``derive.templates`` in a wheel, ``templates/`` in a checkout."""
    try:
        root = resources.files("derive.templates")
        if root.is_dir():
            return Path(str(root))
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=8)
def environment(user_templates: str | None = None):
    import jinja2  # deferred: start-up time matters for the CLI

    loaders = [jinja2.FileSystemLoader(user_templates)] if user_templates else []
    loaders.append(jinja2.FileSystemLoader(str(templates_root())))
    return jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False,
                              autoescape=False)


def render(walk: Walkthrough, fmt: str = "markdown", lang: str = "en", *, user_templates: str | None = None,
           extra_context: dict[str, Any] | None = None) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
    if lang not in LANGUAGES:
        raise InputError(f"unknown language '{lang}' (choose from {', '.join(LANGUAGES)})")
    if fmt == "json":
        from .jsonout import to_json_data
        return json.dumps(to_json_data(walk), ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    from .context import build_context
    context = build_context(walk, lang)
    context.update(extra_context or {})
    text = environment(user_templates).get_template(f"{fmt}/walkthrough.{_EXTENSIONS[fmt]}.j2").render(context)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Collapse runs of blank lines left by template control blocks; end with one newline."""
    lines, blank = [], 0
    for line in text.splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
