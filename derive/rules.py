"""The local-gradient rule table: one entry per op, arithmetic, functions, activations and losses alike.

Each entry gives the op's forward definition, its partial derivative with respect to each operand (written, where
textbooks do, with the node's own output ``out``), the rule's name and the catalog key of its explanation, and a
plain float/complex forward function that the independent numeric oracle uses.
"""
from __future__ import annotations

import cmath
from dataclasses import dataclass
from functools import lru_cache
from math import prod
from typing import Callable, Sequence

import sympy
from sympy import Expr

from .notation import ReLU, Softmax, sigma

Partials = Callable[[Sequence[Expr], Expr, tuple], Sequence[Expr]]


@dataclass(frozen=True)
class Rule:
    """One operation of the graph: its forward value, partial derivatives, numeric twin and prose."""
    op: str
    symbol: str  # what the graph figure writes in the node's circle
    forward: Callable[[Sequence[Expr], tuple], Expr]
    partials: Partials
    numeric: Callable[[Sequence[complex], tuple], complex]
    explain: str  # catalog key of the rule's explanation
    kink: Callable[[Sequence[float], tuple], bool] | None = None  # True at points where the op is not smooth
    display: Callable[[Sequence[Expr], tuple], Expr] | None = None  # how the definition is written, if not forward
    period: Expr | None = None  # of a one-operand periodic op: the float64 oracle reduces its operand exactly

    def show(self, args: Sequence[Expr], params: tuple) -> Expr:
        return (self.display or self.forward)(args, params)


def _sum(args: Sequence[Expr]) -> Expr:
    # numbers add directly: SymPy's cached constructor is slow for the numbers of a long forward pass
    return sum(args, sympy.S.Zero) if all(a.is_Number for a in args) else sympy.Add(*args)


def _product(args: Sequence[Expr]) -> Expr:
    if len(args) == 1:
        return args[0]
    return prod(args, start=sympy.S.One) if all(a.is_Number for a in args) else sympy.Mul(*args)


def _sigmoid(x: Expr) -> Expr:
    return 1 / (1 + sympy.exp(-x))


def _softmax(args: Sequence[Expr], k: int) -> Expr:
    return sympy.exp(args[k]) / sympy.Add(*[sympy.exp(a) for a in args])


def _softmax_partials(args: Sequence[Expr], out: Expr, params: tuple) -> list[Expr]:
    k, outputs = params[0], (params[1] if len(params) > 1 else None)  # a lone component writes y_j out
    return [out * (1 - out) if j == k else -out * (symbol(outputs[j]) if outputs else _softmax(args, j))
            for j in range(len(args))]


@lru_cache(maxsize=1 << 16)
def symbol(name: str) -> sympy.Symbol:
    """The symbol of a node (a real number, so conjugates and absolute values never appear)."""
    return sympy.Symbol(name, real=True)


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


# --- activations and losses beyond the parser's functions (built by scenarios and network files) ---------------
# leaky_relu (params = (α,)) and the losses mse, sse, binary_cross_entropy and softmax_cross_entropy. A loss node
# reads m predictions then m targets (``args = (a_1, …, a_m, t_1, …, t_m)``; for softmax_cross_entropy the
# predictions are the logits z_1, …, z_K); targets may be leaves or constants. None of them is in FUNCTIONS:
# expressions cannot call them.

DEFAULT_LEAKY_SLOPE = "0.01"  # PyTorch's default negative slope of leaky_relu

class LeakyReLU(sympy.Function):
    """LeakyReLU_α(z) = z for z > 0, α·z otherwise; args (z, α); display only."""


class LeakyStep(sympy.Function):
    """The derivative of Leaky ReLU as a step: 1 for z > 0, α for z ≤ 0 (α at the kink, PyTorch's convention).
    Args (z, α); evaluates once z is a number."""

    @classmethod
    def eval(cls, z, alpha):
        if z.is_number and z.is_extended_real:
            return sympy.S.One if z > 0 else alpha
        return None

    def _sympystr(self, printer) -> str:
        z, alpha = self.args
        return f"step({printer._print(z)} > 0: 1, else {printer._print(alpha)})"


class Scaled(sympy.Function):
    """factor · (sum), printed with the parentheses the sum needs; args (factor, sum); display only."""


class SoftmaxValue(Softmax):
    """softmax_k(z_1, …, z_K) that evaluates once every z is a number (printed as `Softmax`)."""

    @classmethod
    def eval(cls, k, *zs):
        if zs and all(z.is_number for z in zs):
            return _softmax(zs, int(k) - 1)
        return None


