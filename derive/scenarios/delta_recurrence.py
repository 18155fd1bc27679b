"""delta-recurrence: unit errors δ and the backward recurrence in a 2-2-2 sigmoid network (layers 1, 2, 3 = L).

z^l_j = Σ_i w^l_ji a^(l−1)_i + b^l_j, a^l_j = σ(z^l_j), C = ½ Σ_j (a^3_j − t_j)². Each product w^l_ji·a^(l−1)_i is a
node u^l_ji. The walk is the single-sample cost; a second graph holds the cost C_T = Σ_k C_k of a batch of four
samples (derived and checked the same way), from which the batch section and the update take their numbers.
"""
from __future__ import annotations

import sympy
from sympy import Integer, Rational

from ..backward import Derivation, derive
from ..check import check, close
from ..errors import CheckFailure
from ..graph import Graph, Node, exact
from ..notation import Grad, chain_latex, latex, sigma
from ..walkthrough import Claim, Equation, Part, Section, Table, Text, Walkthrough, gradient_descent, make
from .common import eq as _eq, g as _g, exact_point, maths, program_text, bare_number, shown_matrix

NAME = "delta-recurrence"
SIZES = {1: 2, 2: 2, 3: 2}  # units per layer; layer 1 is the input layer
MATERIAL_SAMPLES = 64  # the study material's training set, C_T = Σ C_k over its samples
L = max(SIZES)
LAYER_NUMBERS = (("first", 2), ("last", L))  # the first layer with weights, and the output layer
WEIGHTS = {2: (("0.1", "-0.2"), ("0.3", "0.4")), 3: (("0.5", "-0.6"), ("0.7", "0.8"))}  # W^l[j][i]
BIASES = {2: ("0.05", "0.1"), 3: ("0.2", "-0.1")}
INPUT = ("1", "0.5")
TARGET = ("0", "1")
BATCH = (  # (input, target); the first sample is the one walked through above
    (INPUT, TARGET),
    (("0.5", "-1"), ("1", "0")),
    (("-1", "2"), ("1", "1")),
    (("0", "0.25"), ("0", "0")),
)
LEARNING_RATE = "0.5"
SHOWN_PARAMETERS = ("w^2_11", "w^3_12", "b^3_1")  # the columns of the batch table


def units(l: int) -> range:
    return range(1, SIZES[l] + 1)


def w(l, j, i) -> str:
    return f"w^{l}_{j}{i}"


def b(l, j) -> str:
    return f"b^{l}_{j}"


def a(l, j) -> str:
    return f"a^{l}_{j}"


def z(l, j) -> str:
    return f"z^{l}_{j}"


def u(l, j, i) -> str:
    return f"u^{l}_{j}{i}"


PARAMETERS = tuple([w(l, j, i) for l in (2, 3) for j in units(l) for i in units(l - 1)]
                   + [b(l, j) for l in (2, 3) for j in units(l)])


def _network_nodes(suffix: str = "") -> list[Node]:
    """The forward nodes of one sample; ``suffix`` renames the sample's own values (the parameters are shared)."""
    def own(name: str) -> str:
        return name + suffix

    nodes = []
    for l in (2, 3):
        for j in units(l):
            products = [u(l, j, i) for i in units(l - 1)]
            nodes += [Node(own(u(l, j, i)), "mul", (w(l, j, i), own(a(l - 1, i)))) for i in units(l - 1)]
            nodes += [Node(own(z(l, j)), "add", tuple(own(p) for p in products) + (b(l, j),)),
                      Node(own(a(l, j)), "sigmoid", (own(z(l, j)),))]
    for j in units(L):
        nodes += [Node(own(f"e_{j}"), "sub", (own(a(L, j)), own(f"t_{j}"))),
                  Node(own(f"q_{j}"), "pow", (own(f"e_{j}"), Integer(2)))]
    return nodes


