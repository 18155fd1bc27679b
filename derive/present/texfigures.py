"""Each graph picture of the gallery's TeX documents typeset once.

A Beamer deck shows the graph once per backward step, and a folder of the gallery holds the same pictures in its
article and slides, in English and Japanese: TikZ typesetting them was most of the PDFs' compile time. The
gallery's .tex files keep their TikZ (each compiles on its own); when the gallery compiles them, every distinct
picture of a folder goes on one page of a figure document (``templates/latex/figures.tex.j2``, compiled once with
pdflatex and kept by content hash), and each document is compiled with its pictures replaced by
``\\includegraphics[page=N]`` of that PDF. The figure document is a function of the folder's .tex files only, so a
document's PDF is the same whether the figure PDF came from the cache or was compiled in this build.

The slides pin each step's picture to the complete graph's bounding box (``\\dvrecordbbox`` and ``\\dvsavegraph``
of ``templates/beamer/macros.tex.j2``); a picture keeps that role on its page: a recording page precedes the
pages pinned to it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable

from .figures import TIKZ_PREAMBLE
from .templating import fill

ENGINE = "pdflatex"
_PICTURE = re.compile(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)
_RECORD, _PIN = "\\dvrecordbbox{", "\\dvsavegraph{"
_NONE, _RECORDS, _PINNED = "", "dv record", "dv pin"


@dataclass(frozen=True)
class Page:
    picture: str
    style: str  # "" (as it is), "dv record" (remembers its bounding box) or "dv pin" (takes the remembered one)
    record: str = ""  # for "dv pin": the picture whose bounding box it takes


@dataclass(frozen=True)
class FigureDocument:
    source: str  # the figure document's LaTeX
    pages: tuple[Page, ...]

    @property
    def name(self) -> str:
        """A file name that says what the PDF holds: the hash of its source."""
        return "dvfigures-" + hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:32] + ".pdf"


def occurrences(tex: str) -> list[tuple[re.Match, Page]]:
    """Every picture of a document with its role: the macro it is an argument of, which opens the line before it
    (``\\dvsavegraph{3}{\\resizebox{…}{!}{%``)."""
    out: list[tuple[re.Match, Page]] = []
    record = ""
    for match in _PICTURE.finditer(tex):
        line = tex[tex.rfind("\n", 0, max(match.start() - 1, 0)) + 1:match.start()]
        picture = match.group()
        if line.startswith(_RECORD):
            page, record = Page(picture, _RECORDS), picture
        elif line.startswith(_PIN) and record:
            page = Page(picture, _PINNED, record)
        else:
            page = Page(picture, _NONE)
        out.append((match, page))
    return out


def figure_document(texts: Iterable[str]) -> FigureDocument | None:
    """The figure document of a folder's .tex files (None when they have no pictures): each distinct (picture,
    role) once, in order of first use, a pinned picture right after the recording it takes its box from."""
    found = [page for tex in texts for _, page in occurrences(tex)]
    records = {page.picture for page in found if page.style == _RECORDS}
    pages: list[Page] = []
    seen: set[Page] = set()
    last_record = None
    for page in (_canonical(page, records) for page in found):
        if page in seen:
            continue
        if page.style == _PINNED and last_record != page.record:
            pages.append(Page(page.record, _RECORDS))  # once more: another recording came in between
            last_record = page.record
        seen.add(page)
        pages.append(page)
        if page.style == _RECORDS:
            last_record = page.picture
    if not pages:
        return None
    source = fill("latex/figures.tex.j2", {"engine_line": f"% !TEX program = {ENGINE}", "pages": pages,
                                           "tikz_preamble": TIKZ_PREAMBLE.rstrip("\n")}, tex=True)
    return FigureDocument(source, tuple(pages))


def _canonical(page: Page, records: set[str]) -> Page:
    """A picture shown as it is and also recorded for the slides' pins is typeset once, on its recording page
    (recording changes nothing on the page)."""
    return Page(page.picture, _RECORDS) if page.style == _NONE and page.picture in records else page


def externalized(tex: str, figures: FigureDocument) -> str:
    """The document with each picture replaced by its page of the figure PDF."""
    number: dict[Page, int] = {}
    for index, page in enumerate(figures.pages, 1):
        number.setdefault(page, index)
    records = {page.picture for page in figures.pages if page.style == _RECORDS}
    out, end = [], 0
    for match, page in occurrences(tex):
        out.append(tex[end:match.start()])
        out.append(f"\\includegraphics[page={number[_canonical(page, records)]}]{{{figures.name}}}")
        end = match.end()
    out.append(tex[end:])
    return "".join(out)
