"""The backward walk against three independent oracles (tests/oracles.py), the study material's seeds exactly,
and the chain's local rules."""
from __future__ import annotations

import sympy
import pytest

from derive.backward import derive
from derive.check import check
from derive.errors import InputError
from derive.parse import parse_number, parse_program

from oracles import compare_with_oracles, point_of, require_torch, sympy_gradient

R = sympy.Rational

# (program, point as exact decimals)
CASES: list[tuple[str, dict[str, str]]] = [
    # every op on its own
    ("x + y", {"x": "0.7", "y": "-1.3"}),
    ("x - y", {"x": "0.7", "y": "-1.3"}),
    ("x * y", {"x": "0.7", "y": "-1.3"}),
    ("x / y", {"x": "0.7", "y": "-1.3"}),
    ("-x", {"x": "0.7"}),
    ("x ** y", {"x": "0.7", "y": "-1.3"}),
    ("exp(x)", {"x": "0.7"}),
    ("log(x)", {"x": "0.7"}),
    ("sqrt(x)", {"x": "0.7"}),
    ("sin(x)", {"x": "0.7"}),
    ("cos(x)", {"x": "0.7"}),
    ("tanh(x)", {"x": "0.7"}),
    ("sigmoid(x)", {"x": "0.7"}),
    ("relu(x)", {"x": "0.7"}),
    # zero gradients
    ("relu(x)", {"x": "-0.7"}),
    ("x*0 + y", {"x": "0.7", "y": "2"}),
    ("x - x", {"x": "0.7"}),
    ("x / x + y", {"x": "0.7", "y": "0.1"}),
    # repeated leaves and powers
    ("x*x", {"x": "0.7"}),
    ("x**3", {"x": "0.7"}),
    ("x**3", {"x": "-0.7"}),
    ("x**x", {"x": "0.7"}),
    ("x**0.5 + x**-1 + x**-2.5", {"x": "0.7"}),
    ("2**x + 0.5**x", {"x": "0.7"}),
    ("x**y**z", {"x": "1.5", "y": "0.7", "z": "1.2"}),
    ("exp(x)**2 - exp(2*x)", {"x": "0.3"}),
    # constants
    ("2*x + 3", {"x": "0.7"}),
    ("0.1*x + 0.2*y", {"x": "0.7", "y": "0.3"}),
    ("x/2 - 1.5", {"x": "0.7"}),
    ("1/2*(y - t)**2", {"y": "2", "t": "4"}),
    ("-3*x*-2", {"x": "0.7"}),
    # fan-out: one value feeds several nodes
    ("(x + y) * z", {"x": "-2", "y": "5", "z": "-4"}),
    ("(x + y) * (x - y)", {"x": "0.7", "y": "-1.3"}),
    ("a = x*y; b = sin(a); c = a*b; f = c + a", {"x": "0.7", "y": "-1.3"}),
    ("a = x + y; b = a*a; c = exp(b); f = c/(a + 3)", {"x": "0.2", "y": "0.3"}),
    ("h = tanh(x); f = h*h*h + h", {"x": "0.4"}),
    ("sin(x)*cos(x) + tanh(x)/sigmoid(x)", {"x": "0.7"}),
    # the functions composed
    ("log(exp(a) + 1)", {"a": "-0.4"}),
    ("sqrt(x*x + 1)", {"x": "-1.1"}),
    ("exp(-x*x/2)", {"x": "0.9"}),
    ("1/(1 + exp(-x)) - sigmoid(x) + x", {"x": "0.35"}),
    ("log(x) * log(y)", {"x": "1.7", "y": "0.3"}),
    ("x / (y*y + 1)", {"x": "0.7", "y": "-1.3"}),
    ("(x - 1)**2 + (y + 2)**2", {"x": "0.7", "y": "-1.3"}),
    ("relu(x - y) * relu(y - 0.2*x)", {"x": "0.5", "y": "0.3"}),
    ("-(-x)", {"x": "0.7"}),
    ("+x * y", {"x": "0.7", "y": "-1.3"}),
    # neural-network shaped programs, with ; and with newlines, and the material's names
    ("sigmoid(w1*x + b)", {"w1": "0.5", "x": "2", "b": "-0.25"}),
    ("tanh(w1*x1 + w2*x2 + b)", {"w1": "0.1", "x1": "1", "w2": "-0.2", "x2": "0.5", "b": "0.05"}),
    ("h = tanh(w1*x + b1); o = sigmoid(w2*h + b2); L = (o - y_)**2",
     {"w1": "0.5", "x": "1.5", "b1": "0.1", "w2": "-0.3", "b2": "0.2", "y_": "1"}),
    ("z1 = w1*x + b1\na1 = relu(z1)\nz2 = w2*a1 + b2\nE = 0.5*(z2 - t)**2",
     {"w1": "0.8", "x": "1.2", "b1": "-0.1", "w2": "1.5", "b2": "0.3", "t": "1"}),
    ("apple_num * apple_price * tax", {"apple_num": "2", "apple_price": "100", "tax": "1.1"}),
    ("y = w*x\ne = y - t\nE = 0.5*e*e", {"x": "2", "t": "4", "w": "1"}),
    ("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t", {"x": "2", "w": "3", "b": "1", "y_": "5"}),
    ("u1 * x + u3", {"u1": "0.5", "x": "0.7", "u3": "2"}),
    ("t = x*y; f = t*t", {"x": "0.7", "y": "-1.3"}),
    ("s = sigmoid(z); L = -(t*log(s) + (1 - t)*log(1 - s))", {"z": "0.8", "t": "1"}),
]


