"""How a `Walkthrough` (a scenario, ``derive explain``) is presented: its template context in a format, its JSON, its
HTML page, its one-line summary and its notebook display (the dispatcher, `derive.present.render`, uses `KIND`)."""
from __future__ import annotations

from typing import Any

from ..locales import catalog
from ..notation import aligned_latex, number_text
from ..walkthrough import Walkthrough
from .blocks import blocks, vector_name
from .context import build_context
from .figure_limit import drawable
from .formats import FIGURE_SENTINEL, Format, Kind, by_name
from .lecture import PLAIN, TexOptions
from .jsonout import to_json_data

tex_context = by_name("derive.present.tex", "tex_context")
image_source = by_name("derive.present.html", "image_source")
svg_for = by_name("derive.present.figure_svg", "svg_for")
plot_files = by_name("derive.present.plots", "plot_files")
vector_svg = by_name("derive.present.block_figure", "vector_svg")

REPR_SOURCE_CHARS = 40
REPR_GRADIENTS = 6


def walkthrough_context(walk: Walkthrough, lang: str, fmt: Format, figure_href: str | None,
                        options: TexOptions = PLAIN) -> dict[str, Any]:
    context = build_context(walk, lang)
    if context["figure_note"] is None:
        context["figure"] = figure_href
    batch = context["figure_note"] is None and blocks(walk.derivation.graph) is not None
    context["vector_figure"] = vector_name(figure_href) if batch and figure_href is not None else None
    if fmt.tex:
        context.update(tex_context(walk, lang, fmt.name, options))
    # "The graph below …" only where a graph follows: TeX draws it whenever it is small enough, other formats only
    # when a figure file is written beside them (not on stdout).
    graph_follows = context["figure_note"] is None and (fmt.tex or context["figure"] is not None)
    context["source_text"] = context["t"]["text.source" if graph_follows else "text.source_plain"]
    return context


def files(walk: Walkthrough, pictures: str, figure_name: str | None) -> dict[str, bytes]:
    """The graph as SVG beside Markdown, and each plot as SVG or PDF."""
    out: dict[str, bytes] = {}
    if pictures == "svg" and figure_name and drawable(walk.derivation):
        out[figure_name] = svg_for(walk.derivation).encode("utf-8")
        vector = vector_svg(walk.derivation)
        if vector is not None:
            out[vector_name(figure_name)] = vector.encode("utf-8")
    for image in walk.images:
        svg_name, pdf_name = image.files
        if pictures == "svg":
            out[svg_name] = plot_files(image.plot)[0].encode("utf-8")
        else:
            out[pdf_name] = plot_files(image.plot)[1]
    return out


def page(walk: Walkthrough, lang: str) -> tuple[str, dict[str, Any]]:
    t = catalog(lang)
    # the HTML page's graph comes with its step-through whenever it is drawn
    return t.get(f"scenario.{walk.name}.title", t["title.explain"]), {"name": walk.name,
                                                                      "stepthrough": drawable(walk.derivation)}


def summary(walk: Walkthrough) -> str:
    derivation = walk.derivation
    what = walk.name if walk.name != "explain" else repr(_clip(" ".join(walk.source.split())))
    value = derivation.output_value
    if value is None:
        gradients, result = list(derivation.wrt), "symbolic, gradients of"
    else:
        gradients = [f"{name}={number_text(derivation.gradients[name].value)}" for name in derivation.wrt]
        result = f"{number_text(value)}, gradients"
    more = ", ..." if len(gradients) > REPR_GRADIENTS else ""
    return (f"<derive.Result {what}: {len(derivation.graph.nodes)} nodes, {derivation.output} = {result} "
            f"{', '.join(gradients[:REPR_GRADIENTS])}{more}>")


def gradients_display(walk: Walkthrough, lang: str) -> str:
    """Every gradient as one displayed ``aligned`` block: Jupyter shows it with MathJax, and nbconvert's LaTeX export
    takes it as it is (a whole document would fit neither)."""
    return aligned_latex([g["equation"] for g in build_context(walk, lang)["gradients"]])


def _clip(text: str) -> str:
    return text if len(text) <= REPR_SOURCE_CHARS else text[:REPR_SOURCE_CHARS - 3] + "..."


KIND = Kind("walkthrough", walkthrough_context, lambda walk, lang: to_json_data(walk), page, image_source,
            FIGURE_SENTINEL, files, summary, gradients_display)
