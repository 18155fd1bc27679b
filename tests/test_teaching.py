"""Issue 17, parts 1, 2, 4, 5: the concept sections, the rule card, linear-model's second run and the seeds'
differences, in both languages, with every number they print compared with an independent oracle."""
from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from derive.graph import symbol
from derive.notation import sigma
from derive.locales import catalog
from derive.scenarios import concepts, linear_model, toast
from conftest import scenario_page, scenario_walk

LANGS = ("en", "ja")

SECTIONS = {  # scenario: the concept sections it must carry (catalog heading keys)
    "toast": ("concept.seed.heading", "concept.nudge.heading", "concept.rule_card.heading"),
    "linear-model": ("concept.fan_out.heading", "concept.one_pass.heading", "concept.rule_card.heading",
                     "scenario.linear-model.heading.overshoot", "scenario.linear-model.heading.parameters"),
    "sigmoid-sse": ("concept.gates.heading", "concept.rule_card.heading"),
    "softmax-cross-entropy": ("concept.rule_card.heading",),
}
NOTES = {  # scenario: the paragraphs that state a difference from the study material or a reconstructed value
    "toast": "scenario.toast.text.reconstructed",
    "linear-model": "scenario.linear-model.text.slip",
    "softmax-cross-entropy": "scenario.softmax-cross-entropy.text.rule_log_slip",
    "delta-recurrence": "scenario.delta-recurrence.text.hell_material",
}


walk, page = scenario_walk, scenario_page


def opening(key: str, lang: str) -> str:
    """The catalog text up to its first placeholder: what the page must show verbatim."""
    return catalog(lang)[key].split("{")[0]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_concept_sections_in_both_languages(name, lang):
    md = page(name, lang)
    for key in SECTIONS[name]:
        assert f"## {catalog(lang)[key]}\n" in md, (name, lang, key)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(NOTES))
def test_material_differences_are_said(name, lang):
    assert opening(NOTES[name], lang) in page(name, lang)


# ---------------------------------------------------------------- toast: the nudge and the start at 1

def toast_error(w: Fraction) -> Fraction:
    """E = ½(wx − t)² at the toast's x and t, by hand (the oracle)."""
    x, t = Fraction(toast.POINT["x"]), Fraction(toast.POINT["t"])
    return (w * x - t) ** 2 / 2


def test_toast_nudge_numbers_match_a_hand_computation():
    d = walk("toast").derivation
    h = Fraction(toast.NUDGE)
    n = concepts.nudge(d, "w", sympy.Rational(h.numerator, h.denominator))
    w0 = Fraction(toast.POINT["w"])
    assert Fraction(str(n.up)) == toast_error(w0 + h) == Fraction("1.9602")
    assert Fraction(str(n.down)) == toast_error(w0 - h) == Fraction("2.0402")
    assert Fraction(str(n.change)) == toast_error(w0 + h) - toast_error(w0) == Fraction("-0.0398")
    w = sympy.Symbol("w")
    slope = sympy.diff(sympy.Rational(1, 2) * (w * 2 - 4) ** 2, w).subs(w, 1)
    assert n.gradient == slope == -4 and n.predicted == sympy.Rational(-4, 100)
    assert Fraction(str(n.central)) == (toast_error(w0 + h) - toast_error(w0 - h)) / (2 * h) == -4
    for lang in LANGS:
        md = page("toast", lang)
        for shown in ("1.9602", "2.0402", "-0.0398", "h = 0.01", "= -0.04", r"\frac{1.9602 - 2.0402}{2 \cdot 0.01} = -4",
                      r"\frac{\partial E}{\partial E} = 1"):
            assert shown in md, (lang, shown)


def test_toast_reconstruction_is_consistent():
    """x and t are the only values giving the material's y = 2 (with w = 1) and ∂E/∂w = −4."""
    x, t = sympy.symbols("x t")
    assert sympy.solve([1 * x - 2, (1 * x - t) * x + 4], [x, t], dict=True) == [{x: 2, t: 4}]


# ---------------------------------------------------------------- linear-model

def linear_cost(x, w, b, target) -> Fraction:
    return (target - w * x - b) ** 2


def linear_gradients(x, w, b, target) -> dict[str, Fraction]:
    r = target - w * x - b  # by hand: ∂/∂w (y' − wx − b)² = −2 r x, and so on
    return {"x": -2 * r * w, "w": -2 * r * x, "b": -2 * r, "y_": 2 * r}


def descend(values: dict[str, Fraction], eta: Fraction, leaves) -> dict[str, Fraction]:
    g = linear_gradients(values["x"], values["w"], values["b"], values["y_"])
    return {k: v - eta * g[k] if k in leaves else v for k, v in values.items()}


START = {k: Fraction(v) for k, v in linear_model.POINT.items()}


def cost(values) -> Fraction:
    return linear_cost(values["x"], values["w"], values["b"], values["y_"])