def _ids():
    return [f"{i}:{text[:40]}" for i, (text, _) in enumerate(CASES)]


def test_enough_cases_and_every_op():
    assert len(CASES) >= 30
    ops = {node.op for text, _ in CASES for node in parse_program(text).nodes}
    assert {"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid",
            "relu"} <= ops


@pytest.mark.parametrize("text,point", CASES, ids=_ids())
def test_every_gradient_matches_three_oracles(text, point):
    require_torch()
    exact_point = point_of(point)
    derivation = derive(parse_program(text), exact_point)
    counts = compare_with_oracles(text, derivation, exact_point)
    assert counts["sympy"] >= len(derivation.graph.leaves)
    assert counts["torch"] == len(derivation.graph.leaves)
    assert counts["fd"] == len(derivation.graph.leaves)


@pytest.mark.parametrize("text,point", CASES, ids=_ids())
def test_every_case_passes_the_self_check(text, point):
    derivation = derive(parse_program(text), point_of(point))
    report = check(derivation)
    assert report.gradients_checked == len(derivation.graph.nodes) or report.notes


@pytest.mark.parametrize("text,point", CASES[:20] + CASES[-10:], ids=_ids()[:20] + _ids()[-10:])
def test_symbolic_walk_has_gradient_expressions_and_passes_the_check(text, point):
    graph = parse_program(text)
    derivation = derive(graph, None)
    assert derivation.values is None
    for name in graph.leaves:
        gradient = derivation.gradients[name]
        assert isinstance(gradient.expr, sympy.Expr) and gradient.value is None
    report = check(derivation)
    assert report.at_given_point is False


# --- the study material's seeds, exactly -----------------------------------------------------------------------


def _exact(value, expected) -> bool:
    return isinstance(value, sympy.Rational) and value == expected


def test_linear_model_seed_exactly():
    text = "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"
    d = derive(parse_program(text), point_of({"x": "2", "w": "3", "b": "1", "y_": "5"}))
    for name, value in {"p": 6, "y": 7, "s": -7, "t": -2, "f": 4}.items():
        assert _exact(d.values[name], sympy.Integer(value)), (name, d.values[name])
    expected = {"t": -4, "y_": -4, "s": -4, "y": 4, "p": 4, "b": 4, "w": 8, "x": 12}
    for name, value in expected.items():
        assert _exact(d.gradients[name].value, sympy.Integer(value)), (name, d.gradients[name].value)
    assert d.gradients["f"].value == 1
    check(d)


@pytest.mark.parametrize("text", [
    "y = w*x; e = y - t; E = 0.5*e*e",
    "y = w*x\ne = y - t\nE = 0.5*e*e",
    "y = w*x; E = 1/2*(y-t)**2",
    "E = 1/2*(w*x - t)**2",
])
def test_toast_seed_exactly(text):
    graph = parse_program(text)
    d = derive(graph, point_of({"x": "2", "t": "4", "w": "1"}))
    assert _exact(d.output_value, sympy.Integer(2))
    assert _exact(d.gradients["w"].value, sympy.Integer(-4))
    check(d)


