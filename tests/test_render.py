"""The one entry point for walk-throughs (derive.present.render.render): every format in every language renders the
toast scenario, byte for byte the same each time; the JSON validates against the shipped schema and holds the values
that an independent SymPy computation gives; every text document shows them."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction

import jsonschema
import pytest
import sympy

import derive
from derive.errors import InputError
from derive.present.render import render

from conftest import ROOT

FORMATS = ("markdown", "latex", "beamer", "html", "json")  # README: the formats and languages of `derive show`
LANGUAGES = ("en", "ja")
SCENARIO = "toast"
JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji


@pytest.fixture(scope="module")
def walk():
    return derive.scenario(SCENARIO).walkthrough


@pytest.fixture(scope="module")
def documents(walk) -> dict[tuple[str, str], str]:
    return {(fmt, lang): render(walk, fmt, lang) for fmt in FORMATS for lang in LANGUAGES}


# --- the oracle: the toast robot of the study material, y = w x, E = ½(y − t)², at w = 1, x = 2, t = 4, η = 0.1

w, x, t = sympy.symbols("w x t", real=True)
POINT = {w: sympy.Integer(1), x: sympy.Integer(2), t: sympy.Integer(4)}
LEARNING_RATE = sympy.Rational(1, 10)


def toast_oracle(point: dict) -> dict:
    """Every node's value and ∂E/∂node, each node taken as a free variable of E written from it onwards."""
    y, r, q = sympy.symbols("y r q", real=True)
    values = {"w": point[w], "x": point[x], "t": point[t]}
    values["y"] = values["w"] * values["x"]
    values["r"] = values["y"] - values["t"]
    values["q"] = values["r"] ** 2
    values["E"] = values["q"] / 2
    e_from = {"w": (w * x - t) ** 2 / 2, "x": (w * x - t) ** 2 / 2, "t": (w * x - t) ** 2 / 2, "y": (y - t) ** 2 / 2,
              "r": r ** 2 / 2, "q": q / 2}
    at = {w: values["w"], x: values["x"], t: values["t"], y: values["y"], r: values["r"], q: values["q"]}
    gradients = {name: sympy.diff(expr, sympy.Symbol(name, real=True)).subs(at) for name, expr in e_from.items()}
    gradients["E"] = sympy.Integer(1)
    return {"values": values, "gradients": gradients}


BEFORE = toast_oracle(POINT)
AFTER = toast_oracle({**POINT, w: POINT[w] - LEARNING_RATE * BEFORE["gradients"]["w"]})


def decimal_text(value: sympy.Rational) -> str:
    """The exact decimal of a terminating rational, by Python's decimal module."""
    fraction = Fraction(int(value.p), int(value.q))
    return format((Decimal(fraction.numerator) / Decimal(fraction.denominator)).normalize(), "f")


def json_number(value: sympy.Rational) -> int | float:
    return int(value) if value.is_Integer else float(value)


# --- every format × language ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_renders_and_is_deterministic(documents, fmt, lang):
    text = documents[fmt, lang]
    again = render(derive.scenario(SCENARIO).walkthrough, fmt, lang)  # a fresh build, not a cached string
    assert text == again
    assert text.endswith("\n") and not text.endswith("\n\n") and len(text) > 1000
    tex = fmt in ("latex", "beamer")  # LaTeX may write "{{" itself
    for leftover in (r"\VAR{", r"\BLOCK{") + (() if tex else ("{{", "{%")):
        assert leftover not in text, leftover


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "json"])
def test_documents_are_in_their_language_and_show_the_values(documents, fmt, lang):
    text = documents[fmt, lang]
    assert bool(JAPANESE.search(text)) is (lang == "ja")
    # the output before and after the step, the updated weight and its new gradient (positive numbers: MathML
    # writes a minus sign as its own element)
    for value in (BEFORE["values"]["E"], AFTER["values"]["E"], AFTER["values"]["w"], -AFTER["gradients"]["w"]):
        number = re.escape(decimal_text(value))
        assert re.search(rf"(?<![\d.]){number}(?![\d.]?\d)", text), (fmt, lang, decimal_text(value))


@pytest.mark.parametrize("fmt, marks", [
    ("markdown", ("# ", "$$")),
    ("latex", (r"\documentclass", r"\begin{document}", r"\end{document}")),
    ("beamer", (r"{beamer}", r"\begin{frame}", r"\end{document}")),
    ("html", ("<!DOCTYPE html>", "<math", "</html>")),
])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_format_has_its_structure(documents, fmt, marks, lang):
    text = documents[fmt, lang]
    for mark in marks:
        assert mark in text, mark
    if fmt == "html":
        assert f'<html lang="{lang}"' in text


# --- JSON ------------------------------------------------------------------------------------------------------------


def walkthrough_schema() -> dict:
    return json.loads((ROOT / "derive" / "schema" / "walkthrough.schema.json").read_text(encoding="utf-8"))


def test_the_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(walkthrough_schema())


@pytest.mark.parametrize("lang", LANGUAGES)
def test_json_validates_against_the_schema(documents, lang):
    data = json.loads(documents["json", lang])
    jsonschema.Draft202012Validator(walkthrough_schema()).validate(data)
    assert data["scenario"] == SCENARIO


def test_json_holds_the_oracles_values(documents):
    data = json.loads(documents["json", "en"])
    assert data["output"] == "E" and data["wrt"] == ["w"]
    assert data["value"] == json_number(BEFORE["values"]["E"])
    assert {n["name"]: n["value"] for n in data["nodes"]} == {k: json_number(v) for k, v in BEFORE["values"].items()}
    assert data["gradients"] == {k: json_number(v) for k, v in BEFORE["gradients"].items()}
    (update,) = data["updates"]
    assert update["learning_rate"] == json_number(LEARNING_RATE)
    assert update["values"] == {k: json_number(AFTER["values"][k]) for k in ("w", "x", "t")}
    assert update["output_value"] == json_number(AFTER["values"]["E"])
    assert update["gradients"] == {k: json_number(v) for k, v in AFTER["gradients"].items()}
    assert data["check"]["gradients"] == len(data["nodes"]) and data["check"]["notes"] == []


def test_json_is_the_same_in_every_language(documents):
    assert documents["json", "en"] == documents["json", "ja"]  # no prose: nothing to translate


@pytest.mark.parametrize("fmt, lang, message", [("pdf", "en", "unknown format 'pdf'"),
                                                 ("markdown", "fr", "unknown language 'fr'")])
def test_an_unknown_format_or_language_is_an_input_error(walk, fmt, lang, message):
    with pytest.raises(InputError, match=message):
        render(walk, fmt, lang)
