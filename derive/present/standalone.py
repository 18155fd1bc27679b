"""One figure alone (``--figure``): a walk-through's computational graph, with forward values and gradients, as a file.

SVG comes from `derive.present.figure_svg` (the HTML pages' drawing). PDF is the TikZ picture the LaTeX documents
draw, typeset alone on a page its own size: the gallery's figure document (`derive.present.texfigures`, class
``standalone``) with that one picture, compiled by pdflatex. PNG is that PDF rasterised by ``pdftoppm`` (poppler)
at `PNG_DPI`.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InputError, message, shown
from ..walkthrough import Walkthrough
from .figure_limit import MAX_FIGURE_NODES, drawable
from .figure_svg import svg_for
from .figures import layout, to_tikz
from .pdf import TIMEOUT, latexmk_pdf, require_tool
from .texfigures import figure_document

FIGURE_FORMATS = ("svg", "pdf", "png")
PNG_DPI = 200
"""Resolution of a PNG figure: a graph 12 cm wide is about 950 pixels."""


def check_figure_format(kind: str) -> str:
    if kind not in FIGURE_FORMATS:
        raise InputError(message("lecture.figure", name=shown(kind), choices=", ".join(FIGURE_FORMATS)), "figure")
    return kind


def figure_bytes(document: Any, kind: str) -> bytes:
    """The graph of a walk-through as an SVG, PDF or PNG file's bytes."""
    check_figure_format(kind)
    if not isinstance(document, Walkthrough):
        raise InputError(message("lecture.figure_walkthrough"), "figure")
    derivation = document.derivation
    if not drawable(derivation):
        raise InputError(message("lecture.figure_too_large", count=len(derivation.graph.nodes),
                                 limit=MAX_FIGURE_NODES), "figure")
    if kind == "svg":
        return svg_for(derivation).encode("utf-8")
    if kind == "png":
        require_tool("pdftoppm")  # before TeX runs for a picture that could not be rasterised
    figures = figure_document([to_tikz(layout(derivation))])
    assert figures is not None  # a drawable graph has a picture
    pdf = latexmk_pdf(figures.source, name="figure")
    return pdf if kind == "pdf" else png_of(pdf)


def png_of(pdf: bytes, dpi: int = PNG_DPI) -> bytes:
    """The first page of a PDF as PNG, by poppler's pdftoppm."""
    pdftoppm = require_tool("pdftoppm")
    with tempfile.TemporaryDirectory(prefix="derive-png-") as tmp:
        source, target = Path(tmp) / "figure.pdf", Path(tmp) / "figure"
        source.write_bytes(pdf)
        subprocess.run([pdftoppm, "-png", "-r", str(dpi), "-singlefile", str(source), str(target)],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        return target.with_suffix(".png").read_bytes()
