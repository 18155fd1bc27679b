"""The Python API, mirroring the CLI: ``derive.explain(...)``, ``derive.scenario(name)``, ``derive.network(...)``,
``derive.verify_text(text)``; each returns the one `Result` type, which renders its document through
`derive.present.render`."""
from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Mapping, Sequence

import sympy

from . import verify
from .documents import save
from .errors import InputError, message
from .networks import explain_file, explain_text
from .networks.backprop import NetworkResult
from .networks.load import to_toml
from .present.figure_svg import svg_for
from .present.formats import check_language
from .present.lecture import tex_options
from .present.standalone import figure_bytes
from .present.tex import own_definitions
from .present.html import notebook_fragment
from .present.render import attachments, drawable, kind_of, render
from .scenarios import build
from .sympy_input import is_sympy, sympy_to_text
from .verify.check import Report
from .verify_run import run_verify  # noqa: F401  (the API offers it beside verify_text)
from .walkthrough import Walkthrough, explain_source, rerun


@dataclass(frozen=True, repr=False)
class Result:
    """A checked document that renders itself (also in Jupyter, VS Code and nbconvert): a walk-through, a network's
    derivation or a verification report. Every attribute of the document is the result's too (``result.loss``,
    ``report.exit_code``)."""

    document: Walkthrough | NetworkResult | Report
    lang: str = "en"  # the language of the notebook displays and the default of every to_...() method

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name == "document":  # (copy and pickle ask before `document` is set)
            raise AttributeError(name)
        return getattr(self.document, name)

    @property
    def walkthrough(self) -> Walkthrough:
        if not isinstance(self.document, Walkthrough):
            raise AttributeError("only a walk-through has a walkthrough")
        return self.document

    def __repr__(self) -> str:
        return kind_of(self.document).summary(self.document)

    def render(self, fmt: str = "markdown", lang: str | None = None, user_templates: str | None = None,
               figure_href: str | None = None, *, body_only: bool = False, steps: str | Sequence[int] | None = None,
               theme: str | None = None, aspect: str | None = None, paper: str | None = None) -> str:
        """The document as text in ``fmt``. A lecturer's controls of the LaTeX article and the Beamer slides:
        ``body_only`` (a fragment to ``\\input``), ``steps`` (the backward steps shown in full, ``"1-3,5"`` or
        numbers), ``theme`` and ``aspect`` ("16:9", "4:3") of slides, ``paper`` ("a4", "letter") of an article."""
        options = tex_options(body_only=body_only, steps=steps, theme=theme, aspect=aspect, paper=paper)
        return render(self.document, fmt, lang or self.lang, user_templates=user_templates, figure_href=figure_href,
                      options=options)

    def attachments(self, fmt: str, figure_name: str | None) -> dict[str, bytes]:
        """The files a document in ``fmt`` refers to beside it (the graph's SVG, plots), by file name."""
        return attachments(self.document, fmt, figure_name)

    def save(self, path: str | PathLike, fmt: str | None = None, lang: str | None = None, *, pdf: bool = False,
             body_only: bool = False, steps: str | Sequence[int] | None = None, theme: str | None = None,
             aspect: str | None = None, paper: str | None = None) -> tuple[Path, ...]:
        """Write the document to ``path`` in the format its suffix names (.md, .tex, .html, .json; ``fmt``
        overrides, e.g. "beamer"), with a walk-through's graph and plots beside a Markdown file; returns the paths
        written. ``pdf``: a .tex file is also compiled (latexmk) into the PDF beside it; the other keywords as
        for `render`."""
        options = tex_options(body_only=body_only, steps=steps, theme=theme, aspect=aspect, paper=paper)
        return save(self.document, path, fmt, lang or self.lang, options=options, pdf=pdf)

    def figure(self, kind: str = "svg") -> bytes:
        """The computational graph alone as an SVG, PDF (its TikZ picture, pdflatex) or PNG (that PDF through
        pdftoppm) file's bytes."""
        return figure_bytes(self.document, kind)

    def to_markdown(self, lang: str | None = None) -> str:
        return self.render("markdown", lang)

    def to_latex(self, lang: str | None = None) -> str:
        return self.render("latex", lang)

    def to_html(self, lang: str | None = None) -> str:
        return self.render("html", lang)

    def to_json(self, lang: str | None = None) -> str:
        return self.render("json", lang)

    def to_json_data(self) -> dict:
        return kind_of(self.document).json_data(self.document, self.lang)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        """The HTML page (MathML, the graph as inline SVG) as one element with its stylesheet scoped to it, so
        JupyterLab, VS Code and nbconvert show the same document without restyling the notebook."""
        return notebook_fragment(self.to_html())

    def _repr_latex_(self) -> str | None:
        """A walk-through's gradients as one displayed ``aligned`` block (MathJax in Jupyter; nbconvert's LaTeX export
        takes it as it is), a network's LaTeX document, no LaTeX display for a report."""
        display = kind_of(self.document).notebook_latex
        return self.to_latex() if display is None else display(self.document, self.lang)

    def svg(self) -> str:
        """The computational graph with forward values and gradients, as SVG."""
        return svg_for(self.walkthrough.derivation)

    def _repr_svg_(self) -> str | None:
        if not isinstance(self.document, Walkthrough) or not drawable(self.document.derivation):
            return None  # a network or a report, or a graph too large to draw: Jupyter shows the Markdown
        return self.svg()

    @property
    def gradients(self) -> dict[str, sympy.Expr | None]:
        return {name: g.value for name, g in self.walkthrough.derivation.gradients.items()}

    @property
    def values(self) -> dict[str, sympy.Expr] | None:
        values = self.walkthrough.derivation.values
        return dict(values) if values is not None else None


