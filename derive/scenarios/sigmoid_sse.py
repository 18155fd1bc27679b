"""sigmoid-sse: one sigmoid perceptron on a batch of n = 3 samples, E = ½ Σᵢ (Aᵢ − Yᵢ)², one step with η = 0.5.

Per sample i: p_ki = w_k·x_ki, Z_i = p_1i + p_2i + b, A_i = σ(Z_i), r_i = A_i − Y_i, s_i = r_i²; then S = Σ s_i and
E = ½·S. Names ``x_1_2`` print as x_{12} (feature 1 of sample 2).
"""
from __future__ import annotations

import sympy
from sympy import Integer, Rational

from ..backward import Derivation, derive
from ..graph import Graph, Node, exact, symbol
from ..notation import Grad, sigma
from ..walkthrough import Claim, Equation, Fold, Listing, Section, Table, Text, Walkthrough, make, size_given
from .common import exact_point, maths, program_text
from .concepts import gates_section, rule_card

NAME = "sigmoid-sse"
N = 3
FEATURES = (1, 2)
DATA = {  # sample i: (x_1i, x_2i, Y_i)
    1: ("1", "2", "1"),
    2: ("0.5", "-1", "0"),
    3: ("-1", "0.5", "1"),
}
PARAMETERS = {"w1": "0.5", "w2": "-0.25", "b": "0.1"}
WRT = ("w1", "w2", "b")
LEARNING_RATE = "0.5"
SAMPLES = tuple(range(1, N + 1))
WORKED = 1  # the sample whose steps are shown node by node; the others appear in the batch sections' tables


def x(k, i) -> str:
    return f"x_{k}_{i}"


def p(k, i) -> str:
    return f"p_{k}_{i}"


def w(k) -> str:
    return f"w{k}"


def build_graph() -> Graph:
    nodes = [Node(name, "leaf") for name in PARAMETERS]
    for i in SAMPLES:
        nodes += [Node(x(1, i), "leaf"), Node(x(2, i), "leaf"), Node(f"Y_{i}", "leaf")]
    for i in SAMPLES:
        nodes += [Node(p(k, i), "mul", (w(k), x(k, i))) for k in FEATURES]
        nodes += [
            Node(f"Z_{i}", "add", (p(1, i), p(2, i), "b")),
            Node(f"A_{i}", "sigmoid", (f"Z_{i}",)),
            Node(f"r_{i}", "sub", (f"A_{i}", f"Y_{i}")),
            Node(f"s_{i}", "pow", (f"r_{i}", Integer(2))),
        ]
    nodes += [Node("S", "sum", tuple(f"s_{i}" for i in SAMPLES)), Node("E", "mul", (Rational(1, 2), "S"))]
    return Graph(tuple(nodes), "E")


def data_names() -> tuple[str, ...]:
    """The inputs and targets: data, held constant (no gradient is computed for them)."""
    return tuple(name for i in SAMPLES for name in (x(1, i), x(2, i), f"Y_{i}"))


def sample_nodes(i: int) -> tuple[str, ...]:
    return (x(1, i), x(2, i), f"Y_{i}", p(1, i), p(2, i), f"Z_{i}", f"A_{i}", f"r_{i}", f"s_{i}")


def point() -> dict:
    values = dict(PARAMETERS)
    for i, (x1, x2, y) in DATA.items():
        values.update({x(1, i): x1, x(2, i): x2, f"Y_{i}": y})
    return exact_point(values)


def build() -> Walkthrough:
    graph = build_graph()
    derivation = derive(graph, point(), WRT, data_names())
    eta = exact_point({"lr": LEARNING_RATE})["lr"]
    intro = (_setting(derivation, eta), _plan(), rule_card(derivation))
    extra = (_loss_section(derivation), _sigmoid_section(derivation), gates_section("Z_1", derivation.values["Z_1"]),
             _linear_section(derivation), _batch_section(derivation, eta))
    worked = frozenset(sample_nodes(WORKED)) - set(data_names())  # the data are in the setting's table
    fold = Fold(frozenset((*PARAMETERS, *worked, "S", "E")), Text(_key("text.folded"), (
        ("worked", Integer(WORKED)), ("others", Listing(Integer(i) for i in SAMPLES if i != WORKED)))))
    others = frozenset(name for i in SAMPLES if i != WORKED for name in sample_nodes(i))
    return make(NAME, program_text(graph, others), derivation, learning_rate=eta, steps=1, intro=intro, extra=extra,
                fold=fold, given=(size_given("n", N),))


# ---------------------------------------------------------------- general symbols (index i, feature k)

def _g(name: str) -> sympy.Symbol:
    return symbol(name)


I, K, n = _g("i"), _g("k"), _g("n")
Z_i, A_i, Y_i, x_ki, w_k = _g("Z_i"), _g("A_i"), _g("Y_i"), _g("x_k_i"), _g("w_k")


