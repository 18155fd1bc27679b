"""Every printed equation checked as printed (issue 11, parts 5 and 6): numbers, term order, names, prose."""
from __future__ import annotations

import html
import re

import pytest
import sympy

from derive.api import explain
from derive.files import shipped_folder
from derive.networks import explain_text
from derive.present.context import build_context
from derive.graph import symbol
from derive import latex_grammar as g
from derive.notation import Grad, latex, name_latex, number_latex
from derive.verify.syntax import LAYERED_BASES, is_numeric, parse_member
from derive.present.render import render
from derive.scenarios import SCENARIOS
from conftest import scenario_walk

walk = scenario_walk


def top_level_terms(text: str) -> list[str]:
    """A printed sum split into its signed terms (``- a \\cdot b``), outside braces and \\left…\\right."""
    terms, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text.startswith(r"\left", i):
            depth, i = depth + 1, i + 5
            continue
        if text.startswith(r"\right", i):
            depth, i = depth - 1, i + 6
            continue
        char = text[i]
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and i > 0 and text.startswith((" + ", " - "), i):
            terms.append(text[start:i].strip())
            start = i + 1 if text[i + 1] == "-" else i + 3
            i += 3
            continue
        i += 1
    terms.append(text[start:].strip())
    return terms


def printed_numbers(text: str) -> list[str]:
    return [re.sub(r"^\\left\((.*)\\right\)$", r"\1", part) for part in text.split(" + ")]


FAN_OUT_PROGRAMS = [
    ("x*y + x*z - x", "x=2,y=-3,z=0.5"),
    ("a = w*x; b = -(w*t); f = a*a + b", "w=0.3,x=-2,t=1.5"),
]


def fan_out_walks():
    for name in SCENARIOS:
        yield pytest.param(lambda name=name: walk(name), id=name)
    for source, at in FAN_OUT_PROGRAMS:
        yield pytest.param(lambda s=source, a=at: explain(s, at=a).walkthrough, id=source)


@pytest.mark.parametrize("make_walk", fan_out_walks())
def test_fan_out_sums_are_term_aligned(make_walk):
    """The k-th number of a fan-out sum is the value of its k-th printed term, recomputed from the data."""
    w = make_walk()
    d = w.derivation
    values = {symbol(n): v for n, v in d.values.items()}
    values.update({Grad(d.output, n): g.value for n, g in d.gradients.items()})
    contributions = {}  # printed term -> its expression, from every step that reads a node
    for step in d.steps:
        for term in step.terms:
            contributions.setdefault(term.input, {})[latex(term.contribution)] = term.contribution
    checked = 0
    for entry in build_context(w, "en")["gradients"]:
        if not entry["fan_out"]:
            continue
        _, symbolic, numeric, total = entry["equation"].split(" = ")
        terms, numbers = top_level_terms(symbolic), printed_numbers(numeric)
        assert len(terms) == len(numbers) == len(d.gradients[entry["name"]].parts)
        for printed_term, printed_number in zip(terms, numbers):
            expr = contributions[entry["name"]][printed_term]
            assert number_latex(expr.xreplace(values).evalf(30)) == printed_number, (entry["name"], printed_term)
            checked += 1
    assert checked > 0 or not any(len(g.parts) > 1 for g in d.gradients.values())


def test_softmax_fan_out_of_z12_reads_term_by_term():
    text = render(walk("softmax-cross-entropy"), "markdown", "en")
    line = next(l for l in text.splitlines() if l.startswith(r"$$\frac{\partial L}{\partial z_{12}} = "))
    assert (r"= - y_{12} \cdot y_{13} \cdot \frac{\partial L}{\partial y_{13}} + y_{12} \cdot \left(1 - y_{12}\right)"
            r" \cdot \frac{\partial L}{\partial y_{12}}") in line
    assert line.endswith(r"= 0 + \left(-0.185734\right) + 0 = -0.185734$$")


# --- delta-recurrence: the parameters as the network defines them ---------------------------------------------