def network(source: str | PathLike | Mapping[str, object], lang: str = "en") -> Result:
    """A layered network: forward pass, δ recurrence, gradients and one update, all checked. ``source`` is the
    path of a TOML file, the TOML text itself (any string with a line break), or a dict of the same keys
    (``{"activation": "sigmoid", ..., "layer": [{"W": [[...]], "b": [...]}]}``; floats are read as the decimals
    Python prints, ``0.1`` as 1/10). ``lang`` is the language of its notebook display."""
    check_language(lang, "lang")
    if isinstance(source, Mapping):
        result = explain_text(to_toml(source), "<dict>")
    elif isinstance(source, str) and "\n" in source:
        result = explain_text(source, "<text>")
    elif isinstance(source, (str, PathLike)):
        result = explain_file(source)
    else:
        raise InputError(message("api.network_source", kind=type(source).__name__), "source")
    return Result(result, lang)


def verify_text(text: str, *, time_limit: float = 10.0, lang: str = "en") -> Result:
    """Check every claim of a document given as text (`derive.verify.verify_text`); the report renders itself."""
    check_language(lang, "lang")
    return Result(verify.verify_text(text, time_limit=time_limit, trusted=own_definitions), lang)


def verify_file(path: str | PathLike, *, time_limit: float = 10.0, lang: str = "en") -> Result:
    """The same for a file (at most 256 KiB; problems reading it are error reports, exit code 2)."""
    check_language(lang, "lang")
    return Result(verify.verify_path(path, time_limit=time_limit, trusted=own_definitions), lang)


def scenario(name: str, optimizer: str | None = None, step: Mapping[str, object] | str | None = None,
             lang: str = "en") -> Result:
    """A built-in scenario; for toast and linear-model, ``optimizer`` (and its hyper-parameters in ``step``)
    replaces the scenario's plain gradient-descent update; ``lang`` as for `explain`."""
    check_language(lang, "lang")
    walk = build(name)
    if optimizer is not None or step is not None:
        walk = rerun(walk, optimizer, step)
    return Result(walk, lang)


def explain(source: str | sympy.Expr, at: Mapping[object, object] | str | None = None,
            wrt: tuple[str, ...] | str | None = None, step: Mapping[str, object] | str | None = None,
            optimizer: str | None = None, lang: str = "en") -> Result:
    """Parse an expression or program, walk it backwards, check every step (and take descent steps, plain or
    with ``optimizer``: sgd, momentum, adagrad, rmsprop or adam, its hyper-parameters given in ``step``).

    ``source`` may be a SymPy expression: it is read node by node as SymPy built it, after SymPy's own
    evaluation (``x - y`` arrives as ``x + (-1)*y``); text keeps the nodes as typed. ``at`` maps names (or SymPy
    symbols) to numbers; decimals, as text or as Python floats, are read exactly (``0.1`` is 1/10). ``lang`` is
    the language of the notebook display and the default of the ``to_...()`` methods."""
    check_language(lang, "lang")
    if is_sympy(source):
        source = sympy_to_text(source)
    elif not isinstance(source, str):
        raise InputError(message("api.source", kind=type(source).__name__), "source")
    return Result(explain_source(source, at, wrt, step, optimizer), lang)
