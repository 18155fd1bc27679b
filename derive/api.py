"""The Python API, mirroring the CLI: ``derive.explain(...)``, ``derive.scenario(name)``, ``derive.network(...)``."""
from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import sympy

from .backward import derive
from .errors import InputError, message, shown
from .input_syntax import number_of, parse_pairs
from .notation import aligned_latex, number_text
from .parse import parse_program
from .sympy_input import is_sympy, sympy_to_text
from .walkthrough import Walkthrough, check_step_budget, make, rerun

if TYPE_CHECKING:
    from .networks.backprop import NetworkResult

MAX_STEPS = 1000
REPR_SOURCE_CHARS = 40
REPR_GRADIENTS = 6


@dataclass(frozen=True, repr=False)
class Result:
    """A checked walk-through that renders itself (also in Jupyter, VS Code and nbconvert)."""

    walkthrough: Walkthrough
    lang: str = "en"  # the language of the notebook displays and the default of every to_...() method

    def __repr__(self) -> str:
        walk, derivation = self.walkthrough, self.walkthrough.derivation
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

    def render(self, fmt: str = "markdown", lang: str = "en", **options: object) -> str:
        from .present.render import render
        return render(self.walkthrough, fmt, lang, **options)

    def attachments(self, fmt: str, figure_name: str | None) -> dict[str, bytes]:
        """The files a document in ``fmt`` refers to beside it (the graph's SVG, plots), by file name."""
        from .present.render import attachments
        return attachments(self.walkthrough, fmt, figure_name)

    def save(self, path: str | PathLike, fmt: str | None = None, lang: str | None = None) -> tuple[Path, ...]:
        """Write the walk-through to ``path`` in the format its suffix names (.md, .tex, .html, .json; ``fmt``
        overrides, e.g. "beamer"), with its graph and plots beside a Markdown file; returns the paths written."""
        from .documents import save
        return save(self, path, fmt, lang or self.lang)

    def to_markdown(self, lang: str | None = None) -> str:
        return self.render("markdown", lang or self.lang)

    def to_json(self) -> str:
        return self.render("json")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_latex(self, lang: str | None = None) -> str:
        return self.render("latex", lang or self.lang)

    def to_html(self, lang: str | None = None) -> str:
        return self.render("html", lang or self.lang)

    def _repr_html_(self) -> str:
        """The HTML page (MathML, the graph as inline SVG) as one element with its stylesheet scoped to it, so
        JupyterLab, VS Code and nbconvert show the same walk-through without restyling the notebook."""
        from .present.html import notebook_fragment
        return notebook_fragment(self.to_html())

    def _repr_latex_(self) -> str:
        """Every gradient as one displayed ``aligned`` block: Jupyter shows it with MathJax, and nbconvert's
        LaTeX export takes it as it is (a whole document would fit neither)."""
        from .present.context import build_context
        gradients = build_context(self.walkthrough, self.lang)["gradients"]
        return aligned_latex([g["equation"] for g in gradients])

    def svg(self) -> str:
        """The computational graph with forward values and gradients, as SVG."""
        from .present.figure_svg import svg_for
        return svg_for(self.walkthrough.derivation)

    def _repr_svg_(self) -> str | None:
        from .present.render import drawable
        if not drawable(self.walkthrough.derivation):
            return None  # too large to draw: Jupyter shows the Markdown
        return self.svg()

    @property
    def gradients(self) -> dict[str, sympy.Expr | None]:
        return {name: g.value for name, g in self.walkthrough.derivation.gradients.items()}

    @property
    def values(self) -> dict[str, sympy.Expr] | None:
        values = self.walkthrough.derivation.values
        return dict(values) if values is not None else None