MATRIX = re.compile(r"\\begin\{array\}\{r+\}(.*?)\\end\{array\}")


def numeric_matrices(text: str) -> list[list[list[float]]]:
    out = []
    for body in MATRIX.findall(text):
        try:
            out.append([[float(c) for c in row.split("&")] for row in body.split(r"\\")])
        except ValueError:
            continue  # a matrix of symbols
    return out


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_delta_recurrence_prints_the_parameters_exactly(fmt, lang):
    text = render(walk("delta-recurrence"), fmt, lang)
    for name, rows in (("W^{2}", "{rr}0.1 & -0.2 \\\\ 0.3 & 0.4"), ("b^{2}", "{r}0.05 \\\\ 0.1"),
                       ("W^{3}", "{rr}0.5 & -0.6 \\\\ 0.7 & 0.8"), ("b^{3}", "{r}0.2 \\\\ -0.1")):
        assert name + r" = \left(\begin{array}" + rows + r"\end{array}\right)" in text, name
    for wrong in ("0.0996094", "0.199219", "0.300781", "0.601562"):
        assert wrong not in text


@pytest.mark.parametrize("fmt", ["html", "json"])
def test_delta_recurrence_low_precision_numbers_nowhere(fmt):
    text = render(walk("delta-recurrence"), fmt, "en")
    for wrong in ("0.0996094", "0.199219", "0.300781", "0.601562", "0.703125", "0.796875"):
        assert wrong not in text


def test_delta_matrix_form_holds_with_the_printed_numbers():
    """δ² = ((W³)ᵀ δ³) ⊙ σ'(z²), computed from the numbers as printed, gives the printed δ² to its digits."""
    text = render(walk("delta-recurrence"), "markdown", "en")
    line = next(l for l in text.splitlines() if l.startswith(r"$$\delta^{2} = \left(\left(W^{3}\right)^{\mathsf{T}}"))
    w3, delta3, sigma_prime, delta2 = numeric_matrices(line)
    for j in range(2):
        computed = sum(w3[k][j] * delta3[k][0] for k in range(2)) * sigma_prime[j][0]
        assert computed == pytest.approx(delta2[j][0], rel=2e-5), j


# --- a variable named like a constant ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["markdown", "latex"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_leaf_e_is_not_eulers_number(fmt, lang):
    text = explain("g = exp(e)", at="e=-1").render(fmt, lang)
    assert r"e^{e}" not in text
    assert r"g = e^{\mathit{e}}" in text
    assert r"\mathit{e} = -1" in text


def test_leaf_pi_is_not_a_constant_and_other_special_names_print_plainly():
    text = explain("f = pi*i + pi + E*I + S*oo", at="pi=5,i=2,E=1,I=3,S=4,oo=6").to_markdown()
    assert r"\pi" not in text and r"\infty" not in text
    assert r"\mathit{pi} = 5" in text
    for name in ("i", "E", "I", "S"):
        assert f"${name} = " in text, name
    assert r"\mathrm{oo} = 6" in text


def test_a_page_with_a_leaf_e_verifies_as_printed(tmp_path):
    """derive's own reader takes \\mathit{e} as the variable e, so every claim of the page holds."""
    from derive.cli import main
    page = tmp_path / "e.md"
    assert main(["explain", "f = e**2 + pi*e", "--at", "e=-1,pi=5", "-o", str(page)]) == 0
    assert main(["verify", str(page), "--format", "json", "-o", str(tmp_path / "report.json")]) == 0
    import json
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and len(report["claims"]) > 10
    assert all(claim["ok"] for claim in report["claims"])
    assert any(r"\mathit{e}" in claim["claim"] for claim in report["claims"])


# --- softmax: the targets are data --------------------------------------------------------------------------------