def test_linear_model_runs_by_hand():
    assert cost(descend(START, Fraction(1), START)) == 1444
    assert cost(descend(START, Fraction(1), ("w", "b"))) == 324
    small = descend(START, Fraction(linear_model.SMALL_LEARNING_RATE), linear_model.PARAMETERS)
    assert (small["w"], small["b"], cost(small)) == (Fraction("2.2"), Fraction("0.6"), 0)
    fall = sum(g ** 2 for g in linear_gradients(*(START[k] for k in ("x", "w", "b", "y_"))).values())
    assert fall == 240
    assert linear_model.predicted_fall(walk("linear-model").derivation, 1) == fall
    for lang in LANGS:
        md = page("linear-model", lang)
        for shown in ("$1444$", "$240$", "f = 324", r"\eta = 0.1", "| $w$ | $3$ | $8$ | $2.2$ |",
                      "| $b$ | $1$ | $4$ | $0.6$ |", "$y = 5$", "$f = 0$"):
            assert shown in md, (lang, shown)


@pytest.mark.parametrize("lang", LANGS)
def test_linear_model_prose_names_no_cli_flag(lang):
    md = page("linear-model", lang)
    assert "--wrt" not in md and "--" + "step" not in md


def test_fan_out_edges_add_up():
    d = walk("linear-model").derivation
    edges = concepts.edge_locals(d, "f", "t")
    t = symbol("t")
    assert [v for _, v in edges] == [-2, -2]
    assert sum(v for _, v in edges) == sympy.diff(t * t, t).subs(t, -2) == d.gradients["t"].value
    for lang in LANGS:
        assert r"1 \cdot \left(-2\right) + 1 \cdot \left(-2\right) = -4" in page("linear-model", lang)


def paths_by_counting(graph, leaf):
    """(number of paths, total length) from leaf to the output, by dynamic programming in forward order."""
    count, length = {leaf: 1}, {leaf: 0}
    for node in graph.nodes:
        for a in node.args:
            if isinstance(a, str) and a in count:
                count[node.name] = count.get(node.name, 0) + count[a]
                length[node.name] = length.get(node.name, 0) + length[a] + count[a]
    return count.get(graph.output, 0), length.get(graph.output, 0)


@pytest.mark.parametrize("name", ["toast", "linear-model", "sigmoid-sse"])
def test_path_counts_agree_with_dynamic_programming(name):
    d = walk(name).derivation
    for leaf in d.wrt:
        lengths = concepts.path_lengths(d.graph, leaf)
        assert (len(lengths), sum(lengths)) == paths_by_counting(d.graph, leaf)


def test_one_pass_counts():
    d = walk("linear-model").derivation
    assert concepts.edge_count(d.graph) == 9
    assert sum(sum(concepts.path_lengths(d.graph, leaf)) for leaf in d.wrt) == 32
    for lang in LANGS:
        assert "| $2$ | $10$ |" in page("linear-model", lang)


# ---------------------------------------------------------------- sigmoid-sse: gates versus one σ node

def test_gates_and_sigma_agree_with_sympy():
    d = walk("sigmoid-sse").derivation
    z0 = d.values["Z_1"]
    c = concepts.compare_gates(z0)
    z = sympy.Symbol("z")
    oracle = sympy.diff(1 / (1 + sympy.exp(-z)), z).subs(z, z0)
    for value in (c.gates.gradients["z"].value, c.one_node.gradients["z"].value):
        assert abs(float(value) - float(oracle)) < 1e-12
    assert [s.op for s in reversed(c.gates.steps)] == ["neg", "exp", "add", "div"]
    for lang in LANGS:
        md = page("sigmoid-sse", lang)
        assert md.count("0.249376") >= 4  # the gates' product, the σ node, and both in the sentence that compares


# ---------------------------------------------------------------- the rule card

@pytest.mark.parametrize("name", ["toast", "linear-model", "sigmoid-sse"])
def test_rule_card_local_gradients_are_derivatives(name):
    d = walk(name).derivation
    rows = concepts.card_rows(d.graph, d.output)
    kinds = {node.op for node in d.graph.nodes if node.op != "leaf"}
    written = {"add" if k == "sum" else k for k in kinds}  # add and sum write the same node: one entry
    assert len({r.definition for r in rows}) == len(written)
    z = symbol("z")
    for row in rows:
        rhs = row.definition.rhs.replace(sigma, lambda a: 1 / (1 + sympy.exp(-a)))  # σ written out for sympy
        oracle = sympy.diff(rhs, row.operand)
        assert sympy.simplify(row.local.subs(z, rhs) - oracle) == 0, (name, row)


@pytest.mark.parametrize("lang", LANGS)
def test_rule_card_is_one_beamer_frame(lang):
    tex = page("toast", lang, "beamer")
    title = catalog(lang)["concept.rule_card.heading"]
    assert tex.count("{" + title + "}") == 1 and "{" + title + " (1/" not in tex
