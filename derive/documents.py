"""Saving a document (a walk-through, a network's, a report): in a format and language, and the files it refers to beside it, atomically."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from .errors import InputError, message, shown
from .files import Output, check_name, is_stream, write_outputs
from .present.formats import FORMATS
from .present.render import attachments, render

SUFFIXES = {suffix: fmt.name for fmt in FORMATS.values() for suffix in fmt.suffixes}
"""The file names that ask for a format (``notes.md``: markdown); Beamer slides need ``fmt="beamer"``."""


def format_of(path: Path) -> str:
    """The format a file name asks for (``notes.md``: markdown); Beamer slides need ``fmt="beamer"``."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(message("file.format_of_name", name=repr(shown(path.name))), "path") from None


def save(document: Any, path: str | Path, fmt: str | None = None, lang: str = "en",
         user_templates: str | None = None, inputs: Sequence[str] = (), option: str = "path") -> tuple[Path, ...]:
    """Write the document to ``path`` and what it refers to beside it (a Markdown file's graph as ``NAME.svg``,
    plots) by the output policy of `derive.files`; returns every path written, the document first. A device or FIFO
    gets what standard output would: the document alone. Nothing is written when rendering or any check fails."""
    name = str(path)
    check_name(name, option)
    if os.path.isdir(name):  # (Path.is_dir raises on a name that is too long)
        raise InputError(message("file.is_folder", name=shown(name)), option)
    fmt = fmt or format_of(Path(name))
    to_file = not is_stream(name)
    figure = Path(name).with_suffix(".svg").name if to_file else None
    text = render(document, fmt, lang, user_templates=user_templates, figure_href=figure)
    folder = Path(name).parent
    beside = [Output(str(folder / file), data, attachment=True)
              for file, data in (attachments(document, fmt, figure).items() if to_file else ())]
    write_outputs([Output(name, text.encode("utf-8")), *beside], inputs, option)
    return (Path(name), *(Path(output.path) for output in beside))