def test_softmax_targets_have_no_gradient_anywhere():
    import json

    import jsonschema

    from derive.present.jsonout import schema
    data = json.loads(render(walk("softmax-cross-entropy"), "json"))
    jsonschema.validate(data, schema())
    targets = [f"t_{n}_{k}" for n in (1, 2) for k in (1, 2, 3)]
    assert data["constants"] == targets
    assert all(data["gradients"][t] is None and data["gradient_latex"][t] is None for t in targets)
    assert all(data["gradients"][f"z_{n}_{k}"] is not None for n in (1, 2) for k in (1, 2, 3))
    assert not any(t in step["local"] or t in step["contribution"] for step in data["steps"] for t in targets)
    for lang in ("en", "ja"):
        text = render(walk("softmax-cross-entropy"), "markdown", lang)
        assert r"\partial t_{" not in text and "0.982184" not in text


def test_a_target_held_constant_keeps_the_other_gradients():
    """Holding a leaf constant changes nothing else: the gradients equal those of the full walk."""
    from derive.backward import derive as walk_of
    from derive.scenarios import softmax_cross_entropy as sce
    graph, point = sce.build_graph(), sce.point()
    full, held = walk_of(graph, point), walk_of(graph, point, sce.LOGIT_NAMES, sce.TARGET_NAMES)
    for name, g in full.gradients.items():
        assert held.gradients[name].value == (None if name in sce.TARGET_NAMES else g.value)


def last_number(line: str) -> float | None:
    """The number that ends a displayed chain (``… = 0.235004$$``, ``… = 1.5 \\times 10^{-5}$$``), if any."""
    match = re.search(r"= (-?[\d.]+)(?: \\times 10\^\{(-?\d+)\})?\$\$$", line)
    if not match:
        return None
    return float(match.group(1)) * 10 ** int(match.group(2) or 0)


# --- activations: the upstream gradient named where ∂C/∂z appears ------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ja"])
def test_activations_name_the_upstream_gradient_of_each_value(lang):
    """Every ∂C/∂z printed in the activation sections equals the upstream gradient named just before it times
    the printed derivative, to the digits shown."""
    lines = render(walk("activations"), "markdown", lang).splitlines()
    checked = 0
    upstream = None
    derivative = None
    for line in lines:
        if line.startswith("#"):
            upstream = derivative = None  # a new section names its own upstream gradient
        named = re.search(r"\\frac\{\\partial C\}\{\\partial a\} = (-?[\d.]+)\$", line)
        if named and not line.startswith("$$"):
            upstream = float(named.group(1))
        if line.startswith("$$") and "'\\left(z\\right) = " in line and upstream is not None:
            derivative = last_number(line)
        if line.startswith(r"$$\frac{\partial C}{\partial z} = \frac{\partial C}{\partial a}") and derivative is not None:
            value = last_number(line)
            assert value == pytest.approx(upstream * derivative, rel=1e-5, abs=1e-12), line
            checked += 1
            derivative = None
    assert checked >= 8
    main = next(l for l in lines if "-0.377541" in l and "0.5" in l)
    assert r"\frac{\partial C}{\partial a} = a - t" in main


# --- vanishing gradients: the prose states what the table shows --------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ja"])
def test_vanishing_gradients_prose_states_the_table_ratios(lang):
    from derive.scenarios import vanishing_gradients as vg
    w = walk("vanishing-gradients")
    ratios = vg.ratios(w.derivation)
    low, high = number_latex(min(ratios.values())), number_latex(max(ratios.values()))
    text = render(w, "markdown", lang)
    table_column = [line.split("|")[5].strip().strip("$") for line in text.splitlines()
                    if re.match(r"\| \$[2-8]\$ \| ", line) and line.count("|") == 8]
    assert sorted(table_column, key=float) == sorted((number_latex(r) for r in ratios.values()), key=float)
    assert max(float(r) for r in table_column) > 0.25  # the bound of ¼ alone would be wrong
    for key in ("bound_result", "table_reading", "relu_reading"):
        paragraph = next(l for l in text.splitlines() if f"${low}$" in l and f"${high}$" in l
                         and l.startswith(_first_words(key, lang)))
        assert paragraph
    assert "quarter" not in text and "4 分の 1" not in text


