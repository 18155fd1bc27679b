"""The maths of a layered network: forward pass, δ^L, the δ recurrence, gradients, one descent step, checks.

Every quantity is a `Mat`: a matrix that carries its shape and refuses a product, a sum or an ``⊙`` of mismatched
shapes (`ShapeError`, a bug, exit 3). The formulas are built once as `Term` trees: the same tree computes the
numbers and prints the formula, with the shape of every factor, so what the walk-through shows is what was
computed. With a batch of N samples, z^l, a^l and δ^l are n_l × N matrices whose column n is sample n; with one
sample they are column vectors (N = 1).

Numbers are exact where the maths is (rationals for identity, ReLU and leaky ReLU networks with the sse or mse
loss) and 30-digit floats where it is not (exp, tanh, log), by `derive.graph.exact`. Nothing is simplified
and nothing is expanded: each δ^l is computed once from δ^{l+1}, so the cost is linear in the number of
parameters (times the number of samples).

Checks (before anything is rendered; a disagreement is a `CheckFailure`):

- the loss before and after the step against an independent float64 forward pass;
- every δ, every gradient and every updated parameter against an independent float64 reverse pass written in
  index form (plain Python loops, derivatives from z rather than from a);
- for small networks (the unrolled cost has at most ``SYMBOLIC_OPS`` operations) every gradient against
  `sympy.diff` of the unrolled cost; otherwise the float64 reverse pass against central finite differences along
  a few random directions in parameter space (two forward passes each, whatever the size: linear cost);
- kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = slope. When some z of a ReLU layer lies within
  ``KINK_RADIUS`` of 0, the gradient oracles are skipped and the report says where.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import sympy
from sympy import Expr

from . import notation as nn
from ..check import KINK_RADIUS, SYMBOLIC_OPS, close
from ..errors import CheckFailure, InputError, message
from ..rules import RULES
from ..graph import DIGITS, MAX_MAGNITUDE, exact
from .load import Network

SYMBOLIC_WORK = 5_000
"""The symbolic oracle runs while count_ops(unrolled cost) × parameters stays below this (well under a second)."""

ONE = sympy.Integer(1)


class ShapeError(CheckFailure):
    """A product, sum or element-wise product of matrices whose shapes do not fit: a bug, never rendered."""


def _dot(xs: Iterable[Expr], ys: Iterable[Expr]) -> Expr:
    return exact(sympy.Add(*[x * y for x, y in zip(xs, ys)]))


# --- matrices that carry their shape ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Mat:
    data: tuple[tuple[Expr, ...], ...]

    def __post_init__(self) -> None:
        if not self.data or not self.data[0] or any(len(r) != len(self.data[0]) for r in self.data):
            raise ShapeError("a matrix needs rows of one and the same non-zero length")

    @property
    def rows(self) -> int:
        return len(self.data)

    @property
    def cols(self) -> int:
        return len(self.data[0])

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @staticmethod
    def of_columns(columns: Iterable[Iterable[Expr]]) -> "Mat":
        return Mat(tuple(zip(*[tuple(c) for c in columns])))

    @staticmethod
    def filled(rows: int, cols: int, value: Expr) -> "Mat":
        return Mat(tuple(tuple(value for _ in range(cols)) for _ in range(rows)))

    def column(self, k: int) -> tuple[Expr, ...]:
        return tuple(row[k] for row in self.data)

    def entries(self) -> Iterable[Expr]:
        for row in self.data:
            yield from row

    def entries_by_sample(self) -> Iterable[Expr]:
        """Column by column: sample 1's units, then sample 2's."""
        for k in range(self.cols):
            yield from self.column(k)

    @property
    def T(self) -> "Mat":
        return Mat(tuple(zip(*self.data)))

    def __matmul__(self, other: "Mat") -> "Mat":
        if self.cols != other.rows:
            raise ShapeError(f"cannot multiply a {self.rows}×{self.cols} matrix by a {other.rows}×{other.cols} one")
        columns = other.T.data
        return Mat(tuple(tuple(_dot(row, col) for col in columns) for row in self.data))

    def _same(self, other: "Mat", what: str) -> None:
        if self.shape != other.shape:
            raise ShapeError(f"cannot {what} a {self.rows}×{self.cols} matrix and a {other.rows}×{other.cols} one")

    def hadamard(self, other: "Mat") -> "Mat":
        self._same(other, "multiply element-wise")
        return Mat(tuple(tuple(exact(x * y) for x, y in zip(r, s)) for r, s in zip(self.data, other.data)))

    def __add__(self, other: "Mat") -> "Mat":
        self._same(other, "add")
        return Mat(tuple(tuple(exact(x + y) for x, y in zip(r, s)) for r, s in zip(self.data, other.data)))

    def __sub__(self, other: "Mat") -> "Mat":
        self._same(other, "subtract")
        return Mat(tuple(tuple(exact(x - y) for x, y in zip(r, s)) for r, s in zip(self.data, other.data)))

    def scale(self, c: Expr) -> "Mat":
        return Mat(tuple(tuple(exact(c * x) for x in r) for r in self.data))

    def map(self, f: Callable[[Expr], Expr]) -> "Mat":
        return Mat(tuple(tuple(f(x) for x in r) for r in self.data))


# --- formulas that compute and print themselves -----------------------------------------------------------------

class Term:
    """A matrix formula. ``value`` is computed when the term is built (so a shape mismatch cannot be shown);
    ``show(mode)`` prints it: ``"symbol"`` (names), ``"shape"`` (names with the shape under every factor) or
    ``"number"`` (the numbers of every factor)."""

    value: Mat

    def show(self, mode: str) -> nn.Display:  # pragma: no cover - abstract
        raise NotImplementedError


class Leaf(Term):
    def __init__(self, symbol: nn.Display, value: Mat, numeric: bool = True) -> None:
        self.symbol, self.value, self.numeric = symbol, value, numeric

    def show(self, mode: str) -> nn.Display:
        if mode == "shape":
            return nn.Shaped(self.symbol, *self.value.shape)
        if mode == "number" and self.numeric:
            return nn.NumMatrix(self.value.data)
        return self.symbol


class Tr(Term):
    def __init__(self, arg: Leaf) -> None:
        self.arg, self.value = arg, arg.value.T

    def show(self, mode: str) -> nn.Display:
        if mode == "number" and self.arg.numeric:
            return nn.NumMatrix(self.value.data)
        shown = nn.Transposed(self.arg.symbol)
        return nn.Shaped(shown, *self.value.shape) if mode == "shape" else shown


class Prod(Term):
    def __init__(self, left: Term, right: Term) -> None:
        self.left, self.right, self.value = left, right, left.value @ right.value

    def show(self, mode: str) -> nn.Display:
        return nn.MatrixProduct(self.left.show(mode), self.right.show(mode))


class Had(Term):
    def __init__(self, left: Term, right: Term) -> None:
        self.left, self.right, self.value = left, right, left.value.hadamard(right.value)

    def show(self, mode: str) -> nn.Display:
        return nn.Hadamard(self.left.show(mode), self.right.show(mode))


class Add(Term):
    def __init__(self, left: Term, right: Term) -> None:
        self.left, self.right, self.value = left, right, left.value + right.value

    def show(self, mode: str) -> nn.Display:
        return nn.Plus((self.left.show(mode), self.right.show(mode)))


class Sub(Term):
    def __init__(self, left: Term, right: Term) -> None:
        self.left, self.right, self.value = left, right, left.value - right.value

    def show(self, mode: str) -> nn.Display:
        return nn.Minus(self.left.show(mode), self.right.show(mode))


class Scale(Term):
    def __init__(self, coefficient: Expr, symbol: nn.Display, arg: Term) -> None:
        self.coefficient, self.symbol, self.arg = coefficient, symbol, arg
        self.value = arg.value.scale(coefficient)

    def show(self, mode: str) -> nn.Display:
        head = nn.Num(self.coefficient) if mode == "number" else self.symbol
        return nn.Times((head, self.arg.show(mode)))


# --- activations and losses: the rule table's entries -----------------------------------------------------------

def activation_params(network: Network) -> tuple:
    """The params of the network's activation rules: (α,) for leaky ReLU, else none."""
    return () if network.leaky_slope is None else (network.leaky_slope,)


