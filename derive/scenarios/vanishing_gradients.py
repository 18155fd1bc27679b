"""vanishing-gradients: a deep chain of sigmoid units, and the same chain with ReLU, layer by layer.

Layers are numbered as in the study material: the input is layer 1 (a^1 = x) and the weight layers are 2, …, L with
L = 9, one unit each: u^l = w^l·a^(l−1), z^l = u^l + b^l, a^l = σ(z^l), then C = ½(a^L − t)² (the ``sse`` op). The
main walk is the sigmoid chain; the ReLU chain (same parameters) is a second graph, derived and checked the same way.

∂C/∂w^l is the product of the local gradients along the one path from C down to w^l:
(a^L − t)·σ'(z^L)·w^L·σ'(z^(L−1))·…·w^(l+1)·σ'(z^l)·a^(l−1). Each layer further back adds one factor w·σ', and
σ' = σ(1 − σ) ≤ 1/4 (derived below with sympy, not typed), so the gradient shrinks geometrically. Every number of
the table is a `Claim` evaluated from the product formula and compared with the walk's gradient.
"""
from __future__ import annotations

from typing import Mapping

import sympy
from sympy import Expr, Integer

from ..backward import Derivation, derive
from ..check import check
from ..errors import CheckFailure
from ..graph import Graph, Node, exact, symbol
from ..notation import Grad, Ordered, ReLU, latex, sigma
from ..walkthrough import (Claim, Equation, Image, Part, Plot, Section, Series, Table, Text, Walkthrough,
                           derivation_given, make)
from .common import exact_point, maths, program_text

NAME = "vanishing-gradients"
L = 9  # layers 1 (input) … 9 (output): 8 weight layers
LAYERS = tuple(range(2, L + 1))
WEIGHTS = ("0.9", "1.1", "0.8", "1.2", "1", "0.9", "1.1", "1")  # w^2 … w^9
BIAS = "0.1"  # every b^l
INPUT = "1"
TARGET = "0"
PLOT = "vanishing-gradients-plot"


def _key(suffix: str) -> str:
    return f"scenario.{NAME}.{suffix}"


def _eq(lhs, rhs) -> sympy.Eq:
    return sympy.Eq(lhs, rhs, evaluate=False)


def _times(*factors: Expr) -> Expr:
    return sympy.Mul(*factors, evaluate=False)


def _plus(*terms: Expr) -> Expr:
    """A sum kept in the order written (``k + 1``, not ``1 + k``)."""
    return sympy.Add(*terms, evaluate=False)


def w(l) -> str:
    return f"w^{l}"


def b(l) -> str:
    return f"b^{l}"


def u(l) -> str:
    return f"u^{l}"


def z(l) -> str:
    return f"z^{l}"


def a(l) -> str:
    return f"a^{l}"


class SigmaPrime(sympy.Function):
    """σ'(z), for display; a claim substitutes its value (from `sympy.diff` of the sigmoid)."""


class ReLUPrime(sympy.Function):
    """ReLU'(z) for display: the step 𝟏[z > 0] (0 at z = 0, as PyTorch)."""


class AtLayer(sympy.Function):
    """``x^{k+1}`` with a symbolic layer index, for the general formula; args (name, index)."""


def chain_graph(activation: str) -> Graph:
    nodes = [Node(a(1), "leaf")] + [Node(n, "leaf") for l in LAYERS for n in (w(l), b(l))] + [Node("t", "leaf")]
    for l in LAYERS:
        nodes += [Node(u(l), "mul", (w(l), a(l - 1))), Node(z(l), "add", (u(l), b(l))),
                  Node(a(l), activation, (z(l),))]
    nodes.append(Node("C", "sse", (a(L), "t")))
    return Graph(tuple(nodes), "C")


def point() -> dict:
    values = {a(1): INPUT, "t": TARGET}
    for l, weight in zip(LAYERS, WEIGHTS):
        values.update({w(l): weight, b(l): BIAS})
    return exact_point(values)


def walks() -> tuple[Derivation, Derivation]:
    """The sigmoid chain (the main walk) and the ReLU chain, each derived at the same exact point."""
    wrt = tuple(w(l) for l in LAYERS)
    return derive(chain_graph("sigmoid"), point(), wrt), derive(chain_graph("relu"), point(), wrt)


