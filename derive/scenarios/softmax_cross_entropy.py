"""softmax-cross-entropy: L = −(1/N) Σₙ Σₖ tₙₖ log yₙₖ with yₙ = softmax(zₙ), N = 2 samples, K = 3 classes.

The graph is drawn as the study material draws it: a softmax node per output y_nk, a log node l_nk, a product
m_nk = t_nk·l_nk, a sum over classes s_n, the factor −1 (c_n), a sum over the batch S and the factor 1/N (L).
Names ``z_1_2`` print as z_{12} (sample 1, class 2).
"""
from __future__ import annotations

import sympy
from sympy import Integer, Rational

from ..backward import Derivation, derive
from ..check import close
from ..errors import CheckFailure
from ..graph import Graph, Node, exact, softmax_nodes
from ..notation import Grad, chain_latex, latex
from ..walkthrough import Claim, Equation, Fold, Listing, Part, Section, Table, Text, Walkthrough, make, size_given
from .common import eq as _eq, g as _g, exact_point, maths, program_text, shown_matrix
from .concepts import rule_card

NAME = "softmax-cross-entropy"
CLASSES = (1, 2, 3)
LOGITS = {1: ("1", "2", "0.5"), 2: ("0.5", "-1", "1.5")}
TARGETS = {1: ("0", "1", "0"), 2: ("0.25", "0.25", "0.5")}  # one-hot, then a probability vector: each sums to 1
SAMPLES = tuple(LOGITS)
N = len(SAMPLES)
LEARNING_RATE = "1"
PATH = (2, 3)  # the (sample, class) whose path from L is followed by hand
WORKED = 1  # the sample whose backward steps are shown node by node


def _n(prefix: str, n: int, k: int | None = None) -> str:
    return f"{prefix}_{n}" if k is None else f"{prefix}_{n}_{k}"


def build_graph() -> Graph:
    nodes = [Node(_n("z", n, k), "leaf") for n in SAMPLES for k in CLASSES]
    nodes += [Node(_n("t", n, k), "leaf") for n in SAMPLES for k in CLASSES]
    for n in SAMPLES:
        logits = tuple(_n("z", n, k) for k in CLASSES)
        nodes += softmax_nodes([_n("y", n, k) for k in CLASSES], logits)
        nodes += [Node(_n("l", n, k), "log", (_n("y", n, k),)) for k in CLASSES]
        nodes += [Node(_n("m", n, k), "mul", (_n("t", n, k), _n("l", n, k))) for k in CLASSES]
        nodes += [Node(_n("s", n), "add", tuple(_n("m", n, k) for k in CLASSES)),
                  Node(_n("c", n), "mul", (Integer(-1), _n("s", n)))]
    nodes += [Node("S", "add", tuple(_n("c", n) for n in SAMPLES)), Node("L", "mul", (Rational(1, N), "S"))]
    return Graph(tuple(nodes), "L")


def point() -> dict:
    values = {}
    for n in SAMPLES:
        values.update({_n("z", n, k): LOGITS[n][k - 1] for k in CLASSES})
        values.update({_n("t", n, k): TARGETS[n][k - 1] for k in CLASSES})
    return exact_point(values)


LOGIT_NAMES = tuple(_n("z", n, k) for n in SAMPLES for k in CLASSES)
TARGET_NAMES = tuple(_n("t", n, k) for n in SAMPLES for k in CLASSES)  # data: "we do not differentiate" them


def build() -> Walkthrough:
    graph = build_graph()
    derivation = derive(graph, point(), LOGIT_NAMES, TARGET_NAMES)
    eta = exact_point({"lr": LEARNING_RATE})["lr"]
    intro = (_setting(derivation), _graph_section(), rule_card(derivation), _path_section(derivation))
    extra = (_softmax_section(derivation), _why_section(derivation), _vector_section(derivation, eta))
    others = frozenset(_n(p, n, k) for p in ("y", "l", "m") for n in SAMPLES if n != WORKED for k in CLASSES) | {
        _n(p, n) for p in ("s", "c") for n in SAMPLES if n != WORKED}
    return make(NAME, program_text(graph, others), derivation, learning_rate=eta, steps=1, intro=intro, extra=extra,
                fold=_fold(), given=WALK_GIVEN)


