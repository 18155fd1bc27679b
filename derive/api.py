"""The Python API, mirroring the CLI: ``derive.explain(...)`` and ``derive.scenario(name)``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import sympy

from .backward import derive
from .errors import InputError, shown
from .parse import parse_number, parse_program
from .walkthrough import Walkthrough, check_step_budget, make

if TYPE_CHECKING:
    from .network_math import NetworkResult

MAX_STEPS = 1000


@dataclass(frozen=True)
class Result:
    """A checked walk-through that renders itself (also in Jupyter)."""

    walkthrough: Walkthrough

    def render(self, fmt: str = "markdown", lang: str = "en", **options: object) -> str:
        from .render import render
        return render(self.walkthrough, fmt, lang, **options)

    def to_markdown(self, lang: str = "en") -> str:
        return self.render("markdown", lang)

    def to_json(self) -> str:
        return self.render("json")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_latex(self, lang: str = "en") -> str:
        return self.render("latex", lang)

    def to_html(self, lang: str = "en") -> str:
        return self.render("html", lang)

    def _repr_latex_(self) -> str:
        """Every gradient as one displayed ``aligned`` block: Jupyter shows it with MathJax, and nbconvert's
        LaTeX export takes it as it is (a whole document would fit neither)."""
        from .context import build_context
        rows = [g["equation"].replace(" = ", " &= ", 1) for g in build_context(self.walkthrough, "en")["gradients"]]
        return "$$\\begin{aligned}\n" + " \\\\[2pt]\n".join(rows) + "\n\\end{aligned}$$"

    def svg(self) -> str:
        """The computational graph with forward values and gradients, as SVG."""
        from .figure_svg import svg_for
        return svg_for(self.walkthrough.derivation)

    def _repr_svg_(self) -> str | None:
        from .render import drawable
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


def network(path: str) -> "NetworkResult":
    """A layered network from a TOML file: forward pass, δ recurrence, gradients and one update, all checked."""
    from .network import explain_file
    return explain_file(path)


def scenario(name: str, optimizer: str | None = None, step: Mapping[str, object] | str | None = None) -> Result:
    """A built-in scenario; for toast and linear-model, ``optimizer`` (and its hyper-parameters in ``step``)
    replaces the scenario's plain gradient-descent update."""
    from .scenarios import build
    walk = build(name)
    if optimizer is not None or step is not None:
        from .optimizers import rerun
        walk = rerun(walk, optimizer, step)
    return Result(walk)


def explain(source: str, at: Mapping[str, object] | str | None = None, wrt: tuple[str, ...] | str | None = None,
            step: Mapping[str, object] | str | None = None, optimizer: str | None = None) -> Result:
    """Parse an expression or program, walk it backwards, check every step (and take descent steps, plain or
    with ``optimizer``: sgd, momentum, adagrad, rmsprop or adam, its hyper-parameters given in ``step``)."""
    graph = parse_program(source, variables=tuple(_pairs(at, "--at")) if at is not None else ())
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
    derivation = derive(graph, point, wrt_names or None)
    return Result(make("explain", source.strip(), derivation, learning_rate=learning_rate, steps=steps,
                       optimizer=settings))


def _pairs(spec: Mapping[str, object] | str, option: str) -> dict[str, str]:
    if not isinstance(spec, str):
        return {str(k): str(v) for k, v in spec.items()}
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{option}: expected NAME=VALUE, got '{shown(item)}'")
        if name.strip() in pairs:
            raise InputError(f"{option}: '{shown(name.strip())}' is given twice")
        pairs[name.strip()] = value.strip()
    if not pairs:
        raise InputError(f"{option}: expected NAME=VALUE[,NAME=VALUE...]")
    return pairs


def parse_point(at: Mapping[str, object] | str, leaves: tuple[str, ...]) -> dict[str, sympy.Rational]:
    pairs = _pairs(at, "--at")
    unknown = [n for n in pairs if n not in leaves]
    if unknown:
        raise InputError(f"--at: '{shown(unknown[0])}' is not a leaf of the graph (leaves: {', '.join(leaves)})")
    missing = [n for n in leaves if n not in pairs]
    if missing:
        raise InputError(f"--at: no value for {', '.join(repr(m) for m in missing)} "
                         "(give every leaf a value, or leave out --at for a symbolic walk)")
    return {name: parse_number(pairs[name], f"--at {name}") for name in leaves}


def parse_step(step: Mapping[str, object] | str) -> tuple[sympy.Rational, int]:
    pairs = _pairs(step, "--step")
    unknown = [k for k in pairs if k not in ("lr", "steps")]
    if unknown:
        from .optimizers import DEFAULTS
        owners = [name for name, keys in DEFAULTS.items() if unknown[0] in dict(keys)]
        hint = f"; '{shown(unknown[0])}' is a setting of --optimizer {'/'.join(owners)}" if owners else ""
        raise InputError(f"--step: unknown key '{shown(unknown[0])}' (plain gradient descent takes lr and steps{hint})")
    if "lr" not in pairs:
        raise InputError("--step: the learning rate lr=VALUE is required")
    learning_rate = parse_number(pairs["lr"], "--step lr")
    if learning_rate <= 0:
        raise InputError(f"--step: lr must be positive, got {shown(pairs['lr'])}")
    steps_text = pairs.get("steps", "1")
    if not steps_text.isdigit() or len(steps_text) > 4 or not 1 <= int(steps_text) <= MAX_STEPS:
        raise InputError(f"--step: steps must be a whole number from 1 to {MAX_STEPS}, got '{shown(steps_text)}'")
    return learning_rate, int(steps_text)
