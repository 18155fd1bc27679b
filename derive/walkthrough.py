"""What a rendered walk-through holds: a checked derivation, its updates and a scenario's own sections.

Everything here is plain data. Prose is referenced by catalog keys, maths is held as SymPy expressions, and
every equation that states a value (`Claim`) is checked against the walk before anything is rendered.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Union

import sympy
from sympy import Expr

from .backward import Derivation, derive
from .check import CheckReport, check, close
from .errors import CheckFailure, InputError, message
from .graph import exact, symbol
from .input_syntax import parse_pairs
from .notation import Grad, chain_latex, exact_latex, formula_latex, name_latex, number_latex
from .optimizers import Settings, Update, check_step_budget, configure, optimize


@dataclass(frozen=True)
class Text:
    """A paragraph from the language catalog; ``params`` fill its placeholders (maths given as expressions)."""

    key: str
    params: tuple[tuple[str, object], ...] = ()


class Listing(tuple):
    """Several placeholder values shown as one list, joined with the language's separator."""


@dataclass(frozen=True)
class Equation:
    """A displayed equation or chain ``lhs = rhs[0] = rhs[1] = …``, shown as written."""

    lhs: Expr
    rhs: tuple[Expr, ...]


@dataclass(frozen=True)
class Claim:
    """An equation whose right side, evaluated at the walk's point, must equal ``value``; checked."""

    lhs: Expr
    rhs: tuple[Expr, ...]  # each member must evaluate to ``value`` once ``subs`` is applied
    value: Expr | None
    subs: tuple[tuple[sympy.Symbol, Expr], ...] = ()


@dataclass(frozen=True)
class Table:
    """A table: header catalog keys and rows of cells."""
    header_keys: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]  # each cell an expression or a plain string


Options = tuple[tuple[str, object], ...]
"""Keyword options of a plotting call, in order (matplotlib's names: ``color``, ``marker``, ``linewidth``, …)."""