def activate(name: str, params: tuple, z: Expr) -> Expr:
    """a = σ(z) by the rule's forward definition (exact where the maths is, else a 30-digit float)."""
    return exact(RULES[name].forward((z,), params))


def activation_slope(name: str, params: tuple, z: Expr, a: Expr) -> Expr:
    """σ'(z) by the rule's partial, written with the output a = σ(z) where textbooks do (sigmoid a(1 − a), tanh
    1 − a²); ReLU and leaky ReLU by the sign of z, with PyTorch's value at 0."""
    return exact(RULES[name].partials((z,), a, params)[0])


def softmax(column: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """The softmax rule's exp(z_k) / Σ_j exp(z_j) for every k of one sample at once: the exponentials and their
    sum are computed once (the rule's forward gives one component and would rebuild the sum for each: K² work,
    ten times slower for 100 classes), less the largest logit, which changes nothing but keeps e^0 = 1 exact."""
    top = max(column)
    exps = [ONE if z == top else exact(RULES["exp"].forward((z - top,), ())) for z in column]
    total = exact(sympy.Add(*exps))
    return tuple(exact(e / total) for e in exps)


def _operands(outputs: Mat, targets: Mat) -> tuple[Expr, ...]:
    """A loss rule's operands for the whole batch: every prediction, then every target, sample by sample."""
    return tuple(outputs.entries_by_sample()) + tuple(targets.entries_by_sample())


def loss_value(loss: str, outputs: Mat, targets: Mat) -> Expr:
    """The cost C by the loss rule's forward definition over the batch. The sse and mse rules carry their factors
    (½, and 1/(N·m) over the N·m pairs); the cross-entropy rule sums, and the cost is its mean over the samples."""
    value = exact(RULES[loss].forward(_operands(outputs, targets), ()))
    return exact(sympy.Rational(1, outputs.cols) * value) if loss == "cross_entropy" else value


def output_gradient(loss: str, outputs: Mat, targets: Mat) -> Mat:
    """∇_a C by the loss rule's partials with respect to the predictions (sse and mse)."""
    operands = _operands(outputs, targets)
    partials = RULES[loss].partials(operands, None, ())[:len(operands) // 2]
    m = outputs.rows
    return Mat.of_columns([exact(p.doit()) for p in partials[n * m:(n + 1) * m]] for n in range(outputs.cols))


# --- the derivation ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Forward:
    z: dict[int, Mat]  # l = 2..L
    a: dict[int, Mat]  # l = 1..L
    z_terms: dict[int, Term]
    loss: Expr


@dataclass(frozen=True)
class Kink:
    layer: int
    unit: int  # 1-based, as the text counts
    sample: int  # 1-based


@dataclass(frozen=True)
class NetworkCheck:
    oracle: str  # "symbolic", "numeric" or "none" (a kink)
    compared: int  # values compared with an oracle
    symbolic_ops: int | None  # count_ops of the unrolled cost when the symbolic oracle was used
    directions: int  # finite-difference directions (numeric oracle)
    kinks: tuple[Kink, ...]


MAX_REREAD_UNITS = 32
"""A network page is read back by the truth loop up to this many units in all layers (see `NetworkResult.reread`):
reading a page back takes about 0.5 s CPU for 8 units, 1.5 s for 24 (4-4-4-4-4-4) and 2.5 s for 32 (8-8-8-8)."""


MAX_REREAD_SAMPLES = 4
"""A batched network page is read back up to this many samples (each one is a column of every matrix the page
prints; its index forms carry the sample n)."""


@dataclass(frozen=True)
class NetworkResult:
    """A checked derivation of one gradient-descent step on a layered network."""

    network: Network
    W: dict[int, Mat]
    b: dict[int, Mat]
    t: Mat
    forward: Forward
    sigma_prime: dict[int, Mat]  # σ'(z^l) for the element-wise layers
    grad_a: Term | None  # ∇_a C at the output (element-wise outputs only)
    delta_terms: dict[int, Term]
    grad_W_terms: dict[int, Term]
    grad_b_terms: dict[int, Term]
    update_W_terms: dict[int, Term]
    update_b_terms: dict[int, Term]
    after: Forward
    check: NetworkCheck | None = None

    @property
    def L(self) -> int:
        return self.network.depth

    @property
    def reread(self) -> bool:
        """Whether its walk-through is read back by derive's verifier (the truth loop): the sigmoid (what the reader
        takes σ to mean) with half the sum of squared errors, or ReLU (the page binds σ(z) = max(0, z)) with half the
        sum of squared errors or a softmax output and cross-entropy (bound as the output layer's own rule a^L_k, and
        Σ_j t_j = 1); one sample or a batch of at most `MAX_REREAD_SAMPLES` (its page binds the data, the softmax
        rule and the targets' condition per sample, a^{1}_{j,n}, a^{L}_{k,n}, t_{j,n}); a hidden layer or more (with
        none the page's general recurrence names no layer of the network) and at most `MAX_REREAD_UNITS` units."""
        net = self.network
        small = net.depth >= 3 and sum(net.sizes) <= MAX_REREAD_UNITS
        few = not net.batched or net.samples <= MAX_REREAD_SAMPLES
        sigmoid = net.activation == "sigmoid" and net.loss == "sse"
        relu = net.activation == "relu" and net.loss in ("sse", "cross_entropy")
        return small and few and (sigmoid or relu)

    @property
    def loss(self) -> Expr:
        return self.forward.loss

    @property
    def loss_after(self) -> Expr:
        return self.after.loss

    @property
    def delta(self) -> dict[int, Mat]:
        return {l: term.value for l, term in self.delta_terms.items()}

    @property
    def grad_W(self) -> dict[int, Mat]:
        return {l: term.value for l, term in self.grad_W_terms.items()}

    @property
    def grad_b(self) -> dict[int, Mat]:
        return {l: term.value for l, term in self.grad_b_terms.items()}

    @property
    def updated_W(self) -> dict[int, Mat]:
        return {l: term.value for l, term in self.update_W_terms.items()}

    @property
    def updated_b(self) -> dict[int, Mat]:
        return {l: term.value for l, term in self.update_b_terms.items()}


def explain_network(network: Network) -> NetworkResult:
    """Derive one gradient-descent step on the network and check it (`CheckFailure` when a check disagrees)."""
    try:
        result = derive_network(network)
    except InputError as exc:  # the numbers overflow: name the file, as the loader does
        raise InputError.within(network.source, exc) from None
    return _with_check(result, check_network(result))


def _with_check(result: NetworkResult, report: NetworkCheck) -> NetworkResult:
    return replace(result, check=report)


def derive_network(network: Network) -> NetworkResult:
    """The derivation without its checks (see `explain_network`)."""
    L, N = network.depth, network.samples
    W = {l: Mat(network.weights[l - 2]) for l in range(2, L + 1)}
    b = {l: Mat.of_columns([network.biases[l - 2]]) for l in range(2, L + 1)}
    t = Mat.of_columns(network.targets)
    fwd = _forward(network, W, b, t)
    m = network.sizes[-1]
    params = activation_params(network)

    sigma_prime: dict[int, Mat] = {}
    for l in range(2, L + 1):
        name = network.activation_of(l)
        if name != "softmax":
            z, a = fwd.z[l], fwd.a[l]
            sigma_prime[l] = Mat(tuple(tuple(activation_slope(name, params, zz, aa) for zz, aa in zip(zr, ar))
                                       for zr, ar in zip(z.data, a.data)))

    out_a = Leaf(nn.Sym("a", L), fwd.a[L])
    target = Leaf(nn.Sym("t"), t)
    deltas: dict[int, Term] = {}
    grad_a: Term | None = None
    if network.loss == "cross_entropy":
        deltas[L] = Scale(sympy.Rational(1, N), nn.Frac(nn.Num(1), nn.Num(N)), Sub(out_a, target))
    else:
        difference = Sub(out_a, target)
        if network.loss == "mse":
            coefficient = sympy.Rational(2, N * m)
            difference = Scale(coefficient, nn.Frac(nn.Num(2), nn.Num(N * m)), difference)
        grad_a = difference
        _agrees(grad_a, output_gradient(network.loss, fwd.a[L], t))
        grad_leaf = Leaf(nn.Nabla(nn.Sym("C"), nn.Sym("a", L)), grad_a.value)
        deltas[L] = Had(grad_leaf, _sigma_prime_leaf(L, sigma_prime[L]))
    for l in range(L - 1, 1, -1):
        product = Prod(Tr(Leaf(nn.Sym("W", l + 1), W[l + 1])), Leaf(nn.Sym("delta", l + 1), deltas[l + 1].value))
        deltas[l] = Had(product, _sigma_prime_leaf(l, sigma_prime[l]))

    ones_row = Leaf(nn.Ones(N), Mat.filled(N, 1, ONE), numeric=False)
    grad_W: dict[int, Term] = {}
    grad_b: dict[int, Term] = {}
    new_W: dict[int, Term] = {}
    new_b: dict[int, Term] = {}
    eta = network.learning_rate
    for l in range(2, L + 1):
        delta = Leaf(nn.Sym("delta", l), deltas[l].value)
        grad_W[l] = Prod(delta, Tr(Leaf(nn.Sym("a", l - 1), fwd.a[l - 1])))
        grad_b[l] = Prod(delta, ones_row) if network.batched else delta
        new_W[l] = Sub(Leaf(nn.Sym("W", l), W[l]),
                       Scale(eta, nn.Sym("eta"), Leaf(nn.Partial(nn.Sym("C"), nn.Sym("W", l)), grad_W[l].value)))
        new_b[l] = Sub(Leaf(nn.Sym("b", l), b[l]),
                       Scale(eta, nn.Sym("eta"), Leaf(nn.Partial(nn.Sym("C"), nn.Sym("b", l)), grad_b[l].value)))
    after = _forward(network, {l: term.value for l, term in new_W.items()},
                     {l: term.value for l, term in new_b.items()}, t)
    return NetworkResult(network, W, b, t, fwd, sigma_prime, grad_a, deltas, grad_W, grad_b, new_W, new_b, after)


def _agrees(shown: Term, by_rule: Mat) -> None:
    """∇_a C computed by the formula the walk-through shows must be the loss rule's partial."""
    for (j, n), got, expected in zip(((j, n) for j in range(by_rule.rows) for n in range(by_rule.cols)),
                                     shown.value.entries(), by_rule.entries()):
        if not close(float(got), float(expected)):
            raise CheckFailure(f"self-check failed: dC/da^L[{j + 1}] (sample {n + 1}) = {float(got)!r} from the "
                               f"formula shown, {float(expected)!r} from the rule table's partial of the loss")


def _sigma_prime_leaf(layer: int, value: Mat) -> Leaf:
    return Leaf(nn.Apply("sigma", nn.Sym("z", layer), prime=True), value)


def _forward(network: Network, W: dict[int, Mat], b: dict[int, Mat], t: Mat) -> Forward:
    L, N = network.depth, network.samples
    a = {1: Mat.of_columns(network.inputs)}
    z: dict[int, Mat] = {}
    z_terms: dict[int, Term] = {}
    ones = Leaf(nn.Ones(N, row=True), Mat.filled(1, N, ONE), numeric=False)
    params = activation_params(network)
    for l in range(2, L + 1):
        weighted = Prod(Leaf(nn.Sym("W", l), W[l]), Leaf(nn.Sym("a", l - 1), a[l - 1]))
        bias = Prod(Leaf(nn.Sym("b", l), b[l]), ones) if network.batched else Leaf(nn.Sym("b", l), b[l])
        z_terms[l] = Add(weighted, bias)
        z[l] = z_terms[l].value
        _bounded(z[l], l)
        name = network.activation_of(l)
        if name == "softmax":
            a[l] = Mat.of_columns(softmax(z[l].column(n)) for n in range(N))
        else:
            a[l] = z[l].map(lambda value: activate(name, params, value))
    loss = loss_value(network.loss, a[L], t)
    if abs(float(loss)) > MAX_MAGNITUDE:
        raise InputError.of("network.loss_too_large")
    return Forward(z, a, z_terms, loss)


def _bounded(z: Mat, layer: int) -> None:
    for value in z.entries():
        if abs(float(value)) > MAX_MAGNITUDE:
            raise InputError(message("network.z_overflow"), message("network.where.layer", layer=layer))


# --- checks -----------------------------------------------------------------------------------------------------

def check_network(result: NetworkResult) -> NetworkCheck:
    """Compare the derivation with independent oracles; raise `CheckFailure` on the first disagreement."""
    network = result.network
    Wf = {l: [[float(x) for x in row] for row in m.data] for l, m in result.W.items()}
    bf = {l: [float(x) for x in m.column(0)] for l, m in result.b.items()}
    reference = float_reverse_pass(network, Wf, bf)
    compared = 0

    def compare(what: str, got: Expr, expected: float, oracle: str) -> None:
        nonlocal compared
        if not close(float(got), expected):
            raise CheckFailure(f"self-check failed: {what} = {float(got)!r} from the derivation, {expected!r} from "
                               f"the {oracle}")
        compared += 1

    compare("C", result.loss, reference.loss, "float64 forward pass")
    eta = float(network.learning_rate)
    W_after = {l: [[w - eta * g for w, g in zip(row, grow)] for row, grow in zip(Wf[l], reference.grad_W[l])]
               for l in Wf}
    b_after = {l: [x - eta * g for x, g in zip(bf[l], reference.grad_b[l])] for l in bf}
    compare("C after the step", result.loss_after, float_loss(network, W_after, b_after), "float64 forward pass")

    kinks = _kinks(result)
    if kinks:
        return NetworkCheck("none", compared, None, 0, tuple(kinks))

    L = network.depth
    for l in range(2, L + 1):
        delta = result.delta[l]
        for n in range(network.samples):
            for j in range(delta.rows):
                compare(f"delta^{l}_{j + 1} (sample {n + 1})", delta.data[j][n], reference.delta[l][n][j],
                        "float64 reverse pass")
        for j, row in enumerate(result.grad_W[l].data):
            for i, value in enumerate(row):
                compare(f"dC/dW^{l}[{j + 1}][{i + 1}]", value, reference.grad_W[l][j][i], "float64 reverse pass")
                compare(f"W^{l}[{j + 1}][{i + 1}] after the step", result.updated_W[l].data[j][i], W_after[l][j][i],
                        "float64 update")
        for j, value in enumerate(result.grad_b[l].column(0)):
            compare(f"dC/db^{l}[{j + 1}]", value, reference.grad_b[l][j], "float64 reverse pass")
            compare(f"b^{l}[{j + 1}] after the step", result.updated_b[l].data[j][0], b_after[l][j], "float64 update")

    symbolic = symbolic_gradients(network)
    if symbolic is not None:
        ops, expected = symbolic
        for (kind, l, j, i), value in expected.items():
            got = result.grad_W[l].data[j][i] if kind == "W" else result.grad_b[l].data[j][0]
            compare(f"dC/d{kind}^{l}[{j + 1}]" + (f"[{i + 1}]" if kind == "W" else ""), got, value,
                    "sympy.diff of the unrolled cost")
        return NetworkCheck("symbolic", compared, ops, 0, ())
    directions = finite_difference_check(network, Wf, bf, reference)
    return NetworkCheck("numeric", compared, None, directions, ())


def _kinks(result: NetworkResult) -> list[Kink]:
    network = result.network
    out = []
    for l, z in result.forward.z.items():
        if network.activation_of(l) in ("relu", "leaky_relu"):
            for j, row in enumerate(z.data):
                for n, value in enumerate(row):
                    if abs(float(value)) <= KINK_RADIUS:
                        out.append(Kink(l, j + 1, n + 1))
    return out


# The independent float64 oracle: index form, plain loops, no `Mat`, no `Term`, σ' computed from z.

def _float_sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


FLOAT_ACTIVATIONS: dict[str, tuple[Callable[[float, float], float], Callable[[float, float], float]]] = {
    "sigmoid": (lambda z, slope: _float_sigmoid(z), lambda z, slope: _float_sigmoid(z) * (1.0 - _float_sigmoid(z))),
    "tanh": (lambda z, slope: math.tanh(z), lambda z, slope: 1.0 / math.cosh(z) ** 2 if abs(z) < 350 else 0.0),
    "relu": (lambda z, slope: z if z > 0 else 0.0, lambda z, slope: 1.0 if z > 0 else 0.0),
    "leaky_relu": (lambda z, slope: z if z > 0 else slope * z, lambda z, slope: 1.0 if z > 0 else slope),
    "identity": (lambda z, slope: z, lambda z, slope: 1.0),
}
"""σ(z) and σ'(z) in float64, from z, written out by hand rather than taken from the rule table: the oracle stays
independent of what it checks."""


def _float_activation(name: str, slope: float) -> tuple[Callable[[float], float], Callable[[float], float]]:
    f, fprime = FLOAT_ACTIVATIONS[name]
    return (lambda z: f(z, slope)), (lambda z: fprime(z, slope))


@dataclass
class FloatPass:
    loss: float
    delta: dict[int, list[list[float]]]  # delta[l][n][j]
    grad_W: dict[int, list[list[float]]]
    grad_b: dict[int, list[float]]


def _float_forward(network: Network, W, b, x: list[float]) -> tuple[list[list[float]], list[list[float]]]:
    L = network.depth
    slope = float(network.leaky_slope or 0)
    zs: list[list[float]] = [[], []]
    acts: list[list[float]] = [[], list(x)]
    for l in range(2, L + 1):
        prev = acts[l - 1]
        z = [math.fsum(w * p for w, p in zip(row, prev)) + bj for row, bj in zip(W[l], b[l])]
        name = network.activation_of(l)
        if name == "softmax":
            top = max(z)
            e = [math.exp(v - top) for v in z]
            s = math.fsum(e)
            a = [v / s for v in e]
        else:
            f, _ = _float_activation(name, slope)
            a = [f(v) for v in z]
        zs.append(z)
        acts.append(a)
    return zs, acts


def _sample_loss(network: Network, a: list[float], t: list[float]) -> float:
    if network.loss == "cross_entropy":
        return math.fsum(-tk * math.log(ak) for ak, tk in zip(a, t) if tk != 0)
    return math.fsum((ak - tk) ** 2 for ak, tk in zip(a, t))


def _scale(network: Network) -> float:
    N, m = network.samples, network.sizes[-1]
    return {"sse": 0.5, "mse": 1.0 / (N * m), "cross_entropy": 1.0 / N}[network.loss]


def float_loss(network: Network, W, b) -> float:
    xs = [[float(v) for v in x] for x in network.inputs]
    ts = [[float(v) for v in t] for t in network.targets]
    total = math.fsum(_sample_loss(network, _float_forward(network, W, b, x)[1][-1], t) for x, t in zip(xs, ts))
    return _scale(network) * total


def float_reverse_pass(network: Network, W, b) -> FloatPass:
    """δ_j^l for every sample, then ∂C/∂w_ji^l = Σ_n δ_j^l a_i^{l−1} and ∂C/∂b_j^l = Σ_n δ_j^l, in
    float64."""
    L, N, m = network.depth, network.samples, network.sizes[-1]
    slope = float(network.leaky_slope or 0)
    scale = _scale(network)
    delta: dict[int, list[list[float]]] = {l: [] for l in range(2, L + 1)}
    grad_W = {l: [[0.0] * len(W[l][0]) for _ in W[l]] for l in range(2, L + 1)}
    grad_b = {l: [0.0] * len(W[l]) for l in range(2, L + 1)}
    total = []
    for x, t in zip(network.inputs, network.targets):
        x, t = [float(v) for v in x], [float(v) for v in t]
        zs, acts = _float_forward(network, W, b, x)
        total.append(_sample_loss(network, acts[L], t))
        if network.loss == "cross_entropy":
            d = [scale * (ak - tk) for ak, tk in zip(acts[L], t)]
        else:
            _, fprime = _float_activation(network.activation_of(L), slope)
            factor = 1.0 if network.loss == "sse" else 2.0 / (N * m)
            d = [factor * (ak - tk) * fprime(zk) for ak, tk, zk in zip(acts[L], t, zs[L])]
        ds = {L: d}
        for l in range(L - 1, 1, -1):
            _, fprime = _float_activation(network.activation_of(l), slope)
            ds[l] = [math.fsum(ds[l + 1][j] * W[l + 1][j][i] for j in range(len(W[l + 1]))) * fprime(zs[l][i])
                     for i in range(len(zs[l]))]
        for l in range(2, L + 1):
            delta[l].append(ds[l])
            for j, dj in enumerate(ds[l]):
                grad_b[l][j] += dj
                row = grad_W[l][j]
                for i, ai in enumerate(acts[l - 1]):
                    row[i] += dj * ai
    return FloatPass(scale * math.fsum(total), delta, grad_W, grad_b)


FD_DIRECTIONS = 4
"""Random directions for the finite-difference check: 2 forward passes each, whatever the depth (linear cost)."""


def finite_difference_check(network: Network, W, b, reference: FloatPass) -> int:
    """Central differences of the float64 cost along ``FD_DIRECTIONS`` random directions in parameter space,
    against the float64 reverse pass: (C(θ + hv) − C(θ − hv)) / 2h ≈ ∇C · v. Returns the number of
    directions."""
    rng = random.Random(20260507)
    size = max([abs(x) for l in W for row in W[l] for x in row] + [abs(x) for l in b for x in b[l]] + [1.0])
    h = 1e-5 * size
    for _ in range(FD_DIRECTIONS):
        vW = {l: [[rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.0) for _ in row] for row in W[l]] for l in W}
        vb = {l: [rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.0) for _ in b[l]] for l in b}
        plus = float_loss(network, {l: _axpy(W[l], vW[l], h) for l in W},
                          {l: [x + h * v for x, v in zip(b[l], vb[l])] for l in b})
        minus = float_loss(network, {l: _axpy(W[l], vW[l], -h) for l in W},
                           {l: [x - h * v for x, v in zip(b[l], vb[l])] for l in b})
        central = (plus - minus) / (2 * h)
        terms = [g * v for l in W for grow, vrow in zip(reference.grad_W[l], vW[l]) for g, v in zip(grow, vrow)]
        terms += [g * v for l in b for g, v in zip(reference.grad_b[l], vb[l])]
        directional = math.fsum(terms)
        scale = math.fsum(abs(x) for x in terms) + abs(reference.loss) + 1.0
        if abs(central - directional) > 1e-6 * scale:
            raise CheckFailure(f"self-check failed: along a random direction, finite differences give {central!r} "
                               f"and the float64 reverse pass {directional!r}")
    return FD_DIRECTIONS


