"""THE registries of output formats, languages and TeX engines (plain data: no SymPy, no Jinja, so that the command
line can list its choices and start fast).

A `Format` names, for each kind of document it can hold (``walkthrough``, ``network``, ``report``, ``exercise``),
the template that writes it; `derive.present.render` is the one dispatcher that turns (document, format, language)
into text. A `Language` is a folder of catalogs (``locales/<code>/``) and the TeX engine that typesets it.
Adding a format or a language is one entry here (plus its templates or its locale folder): see docs/extending.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable, Mapping

from ..errors import InputError, message, shown

KINDS = ("walkthrough", "network", "report", "exercise")
"""The kinds of documents: a scenario's or an expression's walk-through, a network's, a verification report, and an
exercise sheet (a walk-through with blanks)."""

KIND_MODULES = {"Walkthrough": "derive.present.walkthrough", "NetworkResult": "derive.present.network",
                "Report": "derive.present.report"}
"""For each model's document type (by class name), the module whose ``KIND`` says how to present it. The dispatcher
loads a kind's module when a document of that kind is first rendered: `derive show` never loads the network and
verification modules (start-up time), and the models never import the presentation."""

FIGURE_SENTINEL = "derive-figure-placeholder.svg"
"""Where the Markdown that becomes an HTML page points at the graph (the page puts the drawing there)."""


def by_name(module: str, name: str) -> Callable[..., Any]:
    """The function ``name`` of ``module``, the module loaded on the first call: the back ends a format needs (HTML's
    Markdown stack, the SVG and TikZ drawings, the plots) load only when a document is written in that format, so
    that ``derive show`` to Markdown on stdout starts fast."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, loaded on first use."
    return call


@dataclass(frozen=True)
class Kind:
    """How one kind of document becomes text: its template context in a format, its JSON data, its HTML page."""

    name: str  # a key of every Format's templates
    context: Callable[..., dict[str, Any]]  # (document, lang, format, figure_href, lecture.TexOptions)
    json_data: Callable[[Any, str], dict[str, Any]]  # (document, lang)
    page: Callable[[Any, str], tuple[str, dict[str, Any]]]  # (document, lang) → the HTML page's title and fields
    images: Callable[[Any, str], Any] = lambda document, lang: None  # (document, lang) → the pictures the HTML
    # page draws inline (html.SvgSource)
    figure_href: str | None = None  # where the Markdown that becomes the HTML page points at the graph
    files: Callable[[Any, str, str | None], dict[str, bytes]] = lambda document, pictures, figure: {}
    # (document, what pictures a format wants beside it: "svg" or "pdf", the graph's file name) → the files beside it
    summary: Callable[[Any], str] = repr  # the one-line repr of a `derive.api.Result` holding the document
    notebook_latex: Callable[[Any, str], str | None] | None = None  # what Jupyter's LaTeX display shows (None: the
    # whole LaTeX document; a function may give a shorter display, or None for no LaTeX display)


@dataclass(frozen=True)
class Format:
    """One output format: its templates per kind of document and how its files are made."""
    name: str
    extension: str  # of the files the gallery and `save` write
    templates: Mapping[str, str] = field(default_factory=dict)  # kind → template (under templates/)
    tex: bool = False  # its templates use the LaTeX-friendly delimiters (\VAR{…}, \BLOCK{…})
    page_of: str | None = None  # a page made from the document in this other format (HTML from Markdown)
    data: bool = False  # the document's JSON data, not a template
    pictures: str | None = None  # the files a walk-through's graph and plots are beside it as ("svg", "pdf")
    suffixes: tuple[str, ...] = ()  # file names that ask for it in `save` (notes.md: markdown)
    file_suffix: str = ""  # added to the language in gallery file names (``ja-slides.tex``)
    gallery: bool = True  # the gallery writes its documents in this format
    kinds: tuple[str, ...] = ()  # the kinds it holds without a template of its own (JSON: every kind with data)

    def holds(self, kind: str) -> bool:
        return kind in self.templates or kind in self.kinds

    @property
    def language_neutral(self) -> bool:
        """One file for every language (JSON keeps numbers and maths, not prose)."""
        return self.data


