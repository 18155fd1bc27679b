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
from ..notation import chain_latex, exact_latex, formula_latex, name_latex
from ..walkthrough import Section

NUMBERS = "numbers strict"
WALK = "walk"


def given(bindings: Iterable[tuple[str, str]]) -> str:
    """``given a = …; b = …`` from (left, right) LaTeX pairs."""
    return "given " + "; ".join(chain_latex([left, right]) for left, right in bindings)


def leaf_values(d: Derivation, values: dict[str, Expr] | None = None) -> list[tuple[str, str]]:
    """Each leaf's value (``values`` overrides the derivation's own)."""
    if d.values is None:
        return []
    values = {**{n.name: d.values[n.name] for n in d.graph.nodes if n.op == "leaf"}, **(values or {})}
    return [(name_latex(name), exact_latex(value)) for name, value in values.items()]


def walk_directives(d: Derivation) -> list[str]:
    """The page's number rule and the ``walk`` scope: every node's definition and every leaf's value."""
    definitions = [(name_latex(n.name), formula_latex(d.definitions[n.name])) for n in d.graph.nodes
                   if n.op != "leaf"]
    return [NUMBERS, f"output {name_latex(d.output)}", f"scope {WALK}", given(definitions + leaf_values(d))]


def section_directives(section: Section, index: str) -> list[str]:
    """The scope a section starts (none for a section whose table rows start their own)."""
    if section.scope == "rows":
        return []
    head = f"scope {index}" + (f" from {WALK}" if section.scope == WALK else "")
    return [head] + _own(section)


def row_directives(section: Section, index: str, rows: list[list[str]]) -> list[list[str]]:
    """For a section with ``scope="rows"``: a fresh scope on each row that names a node (its first cell)."""
    if section.scope != "rows":
        return [[] for _ in rows]
    out = []
    for k, row in enumerate(rows):
        if row and row[0].strip():
            out.append([f"scope {index}.{k + 1}"] + _own(section))
        else:
            out.append([])
    return out


def _own(section: Section) -> list[str]:
    return ["given " + "; ".join(section.given)] if section.given else []


def update_directives(step: int, before: dict[str, Expr], learning_rate: Expr, d: Derivation) -> list[str]:
    """An update step: the walk at the values before it, with the learning rate η."""
    bindings = [(name_latex(leaf), exact_latex(value)) for leaf, value in before.items()]
    return [f"scope update-{step} from {WALK}", given(bindings + [(r"\eta", exact_latex(learning_rate))])]


def after_directives(step: int, d: Derivation) -> list[str]:
    """The table after an update step: the walk at the new values."""
    return [f"scope update-{step}-after from {WALK}", given(leaf_values(d))]
