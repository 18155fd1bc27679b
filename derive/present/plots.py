"""Deterministic matplotlib plots: the same figure gives the same SVG text and the same PDF bytes on every run.

A scenario describes its plot as plain data (`derive.walkthrough.Plot` in an `Image` block); `plot_files` draws
it when a document is rendered, always with the same calls in the same order::

    svg, pdf = plot_files(image.plot)

(`new_figure` and `plot_svg_pdf` draw any other figure the same reproducible way.)

What makes the files reproducible:

- no pyplot and no global backend switch: `new_figure` builds a bare `matplotlib.figure.Figure`, which draws with
  the Agg/SVG/PDF canvases directly (no GUI, no global figure list, nothing left open);
- the rc settings below are applied with `matplotlib.rc_context` while the figure is built (``with style():``)
  and while it is saved, so a user's ``matplotlibrc`` cannot change the bytes: ``svg.hashsalt`` fixed (the ids of
  clip paths and glyphs), text drawn as paths in the SVG (no font needed to view it), TrueType fonts embedded
  in the PDF (``pdf.fonttype`` 42), the fonts shipped with matplotlib (Computer Modern, cmr10 and the ``cm``
  maths set, as the documents are typeset, with DejaVu Serif for characters cmr10 lacks) and, for Japanese only,
  a Noto CJK font when one is installed (last in the fallback list: it draws nothing else);
- no dates or producer strings in either file's metadata (``SOURCE_DATE_EPOCH`` is then irrelevant); the SVG
  carries `derive.files.SVG_MARK` and the PDF's Creator is `derive.files.GENERATED_MARK`, so that ``-o`` may
  replace them later (it replaces only files derive wrote).

Text inside a plot should be language-neutral (names, maths such as ``$x$``): the caption, which comes from the
catalog, carries the prose.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..files import GENERATED_MARK, SVG_MARK

if TYPE_CHECKING:
    from ..walkthrough import Plot

HASHSALT = "derive"

RC: dict[str, Any] = {
    "svg.hashsalt": HASHSALT,
    "svg.fonttype": "path",
    "svg.image_inline": True,
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "font.family": ["cmr10", "DejaVu Serif"],  # Computer Modern, as the documents; DejaVu for what cmr10 lacks
    "mathtext.fontset": "cm",
    "axes.formatter.use_mathtext": True,  # tick labels as maths: cmr10 has no minus sign, Computer Modern maths has
    "axes.unicode_minus": True,
    "path.simplify": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": None,
    "savefig.transparent": False,
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
}

SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": GENERATED_MARK, "Producer": None}


def _quiet_matplotlib() -> None:
    """Before matplotlib is imported: when its default config or cache folder cannot be written (a read-only
    HOME), point ``MPLCONFIGDIR`` at a temporary folder of our own, which matplotlib would otherwise do itself
    with warnings on stderr; and keep its font-cache notice off stderr (derive's stderr is its error line)."""
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # the Computer Modern fonts carry old timestamps
    if os.environ.get("MPLCONFIGDIR"):
        return
    try:
        home = Path.home()
        folders = [Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "matplotlib",
                   Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib"]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK):
                raise PermissionError(folder)
    except (OSError, RuntimeError):
        folder = tempfile.mkdtemp(prefix="derive-matplotlib-")
        atexit.register(shutil.rmtree, folder, True)
        os.environ["MPLCONFIGDIR"] = folder


@contextmanager
def style() -> Iterator[None]:
    """The fixed rc settings, for building a figure (text sizes, fonts) as well as for saving it."""
    if "matplotlib" not in sys.modules:
        _quiet_matplotlib()
    import matplotlib

    with matplotlib.rc_context({**RC, "font.family": RC["font.family"] + _japanese_fonts()}):
        yield


JAPANESE_FONTS = ("Noto Serif CJK JP", "Noto Sans CJK JP")


@lru_cache(maxsize=1)
def _japanese_fonts() -> list[str]:
    """The first Noto CJK font installed, last in the fallback list: it draws only characters that the Computer Modern
    and DejaVu fonts lack (Japanese), so a plot without them is the same file with or without it."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in JAPANESE_FONTS if name in installed][:1]


def new_figure(width: float, height: float, **options: Any):
    """A bare figure of ``width`` × ``height`` inches (no pyplot: nothing global, nothing to close)."""
    from matplotlib.figure import Figure

    with style():
        return Figure(figsize=(width, height), layout=options.pop("layout", "constrained"), **options)


def plot_svg_pdf(figure) -> tuple[str, bytes]:
    """The figure as SVG text and PDF bytes, byte-identical on every call and every run."""
    with style():
        svg = BytesIO()
        figure.savefig(svg, format="svg", metadata=SVG_METADATA)
        pdf = BytesIO()
        figure.savefig(pdf, format="pdf", metadata=PDF_METADATA)
    declaration, rest = svg.getvalue().decode("utf-8").split("\n", 1)
    return f"{declaration}\n{SVG_MARK}\n{rest}", pdf.getvalue()


def draw(plot: Plot) -> tuple[str, bytes]:
    """A `Plot` as SVG text and PDF bytes: contours, then lines, then limits, labels, ticks, grid and legend."""
    import numpy

    with style():
        figure = new_figure(plot.width, plot.height)
        axes = figure.add_subplot()
        for contours in plot.contours:
            xs, ys = numpy.meshgrid(numpy.linspace(*contours.x_range, contours.samples),
                                    numpy.linspace(*contours.y_range, contours.samples))
            axes.contour(xs, ys, 0.5 * (contours.a * xs ** 2 + contours.b * ys ** 2), levels=list(contours.levels),
                         **dict(contours.options))
        line = axes.semilogy if plot.log_y else axes.plot
        for series in plot.series:
            options = dict(series.options) | ({"label": series.label} if series.label is not None else {})
            line(list(series.xs), list(series.ys), *((series.style,) if series.style else ()), **options)
        if plot.x_limits is not None:
            axes.set_xlim(*plot.x_limits)
        if plot.y_limits is not None:
            axes.set_ylim(*plot.y_limits)
        if plot.equal_aspect:
            axes.set_aspect("equal")
        if plot.x_label:
            axes.set_xlabel(plot.x_label)
        if plot.y_label:
            axes.set_ylabel(plot.y_label)
        if plot.x_ticks is not None:
            axes.set_xticks(list(plot.x_ticks))
        if plot.grid is not None:
            axes.grid(True, **dict(plot.grid))
        if plot.legend is not None:
            axes.legend(**dict(plot.legend))
    return plot_svg_pdf(figure)


@lru_cache(maxsize=16)
def plot_files(plot: Plot) -> tuple[str, bytes]:
    """`draw`, once per plot: every format and language of a build writes the same files."""
    return draw(plot)