_WALK_PAGE = "html/page.html.j2"

FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("text", "txt", {"report": "text/verify.txt.j2"}, gallery=False),
    Format("markdown", "md", {"walkthrough": "markdown/walkthrough.md.j2", "network": "markdown/network.md.j2",
                              "report": "markdown/verify.md.j2", "exercise": "markdown/exercise.md.j2"},
           pictures="svg", suffixes=(".md", ".markdown")),
    Format("latex", "tex", {"walkthrough": "latex/walkthrough.tex.j2", "network": "latex/network.tex.j2",
                            "report": "latex/verify.tex.j2", "exercise": "latex/exercise.tex.j2"},
           tex=True, pictures="pdf", suffixes=(".tex",)),
    Format("beamer", "tex", {"walkthrough": "beamer/walkthrough.tex.j2", "network": "beamer/network.tex.j2"},
           tex=True, pictures="pdf", file_suffix="-slides"),
    Format("html", "html", {"walkthrough": _WALK_PAGE, "network": _WALK_PAGE, "report": "html/verify.html.j2"},
           page_of="markdown", suffixes=(".html", ".htm")),
    Format("json", "json", data=True, suffixes=(".json",), kinds=("walkthrough", "network", "report")),
)}


SUFFIXES = {suffix: fmt.name for fmt in FORMATS.values() for suffix in fmt.suffixes}
"""The file names that ask for a format (``notes.md``: markdown); Beamer slides need ``fmt="beamer"``."""


@dataclass(frozen=True)
class TexEngine:
    """A TeX engine that compiles the LaTeX documents of some languages."""
    name: str
    packages: str  # what provides the engine and the LaTeX packages the documents use (the install hint)


TEX_ENGINES: dict[str, TexEngine] = {e.name: e for e in (
    TexEngine("pdflatex", "Debian/Ubuntu: texlive-latex-extra texlive-pictures; macOS: MacTeX"),
    TexEngine("lualatex", "Debian/Ubuntu: texlive-luatex texlive-lang-japanese; macOS: MacTeX"),
)}


@dataclass(frozen=True)
class Language:
    """One language of the documents: its catalog folder and its TeX engine."""
    code: str  # the locale folder, derive/locales/<code>/, and the HTML/BCP 47 language tag
    tex_engine: str  # a key of TEX_ENGINES: pdfLaTeX for Latin scripts, LuaLaTeX (luatexja) for Japanese


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (
    Language("en", "pdflatex"),
    Language("ja", "lualatex"),
)}


def formats_for(kind: str) -> tuple[str, ...]:
    """The names of the formats that hold documents of ``kind``, in registry order."""
    return tuple(name for name, fmt in FORMATS.items() if fmt.holds(kind))


def gallery_formats(kind: str) -> tuple[str, ...]:
    return tuple(name for name in formats_for(kind) if FORMATS[name].gallery)


def tex_engine(lang: str) -> str:
    """The TeX engine that typesets ``lang`` (``pdflatex``, ``lualatex``)."""
    return LANGUAGES[lang].tex_engine


def check_language(lang: str, parameter: str | None = None) -> None:
    """An input error naming the languages when ``lang`` is not one (about ``parameter`` where the API names it)."""
    if lang not in LANGUAGES:
        raise InputError(message("choice.language", name=shown(lang), choices=", ".join(LANGUAGES)), parameter)


def check_choice(kind: str, fmt: str, lang: str) -> Format:
    """The format ``fmt`` for a document of ``kind``; an input error naming the choices when either is unknown."""
    choices = formats_for(kind)
    if fmt not in choices:
        if kind == "exercise":
            raise InputError.of("exercise.format", formats=", ".join(choices), name=shown(fmt))
        key = "choice.verify_format" if kind == "report" else "choice.format"
        raise InputError.of(key, name=shown(fmt), choices=", ".join(choices))
    check_language(lang)
    return FORMATS[fmt]