def sigmoid_prime_value(z_value: Expr) -> Expr:
    """σ'(z) at a number, from `sympy.diff` of σ(z) = 1/(1 + e^(−z)) (independent of the rule table)."""
    s = sympy.Symbol("s", real=True)
    return exact(sympy.diff(1 / (1 + sympy.exp(-s)), s).subs(s, z_value))


def product_formula(l: int, prime=SigmaPrime) -> Expr:
    """∂C/∂w^l as the product along the path: (a^L − t)·σ'(z^L)·w^L·…·w^(l+1)·σ'(z^l)·a^(l−1)."""
    factors: list[Expr] = [symbol(a(L)) - symbol("t")]
    for k in range(L, l - 1, -1):
        factors.append(prime(symbol(z(k))))
        if k > l:
            factors.append(symbol(w(k)))
    factors.append(symbol(a(l - 1)))
    return _times(*factors)


def ratio_formula(l: int, prime=SigmaPrime) -> Expr:
    """(∂C/∂w^l) / (∂C/∂w^(l+1)) = w^(l+1)·σ'(z^l)·a^(l−1) / a^l: the two products differ by these factors."""
    return _times(symbol(w(l + 1)), prime(symbol(z(l))), symbol(a(l - 1)),
                  sympy.Pow(symbol(a(l)), -1, evaluate=False))


def gradient_ratio(l: int) -> Expr:
    return _times(Grad("C", w(l)), sympy.Pow(Grad("C", w(l + 1)), -1, evaluate=False))


def ratios(d: Derivation) -> dict[int, Expr]:
    """(∂C/∂w^l) / (∂C/∂w^(l+1)) from the walk's gradients (exact when the walk is)."""
    return {l: exact(d.gradients[w(l)].value / d.gradients[w(l + 1)].value) for l in LAYERS[:-1]}


def build() -> Walkthrough:
    sig, relu = walks()
    check(relu)  # the second chain is checked like the main one (a failure raises: exit 3)
    intro = (_setting(sig),)
    extra = (_product_section(sig), _bound_section(sig), _table_section(sig, relu), _relu_section(relu, sig),
             _plot_section(sig, relu))
    return make(NAME, program_text(sig.graph), sig, intro=intro, extra=extra,
                layered=("u", "r"))


# ---------------------------------------------------------------- intro


def _one_bias(d: Derivation) -> Expr:
    """The bias every layer shares, as the text says."""
    biases = {d.point[b(l)] for l in LAYERS}
    if len(biases) != 1:
        raise CheckFailure("self-check failed: the text says every bias is the same, but they differ")
    return biases.pop()


def _setting(d: Derivation) -> Section:
    l_ = symbol("l")
    with sympy.evaluate(False):
        z_def = _eq(AtLayer(symbol("z"), l_), AtLayer(symbol("w"), l_) * AtLayer(symbol("a"), l_ - 1)
                    + AtLayer(symbol("b"), l_))
    rows = tuple((Integer(l), d.point[w(l)], d.point[b(l)]) for l in LAYERS)
    return Section(_key("heading.setting"), (
        Text(_key("text.setting"), (("z", z_def), ("a", _eq(AtLayer(symbol("a"), l_), sigma(AtLayer(symbol("z"), l_)))),
                                    ("x", _eq(symbol(a(1)), d.point[a(1)])), ("L", _eq(symbol("L"), Integer(L))),
                                    ("layers", Integer(L - 1)),
                                    ("C", _eq(symbol("C"), _times(sympy.Rational(1, 2),
                                                                  (symbol(a(L)) - symbol("t")) ** 2))),
                                    ("t", _eq(symbol("t"), d.point["t"])))),
        Text(_key("text.parameters"), (("low", min(d.point[w(l)] for l in LAYERS)),
                                       ("high", max(d.point[w(l)] for l in LAYERS)),
                                       ("b", _eq(AtLayer(symbol("b"), l_), _one_bias(d))))),
        Table((_key("table.layer"), maths(AtLayer(symbol("w"), l_)), maths(AtLayer(symbol("b"), l_))), rows),
        Part(),  # the ReLU chain's rule, another meaning of a^l
        Text(_key("text.relu"), (("a", _eq(AtLayer(symbol("a"), l_), ReLU(AtLayer(symbol("z"), l_)))),)),
    ))


# ---------------------------------------------------------------- the product of σ' factors


