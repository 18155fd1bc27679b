"""The number an expression of a model has at the model's point (its scope's values), each name worked out once.

Written in the leaves, a quantity of a deep network is a tree that grows with every layer (σ(z⁴) holds σ(z³) in
every term, which holds σ(z²) …), and substituting the point into that tree, then evaluating it, repeats the
work for every claim and every matrix entry. Here a name's value is its definition's value, computed from the
values of the names it reads and kept for every later claim of the scope: the work grows with the size of the
definitions, not with the size of the unrolled tree.

The numbers are the same as the exact path's (`derive.verify.check.exact_number`): a rational where every step is
rational (sums, products, integer powers of rationals, ReLU), else the value to ``digits`` digits. Anything this
module does not evaluate (a function only named, a derivative left unevaluated, a complex or infinite value, a
result so small that it may be an exact zero written with exponentials) gives None, and the caller takes the exact
path.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Mapping, TypeVar

import mpmath
import sympy

from .model import Model, PartialSym, Relu, Sigmoid, VName, is_matrix

K = TypeVar("K")

MAX_EXACT_EXPONENT = 1000
"""A rational to a larger integer power is evaluated to ``digits`` digits, not exactly (as `check.at_point`)."""
TINY = mpmath.mpf("1e-20")
"""An evaluated result below this may be a zero that only exact arithmetic shows (softmax at rational scores)."""


class NotHere(Exception):
    """This expression is not evaluated here: the exact path decides."""


MPMATH_FUNCTIONS = {sympy.exp: mpmath.exp, sympy.log: mpmath.log, sympy.tanh: mpmath.tanh, sympy.sin: mpmath.sin,
                    sympy.cos: mpmath.cos, Sigmoid: lambda x: 1 / (1 + mpmath.exp(-x)),
                    Relu: lambda x: x if x > 0 else mpmath.mpf(0), sympy.Abs: abs}


def rational_point(values: Mapping[K, Fraction]) -> dict[K, sympy.Rational]:
    """A point's values (fractions) as SymPy rationals, to put into an expression."""
    return {name: sympy.Rational(value.numerator, value.denominator) for name, value in values.items()}


