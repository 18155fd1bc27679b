"""SymPy expressions as input: walked node by node over a whitelist into the text the parser reads, and the
gradients agree with sympy.diff of the very expression that was given."""
from __future__ import annotations

import pytest
import sympy

import derive
from derive.sympy_input import sympy_to_text

x, y, z, w, t = sympy.symbols("x y z w t")
sigmoid = sympy.Function("sigmoid")
POINT = {x: sympy.Rational(3, 10), y: sympy.Rational(-7, 5), z: 2, w: sympy.Rational(1, 2), t: 4}

EXPRESSIONS = [
    (x + y) * z,
    x - y,
    x / y,
    (w * x - t) ** 2 / 2,
    sympy.exp(-x) * sympy.log(z) + sympy.sin(y) * sympy.cos(x),
    sympy.tanh(w * x + y) - sympy.sqrt(z),
    1 / (1 + sympy.exp(-(w * x + y))),
    x ** y * z ** sympy.Rational(3, 2),
    (x ** 2) ** y,
    2 ** x + sympy.E * y,
    sympy.Float(0.1) * x - sympy.Rational(-3, 4) * z,
    sympy.Max(0, w * x + y) + sympy.Max(0, z),
    x ** -3 + (x + y) ** -1,
]


def _at(expr):
    return {s: POINT[s] for s in expr.free_symbols}


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_gradients_match_sympy_diff(expr):
    point = _at(expr)
    result = derive.explain(expr, at=point)
    assert result.values["f"] == pytest.approx(float(expr.subs(point)), rel=1e-12)
    for symbol in expr.free_symbols:
        expected = sympy.diff(expr, symbol).subs(point)
        got = result.gradients[symbol.name]
        if expected.is_Rational:
            assert got == expected, symbol
        else:
            assert float(got) == pytest.approx(float(expected), rel=1e-9, abs=1e-12), symbol


def test_undefined_sigmoid_is_derives_sigmoid():
    result = derive.explain(sigmoid(w * x + y), at=_at(w * x + y))
    s = 1 / (1 + sympy.exp(-(w * x + y)))
    assert float(result.gradients["w"]) == pytest.approx(float(sympy.diff(s, w).subs(_at(s))), rel=1e-12)


@pytest.mark.parametrize("expr, text", [
    (x - y, "x + (-1)*y"),  # SymPy's evaluated form: the walk shows the nodes SymPy built
    (x / y, "x*y**(-1)"),
    (x * x, "x**2"),
    (sympy.sqrt(x + 1), "sqrt(1 + x)"),  # and in its order of terms
    (sympy.Rational(1, 2) * (x - t) ** 2, "(1/2)*(x + (-1)*t)**2"),
    ((x ** 2) ** y, "(x**2)**y"),
    (x ** (y ** z), "x**y**z"),
    (x ** (-y), "x**((-1)*y)"),
])
def test_the_text_keeps_sympys_nodes(expr, text):
    assert sympy_to_text(expr) == text
    assert derive.explain(expr).walkthrough.source == text


@pytest.mark.parametrize("expr, fragment", [
    (sympy.Abs(x), "Abs"),
    (sympy.pi * x, "Pi"),
    (sympy.Heaviside(x), "Heaviside"),
    (sympy.Integral(x, y), "Integral"),
    (sympy.Function("g")(x), "g"),
    (sympy.Symbol("__import__('os').system('true')") + x, "cannot name a node"),
    (sympy.Symbol("lambda") * x, "cannot name a node"),
    (sympy.I * x, "ImaginaryUnit"),
    (sympy.Eq(y, x), "expected a SymPy expression"),
    (sympy.oo * x, "Infinity"),
])
def test_anything_else_is_an_input_error_naming_it(expr, fragment):
    with pytest.raises(derive.InputError) as caught:
        derive.explain(expr)
    assert fragment in str(caught.value) and str(caught.value).startswith("source: ")


def test_symbols_as_keys_of_at_and_floats_read_exactly():
    result = derive.explain(w * x, at={w: 0.1, x: 3})
    assert result.gradients["x"] == sympy.Rational(1, 10)
