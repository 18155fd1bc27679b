"""The forward graph (derive.graph): nodes and their readers, the exact forward pass, the unrolled expressions, and
the bounds on values, against independent oracles (Python's Fraction for exact arithmetic, mpmath at 50 digits)."""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

import mpmath
import pytest
import sympy

from derive.errors import InputError
from derive.graph import (Graph, Node, definition, definitions, evaluate_op, exact, forward, is_finite_real,
                          softmax_nodes, substitute, unrolled)

R = sympy.Rational
DIGITS = 30  # README: values are carried exactly, or with 30 digits


@pytest.fixture(autouse=True)
def fifty_digits():
    """The oracle's mpmath arithmetic at 50 digits, 20 beyond the graph's."""
    with mpmath.workdps(50):
        yield


def s(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def graph_of(*nodes: Node) -> Graph:
    """Leaves first (every name read and not defined), then the nodes; the last one is the output."""
    defined = {n.name for n in nodes}
    leaves = dict.fromkeys(a for n in nodes for a in n.args if isinstance(a, str) and a not in defined)
    return Graph(tuple(Node(leaf, "leaf") for leaf in leaves) + nodes, nodes[-1].name)


# (graph, point, oracle): the oracle computes the output from the point with mpmath or Fractions, on its own
Oracle = Callable[[dict], object]
CASES: list[tuple[str, Graph, dict[str, str], Oracle]] = [
    ("(x + y) * z", graph_of(Node("q", "add", ("x", "y")), Node("f", "mul", ("q", "z"))),
     {"x": "-2", "y": "5", "z": "-4"}, lambda p: (p["x"] + p["y"]) * p["z"]),
    ("x/y - 3*x + x**2", graph_of(Node("a", "div", ("x", "y")), Node("b", "mul", (R(3), "x")),
                                  Node("c", "pow", ("x", R(2))), Node("d", "sub", ("a", "b")),
                                  Node("f", "add", ("d", "c"))),
     {"x": "0.7", "y": "-1.3"}, lambda p: p["x"] / p["y"] - 3 * p["x"] + p["x"] ** 2),
    ("1/2 (y - t)^2", graph_of(Node("e", "sub", ("y", "t")), Node("q", "pow", ("e", R(2))),
                                                    Node("f", "mul", (R(1, 2), "q"))),
     {"y": "0.3", "t": "1"}, lambda p: (p["y"] - p["t"]) ** 2 / 2),
    ("-(x*y*z) + sum", graph_of(Node("m", "mul", ("x", "y", "z")), Node("n", "neg", ("m",)),
                                Node("f", "sum", ("n", "x", "y", "z"))),
     {"x": "1.5", "y": "-0.25", "z": "8"}, lambda p: -(p["x"] * p["y"] * p["z"]) + p["x"] + p["y"] + p["z"]),
    ("sigmoid(w*x + b)", graph_of(Node("z0", "mul", ("w", "x")), Node("z", "add", ("z0", "b")),
                                  Node("f", "sigmoid", ("z",))),
     {"w": "0.5", "x": "2", "b": "-0.3"}, lambda p: 1 / (1 + mpmath.exp(-(p["w"] * p["x"] + p["b"])))),
    ("exp, log, sqrt, sin, cos, tanh", graph_of(Node("a", "exp", ("x",)), Node("b", "log", ("a",)),
                                                 Node("c", "sqrt", ("y",)), Node("d", "sin", ("c",)),
                                                 Node("e", "cos", ("x",)), Node("g", "tanh", ("d",)),
                                                 Node("f", "add", ("b", "e", "g"))),
     {"x": "0.4", "y": "2"},
     lambda p: mpmath.log(mpmath.exp(p["x"])) + mpmath.cos(p["x"]) + mpmath.tanh(mpmath.sin(mpmath.sqrt(p["y"])))),
    ("relu on both sides", graph_of(Node("a", "relu", ("x",)), Node("b", "relu", ("y",)),
                                    Node("f", "sub", ("a", "b"))),
     {"x": "-0.5", "y": "0.75"}, lambda p: max(0, p["x"]) - max(0, p["y"])),
    ("x ** y", graph_of(Node("f", "pow", ("x", "y"))), {"x": "2", "y": "0.5"},
     lambda p: mpmath.power(p["x"], p["y"])),
]


def _rational(node: Node) -> bool:
    """The op maps rationals to rationals (a power only with a constant integer exponent)."""
    if node.op == "pow":
        return isinstance(node.args[1], sympy.Integer)
    return node.op in ("leaf", "add", "sum", "sub", "mul", "div", "neg", "relu")


def _rational_point(point: dict[str, str]) -> dict[str, sympy.Rational]:
    return {k: R(v) for k, v in point.items()}


@pytest.mark.parametrize("name, graph, point, oracle", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_an_independent_evaluation(name, graph, point, oracle):
    rational = all(_rational(node) for node in graph.nodes)
    values = forward(graph, _rational_point(point))
    assert set(values) == {n.name for n in graph.nodes}
    got = values[graph.output]
    fractions = {k: Fraction(v) for k, v in point.items()}
    if rational:  # exact arithmetic gives exact values
        assert got.is_Rational and Fraction(int(got.p), int(got.q)) == oracle(fractions)
    else:
        expected = oracle({k: mpmath.mpf(v.numerator) / v.denominator for k, v in fractions.items()})
        assert got.is_Float and got._prec >= sympy.Float(1, DIGITS)._prec
        assert abs(mpmath.mpf(got) - expected) <= mpmath.mpf(10) ** (1 - DIGITS) * max(1, abs(expected))


def test_leaves_inputs_and_consumers():
    graph = graph_of(Node("a", "mul", ("x", "x", R(2))), Node("b", "add", ("a", "y")), Node("f", "mul", ("a", "b")))
    assert graph.leaves == ("x", "y")
    assert graph["a"].inputs == ("x",)  # distinct names, constants left out
    assert graph["f"].inputs == ("a", "b")
    assert graph.consumers() == {"x": ("a",), "y": ("b",), "a": ("b", "f"), "b": ("f",), "f": ()}
    assert "b" in graph and "z" not in graph
    assert graph["b"] == Node("b", "add", ("a", "y"))


def test_a_repeated_operand_is_read_twice():
    graph = graph_of(Node("f", "mul", ("x", "x")))
    assert forward(graph, {"x": R(-3, 2)})["f"] == R(9, 4)


def test_unrolled_writes_every_node_in_the_leaves():
    graph = CASES[1][1]  # x/y - 3x + x^2
    x, y, a = s("x"), s("y"), s("a")
    exprs = unrolled(graph)
    assert sympy.simplify(exprs["f"] - (x / y - 3 * x + x ** 2)) == 0
    assert exprs["x"] == x and exprs["c"] == x ** 2
    kept = unrolled(graph, frozenset({"a"}))
    assert sympy.simplify(kept["f"] - (a - 3 * x + x ** 2)) == 0  # a stays a symbol


def test_definition_is_as_written_not_evaluated():
    node = Node("f", "add", ("x", "x"))
    written = definition(node)
    assert isinstance(written, sympy.Add) and written.args == (s("x"), s("x"))  # not 2*x
    both = definitions((Node("x", "leaf"), node, Node("g", "mul", ("x", R(2)))))
    assert set(both) == {"f", "g"}  # leaves have no definition
    assert both["g"].args == (s("x"), R(2))


def test_softmax_nodes_are_the_components():
    outputs, logits = ("y1", "y2", "y3"), ("z1", "z2", "z3")
    nodes = softmax_nodes(outputs, logits)
    assert [(n.name, n.op, n.args, n.params) for n in nodes] == [
        (name, "softmax", logits, (k, outputs)) for k, name in enumerate(outputs)]
    graph = Graph(tuple(Node(z, "leaf") for z in logits) + tuple(nodes) + (Node("f", "sum", outputs),), "f")
    point = {"z1": R(3, 10), "z2": R(-6, 5), "z3": R(2)}
    values = forward(graph, point)
    exps = [mpmath.exp(mpmath.mpf(v.p) / v.q) for v in point.values()]
    for k, name in enumerate(outputs):
        assert abs(mpmath.mpf(values[name]) - exps[k] / sum(exps)) < mpmath.mpf(10) ** (1 - DIGITS)
    assert abs(values["f"] - 1) < sympy.Float(10) ** (2 - DIGITS)


@pytest.mark.parametrize("value", [R(3, 7), R(-5), R(2 ** 4000 + 1, 3), sympy.Integer(0)])
def test_exact_keeps_small_rationals(value):
    assert exact(value) == value and exact(value).is_Rational


def test_exact_turns_a_huge_rational_into_a_float_of_the_same_value():
    huge = R(2 ** 5000 + 1, 3 ** 10)
    got = exact(huge)
    assert got.is_Float and got._prec == sympy.Float(1, DIGITS)._prec
    assert abs(mpmath.mpf(got) / (mpmath.mpf(2) ** 5000 / 3 ** 10) - 1) < mpmath.mpf(10) ** (1 - DIGITS)


@pytest.mark.parametrize("value, oracle", [
    (sympy.sqrt(2), lambda: mpmath.sqrt(2)), (sympy.exp(R(1, 3)), lambda: mpmath.exp(mpmath.mpf(1) / 3)),
    (sympy.Float("0.1", 15), lambda: mpmath.mpf(sympy.Rational(sympy.Float("0.1", 15))))])  # its binary value
def test_exact_writes_anything_else_with_the_graph_digits(value, oracle):
    got = exact(value)
    assert got.is_Float and got._prec == sympy.Float(1, DIGITS)._prec
    assert abs(mpmath.mpf(got) - oracle()) < mpmath.mpf(10) ** (1 - DIGITS)
    assert exact(got) is got  # already at the graph's precision: left alone


@pytest.mark.parametrize("value, finite", [
    (R(1, 3), True), (sympy.Float("1e300", 30), True), (sympy.sqrt(2), True), (sympy.Float("nan"), False),
    (sympy.Float("inf"), False), (sympy.Float("-inf"), False), (sympy.oo, False), (sympy.zoo, False),
    (sympy.I, False), (1 + sympy.I, False), (sympy.nan, False)])
def test_is_finite_real(value, finite):
    assert is_finite_real(value) is finite


@pytest.mark.parametrize("node, point, message", [
    (Node("f", "log", ("x",)), {"x": R(-1)}, "f = log(-1) is not a finite real number"),
    (Node("f", "div", ("x", "y")), {"x": R(1), "y": R(0)}, "f = div(1, 0) is not a finite real number"),
    (Node("f", "sqrt", ("x",)), {"x": R(-4)}, "f = sqrt(-4) is not a finite real number"),
    (Node("f", "exp", ("x",)), {"x": R(1000)}, "f = exp(1000) is larger than 1e+300"),
    (Node("f", "exp", ("x",)), {"x": R(-1000)}, "f = exp(-1000) is smaller than 1e-300 in magnitude"),
    (Node("f", "mul", ("x", "y")), {"x": R(10) ** 200, "y": R(10) ** 101}, "is larger than 1e+300"),
])
def test_values_outside_the_domain_or_float64_are_input_errors(node, point, message):
    graph = graph_of(node)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        forward(graph, point)


def test_the_bounds_are_inclusive_at_1e300():
    graph = graph_of(Node("f", "mul", ("x", "y")))
    assert forward(graph, {"x": R(10) ** 150, "y": R(10) ** 150})["f"] == R(10) ** 300
    assert forward(graph, {"x": R(1, 10 ** 150), "y": R(1, 10 ** 150)})["f"] == R(1, 10 ** 300)


def test_a_missing_leaf_is_named():
    graph = graph_of(Node("f", "add", ("x", "y")))
    with pytest.raises(InputError, match="no value for 'y'"):
        forward(graph, {"x": R(1)})


def power_error(exponent: int) -> mpmath.mpf:
    """The relative error bound of b^n in DIGITS-digit floats: b's rounding, multiplied n times."""
    return exponent * mpmath.mpf(10) ** (1 - DIGITS)


def test_a_huge_power_is_carried_as_a_float():
    node = Node("f", "pow", ("x", "n"))
    value = evaluate_op(node, [R(11, 10), R(2000)])  # exactly, 11^2000 / 10^2000 would take 13 800 bits
    assert value.is_Float
    expected = mpmath.power(mpmath.mpf(11) / 10, 2000)
    assert abs(mpmath.mpf(value) / expected - 1) < power_error(2000)
    assert evaluate_op(node, [R(3, 2), R(7)]) == R(3 ** 7, 2 ** 7)  # a small one stays exact


def test_substitute_is_exact_and_bounded():
    x, y = s("x"), s("y")
    assert substitute(x ** 2 / y + 1, {x: R(1, 3), y: R(2)}) == R(19, 18)
    assert substitute(x, {x: R(5)}) == 5 and substitute(sympy.Integer(4), {x: R(5)}) == 4
    huge = substitute(x ** (10 ** 6) + 1, {x: R(11, 10)})
    assert huge.is_Float
    expected = mpmath.power(mpmath.mpf(11) / 10, 10 ** 6) + 1
    assert abs(mpmath.mpf(huge) / expected - 1) < power_error(10 ** 6)