def build_graph() -> Graph:
    leaves = [Node(a(1, i), "leaf") for i in units(1)] + [Node(p, "leaf") for p in PARAMETERS]
    leaves += [Node(f"t_{j}", "leaf") for j in units(L)]
    tail = [Node("S", "sum", tuple(f"q_{j}" for j in units(L))), Node("C", "mul", (Rational(1, 2), "S"))]
    return Graph(tuple(leaves + _network_nodes() + tail), "C")


DATA = tuple(a(1, i) for i in units(1)) + tuple(f"t_{j}" for j in units(L))
"""The sample's input and target: held constant, so the walk computes no gradient for them."""


def build_batch_graph() -> Graph:
    """C_T = Σ_k C_k: one copy of the network per sample, all reading the same parameters."""
    suffixes = [f"_s{k}" for k in range(1, len(BATCH) + 1)]
    nodes = [Node(p, "leaf") for p in PARAMETERS]
    for s in suffixes:
        nodes += [Node(a(1, i) + s, "leaf") for i in units(1)] + [Node(f"t_{j}" + s, "leaf") for j in units(L)]
    for s in suffixes:
        nodes += _network_nodes(s)
        nodes += [Node("S" + s, "sum", tuple(f"q_{j}" + s for j in units(L))),
                  Node("C" + s, "mul", (Rational(1, 2), "S" + s))]
    nodes.append(Node("C_T", "sum", tuple("C" + s for s in suffixes)))
    return Graph(tuple(nodes), "C_T")


def parameter_values() -> dict[str, str]:
    values = {}
    for l in (2, 3):
        values.update({w(l, j, i): WEIGHTS[l][j - 1][i - 1] for j in units(l) for i in units(l - 1)})
        values.update({b(l, j): BIASES[l][j - 1] for j in units(l)})
    return values


def sample_point(x, t, suffix: str = "") -> dict[str, str]:
    values = {a(1, i) + suffix: x[i - 1] for i in units(1)}
    values.update({f"t_{j}" + suffix: t[j - 1] for j in units(L)})
    return values


def point() -> dict:
    return exact_point({**sample_point(INPUT, TARGET), **parameter_values()})


def batch_point() -> dict:
    values = parameter_values()
    for k, (x, t) in enumerate(BATCH, 1):
        values.update(sample_point(x, t, f"_s{k}"))
    return exact_point(values)


def build() -> Walkthrough:
    graph = build_graph()
    derivation = derive(graph, point(), PARAMETERS, DATA)  # the input and the target are data: no gradient
    eta = exact_point({"lr": LEARNING_RATE})["lr"]
    intro = (_setting(derivation), _hell_section())
    extra = (_definition_section(), _output_section(derivation), _recurrence_section(derivation),
             _parameter_section(derivation), _matrix_section(derivation), _batch_section(graph, eta))
    return make(NAME, program_text(graph), derivation, intro=intro, extra=extra,
                layered=("u",))


# ---------------------------------------------------------------- helpers

def _key(suffix: str) -> str:
    return f"scenario.{NAME}.{suffix}"


def _delta(l, j) -> sympy.Symbol:
    return _g(f"delta^{l}_{j}")


def _sigma_prime(v: sympy.Symbol) -> sympy.Derivative:
    return sympy.Derivative(sigma(v), v)


def _s_one_minus_s(s) -> sympy.Expr:
    return sympy.Mul(s, 1 - s, evaluate=False)


def _delta_subs(*layers: int) -> tuple:
    """δ^l_j stands for the walk's ∂C/∂z^l_j when a claim is checked."""
    return tuple((_delta(l, j), Grad("C", z(l, j))) for l in layers for j in units(l))


def _delta_given(*layers: int) -> tuple[str, ...]:
    """δ^l_j = ∂C/∂z^l_j as bindings, for a part of the page that writes δ (the definition section states it)."""
    return tuple(chain_latex([latex(_delta(l, j)), latex(Grad("C", z(l, j)))]) for l in layers for j in units(l))


DELTA_GIVEN = _delta_given(2, 3)


def _column(values) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix([[v] for v in values])


I_, J_, K_ = _g("i"), _g("j"), _g("k")


# ---------------------------------------------------------------- intro

