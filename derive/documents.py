"""Saving a result: its document in a format and language, and the files it refers to beside it, atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from .errors import InputError
from .files import write_atomic

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".html": "html", ".htm": "html",
            ".json": "json"}


class Renderable(Protocol):
    def render(self, fmt: str = "markdown", lang: str = "en", user_templates: str | None = None,
               figure_href: str | None = None) -> str: ...

    def attachments(self, fmt: str, figure_name: str | None) -> dict[str, bytes]: ...


def format_of(path: Path) -> str:
    """The format a file name asks for (``notes.md``: markdown); Beamer slides need ``fmt="beamer"``."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(f"cannot tell the format from the name {path.name!r} (use .md, .tex, .html or .json, or "
                         "give the format)", "path") from None


def save(result: Renderable, path: str | Path, fmt: str | None = None, lang: str = "en",
         user_templates: str | None = None) -> tuple[Path, ...]:
    """Write the document to ``path`` and what it refers to beside it (a Markdown file's graph as ``NAME.svg``,
    plots); returns every path written, the document first. Nothing is written when rendering fails."""
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise InputError(f"{str(path)!r} is not a file name", "path")
    if path.is_dir():
        raise InputError(f"{path} is a folder", "path")
    fmt = fmt or format_of(path)
    figure = path.with_suffix(".svg").name
    text = result.render(fmt, lang, user_templates=user_templates, figure_href=figure)
    files = result.attachments(fmt, figure)
    for name, data in files.items():
        write_atomic(path.parent / name, data)
    write_atomic(path, text.encode("utf-8"))
    return (path, *(path.parent / name for name in files))