def _leaky_forward(a: Sequence[Expr], p: tuple) -> Expr:
    return sympy.Piecewise((a[0], a[0] > 0), (p[0] * a[0], True))


def _c_leaky(x: complex, alpha) -> complex:
    return x if x.real > 0 else complex(alpha) * x


def _halves(a: Sequence, op: str) -> tuple[Sequence, Sequence]:
    if not a or len(a) % 2:
        raise ValueError(f"{op} reads m predictions then m targets (an even, non-zero number of operands)")
    m = len(a) // 2
    return a[:m], a[m:]


def _scaled(factor: Expr, terms: Sequence[Expr], display: bool = False) -> Expr:
    """factor · (sum of terms) (the factor left out when it is 1); ``display``: as a `Scaled` to print."""
    total = terms[0] if len(terms) == 1 else sympy.Add(*terms)
    if factor == 1:
        return total
    if factor == -1:
        return -total
    return Scaled(factor, total) if display else sympy.Mul(factor, total)


def _mse(a: Sequence[Expr], p: tuple, display: bool = False) -> Expr:
    ys, ts = _halves(a, "mse")
    return _scaled(sympy.Rational(1, len(ys)), [(y - t) ** 2 for y, t in zip(ys, ts)], display)


def _mse_partials(a: Sequence[Expr], out: Expr, p: tuple) -> list[Expr]:
    ys, ts = _halves(a, "mse")
    c = sympy.Rational(2, len(ys))

    def times(factor: Expr, diff: Expr) -> Expr:
        return diff if factor == 1 else sympy.Mul(factor, diff, evaluate=False)

    return [times(c, y - t) for y, t in zip(ys, ts)] + [times(-c, y - t) for y, t in zip(ys, ts)]


def _sse(a: Sequence[Expr], p: tuple, display: bool = False) -> Expr:
    ys, ts = _halves(a, "sse")
    return _scaled(sympy.Rational(1, 2), [(y - t) ** 2 for y, t in zip(ys, ts)], display)


def _sse_partials(a: Sequence[Expr], out: Expr, p: tuple) -> list[Expr]:
    ys, ts = _halves(a, "sse")
    return [y - t for y, t in zip(ys, ts)] + [sympy.Mul(-1, y - t, evaluate=False) for y, t in zip(ys, ts)]


def _bce(a: Sequence[Expr], p: tuple, display: bool = False) -> Expr:
    ps, ts = _halves(a, "binary_cross_entropy")
    terms = [_bce_term(q, t) for q, t in zip(ps, ts)]
    return _scaled(sympy.Rational(-1, len(ps)), terms, display)


def _bce_term(q: Expr, t: Expr) -> Expr:
    """t log q + (1 − t) log(1 − q); a constant target 1 or 0 keeps only its own term (log q or log(1 − q))."""
    if t == 1:
        return sympy.log(q)
    if t == 0:
        return sympy.log(1 - q)
    return t * sympy.log(q) + (1 - t) * sympy.log(1 - q)


def _bce_partials(a: Sequence[Expr], out: Expr, p: tuple) -> list[Expr]:
    # textbook: ∂L/∂p = (p − t) / (p(1 − p)); ∂L/∂t = log(1 − p) − log p; both divided by m over m pairs
    ps, ts = _halves(a, "binary_cross_entropy")
    m = len(ps)

    def over(numerator: Expr, *denominator: Expr) -> Expr:
        factors = ((sympy.Integer(m),) if m > 1 else ()) + denominator
        if not factors:
            return numerator
        below = factors[0] if len(factors) == 1 else sympy.Mul(*factors, evaluate=False)
        return sympy.Mul(numerator, sympy.Pow(below, -1, evaluate=False), evaluate=False)

    by_p = [over(q - t, q, 1 - q) for q, t in zip(ps, ts)]
    by_t = [over(sympy.Add(sympy.log(1 - q), -sympy.log(q), evaluate=False)) for q in ps]
    return by_p + by_t


def _c_bce(a: Sequence[complex], p: tuple) -> complex:
    ps, ts = _halves(a, "binary_cross_entropy")
    return -sum(t * cmath.log(q) + (1 - t) * cmath.log(1 - q) for q, t in zip(ps, ts)) / len(ps)


def _softmax_ce(a: Sequence[Expr], p: tuple) -> Expr:
    zs, ts = _halves(a, "softmax_cross_entropy")
    return -sympy.Add(*[t * sympy.log(_softmax(zs, k)) for k, t in enumerate(ts)])


