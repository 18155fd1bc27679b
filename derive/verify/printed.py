"""Numbers as printed, on a page that declares ``numbers strict`` (see `derive.verify.directives`).

A printed number holds when it is exactly what derive's one number rule prints for the exact value
(`derive.notation.number_text`). A member written with numbers right after a member written with symbols is a
*substitution*: `align` pairs each printed number with the term of the symbolic member it stands for, in order,
so that the k-th number is judged against the k-th term.
"""
from __future__ import annotations

from fractions import Fraction
from itertools import combinations

from ..notation import number_text
from .syntax import Add, Div, Func, Matrix, Mul, Neg, Node, Num, Pow, Transpose

MAX_FACTORS = 12


def printed_number(node: Node) -> Fraction | None:
    """The value of a node written as one number (``-0.5``, ``\\left(-2\\right)``, ``1.5 \\times 10^{-5}``)."""
    if isinstance(node, Neg):
        inner = printed_number(node.arg)
        return -inner if inner is not None else None
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Pow) and _is_num(node.base, 10) and _integer(node.exp) is not None:
        return Fraction(10) ** _integer(node.exp)
    if isinstance(node, Mul) and len(node.factors) == 2 and isinstance(node.factors[0], (Num, Neg)) \
            and isinstance(node.factors[1], Pow) and printed_number(node.factors[1]) is not None:
        first = printed_number(node.factors[0])
        return None if first is None else first * printed_number(node.factors[1])
    return None


def printed_entries(node: Node) -> list[Fraction] | None:
    """The entries of a matrix written out with one number in each, row by row; None for anything else."""
    if not isinstance(node, Matrix):
        return None
    values = [printed_number(entry) for row in node.rows for entry in row]
    return None if any(v is None for v in values) else values


def as_printed(value) -> Fraction:
    """The value derive's number rule prints for an exact value (a SymPy number or expression without symbols)."""
    return Fraction(number_text(value))


def align(symbolic: Node, numeric: Node) -> list[tuple[tuple[Node, ...], Node]] | None:
    """Pairs (terms of the symbolic member whose product the number stands for, the printed number), in order;
    None when the numeric member is not the symbolic one with numbers put in."""
    if printed_number(numeric) is not None or isinstance(numeric, Matrix):
        return [((symbolic,), numeric)]  # a matrix written out stands for the symbolic member's value, entry by entry
    symbolic, numeric = _sign_inside(symbolic), _sign_inside(numeric)
    if isinstance(symbolic, Add) and isinstance(numeric, Add) and len(symbolic.terms) == len(numeric.terms):
        pairs = []
        for (sign_a, term_a), (sign_b, term_b) in zip(symbolic.terms, numeric.terms):
            found = align(_signed(sign_a, term_a), _signed(sign_b, term_b))
            if found is None:
                return None
            pairs += found
        return pairs
    if isinstance(symbolic, Mul) and isinstance(numeric, Mul) and symbolic.hadamard == numeric.hadamard:
        return _align_factors(symbolic.factors, _scientific(numeric.factors))
    if isinstance(symbolic, Neg) and isinstance(numeric, Neg):
        return align(symbolic.arg, numeric.arg)
    if isinstance(symbolic, Div) and isinstance(numeric, Div):
        return _both(align(symbolic.num, numeric.num), align(symbolic.den, numeric.den))
    if isinstance(symbolic, Pow) and isinstance(numeric, Pow):
        return _both(align(symbolic.base, numeric.base), align(symbolic.exp, numeric.exp))
    if isinstance(symbolic, Func) and isinstance(numeric, Func) and symbolic.name == numeric.name:
        return align(symbolic.arg, numeric.arg)
    if isinstance(symbolic, Transpose) and isinstance(numeric, Transpose):
        return align(symbolic.arg, numeric.arg)
    return None


def _align_factors(factors: tuple[Node, ...], numbers: tuple[Node, ...]):
    """Cut the symbolic factors into consecutive groups, one per numeric factor (2 · r printed as −4 is one
    group); the first cut that aligns every group wins."""
    n, m = len(factors), len(numbers)
    if m > n or n > MAX_FACTORS:
        return None
    for cuts in combinations(range(1, n), m - 1):
        bounds = (0,) + cuts + (n,)
        pairs = []
        for k in range(m):
            group = factors[bounds[k]:bounds[k + 1]]
            if len(group) == 1:
                found = align(group[0], numbers[k])
            elif printed_number(numbers[k]) is not None:
                found = [(group, numbers[k])]
            else:
                found = None
            if found is None:
                break
            pairs += found
        else:
            return pairs
    return None


def _sign_inside(node: Node) -> Node:
    """−(a·b) as (−a)·b: a leading minus belongs to the first factor, as a reader takes −4 · 1."""
    if isinstance(node, Neg) and isinstance(node.arg, Mul) and node.arg.factors:
        first, *rest = node.arg.factors
        return Mul((Neg(first), *rest), node.arg.hadamard)
    return node


def _scientific(factors: tuple[Node, ...]) -> tuple[Node, ...]:
    """A product's factors with each ``1.5 \\times 10^{-5}`` (a number times a power of ten) as one number."""
    out: list[Node] = []
    for factor in factors:
        if out and isinstance(out[-1], (Num, Neg)) and printed_number(out[-1]) is not None \
                and isinstance(factor, Pow) and printed_number(factor) is not None:
            out.append(Mul((out.pop(), factor)))
            continue
        out.append(factor)
    return tuple(out)


def _both(first, second):
    return None if first is None or second is None else first + second


def _signed(sign: int, node: Node) -> Node:
    return Neg(node) if sign < 0 else node


def _is_num(node: Node, value: int) -> bool:
    return isinstance(node, Num) and node.value == value


def _integer(node: Node) -> int | None:
    value = printed_number(node)
    return int(value) if value is not None and value.denominator == 1 else None