def test_toast_one_step_is_exact():
    """One step of w ← w − 0.1·dE/dw from w=1 gives w = 7/5 and E = 18/25 = 0.72, exactly."""
    graph = parse_program("y = w*x; e = y - t; E = 0.5*e*e")
    d = derive(graph, point_of({"x": "2", "t": "4", "w": "1"}))
    w = d.point["w"] - parse_number("0.1", "lr") * d.gradients["w"].value
    assert w == R(7, 5)
    after = derive(graph, {**d.point, "w": w})
    assert _exact(after.output_value, R(18, 25))


def test_cs231n_seed_exactly():
    d = derive(parse_program("(x + y) * z"), point_of({"x": "-2", "y": "5", "z": "-4"}))
    assert _exact(d.output_value, sympy.Integer(-12))
    for name, value in {"x": -4, "y": -4, "z": 3, "u1": -4}.items():
        assert _exact(d.gradients[name].value, sympy.Integer(value)), name


def test_decimals_are_exact():
    point = {"x": parse_number("0.1", "x"), "y": parse_number("0.2", "y")}
    assert point["x"] == R(1, 10)
    d = derive(parse_program("x + y"), point)
    assert _exact(d.output_value, R(3, 10))  # not 0.30000000000000004
    d = derive(parse_program("x*x*y"), point)
    assert _exact(d.output_value, R(1, 500)) and _exact(d.gradients["x"].value, R(1, 25))


def test_rational_programs_stay_exact():
    text = "a = x/y; b = a*a - 3*x; f = b/(1 + a**2)"
    point = point_of({"x": "0.3", "y": "0.7"})
    d = derive(parse_program(text), point)
    oracle = sympy_gradient(text, point)
    for leaf, expected in oracle.gradients.items():
        assert isinstance(expected, sympy.Rational)
        assert _exact(d.gradients[leaf].value, expected)


# --- the chain's local rules -----------------------------------------------------------------------------------


def _terms(derivation, node):
    step = next(s for s in derivation.steps if s.node == node)
    return {t.input: t for t in step.terms}


def _names(expr) -> set[str]:
    return {s.name for s in expr.free_symbols}


def test_mul_local_gradient_is_the_other_input():
    d = derive(parse_program("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"),
               point_of({"x": "2", "w": "3", "b": "1", "y_": "5"}))
    terms = _terms(d, "p")
    assert isinstance(terms["w"].local, sympy.Symbol) and terms["w"].local.name == "x"
    assert isinstance(terms["x"].local, sympy.Symbol) and terms["x"].local.name == "w"
    assert terms["w"].local_value == 2 and terms["x"].local_value == 3
    assert terms["w"].contribution_value == 8 and terms["x"].contribution_value == 12


def test_add_local_gradient_is_one_and_neg_minus_one():
    d = derive(parse_program("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"),
               point_of({"x": "2", "w": "3", "b": "1", "y_": "5"}))
    assert all(t.local == 1 and t.local_value == 1 for t in _terms(d, "y").values())
    assert _terms(d, "s")["y"].local == -1


def test_square_of_a_repeated_operand_sums_both_positions():
    d = derive(parse_program("t*t"), point_of({"t": "-2"}))
    term = _terms(d, "f")["t"]
    assert term.local_value == -4 and d.gradients["t"].value == -4


def test_log_local_gradient_is_one_over_x():
    d = derive(parse_program("log(x)"), point_of({"x": "0.7"}))
    local = _terms(d, "f")["x"].local
    x = sympy.Symbol("x", real=True)
    assert _names(local) == {"x"} and sympy.simplify(local.xreplace({s: x for s in local.free_symbols}) - 1 / x) == 0
    assert _terms(d, "f")["x"].local_value == R(10, 7)


def test_sigmoid_local_gradient_is_written_with_its_output():
    d = derive(parse_program("sigmoid(x)"), point_of({"x": "0"}))
    local = _terms(d, "f")["x"].local
    assert _names(local) == {"f"}, local  # out*(1 - out), not exp(-x)/(1 + exp(-x))**2
    assert not local.has(sympy.exp)
    out = next(iter(local.free_symbols))
    assert sympy.expand(local - out * (1 - out)) == 0
    assert d.values["f"] == R(1, 2) and _terms(d, "f")["x"].local_value == R(1, 4)


def test_tanh_and_exp_locals_use_the_output():
    d = derive(parse_program("a = tanh(x); f = exp(a)"), point_of({"x": "0.5"}))
    assert _names(_terms(d, "a")["x"].local) == {"a"}
    assert _names(_terms(d, "f")["a"].local) == {"f"}


