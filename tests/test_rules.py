"""The rule table (derive.rules.RULES), entry by entry, against independent oracles.

For every op: its local gradients (``partials``, written with the node's own output ``out`` where textbooks do)
equal ``sympy.diff`` of its ``forward`` definition, exactly to 30 digits; its plain float ``numeric`` form equals the
forward value, and its central differences equal the local gradients. Points lie on both sides of every kink, and
the value of the gradient at a kink is PyTorch's.
"""
from __future__ import annotations

import cmath
from dataclasses import dataclass

import pytest
import sympy

from derive.rules import RULES

from conftest import require_module

R = sympy.Rational
DIGITS = 30
STEP = 1e-4  # of the five-point central difference: truncation ~STEP^4, rounding ~1e-16/STEP


@dataclass(frozen=True)
class Case:
    """One op at one point: exact operand values, the op's params, and which operands are numbers rather than
    variables."""

    op: str
    point: tuple[sympy.Rational, ...]
    params: tuple = ()
    constants: frozenset[int] = frozenset()  # operand positions given as numbers, not variables

    def __str__(self) -> str:
        shown = ", ".join(format(float(v), "g") + ("(const)" if i in self.constants else "")
                          for i, v in enumerate(self.point))
        return f"{self.op}[{shown}]{list(self.params) if self.params else ''}"


def _r(*values: str) -> tuple[sympy.Rational, ...]:
    return tuple(R(v) for v in values)


UNARY_REAL = ("-1.3", "-0.4", "0.25", "1.7")  # for ops defined on the whole line
POSITIVE = ("0.25", "1.7", "3.2")
BOTH_SIDES_OF_ZERO = ("-1.3", "-0.05", "0.05", "0.7")  # the kinks of relu and leaky_relu are at 0

CASES: list[Case] = [
    *[Case("add", _r(*p)) for p in [("0.7", "-1.3"), ("0.7", "-1.3", "2.5")]],
    *[Case("sum", _r(*p)) for p in [("0.7", "-1.3"), ("0.7", "-1.3", "2.5", "-0.1")]],
    *[Case("mul", _r(*p)) for p in [("0.7", "-1.3"), ("0.7", "-1.3", "2.5"), ("2", "-0.5", "0.3", "4")]],
    *[Case("sub", _r(*p)) for p in [("0.7", "-1.3"), ("-2", "5")]],
    *[Case("div", _r(*p)) for p in [("0.7", "-1.3"), ("-2", "0.5")]],
    *[Case("pow", _r(*p)) for p in [("0.7", "1.3"), ("1.5", "-0.5"), ("2", "3"), ("0.3", "-2.5")]],
    *[Case(op, _r(x)) for op in ("identity", "neg", "exp", "sin", "cos", "tanh", "sigmoid") for x in UNARY_REAL],
    *[Case(op, _r(x)) for op in ("log", "sqrt") for x in POSITIVE],
    *[Case("relu", _r(x)) for x in BOTH_SIDES_OF_ZERO],
    *[Case("leaky_relu", _r(x), (R(alpha),)) for x in BOTH_SIDES_OF_ZERO for alpha in ("0.01", "0.2")],
    # softmax component k of the logits; with the outputs' names, ∂out/∂a_j is written −out·y_j
    *[Case("softmax", _r("0.3", "-1.2", "2"), (k,)) for k in range(3)],
    *[Case("softmax", _r("0.3", "-1.2", "2"), (k, ("y1", "y2", "y3"))) for k in range(3)],
    Case("softmax", _r("-0.5", "0.5"), (1,)),
    # losses: m predictions, then m targets
    Case("mse", _r("0.8", "1")), Case("mse", _r("0.8", "-0.3", "1", "0.2")),
    Case("sse", _r("0.8", "1")), Case("sse", _r("0.8", "-0.3", "1", "0.2")),
    Case("binary_cross_entropy", _r("0.8", "0.3")),
    Case("binary_cross_entropy", _r("0.8", "0.1", "1", "0.25")),
    Case("binary_cross_entropy", _r("0.8", "1"), constants=frozenset({1})),  # a constant target 1: log p alone
    Case("binary_cross_entropy", _r("0.3", "0"), constants=frozenset({1})),  # and 0: log(1 − p) alone
    Case("softmax_cross_entropy", _r("0.3", "-1.2", "2", "0", "0", "1")),  # one-hot
    Case("softmax_cross_entropy", _r("0.3", "-1.2", "2", "0.2", "0.5", "0.3")),  # soft targets
    Case("softmax_cross_entropy", _r("0.3", "-1.2", "2", "0.4", "0.5", "0.3")),  # targets summing to 1.2
    Case("softmax_cross_entropy", _r("1.5", "-0.5", "1", "0"), constants=frozenset({2, 3})),
    Case("cross_entropy", _r("0.2", "0.5", "0.3", "0.1", "0.6", "0.3")),  # on probabilities, soft targets
    Case("cross_entropy", _r("0.2", "0.5", "0.3", "0", "1", "0"), constants=frozenset({3, 4, 5})),  # one-hot
]