def _softmax_ce_display(a: Sequence[Expr], p: tuple) -> Expr:
    zs, ts = _halves(a, "softmax_cross_entropy")
    return -sympy.Add(*[t * sympy.log(Softmax(k + 1, *zs)) for k, t in enumerate(ts)])


def _softmax_ce_partials(a: Sequence[Expr], out: Expr, p: tuple) -> list[Expr]:
    # ∂L/∂z_j = y_j·(t_1 + … + t_K) − t_j, which is the textbook y_j − t_j when the targets sum to 1;
    # ∂L/∂t_k = −log y_k, with y = softmax(z)
    zs, ts = _halves(a, "softmax_cross_entropy")
    total = sympy.Add(*ts)
    by_z = [SoftmaxValue(j + 1, *zs) * total - t for j, t in enumerate(ts)]
    by_t = [-sympy.log(SoftmaxValue(k + 1, *zs)) for k in range(len(ts))]
    return by_z + by_t


def _c_softmax_ce(a: Sequence[complex], p: tuple) -> complex:
    zs, ts = _halves(a, "softmax_cross_entropy")
    return -sum(t * cmath.log(_c_softmax(zs, k)) for k, t in enumerate(ts))


def _mse_numeric(a: Sequence[complex], p: tuple) -> complex:
    return sum((y - t) ** 2 for y, t in zip(*_halves(a, "mse"))) / (len(a) // 2)


def _sse_numeric(a: Sequence[complex], p: tuple) -> complex:
    return sum((y - t) ** 2 for y, t in zip(*_halves(a, "sse"))) / 2


# Categorical cross-entropy on probabilities (added for layered networks, whose softmax output layer computes y
# first): args = (y_1, …, y_m, t_1, …, t_m), C = −Σ t_k log y_k; ∂C/∂y_k = −t_k / y_k, ∂C/∂t_k = −log y_k.
def _cross_entropy(a: Sequence[Expr], p: tuple) -> Expr:
    ys, ts = _halves(a, "cross_entropy")  # a zero target's term is 0 (0 · log y): log y is not even computed
    return -sympy.Add(*[t * sympy.log(y) for y, t in zip(ys, ts) if t != 0])


def _cross_entropy_partials(a: Sequence[Expr], out: Expr, p: tuple) -> list[Expr]:
    ys, ts = _halves(a, "cross_entropy")
    return [-t / y for y, t in zip(ys, ts)] + [-sympy.log(y) for y in ys]


def _cross_entropy_numeric(a: Sequence[complex], p: tuple) -> complex:
    return -sum(t * cmath.log(y) for y, t in zip(*_halves(a, "cross_entropy")))


def _ones(a: Sequence[Expr], out: Expr, p: tuple) -> list[Expr]:
    return [sympy.S.One] * len(a)


RULES: dict[str, Rule] = {rule.op: rule for rule in (
    # arithmetic
    Rule(op="add", symbol="+", forward=lambda a, p: _sum(a), partials=_ones, numeric=lambda a, p: sum(a),
         explain="add"),
    Rule(op="identity", symbol="=", forward=lambda a, p: a[0], partials=lambda a, out, p: [sympy.S.One],
         numeric=lambda a, p: a[0], explain="identity"),
    Rule(op="sum", symbol="\u03a3", forward=lambda a, p: _sum(a), partials=_ones, numeric=lambda a, p: sum(a),
         explain="sum"),
    Rule(op="sub", symbol="\u2212", forward=lambda a, p: a[0] - a[1],
         partials=lambda a, out, p: [sympy.S.One, sympy.S.NegativeOne], numeric=lambda a, p: a[0] - a[1],
         explain="sub"),
    Rule(op="mul", symbol="\u00d7", forward=lambda a, p: _product(a),
         partials=lambda a, out, p: [_product(a[:i] + a[i + 1:]) for i in range(len(a))],
         numeric=lambda a, p: prod(a), explain="mul"),
    Rule(op="div", symbol="\u00f7", forward=lambda a, p: a[0] / a[1],
         partials=lambda a, out, p: [1 / a[1], -a[0] / a[1] ** 2], numeric=lambda a, p: a[0] / a[1],
         explain="div"),
    Rule(op="neg", symbol="\u2212", forward=lambda a, p: -a[0], partials=lambda a, out, p: [sympy.S.NegativeOne],
         numeric=lambda a, p: -a[0], explain="neg"),
    Rule(op="pow", symbol="**", forward=lambda a, p: a[0] ** a[1],
         partials=lambda a, out, p: [a[1] * a[0] ** (a[1] - 1), out * sympy.log(a[0])],
         numeric=lambda a, p: a[0] ** a[1], explain="pow"),
    # functions an expression may call
    Rule(op="exp", symbol="exp", forward=lambda a, p: sympy.exp(a[0]), partials=lambda a, out, p: [out],
         numeric=lambda a, p: cmath.exp(a[0]), explain="exp"),
    Rule(op="log", symbol="log", forward=lambda a, p: sympy.log(a[0]), partials=lambda a, out, p: [1 / a[0]],
         numeric=lambda a, p: cmath.log(a[0]), explain="log"),
    Rule(op="sqrt", symbol="\u221a", forward=lambda a, p: sympy.sqrt(a[0]),
         partials=lambda a, out, p: [1 / (2 * out)], numeric=lambda a, p: cmath.sqrt(a[0]), explain="sqrt"),
    Rule(op="sin", symbol="sin", forward=lambda a, p: sympy.sin(a[0]),
         partials=lambda a, out, p: [sympy.cos(a[0])], numeric=lambda a, p: cmath.sin(a[0]), explain="sin",
         period=2 * sympy.pi),
    Rule(op="cos", symbol="cos", forward=lambda a, p: sympy.cos(a[0]),
         partials=lambda a, out, p: [-sympy.sin(a[0])], numeric=lambda a, p: cmath.cos(a[0]), explain="cos",
         period=2 * sympy.pi),
    # activations
    Rule(op="tanh", symbol="tanh", forward=lambda a, p: sympy.tanh(a[0]), partials=lambda a, out, p: [1 - out ** 2],
         numeric=lambda a, p: cmath.tanh(a[0]), explain="tanh"),
    Rule(op="sigmoid", symbol="\u03c3", forward=lambda a, p: _sigmoid(a[0]),
         partials=lambda a, out, p: [out * (1 - out)], numeric=lambda a, p: _c_sigmoid(a[0]), explain="sigmoid",
         display=lambda a, p: sigma(a[0])),
    Rule(op="relu", symbol="ReLU", forward=lambda a, p: sympy.Max(0, a[0]),
         partials=lambda a, out, p: [_relu_grad(a[0])], numeric=lambda a, p: _c_relu(a[0]), explain="relu",
         kink=_kink_at_zero, display=lambda a, p: ReLU(a[0])),
    # softmax: params = (k, outputs) or (k,); out is component k of softmax(a); outputs names the node of every
    # component (graph.softmax_nodes), so ∂out/∂a_j is written with them: out(1 − out), else −out·y_j.
    Rule(op="softmax", symbol="softmax", forward=lambda a, p: _softmax(a, p[0]), partials=_softmax_partials,
         numeric=lambda a, p: _c_softmax(a, p[0]), explain="softmax", display=lambda a, p: Softmax(p[0] + 1, *a)),
    Rule(op="leaky_relu", symbol="LReLU", forward=_leaky_forward,
         partials=lambda a, out, p: [LeakyStep(a[0], p[0])], numeric=lambda a, p: _c_leaky(a[0], p[0]),
         explain="leaky_relu", kink=_kink_at_zero, display=lambda a, p: LeakyReLU(a[0], p[0])),
    # losses
    Rule(op="mse", symbol="MSE", forward=_mse, partials=_mse_partials, numeric=_mse_numeric, explain="mse",
         display=lambda a, p: _mse(a, p, True)),
    Rule(op="sse", symbol="SSE", forward=_sse, partials=_sse_partials, numeric=_sse_numeric, explain="sse",
         display=lambda a, p: _sse(a, p, True)),
    Rule(op="binary_cross_entropy", symbol="BCE", forward=_bce, partials=_bce_partials, numeric=_c_bce,
         explain="binary_cross_entropy", display=lambda a, p: _bce(a, p, True)),
    Rule(op="softmax_cross_entropy", symbol="CE", forward=_softmax_ce, partials=_softmax_ce_partials,
         numeric=_c_softmax_ce, explain="softmax_cross_entropy", display=_softmax_ce_display),
    Rule(op="cross_entropy", symbol="CE", forward=_cross_entropy, partials=_cross_entropy_partials,
         numeric=_cross_entropy_numeric, explain="cross_entropy"),
)}

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu")
"""The functions an expression may call, each a one-operand op of the table."""