@dataclass(frozen=True)
class Series:
    """One line of a plot: its points, how it is drawn and its legend label (language-neutral: a name or maths)."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    style: str = ""  # a matplotlib format string ("o-", "s--"); "" draws with ``options`` alone
    label: str | None = None
    options: Options = ()


@dataclass(frozen=True)
class QuadraticContours:
    """Contour lines of ½(a·x² + b·y²) over a grid of ``samples`` × ``samples`` points."""

    a: float
    b: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    samples: int
    levels: tuple[float, ...]
    options: Options = ()


@dataclass(frozen=True)
class Plot:
    """A plot as plain data; `derive.present.plots` draws it (SVG and PDF) when a document is rendered."""

    width: float  # inches
    height: float
    series: tuple[Series, ...]
    contours: tuple[QuadraticContours, ...] = ()
    log_y: bool = False
    x_limits: tuple[float, float] | None = None
    y_limits: tuple[float, float] | None = None
    equal_aspect: bool = False
    x_label: str = ""
    y_label: str = ""
    x_ticks: tuple[float, ...] | None = None
    grid: Options | None = None  # the major grid's options; None: no grid
    legend: Options | None = None  # the legend's options; None: no legend


@dataclass(frozen=True)
class Image:
    """A plot, written beside the document as ``<name>.svg`` and ``<name>.pdf`` (drawn when it is rendered)."""

    name: str  # file stem, unique within the walk-through
    caption_key: str
    plot: Plot

    @property
    def files(self) -> tuple[str, str]:
        """The SVG's and the PDF's file names."""
        return self.name + ".svg", self.name + ".pdf"


@dataclass(frozen=True)
class Part:
    """Where a section turns to another point, rule or variant: from here to the next `Part` its maths is a scope of
    its own for `derive verify`, with the bindings ``given`` (``from_walk``: on top of the walk's). Shows nothing."""

    given: tuple[str, ...] = ()
    from_walk: bool = False


Block = Union[Text, Equation, Claim, Table, Image, Part]


@dataclass(frozen=True)
class Section:
    """A titled group of blocks (text, equations, claims, tables, images)."""
    title_key: str
    blocks: tuple[Block, ...]
    scope: str = "walk"  # for `derive verify`: "walk" (the graph and its point), "own" (a fresh scope), or "rows"
    # (each table row that names a node kind a fresh scope: the rule card's generic nodes)
    given: tuple[str, ...] = ()  # LaTeX bindings of the section's own scopes ("E = f(z)")


def point_given(point: Mapping[str, Expr]) -> tuple[str, ...]:
    """A point as a section's bindings (``w = 1.4``), for a section about another point than the walk's."""
    return tuple(chain_latex([name_latex(name), exact_latex(value)]) for name, value in point.items())


def derivation_given(d: Derivation) -> tuple[str, ...]:
    """A walk's bindings (``a = \\sigma\\left(z\\right)``, ``z = 0.5``): every node's definition, then every leaf's
    value, for a part of a page about another graph or point than the walk's."""
    definitions = tuple(chain_latex([name_latex(n.name), formula_latex(d.definitions[n.name])])
                        for n in d.graph.nodes if n.op != "leaf")
    leaves = {n.name: d.values[n.name] for n in d.graph.nodes if n.op == "leaf"} if d.values is not None else {}
    return definitions + point_given(leaves)


@dataclass(frozen=True)
class Fold:
    """A batch shown through one sample: the generic sections (forward table, backward steps, gradients collected,
    the tables after an update) list only the ``shown`` nodes, and the paragraph ``note`` says where the other
    samples' numbers are (the scenario's own sections, in vector or table form). The derivation, its checks and
    the JSON keep every node."""

    shown: frozenset[str]
    note: Text


@dataclass(frozen=True)
class Walkthrough:
    """Everything a walk-through document shows, as plain data: the checked derivation, the updates,
    and the scenario's own sections."""
    name: str  # scenario name, or "explain"
    source: str  # what the user typed, or the scenario's program
    derivation: Derivation
    report: CheckReport
    updates: tuple[Update, ...] = ()
    intro: tuple[Section, ...] = ()  # before the forward pass (the setting, the story)
    extra: tuple[Section, ...] = ()  # after the gradients (closed forms, vector forms, recurrences)
    fold: Fold | None = None  # a batch shown through one sample; None: every node is shown
    reread: bool = True  # its pages carry their bindings and are read back by `derive verify` before they are
    # written (False: a page verify cannot read yet; it is checked only through the derivation)

    @property
    def images(self) -> tuple[Image, ...]:
        return tuple(b for s in self.intro + self.extra for b in s.blocks if isinstance(b, Image))


def gradient_descent(derivation: Derivation, learning_rate: Expr, steps: int) -> tuple[Update, ...]:
    """Plain gradient descent on the ``wrt`` leaves: w ← w − η ∂f/∂w, each step checked like the first."""
    if derivation.point is None:
        raise InputError(message("step.needs_point"), "step")
    check_step_budget(derivation.graph, steps)
    updates = []
    current = derivation
    for k in range(1, steps + 1):
        changes = []
        point = dict(current.point)
        for leaf in current.wrt:
            gradient = current.gradients[leaf].value
            point[leaf] = exact(point[leaf] - learning_rate * gradient)
            changes.append((leaf, current.point[leaf], gradient, point[leaf]))
        current = derive(current.graph, point, current.wrt, current.constants)
        updates.append(Update(k, learning_rate, tuple(changes), current, check(current)))
    return tuple(updates)


def check_claims(derivation: Derivation, sections: tuple[Section, ...]) -> None:
    """Every `Claim` must agree with the walk's numbers; a disagreement is a bug (exit 3)."""
    if derivation.values is None:
        return
    node_values = {symbol(n): v for n, v in derivation.values.items()}
    node_values.update({Grad(derivation.output, n): g.value for n, g in derivation.gradients.items()
                        if g.value is not None})
    node_values.update({Grad(step.node, term.input): term.local_value
                        for step in derivation.steps for term in step.terms})
    for section in sections:
        for block in section.blocks:
            if not isinstance(block, Claim) or block.value is None:
                continue
            for member in block.rhs:
                got = exact(member.xreplace(dict(block.subs)).xreplace(node_values))
                if not got.is_number or not close(float(got), float(block.value)):
                    raise CheckFailure(f"self-check failed: {block.lhs} = {member} gives {got}, "
                                       f"expected {block.value}")


def make(name: str, source: str, derivation: Derivation, *, learning_rate: Expr | None = None, steps: int = 1,
         intro: tuple[Section, ...] = (), extra: tuple[Section, ...] = (),
         optimizer: Settings | None = None, fold: Fold | None = None,
         descent: tuple[Update, ...] | None = None, reread: bool = True) -> Walkthrough:
    """Check a derivation (and its claims and updates) and bundle it for rendering. With ``optimizer`` (from
    `derive.optimizers.configure`, which holds its own learning rate and steps) its steps replace plain descent;
    ``descent`` is plain descent the scenario already made (and checked) for its own prose, not made twice."""
    report = check(derivation)
    check_claims(derivation, intro + extra)
    if descent is not None:
        updates = descent
    elif optimizer is not None:
        updates = optimize(derivation, optimizer)
    else:
        updates = gradient_descent(derivation, learning_rate, steps) if learning_rate is not None else ()
    if fold is not None and not fold.shown <= {n.name for n in derivation.graph.nodes}:
        raise ValueError(f"{name}: the fold names nodes the graph does not have")
    # the loop reads pages whose graph the symbolic oracle checked (no tree too large to write out) away from kinks
    reread = (reread and optimizer is None and report.oracle == "symbolic" and not report.notes
              and len(updates) < MAX_REREAD_WALKS)
    return Walkthrough(name, source, derivation, report, updates, intro, extra, fold, reread)


MAX_REREAD_NODES = 60
"""The largest graph whose walk-through page the truth loop reads back (`derive.verify.pages`): re-reading grows
faster than the walk (a 100-node chain takes 5 s, a 200-node one 34 s); larger pages are checked through the
derivation only."""
MAX_REREAD_WALKS = 10
"""The most walks (the first and one per descent step) a page may print and still be read back: each step is a
scope of its own to re-read (300 steps would take minutes)."""


SHOW_SCENARIOS = ("toast", "linear-model")
"""Scenarios whose update `derive show --optimizer` may replace (one plain gradient-descent update, no prose
that depends on the update rule)."""


def rerun(walk: Walkthrough, optimizer: str | None, step_spec: Mapping[str, object] | str | None) -> Walkthrough:
    """``derive show SCENARIO --optimizer NAME [--step KEY=VALUE,...]``: the scenario's own update, made by
    another optimiser. The learning rate stays the scenario's (its prose states it); ``steps`` and the
    optimiser's own hyper-parameters may be given."""
    if walk.name not in SHOW_SCENARIOS or not walk.updates:
        raise InputError.of("step.scenario_only", scenario=walk.name, scenarios=", ".join(SHOW_SCENARIOS))
    if optimizer is None:
        raise InputError.of("step.needs_optimizer", scenario=walk.name)
    pairs = parse_pairs(step_spec, "step") if step_spec is not None else {}
    eta = walk.updates[0].learning_rate
    if "lr" in pairs:
        raise InputError(message("step.scenario_rate", scenario=walk.name, rate=number_latex(eta)), "step")
    settings = configure(optimizer, pairs, default_lr=eta, default_steps=len(walk.updates))
    # an optimiser's state lines (m, v, bias corrections) are not bound for verify yet: the page is not re-read
    return dataclasses.replace(walk, updates=optimize(walk.derivation, settings), reread=False)