def _key(suffix: str) -> str:
    return f"scenario.{NAME}.{suffix}"


def _eq(lhs, rhs) -> sympy.Eq:
    return sympy.Eq(lhs, rhs, evaluate=False)


def _sigmoid_prime(z: sympy.Symbol) -> sympy.Derivative:
    return sympy.Derivative(sigma(z), z)


def _weighted_sum() -> sympy.Expr:
    return sympy.Add(_g("w1") * _g("x_1_i"), _g("w2") * _g("x_2_i"), _g("b"), evaluate=False)


def _s_one_minus_s(s: sympy.Expr) -> sympy.Expr:
    """s·(1 − s), kept in that order."""
    return sympy.Mul(s, 1 - s, evaluate=False)


def _loss_expr() -> sympy.Expr:
    return sympy.Mul(Rational(1, 2), sympy.Sum((A_i - Y_i) ** 2, (I, 1, n)), evaluate=False)


# ---------------------------------------------------------------- intro

def _setting(d: Derivation, eta) -> Section:
    z_def = _eq(Z_i, _weighted_sum())
    rows = tuple((Integer(i), d.point[x(1, i)], d.point[x(2, i)], d.point[f"Y_{i}"]) for i in SAMPLES)
    params = tuple((name, _eq(symbol(name), d.point[name])) for name in PARAMETERS)
    return Section(_key("heading.setting"), (
        Text(_key("text.setting"), (("z", z_def), ("a", _eq(A_i, sigma(Z_i))), ("e", _eq(_g("E"), _loss_expr())),
                                    ("x", x_ki), ("k", K), ("i", I))),
        Text(_key("text.data"), (("n", _eq(n, Integer(N))),) + params + (("eta", _eq(_g("eta"), eta)),)),
        Table((_key("table.sample"), maths(_g("x_1_i")), maths(_g("x_2_i")), maths(Y_i)), rows),
        Text(_key("text.names"), (("p", _eq(_g("p_k_i"), w_k * x_ki)), ("r", _eq(_g("r_i"), A_i - Y_i)),
                                  ("s", _eq(_g("s_i"), _g("r_i") ** 2)),
                                  ("S", _eq(_g("S"), sympy.Sum(_g("s_i"), (I, 1, n)))),
                                  ("E", _eq(_g("E"), sympy.Mul(Rational(1, 2), _g("S"), evaluate=False))))),
    ))


def _plan() -> Section:
    chain = sympy.Sum(sympy.Mul(Grad("E", "A_i"), Grad("A_i", "Z_i"), Grad("Z_i", "w_k"), evaluate=False), (I, 1, n))
    return Section(_key("heading.plan"), (
        Text(_key("text.plan")),
        Equation(Grad("E", "w_k"), (chain,)),
        Text(_key("text.plan_order")),
    ))


# ---------------------------------------------------------------- ∂E/∂A

def _loss_section(d: Derivation) -> Section:
    general = Equation(Grad("E", "A_i"), (
        sympy.Mul(Grad("E", "S"), Grad("S", "s_i"), Grad("s_i", "r_i"), Grad("r_i", "A_i"), evaluate=False),
        sympy.Mul(Rational(1, 2), Integer(2), _g("r_i"), evaluate=False),
        A_i - Y_i))
    claims = tuple(
        Claim(Grad("E", f"A_{i}"), (_g(f"A_{i}") - _g(f"Y_{i}"),), d.gradients[f"A_{i}"].value) for i in SAMPLES)
    a_, y_ = _g("A"), _g("Y")
    half = Rational(1, 2)
    loose = sympy.Mul(half, sympy.Sum(sympy.Add(2 * A_i, -2 * Y_i, evaluate=False), (I, 1, n)), evaluate=False)
    slip = sympy.Mul(half, sympy.Sum(A_i - Y_i, (I, 1, n)), evaluate=False)
    right = sympy.Sum(A_i - Y_i, (I, 1, n))
    expand = sympy.Add(a_ ** 2, -2 * a_ * y_, y_ ** 2, evaluate=False)
    return Section(_key("heading.loss"), (
        Text(_key("text.loss"), (("E", _g("E")), ("A", A_i), ("square", 2 * _g("r_i")))),
        general,
        Text(_key("text.loss_numbers"), (("g", Grad("E", "A_i")),)),
        *claims,
        Text(_key("text.loose"), (("loose", loose), ("grad", Grad("E", "A")), ("A", a_), ("Ai", A_i),
                                  ("expand", _eq((a_ - y_) ** 2, expand)),
                                  ("termwise", _eq(Grad("E", "A_i"), A_i - Y_i)))),
        Text(_key("text.slip"), (("slip", sympy.Ne(loose, slip, evaluate=False)),
                                 ("right", _eq(loose, right)), ("per", A_i - Y_i))),
    ))


# ---------------------------------------------------------------- ∂A/∂Z

