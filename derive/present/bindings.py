"""The directives derive writes into its pages so that `derive verify` can re-read them as printed (see
`derive.verify.directives`): the page's number rule, and for each part of the page its scope and bindings.

Scopes of a walk-through: ``walk`` holds the graph's definitions and the point; the main part (program, forward
pass, backward steps, gradients) and every section about the same graph start ``from walk``; a section with its
own meaning (the rule card's generic nodes) starts afresh; each update step is a scope at the values before the
step, and its table after the step one at the values after it.
"""
from __future__ import annotations

from typing import Iterable

from sympy import Expr

from ..backward import Derivation
from ..notation import chain_latex, exact_latex, name_latex
from ..walkthrough import Part, Section, derivation_given, point_given

NUMBERS = "numbers strict"
WALK = "walk"


def scope(name: str, bindings: Iterable[str] = (), *, from_walk: bool = True) -> list[str]:
    """A scope's directives: ``scope NAME [from walk]``, then its bindings (``a = …`` in LaTeX) when it has any."""
    bindings = list(bindings)
    head = f"scope {name}" + (f" from {WALK}" if from_walk else "")
    return [head] + (["given " + "; ".join(bindings)] if bindings else [])


def leaf_values(d: Derivation) -> tuple[str, ...]:
    """Each leaf's value as a binding."""
    if d.values is None:
        return ()
    return point_given({n.name: d.values[n.name] for n in d.graph.nodes if n.op == "leaf"})


def walk_directives(d: Derivation) -> list[str]:
    """The page's number rule and the ``walk`` scope: every node's definition and every leaf's value."""
    return [NUMBERS, f"output {name_latex(d.output)}", *scope(WALK, derivation_given(d), from_walk=False)]


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
    return [scope(f"{index}.{k + 1}", section.given, from_walk=False) if row and row[0].strip() else []
            for k, row in enumerate(rows)]


def update_directives(step: int, before: dict[str, Expr], learning_rate: Expr) -> list[str]:
    """An update step: the walk at the values before it, with the learning rate η."""
    return scope(f"update-{step}", point_given(before) + (chain_latex([r"\eta", exact_latex(learning_rate)]),))


def after_directives(step: int, d: Derivation) -> list[str]:
    """The table after an update step: the walk at the new values."""
    return scope(f"update-{step}-after", leaf_values(d))