def _axpy(M, V, h):
    return [[x + h * v for x, v in zip(row, vrow)] for row, vrow in zip(M, V)]


# The symbolic oracle: sympy.diff of the cost written out in the parameters (only while it stays small).

def unrolled_size_estimate(network: Network) -> int:
    """An upper estimate of count_ops of the unrolled cost, without building it."""
    size = 1
    for l, n_prev in zip(range(2, network.depth + 1), network.sizes[:-1]):
        size = n_prev * (size + 3) + 4
    return network.samples * network.sizes[-1] * (size + 6)


def unrolled_cost(network: Network) -> tuple[Expr, dict[tuple, sympy.Symbol]]:
    """C as one expression of the parameters (inputs and targets as numbers), and the parameter symbols."""
    L = network.depth
    params: dict[tuple, sympy.Symbol] = {}
    for l in range(2, L + 1):
        W = network.weights[l - 2]
        for j in range(len(W)):
            params[("b", l, j, 0)] = sympy.Symbol(f"b{l}_{j + 1}", real=True)
            for i in range(len(W[0])):
                params[("W", l, j, i)] = sympy.Symbol(f"w{l}_{j + 1}{i + 1}", real=True)
    slope, rule_params = network.leaky_slope, activation_params(network)
    outputs: list[Expr] = []
    targets: list[Expr] = []
    for x, t in zip(network.inputs, network.targets):
        a: list[Expr] = list(x)
        for l in range(2, L + 1):
            W = network.weights[l - 2]
            z = [sympy.Add(*[params[("W", l, j, i)] * a[i] for i in range(len(W[0]))], params[("b", l, j, 0)])
                 for j in range(len(W))]
            name = network.activation_of(l)
            if name == "leaky_relu":  # α z + (1 − α) max(0, z): the rule's Piecewise, sympy folds very slowly
                a = [slope * v + (1 - slope) * sympy.Max(0, v) for v in z]
            elif name == "softmax":
                a = [RULES["softmax"].forward(z, (k,)) for k in range(len(z))]
            else:
                a = [RULES[name].forward((v,), rule_params) for v in z]
        outputs += a
        targets += t
    cost = RULES[network.loss].forward(outputs + targets, ())
    return (cost / network.samples if network.loss == "cross_entropy" else cost), params


def symbolic_gradients(network: Network) -> tuple[int, dict[tuple, float]] | None:
    """Every ∂C/∂parameter by `sympy.diff` of the unrolled cost, or None when that is too large: more than
    ``SYMBOLIC_OPS`` operations, or more than ``SYMBOLIC_WORK`` operations × parameters (sympy.diff then takes
    seconds; the numeric oracles take over)."""
    if unrolled_size_estimate(network) * network.parameters > 2 * SYMBOLIC_WORK:
        return None
    cost, params = unrolled_cost(network)
    ops = sympy.count_ops(cost)
    if ops > SYMBOLIC_OPS or ops * len(params) > SYMBOLIC_WORK:
        return None
    values = {sym: sympy.Float(network.weights[l - 2][j][i] if kind == "W" else network.biases[l - 2][j], DIGITS)
              for (kind, l, j, i), sym in params.items()}
    expected = {}
    for key, sym in params.items():
        derivative = sympy.diff(cost, sym).xreplace(values)
        expected[key] = float(sympy.N(derivative, 20))
    return ops, expected