def _setting(d: Derivation) -> Section:
    values = d.point
    matrices = []
    for l in (2, 3):
        matrices.append(Equation(sympy.MatrixSymbol(f"W^{l}", SIZES[l], SIZES[l - 1]),
                                 (shown_matrix([[values[w(l, j, i)] for i in units(l - 1)] for j in units(l)]),)))
        matrices.append(Equation(sympy.MatrixSymbol(f"b^{l}", SIZES[l], 1),
                                 (shown_matrix([[values[b(l, j)]] for j in units(l)]),)))
    matrices.append(Equation(sympy.MatrixSymbol("a^1", SIZES[1], 1),
                             (shown_matrix([[values[a(1, i)]] for i in units(1)]),)))
    matrices.append(Equation(sympy.MatrixSymbol("t", SIZES[L], 1),
                             (shown_matrix([[values[f"t_{j}"]] for j in units(L)]),)))
    squares = sympy.Sum((_g(f"a^{L}_j") - _g("t_j")) ** 2, (J_, 1, Integer(SIZES[L])))
    cost = _eq(_g("C"), sympy.Mul(Rational(1, 2), squares, evaluate=False))
    return Section(_key("heading.setting"), (
        Text(_key("text.setting"), (("L", _eq(_g("L"), Integer(L))), ("a", _eq(_g("a^l_j"), sigma(_g("z^l_j")))),
                                    ("w", _g("w^l_ji")), ("b", _g("b^l_j")), ("cost", cost), *LAYER_NUMBERS)),
        Text(_key("text.weighted_sum"), (("z", _z_general()), *LAYER_NUMBERS)),
        Text(_key("text.point")),
        *matrices,
        Text(_key("text.names"), (("u2", _eq(_g("u^2_ji"), sympy.Mul(_g("w^2_ji"), _g("a^1_i"), evaluate=False))),
                                  ("u3", _eq(_g("u^3_ji"), sympy.Mul(_g("w^3_ji"), _g("a^2_i"), evaluate=False))),
                                  ("e", _eq(_g("e_j"), _g("a^3_j") - _g("t_j"))), ("q", _eq(_g("q_j"), _g("e_j") ** 2)),
                                  ("S", _g("S")))),
    ))


def _z_general():
    """z^l_j = Σ_i w^l_ji a^(l−1)_i + b^l_j, written for the layer pair (2, 1) the network actually has."""
    weighted = sympy.Sum(sympy.Mul(_g("w^2_ji"), _g("a^1_i"), evaluate=False), (I_, 1, Integer(SIZES[1])))
    return _eq(_g("z^2_j"), sympy.Add(weighted, _g("b^2_j"), evaluate=False))


def _hell_section() -> Section:
    path = sympy.Mul(Grad("C", "a^3_j"), Grad("a^3_j", "z^3_j"), Grad("z^3_j", "a^2_1"), Grad("a^2_1", "z^2_1"),
                     Grad("z^2_1", "w^2_11"), evaluate=False)
    return Section(_key("heading.hell"), (
        Text(_key("text.hell"), (("w", _g("w^2_11")), ("z", _g("z^2_1")), ("a", _g("a^2_1")), *LAYER_NUMBERS)),
        Equation(Grad("C", "w^2_11"), (sympy.Sum(path, (J_, 1, Integer(SIZES[L]))),)),
        Text(_key("text.hell_batch"), (("CT", _eq(_g("C_T"), sympy.Sum(_g("C_k"), (K_, 1, Integer(MATERIAL_SAMPLES))))),
                                       ("samples", MATERIAL_SAMPLES))),
        Text(_key("text.hell_material"), (("links", len(path.args)),)),
    ))


# ---------------------------------------------------------------- δ: definition, output layer, recurrence

def _definition_section() -> Section:
    return Section(_key("heading.definition"), (
        Text(_key("text.definition")),
        Equation(_g("delta^l_j"), (Grad("C", "z^l_j"),)),
        Text(_key("text.definition_why")),
    ))


