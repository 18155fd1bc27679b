"""linear-model: C = (y' − y)², y = wx + b as a graph of named nodes; one step with lr = 1.0 on all four leaves."""
from __future__ import annotations

import sympy

from ..backward import derive
from ..graph import definition, exact, symbol
from ..notation import Grad
from ..parse import parse_number, parse_program
from ..walkthrough import Claim, Equation, Listing, Section, Table, Text, Walkthrough, gradient_descent, make, point_given
from .common import eq, maths
from .concepts import fan_out_section, one_pass_section, rule_card

PROGRAM = "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"
POINT = {"x": "2", "w": "3", "b": "1", "y_": "5"}
LEARNING_RATE = "1.0"
PARAMETERS = ("w", "b")  # x is an input and y_ a target: data, not parameters
SMALL_LEARNING_RATE = "0.1"


def build() -> Walkthrough:
    graph = parse_program(PROGRAM)
    point = {name: parse_number(v, name) for name, v in POINT.items()}
    derivation = derive(graph, point)
    descent = gradient_descent(derivation, parse_number(LEARNING_RATE, "lr"), 1)  # the page's update, and its prose
    x, w, b, y_ = (symbol(n) for n in ("x", "w", "b", "y_"))
    a, t, y = (symbol(n) for n in ("a", "t", "y"))
    with sympy.evaluate(False):
        inner = a * x + b
    definitions = Listing(sympy.Eq(symbol(node.name), definition(node), evaluate=False)
                          for node in graph.nodes if node.op != "leaf")
    intro = (Section("scenario.linear-model.heading.chain_rule", (
        Text("scenario.linear-model.text.chain_rule", (("outer", sympy.Eq(y, t ** 2, evaluate=False)),
                                                       ("inner", sympy.Eq(t, inner, evaluate=False)))),
        _chain_rule_example(),
    ), scope="own"), Section("scenario.linear-model.heading.graph", (
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
    )), fan_out_section(derivation, "f", "t", (_slip(),)), one_pass_section(derivation),
        _overshoot_section(derivation, descent[0]),
        _parameters_section(derivation, parse_number(LEARNING_RATE, "lr"), parse_number(SMALL_LEARNING_RATE, "lr")),
        rule_card(derivation))
    return make("linear-model", PROGRAM, derivation, descent=descent, intro=intro, extra=extra)


def _slip() -> Text:
    """The notes write ∂f/∂t = ∂f/∂t · ∂f/∂f: true (∂f/∂f = 1) but circular; the chain rule's second factor is the
    local gradient of the node f = t·t."""
    t = symbol("t")
    with sympy.evaluate(False):
        circular = sympy.Mul(Grad("f", "t"), Grad("f", "f"))
        meant = sympy.Mul(Grad("f", "f"), 2 * t)
    return Text("scenario.linear-model.text.slip", (("material", eq(Grad("f", "t"), circular)),
                                                     ("seed", eq(Grad("f", "f"), sympy.Integer(1))),
                                                     ("meant", eq(Grad("f", "t"), meant))))


def predicted_fall(derivation, learning_rate) -> sympy.Expr:
    """What the gradient promises for a step of size η on the wrt leaves: η Σ (∂f/∂v)² (first order)."""
    return exact(learning_rate * sum((derivation.gradients[v].value ** 2 for v in derivation.wrt), sympy.S.Zero))


def _overshoot_section(derivation, update) -> Section:
    """Why the page's update (``update``: one step of plain descent with the material's learning rate) makes the
    cost grow."""
    after, learning_rate = update.derivation, update.learning_rate
    return Section("scenario.linear-model.heading.overshoot", (
        Text("scenario.linear-model.text.overshoot", (
            ("eta", eq(sympy.Symbol("eta"), learning_rate)), ("before", derivation.output_value),
            ("after", after.output_value), ("fall", predicted_fall(derivation, learning_rate)),
            ("y", eq(symbol("y"), after.values["y"])), ("target", eq(symbol("y_"), after.values["y_"])))),
    ), given=point_given(after.point))


def _parameters_section(derivation, learning_rate, small) -> Section:
    only_wb = derive(derivation.graph, derivation.point, PARAMETERS)
    large = gradient_descent(only_wb, learning_rate, 1)[0]
    step = gradient_descent(only_wb, small, 1)[0]
    rows = tuple((maths(symbol(leaf)), old, gradient, new) for leaf, old, gradient, new in step.changes)
    return Section("scenario.linear-model.heading.parameters", (
        Text("scenario.linear-model.text.parameters", (
            ("x", symbol("x")), ("target", symbol("y_")), ("w", symbol("w")), ("b", symbol("b")),
            ("eta", eq(sympy.Symbol("eta"), learning_rate)), ("large", eq(symbol("f"), large.derivation.output_value)),
            ("small", eq(sympy.Symbol("eta"), small)))),
        Table(("table.variable", "table.before", "table.gradient", "table.after"), rows),
        Text("scenario.linear-model.text.landed", (
            ("y", eq(symbol("y"), step.derivation.values["y"])), ("target", eq(symbol("y_"), step.derivation.values["y_"])),
            ("f", eq(symbol("f"), step.derivation.output_value)))),
    ), scope="own")  # three points in one paragraph (before, after η = 1, after η = 0.1): read, not bound


def _chain_rule_example() -> Equation:
    """y = (ax + b)², t = ax + b: ∂y/∂x = ∂y/∂t · ∂t/∂x = (2t)(a) = 2a(ax + b), each member from sympy.diff."""
    a, x, b, t = (symbol(n) for n in ("a", "x", "b", "t"))
    inner = a * x + b
    outer_local, inner_local = sympy.diff(t ** 2, t), sympy.diff(inner, x)
    whole = sympy.diff(inner ** 2, x)  # SymPy's chain rule already returns the product 2a(ax + b)
    with sympy.evaluate(False):
        chain = sympy.Mul(Grad("y", "t"), Grad("t", "x"))
        local_product = sympy.Mul(outer_local, inner_local)
    return Equation(Grad("y", "x"), (chain, local_product, whole))
