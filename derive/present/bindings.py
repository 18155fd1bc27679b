"""The directives derive writes into its pages so that `derive verify` can re-read them as printed (see
`derive.verify.directives`): the page's number rule, and for each part of the page its scope and bindings.

Scopes of a walk-through: ``walk`` holds the graph's definitions and the point; the main part (program, forward
pass, backward steps, gradients) and every section about the same graph start ``from walk``; a section with its
own meaning (the rule card's generic nodes) starts afresh; each update step is a scope at the values before the
step, and its table after the step one at the values after it.
"""
from __future__ import annotations

from typing import Iterable

import sympy
from sympy import Expr

from ..backward import Derivation
from ..notation import chain_latex, exact_latex, latex, name_latex, partial_latex
from ..optimizers import Update, initial_state, settings_equations
from ..walkthrough import Part, Section, derivation_given, point_given

NUMBERS = "numbers strict"
WALK = "walk"
CELL = "#"  # in a `columns` template: the column's own cell; "#k" is the row's k-th cell


def columns(*templates: str | None) -> list[str]:
    """The directive before a table that says what each column claims (None: nothing)."""
    return ["columns " + "; ".join(t if t is not None else "-" for t in templates)]


def across(*templates: str | None) -> list[str]:
    """The directive before a table lying on its side (names in its first row, what they claim below): the
    ``columns`` templates, read down each column."""
    return ["rows " + columns(*templates)[0].split(" ", 1)[1]]


def value_column(k: int = 1) -> str:
    """A column of values of the node named in cell ``k``."""
    return chain_latex([f"#{k}", CELL])


def gradient_column(d: Derivation, k: int = 1) -> str:
    """A column of the output's gradients with respect to the node named in cell ``k``."""
    return chain_latex([partial_latex(name_latex(d.output), f"#{k}"), CELL])


def scope(name: str, bindings: Iterable[str] = (), *, from_walk: bool = True, parent: str = WALK) -> list[str]:
    """A scope's directives: ``scope NAME [from PARENT]`` (the walk unless another is named), then its bindings
    (``a = …`` in LaTeX) when it has any."""
    bindings = list(bindings)
    head = f"scope {name}" + (f" from {parent}" if from_walk else "")
    return [head] + (["given " + "; ".join(bindings)] if bindings else [])


def leaf_values(d: Derivation) -> tuple[str, ...]:
    """Each leaf's value as a binding."""
    if d.values is None:
        return ()
    return point_given({n.name: d.values[n.name] for n in d.graph.nodes if n.op == "leaf"})


def walk_directives(d: Derivation, given: Iterable[str] = (), layered: Iterable[str] = ()) -> list[str]:
    """The page's number rule, the letters besides w, a, z, b, δ whose superscripts are layers (``layered u``)
    and the ``walk`` scope: every node's definition, every leaf's value and the scenario's own bindings (sizes,
    conditions on the data)."""
    letters = " ".join(layered)
    return [NUMBERS, f"output {name_latex(d.output)}", *([f"layered {letters}"] if letters else []),
            *scope(WALK, derivation_given(d) + tuple(given), from_walk=False)]


def part_directives(part: Part, index: str) -> list[str]:
    """The scope a section's `Part` starts (``index``: the section's scope and the part's number)."""
    return scope(index, part.given, from_walk=part.from_walk)


def section_directives(section: Section, index: str) -> list[str]:
    """The scope a section starts (none for a section whose table rows start their own)."""
    if section.scope == "rows":
        return []
    return scope(index, section.given, from_walk=section.scope == WALK)


def row_directives(section: Section, index: str, rows: list[list[str]]) -> list[list[str]]:
    """For a section with ``scope="rows"``: a fresh scope on each row that names a node (its first cell)."""
    if section.scope != "rows":
        return [[] for _ in rows]
    given = section.row_given or (section.given,) * len(rows)
    return [scope(f"{index}.{k + 1}", given[k], from_walk=False) if row and row[0].strip() else []
            for k, row in enumerate(rows)]


def update_directives(step: int, before: dict[str, Expr], learning_rate: Expr, part: int = 1) -> list[str]:
    """An update step (its ``part``-th line after the first): the walk at the values before it, with the learning
    rate η."""
    return scope(f"update-{step}" + (f".{part}" if part > 1 else ""),
                 point_given(before) + (chain_latex([r"\eta", exact_latex(learning_rate)]),))


def optimizer_step_directives(update: Update, before: dict[str, Expr]) -> list[str]:
    """An optimiser's step, its ``←`` lines read in order. The first: the walk at the values before it, the
    optimiser's settings, the step counter and the state its formulas read. Each later one goes on from the step
    before (the values its assignments left, exact where the optimiser's own numbers are 30-digit floats) with its
    own step counter."""
    info = update.optimizer
    counter = chain_latex([latex(info.step_symbol), exact_latex(sympy.Integer(info.t))])
    if info.t > 1:
        return scope(f"update-{update.step}", (counter,), parent=f"update-{update.step - 1}")
    state = [(sym, value) for leaf in before for sym, value in initial_state(info.settings, leaf)]
    settings = [(eq.lhs, eq.rhs) for eq in settings_equations(info.settings)]
    return scope(f"update-{update.step}", point_given(before) + tuple(
        chain_latex([latex(sym), exact_latex(value)]) for sym, value in settings + state) + (counter,))


def optimizer_after_directives(step: int) -> list[str]:
    """The table after an optimiser's step: the values the step's assignments left (exact, not the 20 digits a
    30-digit float would be bound with)."""
    return scope(f"update-{step}-after", parent=f"update-{step}")


def after_directives(step: int, d: Derivation) -> list[str]:
    """The table after an update step: the walk at the new values."""
    return scope(f"update-{step}-after", leaf_values(d))
