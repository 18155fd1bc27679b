"""THE dispatcher: (document, format, language) → text, and the files that text refers to beside it.

A document is plain data from a model: a `Walkthrough` (scenarios, ``derive explain``), a `NetworkResult` or a
verification `Report`. Its `Kind` (the ``KIND`` of the module `derive.present.formats.KIND_MODULES` names for its
type) says how to make a template's context, its JSON data and its HTML page; the `Format` says which template, with
which delimiters, or JSON, or a page made from the Markdown. No other module chooses by format name.
"""
from __future__ import annotations

import json
from importlib import import_module
from typing import Any

from .figure_limit import MAX_FIGURE_NODES, drawable
from .formats import FORMATS, KIND_MODULES, LANGUAGES, Kind, by_name, check_choice
from .lecture import PLAIN, TexOptions, check_applies, template_fields
from .templating import fill, templates_root, tidy

__all__ = ["render", "attachments", "kind_of", "drawable", "templates_root", "FORMATS", "LANGUAGES",
           "MAX_FIGURE_NODES"]

# the back ends of HTML pages and of the files beside a document, loaded when first used (start-up time)
markdown_to_html = by_name("derive.present.html", "markdown_to_html")
page = by_name("derive.present.html", "page")


def kind_of(document: Any) -> Kind:
    """The `Kind` of a document, its module loaded on first use."""
    module = KIND_MODULES.get(type(document).__name__)
    if module is None:
        raise TypeError(f"derive cannot render a {type(document).__name__}")
    return import_module(module).KIND


def render(document: Any, fmt: str = "markdown", lang: str = "en", *, user_templates: str | None = None,
           figure_href: str | None = None, options: TexOptions = PLAIN) -> str:
    """The document as text. ``figure_href`` names an SVG file beside a Markdown file (none: no figure);
    ``options`` are a lecturer's settings of a TeX document (`derive.present.lecture`)."""
    kind = kind_of(document)
    chosen = check_choice(kind.name, fmt, lang)
    check_applies(options, fmt, chosen.tex, kind.name)
    if chosen.data:
        return json.dumps(kind.json_data(document, lang), ensure_ascii=False, indent=2) + "\n"
    if chosen.page_of is not None:
        text = render(document, chosen.page_of, lang, user_templates=user_templates, figure_href=kind.figure_href)
        title, fields = kind.page(document, lang)
        body = markdown_to_html(text, kind.images(document, lang))
        return page(chosen.templates[kind.name], body, lang, title, user_templates, **fields)
    context = kind.context(document, lang, chosen, figure_href, options)
    if chosen.tex:
        context.update(template_fields(options, context.get("preamble", ""), context.get("engine", "")))
    return tidy(fill(chosen.templates[kind.name], context, user_templates, chosen.tex))


def attachments(document: Any, fmt: str, figure_name: str | None) -> dict[str, bytes]:
    """The files a document refers to and that must sit beside it (its `Kind` says which): a walk-through's graph
    and plots, a network's diagram, as SVG (Markdown) or PDF (LaTeX: TeX draws graphs and diagrams itself). HTML
    and JSON are self-contained."""
    pictures = FORMATS[fmt].pictures
    if pictures is None:
        return {}
    return kind_of(document).files(document, pictures, figure_name)
