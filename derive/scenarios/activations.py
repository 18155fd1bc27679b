"""activations: sigmoid, tanh, ReLU, Leaky ReLU, identity and softmax side by side on one neuron; then the losses
MSE, ½-SSE, binary cross-entropy and softmax cross-entropy on the same output.

The main walk is the neuron itself: u = w·x, z = u + b, a = σ(z), C = ½(a − t)² (the ``sse`` op). Every other
number comes from a small graph of its own, derived and checked like the main walk (local gradients against
`sympy.diff`, accumulated gradients against an oracle), and is stated as a `Claim` whose textbook formula is
evaluated again when the walk-through is made:

* each activation: ``a = f(z)``, ``C = g·a`` with a given upstream gradient g = ∂C/∂a, at z = 0.5 (the neuron's z),
  at z = −2 (the neuron at a second input) and, for ReLU and Leaky ReLU, at the kink z = 0;
* softmax: three logits (z_1 = 0.5, z_2 = −2, z_3 = 1) and an upstream vector g;
* each loss: ``a = σ(z)``, ``C = loss(a, t)`` at z = 0.5, t = 1; softmax cross-entropy as one fused op and as the
  composite graph softmax → log → ×t → + → −.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import sympy
from sympy import Expr, Integer

from ..backward import Derivation, Term, derive
from ..check import CheckReport, check, close
from ..errors import CheckFailure
from ..graph import Graph, Node, exact, softmax_nodes, symbol
from ..notation import Grad, ReLU, chain_latex, formula_latex, latex, name_latex, number_latex, sigma
from ..rules import DEFAULT_LEAKY_SLOPE, LeakyReLU
from ..walkthrough import (Claim, Equation, Part, Section, Table, Text, Walkthrough, derivation_given, make,
                           point_given)
from .common import exact_point, maths, program_text

NAME = "activations"
NEURON = {"x": "2", "w": "0.5", "b": "-0.5", "t": "1"}  # z = w·x + b = 0.5
SECOND_INPUT = "-3"  # the same neuron at x = −3: z = −2
UPSTREAM = "0.5"  # the given gradient ∂C/∂a arriving from above
ALPHA = "0.1"  # Leaky ReLU's slope (PyTorch's default is 0.01; 0.1 makes it visible)
LOGITS = ("0.5", "-2", "1")  # softmax: z_1 is the neuron's z, z_2 the second z, z_3 a third unit
UPSTREAM_VECTOR = ("0.5", "-0.25", "0.25")
ONE_HOT = ("1", "0", "0")  # softmax cross-entropy target: class 1

Z, A, C, T = (symbol(n) for n in ("z", "a", "C", "t"))


def _key(suffix: str) -> str:
    return f"scenario.{NAME}.{suffix}"


def _eq(lhs, rhs) -> sympy.Eq:
    return sympy.Eq(lhs, rhs, evaluate=False)


def _number(text: str) -> sympy.Rational:
    return exact_point({"v": text})["v"]


class Applied(sympy.Function):
    """``f(z)`` or ``f'(z)`` for display: args (name, z, primes) with ``name`` a symbol holding the LaTeX name."""


def _applied(tex: str, z: Expr, primes: int = 0) -> Applied:
    return Applied(sympy.Symbol(tex), z, Integer(primes))


def _times(*factors: Expr) -> Expr:
    return sympy.Mul(*factors, evaluate=False)


# ---------------------------------------------------------------- the activations


@dataclass(frozen=True)
class Activation:
    key: str  # catalog suffix, and the op of the rule table
    tex: str  # the function's name in LaTeX, for f'(z)
    shown: Callable[[Expr], Expr]  # f(z) as written
    closed: Callable[[Expr], Expr]  # its closed form in z (evaluated at the point by the claim check)
    params: tuple = ()


