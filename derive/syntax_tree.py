"""The neutral syntax tree that both input languages read into: plain text (`derive.input_syntax`) and LaTeX
(`derive.latex_grammar`, shared with `derive verify`). Frozen dataclasses and a walk over them; no parsing here,
so that plain-text input never loads the LaTeX grammar."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union


@dataclass(frozen=True)
class Num:
    """A number as written (its exact value and its text)."""
    value: Fraction
    text: str


@dataclass(frozen=True)
class Word:
    """A multi-letter index tag such as the ``in`` of ``x_{\\mathrm{in}}``."""
    text: str


@dataclass(frozen=True)
class Sym:
    """A symbol: base letter or name, decoration (hat, bar, tilde), primes, layer superscript, subscripts."""
    base: str
    decor: str | None = None
    primes: int = 0
    layer: "Node | None" = None
    subs: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Const:
    """A named constant of the LaTeX grammar."""
    name: str  # "pi" or "e"


@dataclass(frozen=True)
class Add:
    """A sum of signed terms."""
    terms: tuple[tuple[int, "Node"], ...]  # (sign, term)
    braced: bool | None = field(default=False, compare=False)
    """Written in braces after a factor (``\\sigma(z)\\{…\\}`` without \\left): braces only group, so it was
    read as typeset, the factor times the first term only; None: written in parentheses."""


@dataclass(frozen=True)
class Mul:
    """A product (``hadamard``: elementwise, ``\\odot``)."""
    factors: tuple["Node", ...]
    hadamard: bool = False


@dataclass(frozen=True)
class Div:
    """A quotient."""
    num: "Node"
    den: "Node"


@dataclass(frozen=True)
class Neg:
    """A negation."""
    arg: "Node"


@dataclass(frozen=True)
class Pow:
    """A power."""
    base: "Node"
    exp: "Node"


@dataclass(frozen=True)
class Transpose:
    """A transpose (``^T``, ``^\\top``)."""
    arg: "Node"


@dataclass(frozen=True)
class Func:
    """A function applied to one argument."""
    name: str  # log exp sigma dsigma tanh relu sqrt sin cos
    arg: "Node"


@dataclass(frozen=True)
class Sum:
    """A sum over an index (``\\sum_{i=lo}^{hi}``)."""
    index: str | None
    lo: "Node | None"
    hi: "Node | None"
    body: "Node"


@dataclass(frozen=True)
class Deriv:
    """∂num/∂den (kind "partial") or d num/d den (kind "d"), both symbols: an opaque node until resolved."""
    kind: str
    num: Sym
    den: Sym


@dataclass(frozen=True)
class DerivOf:
    """The operator ∂/∂den (or d/d den) applied to an expression."""
    kind: str
    den: Sym
    body: "Node"


@dataclass(frozen=True)
class Matrix:
    """A matrix written out entry by entry (``\\begin{array}…``, ``pmatrix``, ``bmatrix``): its rows."""
    rows: tuple[tuple["Node", ...], ...]


Node = Union[Num, Word, Sym, Const, Add, Mul, Div, Neg, Pow, Transpose, Func, Sum, Deriv, DerivOf, Matrix]


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Add):
        return tuple(t for _, t in node.terms)
    if isinstance(node, Mul):
        return node.factors
    if isinstance(node, Div):
        return (node.num, node.den)
    if isinstance(node, (Neg, Transpose)):
        return (node.arg,)
    if isinstance(node, Func):
        return (node.arg,)
    if isinstance(node, Pow):
        return (node.base, node.exp)
    if isinstance(node, Sum):
        return tuple(x for x in (node.lo, node.hi, node.body) if x is not None)
    if isinstance(node, Deriv):
        return (node.num, node.den)
    if isinstance(node, DerivOf):
        return (node.den, node.body)
    if isinstance(node, Sym):
        return node.subs + ((node.layer,) if node.layer is not None else ())
    if isinstance(node, Matrix):
        return tuple(entry for row in node.rows for entry in row)
    return ()


def walk(node: Node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