def _output_section(d: Derivation) -> Section:
    general = Equation(_g("delta^L_j"), (
        sympy.Mul(Grad("C", "a^L_j"), Grad("a^L_j", "z^L_j"), evaluate=False),
        sympy.Mul(Grad("C", "a^L_j"), _sigma_prime(_g("z^L_j")), evaluate=False),
        sympy.Mul(_g("a^L_j") - _g("t_j"), _sigma_prime(_g("z^L_j")), evaluate=False)))
    claims = []
    for j in units(L):
        aj = _g(a(L, j))
        claims.append(Claim(_delta(L, j), (
            Grad("C", z(L, j)),
            sympy.Mul(Grad("C", a(L, j)), Grad(a(L, j), z(L, j)), evaluate=False),
            sympy.Mul(aj - _g(f"t_{j}"), _s_one_minus_s(aj), evaluate=False)), d.gradients[z(L, j)].value))
    return Section(_key("heading.output"), (
        Text(_key("text.output"), (("z", _g("z^L_j")), ("a", _g("a^L_j")), ("delta", _g("delta^L_j")))),
        general,
        Text(_key("text.output_numbers"), (("L", _eq(_g("L"), Integer(L))),
                                           ("sp", _eq(_sigma_prime(_g("z")), _s_one_minus_s(_g("a")))))),
        *claims,
        Part(_softmax_given()),  # the remark is about another output layer: a scope of its own
        Text(_key("text.output_softmax"), (("delta", _eq(_g("delta^L"), _g("a^L") - _g("t"))),)),
    ), given=DELTA_GIVEN + (chain_latex([latex(_g("a")), latex(sigma(_g("z")))]),))


def _softmax_given() -> tuple[str, ...]:
    """The output layer the softmax remark is about: a^L = softmax(z^L), the cross-entropy C, its δ^L_j, and targets
    that add up to 1 (one-hot), the condition under which δ^L = a^L − t holds."""
    zs = [_g(z(L, j)) for j in units(L)]
    total = sympy.Add(*[sympy.exp(v) for v in zs], evaluate=False)
    outputs = [(_g(a(L, j)), sympy.exp(zs[j - 1]) / total) for j in units(L)]
    cost = -sympy.Add(*[sympy.Mul(_g(f"t_{j}"), sympy.log(_g(a(L, j))), evaluate=False) for j in units(L)],
                      evaluate=False)
    targets = sympy.Sum(_g("t_j"), (J_, 1, Integer(SIZES[L])))
    return tuple(chain_latex([latex(lhs), latex(rhs)]) for lhs, rhs in [*outputs, (_g("C"), cost)]) + \
        _delta_given(L) + (chain_latex([latex(targets), latex(Integer(1))]),)


def _recurrence_section(d: Derivation) -> Section:
    general = Equation(_g("delta^2_i"), (
        Grad("C", "z^2_i"),
        sympy.Sum(sympy.Mul(Grad("C", "z^3_j"), Grad("z^3_j", "a^2_i"), Grad("a^2_i", "z^2_i"), evaluate=False),
                  (J_, 1, Integer(SIZES[3]))),
        sympy.Mul(sympy.Sum(sympy.Mul(_g("delta^3_j"), _g("w^3_ji"), evaluate=False), (J_, 1, Integer(SIZES[3]))),
                  _sigma_prime(_g("z^2_i")), evaluate=False)))
    claims = []
    for i in units(2):
        back = sympy.Add(*[sympy.Mul(_delta(3, j), _g(w(3, j, i)), evaluate=False) for j in units(3)], evaluate=False)
        ai = _g(a(2, i))
        claims.append(Claim(_delta(2, i), (Grad("C", z(2, i)), sympy.Mul(back, _s_one_minus_s(ai), evaluate=False)),
                            d.gradients[z(2, i)].value, subs=_delta_subs(3)))
    return Section(_key("heading.recurrence"), (
        Text(_key("text.recurrence"), (("z", _eq(_g("z^3_j"), sympy.Add(
            *[sympy.Mul(_g(f"w^3_j{i}"), _g(a(2, i)), evaluate=False) for i in units(2)], _g("b^3_j"),
            evaluate=False))), ("z2", _g("z^2_i")), ("a2", _g("a^2_i")), ("z3", _g("z^3_j")),
                                      ("d3", _g("delta^3_j")), ("dz", _eq(Grad("z^3_j", "a^2_i"), _g("w^3_ji"))),
                                      *LAYER_NUMBERS)),
        general,
        Text(_key("text.recurrence_general")),
        Text(_key("text.recurrence_numbers"), LAYER_NUMBERS),
        *claims,
    ), given=DELTA_GIVEN)