def activations() -> tuple[Activation, ...]:
    alpha = _number(ALPHA)
    return (
        Activation("sigmoid", r"\sigma", sigma, lambda z: 1 / (1 + sympy.exp(-z))),
        Activation("tanh", r"\tanh", sympy.tanh,
                   lambda z: (sympy.exp(z) - sympy.exp(-z)) / (sympy.exp(z) + sympy.exp(-z))),
        Activation("relu", r"\operatorname{ReLU}", ReLU, lambda z: sympy.Max(0, z)),
        Activation("leaky_relu", r"\operatorname{LeakyReLU}_{" + number_latex(alpha) + "}",
                   lambda z: LeakyReLU(z, alpha), lambda z: sympy.Max(z, _times(sympy.Float(ALPHA, 30), z)), (alpha,)),
        Activation("identity", r"\operatorname{id}", lambda z: _applied(r"\operatorname{id}", z), lambda z: z),
    )


def activation_graph(op: str, params: tuple = (), upstream: Expr | None = None) -> Graph:
    """z → a = f(z) → C = g·a: the activation with the given upstream gradient g = ∂C/∂a."""
    g = _number(UPSTREAM) if upstream is None else upstream
    return Graph((Node("z", "leaf"), Node("a", op, ("z",), params), Node("C", "mul", (g, "a"))), "C")


def walked(graph: Graph, point: Mapping[str, Expr]) -> tuple[Derivation, CheckReport]:
    """A small walk, derived and checked like the main one (a failed check raises: exit 3)."""
    d = derive(graph, dict(point))
    return d, check(d)


def local(d: Derivation, node: str, input_: str) -> Term:
    for step in d.steps:
        if step.node == node:
            for term in step.terms:
                if term.input == input_:
                    return term
    raise KeyError((node, input_))


def neuron_graph() -> Graph:
    return Graph((Node("x", "leaf"), Node("w", "leaf"), Node("b", "leaf"), Node("t", "leaf"),
                  Node("u", "mul", ("w", "x")), Node("z", "add", ("u", "b")), Node("a", "sigmoid", ("z",)),
                  Node("C", "sse", ("a", "t"))), "C")


def second_walk(main: Derivation) -> Derivation:
    """The same neuron (same weights) fed the second input."""
    return derive(main.graph, {**main.point, "x": _number(SECOND_INPUT)}, main.wrt)


def z_values(main: Derivation) -> tuple[Expr, Expr]:
    """The neuron's z at its input, and at the second input (computed from the same weights, never typed)."""
    return main.values["z"], second_walk(main).values["z"]


def build() -> Walkthrough:
    graph = neuron_graph()
    main = derive(graph, exact_point(NEURON), ("w", "b"))
    z1, z2 = z_values(main)
    acts = activations()
    at = {z: {act.key: walked(activation_graph(act.key, act.params), {"z": z}) for act in acts} for z in (z1, z2)}
    intro = (_setting(main, second_walk(main)),)
    extra = tuple(_activation_section(act, at, (z1, z2)) for act in acts)
    losses_at = loss_walks(main)
    ce = softmax_ce_walks()
    extra += (_kink_section(), _softmax_section(), _side_by_side(acts, at, (z1, z2)), _loss_section(main, losses_at),
              _softmax_loss_section(ce), _loss_table(losses_at, ce[0]))
    return make(NAME, program_text(graph), main, intro=intro, extra=extra)


# ---------------------------------------------------------------- intro


