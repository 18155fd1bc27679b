"""toast: the toast-baking robot, gradient descent on one weight (y = w x, E = ½(y − t)², η = 0.1)."""
from __future__ import annotations

import sympy

from ..backward import derive
from ..graph import symbol, unrolled
from ..notation import Grad
from ..parse import parse_number, parse_program
from ..walkthrough import Claim, Section, Text, Walkthrough, make
from .concepts import nudge_section, rule_card, seed_section

PROGRAM = "y = w*x; r = y - t; q = r**2; E = 1/2*q"
POINT = {"x": "2", "t": "4", "w": "1"}
LEARNING_RATE = "0.1"
NUDGE = "0.01"  # the small step h of the finite-difference check a student can redo


def graph_definition(derivation) -> sympy.Expr:
    """E written in y and t: the graph's own definitions substituted up to y (never typed by hand)."""
    return unrolled(derivation.graph, frozenset({"y"}))["E"]


def build() -> Walkthrough:
    graph = parse_program(PROGRAM)
    point = {name: parse_number(v, name) for name, v in POINT.items()}
    derivation = derive(graph, point, ("w",))
    x, t, y, w, e = (symbol(n) for n in ("x", "t", "y", "w", "E"))
    eta = parse_number(LEARNING_RATE, "lr")
    with sympy.evaluate(False):
        chain = sympy.Mul(Grad("E", "y"), Grad("y", "w"))
        closed = sympy.Mul(y - t, x)
    intro = (Section("scenario.toast.heading.story", (
        Text("scenario.toast.text.robot", (("w", w),)),
        Text("scenario.toast.text.numbers", tuple((n, sympy.Eq(symbol(n), point[n], evaluate=False))
                                                  for n in ("x", "t", "w")) + (("eta", sympy.Eq(sympy.Symbol("eta"), eta, evaluate=False)),
                                                  ("model", sympy.Eq(y, w * x)),
                                                  ("error", sympy.Eq(e, graph_definition(derivation))))),
        Text("scenario.toast.text.direction", (("y", sympy.Eq(y, derivation.values["y"], evaluate=False)),
                                               ("t", sympy.Eq(t, point["t"], evaluate=False)))),
        Text("scenario.toast.text.reconstructed", (
            ("w", sympy.Eq(w, point["w"], evaluate=False)), ("y", sympy.Eq(y, derivation.values["y"], evaluate=False)),
            ("x", sympy.Eq(x, point["x"], evaluate=False)),
            ("grad", sympy.Eq(Grad("E", "w"), derivation.gradients["w"].value, evaluate=False)),
            ("t", sympy.Eq(t, point["t"], evaluate=False)))),
    )), seed_section(derivation))
    extra = (Section("scenario.toast.heading.chain", (
        Text("scenario.toast.text.chain", (("E", e), ("w", w))),
        Claim(Grad("E", "w"), (chain, closed), derivation.gradients["w"].value),
        Text("scenario.toast.text.direction_result", (("w", w),)),
    )), nudge_section(derivation, "w", parse_number(NUDGE, "h")), rule_card(derivation))
    return make("toast", PROGRAM, derivation, learning_rate=eta, steps=1, intro=intro, extra=extra)