OUT = sympy.Symbol("out", real=True)  # what the rule table writes the node's own output as


def _operands(case: Case) -> list[sympy.Expr]:
    return [value if i in case.constants else sympy.Symbol(f"a{i}", real=True) for i, value in enumerate(case.point)]


def _at_point(case: Case, operands: list[sympy.Expr]) -> dict[sympy.Symbol, sympy.Expr]:
    """The point, plus ``out`` and the softmax outputs' names (y1, y2, …) at their forward values."""
    values = {a: v for a, v in zip(operands, case.point) if isinstance(a, sympy.Symbol)}
    rule = RULES[case.op]
    values[OUT] = rule.forward(list(case.point), case.params)
    if case.op == "softmax" and len(case.params) > 1:
        for j, name in enumerate(case.params[1]):
            values[sympy.Symbol(name, real=True)] = rule.forward(list(case.point), (j, *case.params[1:]))
    return values


def _value(expr: sympy.Expr, values: dict) -> sympy.Float:
    # xreplace rebuilds every node, so that step functions (Heaviside, LeakyStep) evaluate at the numbers
    result = sympy.N(sympy.sympify(expr).xreplace(values), DIGITS)
    assert result.is_number and result.is_real, f"{expr} at {values} is {result}"
    return result


def test_every_rule_has_cases():
    assert set(RULES) == {case.op for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_local_gradients_equal_sympy_diff_of_the_forward(case):
    rule = RULES[case.op]
    operands = _operands(case)
    forward = rule.forward(operands, case.params)
    partials = rule.partials(operands, OUT, case.params)
    assert len(partials) == len(operands)
    values = _at_point(case, operands)
    checked = 0
    for operand, partial in zip(operands, partials):
        if not isinstance(operand, sympy.Symbol):
            continue
        expected = _value(sympy.diff(forward, operand), values)
        got = _value(partial, values)
        assert abs(got - expected) <= sympy.Float(10) ** (5 - DIGITS) * (1 + abs(expected)), (operand, got, expected)
        checked += 1
    assert checked == len(operands) - len(case.constants)


def _numeric(case: Case, point: list[float]) -> float:
    value = RULES[case.op].numeric([complex(x) for x in point], case.params)
    assert abs(complex(value).imag) < 1e-12, value
    return complex(value).real


@pytest.mark.parametrize("case", CASES, ids=str)
def test_numeric_form_equals_the_forward_value(case):
    exact = float(_value(RULES[case.op].forward(list(case.point), case.params), {}))
    assert _numeric(case, [float(v) for v in case.point]) == pytest.approx(exact, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_central_differences_of_the_numeric_form_equal_the_local_gradients(case):
    rule = RULES[case.op]
    operands = _operands(case)
    partials = rule.partials(operands, OUT, case.params)
    values = _at_point(case, operands)
    point = [float(v) for v in case.point]
    for i, (operand, partial) in enumerate(zip(operands, partials)):
        if i in case.constants:
            continue

        def f(shift: float) -> float:
            return _numeric(case, [x + shift if j == i else x for j, x in enumerate(point)])

        difference = (-f(2 * STEP) + 8 * f(STEP) - 8 * f(-STEP) + f(-2 * STEP)) / (12 * STEP)
        assert difference == pytest.approx(float(_value(partial, values)), rel=1e-8, abs=1e-9), (operand, i)


KINKED = sorted(op for op, rule in RULES.items() if rule.kink is not None)


def test_the_kinked_ops_are_relu_and_leaky_relu():
    assert KINKED == ["leaky_relu", "relu"]


@pytest.mark.parametrize("op", KINKED)
@pytest.mark.parametrize("x, at_kink", [(0.0, True), (1e-9, True), (-1e-9, True), (0.05, False), (-0.05, False),
                                        (-1.3, False)])
def test_kink_marks_only_points_near_zero(op, x, at_kink):
    params = (R("0.01"),) if op == "leaky_relu" else ()
    assert RULES[op].kink([x], params) is at_kink


@pytest.mark.parametrize("op, params", [("relu", ()), ("leaky_relu", (R("0.01"),)), ("leaky_relu", (R("0.2"),))])
@pytest.mark.parametrize("x", ["0", "-0.5", "0.5"])
def test_gradient_at_and_around_the_kink_is_pytorchs(op, params, x):
    torch = require_module("torch")
    t = torch.tensor(float(x), dtype=torch.float64, requires_grad=True)
    y = torch.relu(t) if op == "relu" else torch.nn.functional.leaky_relu(t, float(params[0]))
    y.backward()
    a = sympy.Symbol("a0", real=True)
    (partial,) = RULES[op].partials([a], OUT, params)
    got = _value(partial, {a: R(x), OUT: RULES[op].forward([R(x)], params)})
    assert float(got) == t.grad.item()
    assert float(_value(RULES[op].forward([R(x)], params), {})) == y.item()


PERIODIC = sorted(op for op, rule in RULES.items() if rule.period is not None)


def test_the_periodic_ops_are_sin_and_cos():
    assert PERIODIC == ["cos", "sin"]


@pytest.mark.parametrize("op", PERIODIC)
@pytest.mark.parametrize("x", UNARY_REAL)
def test_period_is_a_period_of_the_forward(op, x):
    rule = RULES[op]
    shifted = _value(rule.forward([R(x) + rule.period], ()), {})
    assert abs(shifted - _value(rule.forward([R(x)], ()), {})) < sympy.Float(10) ** (5 - DIGITS)
    assert rule.numeric([complex(float(R(x) + rule.period))], ()).real == pytest.approx(
        cmath.sin(float(x)).real if op == "sin" else cmath.cos(float(x)).real, rel=1e-14)


@pytest.mark.parametrize("k", range(3))
def test_softmax_written_with_its_outputs_is_the_textbook_form(k):
    # out(1 − out) for j = k, −out·y_j otherwise: the outputs' names, not their definitions
    operands = [sympy.Symbol(f"a{i}", real=True) for i in range(3)]
    names = ("y1", "y2", "y3")
    partials = RULES["softmax"].partials(operands, OUT, (k, names))
    expected = [OUT * (1 - OUT) if j == k else -OUT * sympy.Symbol(names[j], real=True) for j in range(3)]
    assert [sympy.expand(p - e) for p, e in zip(partials, expected)] == [0, 0, 0]


def test_mismatched_loss_operands_are_refused():
    for op in ("mse", "sse", "binary_cross_entropy", "softmax_cross_entropy", "cross_entropy"):
        with pytest.raises(ValueError, match="even"):
            RULES[op].forward([R(1), R(2), R(3)], ())