def _setting(main: Derivation, second: Derivation) -> Section:
    """The setting: each paragraph a part of its own for `derive verify` (the generic neuron, the walk's point,
    the second point, the given upstream gradient, the walk again)."""
    x, w, b = (symbol(n) for n in ("x", "w", "b"))
    point = main.point
    with sympy.evaluate(False):
        z_def = _eq(Z, w * x + b)
    return Section(_key("heading.setting"), (
        Part(),
        Text(_key("text.setting"), (("z", z_def), ("a", _eq(A, _applied("f", Z))))),
        Part(from_walk=True),
        Text(_key("text.numbers"), (("x", _eq(x, point["x"])), ("w", _eq(w, point["w"])), ("b", _eq(b, point["b"])),
                                     ("z", _eq(Z, main.values["z"])))),
        Part(derivation_given(second)),
        Text(_key("text.second"), (("x2", _eq(x, second.point["x"])), ("z2", _eq(Z, second.values["z"])))),
        Part(upstream_given()),
        Text(_key("text.upstream"), (("g", _eq(Grad("C", "a"), _number(UPSTREAM))),
                                     ("chain", _eq(Grad("C", "z"), _times(Grad("C", "a"), Grad("a", "z")))))),
        Part(from_walk=True),
        Text(_key("text.main"), (("t", _eq(T, point["t"])),
                                 ("C", _eq(C, _times(sympy.Rational(1, 2), (A - T) ** 2))),
                                 ("upstream", _eq(Grad("C", "a"), A - T)), ("value", _upstream(main)),
                                 ("g", _number(UPSTREAM)))),
    ))


def upstream_given(z: Expr | None = None) -> tuple[str, ...]:
    """The bindings of a part about any activation f receiving the given upstream gradient: a = f(z), C = g·a (the
    graph of `activation_graph`), at ``z`` when one is given."""
    point = point_given({"z": z}) if z is not None else ()
    return (chain_latex([name_latex("a"), latex(_applied("f", Z))]),
            chain_latex([name_latex("C"), formula_latex(_times(_number(UPSTREAM), A))])) + point


# ---------------------------------------------------------------- one section per activation


def _prose_numbers(key: str) -> tuple[tuple[str, object], ...]:
    """The numbers an activation's paragraph states, from the code rather than typed into the catalog."""
    if key == "leaky_relu":
        return (("alpha", _eq(symbol("alpha"), _number(ALPHA))), ("default", _number(DEFAULT_LEAKY_SLOPE)))
    return ()


def _activation_section(act: Activation, at, zs: tuple[Expr, Expr]) -> Section:
    walks = [at[z][act.key][0] for z in zs]
    term = local(walks[0], "a", "z")
    textbook = term.local  # the rule table's derivative, in z and the output a
    blocks: list = [Text(_key(f"text.{act.key}"), _prose_numbers(act.key)),
                    Equation(A, (act.shown(Z), act.closed(Z))),
                    Equation(_applied(act.tex, Z, 1), (textbook,))]
    for z, d in zip(zs, walks):
        blocks += [Part(derivation_given(d)), *_claims_at(act, z, d)]
    return Section(_key(f"heading.{act.key}"), tuple(blocks), scope="own")  # each activation its own a = f(z)


def _upstream(d: Derivation) -> sympy.Eq:
    """∂C/∂a = its value in this walk: the gradient the activation receives, named wherever ∂C/∂z is shown."""
    return _eq(Grad("C", "a"), local(d, "C", "a").local_value)


def _claims_at(act: Activation, z: Expr, d: Derivation) -> list:
    term = local(d, "a", "z")
    subs = ((Z, z), (A, d.values["a"]))
    with_g = subs + ((Grad("C", "a"), local(d, "C", "a").local_value),)
    return [
        Text(_key("text.at"), (("z", _eq(Z, z)), ("g", _upstream(d)))),
        Claim(act.shown(Z), (act.closed(Z),), d.values["a"], subs=subs),
        Claim(_applied(act.tex, Z, 1), (term.local,), term.local_value, subs=subs),
        Claim(Grad("C", "z"), (_times(Grad("C", "a"), term.local),), d.gradients["z"].value, subs=with_g),
    ]


# ---------------------------------------------------------------- the kink at 0


def _kink_section() -> Section:
    alpha = _number(ALPHA)
    relu, _ = walked(activation_graph("relu"), {"z": Integer(0)})
    leaky, report = walked(activation_graph("leaky_relu", (alpha,)), {"z": Integer(0)})
    blocks: list = [Text(_key("text.kink"), (("z", _eq(Z, Integer(0))),))]
    for d, tex in ((relu, r"\operatorname{ReLU}"), (leaky, r"\operatorname{LeakyReLU}_{" + number_latex(alpha) + "}")):
        term = local(d, "a", "z")
        blocks.append(Claim(_applied(tex, Z, 1), (term.local,), term.local_value, subs=((Z, Integer(0)),)))
    if not report.notes:
        raise CheckFailure("self-check failed: the walk at z = 0 did not notice Leaky ReLU's kink")
    blocks.append(Text(_key("text.kink_check")))
    return Section(_key("heading.kink"), tuple(blocks), scope="own", given=point_given({"z": Integer(0)}))


