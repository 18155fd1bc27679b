"""The one printer (derive.notation.DerivePrinter, through ``latex``) and the one number rule (``number_text``,
``number_latex``): a number with a terminating decimal of at most 12 significant digits prints exactly; any other is
rounded half-even to 6 significant digits. Every printed number is read back and compared with its value to the
digits shown, against Python's ``decimal`` module and mpmath as independent oracles."""
from __future__ import annotations

import random
import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import mpmath
import pytest
import sympy

from derive.notation import DerivePrinter, latex, number_latex, number_text

R = sympy.Rational
EXACT_DIGITS = 12  # README: an integer or a terminating decimal is printed as its exact value (bounded: 12 digits)
ROUNDED_DIGITS = 6  # anything else: half-even to six significant digits


def s(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


# ---------------------------------------------------------------------------------------------------------------
# The number rule, against Python's decimal module


def significant_digits(value: Fraction) -> int | None:
    """How many significant digits the exact decimal of ``value`` has; None if it does not terminate."""
    q = value.denominator
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    if q != 1:
        return None
    with localcontext() as ctx:
        ctx.prec = 400
        decimal = (Decimal(value.numerator) / Decimal(value.denominator)).normalize()
    return len(decimal.as_tuple().digits)


def rounded(value: Fraction) -> Fraction:
    """``value`` rounded half-even to six significant digits, by Python's decimal module."""
    with localcontext() as ctx:
        ctx.prec = 400
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
        quantum = Decimal(1).scaleb(decimal.adjusted() - (ROUNDED_DIGITS - 1))
        result = decimal.quantize(quantum, rounding=ROUND_HALF_EVEN)
    return Fraction(result)


def shown_digits(text: str) -> int:
    """The significant digits a printed number shows."""
    mantissa = re.sub(r"e[+-]\d+$", "", text).lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa) or 1


def expected_value(value: Fraction) -> Fraction:
    digits = significant_digits(value)
    return value if digits is not None and digits <= EXACT_DIGITS else rounded(value)


def sample_values() -> list[Fraction]:
    """Exact decimals of 1 to 16 significant digits at magnitudes 1e-20 to 1e20 (both sides of the 12-digit bound),
    fractions that never terminate, binary fractions, and ties of six digits that terminate."""
    rng = random.Random(20261204)
    values: list[Fraction] = []
    for _ in range(1500):
        digits = rng.randint(1, 16)
        mantissa = rng.randint(10 ** (digits - 1), 10 ** digits - 1)
        values.append(Fraction(mantissa) * Fraction(10) ** rng.randint(-20 - digits, 20 - digits) * rng.choice((1, -1)))
    for _ in range(1500):
        values.append(Fraction(rng.randint(-10 ** 9, 10 ** 9), rng.choice((3, 7, 11, 13, 49, 97, 999, 3 ** 15)))
                      * Fraction(10) ** rng.randint(-12, 12))
    for _ in range(500):
        values.append(Fraction(rng.randint(1, 2 ** 53), 2 ** rng.randint(1, 80)))
    for _ in range(500):  # d.dddd5 exactly: seven digits, so exact, never rounded
        values.append(Fraction(rng.randint(100000, 999999) * 10 + 5, 10 ** rng.randint(0, 12)))
    return values


SAMPLES = sample_values()


def test_the_samples_reach_both_branches():
    exact = sum(1 for v in SAMPLES if expected_value(v) == v)
    assert exact > 1000 and len(SAMPLES) - exact > 1500


@pytest.mark.parametrize("kind", ["Rational", "Fraction"])
def test_every_printed_number_equals_its_value_to_the_digits_shown(kind):
    for value in SAMPLES:
        argument = R(value.numerator, value.denominator) if kind == "Rational" else value
        text = number_text(argument)
        shown = Fraction(text)
        assert shown == expected_value(value), (value, text)
        if shown == value:
            assert shown_digits(text) <= EXACT_DIGITS, text
        else:
            assert shown_digits(text) <= ROUNDED_DIGITS, text
            unit = Fraction(10) ** (_exponent(value) - ROUNDED_DIGITS + 1)
            assert abs(shown - value) <= unit / 2, (value, text)


