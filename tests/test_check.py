"""The check layer fails when it should: wrong rules, tampered gradients; notes at kinks; large graphs switch to
the numeric oracle and still agree with PyTorch."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy

from derive import check as check_module
from derive import rules as rules_module
from derive.backward import Gradient, derive
from derive.clock import time_limit
from derive.check import check
from derive.errors import CheckFailure
from derive.graph import unrolled
from derive.parse import parse_program

from oracles import assert_close, point_of, require_torch, torch_gradient

ROOT = Path(__file__).resolve().parent.parent
R = sympy.Rational
RULES = rules_module.RULES


def wrong(op: str, partials):
    return dataclasses.replace(RULES[op], partials=partials)


# --- wrong rules are caught ------------------------------------------------------------------------------------

WRONG_RULES = [
    # mul: each input's own value instead of the other input's
    ("mul", lambda a, out, p: [a[0], a[1]], "p = w*x; y = p + b; f = y*y", {"w": "3", "x": "2", "b": "1"}),
    ("mul", lambda a, out, p: [a[1], a[0] * 2], "w*x", {"w": "3", "x": "2"}),
    ("add", lambda a, out, p: [sympy.S.One, sympy.S.NegativeOne], "(x + y)*z", {"x": "-2", "y": "5", "z": "-4"}),
    ("sub", lambda a, out, p: [sympy.S.One, sympy.S.One], "x - y", {"x": "0.5", "y": "0.25"}),
    ("div", lambda a, out, p: [1 / a[1], a[0] / a[1] ** 2], "x / y", {"x": "0.5", "y": "0.25"}),
    ("neg", lambda a, out, p: [sympy.S.One], "-x*y", {"x": "0.5", "y": "0.25"}),
    ("pow", lambda a, out, p: [a[1] * a[0] ** a[1], out * sympy.log(a[0])], "x**3", {"x": "0.5"}),
    ("pow", lambda a, out, p: [a[1] * a[0] ** (a[1] - 1), out], "x**y", {"x": "0.5", "y": "1.5"}),
    ("exp", lambda a, out, p: [a[0]], "exp(x)", {"x": "0.5"}),
    ("log", lambda a, out, p: [a[0]], "log(x)", {"x": "0.5"}),
    ("sqrt", lambda a, out, p: [1 / out], "sqrt(x)", {"x": "0.5"}),
    ("sin", lambda a, out, p: [-sympy.cos(a[0])], "sin(x)", {"x": "0.5"}),
    ("cos", lambda a, out, p: [sympy.sin(a[0])], "cos(x)", {"x": "0.5"}),
    ("tanh", lambda a, out, p: [1 - out], "tanh(x)", {"x": "0.5"}),
    ("sigmoid", lambda a, out, p: [out], "sigmoid(x)", {"x": "0.5"}),
    ("sigmoid", lambda a, out, p: [out * (1 + out)], "sigmoid(w*x + b)", {"w": "0.5", "x": "2", "b": "0.1"}),
    ("relu", lambda a, out, p: [sympy.S.One], "relu(x)", {"x": "-0.5"}),
]


@pytest.mark.parametrize("op,partials,text,point", WRONG_RULES,
                         ids=[f"{op}:{text}" for op, _, text, _ in WRONG_RULES])
def test_a_wrong_rule_fails_the_check(monkeypatch, op, partials, text, point):
    graph = parse_program(text)
    check(derive(graph, point_of(point)))  # the real rule passes
    monkeypatch.setitem(RULES, op, wrong(op, partials))
    derivation = derive(graph, point_of(point))
    with pytest.raises(CheckFailure) as info:
        check(derivation)
    assert "self-check failed" in str(info.value)


@pytest.mark.parametrize("op,partials,text,point", WRONG_RULES[:6] + WRONG_RULES[8:15],
                         ids=[f"{op}:{text}" for op, _, text, _ in WRONG_RULES[:6] + WRONG_RULES[8:15]])
def test_a_wrong_rule_fails_the_check_of_a_symbolic_walk(monkeypatch, op, partials, text, point):
    monkeypatch.setitem(RULES, op, wrong(op, partials))
    derivation = derive(parse_program(text), None)
    with pytest.raises(CheckFailure):
        check(derivation)


def test_a_wrong_rule_fails_on_a_large_graph_too(monkeypatch):
    text, point = doubling_network(11)
    graph = parse_program(text)
    monkeypatch.setitem(RULES, "mul", wrong("mul", lambda a, out, p: [a[0], a[1]]))
    with pytest.raises(CheckFailure):
        check(derive(graph, point))


def _tampered(derivation, name: str, delta):
    gradients = dict(derivation.gradients)
    old = gradients[name]
    gradients[name] = Gradient(old.node, old.expr, old.value + delta, old.parts)
    return dataclasses.replace(derivation, gradients=gradients)


@pytest.mark.parametrize("name,delta", [("w", 1), ("x", R(-1, 1000)), ("y", R(1, 10**5)), ("b", 8)])
def test_a_wrong_accumulated_gradient_fails_the_check(name, delta):
    derivation = derive(parse_program("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"),
                        point_of({"x": "2", "w": "3", "b": "1", "y_": "5"}))
    check(derivation)
    with pytest.raises(CheckFailure) as info:
        check(_tampered(derivation, name, delta))
    assert f"/d{name}" in str(info.value)


def test_the_symbolic_oracle_differentiates_once_per_graph_and_evaluates_at_every_point():
    """Gradient-descent steps check one graph at many points: sympy.diff runs for the first, and every point is
    still compared (a wrong gradient at a later point fails; the oracle's numbers are the exact derivative's)."""
    graph = parse_program("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t")
    check_module._symbolic_partials.cache_clear()
    points = [{"x": "2", "w": "3", "b": "1", "y_": "5"}, {"x": "-1.5", "w": "0.25", "b": "2", "y_": "-3"},
              {"x": "7", "w": "-2", "b": "0.5", "y_": "0.125"}]
    for point in points:
        derivation = derive(graph, point_of(point))
        assert check(derivation).oracle == "symbolic"
        x, w, b, y_ = (R(point[k]) for k in ("x", "w", "b", "y_"))
        residual = y_ - w * x - b  # f = residual²
        expected = {"w": -2 * residual * x, "x": -2 * residual * w, "b": -2 * residual, "y_": 2 * residual}
        oracle = check_module._try_symbolic(graph, derivation.values)
        assert oracle == pytest.approx({k: float(v) for k, v in expected.items()}, rel=1e-15)
    assert check_module._symbolic_partials.cache_info().misses == 1
    with pytest.raises(CheckFailure) as info:
        check(_tampered(derivation, "w", R(1, 1000)))
    assert "/dw" in str(info.value)


def test_a_wrong_accumulated_gradient_fails_the_numeric_oracle():
    text, point = doubling_network(11)
    derivation = derive(parse_program(text), point)
    with pytest.raises(CheckFailure) as info:
        check(_tampered(derivation, "w3", R(1, 1000)))
    assert "/dw3" in str(info.value)


# --- kinks -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,point", [
    ("relu(x)", {"x": "0"}),
    ("relu(x)", {"x": "0.0000001"}),
    ("relu(x)", {"x": "-0.0000009"}),
    ("relu(x)*y + x", {"x": "0", "y": "2"}),
    ("relu(x - y)*y", {"x": "0.3", "y": "0.3"}),
])
def test_near_a_relu_kink_the_check_reports_a_note_instead_of_comparing(text, point):
    graph = parse_program(text)
    report = check(derive(graph, point_of(point)))
    assert report.notes, report
    assert report.notes[0].key == "kink_skipped"
    nodes = dict(report.notes[0].params)["nodes"]
    relu_nodes = {n.name for n in graph.nodes if n.op == "relu"}
    assert set(nodes if isinstance(nodes, (tuple, list)) else str(nodes).split(", ")) == relu_nodes
    assert report.gradients_checked == 0


@pytest.mark.parametrize("x", ["0.00001", "-0.00001", "0.5", "-2"])
def test_away_from_the_kink_relu_is_compared(x):
    report = check(derive(parse_program("relu(x)*3"), point_of({"x": x})))
    assert not report.notes and report.oracle == "symbolic" and report.gradients_checked == 3


def test_the_kink_uses_pytorchs_convention_and_the_walk_still_says_zero():
    derivation = derive(parse_program("relu(x)*y"), point_of({"x": "0", "y": "2"}))
    assert derivation.gradients["x"].value == 0
    check(derivation)


# --- large graphs: the numeric oracle --------------------------------------------------------------------------


def doubling_network(levels: int):
    """Each layer reads the previous one three times, so the unrolled output doubles in size per layer."""
    lines = ["a1 = sigmoid(w1*x + b1)"]
    for k in range(2, levels + 1):
        lines.append(f"a{k} = sigmoid(w{k}*a{k - 1} + a{k - 1}*a{k - 1})")
    text = "\n".join(lines)
    graph = parse_program(text)
    point = {leaf: R(3 + (i * 7) % 11, 10) * (-1) ** i for i, leaf in enumerate(graph.leaves)}
    return text, point


def sigmoid_chain(depth: int):
    lines = ["a1 = sigmoid(w1*x)"] + [f"a{k} = sigmoid(w{k}*a{k - 1})" for k in range(2, depth + 1)]
    text = "\n".join(lines)
    graph = parse_program(text)
    point = {leaf: R(1, 2) + R(i % 5, 10) for i, leaf in enumerate(graph.leaves)}
    return text, point


def test_large_graph_switches_to_the_numeric_oracle_and_passes():
    text, point = doubling_network(11)
    graph = parse_program(text)
    assert sympy.count_ops(unrolled(graph)[graph.output]) > 5000
    derivation = derive(graph, point)
    with time_limit(60, TimeoutError):  # checking an 11-layer network must not hang CI
        report = check(derivation)
    assert report.oracle == "numeric"
    assert report.gradients_checked == len(graph.nodes)
    _agrees_with_torch(text, derivation, point)


def test_large_graph_symbolic_walk_switches_to_the_numeric_oracle():
    text, _ = doubling_network(11)
    with time_limit(60, TimeoutError):
        report = check(derive(parse_program(text), None))
    assert report.oracle == "numeric" and report.at_given_point is False


def test_small_graph_uses_the_symbolic_oracle():
    text, point = doubling_network(3)
    report = check(derive(parse_program(text), point))
    assert report.oracle == "symbolic"


def _check_in_subprocess(text: str, point, seconds: float) -> dict:
    """Parse, derive and check in a fresh interpreter with a time limit (a hang must not stall the suite, and a
    timer interrupting SymPy in this process could leave its caches half-written)."""
    script = textwrap.dedent("""
        import json, sys, time
        import sympy
        from derive.backward import derive
        from derive.check import check
        from derive.parse import parse_program
        text, point = json.loads(sys.stdin.read())
        derivation = derive(parse_program(text), {k: sympy.Rational(v) for k, v in point.items()})
        start = time.perf_counter()
        report = check(derivation)
        print(json.dumps({"seconds": time.perf_counter() - start, "oracle": report.oracle,
                          "gradients_checked": report.gradients_checked, "nodes": len(derivation.graph.nodes),
                          "gradients": {k: float(g.value) for k, g in derivation.gradients.items()}}))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        result = subprocess.run([sys.executable, "-c", script], input=json.dumps([text, {k: str(v) for k, v in
                                point.items()}]), capture_output=True, text=True, timeout=seconds, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"check() did not finish within {seconds} s")
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        pytest.fail(f"check() failed: {last}")
    return json.loads(result.stdout)