def _parameter_section(d: Derivation) -> Section:
    general = (
        Equation(Grad("C", "w^3_ji"), (sympy.Mul(Grad("C", "z^3_j"), Grad("z^3_j", "w^3_ji"), evaluate=False),
                                        sympy.Mul(_g("delta^3_j"), _g("a^2_i"), evaluate=False))),
        Equation(Grad("C", "w^2_ji"), (sympy.Mul(_g("delta^2_j"), _g("a^1_i"), evaluate=False),)),
        Equation(Grad("C", "b^l_j"), (sympy.Mul(Grad("C", "z^l_j"), Grad("z^l_j", "b^l_j"), evaluate=False),
                                       _g("delta^l_j"))),
    )
    claims = []
    for l in (3, 2):
        for j in units(l):
            for i in units(l - 1):
                claims.append(Claim(Grad("C", w(l, j, i)), (sympy.Mul(_delta(l, j), _g(a(l - 1, i)), evaluate=False),),
                                    d.gradients[w(l, j, i)].value, subs=_delta_subs(l)))
        for j in units(l):
            claims.append(Claim(Grad("C", b(l, j)), (_delta(l, j),), d.gradients[b(l, j)].value, subs=_delta_subs(l)))
    return Section(_key("heading.parameters"), (
        Text(_key("text.parameters"), (("w", _g("w^l_ji")), ("z", _g("z^l_j")), ("b", _g("b^l_j")))),
        *general,
        Text(_key("text.parameters_numbers")),
        *claims,
        Text(_key("text.parameters_done"), (("count", len(PARAMETERS)),)),
    ), given=DELTA_GIVEN)


# ---------------------------------------------------------------- matrix form

def _matrix_section(d: Derivation) -> Section:
    v, g = d.values, d.gradients
    ms = sympy.MatrixSymbol

    def col(names):
        return shown_matrix([[v[n]] for n in names])

    z3, z2 = [z(3, j) for j in units(3)], [z(2, j) for j in units(2)]
    a3, a2, a1 = [a(3, j) for j in units(3)], [a(2, j) for j in units(2)], [a(1, j) for j in units(1)]
    grad_a3 = _column([Grad("C", n) for n in a3])
    sp3 = _column([_sigma_prime(_g(n)) for n in z3])
    sp2 = _column([_sigma_prime(_g(n)) for n in z2])
    num_grad_a3 = shown_matrix([[g[n].value] for n in a3])
    num_sp3 = shown_matrix([[v[n] * (1 - v[n])] for n in a3])
    num_sp2 = shown_matrix([[v[n] * (1 - v[n])] for n in a2])
    delta3 = shown_matrix([[g[n].value] for n in z3])
    delta2 = shown_matrix([[g[n].value] for n in z2])
    w3 = shown_matrix([[d.point[w(3, j, i)] for i in units(2)] for j in units(3)])
    grad_w = {l: shown_matrix([[g[w(l, j, i)].value for i in units(l - 1)] for j in units(l)]) for l in (2, 3)}
    _check_matrix_form(d)
    had = sympy.HadamardProduct
    mm = lambda *args: sympy.MatMul(*args, evaluate=False)  # noqa: E731
    shapes = _shape_table()
    return Section(_key("heading.matrix"), (
        Text(_key("text.matrix"), (("W", _g("W^l")), ("g", Grad("C", "a^L_j")), ("grad", Grad("C", "a^L")),
                                   ("diff", _g("a^L") - _g("t")))),
        Equation(ms("delta^3", 2, 1), (had(grad_a3, sp3), had(num_grad_a3, num_sp3), delta3)),
        Equation(ms("delta^2", 2, 1), (had(mm(ms("W^3", 2, 2).T, ms("delta^3", 2, 1)), sp2),
                                       had(mm(sympy.Transpose(w3), delta3), num_sp2), delta2)),
        Equation(Grad("C", "W^3"), (mm(ms("delta^3", 2, 1), ms("a^2", 2, 1).T),
                                    mm(delta3, sympy.Transpose(col(a2))), grad_w[3])),
        Equation(Grad("C", "W^2"), (mm(ms("delta^2", 2, 1), ms("a^1", 2, 1).T),
                                    mm(delta2, sympy.Transpose(col(a1))), grad_w[2])),
        Equation(Grad("C", "b^l"), (ms("delta^l", 2, 1),)),
        Text(_key("text.matrix_general")),
        Text(_key("text.shapes"), (("n", _g("n_l")),)),
        shapes,
        Text(_key("text.shapes_why"), (("delta", _g("delta^l")), ("W", _g("W^l")))),
    ), given=DELTA_GIVEN)


