"""THE dispatcher: (document, format, language) → text, and the files that text refers to beside it.

A document is plain data from a model: a `Walkthrough` (scenarios, ``derive explain``), a `NetworkResult` or a
verification `Report`. Its `Kind` says how to make a template's context, its JSON data and its HTML page; the format
(`derive.present.formats.FORMATS`) says which template, with which delimiters, or JSON, or a page made from the
Markdown. No other module chooses by format name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..locales import catalog
from ..networks.backprop import NetworkResult
from ..verify.check import Report
from ..walkthrough import Walkthrough
from .context import build_context
from .figure_svg import svg_for
from .figures import MAX_FIGURE_NODES, drawable
from .formats import FORMATS, LANGUAGES, Format, check_choice
from .html import FIGURE_SENTINEL, SvgSource, image_source, markdown_to_html, page
from .jsonout import to_json_data
from .network import network_context, network_json, network_tex_context
from .report import report_context, report_json_data
from .templating import fill, templates_root, tidy
from .tex import tex_context

__all__ = ["render", "attachments", "kind_of", "drawable", "templates_root", "FORMATS", "LANGUAGES",
           "MAX_FIGURE_NODES", "Document"]

Document = Walkthrough | NetworkResult | Report


@dataclass(frozen=True)
class Kind:
    """How one kind of document becomes text: its template context in a format, its JSON data, its HTML page."""

    name: str  # a key of every Format's templates
    context: Callable[[Any, str, Format, str | None], dict[str, Any]]  # (document, lang, format, figure_href)
    json_data: Callable[[Any, str], dict[str, Any]]  # (document, lang)
    page: Callable[[Any, str], tuple[str, dict[str, Any]]]  # (document, lang) → the page's title and fields
    images: Callable[[Any], SvgSource | None] = lambda document: None  # the pictures the HTML page draws inline
    figure_href: str | None = None  # where the Markdown that becomes the page points at the graph


def _walkthrough_context(walk: Walkthrough, lang: str, fmt: Format, figure_href: str | None) -> dict[str, Any]:
    context = build_context(walk, lang)
    if context["figure_note"] is None:
        context["figure"] = figure_href
    if fmt.tex:
        context.update(tex_context(walk, lang, fmt.name))
    # "The graph below …" only where a graph follows: TeX draws it whenever it is small enough, other formats only
    # when a figure file is written beside them (not on stdout).
    graph_follows = context["figure_note"] is None and (fmt.tex or context["figure"] is not None)
    context["source_text"] = context["t"]["text.source" if graph_follows else "text.source_plain"]
    return context


def _walkthrough_page(walk: Walkthrough, lang: str) -> tuple[str, dict[str, Any]]:
    t = catalog(lang)
    return t.get(f"scenario.{walk.name}.title", t["title.explain"]), {"name": walk.name}


def _network_context(result: NetworkResult, lang: str, fmt: Format, figure_href: str | None) -> dict[str, Any]:
    context = network_context(result, lang)
    if fmt.tex:
        context.update(network_tex_context(result, lang, fmt.name))
    return context


def _report_context(report: Report, lang: str, fmt: Format, figure_href: str | None) -> dict[str, Any]:
    return report_context(report, lang, fmt.name)


KINDS: dict[type, Kind] = {
    Walkthrough: Kind("walkthrough", _walkthrough_context, lambda walk, lang: to_json_data(walk), _walkthrough_page,
                      image_source, FIGURE_SENTINEL),
    NetworkResult: Kind("network", _network_context, lambda result, lang: network_json(result),
                        lambda result, lang: (catalog(lang)["network.title"], {"name": "network"})),
    Report: Kind("report", _report_context, report_json_data,
                 lambda report, lang: (catalog(lang)["verify.title"],
                                       {"ok": report.ok, "exit_code": report.exit_code})),
}


def kind_of(document: Document) -> Kind:
    try:
        return KINDS[type(document)]
    except KeyError:
        raise TypeError(f"derive cannot render a {type(document).__name__}") from None


def render(document: Document, fmt: str = "markdown", lang: str = "en", *, user_templates: str | None = None,
           figure_href: str | None = None) -> str:
    """The document as text. ``figure_href`` names an SVG file beside a Markdown file (none: no figure)."""
    kind = kind_of(document)
    chosen = check_choice(kind.name, fmt, lang)
    if chosen.data:
        return json.dumps(kind.json_data(document, lang), ensure_ascii=False, indent=2) + "\n"
    if chosen.page_of is not None:
        text = render(document, chosen.page_of, lang, user_templates=user_templates, figure_href=kind.figure_href)
        title, fields = kind.page(document, lang)
        body = markdown_to_html(text, kind.images(document))
        return page(chosen.templates[kind.name], body, lang, title, user_templates, **fields)
    context = kind.context(document, lang, chosen, figure_href)
    return tidy(fill(chosen.templates[kind.name], context, user_templates, chosen.tex))


def attachments(document: Document, fmt: str, figure_name: str | None) -> dict[str, bytes]:
    """The files a document refers to and that must sit beside it: a walk-through's graph as SVG beside Markdown,
    its plots as SVG (Markdown) or PDF (LaTeX). HTML, JSON and the other kinds of documents are self-contained."""
    files: dict[str, bytes] = {}
    if not isinstance(document, Walkthrough):
        return files
    walk = document
    if fmt == "markdown" and figure_name and drawable(walk.derivation):
        files[figure_name] = svg_for(walk.derivation).encode("utf-8")
    for image in walk.images:
        if fmt == "markdown":
            files[image.name + ".svg"] = image.svg.encode("utf-8")
        elif fmt in ("latex", "beamer"):
            files[image.name + ".pdf"] = image.pdf
    return files
