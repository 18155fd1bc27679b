"""The Python API mirrors the CLI and returns objects that render themselves."""
from __future__ import annotations

import json

import sympy

import derive


def test_explain_returns_exact_numbers():
    result = derive.explain("(x + y) * z", at={"x": -2, "y": 5, "z": -4})
    assert result.values["f"] == -12
    assert result.gradients["x"] == sympy.Integer(-4) and result.gradients["z"] == 3


def test_explain_with_string_options_and_steps():
    result = derive.explain("y = w*x; r = y - t; E = 1/2*r**2", at="x=2,t=4,w=1", wrt="w", step="lr=0.1")
    update = result.walkthrough.updates[0]
    assert update.derivation.point["w"] == sympy.Rational(7, 5)
    assert update.derivation.output_value == sympy.Rational(18, 25)


def test_scenario_renders_itself():
    result = derive.scenario("linear-model")
    assert result.to_markdown().startswith("# ")
    assert result._repr_markdown_() == result.to_markdown()
    assert json.loads(result.to_json())["gradients"]["w"] == 8
    assert "逆伝播" in result.to_markdown("ja")