def test_deep_sigmoid_chain_passes_the_check():
    """40 nested sigmoid(w_k * ...): 121 nodes. (Its unrolled output has only ~160 operations, so by the size rule
    the symbolic oracle is used; whatever the oracle, the check must pass, quickly.)"""
    text, point = sigmoid_chain(40)
    outcome = _check_in_subprocess(text, point, 90)
    assert outcome["gradients_checked"] == outcome["nodes"] == 121
    require_torch()
    _, grads = torch_gradient(text, point)
    for leaf, value in grads.items():
        assert_close(outcome["gradients"][leaf], value, "torch", f"d/d{leaf}")


def test_sigmoid_chain_check_takes_seconds_not_minutes():
    """A 10-deep chain of sigmoid(w_k * ...) is a small network; checking it should not take half a minute."""
    text, point = sigmoid_chain(10)
    outcome = _check_in_subprocess(text, point, 60)
    assert outcome["seconds"] < 10, f"check() took {outcome['seconds']:.1f} s"


# --- what the report says --------------------------------------------------------------------------------------


def test_report_counts_what_was_checked():
    graph = parse_program("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t")
    derivation = derive(graph, point_of({"x": "2", "w": "3", "b": "1", "y_": "5"}))
    report = check(derivation)
    assert report.locals_checked == sum(len(s.terms) for s in derivation.steps) == 8
    assert report.gradients_checked == len(graph.nodes) == 9
    assert report.oracle == "symbolic" and report.at_given_point and not report.notes


def test_symbolic_walk_is_checked_at_a_point_of_its_own():
    report = check(derive(parse_program("log(x)*sqrt(y) + relu(x - y)"), None))
    assert report.at_given_point is False and report.gradients_checked > 0


def _agrees_with_torch(text, derivation, point):
    require_torch()
    _, grads = torch_gradient(text, point)
    for leaf, value in grads.items():
        assert_close(derivation.gradients[leaf].value, value, "torch", f"d/d{leaf}")
