"""Display nodes for layered networks: matrices with their shapes, products, ⊙, transposes, indexed sums.

These are not SymPy expressions (SymPy would evaluate, reorder or expand them); each is a small immutable node
whose ``_derive_latex`` method is called by the one printer of `derive.notation` (its ``printmethod``), exactly
like `derive.notation.sigma`. Names go through `name_latex`, numbers through `number_latex`, so the notation stays
the project's. They could move into `derive.notation` as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..notation import latex, name_latex, number_latex

class Display:
    """Base class: something the printer can show; never a number for `derive.present.context`."""

    is_number = False

    def _derive_latex(self, printer: Any) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __str__(self) -> str:
        return latex(self)


def _p(printer: Any, item: object) -> str:
    return printer._print(item)


@dataclass(frozen=True)
class Sym(Display):
    """A layered name: ``W^{3}``, ``\\delta^{l+1}_{k}``, ``a^{L}_{j,n}``; ``layer`` may be a number or text (l, L)."""

    base: str
    layer: object = None
    sub: str = ""

    def _derive_latex(self, printer: Any) -> str:
        text = name_latex(self.base)
        if self.layer is not None:
            text += "^{" + str(self.layer) + "}"
        if self.sub:
            text += "_{" + self.sub + "}"
        return text


@dataclass(frozen=True)
class Partial(Display):
    """∂C/∂X for a display node X."""

    of: Display
    by: Display

    def _derive_latex(self, printer: Any) -> str:
        return r"\frac{\partial " + _p(printer, self.of) + r"}{\partial " + _p(printer, self.by) + "}"


@dataclass(frozen=True)
class Gradient(Display):
    """∇_X C."""

    of: Display
    by: Display

    def _derive_latex(self, printer: Any) -> str:
        return r"\nabla_{" + _p(printer, self.by) + "} " + _p(printer, self.of)


@dataclass(frozen=True)
class Num(Display):
    """A number inside a formula, in parentheses when negative."""

    value: Any

    def _derive_latex(self, printer: Any) -> str:
        text = number_latex(self.value)
        return r"\left(" + text + r"\right)" if text.startswith("-") else text


@dataclass(frozen=True)
class NumMatrix(Display):
    """A matrix or a column vector of numbers (an ``array``, which has no column limit)."""

    rows: tuple[tuple[Any, ...], ...]

    def _derive_latex(self, printer: Any) -> str:
        cols = len(self.rows[0])
        body = r" \\ ".join(" & ".join(number_latex(v) for v in row) for row in self.rows)
        return r"\left(\begin{array}{" + "r" * cols + "}" + body + r"\end{array}\right)"


@dataclass(frozen=True)
class Ones(Display):
    """The vector of n ones, a column (``\\mathbf{1}_{n}``) or, transposed, a row."""

    n: int
    row: bool = False

    def _derive_latex(self, printer: Any) -> str:
        return r"\mathbf{1}_{" + str(self.n) + "}" + (r"^{\mathsf{T}}" if self.row else "")


@dataclass(frozen=True)
class Shaped(Display):
    """A factor with its shape written under it: ``\\underbrace{W^{3}}_{2 \\times 3}``."""

    item: Display
    rows: object  # a number, or LaTeX such as n_{l} in the general formulas
    cols: object

    def _derive_latex(self, printer: Any) -> str:
        return r"\underbrace{" + _p(printer, self.item) + r"}_{" + f"{self.rows} \\times {self.cols}" + "}"


@dataclass(frozen=True)
class Transposed(Display):
    item: Display

    def _derive_latex(self, printer: Any) -> str:
        return r"\left(" + _p(printer, self.item) + r"\right)^{\mathsf{T}}"


@dataclass(frozen=True)
class MatMul(Display):
    """A matrix product, written by juxtaposition."""

    left: Display
    right: Display

    def _derive_latex(self, printer: Any) -> str:
        return _p(printer, self.left) + r" \, " + _p(printer, self.right)


@dataclass(frozen=True)
class Hadamard(Display):
    left: Display
    right: Display

    def _derive_latex(self, printer: Any) -> str:
        return _paren_product(printer, self.left) + r" \odot " + _paren_product(printer, self.right)


@dataclass(frozen=True)
class Plus(Display):
    terms: tuple[Display, ...]

    def _derive_latex(self, printer: Any) -> str:
        return " + ".join(_p(printer, t) for t in self.terms)


@dataclass(frozen=True)
class Minus(Display):
    left: Display
    right: Display

    def _derive_latex(self, printer: Any) -> str:
        return _p(printer, self.left) + " - " + _paren_sum(printer, self.right)


@dataclass(frozen=True)
class Times(Display):
    """Factors multiplied with a dot: ``\\eta \\cdot X``, ``w δ``, numbers in parentheses when negative."""

    factors: tuple[Display, ...]

    def _derive_latex(self, printer: Any) -> str:
        return r" \cdot ".join(_paren_sum(printer, f) for f in self.factors)


@dataclass(frozen=True)
class Frac(Display):
    num: Display
    den: Display

    def _derive_latex(self, printer: Any) -> str:
        return r"\frac{" + _p(printer, self.num) + "}{" + _p(printer, self.den) + "}"


@dataclass(frozen=True)
class Paren(Display):
    item: Display

    def _derive_latex(self, printer: Any) -> str:
        return r"\left(" + _p(printer, self.item) + r"\right)"


@dataclass(frozen=True)
class Squared(Display):
    item: Display

    def _derive_latex(self, printer: Any) -> str:
        return r"\left(" + _p(printer, self.item) + r"\right)^{2}"


@dataclass(frozen=True)
class Neg(Display):
    item: Display

    def _derive_latex(self, printer: Any) -> str:
        return "-" + _paren_sum(printer, self.item)


@dataclass(frozen=True)
class SumOver(Display):
    """``\\sum_{k=1}^{n} body``."""

    index: str
    upper: object
    body: Display

    def _derive_latex(self, printer: Any) -> str:
        return (r"\sum_{" + self.index + "=1}^{" + str(self.upper) + "} " + _paren_sum(printer, self.body))


@dataclass(frozen=True)
class Apply(Display):
    """An activation applied (element-wise, or softmax per column), or its derivative: σ(z), σ'(z), log y."""

    fn: str  # sigma, softmax, log, exp, max
    arg: Display
    prime: bool = False

    def _derive_latex(self, printer: Any) -> str:
        name = {"sigma": r"\sigma", "softmax": r"\operatorname{softmax}", "log": r"\log", "exp": r"\exp",
                "tanh": r"\tanh", "max": r"\max"}[self.fn]
        return name + ("'" if self.prime else "") + r"\left(" + _p(printer, self.arg) + r"\right)"


