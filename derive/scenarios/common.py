"""Small helpers shared by the scenarios that build their graphs node by node (no prose, no hand-typed LaTeX)."""
from __future__ import annotations

from typing import Mapping

import sympy
from sympy import Expr

from ..graph import Graph, symbol
from ..notation import Shown, latex, number_text
from ..parse import parse_number


def g(name: str) -> sympy.Symbol:
    """The symbol of a node or leaf, as the graph names it."""
    return symbol(name)


def eq(lhs: Expr, rhs: Expr) -> sympy.Eq:
    """``lhs = rhs`` as written (unevaluated)."""
    return sympy.Eq(lhs, rhs, evaluate=False)


def exact_point(values: Mapping[str, str]) -> dict[str, sympy.Rational]:
    """Decimal strings read exactly (``0.1`` is 1/10), as ``--at`` reads them."""
    return {name: parse_number(text, name) for name, text in values.items()}


def bare_number(value: Expr) -> Shown:
    """A number as it appears alone in a matrix entry or a table pair, printed by the one rule of
    `derive.notation` (its exact value when it terminates, else six significant digits)."""
    return Shown(value, bare=True)


def shown_matrix(rows) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix([[bare_number(v) for v in row] for row in rows])


def maths(expr: Expr) -> str:
    """A table header cell holding maths, printed by the notation printer (headers are otherwise catalog keys)."""
    return "$" + latex(expr) + "$"


_INFIX = {"add": " + ", "sum": " + ", "mul": "*", "sub": " - ", "div": "/"}


ELLIPSIS = "..."


def program_text(graph: Graph, hidden: frozenset[str] = frozenset()) -> str:
    """The graph as a program of assignments, one node per line, for the walk-through's "computation" block. The
    lines of the ``hidden`` nodes (a folded batch's other samples, the same lines with another index) are left out,
    each run of them written as one ``...`` line."""
    lines = []
    for node in graph.nodes:
        if node.op == "leaf":
            continue
        if node.name in hidden:
            if lines[-1:] != [ELLIPSIS]:
                lines.append(ELLIPSIS)
            continue
        args = [a if isinstance(a, str) else number_text(a) for a in node.args]
        if node.op in _INFIX:
            right = _INFIX[node.op].join(args)
        elif node.op == "pow":
            right = f"{args[0]}**{args[1]}"
        elif node.op == "neg":
            right = f"-{args[0]}"
        elif node.op == "softmax":
            right = f"softmax({', '.join(args)})[{node.params[0] + 1}]"
        else:
            right = f"{node.op}({', '.join(args)})"
        lines.append(f"{node.name} = {right}")
    return "\n".join(lines)