class PointValues:
    """The values of one model's expressions at its point, cached for as long as the model serves claims."""

    def __init__(self, model: Model, digits: int):
        self.model = model
        self.digits = digits
        self.point = rational_point(model.values)
        self._known: dict[sympy.Basic, object] = {}
        self._reads: dict[sympy.Basic, bool] = {}
        self.usable = not (model.abstract or model.names_functions)
        """A model with quantities or functions the document only names keeps them as symbols: the exact path."""

    def number(self, expr: sympy.Expr) -> sympy.Expr | None:
        """``expr`` at the point: a `sympy.Rational` when exact, else a `sympy.Float` of ``digits`` digits; None
        when the exact path must decide. May raise what the model raises (`ModelProblem`, `TooLarge`)."""
        if not self.usable or is_matrix(expr):
            return None
        with mpmath.workdps(self.digits + 10):
            try:
                value = self._value(expr)
            except (NotHere, ZeroDivisionError):
                return None
            return self._finished(value)

    def entries(self, matrix: sympy.MatrixBase) -> list[sympy.Expr] | None:
        """Each entry of ``matrix`` at the point (row by row), or None when any entry must take the exact path."""
        if not self.usable:
            return None
        found = []
        with mpmath.workdps(self.digits + 10):
            for entry in matrix:
                try:
                    value = self._finished(self._value(entry))
                except (NotHere, ZeroDivisionError):
                    return None
                if value is None:
                    return None
                found.append(value)
        return found

    def reads_point(self, expr: sympy.Expr) -> bool:
        """Whether ``expr``, its names unrolled, reads any of the point's values (after `number` gave its value)."""
        found = None if is_matrix(expr) else self._reads.get(expr)
        if found is None:
            if isinstance(expr, PartialSym):
                found = self.reads_point(self.model.partial(expr.num, expr.den))
            elif isinstance(expr, VName):
                rhs = self.model.rhs_of(expr)
                found = self.reads_point(rhs) if rhs is not None else expr in self.point
            else:
                found = any(self.reads_point(arg) for arg in expr.args)
            if not is_matrix(expr):
                self._reads[expr] = found
        return found

    def _finished(self, value) -> sympy.Expr | None:
        if isinstance(value, sympy.Rational):
            return value
        if not mpmath.isfinite(value) or abs(value) < TINY:
            return None
        return sympy.Float(value, self.digits)

    def _value(self, expr: sympy.Basic):
        if is_matrix(expr):
            raise NotHere  # a name defined as a vector or matrix, used as a number (v·v)
        known = self._known.get(expr)
        if known is None:
            known = self._known[expr] = self._evaluate(expr)
        return known

    def _evaluate(self, expr: sympy.Basic):
        if expr.is_Rational:
            return expr
        if expr.is_Float:
            return mpmath.mpf(expr._mpf_)
        if isinstance(expr, PartialSym):
            return self._value(self.model.partial(expr.num, expr.den))
        if isinstance(expr, VName):
            rhs = self.model.rhs_of(expr)  # a definition before a value, as `Model.full` unrolls
            if rhs is not None:
                return self._value(rhs)
            if expr in self.point:
                return self.point[expr]
            raise NotHere
        if expr.is_Add or expr.is_Mul:
            return self._combine(expr, [self._value(arg) for arg in expr.args])
        if expr.is_Pow:
            return self._power(self._value(expr.base), self._value(expr.exp))
        if isinstance(expr, sympy.NumberSymbol):
            return mpmath.mpf(expr.evalf(self.digits + 10)._mpf_)
        if isinstance(expr, sympy.Heaviside):
            return self._step(self._value(expr.args[0]), expr.args[1] if len(expr.args) > 1 else None)
        if isinstance(expr, sympy.Function) and not isinstance(expr, sympy.core.function.AppliedUndef) \
                and len(expr.args) == 1:
            return self._applied(expr.func, self._value(expr.args[0]))
        raise NotHere

    @staticmethod
    def _step(argument, at_zero):
        """The unit step 𝟙[u > 0] (`model.unit_step`): its value at the kink only from an exact argument."""
        if not isinstance(argument, sympy.Rational) and abs(argument) < TINY:
            raise NotHere  # perhaps a kink that only exact arithmetic shows
        if argument > 0:
            return sympy.S.One
        if argument < 0:
            return sympy.S.Zero
        if isinstance(argument, sympy.Rational) and at_zero is not None and at_zero.is_Rational:
            return at_zero
        raise NotHere

    @staticmethod
    def _combine(expr: sympy.Expr, values: list):
        if all(isinstance(v, sympy.Rational) for v in values):
            return expr.func(*values)
        if expr.is_Mul:
            if any(isinstance(v, sympy.Rational) and v == 0 for v in values):
                return sympy.S.Zero
            return mpmath.fprod(_mpf(v) for v in values)
        return mpmath.fsum(_mpf(v) for v in values)

    def _power(self, base, exponent):
        if isinstance(base, sympy.Rational) and isinstance(exponent, sympy.Rational):
            if base == 0 and exponent <= 0:
                raise NotHere
            if exponent.is_Integer:
                if abs(exponent) <= MAX_EXACT_EXPONENT:
                    return base ** exponent
            else:
                exact = sympy.Pow(base, exponent)  # √(1/4) = 1/2
                if exact.is_Rational:
                    return exact
        if base < 0 and not (isinstance(exponent, sympy.Rational) and exponent.is_Integer):
            raise NotHere  # not a real number
        if base == 0:
            raise NotHere
        return mpmath.power(_mpf(base), _mpf(exponent))

    def _applied(self, function, argument):
        if isinstance(argument, sympy.Rational):
            exact = function(argument)  # SymPy's own rule: e^0 = 1, ReLU at a rational, log 1 = 0
            if exact.is_Rational:
                return exact
        own = MPMATH_FUNCTIONS.get(function)
        if own is None:
            raise NotHere
        if function is sympy.log and argument <= 0:
            raise NotHere
        return own(_mpf(argument))


def _mpf(value) -> mpmath.mpf:
    return mpmath.mpf(value.p) / value.q if isinstance(value, sympy.Rational) else value