# ---------------------------------------------------------------- softmax, a vector activation


def softmax_graph(size: int) -> Graph:
    """z_1, z_2, z_3 → y_k = softmax_k(z) → C = Σ g_k y_k, the upstream vector g given as the leaves g_k."""
    k_range = range(1, size + 1)
    nodes = [Node(f"z_{k}", "leaf") for k in k_range] + [Node(f"g_{k}", "leaf") for k in k_range]
    logits = tuple(f"z_{k}" for k in k_range)
    nodes += softmax_nodes([f"y_{k}" for k in k_range], logits)
    nodes += [Node(f"p_{k}", "mul", (f"g_{k}", f"y_{k}")) for k in k_range]
    nodes.append(Node("C", "add", tuple(f"p_{k}" for k in k_range)))
    return Graph(tuple(nodes), "C")


def softmax_given(d: Derivation) -> tuple[str, ...]:
    """A softmax walk's bindings with each y_k written out, e^{z_k} / Σ_j e^{z_j} (as the page prints it), and K."""
    outputs = [n for n in d.graph.nodes if n.op == "softmax"]
    logits = [symbol(a) for a in outputs[0].args]
    exp_sum = sympy.Add(*[sympy.exp(z) for z in logits])
    written = tuple(chain_latex([name_latex(n.name), latex(sympy.exp(logits[n.params[0]]) / exp_sum)])
                    for n in outputs)
    rest = tuple(chain_latex([name_latex(n.name), formula_latex(d.definitions[n.name])]) for n in d.graph.nodes
                 if n.op not in ("leaf", "softmax"))
    leaves = point_given({n.name: d.values[n.name] for n in d.graph.nodes if n.op == "leaf"})
    return written + rest + leaves + point_given({"K": Integer(len(outputs))})


def _softmax_section() -> Section:
    g = tuple(_number(v) for v in UPSTREAM_VECTOR)
    logits = {f"z_{k}": _number(v) for k, v in enumerate(LOGITS, start=1)}
    d, _ = walked(softmax_graph(len(g)), {**logits, **{f"g_{k}": v for k, v in enumerate(g, start=1)}})
    K = range(1, len(LOGITS) + 1)
    k_, j_, n_ = symbol("k"), symbol("j"), symbol("K")
    y = {k: symbol(f"y_{k}") for k in K}
    z = {k: symbol(f"z_{k}") for k in K}
    subs = tuple((z[k], logits[f"z_{k}"]) for k in K) + tuple((y[k], d.values[f"y_{k}"]) for k in K)
    subs += tuple((symbol(f"g_{k}"), g[k - 1]) for k in K)
    exp_sum = sympy.Add(*[sympy.exp(z[k]) for k in K])
    blocks: list = [
        Text(_key("text.softmax"), (("y", _eq(symbol("y_k"), sympy.exp(symbol("z_k")) / sympy.Sum(
            sympy.exp(symbol("z_j")), (j_, 1, n_)))), ("K", _eq(n_, Integer(len(K)))))),
        Text(_key("text.softmax_numbers"), tuple((f"z{k}", _eq(z[k], logits[f"z_{k}"])) for k in K)
             + tuple((f"g{k}", _eq(symbol(f"g_{k}"), g[k - 1])) for k in K)),
    ]
    blocks += [Claim(y[k], (sympy.exp(z[k]) / exp_sum,), d.values[f"y_{k}"], subs=subs) for k in K]
    delta = sympy.KroneckerDelta(k_, j_)
    blocks += [Text(_key("text.softmax_jacobian"), (("J", _eq(Grad("y_k", "z_j"), _times(
        symbol("y_k"), delta - symbol("y_j")))), ("delta", delta))),
               Claim(Grad("y_1", "z_1"), (_times(y[1], 1 - y[1]),), local(d, "y_1", "z_1").local_value, subs=subs),
               Claim(Grad("y_1", "z_2"), (_times(-y[1], y[2]),), local(d, "y_1", "z_2").local_value, subs=subs)]
    flow = sympy.Sum(_times(symbol("g_k"), symbol("y_k")), (k_, 1, n_))
    blocks.append(Text(_key("text.softmax_flow"), (("flow", _eq(Grad("C", "z_j"), _times(
        symbol("y_j"), symbol("g_j") - flow))),)))
    weighted = sympy.Add(*[_times(symbol(f"g_{k}"), y[k]) for k in K], evaluate=False)
    for j in K:
        formula = _times(y[j], sympy.Add(symbol(f"g_{j}"), -weighted, evaluate=False))
        blocks.append(Claim(Grad("C", f"z_{j}"), (formula,), d.gradients[f"z_{j}"].value, subs=subs))
    gradients = sympy.Add(*[Grad("C", f"z_{j}") for j in K], evaluate=False)
    blocks += [Text(_key("text.softmax_sum")),
               Claim(sympy.Sum(Grad("C", "z_j"), (j_, 1, n_)), (gradients,), Integer(0),
                     subs=tuple((Grad("C", f"z_{j}"), d.gradients[f"z_{j}"].value) for j in K))]
    return Section(_key("heading.softmax"), tuple(blocks), scope="own", given=softmax_given(d))