def _exponent(value: Fraction) -> int:
    with localcontext() as ctx:
        ctx.prec = 400
        return (Decimal(abs(value.numerator)) / Decimal(value.denominator)).adjusted()


@pytest.mark.parametrize("value, text", [
    (Fraction(123456789012), "123456789012"),  # 12 digits: exact
    (Fraction(1234567890123), "1.23457e+12"),  # 13: rounded
    (Fraction(1234567890125, 10 ** 13), "0.123457"),  # 13 significant digits: rounded
    (Fraction(123456789012, 10 ** 12), "0.123456789012"),  # 12: exact
    (Fraction(10 ** 11), "100000000000"), (Fraction(10 ** 12), "1e+12"),  # 12 integer digits at most, positional
    (Fraction(25, 10 ** 12), "2.5e-11"),  # exact, but below 1e-4: with a power of ten (issue 17: ε = 10^{-10})
    (Fraction(1, 10 ** 4), "0.0001"), (Fraction(1, 10 ** 5), "1e-05"),  # the boundary, exact values
    (Fraction(25, 10 ** 13), "2.5e-12"),  # exact, 13 places: with a power of ten
    (Fraction(-7, 8), "-0.875"), (Fraction(1, 1024), "0.0009765625"),
    (Fraction(1, 2 ** 30), "9.31323e-10"),  # 21 digits: rounded, and below 1e-4 written with a power of ten
    (Fraction(2, 3) / 10 ** 3, "0.000666667"), (Fraction(2, 3) / 10 ** 4, "6.66667e-05"),
    (Fraction(2, 3) * 10 ** 5, "66666.7"),
    (Fraction(2, 3) * 10 ** 6, "666667"), (Fraction(2, 3) * 10 ** 7, "6.66667e+06"),
    (Fraction(9999995, 10 ** 6) + Fraction(1, 10 ** 20), "10"),  # rounds up across a power of ten
])
def test_the_boundaries(value, text):
    assert number_text(value) == text


@pytest.mark.parametrize("value, latex_text", [
    (Fraction(1, 10 ** 10), "10^{-10}"), (Fraction(-1, 10 ** 8), "-10^{-8}"), (Fraction(15, 10 ** 6), r"1.5 \times 10^{-5}"),
    (Fraction(1, 10 ** 4), "0.0001")])
def test_small_exact_numbers_print_with_a_power_of_ten(value, latex_text):
    """ε = 10^{-10} as a reader writes it, not 0.0000000001 (issue 17); a mantissa of 1 is not written."""
    assert number_latex(value) == latex_text


@pytest.mark.parametrize("value", [
    sympy.sqrt(2), sympy.exp(1), sympy.pi, -sympy.log(3), sympy.E ** 40, sympy.exp(-25), sympy.sqrt(2) / 10 ** 7])
