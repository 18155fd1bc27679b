"""linear-model: C = (y' − y)², y = wx + b as a graph of named nodes; one step with lr = 1.0 on all four leaves."""
from __future__ import annotations

import sympy

from ..backward import derive
from ..graph import definition, symbol
from ..notation import Grad
from ..parse import parse_number, parse_program
from ..walkthrough import Claim, Equation, Listing, Section, Text, Walkthrough, make

PROGRAM = "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"
POINT = {"x": "2", "w": "3", "b": "1", "y_": "5"}
LEARNING_RATE = "1.0"


def build() -> Walkthrough:
    graph = parse_program(PROGRAM)
    point = {name: parse_number(v, name) for name, v in POINT.items()}
    derivation = derive(graph, point)
    x, w, b, y_ = (symbol(n) for n in ("x", "w", "b", "y_"))
    a, t, y = (symbol(n) for n in ("a", "t", "y"))
    with sympy.evaluate(False):
        inner = a * x + b
    definitions = Listing(sympy.Eq(symbol(node.name), definition(node), evaluate=False)
                          for node in graph.nodes if node.op != "leaf")
    intro = (Section("scenario.linear-model.heading.chain_rule", (
        Text("scenario.linear-model.text.chain_rule", (("outer", sympy.Eq(y, inner ** 2, evaluate=False)),
                                                       ("inner", sympy.Eq(t, inner, evaluate=False)))),
        _chain_rule_example(),
    )), Section("scenario.linear-model.heading.graph", (
        Text("scenario.linear-model.text.graph", (
            ("cost", (y_ - y) ** 2), ("model", sympy.Eq(y, sympy.Add(w * x, b, evaluate=False), evaluate=False)),
            ("steps", definitions), ("target", y_))),
    )))
    residual = sympy.Add(y_, -w * x, -b, evaluate=False)
    with sympy.evaluate(False):
        closed_w = -2 * residual * x
        closed_b = -2 * residual
    extra = (Section("scenario.linear-model.heading.closed_form", (
        Text("scenario.linear-model.text.closed_form", (("cost", sympy.Eq(symbol("f"), residual ** 2, evaluate=False)),)),
        Claim(Grad("f", "w"), (closed_w,), derivation.gradients["w"].value,
              subs=tuple((symbol(n), v) for n, v in point.items())),
        Claim(Grad("f", "b"), (closed_b,), derivation.gradients["b"].value,
              subs=tuple((symbol(n), v) for n, v in point.items())),
        Text("scenario.linear-model.text.closed_form_agrees"),
    )), Section("scenario.linear-model.heading.warning", (
        Text("scenario.linear-model.text.warning"),
    )))
    return make("linear-model", PROGRAM, derivation, learning_rate=parse_number(LEARNING_RATE, "lr"), steps=1,
                intro=intro, extra=extra)


def _chain_rule_example() -> Equation:
    """y = (ax + b)², t = ax + b: ∂y/∂x = ∂y/∂t · ∂t/∂x = (2t)(a) = 2a(ax + b), each member from sympy.diff."""
    a, x, b, t = (symbol(n) for n in ("a", "x", "b", "t"))
    inner = a * x + b
    outer_local, inner_local = sympy.diff(t ** 2, t), sympy.diff(inner, x)
    whole = sympy.factor(sympy.diff(inner ** 2, x))
    with sympy.evaluate(False):
        chain = sympy.Mul(Grad("y", "t"), Grad("t", "x"))
        local_product = sympy.Mul(outer_local, inner_local)
    return Equation(Grad("y", "x"), (chain, local_product, whole))