# ---------------------------------------------------------------- side by side


def _side_by_side(acts, at, zs: tuple[Expr, Expr]) -> Section:
    blocks: list = [Text(_key("text.side_by_side"))]
    header = (_key("table.activation"), maths(_applied("f", Z)), maths(_applied("f", Z, 1)), maths(Grad("C", "z")))
    for z in zs:
        rows = []
        for act in acts:
            d = at[z][act.key][0]
            rows.append(("$" + act.tex + "$", d.values["a"], local(d, "a", "z").local_value,
                         d.gradients["z"].value))
        upstream = {_upstream(at[z][act.key][0]) for act in acts}
        if len(upstream) != 1:
            raise CheckFailure("self-check failed: the activations do not all receive the same upstream gradient")
        blocks += [Part(upstream_given(z)), Text(_key("text.table_at"), (("z", _eq(Z, z)), ("g", upstream.pop()))),
                   Table(header, tuple(rows))]
    _check_reading(at, zs)
    blocks.append(Text(_key("text.side_by_side_reading"), (("alpha", _eq(symbol("alpha"), _number(ALPHA))),)))
    return Section(_key("heading.side_by_side"), tuple(blocks), scope="own")


def _check_reading(at, zs: tuple[Expr, Expr]) -> None:
    """What the reading of the tables says, checked on the tables' numbers (a wrong sentence is a bug)."""
    g, alpha = _number(UPSTREAM), _number(ALPHA)
    positive, negative = ({key: walk[0].gradients["z"].value for key, walk in at[z].items()} for z in zs)
    says = {
        "ReLU, Leaky ReLU and the identity pass the gradient unchanged for z > 0":
            all(positive[k] == g for k in ("relu", "leaky_relu", "identity")),
        "the sigmoid and tanh shrink it": all(0 < positive[k] < g for k in ("sigmoid", "tanh")),
        "for z < 0 ReLU passes nothing and Leaky ReLU the fraction alpha":
            negative["relu"] == 0 and negative["leaky_relu"] == alpha * g,
        "for z < 0 the sigmoid and tanh pass a small part": all(0 < negative[k] < g / 4 for k in ("sigmoid", "tanh")),
    }
    for sentence, holds in says.items():
        if not holds:
            raise CheckFailure(f"self-check failed: the side-by-side reading says {sentence!r}, the walks disagree")


