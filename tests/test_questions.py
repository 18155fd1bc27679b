"""Exercise questions that test understanding (derive/present/questions.py): which rule applies and why, which
edges add, the sign of a gradient, what changes if the target is 3. Each answer is compared with an oracle written
here from the scenario's formula (sympy.diff), not with the walk the question was built from."""
from __future__ import annotations

import dataclasses

import pytest
import sympy

from derive.errors import CheckFailure
from derive.notation import exact_latex, latex, name_latex, number_latex
from derive.present.exercise import make_sheet, render_exercise
from derive.present.questions import (NEW_TARGET, NUDGE, TARGET_LEAVES, Words, edge_contributions, edges,
                                      questions)
from derive.rules import RULES
from derive.scenarios import SCENARIOS, build
from derive.verify import verify_text
from conftest import scenario_walk


walk = scenario_walk


def by_kind(name, seed=1):
    return {q.kind: q for q in questions(walk(name), seed)}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_gets_the_kinds_its_data_allows(name):
    kinds = set(by_kind(name))
    assert {"rule", "edges", "sign"} <= kinds
    assert ("target" in kinds) == (name in TARGET_LEAVES)


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_seed_same_questions_and_seeds_vary_the_choice(name):
    assert questions(walk(name), 7) == questions(build(name), 7)
    asked = {dict(q.ask)["node"] for q in (by_kind(name, seed)["rule"] for seed in range(12))}
    assert len(asked) > 1


@pytest.mark.parametrize("name", SCENARIOS)
def test_rule_answer_is_the_rule_of_the_node_asked(name):
    q = by_kind(name)["rule"]
    d = walk(name).derivation
    step = next(s for s in d.steps if dict(q.ask)["node"] == _latex_name(s.node))
    answer = dict(q.answer)
    assert answer["rule"] == Words(f"rule.{RULES[step.op].explain}.name")
    assert len(answer["locals"]) == len(step.terms)
    for shown, term in zip(answer["locals"], step.terms):
        assert shown.endswith(number_latex(term.local_value))


def _latex_name(name):
    from derive.notation import name_latex
    return name_latex(name)


@pytest.mark.parametrize("name", SCENARIOS)
def test_edges_carry_the_gradient_and_a_wrong_one_is_caught(name):
    d = walk(name).derivation
    many = [n for n, out in edges(d).items() if len(out) > 1]
    for value in many:
        assert float(sum(edge_contributions(d, value))) == pytest.approx(float(d.gradients[value].value), abs=1e-12)
    if many:
        wrong = dict(d.gradients)
        wrong[many[0]] = dataclasses.replace(wrong[many[0]], value=wrong[many[0]].value + 1)
        with pytest.raises(CheckFailure):
            edge_contributions(dataclasses.replace(d, gradients=wrong), many[0])


def test_linear_model_t_times_t_is_two_edges_of_minus_two():
    d = walk("linear-model").derivation
    assert edges(d)["t"] == [("f", 0), ("f", 1)]
    assert edge_contributions(d, "t") == [-2, -2]
    assert dict(by_kind("linear-model")["edges"].answer)["name"] == "t"


def test_toast_has_no_value_with_two_edges():
    assert by_kind("toast")["edges"].variant == "_none"


@pytest.mark.parametrize("name", SCENARIOS)
def test_sign_answer_agrees_with_a_central_difference(name):
    q = by_kind(name)["sign"]
    d = walk(name).derivation
    leaf = next(l for l in d.wrt if _latex_name(l) == dict(q.ask)["leaf"])
    from derive.graph import forward
    h = sympy.Rational(1, 10 ** 6)
    up = forward(d.graph, {**d.point, leaf: d.point[leaf] + h})[d.output]
    down = forward(d.graph, {**d.point, leaf: d.point[leaf] - h})[d.output]
    slope = float((up - down) / (2 * h))
    assert q.variant == ("_up" if slope > 0 else "_down")
    assert dict(q.answer)["predicted"] == number_latex(d.gradients[leaf].value * NUDGE)


def test_toast_target_three_by_sympy():
    w, x, t = sympy.symbols("w x t")
    e = (w * x - t) ** 2 / 2
    at = {w: 1, x: 2, t: NEW_TARGET}
    answer = dict(by_kind("toast")["target"].answer)
    assert answer["after"] == f"E = {number_latex(e.subs(at))}"
    assert list(answer["new_gradients"]) == [f"\\frac{{\\partial E}}{{\\partial w}} = {number_latex(sympy.diff(e, w).subs(at))}"]
    assert list(answer["changed"]) == ["r", "q", "E"]  # y = w·x does not read the target


