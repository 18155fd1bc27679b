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
from .errors import CheckFailure, InputError, message, shown
from .graph import exact, symbol
from .input_syntax import number_of, parse_pairs
from .notation import Grad, chain_latex, exact_latex, formula_latex, name_latex, number_latex
from .optimizers import DEFAULTS, MAX_STEPS, Settings, Update, check_step_budget, configure, optimize
from .parse import parse_program


@dataclass(frozen=True)
class Text:
    """A paragraph from the language catalog; ``params`` fill its placeholders (maths given as expressions)."""

    key: str
    params: tuple[tuple[str, object], ...] = ()


class Listing(tuple):
    """Several placeholder values shown as one list, joined with the language's separator."""


@dataclass(frozen=True)
class Phrase:
    """A placeholder value that is itself a catalog phrase, chosen by the data (the layers a sentence is about)."""

    key: str


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
    claims: tuple[str | None, ...] = ()  # per column, what it states (`derive.verify.tables`: ``#1 = #``), or None


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
    row_given: tuple[tuple[str, ...], ...] = ()  # with scope "rows": each table row's own bindings (instead of given)


def point_given(point: Mapping[str, Expr]) -> tuple[str, ...]:
    """A point as a section's bindings (``w = 1.4``), for a section about another point than the walk's."""
    return tuple(chain_latex([name_latex(name), exact_latex(value)]) for name, value in point.items())


def size_given(name: str, size: int) -> str:
    """A size the page's sums run to as a binding: ``n := 3`` defines a constant (Σ_{i=1}^{n} has 3 terms, 1/n is a
    number), not a variable of the point."""
    return chain_latex([name_latex(name), number_latex(sympy.Integer(size))], ":=")


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
    given: tuple[str, ...] = ()  # the walk scope's bindings beyond the graph's (LaTeX): the sizes its sums run to
    # (`size_given`), a condition its data satisfy (Σ_k t_{nk} = 1)
    layered: tuple[str, ...] = ()  # letters besides w, a, z, b, δ whose integer superscripts are layers (u^{2})

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
         descent: tuple[Update, ...] | None = None, reread: bool = True,
         given: tuple[str, ...] = (), layered: tuple[str, ...] = ()) -> Walkthrough:
    """Check a derivation (and its claims and updates) and bundle it for rendering. With ``optimizer`` (from
    `derive.optimizers.configure`, which holds its own learning rate and steps) its steps replace plain descent;
    ``descent`` is plain descent the scenario already made (and checked) for its own prose, not made twice;
    ``given`` adds bindings to the page's walk scope (see `Walkthrough.given`); ``layered`` names the letters
    whose superscripts are layers (see `Walkthrough.layered`)."""
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
    reread = (reread and report.oracle == "symbolic" and not report.notes
              and len(updates) < MAX_REREAD_WALKS)
    return Walkthrough(name, source, derivation, report, updates, intro, extra, fold, reread, given, layered)


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
    updates = optimize(walk.derivation, settings)
    return dataclasses.replace(walk, updates=updates, reread=walk.reread and len(updates) < MAX_REREAD_WALKS)


def explain_source(source: str, at: Mapping[object, object] | str | None = None,
                   wrt: tuple[str, ...] | str | None = None, step: Mapping[str, object] | str | None = None,
                   optimizer: str | None = None) -> Walkthrough:
    """``derive explain``: parse an expression or program, walk it backwards, check every step (and take descent
    steps, plain or with ``optimizer``, its hyper-parameters given in ``step``). The Python API's `explain`
    wraps it; the command line calls it directly, without loading the API's other documents (start-up time)."""
    graph = parse_program(source, variables=tuple(parse_pairs(at, "at")) if at is not None else ())
    point = parse_point(at, graph.leaves) if at is not None else None
    wrt_names = tuple(n.strip() for n in wrt.split(",")) if isinstance(wrt, str) else wrt
    settings = None
    if optimizer is not None:
        settings = configure(optimizer, step)
        learning_rate, steps = None, settings.steps
    else:
        learning_rate, steps = parse_step(step) if step is not None else (None, 1)
    if settings is not None or learning_rate is not None:
        check_step_budget(graph, steps)  # before the first walk: a large graph costs seconds even without steps
    derivation = derive(graph, point, tuple(map(str, wrt_names)) if wrt_names else None)
    return make("explain", source.strip(), derivation, learning_rate=learning_rate, steps=steps,
                optimizer=settings, reread=len(graph.nodes) <= MAX_REREAD_NODES)


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