# ---------------------------------------------------------------- losses on the sigmoid output


@dataclass(frozen=True)
class Loss:
    key: str  # catalog suffix and op
    tex: str  # the loss's short name in LaTeX (table)
    value: Expr  # C in a and t, as textbooks write it
    by_a: Expr  # ∂C/∂a, as textbooks write it
    by_z: Expr  # ∂C/∂z after the sigmoid, simplified as textbooks write it


def losses() -> tuple[Loss, ...]:
    s = _times(A, 1 - A)  # σ'(z) = a(1 − a)
    bce_by_a = _times(A - T, sympy.Pow(s, -1, evaluate=False))
    return (
        Loss("mse", r"\mathrm{MSE}", (A - T) ** 2, _times(2, A - T), _times(2, A - T, A, 1 - A)),
        Loss("sse", r"\tfrac{1}{2}\mathrm{SSE}", _times(sympy.Rational(1, 2), (A - T) ** 2), A - T,
             _times(A - T, A, 1 - A)),
        Loss("binary_cross_entropy", r"\mathrm{BCE}",
             -sympy.Add(_times(T, sympy.log(A)), _times(1 - T, sympy.log(1 - A)), evaluate=False), bce_by_a, A - T),
    )


def loss_graph(op: str) -> Graph:
    return Graph((Node("z", "leaf"), Node("t", "leaf"), Node("a", "sigmoid", ("z",)), Node("C", op, ("a", "t"))),
                 "C")


def loss_walks(main: Derivation) -> dict[str, Derivation]:
    return {loss.key: walked(loss_graph(loss.key), {"z": main.values["z"], "t": main.point["t"]})[0]
            for loss in losses()}


def _loss_section(main: Derivation, walks: Mapping[str, Derivation]) -> Section:
    blocks: list = [Text(_key("text.losses"), (("z", _eq(Z, main.values["z"])), ("t", _eq(T, main.point["t"])),
                                               ("a", _eq(A, sigma(Z)))))]
    for loss in losses():
        d = walks[loss.key]
        subs = ((A, d.values["a"]), (T, main.point["t"]))
        through = _times(Grad("C", "a"), Grad("a", "z"))
        by_z_subs = subs + ((Grad("C", "a"), local(d, "C", "a").local_value),
                            (Grad("a", "z"), local(d, "a", "z").local_value))
        blocks += [
            Part(derivation_given(d)),
            Text(_key(f"text.loss_{loss.key}"), _loss_maths()),
            Claim(C, (loss.value,), d.values["C"], subs=subs),
            Claim(Grad("C", "a"), (loss.by_a,), local(d, "C", "a").local_value, subs=subs),
            Claim(Grad("C", "z"), (through, loss.by_z), d.gradients["z"].value, subs=by_z_subs),
        ]
    blocks.append(Text(_key("text.losses_reading"), _loss_maths()))
    if not abs(walks["binary_cross_entropy"].gradients["z"].value) > abs(walks["mse"].gradients["z"].value):
        raise CheckFailure("self-check failed: the text says cross-entropy pushes harder than MSE here")
    return Section(_key("heading.losses"), tuple(blocks), scope="own")


def _loss_maths() -> tuple:
    """The sigmoid's derivative a(1 − a) and the error a − t, for the prose about the losses."""
    return (("sp", sympy.Mul(A, 1 - A, evaluate=False)), ("err", A - T), ("a_", A), ("t_", T))


def softmax_ce_graphs(target: tuple[Expr, ...]) -> tuple[Graph, Graph]:
    """Softmax cross-entropy as one fused node, and as the composite graph the study material draws (its targets
    the leaves t_k)."""
    K = range(1, len(target) + 1)
    leaves = tuple(Node(f"z_{k}", "leaf") for k in K)
    logits = tuple(f"z_{k}" for k in K)
    fused = Graph(leaves + (Node("C", "softmax_cross_entropy", logits + tuple(target)),), "C")
    nodes = list(leaves) + [Node(f"t_{k}", "leaf") for k in K]
    nodes += softmax_nodes([f"y_{k}" for k in K], logits)
    nodes += [Node(f"l_{k}", "log", (f"y_{k}",)) for k in K]
    nodes += [Node(f"m_{k}", "mul", (f"t_{k}", f"l_{k}")) for k in K]
    nodes += [Node("s", "add", tuple(f"m_{k}" for k in K)), Node("C", "neg", ("s",))]
    return fused, Graph(tuple(nodes), "C")