def _fold() -> Fold:
    """Sample WORKED through the softmax node of its class: the path from L down to it is worked in the intro (with
    every ∂L/∂y in its table); the sample's other softmax nodes receive 0 and send 0 back (their terms are in the
    fan-out sums); the other samples are in the softmax and vector sections."""
    n = WORKED
    node = _n("y", n, TARGETS[n].index("1") + 1)
    zeros = [_n("y", n, k) for k in CLASSES if _n("y", n, k) != node]
    return Fold(frozenset([_n("z", n, k) for k in CLASSES] + [node]), Text(_key("text.folded"), (
        ("worked", Integer(n)), ("node", _g(node)), ("zeros", Listing(_g(z) for z in zeros)),
        ("others", Listing(Integer(i) for i in SAMPLES if i != n)))))


# ---------------------------------------------------------------- helpers

def _key(suffix: str) -> str:
    return f"scenario.{NAME}.{suffix}"


SYM_N, K_, NN, KK, J = _g("N"), _g("K"), _g("n"), _g("k"), _g("j")
SUBS_N = ((SYM_N, Integer(N)),)


def _loss_expr() -> sympy.Expr:
    term = sympy.Mul(_g("t_n_k"), sympy.log(_g("y_n_k")), evaluate=False)
    return sympy.Mul(-1 / SYM_N, sympy.Sum(term, (NN, 1, SYM_N), (KK, 1, K_)), evaluate=False)


WALK_GIVEN = (size_given("N", N), size_given("K", len(CLASSES)),
              chain_latex([latex(sympy.Sum(_g("t_n_k"), (KK, 1, K_))), "1"]))
"""The sizes the page's sums and 1/N stand for, and the condition every sample's targets meet (its shortcut needs it;
`_why_section` shows it holds)."""
ONE_SAMPLE_GIVEN = (
    chain_latex([latex(_g("y_k")), latex(sympy.exp(_g("z_k")) / sympy.Sum(sympy.exp(_g("z_j")), (J, 1, K_)))]),
    chain_latex([latex(_g("L")), latex(sympy.Mul(-1 / SYM_N, sympy.Sum(
        sympy.Mul(_g("t_k"), sympy.log(_g("y_k")), evaluate=False), (KK, 1, K_)), evaluate=False))]),
    size_given("N", N), size_given("K", len(CLASSES)))
"""One sample's softmax and its share of the loss, written without the sample index: the generic derivation's own
scope (its t_k are any targets; the condition Σ_k t_k = 1 is stated where it is used)."""


# ---------------------------------------------------------------- intro

def _setting(d: Derivation) -> Section:
    rows = []
    for n in SAMPLES:
        for k in CLASSES:
            rows.append((Integer(n), Integer(k), d.point[_n("z", n, k)], d.point[_n("t", n, k)]))
    softmax_def = _eq(_g("y_n_k"), sympy.exp(_g("z_n_k")) / sympy.Sum(sympy.exp(_g("z_n_j")), (J, 1, K_)))
    return Section(_key("heading.setting"), (
        Text(_key("text.setting"), (("y", softmax_def), ("loss", _eq(_g("L"), _loss_expr())),
                                    ("N", _eq(SYM_N, Integer(N))), ("K", _eq(K_, Integer(len(CLASSES)))),
                                    ("z", _g("z_n_k")), ("t", _g("t_n_k")))),
        Table((_key("table.sample"), _key("table.class"), maths(_g("z_n_k")), maths(_g("t_n_k"))), tuple(rows)),
        Text(_key("text.targets"), (("one", _g("t_1_k")), ("two", _g("t_2_k")),
                                    ("sum", _eq(sympy.Sum(_g("t_n_k"), (KK, 1, K_)), Integer(1))))),
    ))