def _product_section(d: Derivation) -> Section:
    k, l_, L_ = symbol("k"), symbol("l"), symbol("L")
    general = _times(AtLayer(symbol("a"), L_) - symbol("t"), SigmaPrime(AtLayer(symbol("z"), L_)),
                     sympy.Product(_times(AtLayer(symbol("w"), _plus(k, 1)), SigmaPrime(AtLayer(symbol("z"), k))),
                                   (k, l_, L_ - 1)),
                     AtLayer(symbol("a"), l_ - 1))
    primes = _sigma_prime_subs(d)
    blocks: list = [
        Text(_key("text.path"), (("path", _eq(Grad("C", w(L - 1)), _times(
            Grad("C", a(L)), Grad(a(L), z(L)), Grad(z(L), a(L - 1)), Grad(a(L - 1), z(L - 1)),
            Grad(z(L - 1), u(L - 1)), Grad(u(L - 1), w(L - 1))))),
                                 ("factor", _times(AtLayer(symbol("w"), _plus(k, 1)),
                                                   SigmaPrime(AtLayer(symbol("z"), k)))))),
        Equation(Grad("C", "w^l"), (general,)),
        Text(_key("text.per_layer")),
    ]
    for l in reversed(LAYERS):
        blocks.append(Claim(Grad("C", w(l)), (product_formula(l),), d.gradients[w(l)].value, subs=primes))
    return Section(_key("heading.product"), tuple(blocks))


def _sigma_prime_subs(d: Derivation) -> tuple:
    return tuple((SigmaPrime(symbol(z(l))), sigmoid_prime_value(d.values[z(l)])) for l in LAYERS)


# ---------------------------------------------------------------- σ' ≤ 1/4, derived


def bound() -> dict[str, Expr]:
    """σ'(z) = σ(1 − σ) and its maximum 1/4 at z = 0, found with sympy (diff, simplify, solve)."""
    zz, s = symbol("z"), sympy.Symbol("s", positive=True)
    sig = 1 / (1 + sympy.exp(-zz))
    derivative = sympy.diff(sig, zz)
    if sympy.simplify(derivative - sig * (1 - sig)) != 0:
        raise CheckFailure("self-check failed: sympy does not confirm σ' = σ(1 − σ)")
    g = s * (1 - s)
    dg = sympy.diff(g, s)
    (critical,) = sympy.solve(sympy.Eq(dg, 0), s)
    second = sympy.diff(g, s, 2)
    if not second.is_negative:
        raise CheckFailure("self-check failed: the critical point of s(1 − s) is not a maximum")
    peak = g.subs(s, critical)
    (at_z,) = sympy.solve(sympy.Eq(sig, critical), zz)
    return {"derivative": derivative, "dg": dg, "critical": critical, "second": second, "peak": peak, "at_z": at_z}


def ratio_range(d: Derivation) -> dict[str, Expr]:
    """The smallest and largest ratio of neighbouring gradients, as the prose states them."""
    values = ratios(d).values()
    return {"low": min(values), "high": max(values)}


def _bound_section(sig: Derivation) -> Section:
    found = bound()
    zz, s = symbol("z"), symbol("s")
    g_of = BoundFunction
    with sympy.evaluate(False):
        product = s * (1 - s)
    at_zero = _times(SigmaAt(Integer(0)), sympy.Add(1, -SigmaAt(Integer(0)), evaluate=False))
    return Section(_key("heading.bound"), (
        Text(_key("text.bound")),
        Equation(SigmaPrime(zz), (found["derivative"], _times(sigma(zz), 1 - sigma(zz)))),
        Part(),  # s = σ(z), a variable of its own
        Text(_key("text.bound_g"), (("s", _eq(s, sigma(zz))), ("g", _eq(g_of(s), product)))),
        Equation(sympy.Derivative(g_of(s), s), (found["dg"],)),
        Part((latex(_eq(g_of(s), product)),)),  # the critical point: s and z take values
        Text(_key("text.bound_solve"), (("s", _eq(s, found["critical"])),
                                        ("second", _eq(sympy.Derivative(g_of(s), (s, 2)), found["second"])),
                                        ("z", _eq(zz, found["at_z"])))),
        Claim(SigmaPrime(Integer(0)), (at_zero,), found["peak"], subs=((SigmaAt(Integer(0)), found["critical"]),)),
        Part(),  # the bound for every z
        Text(_key("text.bound_result"), (("bound", sympy.Le(SigmaPrime(zz), found["peak"], evaluate=False)),
                                         ("factor", sympy.Le(sympy.Abs(_times(symbol("w"), SigmaPrime(zz))),
                                                             _times(found["peak"], sympy.Abs(symbol("w"))),
                                                             evaluate=False)),
                                         ("activations", sympy.Mul(AtLayer(symbol("a"), symbol("l") - 1), sympy.Pow(
                                             AtLayer(symbol("a"), symbol("l")), -1, evaluate=False), evaluate=False)),
                                         ("high_weight", max(sig.point[w(l)] for l in LAYERS)),
                                         *ratio_range(sig).items())),
    ), scope="own")  # σ' of any z: no point of the walk


