"""Saving a document (a walk-through, a network's, a report): in a format and language, and the files it refers to
beside it, atomically; a TeX document also compiled to PDF (``--pdf``), or a walk-through's graph alone
(``--figure``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import InputError, message, shown
from .files import Output, check_name, is_stream, write_outputs
from .present.formats import FORMATS, SUFFIXES
from .present.lecture import PLAIN, TexOptions
from .present.pdf import latexmk_pdf
from .present.render import attachments, render
from .present.standalone import figure_bytes

def format_of(path: Path) -> str:
    """The format a file name asks for (``notes.md``: markdown); Beamer slides need ``fmt="beamer"``."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(message("file.format_of_name", name=repr(shown(path.name))), "path") from None


def save(document: Any, path: str | Path, fmt: str | None = None, lang: str = "en",
         user_templates: str | None = None, inputs: Sequence[str] = (), option: str = "path", *,
         options: TexOptions = PLAIN, pdf: bool = False,
         check: Callable[[str], object] | None = None) -> tuple[Path, ...]:
    """Write the document to ``path`` and what it refers to beside it (a Markdown file's graph as ``NAME.svg``,
    plots) by the output policy of `derive.files`; returns every path written, the document first. A device or FIFO
    gets what standard output would: the document alone. ``options`` are a lecturer's settings of a TeX document;
    ``pdf``: a whole TeX document named ``*.tex`` is also compiled (latexmk) into the PDF beside it; ``check`` is
    given the document's text before anything is written (the truth loop reads it as written). Nothing is written
    when rendering, compiling or any check fails."""
    name = str(path)
    check_name(name, option)
    if os.path.isdir(name):  # (Path.is_dir raises on a name that is too long)
        raise InputError(message("file.is_folder", name=shown(name)), option)
    fmt = fmt or format_of(Path(name))
    to_file = not is_stream(name)
    if pdf:
        _check_pdf(name, fmt, options, to_file)
    figure = Path(name).with_suffix(".svg").name if to_file else None
    text = render(document, fmt, lang, user_templates=user_templates, figure_href=figure, options=options)
    if check is not None:
        check(text)
    folder = Path(name).parent
    files = attachments(document, fmt, figure) if to_file else {}
    beside = [Output(str(folder / file), data, attachment=True) for file, data in files.items()]
    if pdf:
        beside.append(Output(str(Path(name).with_suffix(".pdf")), latexmk_pdf(text, files, Path(name).name)))
    write_outputs([Output(name, text.encode("utf-8")), *beside], inputs, option)
    return (Path(name), *(Path(output.path) for output in beside))


def _check_pdf(name: str, fmt: str, options: TexOptions, to_file: bool) -> None:
    if not FORMATS[fmt].tex:
        raise InputError(message("lecture.tex_only"), "pdf")
    if options.body_only:
        raise InputError(message("lecture.pdf_fragment"), "pdf")
    if not to_file or Path(name).suffix.lower() != ".tex":
        raise InputError(message("lecture.pdf_output"), "pdf")


def save_figure(document: Any, path: str | Path, kind: str, inputs: Sequence[str] = (),
                option: str = "path") -> Path:
    """Write a walk-through's graph alone to ``path`` as ``kind`` (svg, pdf, png: `derive.present.standalone`)."""
    name = str(path)
    check_name(name, option)
    if os.path.isdir(name):
        raise InputError(message("file.is_folder", name=shown(name)), option)
    write_outputs([Output(name, figure_bytes(document, kind))], inputs, option)
    return Path(name)