def _graph_section() -> Section:
    with sympy.evaluate(False):
        m = _eq(_g("m_n_k"), _g("t_n_k") * _g("l_n_k"))
    return Section(_key("heading.graph"), (
        Text(_key("text.graph"), (
            ("y", _g("y_n_k")), ("l", _eq(_g("l_n_k"), sympy.log(_g("y_n_k")))), ("m", m),
            ("s", _eq(_g("s_n"), sympy.Sum(_g("m_n_k"), (KK, 1, K_)))),
            ("c", _eq(_g("c_n"), sympy.Mul(Integer(-1), _g("s_n"), evaluate=False))),
            ("S", _eq(_g("S"), sympy.Sum(_g("c_n"), (NN, 1, SYM_N)))),
            ("L", _eq(_g("L"), sympy.Mul(1 / SYM_N, _g("S"), evaluate=False)))) + CONSTANTS),
    ))


# ---------------------------------------------------------------- the path from L

CONSTANTS = (("minus", Integer(-1)), ("inverse_n", 1 / SYM_N))
"""The graph's two constant factors, −1 and 1/N, for the prose that names them."""


def _path_section(d: Derivation) -> Section:
    n, k = PATH
    names = ["L", "S", _n("c", n), _n("s", n), _n("m", n, k), _n("l", n, k), _n("y", n, k)]
    t, y = _g(_n("t", n, k)), _g(_n("y", n, k))
    formulas = [1 / SYM_N, 1 / SYM_N, -1 / SYM_N, -1 / SYM_N, -t / SYM_N, -t / (SYM_N * y)]
    blocks = [Text(_key("text.path"), (("n", _eq(NN, Integer(n))), ("k", _eq(KK, Integer(k))),
                                        ("N", _eq(SYM_N, Integer(N))), ("start", _eq(Grad("L", "L"), Integer(1)))))]
    for i, (node, formula) in enumerate(zip(names[1:], formulas)):
        above = names[i]
        blocks.append(Text(_key(f"text.path_{i + 1}"), CONSTANTS))
        chain = (formula,) if above == "L" else (
            sympy.Mul(Grad("L", above), Grad(above, node), evaluate=False), formula)
        blocks.append(Claim(Grad("L", node), chain, d.gradients[node].value, subs=SUBS_N))
    blocks.append(Text(_key("text.rule_log_slip"), (
        ("slip", sympy.Ne(sympy.log(_g("y_1")), 1 / _g("y_1"), evaluate=False)),
        ("meant", _eq(sympy.Derivative(sympy.log(_g("y_1")), _g("y_1")), 1 / _g("y_1"))))))
    rows = []
    for sample in SAMPLES:
        for cls in CLASSES:
            rows.append((Integer(sample), Integer(cls), d.point[_n("t", sample, cls)], d.values[_n("y", sample, cls)],
                         d.gradients[_n("y", sample, cls)].value))
    blocks += [
        Text(_key("text.path_all"), (("g", _eq(Grad("L", "y_n_k"), -_g("t_n_k") / (SYM_N * _g("y_n_k")))),)),
        Table((_key("table.sample"), _key("table.class"), maths(_g("t_n_k")), maths(_g("y_n_k")),
               maths(Grad("L", "y_n_k"))), tuple(rows)),
        Text(_key("text.path_zero")),
    ]
    return Section(_key("heading.path"), tuple(blocks))


# ---------------------------------------------------------------- through the softmax node

def _softmax_section(d: Derivation) -> Section:
    y_k, y_j, t_k, t_j = _g("y_k"), _g("y_j"), _g("t_k"), _g("t_j")
    delta = sympy.KroneckerDelta(KK, J)
    local = sympy.Mul(y_k, sympy.Add(delta, -y_j, evaluate=False), evaluate=False)
    general = Equation(Grad("L", "z_j"), (
        sympy.Sum(sympy.Mul(Grad("L", "y_k"), Grad("y_k", "z_j"), evaluate=False), (KK, 1, K_)),
        sympy.Sum(sympy.Mul(-t_k / (SYM_N * y_k), local, evaluate=False), (KK, 1, K_)),
        sympy.Mul(-1 / SYM_N, sympy.Sum(sympy.Mul(t_k, sympy.Add(delta, -y_j, evaluate=False), evaluate=False),
                                        (KK, 1, K_)), evaluate=False),
        sympy.Mul(1 / SYM_N, sympy.Add(y_j * sympy.Sum(t_k, (KK, 1, K_)), -t_j, evaluate=False), evaluate=False),
    ))
    claims = []
    for n in SAMPLES:
        for j in CLASSES:
            z = _n("z", n, j)
            shortcut = (_g(_n("y", n, j)) - _g(_n("t", n, j))) / SYM_N
            claims.append(Claim(Grad("L", z), (shortcut,), d.gradients[z].value, subs=SUBS_N))
    return Section(_key("heading.softmax"), (
        Text(_key("text.softmax_local"), (("local", _eq(Grad("y_k", "z_j"), local)), ("delta", delta))),
        Text(_key("text.softmax_combine"), (("z", _g("z_j")),)),
        general,
        Text(_key("text.softmax_sum"), (("sum", _eq(sympy.Sum(t_k, (KK, 1, K_)), Integer(1))),
                                        ("result", _eq(Grad("L", "z_j"), (y_j - t_j) / SYM_N)))),
        Part(from_walk=True),  # the generic derivation, then the walk's numbers
        Text(_key("text.softmax_numbers")),
        *claims,
    ), scope="own", given=ONE_SAMPLE_GIVEN)