class SigmaAt(sigma):
    """σ(0) as written (not folded into a number when printed); a claim substitutes its value."""

    is_number = False


class BoundFunction(sympy.Function):
    """g(s), for display."""


# ---------------------------------------------------------------- layer by layer


def r_symbol(l) -> sympy.Symbol:
    """r^l, the ratio (∂C/∂w^l) / (∂C/∂w^(l+1)) of a layer's gradient to the gradient one layer up."""
    return symbol(f"r^{l}")


def formula_value(d: Derivation, expr: Expr, primes: tuple) -> Expr:
    """A formula of the forward values (and σ' values) evaluated at the walk's point."""
    return exact(expr.xreplace(dict(primes)).xreplace({symbol(n): v for n, v in d.values.items()}))


def _table_section(sig: Derivation, relu: Derivation) -> Section:
    r_sig, r_relu = ratios(sig), ratios(relu)
    rows = []
    for l in LAYERS:
        rows.append((Integer(l), sig.values[z(l)], sigmoid_prime_value(sig.values[z(l)]),
                     abs(sig.gradients[w(l)].value), r_sig.get(l, "—"),
                     abs(relu.gradients[w(l)].value), r_relu[l] if l in r_relu else "—"))
    r_l = r_symbol("l")
    header = (_key("table.layer"), maths(symbol("z^l")), maths(SigmaPrime(symbol("z^l"))),
              maths(sympy.Abs(Grad("C", "w^l"))), maths(r_l),
              maths(sympy.Abs(Grad("C", "w^l"))) + " (ReLU)", maths(r_l) + " (ReLU)")
    primes = _sigma_prime_subs(sig)
    claims = [Claim(r_symbol(l), (gradient_ratio(l), ratio_formula(l)), r_sig[l], subs=primes) for l in LAYERS[:-1]]
    _check_shrinking(sig, r_sig)
    overall = exact(sig.gradients[w(2)].value / sig.gradients[w(L)].value)
    by_formula = tuple((r_symbol(l), formula_value(sig, ratio_formula(l), primes)) for l in LAYERS[:-1])
    return Section(_key("heading.table"), (
        Text(_key("text.table"), (("r", r_l),)),
        Table(header, tuple(rows)),
        Text(_key("text.ratio"), (("r", r_l),)),
        Equation(r_l, (gradient_ratio_symbolic(), ratio_formula_symbolic())),
        Text(_key("text.ratio_numbers")),
        *claims,
        Text(_key("text.table_reading"), (("first", Integer(2)), ("last", Integer(L)), ("ordered", ordered(r_sig)),
                                          *ratio_range(sig).items())),
        Claim(gradient_ratio_between(2, L), (sympy.Mul(*[r_symbol(l) for l in LAYERS[:-1]], evaluate=False),),
              overall, subs=by_formula),
    ))


def ordered(r: Mapping[int, Expr]) -> Ordered:
    """The ratios in order of size between 0 and 1 (0 < r^3 ≤ … ≤ r^2 < 1): what "every step down shrinks the
    gradient" claims, stated so that the page's reader checks it with the table's values."""
    layers = sorted(r, key=lambda l: r[l])
    if not (0 < r[layers[0]] and r[layers[-1]] < 1):
        raise CheckFailure("self-check failed: a ratio of the sigmoid chain is not between 0 and 1")
    members = [Integer(0), *(r_symbol(l) for l in layers), Integer(1)]
    return Ordered.of(members, [True] + [False] * (len(layers) - 1) + [True])


def gradient_ratio_between(low: int, high: int) -> Expr:
    return _times(Grad("C", w(low)), sympy.Pow(Grad("C", w(high)), -1, evaluate=False))


def gradient_ratio_symbolic() -> Expr:
    return _times(Grad("C", "w^l"), sympy.Pow(GradAtNextLayer(_plus(symbol("l"), 1)), -1, evaluate=False))


