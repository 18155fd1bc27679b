"""Jinja environments and the one entry point that turns a `Walkthrough` into text in a format and language."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import DeriveError, InputError, shown
from ..files import shipped_folder
from .plots import plot_files

if TYPE_CHECKING:
    from ..backward import Derivation
    from ..walkthrough import Walkthrough

FORMATS = ("markdown", "latex", "beamer", "html", "json")
LANGUAGES = ("en", "ja")
EXTENSIONS = {"markdown": "md", "latex": "tex", "beamer": "tex", "html": "html", "json": "json"}
TEMPLATES = {"markdown": "markdown/walkthrough.md.j2", "latex": "latex/walkthrough.tex.j2",
             "beamer": "beamer/walkthrough.tex.j2"}


def templates_root() -> Path:
    return shipped_folder("templates")


@lru_cache(maxsize=16)
def environment(user_templates: str | None = None, tex: bool = False, html: bool = False):
    """A strict, sandboxed Jinja environment (`derive.present.templating`): a user's folder first, then the package's;
    LaTeX-friendly delimiters for .tex (``\\VAR{…}``, ``\\BLOCK{…}``, ``\\#{…}``) so that braces never clash;
    autoescaping for HTML pages."""
    import jinja2  # deferred: start-up time matters for the CLI

    from .templating import make_environment

    folders = [user_templates] if user_templates else []
    options: dict[str, Any] = dict(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=html)
    if tex:
        options.update(block_start_string=r"\BLOCK{", block_end_string="}", variable_start_string=r"\VAR{",
                       variable_end_string="}", comment_start_string=r"\#{", comment_end_string="}",
                       line_statement_prefix="%%", line_comment_prefix="%#", trim_blocks=True,
                       lstrip_blocks=True)
    return make_environment([*folders, str(templates_root())], **options)


MAX_FIGURE_NODES = 60  # a larger graph is not drawn: unreadable on a page, and the layout grows faster than linearly


def drawable(derivation: "Derivation") -> bool:
    return len(derivation.graph.nodes) <= MAX_FIGURE_NODES


def fill(name: str, context: Mapping[str, Any], user_templates: str | None = None, tex: bool = False,
         html: bool = False) -> str:
    """The template ``name`` filled in, bounded in time and size; a failure in a template of the user's folder is
    an input error naming the file and line (one in the package's templates is a bug and keeps its traceback)."""
    from .templating import render_bounded, template_error

    template = None
    try:
        template = environment(user_templates, tex, html).get_template(name)
        return render_bounded(template, context)
    except DeriveError:
        raise
    except Exception as exc:
        where = template.filename if template is not None and template.filename else name
        error = template_error(exc, where, user_templates) if user_templates else None
        if error is None:
            raise
        raise error from None


def stylesheet(user_templates: str | None = None) -> str:
    """The HTML pages' CSS (``html/style.css``, the user's if their folder has one)."""
    from markupsafe import Markup
    env = environment(user_templates, html=True)
    source, _, _ = env.loader.get_source(env, "html/style.css")
    return Markup(source.strip() + "\n")


def check_choice(fmt: str, lang: str) -> None:
    if fmt not in FORMATS:
        raise InputError.of("choice.format", name=shown(fmt), choices=", ".join(FORMATS))
    if lang not in LANGUAGES:
        raise InputError.of("choice.language", name=shown(lang), choices=", ".join(LANGUAGES))


def render(walk: "Walkthrough", fmt: str = "markdown", lang: str = "en", *, user_templates: str | None = None,
           figure_href: str | None = None) -> str:
    """The walk-through as text. ``figure_href`` names an SVG file beside a Markdown file (none: no figure)."""
    check_choice(fmt, lang)
    if fmt == "json":
        from .jsonout import to_json_data
        return json.dumps(to_json_data(walk), ensure_ascii=False, indent=2) + "\n"
    if fmt == "html":
        from .html import render_html
        return render_html(walk, lang, user_templates=user_templates)
    from .context import build_context
    context = build_context(walk, lang)
    if context["figure_note"] is None:
        context["figure"] = figure_href
    if fmt in ("latex", "beamer"):
        from .tex import tex_context
        context.update(tex_context(walk, lang, fmt))
    # "The graph below …" only where a graph follows: TeX draws it whenever it is small enough, Markdown only
    # when a figure file is written beside it (not on stdout).
    graph_follows = context["figure_note"] is None and (fmt != "markdown" or context["figure"] is not None)
    context["source_text"] = context["t"]["text.source" if graph_follows else "text.source_plain"]
    return tidy(fill(TEMPLATES[fmt], context, user_templates, fmt in ("latex", "beamer")))


def attachments(walk: "Walkthrough", fmt: str, figure_name: str | None) -> dict[str, bytes]:
    """The files a document refers to and that must sit beside it: the graph's SVG for Markdown, plots as SVG
    (Markdown) or PDF (LaTeX). HTML and JSON are self-contained."""
    files: dict[str, bytes] = {}
    if fmt == "markdown" and figure_name and drawable(walk.derivation):
        from .figure_svg import svg_for
        files[figure_name] = svg_for(walk.derivation).encode("utf-8")
    for image in walk.images:
        svg_name, pdf_name = image.files
        if fmt == "markdown":
            files[svg_name] = plot_files(image.plot)[0].encode("utf-8")
        elif fmt in ("latex", "beamer"):
            files[pdf_name] = plot_files(image.plot)[1]
    return files


def tidy(text: str) -> str:
    """Collapse runs of blank lines left by template control blocks; end with one newline."""
    lines, blank = [], 0
    for line in text.splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