def softmax_ce_walks() -> tuple[Derivation, Derivation]:
    target = tuple(_number(v) for v in ONE_HOT)
    logits = {f"z_{k}": _number(v) for k, v in enumerate(LOGITS, start=1)}
    fused, composite = softmax_ce_graphs(target)
    targets = {f"t_{k}": v for k, v in enumerate(target, start=1)}
    return walked(fused, logits)[0], walked(composite, {**logits, **targets})[0]


def _softmax_loss_section(walks: tuple[Derivation, Derivation]) -> Section:
    fused, composite = walks
    K = range(1, len(LOGITS) + 1)
    k_, n_ = symbol("k"), symbol("K")
    t = {k: symbol(f"t_{k}") for k in K}
    y = {k: symbol(f"y_{k}") for k in K}
    subs = tuple((t[k], _number(ONE_HOT[k - 1])) for k in K) + tuple((y[k], composite.values[f"y_{k}"]) for k in K)
    loss = -sympy.Sum(_times(symbol("t_k"), sympy.log(symbol("y_k"))), (k_, 1, n_))
    explicit = -sympy.Add(*[_times(t[k], sympy.log(y[k])) for k in K], evaluate=False)
    blocks: list = [
        Text(_key("text.softmax_ce"), (("C", _eq(C, loss)), ("sum", _eq(sympy.Sum(symbol("t_k"), (k_, 1, n_)), 1)))
             + tuple((f"t{k}", _eq(t[k], _number(ONE_HOT[k - 1]))) for k in K)
             + tuple((f"z{k}", _eq(symbol(f"z_{k}"), _number(LOGITS[k - 1]))) for k in K)),
        Claim(C, (explicit,), fused.values["C"], subs=subs),
        Text(_key("text.softmax_ce_gradient"), (
            ("rule", _eq(Grad("C", "z_j"), symbol("y_j") - symbol("t_j"))),
            ("general", _eq(Grad("C", "z_j"), _times(symbol("y_j"), sympy.Sum(symbol("t_k"), (k_, 1, n_)))
                            - symbol("t_j"))))),
    ]
    for j in K:
        blocks.append(Claim(Grad("C", f"z_{j}"), (y[j] - t[j],), fused.gradients[f"z_{j}"].value, subs=subs))
    for j in K:
        if not close(float(composite.gradients[f"z_{j}"].value), float(fused.gradients[f"z_{j}"].value)):
            raise CheckFailure(f"self-check failed: the composite graph gives dC/dz_{j} = "
                               f"{composite.gradients[f'z_{j}'].value}, the fused op "
                               f"{fused.gradients[f'z_{j}'].value}")
    blocks.append(Text(_key("text.softmax_ce_composite"), (("nodes", len(composite.graph.nodes)),)))
    return Section(_key("heading.softmax_ce"), tuple(blocks), scope="own", given=softmax_given(composite))


def _loss_table(walks: Mapping[str, Derivation], fused: Derivation) -> Section:
    rows = [("$" + loss.tex + "$", walks[loss.key].values["C"],
             local(walks[loss.key], "C", "a").local_value, walks[loss.key].gradients["z"].value) for loss in losses()]
    rows.append((r"$\mathrm{CE}$", fused.values["C"], "—", fused.gradients["z_1"].value))
    header = (_key("table.loss"), maths(C), maths(Grad("C", "a")), maths(Grad("C", "z")))
    return Section(_key("heading.loss_table"), (
        Text(_key("text.loss_table"), (("z", symbol("z_1")),)),
        Table(header, tuple(rows)),
    ))