class GradAtNextLayer(sympy.Function):
    """∂C/∂w^{l+1} for display."""


def ratio_formula_symbolic() -> Expr:
    l_ = symbol("l")
    return _times(AtLayer(symbol("w"), _plus(l_, 1)), SigmaPrime(AtLayer(symbol("z"), l_)),
                  AtLayer(symbol("a"), l_ - 1),
                  sympy.Pow(AtLayer(symbol("a"), l_), -1, evaluate=False))


def _check_shrinking(d: Derivation, r: Mapping[int, Expr]) -> None:
    """What the text says about the sigmoid chain, checked on the walk: every step back shrinks the gradient,
    each ratio is at most |w^(l+1)|/4 · a^(l−1)/a^l (σ' ≤ 1/4), and |∂C/∂w^l| stays under its bound."""
    for l, ratio in r.items():
        limit = abs(d.values[w(l + 1)]) / 4 * d.values[a(l - 1)] / d.values[a(l)]
        if not (0 < ratio < 1 and ratio <= limit):
            raise CheckFailure(f"self-check failed: the ratio at layer {l} is {float(ratio)!r}")
    for l in LAYERS:
        weights = sympy.Mul(*[abs(d.values[w(k)]) for k in range(l + 1, L + 1)])
        limit = abs(d.values[a(L)] - d.values["t"]) * sympy.Rational(1, 4) ** (L - l + 1) * weights * d.values[a(l - 1)]
        if not abs(d.gradients[w(l)].value) <= limit:
            raise CheckFailure(f"self-check failed: |dC/dw^{l}| exceeds its bound")


# ---------------------------------------------------------------- ReLU


def _relu_section(relu: Derivation, sig: Derivation) -> Section:
    values = {symbol(n): v for n, v in relu.values.items()}
    steps = tuple((ReLUPrime(symbol(z(l))), sympy.Heaviside(relu.values[z(l)], 0)) for l in LAYERS)
    subs = tuple(values.items()) + steps + tuple((Grad("C", w(l)), relu.gradients[w(l)].value) for l in LAYERS)
    blocks: list = [
        Text(_key("text.relu_chain"), (("step", _eq(ReLUPrime(symbol("z")), sympy.Heaviside(symbol("z"), 0))),)),
        Claim(Grad("C", w(2)), (product_formula(2, ReLUPrime),), relu.gradients[w(2)].value, subs=subs),
        Text(_key("text.relu_ratio")),
    ]
    r = ratios(relu)
    blocks += [Claim(r_symbol(l), (gradient_ratio(l), ratio_formula(l, ReLUPrime)), r[l], subs=subs)
               for l in LAYERS[:-1]]
    if any(relu.values[z(l)] <= 0 for l in LAYERS):
        raise CheckFailure("self-check failed: a ReLU unit of the chain is not active, the text assumes all are")
    sizes = [abs(relu.gradients[w(l)].value) for l in LAYERS]
    if not max(sizes) < 2 * min(sizes):  # "stay of the same size"
        raise CheckFailure("self-check failed: the ReLU chain's gradients differ by more than a factor 2")
    blocks.append(Text(_key("text.relu_reading"), tuple(ratio_range(sig).items())))
    return Section(_key("heading.relu"), tuple(blocks), scope="own", given=derivation_given(relu))  # the ReLU chain


# ---------------------------------------------------------------- the plot


def plot(sig: Derivation, relu: Derivation) -> Plot:
    """|∂C/∂w^l| per layer on a log scale, sigmoid against ReLU (language-neutral labels)."""
    layers = tuple(LAYERS)
    return Plot(
        6.0, 3.6,
        (Series(layers, tuple(abs(float(sig.gradients[w(l)].value)) for l in layers), "o-", r"$\sigma$"),
         Series(layers, tuple(abs(float(relu.gradients[w(l)].value)) for l in layers), "s--", r"$\mathrm{ReLU}$")),
        log_y=True, x_label=r"$l$", y_label=r"$|\partial C / \partial w^{l}|$", x_ticks=layers,
        grid=(("which", "major"), ("linewidth", 0.5), ("alpha", 0.6)), legend=())


def _plot_section(sig: Derivation, relu: Derivation) -> Section:
    return Section(_key("heading.plot"), (
        Text(_key("text.plot")),
        Image(PLOT, _key("caption.plot"), plot(sig, relu)),
    ))