def test_irrational_values_are_rounded_like_any_other(value):
    with mpmath.workdps(50):
        exact = mpmath.mpf(sympy.N(value, 50))
        decimal = Decimal(mpmath.nstr(exact, 45, min_fixed=1, max_fixed=0).replace("e", "E"))
    text = number_text(value)
    assert shown_digits(text) <= ROUNDED_DIGITS
    with localcontext() as ctx:
        ctx.prec = 60
        assert Decimal(text) == decimal.quantize(Decimal(1).scaleb(decimal.adjusted() - 5), rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize("value", [0.1, 1 / 3, 2.5e-12, 1e300, -123456.789, 2.0 ** -1074])
def test_floats_print_their_binary_value_by_the_rule(value):
    """A float's value is its exact binary value: 0.1 is not a terminating decimal of 12 digits, so it is rounded."""
    exact = Fraction(value)
    for argument in (value, sympy.Float(value)):
        assert Fraction(number_text(argument)) == expected_value(exact)


def test_number_latex_is_the_text_in_maths():
    for value in SAMPLES[::7]:
        text = number_text(value)
        written = number_latex(value)
        match = re.fullmatch(r"(-?[\d.]+) \\times 10\^\{(-?\d+)\}", written)
        power = re.fullmatch(r"(-?)10\^\{(-?\d+)\}", written)  # a mantissa of 1 is not written (10^{-10})
        if power:
            sign, exponent = power.groups()
            assert "e" in text and Fraction(sign + "1") * Fraction(10) ** int(exponent) == Fraction(text)
        elif match:
            mantissa, exponent = match.groups()
            assert "e" in text and Fraction(mantissa) * Fraction(10) ** int(exponent) == Fraction(text)
        else:
            assert written == text and "e" not in text


# ---------------------------------------------------------------------------------------------------------------
# The printer


@pytest.mark.parametrize("name, printed", [
    ("x", "x"), ("w1", "w_{1}"), ("x_1", "x_{1}"), ("z_12", "z_{12}"), ("z^2_1", "z^{2}_{1}"), ("a^2", "a^{2}"),
    ("W^l+1", "W^{l+1}"), ("x_1,2", "x_{1,2}"),  # indices as the material writes them
    ("y_", "y'"), ("y__", "y''"), ("w_1_", "{w_{1}}'"),  # a trailing underscore is a prime
    ("alpha", r"\alpha"), ("Theta", r"\Theta"), ("sigma2", r"\sigma_{2}"),  # Greek names as Greek letters
    ("loss", r"\mathrm{loss}"), ("apple_num", r"\mathrm{apple\_num}"),  # other long names upright
    ("e", r"\mathit{e}"), ("pi", r"\mathit{pi}"),  # a leaf named e or pi is not Euler's e or π
])
def test_names_follow_the_material(name, printed):
    assert latex(s(name)) == printed


@pytest.mark.parametrize("build, printed", [
    (lambda x, y: sympy.Add(-1, y, evaluate=False), "y - 1"),  # a sum does not start with a negative term
    (lambda x, y: y - 1, "y - 1"),
    (lambda x, y: x * y, r"x \cdot y"),
    (lambda x, y: R(1, 2) * x, r"\frac{1}{2} \cdot x"),  # ½·q, not q/2
    (lambda x, y: sympy.Mul(R(-1, 2), x + y, evaluate=False), r"- \frac{1}{2} \cdot \left(x + y\right)"),
    (lambda x, y: sympy.Abs(x + y), r"\left\lvert x + y \right\rvert"),  # no bar: it would end a GFM table cell
    (lambda x, y: sympy.Heaviside(x), r"\mathbf{1}\left[x > 0\right]"),
    (lambda x, y: sympy.exp(x), "e^{x}"), (lambda x, y: sympy.pi * x, r"\pi \cdot x"),
    (lambda x, y: sympy.Float("0.1") * x, r"0.1 \cdot x"),  # numbers by the one rule
    (lambda x, y: sympy.Float("0.000012345", 30) * y, r"1.2345 \times 10^{-5} \cdot y"),
    (lambda x, y: x / y, r"\frac{x}{y}"),
])
def test_expressions(build, printed):
    assert latex(build(s("x"), s("y"))) == printed


@pytest.mark.parametrize("value", [R(1, 3), R(18, 25), sympy.sqrt(3), R(10) ** 20 / 7, R(1, 10 ** 15)])
def test_a_float_in_a_formula_prints_by_the_number_rule(value):
    x = s("x")
    float_value = sympy.N(value, 30)
    assert latex(float_value * x) == number_latex(float_value) + r" \cdot x"
    assert latex(-float_value * x) == "- " + number_latex(float_value) + r" \cdot x"  # a leading minus, spaced
    assert latex(float_value) == number_latex(float_value)
    assert latex(-float_value) == number_latex(-float_value) == "-" + number_latex(float_value)


def test_the_printer_is_a_class_that_takes_settings():
    x, y = s("x"), s("y")
    assert DerivePrinter().doprint(x * y + s("w1")) == latex(x * y + s("w1"))
    assert DerivePrinter({"mul_symbol": "times"}).doprint(x * y) == r"x \times y"


def test_integers_and_python_numbers():
    assert latex(3) == "3" and latex(sympy.Integer(-12)) == "-12" and latex(R(3, 4)) == r"\frac{3}{4}"