def network(source: str | PathLike | Mapping[str, object], lang: str = "en") -> "NetworkResult":
    """A layered network: forward pass, δ recurrence, gradients and one update, all checked. ``source`` is the
    path of a TOML file, the TOML text itself (any string with a line break), or a dict of the same keys
    (``{"activation": "sigmoid", ..., "layer": [{"W": [[...]], "b": [...]}]}``; floats are read as the decimals
    Python prints, ``0.1`` as 1/10). ``lang`` is the language of its notebook display."""
    from dataclasses import replace

    from .networks import explain_file, explain_text
    _check_lang(lang)
    if isinstance(source, Mapping):
        from .networks.load import to_toml
        result = explain_text(to_toml(source), "<dict>")
    elif isinstance(source, str) and "\n" in source:
        result = explain_text(source, "<text>")
    elif isinstance(source, (str, PathLike)):
        result = explain_file(source)
    else:
        raise InputError(message("api.network_source", kind=type(source).__name__), "source")
    return replace(result, lang=lang)


def _check_lang(lang: str) -> None:
    from .present.render import LANGUAGES
    if lang not in LANGUAGES:
        raise InputError(message("api.language", lang=repr(shown(lang)), choices=", ".join(LANGUAGES)), "lang")


def scenario(name: str, optimizer: str | None = None, step: Mapping[str, object] | str | None = None,
             lang: str = "en") -> Result:
    """A built-in scenario; for toast and linear-model, ``optimizer`` (and its hyper-parameters in ``step``)
    replaces the scenario's plain gradient-descent update; ``lang`` as for `explain`."""
    from .scenarios import build
    _check_lang(lang)
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
    _check_lang(lang)
    if is_sympy(source):
        source = sympy_to_text(source)
    elif not isinstance(source, str):
        raise InputError(message("api.source", kind=type(source).__name__), "source")
    graph = parse_program(source, variables=tuple(parse_pairs(at, "at")) if at is not None else ())
    point = parse_point(at, graph.leaves) if at is not None else None
    wrt_names = tuple(n.strip() for n in wrt.split(",")) if isinstance(wrt, str) else wrt
    settings = None
    if optimizer is not None:
        from .optimizers import configure
        settings = configure(optimizer, step)
        learning_rate, steps = None, settings.steps
    else:
        learning_rate, steps = parse_step(step) if step is not None else (None, 1)
    if settings is not None or learning_rate is not None:
        check_step_budget(graph, steps)  # before the first walk: a large graph costs seconds even without steps
    derivation = derive(graph, point, tuple(map(str, wrt_names)) if wrt_names else None)
    return Result(make("explain", source.strip(), derivation, learning_rate=learning_rate, steps=steps,
                       optimizer=settings), lang)


def parse_point(at: Mapping[object, object] | str, leaves: tuple[str, ...]) -> dict[str, sympy.Rational]:
    pairs = parse_pairs(at, "at")
    unknown = [n for n in pairs if n not in leaves]
    if unknown:
        raise InputError(message("point.not_a_leaf", name=shown(unknown[0]), leaves=", ".join(leaves)), "at")
    missing = [n for n in leaves if n not in pairs]
    if missing:
        raise InputError(message("point.missing", names=", ".join(repr(m) for m in missing)), "at")
    return {name: number_of(pairs[name], f"at {name}") for name in leaves}


def parse_step(step: Mapping[str, object] | str) -> tuple[sympy.Rational, int]:
    pairs = parse_pairs(step, "step")
    unknown = [k for k in pairs if k not in ("lr", "steps")]
    if unknown:
        from .optimizers import DEFAULTS
        owners = [name for name, keys in DEFAULTS.items() if unknown[0] in dict(keys)]
        key = shown(unknown[0])
        problem = (message("step.unknown_key_of", setting=key, optimizers="/".join(owners)) if owners
                   else message("step.unknown_key", setting=key))
        raise InputError(problem, "step")
    if "lr" not in pairs:
        raise InputError(message("step.needs_lr"), "step")
    learning_rate = number_of(pairs["lr"], "step lr")
    if learning_rate <= 0:
        raise InputError(message("step.lr_positive", value=shown(pairs["lr"])), "step")
    steps_text = pairs.get("steps", "1")
    if not steps_text.isdigit() or len(steps_text) > 4 or not 1 <= int(steps_text) <= MAX_STEPS:
        raise InputError(message("step.steps", limit=MAX_STEPS, value=shown(steps_text)), "step")
    return learning_rate, int(steps_text)


def _clip(text: str) -> str:
    return text if len(text) <= REPR_SOURCE_CHARS else text[:REPR_SOURCE_CHARS - 3] + "..."