def _first_words(key: str, lang: str) -> str:
    from derive.present.context import catalog
    return catalog(lang)[f"scenario.vanishing-gradients.text.{key}"].split("{")[0][:12]


# --- "the graph below" only where a graph follows -----------------------------------------------------------------

@pytest.mark.parametrize("lang, below", [("en", "The graph below"), ("ja", "下に示す計算グラフ")])
def test_graph_below_only_where_a_graph_follows(lang, below, tmp_path, capsys):
    from derive.cli import main
    assert main(["show", "toast", "--lang", lang]) == 0
    assert below not in capsys.readouterr().out
    assert main(["explain", "f = x*y", "--at", "x=1,y=2", "--lang", lang]) == 0
    assert below not in capsys.readouterr().out
    page = tmp_path / "toast.md"
    assert main(["show", "toast", "--lang", lang, "-o", str(page)]) == 0
    text = page.read_text()
    assert below in text and text.index(below) < text.index("![")
    assert below in render(walk("toast"), "latex", lang)


# --- one transpose sign and one bracket style ----------------------------------------------------------------------

def _network_document(fmt: str, lang: str) -> str:
    text = (shipped_folder("examples") / "networks" / "design-example.toml").read_text(encoding="utf-8")
    return render(explain_text(text, "design-example.toml"), fmt, lang)


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
@pytest.mark.parametrize("source", ["delta-recurrence", "network"])
def test_matrices_have_one_transpose_sign_and_one_bracket_style(source, fmt):
    """delta-recurrence (SymPy matrices) printed [·]ᵀ with T, the network documents (·)ᵀ with \\mathsf{T}."""
    text = render(walk(source), fmt, "en") if source != "network" else _network_document(fmt, "en")
    assert r"^{\mathsf{T}}" in text and r"\left(\begin{array}{r" in text
    assert not re.search(r"\^\{?T\b", text)  # ^T, ^{T}
    assert r"\begin{matrix}" not in text and r"\left[\begin{" not in text
    assert r"\right)\right)^{\mathsf{T}}" not in text  # a transposed matrix literal gets no second parentheses


# --- fan-out sums re-read from the page with derive's own reader ------------------------------------------------

def _value_of(node, env: dict):
    """A parsed printed member evaluated at the walk's point (``env``: parsed symbol → value)."""
    if node in env:
        return env[node]
    if isinstance(node, g.Num):
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if isinstance(node, g.Add):
        return sympy.Add(*[sign * _value_of(term, env) for sign, term in node.terms])
    if isinstance(node, g.Mul):
        return sympy.Mul(*[_value_of(factor, env) for factor in node.factors])
    if isinstance(node, g.Div):
        return _value_of(node.num, env) / _value_of(node.den, env)
    if isinstance(node, g.Neg):
        return -_value_of(node.arg, env)
    if isinstance(node, g.Pow):
        return _value_of(node.base, env) ** _value_of(node.exp, env)
    if isinstance(node, g.Func) and node.name in ("log", "exp", "tanh"):
        return getattr(sympy, node.name)(_value_of(node.arg, env))
    raise AssertionError(f"the test cannot evaluate {node}")


def _read(text: str, d):
    """``parse_member`` with the walk's own layered names (``u^{3}_{22}``: layer 3, not a cube) as layers."""
    return parse_member(text, LAYERED_BASES | {name.split("^")[0] for name in d.values if "^" in name})


def _point_of(d) -> dict:
    """Every value and gradient of the walk, keyed by its printed name as derive's reader parses it."""
    env = {_read(name_latex(name), d): value for name, value in d.values.items()}
    env.update({_read(latex(Grad(d.output, name)), d): grad.value
                for name, grad in d.gradients.items() if grad.value is not None and name != d.output})
    return env


