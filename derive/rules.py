"""The local-gradient rule table: one entry per op.

Each entry gives the op's forward definition, its partial derivative with respect to each operand (written, where
textbooks do, with the node's own output ``out``), the rule's name and the catalog key of its explanation, and a
plain float/complex forward function that the independent numeric oracle uses.
"""
from __future__ import annotations

import cmath
from dataclasses import dataclass
from math import prod
from typing import Callable, Sequence

import sympy
from sympy import Expr

from .notation import ReLU, Softmax, sigma

Partials = Callable[[Sequence[Expr], Expr, tuple], Sequence[Expr]]


@dataclass(frozen=True)
class Rule:
    op: str
    symbol: str  # what the graph figure writes in the node's circle
    forward: Callable[[Sequence[Expr], tuple], Expr]
    partials: Partials
    numeric: Callable[[Sequence[complex], tuple], complex]
    explain: str  # catalog key of the rule's explanation
    kink: Callable[[Sequence[float], tuple], bool] | None = None  # True at points where the op is not smooth
    display: Callable[[Sequence[Expr], tuple], Expr] | None = None  # how the definition is written, if not forward

    def show(self, args: Sequence[Expr], params: tuple) -> Expr:
        return (self.display or self.forward)(args, params)


def _sigmoid(x: Expr) -> Expr:
    return 1 / (1 + sympy.exp(-x))


def _softmax(args: Sequence[Expr], k: int) -> Expr:
    return sympy.exp(args[k]) / sympy.Add(*[sympy.exp(a) for a in args])


def _c_softmax(args: Sequence[complex], k: int) -> complex:
    shift = max(a.real for a in args)
    return cmath.exp(args[k] - shift) / sum(cmath.exp(a - shift) for a in args)


def _relu_grad(x: Expr) -> Expr:
    return sympy.Heaviside(x, 0)  # relu'(0) = 0, as PyTorch


def _c_relu(x: complex) -> complex:
    return x if x.real > 0 else 0 * x


def _c_sigmoid(x: complex) -> complex:
    return 1 / (1 + cmath.exp(-x))


def _kink_at_zero(args: Sequence[float], params: tuple) -> bool:
    return abs(args[0]) < 1e-6


RULES: dict[str, Rule] = {
    rule.op: rule
    for rule in (
        Rule("add", "+", lambda a, p: sympy.Add(*a), lambda a, out, p: [sympy.S.One] * len(a),
             lambda a, p: sum(a), "add"),
        Rule("identity", "=", lambda a, p: a[0], lambda a, out, p: [sympy.S.One], lambda a, p: a[0], "identity"),
        Rule("sum", "\u03a3", lambda a, p: sympy.Add(*a), lambda a, out, p: [sympy.S.One] * len(a),
             lambda a, p: sum(a), "sum"),
        Rule("sub", "\u2212", lambda a, p: a[0] - a[1], lambda a, out, p: [sympy.S.One, sympy.S.NegativeOne],
             lambda a, p: a[0] - a[1], "sub"),
        Rule("mul", "\u00d7", lambda a, p: sympy.Mul(*a),
             lambda a, out, p: [sympy.Mul(*(a[:i] + a[i + 1:])) for i in range(len(a))],
             lambda a, p: prod(a), "mul"),
        Rule("div", "\u00f7", lambda a, p: a[0] / a[1], lambda a, out, p: [1 / a[1], -a[0] / a[1] ** 2],
             lambda a, p: a[0] / a[1], "div"),
        Rule("neg", "\u2212", lambda a, p: -a[0], lambda a, out, p: [sympy.S.NegativeOne],
             lambda a, p: -a[0], "neg"),
        Rule("pow", "**", lambda a, p: a[0] ** a[1],
             lambda a, out, p: [a[1] * a[0] ** (a[1] - 1), out * sympy.log(a[0])],
             lambda a, p: a[0] ** a[1], "pow"),
        Rule("exp", "exp", lambda a, p: sympy.exp(a[0]), lambda a, out, p: [out],
             lambda a, p: cmath.exp(a[0]), "exp"),
        Rule("log", "log", lambda a, p: sympy.log(a[0]), lambda a, out, p: [1 / a[0]],
             lambda a, p: cmath.log(a[0]), "log"),
        Rule("sqrt", "\u221a", lambda a, p: sympy.sqrt(a[0]), lambda a, out, p: [1 / (2 * out)],
             lambda a, p: cmath.sqrt(a[0]), "sqrt"),
        Rule("sin", "sin", lambda a, p: sympy.sin(a[0]), lambda a, out, p: [sympy.cos(a[0])],
             lambda a, p: cmath.sin(a[0]), "sin"),
        Rule("cos", "cos", lambda a, p: sympy.cos(a[0]), lambda a, out, p: [-sympy.sin(a[0])],
             lambda a, p: cmath.cos(a[0]), "cos"),
        Rule("tanh", "tanh", lambda a, p: sympy.tanh(a[0]), lambda a, out, p: [1 - out ** 2],
             lambda a, p: cmath.tanh(a[0]), "tanh"),
        Rule("sigmoid", "\u03c3", lambda a, p: _sigmoid(a[0]), lambda a, out, p: [out * (1 - out)],
             lambda a, p: _c_sigmoid(a[0]), "sigmoid",
             display=lambda a, p: sigma(a[0])),
        Rule("relu", "ReLU", lambda a, p: sympy.Max(0, a[0]), lambda a, out, p: [_relu_grad(a[0])],
             lambda a, p: _c_relu(a[0]), "relu", _kink_at_zero,
             display=lambda a, p: ReLU(a[0])),
        # softmax: params = (k,); out is component k of softmax(a); ∂out/∂a_j = out·([j = k] − softmax_j(a)).
        Rule("softmax", "softmax", lambda a, p: _softmax(a, p[0]),
             lambda a, out, p: [out * ((1 if j == p[0] else 0) - (out if j == p[0] else _softmax(a, j)))
                                for j in range(len(a))],
             lambda a, p: _c_softmax(a, p[0]), "softmax",
             display=lambda a, p: Softmax(p[0] + 1, *a)),
    )
}

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu")
"""The functions an expression may call, each a one-operand op of the table."""