@pytest.mark.parametrize("text,point,zero", [
    ("relu(x)", {"x": "0"}, "x"),
    ("relu(x)*y", {"x": "0", "y": "2"}, "x"),
    ("relu(x - y)", {"x": "0.3", "y": "0.3"}, "x"),
])
def test_relu_derivative_at_zero_is_zero(text, point, zero):
    d = derive(parse_program(text), point_of(point))
    assert _exact(d.gradients[zero].value, sympy.Integer(0))
    relu_step = next(s for s in d.steps if s.op == "relu")
    assert all(_exact(t.local_value, sympy.Integer(0)) for t in relu_step.terms)


def test_relu_kink_matches_pytorch():
    torch = require_torch()
    x = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    torch.relu(x).backward()
    d = derive(parse_program("relu(x)"), point_of({"x": "0"}))
    assert float(d.gradients["x"].value) == float(x.grad) == 0.0


def test_contributions_are_upstream_times_local_and_fan_out_sums():
    text = "a = x*y; b = sin(a); c = a*b; f = c + a"
    d = derive(parse_program(text), point_of({"x": "0.7", "y": "-1.3"}))
    for step in d.steps:
        for term in step.terms:
            assert abs(float(term.contribution_value) - float(term.local_value * step.upstream_value)) < 1e-25
    gradient = d.gradients["a"]
    assert {p.reader for p in gradient.parts} == {"b", "c", "f"}
    assert abs(float(gradient.value) - float(sum(p.value for p in gradient.parts))) < 1e-25


def test_steps_run_in_reverse_topological_order():
    graph = parse_program("h = tanh(w1*x + b1); o = sigmoid(w2*h + b2); L = (o - y_)**2")
    d = derive(graph, None)
    order = [n.name for n in graph.nodes if n.op != "leaf"]
    assert [s.node for s in d.steps] == order[::-1]
    assert d.steps[0].node == graph.output and d.steps[0].upstream == 1


def test_wrt_selects_leaves_but_every_gradient_is_computed():
    graph = parse_program("(x + y) * z")
    d = derive(graph, point_of({"x": "-2", "y": "5", "z": "-4"}), ("z",))
    assert d.wrt == ("z",)
    assert d.gradients["x"].value == -4 and d.gradients["z"].value == 3


def test_value_errors_are_input_errors_not_check_failures():
    for text, point in [("log(x)", {"x": "-1"}), ("1/x", {"x": "0"}), ("sqrt(x)", {"x": "-1"})]:
        with pytest.raises(InputError):
            derive(parse_program(text), point_of(point))


# --- the oracles themselves ------------------------------------------------------------------------------------


def test_oracles_are_independent_of_derive():
    import ast
    import oracles
    with open(oracles.__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name == "derive" or name.startswith("derive.") for name in imported), imported


@pytest.mark.parametrize("op,partials,text", [
    ("sin", lambda a, out, p: [sympy.sin(a[0])], "sin(x)*y"),
    ("mul", lambda a, out, p: [a[0], a[1]], "(x + y)*x"),
    ("sigmoid", lambda a, out, p: [out], "sigmoid(x*y)"),
])
def test_the_oracles_catch_a_wrong_rule(monkeypatch, op, partials, text):
    import dataclasses
    from derive.rules import RULES
    monkeypatch.setitem(RULES, op, dataclasses.replace(RULES[op], partials=partials))
    point = point_of({"x": "0.7", "y": "-1.3"})
    with pytest.raises(AssertionError):
        compare_with_oracles(text, derive(parse_program(text), point), point)


def test_each_oracle_on_its_own_catches_a_wrong_gradient():
    """A walk that is off by 1e-4 relative fails each oracle separately."""
    from oracles import assert_close, finite_difference_gradient, torch_gradient
    require_torch()
    text, point = "sin(x)*exp(y)", point_of({"x": "0.7", "y": "-1.3"})
    d = derive(parse_program(text), point)
    off = float(d.gradients["x"].value) * (1 + 1e-4)
    with pytest.raises(AssertionError):
        assert_close(off, sympy_gradient(text, point).gradients["x"], "sympy", "x")
    with pytest.raises(AssertionError):
        assert_close(off, torch_gradient(text, point)[1]["x"], "torch", "x")
    with pytest.raises(AssertionError):
        assert_close(off, finite_difference_gradient(text, point)["x"], "fd", "x")