def _sigmoid_section(d: Derivation) -> Section:
    general = Equation(Grad("A_i", "Z_i"), (_sigmoid_prime(Z_i), _s_one_minus_s(sigma(Z_i)), _s_one_minus_s(A_i)))
    claims = []
    for i in SAMPLES:
        a = _g(f"A_{i}")
        claims.append(Claim(Grad(f"A_{i}", f"Z_{i}"), (_s_one_minus_s(a),), d.local_value(f"A_{i}", f"Z_{i}")))
    return Section(_key("heading.sigmoid"), (
        Text(_key("text.sigmoid"), (("A", A_i),)),
        general,
        Text(_key("text.sigmoid_numbers"), (("A", A_i),)),
        *claims,
    ))


# ---------------------------------------------------------------- ∂Z/∂w, ∂Z/∂b, ∂Z/∂x

def _linear_section(d: Derivation) -> Section:
    k = WORKED
    sample = Claim(Grad(f"Z_{k}", "w1"), (sympy.Mul(Grad(f"Z_{k}", p(1, k)), Grad(p(1, k), "w1"), evaluate=False),
                                         _g(x(1, k))), _dz(d, "w1", k))
    return Section(_key("heading.linear"), (
        Text(_key("text.linear"), (("z", _eq(Z_i, _weighted_sum())), ("dw", _eq(Grad("Z_i", "w_k"), x_ki)),
                                   ("db", _eq(Grad("Z_i", "b"), Integer(1))))),
        Text(_key("text.linear_path"), (("p", _g(p(1, k))), ("x", x_ki), ("Z", Z_i), ("i", Integer(k)))),
        sample,
        Text(_key("text.linear_inputs")),
    ))


def _dz(d: Derivation, v: str, i: int):
    """∂Z_i/∂v from the walk's local gradients: through p_ki for a weight, directly for b."""
    if v == "b":
        return d.local_value(f"Z_{i}", "b")
    k = 1 if v == "w1" else 2
    return exact(d.local_value(f"Z_{i}", p(k, i)) * d.local_value(p(k, i), v))


# ---------------------------------------------------------------- the batch gradient

def _batch_section(d: Derivation, eta) -> Section:
    general = Equation(Grad("E", "w_k"), (  # the plan's sum of path products, each factor now found
        sympy.Sum(sympy.Mul(A_i - Y_i, _s_one_minus_s(A_i), x_ki, evaluate=False), (I, 1, n)),))
    bias = Equation(Grad("E", "b"), (sympy.Sum(sympy.Mul(A_i - Y_i, _sigmoid_prime(Z_i), evaluate=False), (I, 1, n)),))
    dz = {i: d.gradients[f"Z_{i}"].value for i in SAMPLES}
    rows = []
    for i in SAMPLES:
        rows.append((Integer(i), dz[i], d.point[x(1, i)], d.point[x(2, i)],
                     exact(dz[i] * d.point[x(1, i)]), exact(dz[i] * d.point[x(2, i)])))
    rows.append((_g("Sigma"), exact(sum(dz.values())), "", "",
                 exact(sum(r[4] for r in rows)), exact(sum(r[5] for r in rows))))
    header = (_key("table.sample"), maths(Grad("E", "Z_i")), maths(_g("x_1_i")), maths(_g("x_2_i")),
              maths(sympy.Mul(Grad("E", "Z_i"), _g("x_1_i"), evaluate=False)),
              maths(sympy.Mul(Grad("E", "Z_i"), _g("x_2_i"), evaluate=False)))
    dz_def = _eq(Grad("E", "Z_i"), sympy.Mul(A_i - Y_i, _s_one_minus_s(A_i), evaluate=False))
    claims = []
    for name, column in (("w1", 4), ("w2", 5), ("b", 1)):  # the table's Σ row, checked against the walk
        claims.append(Claim(Grad("E", name), (rows[-1][column],), d.gradients[name].value))
    return Section(_key("heading.batch"), (
        Text(_key("text.batch"), (("w", w_k),)),
        general,
        bias,
        Text(_key("text.batch_sigma"), (("sp", _sigmoid_prime(Z_i)), ("x", x_ki), ("err", A_i - Y_i))),
        Text(_key("text.batch_dz"), (("dz", dz_def), ("Z", Z_i))),
        Table(header, tuple(rows)),
        Text(_key("text.batch_claims"), _params_wb()),
        *claims,
        Text(_key("text.update"), (("eta", _eq(_g("eta"), eta)), ("before", d.output_value),
                                   ("after", _loss_after_step(d, eta))) + _params_wb()),
    ))


def _params_wb() -> tuple:
    return tuple((name, _g(name)) for name in WRT)


def _loss_after_step(d: Derivation, eta) -> sympy.Expr:
    """E after one step on the parameters (the same step `make` takes and checks below)."""
    moved = {**d.point, **{name: exact(d.point[name] - eta * d.gradients[name].value) for name in WRT}}
    return derive(d.graph, moved, WRT).output_value
