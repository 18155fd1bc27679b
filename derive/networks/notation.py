"""Display nodes for layered networks: matrices with their shapes, products, ⊙, transposes, indexed sums.

These are not SymPy expressions (SymPy would evaluate, reorder or expand them); each is a small immutable node of
plain data. The one printer, `derive.notation.DerivePrinter`, prints each by its class name (``_print_Sym``,
``_print_Hadamard``, …), so it needs no import of this module; names go through `name_latex`, numbers through
`number_latex`, so the notation stays the project's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..notation import latex


class Display:
    """Base class: something the printer can show; never a number for `derive.present.context`."""

    is_number = False
    binding: ClassVar[str] = ""  # "sum" or "product" for a node that needs parentheses as a factor or an operand

    def __str__(self) -> str:
        return latex(self)


@dataclass(frozen=True)
class Sym(Display):
    """A layered name: ``W^{3}``, ``\\delta^{l+1}_{k}``, ``a^{L}_{j,n}``; ``layer`` may be a number or text (l, L)."""

    base: str
    layer: object = None
    sub: str = ""


@dataclass(frozen=True)
class Partial(Display):
    """∂C/∂X for a display node X."""

    of: Display
    by: Display


@dataclass(frozen=True)
class Nabla(Display):
    """∇_X C."""

    of: Display
    by: Display


@dataclass(frozen=True)
class Num(Display):
    """A number inside a formula, in parentheses when negative."""

    value: Any


@dataclass(frozen=True)
class NumMatrix(Display):
    """A matrix or a column vector of numbers (an ``array``, which has no column limit)."""

    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Ones(Display):
    """The vector of n ones, a column (``\\mathbf{1}_{n}``) or, transposed, a row."""

    n: int
    row: bool = False


@dataclass(frozen=True)
class Shaped(Display):
    """A factor with its shape written under it: ``\\underbrace{W^{3}}_{2 \\times 3}``."""

    item: Display
    rows: object  # a number, or LaTeX such as n_{l} in the general formulas
    cols: object


@dataclass(frozen=True)
class Transposed(Display):
    item: Display


@dataclass(frozen=True)
class MatrixProduct(Display):
    """A matrix product, written by juxtaposition."""

    binding: ClassVar[str] = "product"

    left: Display
    right: Display


@dataclass(frozen=True)
class Hadamard(Display):
    left: Display
    right: Display


@dataclass(frozen=True)
class Plus(Display):
    binding: ClassVar[str] = "sum"

    terms: tuple[Display, ...]


@dataclass(frozen=True)
class Minus(Display):
    binding: ClassVar[str] = "sum"

    left: Display
    right: Display


@dataclass(frozen=True)
class Times(Display):
    """Factors multiplied with a dot: ``\\eta \\cdot X``, ``w δ``, numbers in parentheses when negative."""

    factors: tuple[Display, ...]


@dataclass(frozen=True)
class Frac(Display):
    num: Display
    den: Display


@dataclass(frozen=True)
class Paren(Display):
    item: Display


@dataclass(frozen=True)
class Squared(Display):
    item: Display


@dataclass(frozen=True)
class Neg(Display):
    item: Display


@dataclass(frozen=True)
class SumOver(Display):
    """``\\sum_{k=1}^{n} body``."""

    index: str
    upper: object
    body: Display


@dataclass(frozen=True)
class Apply(Display):
    """An activation applied (element-wise, or softmax per column), or its derivative: σ(z), σ'(z), log y."""

    fn: str  # sigma, softmax, log, exp, max
    arg: Display
    prime: bool = False


@dataclass(frozen=True)
class Arguments(Display):
    """A function's arguments, separated by commas: max(0, z)."""

    items: tuple[Display, ...]


@dataclass(frozen=True)
class Cases(Display):
    """A piecewise definition: ``\\begin{cases} v & \\text{if } c \\\\ … \\end{cases}`` (conditions as maths)."""

    branches: tuple[tuple[Display, Display], ...]


@dataclass(frozen=True)
class Relation(Display):
    """``left op right`` for conditions such as z > 0 (op is LaTeX: ``>``, ``\\le``)."""

    left: Display
    op: str
    right: Display