def fan_out_links(markdown: str, d) -> list[tuple[str, str, str]]:
    """Every fan-out line of a Markdown page as (left side, printed terms, printed numbers): a displayed chain
    ``∂out/∂v = t₁ + t₂ + … = n₁ + n₂ + … = total`` for a value v that feeds more than one node."""
    fanned = {latex(Grad(d.output, name)) for name, grad in d.gradients.items() if len(grad.parts) > 1}
    links = []
    for line in markdown.splitlines():
        if not (line.startswith("$$") and line.endswith("$$")):
            continue
        members = line[2:-2].split(" = ")
        if members[0] not in fanned:
            continue
        for terms, numbers in zip(members[1:], members[2:]):
            parsed = _read(numbers, d)
            if isinstance(parsed, g.Add) and is_numeric(parsed) and not is_numeric(_read(terms, d)):
                links.append((members[0], terms, numbers))
    return links


def misaligned(links: list[tuple[str, str, str]], d) -> list[str]:
    """The links whose k-th printed number is not the k-th printed term's value, rounded as derive prints."""
    env = _point_of(d)
    problems = []
    for lhs, terms, numbers in links:
        symbolic, numeric = _read(terms, d), _read(numbers, d)
        if not isinstance(symbolic, g.Add) or len(symbolic.terms) != len(numeric.terms):
            problems.append(f"{lhs}: {terms} has not one number per term: {numbers}")
            continue
        for (sign, term), (number_sign, number) in zip(symbolic.terms, numeric.terms):
            value = sign * _value_of(term, env).evalf(30)
            if number_latex(value) != number_latex(number_sign * _value_of(number, env)):
                problems.append(f"{lhs}: the term {term} is {number_latex(value)}, printed {numbers}")
    return problems


def fan_out_cases():
    for name in SCENARIOS:
        yield pytest.param(lambda name=name: walk(name), id=name)
    for source, at in FAN_OUT_PROGRAMS:
        yield pytest.param(lambda s=source, a=at: explain(s, at=a).walkthrough, id=source)


def tex_chains(text: str) -> str:
    """A TeX or HTML page's maths with alignment marks and line breaks of aligned chains taken out."""
    text = html.unescape(text)
    text = re.sub(r"\s*\\\\(?:\[[^]]*\])?\s*&=", " =", text)
    return re.sub(r"\s*&=", " =", text)


@pytest.mark.parametrize("make_walk", fan_out_cases())
def test_printed_fan_out_sums_read_back_term_by_term(make_walk):
    """Re-read from the printed Markdown with derive's own reader: in every fan-out line the k-th printed number is
    the value of the k-th printed term at the walk's point; LaTeX, Beamer and HTML print the same link, in both
    languages."""
    w = make_walk()
    d = w.derivation
    markdown = render(w, "markdown", "en")
    links = fan_out_links(markdown, d)
    assert misaligned(links, d) == []
    shown = {e["equation"].split(" = ")[0] for e in build_context(w, "en")["gradients"] if e["fan_out"]}
    assert {lhs for lhs, _, _ in links} == shown
    for fmt, lang in (("latex", "en"), ("beamer", "en"), ("html", "en"), ("markdown", "ja"), ("latex", "ja")):
        text = tex_chains(render(w, fmt, lang))
        for lhs, terms, numbers in links:
            assert f"{lhs} = {terms} = {numbers}" in text, (fmt, lang, lhs)
            assert len(re.findall(re.escape(f"{terms} = ") + r"([^=]*?) = ", text)) == text.count(f"{terms} = ")


def test_the_read_back_catches_swapped_numbers():
    """The check above fails on a page whose numbers are out of term order."""
    w = walk("softmax-cross-entropy")
    good = render(w, "markdown", "en")
    swapped = good.replace(r"= 0 + \left(-0.185734\right) + 0 =", r"= \left(-0.185734\right) + 0 + 0 =")
    assert swapped != good
    links = fan_out_links(swapped, w.derivation)
    assert len(links) == len(fan_out_links(good, w.derivation)) >= 3
    assert [p.split(":")[0] for p in misaligned(links, w.derivation)] == [r"\frac{\partial L}{\partial z_{12}}"] * 2