def _shape_table() -> Table:
    n_l, n_prev = _g("n_l"), sympy.IndexedBase(_g("n"))[_g("l") - 1]
    ms = sympy.MatrixSymbol
    rows = []
    for thing, general, here in (
            (ms("W^l", 2, 2), (n_l, n_prev), {l: (SIZES[l], SIZES[l - 1]) for l in (2, 3)}),
            (ms("b^l", 2, 1), (n_l, 1), {l: (SIZES[l], 1) for l in (2, 3)}),
            (ms("z^l", 2, 1), (n_l, 1), {l: (SIZES[l], 1) for l in (2, 3)}),
            (ms("delta^l", 2, 1), (n_l, 1), {l: (SIZES[l], 1) for l in (2, 3)}),
            (Grad("C", "W^l"), (n_l, n_prev), {l: (SIZES[l], SIZES[l - 1]) for l in (2, 3)})):
        rows.append((thing, sympy.Tuple(*general), sympy.Tuple(*here[2]), sympy.Tuple(*here[3])))
    header = (_key("table.object"), _key("table.shape")) + tuple(maths(_eq(_g("l"), Integer(l))) for l in (2, 3))
    return Table(header, tuple(rows))


def _check_matrix_form(d: Derivation) -> None:
    """The matrix equations above, computed in exact arithmetic from the forward values, must give the walk's δ and
    weight gradients (matrices are not `Claim`s, so they are checked here)."""
    v, g = d.values, d.gradients
    sp = {l: sympy.Matrix([v[a(l, j)] * (1 - v[a(l, j)]) for j in units(l)]) for l in (2, 3)}
    delta3 = (sympy.Matrix([v[a(3, j)] - v[f"t_{j}"] for j in units(3)])).multiply_elementwise(sp[3])
    w3 = sympy.Matrix([[v[w(3, j, i)] for i in units(2)] for j in units(3)])
    delta2 = (w3.T * delta3).multiply_elementwise(sp[2])
    expected = {z(3, j): delta3[j - 1] for j in units(3)} | {z(2, j): delta2[j - 1] for j in units(2)}
    for l, delta in ((3, delta3), (2, delta2)):
        prev = sympy.Matrix([v[a(l - 1, i)] for i in units(l - 1)])
        outer = delta * prev.T
        expected |= {w(l, j, i): outer[j - 1, i - 1] for j in units(l) for i in units(l - 1)}
    for name, value in expected.items():
        if not close(float(g[name].value), float(value)):
            raise CheckFailure(f"self-check failed: the matrix form gives {float(value)!r} for dC/d{name}, "
                               f"the walk {float(g[name].value)!r}")


# ---------------------------------------------------------------- the batch