@dataclass(frozen=True)
class Cases(Display):
    """A piecewise definition: ``\\begin{cases} v & \\text{if } c \\\\ … \\end{cases}`` (conditions as maths)."""

    branches: tuple[tuple[Display, Display], ...]

    def _derive_latex(self, printer: Any) -> str:
        rows = [_p(printer, value) + " & " + _p(printer, cond) for value, cond in self.branches]
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"


@dataclass(frozen=True)
class Relation(Display):
    """``left op right`` for conditions such as z > 0 (op is LaTeX: ``>``, ``\\le``)."""

    left: Display
    op: str
    right: Display

    def _derive_latex(self, printer: Any) -> str:
        return _p(printer, self.left) + " " + self.op + " " + _p(printer, self.right)


def _paren_product(printer: Any, item: Display) -> str:
    """Parentheses around sums and matrix products used as operands of ⊙: ((W)ᵀ δ) ⊙ σ'(z)."""
    text = _p(printer, item)
    if isinstance(item, (Plus, Minus, MatMul)):
        return r"\left(" + text + r"\right)"
    return text


def _paren_sum(printer: Any, item: Display) -> str:
    """Parentheses around sums and differences used as factors."""
    text = _p(printer, item)
    if isinstance(item, (Plus, Minus)):
        return r"\left(" + text + r"\right)"
    return text
