"""derive.verify.point: a scope's numbers worked out name by name give what the exact path gives (the point put
into the expression, then `exact_number`), and leave to it what only exact arithmetic decides."""
from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from derive.verify.check import EXACT_DIGITS, at_point, exact_number
from derive.verify.model import Model, Relu, Sigmoid, VName, unit_step
from derive.verify.point import PointValues

X, Y, Z = VName("x"), VName("y"), VName("z")
VALUES = {X: Fraction(1, 3), Y: Fraction(-2), Z: Fraction(0)}


def exact_path(expr: sympy.Expr) -> sympy.Expr | None:
    return exact_number(at_point(expr, {s: sympy.Rational(v.numerator, v.denominator) for s, v in VALUES.items()}))


def point_values() -> PointValues:
    return PointValues(Model([], VALUES, 3), EXACT_DIGITS)


@pytest.mark.parametrize("expr", [
    X + Y, X ** 2 * Y - 3, (X - Y) ** -3, sympy.sqrt(9 * X ** 2), Relu(Y) + Relu(X), unit_step(Y) + unit_step(X),
    Sigmoid(X), Sigmoid(Sigmoid(X) * Y) * (1 - Sigmoid(Sigmoid(X) * Y)), sympy.exp(-X) / (1 + sympy.exp(-X)) ** 2,
    sympy.log(1 + sympy.exp(Y)) - sympy.tanh(X), sympy.Abs(Y * X) + sympy.pi * X, sympy.sqrt(X) + X ** Y,
    sympy.exp(Z) + unit_step(Z), (1 + X) ** 1001,
], ids=str)
def test_a_number_is_the_exact_paths_number(expr):
    """Rational where every step is rational (so a terminating decimal is judged exactly), else the same value to
    `EXACT_DIGITS` digits."""
    expected = exact_path(expr)
    found = point_values().number(expr)
    assert expected is not None and found is not None
    assert found.is_Rational == expected.is_Rational
    if found.is_Rational:
        assert found == expected
    else:
        assert abs(found - expected) <= abs(expected) * sympy.Float(10) ** (5 - EXACT_DIGITS)


@pytest.mark.parametrize("expr", [
    # an exact zero written with exponentials: evaluated, it is only tiny
    sympy.exp(X) / (sympy.exp(X) + sympy.exp(Y)) + sympy.exp(Y) / (sympy.exp(X) + sympy.exp(Y)) - 1,
    sympy.log(Y), sympy.sqrt(Y), 1 / Z, sympy.Function("f")(X), X + VName("w"),
    unit_step(Sigmoid(X) - 1 / (1 + sympy.exp(-X))),  # a kink that only exact arithmetic could place
], ids=str)
def test_what_only_the_exact_path_decides_is_left_to_it(expr):
    assert point_values().number(expr) is None


def test_a_matrix_is_read_entry_by_entry():
    matrix = sympy.Matrix([[X, Sigmoid(X)], [Y ** 2, Relu(Y)]])
    assert point_values().entries(matrix) == [exact_path(entry) for entry in matrix]
    assert point_values().number(matrix) is None


def test_a_forgotten_set_of_visible_values_keeps_its_id_to_itself():
    """The models and the claims' keys are keyed by id() of the dict `visible_values` gives: a dict given before
    `forget_visible` stays alive, so that no later dict takes over its id and with it a model of other values."""
    from derive.verify.check import Document, forget_visible, visible_values
    document = Document(claims=[], definitions=[], values=[], skipped=[], layers=0)
    ids = []
    for line in range(50):
        ids.append(id(visible_values(document, line)))  # the id alone: the test keeps no dict alive itself
        forget_visible(document)
    assert len(set(ids)) == len(ids)