def test_linear_model_target_three_by_sympy():
    w, x, b, y_ = sympy.symbols("w x b y_")
    f = (y_ - (w * x + b)) ** 2
    at = {w: 3, x: 2, b: 1, y_: NEW_TARGET}
    answer = dict(by_kind("linear-model")["target"].answer)
    assert answer["after"] == f"f = {number_latex(f.subs(at))}" == "f = 16"
    shown = dict(g.split(" = ") for g in answer["new_gradients"])
    for leaf in (w, x, b):
        assert shown[f"\\frac{{\\partial f}}{{\\partial {leaf}}}"] == number_latex(sympy.diff(f, leaf).subs(at))


def test_sigmoid_sse_target_three_by_sympy():
    w1, w2, b = sympy.symbols("w1 w2 b")
    data = (((1, 2), NEW_TARGET), ((sympy.Rational(1, 2), -1), 0), ((-1, sympy.Rational(1, 2)), 1))
    e = sum((1 / (1 + sympy.exp(-(w1 * x1 + w2 * x2 + b))) - y) ** 2 for (x1, x2), y in data) / 2
    at = {w1: sympy.Rational(1, 2), w2: sympy.Rational(-1, 4), b: sympy.Rational(1, 10)}
    answer = dict(by_kind("sigmoid-sse")["target"].answer)
    assert answer["after"] == f"E = {number_latex(e.subs(at).evalf(30))}"
    values = [float(g.split(" = ")[1]) for g in answer["new_gradients"]]
    assert values == pytest.approx([float(sympy.diff(e, s).subs(at)) for s in (w1, w2, b)], rel=1e-5)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_sheet_asks_and_key_answers_in_both_languages(lang):
    w = walk("linear-model")
    sheet = make_sheet(w, 3, 2)
    heading = {"en": ("## Questions", "## Answers to the questions"), "ja": ("## 問い", "## 問いの答え")}[lang]
    worksheet = render_exercise(w, sheet, "markdown", lang)
    key = render_exercise(w, sheet, "markdown", lang, key=True)
    assert heading[0] in worksheet and heading[1] not in worksheet
    assert heading[1] in key
    assert "f = 16" in key and "f = 16" not in worksheet  # the answer of "what if the target is 3"
    for fmt in ("markdown", "latex"):
        assert render_exercise(w, sheet, fmt, lang, key=True) == render_exercise(build("linear-model"), make_sheet(
            build("linear-model"), 3, 2), fmt, lang, key=True)


@pytest.mark.parametrize("name", [n for n in SCENARIOS if scenario_walk(n).reread])  # pages derive verify reads
def test_an_edges_answer_is_a_substitution_read_term_by_term(name):
    """Issue 11: the sum of what the edges carry is written as the page writes a fan-out sum, each edge's term then
    its number (rounded numbers alone do not add up to the printed total exactly), and it holds as printed."""
    q = by_kind(name, 3)["edges"]
    if q.variant == "_none":
        return
    answer = dict(q.answer)
    d = walk(name).derivation
    value = next(n for n in d.gradients if name_latex(n) == answer["name"])
    one_term_per_edge = len(d.gradients[value].parts) == len(edges(d)[value])
    assert answer["sum"].count(" = ") == (3 if one_term_per_edge else 2)
    definitions = [f"{name_latex(n.name)} = {latex(d.definitions[n.name])}" for n in d.graph.nodes if n.op != "leaf"]
    values = [f"{name_latex(n)} = {exact_latex(v)}" for n, v in d.point.items()]
    letters = walk(name).layered  # delta-recurrence's u^{2}_{11}: a layer, as its page says
    layered = f"<!-- derive: layered {' '.join(letters)} -->\n" if letters else ""
    page = (f"<!-- derive: numbers strict -->\n<!-- derive: output {name_latex(d.output)} -->\n{layered}"
            f"<!-- derive: given {'; '.join(definitions + values)} -->\n$${answer['sum']}$$\n")
    report = verify_text(page)
    assert report.exit_code == 0, [(c.claim, [(s.index, s.ok) for s in c.steps]) for c in report.claims]
