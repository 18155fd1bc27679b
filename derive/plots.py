"""Deterministic matplotlib plots: the same figure gives the same SVG text and the same PDF bytes on every run.

Shared by every scenario that draws a plot (it becomes a `derive.walkthrough.Image` block). Use it like this::

    from derive.plots import new_figure, plot_svg_pdf
    figure = new_figure(6.0, 4.0)
    axes = figure.add_subplot()
    axes.plot(xs, ys)
    svg, pdf = plot_svg_pdf(figure)

What makes the files reproducible:

- no pyplot and no global backend switch: `new_figure` builds a bare `matplotlib.figure.Figure`, which draws with
  the Agg/SVG/PDF canvases directly (no GUI, no global figure list, nothing left open);
- the rc settings below are applied with `matplotlib.rc_context` while the figure is built (``with style():``)
  and while it is saved, so a user's ``matplotlibrc`` cannot change the bytes: ``svg.hashsalt`` fixed (the ids of
  clip paths and glyphs), text drawn as paths in the SVG (no font needed to view it), TrueType fonts embedded
  in the PDF (``pdf.fonttype`` 42), DejaVu Sans (shipped with matplotlib) as the only font;
- no dates, creator or producer strings in either file's metadata (``SOURCE_DATE_EPOCH`` is then irrelevant).

Text inside a plot should be language-neutral (names, maths such as ``$x$``): the caption, which comes from the
catalog, carries the prose.
"""
from __future__ import annotations

from contextlib import contextmanager
from io import BytesIO
from typing import Any, Iterator

HASHSALT = "derive"

RC: dict[str, Any] = {
    "svg.hashsalt": HASHSALT,
    "svg.fonttype": "path",
    "svg.image_inline": True,
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
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
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}


@contextmanager
def style() -> Iterator[None]:
    """The fixed rc settings, for building a figure (text sizes, fonts) as well as for saving it."""
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


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
    return svg.getvalue().decode("utf-8"), pdf.getvalue()