def _why_section(d: Derivation) -> Section:
    sums = tuple(Claim(sympy.Sum(_g(_n("t", n, "k")), (KK, 1, K_)),
                       (sympy.Add(*[_g(_n("t", n, k)) for k in CLASSES], evaluate=False),), Integer(1))
                 for n in SAMPLES)
    y_j, t_j = _g("y_j"), _g("t_j")
    general = sympy.Mul(1 / SYM_N, sympy.Add(y_j * sympy.Sum(_g("t_k"), (KK, 1, K_)), -t_j, evaluate=False),
                        evaluate=False)
    return Section(_key("heading.why"), (
        Text(_key("text.why"), (("general", _eq(Grad("L", "z_j"), general)),)),
        Part(from_walk=True),
        *sums,
        Part(ONE_SAMPLE_GIVEN),
        Text(_key("text.why_else"), (("T", _eq(_g("T"), sympy.Sum(_g("t_k"), (KK, 1, K_)))),
                                     ("wrong", (y_j - t_j) / SYM_N),
                                     ("right", (y_j * _g("T") - t_j) / SYM_N))),
    ), scope="own", given=ONE_SAMPLE_GIVEN)


# ---------------------------------------------------------------- the vector form

def _vector_section(d: Derivation, eta) -> Section:
    blocks: list = [Text(_key("text.vector"), (
        ("form", _eq(Grad("L", "z_n_k"), (_g("y_n_k") - _g("t_n_k")) / SYM_N)),
        ("vector", (_g("y_n") - _g("t_n")) / SYM_N), ("y", _g("y_n")), ("t", _g("t_n"))))]
    lhs = sympy.ImmutableMatrix([[Grad("L", _n("z", n, k)) for k in CLASSES] for n in SAMPLES])
    formula = sympy.MatMul(1 / SYM_N, sympy.ImmutableMatrix(
        [[_g(_n("y", n, k)) - _g(_n("t", n, k)) for k in CLASSES] for n in SAMPLES]), evaluate=False)
    numbers = shown_matrix([[d.gradients[_n("z", n, k)].value for k in CLASSES] for n in SAMPLES])
    for n in SAMPLES:
        _check_vector(d, n)
    blocks.append(Equation(lhs, (formula, numbers)))  # one row per sample: the batch at once
    moved = {name: exact(d.point[name] - eta * d.gradients[name].value) for name in LOGIT_NAMES}
    after = derive(d.graph, {**d.point, **moved}, LOGIT_NAMES, TARGET_NAMES).output_value
    blocks.append(Text(_key("text.vector_meaning")))
    blocks.append(Text(_key("text.update"), (("eta", _eq(_g("eta"), eta)), ("before", d.output_value),
                                             ("after", after))))
    return Section(_key("heading.vector"), tuple(blocks))


def _check_vector(d: Derivation, n: int) -> None:
    """The vector printed above must be the walk's gradient, entry by entry (it is built from it; this guards
    against a mix-up of indices)."""
    for k in CLASSES:
        expected = (d.values[_n("y", n, k)] - d.values[_n("t", n, k)]) / N
        if not close(float(d.gradients[_n("z", n, k)].value), float(expected)):
            raise CheckFailure(f"self-check failed: the vector form of sample {n} disagrees with the walk")