def _batch_section(graph: Graph, eta) -> Section:
    params = exact_point(parameter_values())
    samples = []
    for k, (x, t) in enumerate(BATCH, 1):
        single = derive(graph, {**params, **exact_point(sample_point(x, t))}, PARAMETERS)
        check(single)
        samples.append(single)
    batch = derive(build_batch_graph(), batch_point(), PARAMETERS)
    check(batch)
    update = gradient_descent(batch, eta, 1)[0]  # checked like every step
    rows = []
    for k, (single, (x, t)) in enumerate(zip(samples, BATCH), 1):
        rows.append((Integer(k), sympy.Tuple(*[bare_number(single.point[a(1, i)]) for i in units(1)]),
                     sympy.Tuple(*[bare_number(single.point[f"t_{j}"]) for j in units(L)]), single.output_value)
                    + tuple(single.gradients[p].value for p in SHOWN_PARAMETERS))
    rows.append((_g("Sigma"), "", "", batch.output_value) + tuple(batch.gradients[p].value for p in SHOWN_PARAMETERS))
    header = (_key("table.sample"), maths(_g("a^1")), maths(_g("t")), maths(_g("C_k")))
    header += tuple(maths(Grad("C_k", p)) for p in SHOWN_PARAMETERS)
    claims = []
    for p in SHOWN_PARAMETERS:
        parts = [Grad(f"C_{k}", p) for k in range(1, len(BATCH) + 1)]
        subs = tuple((part, single.gradients[p].value) for part, single in zip(parts, samples))
        claims.append(Claim(Grad("C_T", p), (sympy.Add(*parts, evaluate=False),), batch.gradients[p].value, subs=subs))
    _check_batch_sum(samples, batch)
    changes = tuple((_g(leaf), old, grad, new) for leaf, old, grad, new in update.changes)
    rule = _eq(_g("Delta"), sympy.Mul(-1, _g("eta"), Grad("C_T", "theta"), evaluate=False))
    return Section(_key("heading.batch"), (
        Text(_key("text.batch"), (("CT", _eq(_g("C_T"), sympy.Sum(_g("C_k"), (K_, 1, Integer(len(BATCH)))))),
                                  ("count", len(BATCH)))),
        Table(header, tuple(rows)),
        Text(_key("text.batch_claims"), (("CT", _g("C_T")),)),
        *claims,
        Text(_key("text.batch_all"), (("count", len(PARAMETERS)),)),
        Text(_key("text.batch_update"), (("rule", rule), ("eta", _eq(_g("eta"), eta)),
                                         ("theta", _g("theta")))),
        Table((_key("table.parameter"), _key("table.before"), maths(Grad("C_T", "theta")), _key("table.after")),
              changes),
        Text(_key("text.batch_after"), (("before", batch.output_value), ("after", update.derivation.output_value))),
    ), given=_batch_given())


def _batch_given() -> tuple[str, ...]:
    """The batch section's bindings: each sample's cost C_k written out in the parameters, its input and target put
    in (the parameters keep the walk's values), so that ∂C_k/∂θ is read from its definition."""
    return tuple(chain_latex([latex(_g(f"C_{k}")), latex(_sample_cost(x, t))]) for k, (x, t) in enumerate(BATCH, 1))


def _sample_cost(x, t) -> sympy.Expr:
    """C = ½ Σ_j (a^L_j − t_j)² of one sample, the forward pass written out from its input ``x``."""
    values = exact_point(sample_point(x, t))
    outputs = [values[a(1, i)] for i in units(1)]
    for l in (2, 3):
        outputs = [sigma(sympy.Add(*[_g(w(l, j, i)) * outputs[i - 1] for i in units(l - 1)], _g(b(l, j))))
                   for j in units(l)]
    squares = [sympy.Pow(outputs[j - 1] - values[f"t_{j}"], 2, evaluate=False) for j in units(L)]
    return sympy.Mul(Rational(1, 2), sympy.Add(*squares, evaluate=False), evaluate=False)


def _check_batch_sum(samples: list[Derivation], batch: Derivation) -> None:
    """Every parameter's batch gradient is the sum of the per-sample gradients."""
    for p in PARAMETERS:
        total = exact(sympy.Add(*[s.gradients[p].value for s in samples]))
        if not close(float(total), float(batch.gradients[p].value)):
            raise CheckFailure(f"self-check failed: the per-sample gradients of {p} add up to {float(total)!r}, "
                               f"the batch walk gives {float(batch.gradients[p].value)!r}")
