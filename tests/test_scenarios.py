"""The study material's seeds: every number it states appears in the JSON and the Markdown, and is exact."""
from __future__ import annotations

import json

import jsonschema
import pytest

from derive.present.jsonout import schema
from derive.present.render import render
from derive.scenarios import SCENARIOS, build


def walk(name, cache={}):
    if name not in cache:
        cache[name] = build(name)
    return cache[name]


def as_json(name):
    return json.loads(render(walk(name), "json"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_json_matches_schema(name):
    jsonschema.validate(as_json(name), schema())


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_markdown_renders_deterministically(name, lang):
    first = render(walk(name), "markdown", lang)
    assert first == render(build(name), "markdown", lang)
    assert first.startswith("# ") and "$$" in first


def test_toast_numbers():
    data = as_json("toast")
    values = {n["name"]: n["value"] for n in data["nodes"]}
    assert (values["x"], values["t"], values["w"], values["y"], values["E"]) == (2, 4, 1, 2, 2)
    assert data["gradients"]["w"] == -4
    assert data["gradients"]["y"] == -2  # ∂E/∂y = y − t
    (update,) = data["updates"]
    assert update["learning_rate"] == 0.1
    assert update["values"]["w"] == 1.4
    assert update["output_value"] == 0.72
    md = render(walk("toast"), "markdown", "en")
    for fragment in ("E = 2", "1 - 0.1 \\cdot \\left(-4\\right) = 1.4", "E = 0.72", "= -4"):
        assert fragment in md, fragment


def test_toast_exact_values_not_floats():
    update = walk("toast").updates[0]
    import sympy
    assert update.derivation.point["w"] == sympy.Rational(7, 5)
    assert update.derivation.output_value == sympy.Rational(18, 25)


LINEAR_FORWARD = {"x": 2, "w": 3, "b": 1, "y_": 5, "p": 6, "y": 7, "s": -7, "t": -2, "f": 4}
LINEAR_GRADIENTS = {"f": 1, "t": -4, "y_": -4, "s": -4, "y": 4, "p": 4, "b": 4, "w": 8, "x": 12}
LINEAR_AFTER_VALUES = {"x": -10, "w": -5, "b": -3, "y_": 9, "p": 50, "y": 47, "s": -47, "t": -38, "f": 1444}
LINEAR_AFTER_GRADIENTS = {"x": -380, "w": -760, "b": 76, "p": 76, "y": 76, "y_": -76, "s": -76, "t": -76, "f": 1}


def test_linear_model_numbers():
    data = as_json("linear-model")
    assert {n["name"]: n["value"] for n in data["nodes"]} == LINEAR_FORWARD
    assert data["gradients"] == LINEAR_GRADIENTS
    (update,) = data["updates"]
    assert update["learning_rate"] == 1
    assert update["values"] == {k: LINEAR_AFTER_VALUES[k] for k in ("w", "x", "b", "y_")}
    assert update["output_value"] == 1444
    assert update["gradients"] == LINEAR_AFTER_GRADIENTS
    after = walk("linear-model").updates[0].derivation.values
    assert {k: int(v) for k, v in after.items()} == LINEAR_AFTER_VALUES


def test_linear_model_markdown_shows_every_number():
    md = render(walk("linear-model"), "markdown", "en")
    for name, value in {**LINEAR_FORWARD}.items():
        assert f"${value}$" in md, (name, value)
    for value in set(LINEAR_GRADIENTS.values()) | set(LINEAR_AFTER_GRADIENTS.values()) | {1444}:
        assert f"{value}$" in md, value
    assert "x \\cdot \\frac{\\partial f}{\\partial p} = 8" in md  # gw = x·gp
    assert "= - 2 \\cdot \\left(y' - w \\cdot x - b\\right) \\cdot x = 8" in md  # the closed form
    assert "y'" in md and "y_{}" not in md


def test_linear_model_rules_first_class():
    steps = {s.node: s for s in walk("linear-model").derivation.steps}
    import sympy
    from derive.graph import symbol
    # × swaps the forward values of its inputs; + passes the gradient through; the negation flips it
    p = {t.input: t.local for t in steps["p"].terms}
    assert p == {"w": symbol("x"), "x": symbol("w")}
    assert all(t.local == 1 for t in steps["y"].terms)
    assert steps["s"].terms[0].local == -1
    assert {t.input: t.local for t in steps["f"].terms} == {"t": 2 * symbol("t")}
    assert sympy.S.One == steps["f"].upstream_value


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_checked_against_an_oracle(name):
    w = walk(name)
    # every gradient the walk computes; leaves held constant (the softmax targets) have none to check
    assert w.report.gradients_checked == len(w.derivation.graph.nodes) - len(w.derivation.constants)
    assert w.report.oracle in ("symbolic", "numeric")
    assert w.report.at_given_point
