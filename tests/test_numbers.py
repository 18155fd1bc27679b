"""The one rule for printed numbers: integers and terminating decimals exactly, anything else rounded half-even to
six significant digits with trailing zeros dropped (derive.notation.number_text / number_latex)."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
import random

import pytest
import sympy

from derive.notation import Shown, latex, number_latex, number_text


@pytest.mark.parametrize("value, text", [
    (sympy.Integer(-4), "-4"), (sympy.Rational(18, 25), "0.72"), (sympy.Rational(-1, 2), "-0.5"),
    (sympy.Integer(1444), "1444"), (sympy.Integer(0), "0"), (3, "3"), (Fraction(7, 5), "1.4"),
    (sympy.Rational(1, 10), "0.1"), (sympy.Rational(-1, 5), "-0.2"), (sympy.Rational(1, 10 ** 8), "1e-08"),  # exact, but below 1e-4: a power of ten (issue 17)
    
    (sympy.Rational(99399533824, 10 ** 10), "9.9399533824"),  # 11 significant digits, exact
    (sympy.Rational(1, 3), "0.333333"), (sympy.Rational(2, 3), "0.666667"), (sympy.Rational(-72, 53), "-1.35849"),
    (1 / (1 + sympy.exp(-1)), "0.731059"), (sympy.Float("0.000012345", 30), "1.2345e-05"),
    (sympy.Integer(10) ** 30, "1e+30"), (sympy.Rational(1, 2 ** 20), "9.53674e-07"),
    (sympy.Rational(2, 3) * 10 ** 7, "6.66667e+06"), (1234567.8, "1.23457e+06"),
    (sympy.Rational(1234565, 10 ** 13) + sympy.Rational(1, 3 * 10 ** 20), "1.23457e-07"),  # just above the tie
    (sympy.Rational(1234565, 10 ** 6) + sympy.Rational(1, 7 * 10 ** 15), "1.23457"),
    (sympy.Rational(9999995, 10 ** 7) + sympy.Rational(1, 3 * 10 ** 13), "1"),  # rounds up to the next power of 10
    (sympy.Float(0.1), "0.1"), (0.1, "0.1"), (sympy.Float("2.0000001", 30) - sympy.Float("1e-7", 30), "2"),
])
def test_number_text(value, text):
    assert number_text(value) == text


def test_a_seven_digit_tie_is_exact_not_rounded():
    # A value ending in ...5 after six digits terminates, so it prints exactly: the rounding never meets a tie.
    assert number_text(sympy.Rational(1234565, 10 ** 7)) == "0.1234565"
    assert number_text(sympy.Rational(12345650000001, 10 ** 14)) == "0.123457"  # 14 digits: rounded


@pytest.mark.parametrize("value, latex_text", [
    (sympy.Float("0.000012345", 30), r"1.2345 \times 10^{-5}"), (sympy.Integer(10) ** 30, r"10^{30}"),  # a mantissa of 1 is not written (issue 17: ε = 10^{-10})
    
    (sympy.Rational(-1, 3), "-0.333333"), (sympy.Rational(1, 20), "0.05")])
def test_number_latex(value, latex_text):
    assert number_latex(value) == latex_text


def _oracle(value: Fraction) -> str:
    """Python's decimal module as an independent oracle: half-even to six significant digits, zeros dropped."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        rounded = exact.quantize(Decimal(1).scaleb(exact.adjusted() - 5), rounding=ROUND_HALF_EVEN)
    return f"{rounded.normalize():f}" if -4 <= rounded.adjusted() < 6 else None


def test_random_rationals_against_decimal():
    rng = random.Random(11)
    checked = 0
    for _ in range(3000):
        value = Fraction(rng.randint(-10 ** 7, 10 ** 7), rng.choice([3, 7, 9, 11, 13, 17, 19, 21, 23, 99, 101, 999983]))
        expected = _oracle(value)
        if value and expected is not None:
            assert number_text(sympy.Rational(value.numerator, value.denominator)) == expected, value
            checked += 1
    assert checked > 1000


def test_exact_values_print_exactly():
    rng = random.Random(5)
    for _ in range(500):
        value = Fraction(rng.randint(-10 ** 11, 10 ** 11), 10 ** rng.randint(0, 11))
        text = number_text(sympy.Rational(value.numerator, value.denominator))
        assert Fraction(text) == value, (value, text)


def test_shown_prints_the_exact_value_not_a_low_precision_float():
    """The bug: Float("0.1", 1) has a few bits and printed as 0.0996094."""
    matrix = sympy.ImmutableMatrix([[Shown(sympy.Rational(1, 10), bare=True), Shown(sympy.Rational(-1, 5), bare=True)],
                                    [Shown(sympy.Rational(3, 10), bare=True), Shown(sympy.Rational(2, 5), bare=True)]])
    assert latex(matrix) == r"\left(\begin{array}{rr}0.1 & -0.2 \\ 0.3 & 0.4\end{array}\right)"
    assert latex(sympy.Mul(Shown(sympy.Rational(-3, 5)), sympy.Symbol("x"), evaluate=False)) == r"\left(-0.6\right) \cdot x"
