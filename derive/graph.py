"""The forward graph: named nodes in topological order, and the exact forward pass."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping, Sequence, Union

import sympy
from mpmath import libmp as mlib
from sympy import Expr

from .errors import InputError
from .rules import RULES, symbol

Operand = Union[str, sympy.Rational]
"""A node's operand: the name of another node, or an exact constant."""

MAX_EXACT_BITS = 4096  # beyond this a rational value is carried as a 30-digit float instead
DIGITS = 30
_PRECISION = sympy.Float(1, DIGITS)._prec  # in bits
MAX_MAGNITUDE = sympy.Integer(10) ** 300  # values beyond this cannot be shown or checked in float64
MIN_MAGNITUDE = 1 / MAX_MAGNITUDE  # non-zero values below this would underflow to 0 in float64
# exact, so that 1e-300 itself is inside: the float 1e-300 is a little larger than 10^-300


@dataclass(frozen=True)
class Node:
    """One named value of the graph: a leaf, or an op applied to operands (names or constants)."""
    name: str
    op: str  # "leaf" or a key of RULES
    args: tuple[Operand, ...] = ()
    params: tuple = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """The distinct node names this node reads, in order of first use."""
        return tuple(dict.fromkeys(a for a in self.args if isinstance(a, str)))


@dataclass(frozen=True)
class Graph:
    """The nodes in the order they are computed, and the name of the output."""
    nodes: tuple[Node, ...]
    output: str
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n.name: n for n in self.nodes})

    def __getitem__(self, name: str) -> Node:
        return self._index[name]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    @property
    def leaves(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.op == "leaf")

    def consumers(self) -> dict[str, tuple[str, ...]]:
        """For each node, the nodes that read it, in forward order."""
        readers: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for node in self.nodes:
            for name in node.inputs:
                readers[name].append(node.name)
        return {name: tuple(r) for name, r in readers.items()}

    def edges(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """For each value that is read, the edges leaving it as (reader, operand position), in forward order: a
        value one node reads twice (t·t) has two edges. Keys in the order values are first read."""
        out: dict[str, list[tuple[str, int]]] = {}
        for node in self.nodes:
            for position, arg in enumerate(node.args):
                if isinstance(arg, str):
                    out.setdefault(arg, []).append((node.name, position))
        return {name: tuple(e) for name, e in out.items()}

    @cached_property
    def _position(self) -> dict[str, int]:
        return {node.name: k for k, node in enumerate(self.nodes)}

    @cached_property
    def _ancestor_bits(self) -> dict[str, int]:
        """For each node, the nodes it is computed from (its inputs, theirs, … down to the leaves) as one bit per
        node in order: a flat chain of 10,000 nodes needs 12 MB this way, not the 50 million set entries."""
        position = self._position
        bits: dict[str, int] = {}
        for node in self.nodes:
            mask = 0
            for name in node.inputs:
                mask |= bits[name] | (1 << position[name])
            bits[node.name] = mask
        return bits

    def reaches(self, source: str, target: str) -> bool:
        """Whether ``target`` is computed from ``source`` (directly or through other nodes)."""
        return bool(self._ancestor_bits[target] >> self._position[source] & 1)


def softmax_nodes(outputs: Sequence[str], logits: tuple[Operand, ...]) -> list[Node]:
    """One node per component of softmax(logits), each knowing all of them (its local gradients use them)."""
    return [Node(name, "softmax", logits, (k, tuple(outputs))) for k, name in enumerate(outputs)]


def operand_exprs(node: Node) -> list[Expr]:
    return [symbol(a) if isinstance(a, str) else a for a in node.args]


def definition(node: Node) -> Expr:
    """The node's definition in terms of its operands, as written (unevaluated), for display."""
    return definitions((node,))[node.name]


def definitions(nodes: Iterable[Node]) -> dict[str, Expr]:
    """`definition` of every operation node at once (switching SymPy's evaluation off clears its cache)."""
    with sympy.evaluate(False):
        return {n.name: RULES[n.op].show(operand_exprs(n), n.params) for n in nodes if n.op != "leaf"}


def unrolled(graph: Graph, keep: frozenset[str] = frozenset()) -> dict[str, Expr]:
    """Every node as an expression of the leaves (and of the nodes in ``keep``, left as symbols)."""
    exprs: dict[str, Expr] = {}
    for node in graph.nodes:
        if node.op == "leaf" or node.name in keep:
            exprs[node.name] = symbol(node.name)
        else:
            args = [exprs[a] if isinstance(a, str) else a for a in node.args]
            exprs[node.name] = RULES[node.op].forward(args, node.params)
    return exprs


def exact(value: Expr) -> Expr:
    """The project's one rule for carrying a computed value: a rational stays exact while its numerator and
    denominator fit in `MAX_EXACT_BITS` bits, a `DIGITS`-digit float stays as it is, and anything else (a larger
    rational, √2, e, a float of another precision) becomes a `DIGITS`-digit float. The engine, the optimisers and
    the scenarios pass every value they compute through it."""
    if value.is_Rational:
        if max(abs(value.p).bit_length(), value.q.bit_length()) <= MAX_EXACT_BITS:
            return value
    elif value.is_Float and value._prec == _PRECISION:
        return value
    return sympy.Float(value.evalf(DIGITS), DIGITS)


def is_finite_real(value: Expr) -> bool:
    if value.is_Rational:
        return True
    if value.is_Float:  # without SymPy's assumption system, which costs more than the arithmetic
        return value._mpf_ not in (mlib.fnan, mlib.finf, mlib.fninf)
    return bool(value.is_number and value.is_extended_real and value.is_finite)


def forward(graph: Graph, point: Mapping[str, Expr]) -> dict[str, Expr]:
    """The forward pass at a point: every node's value, exact where the maths is."""
    missing = [leaf for leaf in graph.leaves if leaf not in point]
    if missing:
        raise InputError.of("point.no_value", names=", ".join(repr(m) for m in missing))
    values: dict[str, Expr] = {}
    for node in graph.nodes:
        if node.op == "leaf":
            values[node.name] = point[node.name]
            continue
        args = [values[a] if isinstance(a, str) else a for a in node.args]
        values[node.name] = evaluate_op(node, args)
    return values


def evaluate_op(node: Node, args: list[Expr]) -> Expr:
    """One node's exact value; outside the op's domain (log of a negative, division by zero) is an input error."""
    if node.op == "pow" and _huge_power(args[0], args[1]):
        args = [sympy.Float(a, DIGITS) for a in args]
    value = RULES[node.op].forward(args, node.params)
    if not is_finite_real(value):
        raise InputError.of("value.not_finite", node=_described(node, args))
    magnitude = abs(value) if value.is_Rational else abs(value.evalf(DIGITS))
    if magnitude > MAX_MAGNITUDE:
        raise InputError.of("value.too_large", node=_described(node, args))
    if 0 < magnitude < MIN_MAGNITUDE:
        raise InputError.of("value.too_small", node=_described(node, args))
    return exact(value)


def substitute(expr: Expr, values: Mapping[sympy.Symbol, Expr]) -> Expr:
    """``expr`` at ``values``, exact like the forward pass: a power too large to carry exactly becomes a float
    (``xreplace`` would compute x**1000000 at a rational x to the last of its millions of digits)."""
    if expr in values:
        return values[expr]
    if not expr.args:
        return expr
    args = [substitute(a, values) for a in expr.args]
    if expr.is_Pow and _huge_power(args[0], args[1]):
        args = [sympy.Float(a, DIGITS) for a in args]
    return expr.func(*args)


def _huge_power(base: Expr, exponent: Expr) -> bool:
    if not (base.is_Rational and exponent.is_Rational) or base in (0, 1, -1):
        return False
    bits = max(abs(base.p).bit_length(), base.q.bit_length())
    return bits * abs(exponent) > MAX_EXACT_BITS


def _described(node: Node, args: list[Expr]) -> str:
    return f"{node.name} = {node.op}({', '.join(_short(a) for a in args)})"


def _short(value: Expr) -> str:
    """A number short enough for a one-line message."""
    text = str(value) if value.is_Rational else ""
    return text if text and len(text) <= 20 else str(sympy.N(value, 6))
