"""Issue 11: every printed equation checked as printed. derive re-reads its own pages with its own verifier (the
truth loop), and a page with a wrong or unreadable relation is never written.

The pages are the real ones (built-in scenarios and `derive explain`); the corruptions are made on their text, each
at a line the test finds, and each must be caught at that line."""
from __future__ import annotations

import re
from functools import lru_cache

import pytest

from conftest import ROOT, scenario_page, scenario_walk
from derive import documents
from derive.cli import main
from derive.gallery import DIAGRAM, NETWORK_EXAMPLES
from derive.networks import explain_text
from derive.networks.backprop import MAX_REREAD_UNITS
from derive.present.context import build_context
from derive.present.render import render
from derive.present.tex import own_definitions
from derive.scenarios import SCENARIOS
from derive.verify import ClaimCache, verify_text
from derive.verify.own_tex import brace_group
from derive.verify.pages import PageDoesNotHold, check_page

REREAD = [name for name in SCENARIOS if scenario_walk(name).reread]


@lru_cache(maxsize=None)
def network(stem: str):
    """An example network of the gallery, explained once per test session."""
    return explain_text((ROOT / "examples" / "networks" / f"{stem}.toml").read_text(encoding="utf-8"), f"{stem}.toml")


@lru_cache(maxsize=None)
def network_page(stem: str, lang: str, fmt: str = "markdown") -> str:
    return render(network(stem), fmt, lang, figure_href=DIAGRAM)


NETWORKS = [stem for stem in NETWORK_EXAMPLES if network(stem).reread]
EXPLAINED = [
    ["(x + y) * z", "--at", "x=-2,y=5,z=-4"],
    # an input read by a node directly and through another of its inputs: the local gradient holds that one fixed
    ["x^2 + x", "--at", "x=2"],
    ["x*exp(x)", "--at", "x=1"],
    ["x(x+1)", "--at", "x=2"],
    ["y + x*y"],
    ["(x + sin(x))^2", "--at", "x=0.5"],
    # an output that does not depend on its variable: its slope is 0, and that holds
    ["x - x", "--at", "x=2"],
    ["x^0", "--at", "x=2"],
    ["g = exp(e)", "--at", "e=-1"],
    ["sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--step", "lr=0.1"],
    ["x**2 + 3*x"],
    ["log(x)*y", "--at", "x=2,y=3", "--step", "lr=0.5,steps=2"],
    ["tanh(a*b)", "--at", "a=1,b=0.5"],
    ["(w*x - t)**2", "--at", "w=1,x=2,t=4", "--wrt", "w", "--optimizer", "momentum", "--step", "lr=0.1,steps=3"],
    ["w*x + b", "--at", "w=2,x=3,b=1", "--optimizer", "sgd", "--step", "lr=0.1,steps=2"],
    ["(w*x + b - 4)**2", "--at", "w=1,x=2,b=0", "--optimizer", "momentum", "--step", "lr=0.05,steps=2"],
    ["sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--optimizer", "adam", "--step", "lr=0.1,steps=3"],
    ["(w*x - t)**2", "--at", "w=1,x=2,t=4", "--wrt", "w", "--optimizer", "rmsprop", "--step", "lr=0.1,steps=4"],
    ["(w*x - t)**2", "--at", "w=1,x=2,t=4", "--optimizer", "adagrad", "--step", "lr=0.1,steps=2"],
    ["1/(1 + exp(-x))", "--at", "x=0.3"],
]


def test_the_first_lessons_are_read_back():
    """The pages the loop covers today; the others say they are not read back (Walkthrough.reread)."""
    assert {"toast", "linear-model", "activations"} <= set(REREAD)


FORMATS = ["markdown", "latex", "beamer"]
STRICT = {"markdown": "<!-- derive: numbers strict -->", "latex": "\n% derive: numbers strict\n",
          "beamer": "\n% derive: numbers strict\n"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", REREAD)
def test_every_relation_of_a_scenario_page_holds_as_printed(name, lang, fmt):
    text = scenario_page(name, lang, fmt)
    report = check_page(text, name, own_definitions)
    assert report.exit_code == 0 and not report.skipped
    assert len(report.claims) >= 30  # the whole page was read, not one scope of it
    assert STRICT[fmt] in text
    scopes = re.findall(r"derive: scope (\S+)", text)
    assert scopes == re.findall(r"derive: scope (\S+)", scenario_page(name, lang))  # the Markdown's bindings


def test_the_single_sample_sigmoid_network_is_read_back():
    assert "design-example" in NETWORKS


def test_the_batched_sigmoid_network_is_read_back_with_a_sample_index():
    """A batch's page binds the data as a^{1}_{j,n}, t_{j,n} and writes its index forms per sample (z^{l}_{j,n},
    δ^{l}_{j,n}, the gradient summed over n), so that its matrices (one column a sample) are read as printed."""
    assert "batch-sigmoid-sse" in NETWORKS
    text = network_page("batch-sigmoid-sse", "en")
    assert r"a^{1}_{2,3} = 1" in text and r"t_{1,3} = 0" in text and "N = 3" in text
    assert r"\frac{\partial C}{\partial w^{l}_{ji}} = \sum_{n=1}^{N} \delta^{l}_{j,n}" in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("stem", NETWORKS)
def test_every_relation_of_a_network_page_holds_as_printed(stem, lang, fmt):
    """The example networks' pages (`derive build`, `derive explain --network`), Markdown, article and slides:
    matrices written out, ⊙, ᵀ, layered names, the update and the forward pass after it, each in its scope."""
    text = network_page(stem, lang, fmt)
    report = check_page(text, stem, own_definitions)
    assert report.exit_code == 0 and not report.skipped
    assert len(report.claims) >= 30
    assert STRICT[fmt] in text
    scopes = re.findall(r"derive: scope (\S+(?: from \S+)?)", text)
    assert "after from walk" in scopes
    assert scopes == re.findall(r"derive: scope (\S+(?: from \S+)?)", network_page(stem, lang))


THREE_UNITS = """activation = "sigmoid"
loss = "sse"
learning_rate = 0.25
input = [1.0, -2.0, 0.5]
target = [0.5]
[[layer]]
W = [[0.1, 0.2, 0.3], [0.3, -0.4, 0.5], [0.5, 0.6, -0.1]]
b = [0.0, 0.1, -0.2]
[[layer]]
W = [[0.1, 0.2, 0.3]]
b = [0.01]
"""


def test_a_network_page_with_three_hidden_units_holds_as_printed():
    """A 3-3-1 network: ∂C/∂W² = δ² (a¹)ᵀ written out has entries whose rounded factors multiply to one digit off
    the printed exact value; strict numbers judge a matrix of numbers at the end of a chain, like one number, by
    the exact value of the last member written with symbols."""
    result = explain_text(THREE_UNITS, "three.toml")
    assert result.reread
    for lang in ("en", "ja"):
        report = check_page(render(result, "markdown", lang, figure_href=DIAGRAM), "three.md")
        assert report.exit_code == 0 and not report.skipped and len(report.claims) >= 30


TWO_HIDDEN = """activation = "sigmoid"
loss = "sse"
learning_rate = 0.1
input = [1.0, 0.5]
target = [0.0, 1.0, 0.5]
[[layer]]
W = [[0.1, -0.2], [0.3, 0.4], [0.2, 0.1], [-0.1, 0.2]]
b = [0.05, 0.1, -0.05, 0.2]
[[layer]]
W = [[0.5, -0.6, 0.1, 0.2], [0.7, 0.8, -0.2, 0.1]]
b = [0.2, -0.1]
[[layer]]
W = [[0.3, -0.4], [0.2, 0.6], [-0.5, 0.1]]
b = [0.1, 0.0, -0.2]
"""


@lru_cache(maxsize=None)
def two_hidden_page(fmt: str) -> str:
    """A 2-4-2-3 network (depth 4): the δ recurrence runs twice, from layer 4 to 3 and from 3 to 2."""
    result = explain_text(TWO_HIDDEN, "deep.toml")
    assert result.reread and result.network.depth == 4
    return render(result, fmt, "en", figure_href=DIAGRAM)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_network_with_two_hidden_layers_is_read_back(fmt):
    """The general recurrence names layers l and l + 1 of a network with layers 2, 3, 4: read on the page's own
    sizes, and each layer's δ checked as printed, unit by unit and as a vector."""
    report = check_page(two_hidden_page(fmt), "deep", own_definitions)
    assert report.exit_code == 0 and not report.skipped and len(report.claims) >= 50
    checked = {c.claim.split(" = ")[0] for c in report.claims if all(s.ok for s in c.steps)}
    assert {r"\delta^{4}_{1}", r"\delta^{3}_{2}", r"\delta^{2}_{4}"} <= checked
    recurrence = [c for c in report.claims if c.claim.startswith(r"\delta^{l}_{j} = \left(\sum")]
    assert recurrence and all(c.ok and "l" in c.free_indices and c.instances > 1 for c in recurrence)


def flip_last_number(text: str, start_of_chain: str) -> tuple[str, int]:
    """The last number of the first displayed chain that starts with ``start_of_chain`` (its result, or the last
    entry of the vector it ends with), off by one in its last digit."""
    start, end = next(span for span in displayed_chains(text) if text.startswith(start_of_chain, span[0]))
    number = list(_NUMBER.finditer(text, start, end))[-1]
    flipped = number.group()[:-1] + str((int(number.group()[-1]) + 1) % 10)
    return text[:number.start()] + flipped + text[number.end():], _line_of(text, start)


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
@pytest.mark.parametrize("chain", [r"\delta^{4}_{1} = ", r"\delta^{4} = ", r"\delta^{2}_{1} = ", r"\delta^{2} = "],
                         ids=["output-unit", "output-vector", "last-hidden-unit", "last-hidden-vector"])
def test_a_wrong_delta_of_a_deep_network_is_caught_at_its_line(chain, fmt):
    """The output layer's δ (the last layer) and the last one the recurrence reaches (layer 2), one digit off."""
    corrupted, line = flip_last_number(two_hidden_page(fmt), chain)
    with pytest.raises(PageDoesNotHold, match=rf"^deep, line {line}: the link .* does not hold"):
        check_page(corrupted, "deep", own_definitions)


def wide_input(extra: int) -> str:
    """THREE_UNITS (7 units) with ``extra`` more input units, each weighted 0 into the hidden layer."""
    rows = [[0.1, 0.2, 0.3], [0.3, -0.4, 0.5], [0.5, 0.6, -0.1]]
    text = THREE_UNITS.replace("input = [1.0, -2.0, 0.5]", f"input = {[1.0, -2.0, 0.5] + [0.1] * extra}")
    return text.replace(str(rows), str([row + [0] * extra for row in rows]))


RELU_AT_KINK = """activation = "relu"
loss = "sse"
learning_rate = 0.5
input = [1.0, 0.5, -1.0]
target = [1.0, 0.0]
[[layer]]
W = [[0.2, 0.2, 0.3], [0.3, 0.4, -0.5], [0.6, 0.1, 0.2]]
b = [0.0, 0.1, -0.1]
[[layer]]
W = [[0.5, -0.6, 0.1], [0.7, 0.8, -0.3]]
b = [0.2, -0.1]
"""
"""A one-sample ReLU network whose first hidden unit sits on the kink: z²₁ = 0.2 + 0.1 − 0.3 = 0 exactly."""

RELU_SOFTMAX = (ROOT / "examples" / "networks" / "relu-cross-entropy.toml").read_text(encoding="utf-8").replace(
    "input = [[1.0, 0.5, -1.0], [0.2, -0.3, 0.7]]\ntarget = [[1.0, 0.0], [0.25, 0.75]]",
    "input = [1.0, 0.5, -1.0]\ntarget = [1.0, 0.0]")
"""The gallery's relu-cross-entropy network with its first sample only: ReLU hidden units, a softmax output and
the cross-entropy, bound without a sample index (the batch of two is a gallery page, `NETWORKS`)."""

RELU_NETWORKS = {"relu-kink": RELU_AT_KINK, "relu-softmax": RELU_SOFTMAX}


@lru_cache(maxsize=16)
def relu_page(name: str, lang: str, fmt: str) -> str:
    return render(explain_text(RELU_NETWORKS[name], f"{name}.toml"), fmt, lang, figure_href=DIAGRAM)


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
@pytest.mark.parametrize("name", list(RELU_NETWORKS))
def test_a_relu_network_page_holds_as_printed(name, lang, fmt):
    """The page binds σ(z) = max(0, z), so σ and σ' mean ReLU and its derivative for the reader (0 at the kink, as
    the page says): every relation holds, the step ReLU'(0) = 0 included; a softmax output is bound as the output
    layer's own rule a^{L}_{k}, with the cross-entropy and the condition Σ_j t_j = 1 its δ^L = a^L − t needs."""
    result = explain_text(RELU_NETWORKS[name], f"{name}.toml")
    assert result.reread and not result.network.batched
    text = relu_page(name, lang, fmt)
    assert r"\sigma\left(z\right) = \max\left(0, z\right)" in text
    if name == "relu-kink":
        assert r"\sigma'\left(z^{2}\right) = \left(\begin{array}{r}0 \\ 1 \\ 1\end{array}\right)" in text
    else:
        assert r"a^{3} = \operatorname{softmax}\left(z^{3}\right)" in text and r"\sum_{j=1}^{2} t_{j} = 1" in text
    report = check_page(text, f"{name}.{fmt}", own_definitions)
    assert report.exit_code == 0 and not report.skipped and len(report.claims) >= 40


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_batched_relu_cross_entropy_network_is_read_back_sample_by_sample(fmt):
    """The gallery's batch of two through ReLU hidden units and a softmax output: the page binds the softmax rule
    and the targets' condition per sample (a^{L}_{k,n}, Σ_j t_{j,n} = 1), so that softmax(z^{3}) is read column
    by column; it is among the pages every seeded corruption kind is tried on (`PAGES`)."""
    result = network("relu-cross-entropy")
    assert result.reread and result.network.batched and result.network.samples == 2
    assert "relu-cross-entropy" in NETWORKS
    text = network_page("relu-cross-entropy", "en", fmt)
    assert (r"a^{L}_{k,n} = \frac{\exp\left(z^{L}_{k,n}\right)}{\sum_{i=1}^{m} \exp\left(z^{L}_{i,n}\right)}"
            in text and r"\sum_{j=1}^{2} t_{j,n} = 1" in text and "Every hidden layer uses the ReLU" in text)
    softmax = r"\operatorname{softmax}\left(z^{3}\right) = \left(\begin{array}{rr}0.24974 & 0.570527"
    assert softmax in text
    # one column's softmax put in the other sample's place: each column is the softmax of its own z^{3}_{·,n}
    wrong = softmax.replace("0.24974 & 0.570527", "0.570527 & 0.24974")
    with pytest.raises(PageDoesNotHold, match=r"softmax"):
        check_page(text.replace(softmax, wrong, 1), f"relu-cross-entropy.{fmt}", own_definitions)


@pytest.mark.parametrize("old, new", [
    (r"\sigma'\left(z^{2}\right) = \left(\begin{array}{r}0 \\",  # the unit on the kink given slope 1
     r"\sigma'\left(z^{2}\right) = \left(\begin{array}{r}1 \\"),
    (r"1 & z > 0 \\ 0 & z \le 0", r"1 & z \ge 0 \\ 0 & z < 0"),  # the kink's side in the derivative's rule
    (r"z & z > 0 \\ 0 & z \le 0", r"z & z > 0 \\ 0.5 \cdot z & z \le 0"),  # σ is not what the page binds
])
def test_a_relu_page_claiming_the_other_side_of_the_kink_is_caught(old, new):
    text = relu_page("relu-kink", "en", "markdown")
    assert old in text
    with pytest.raises(PageDoesNotHold):
        check_page(text.replace(old, new, 1), "relu.md", own_definitions)


@pytest.mark.parametrize("change, why", [
    (("[[layer]]\nW = [[0.1, 0.2, 0.3], [0.3, -0.4, 0.5], [0.5, 0.6, -0.1]]\nb = [0.0, 0.1, -0.2]\n", ""),
     "no hidden layer"),
    (None, f"more than {MAX_REREAD_UNITS} units"),
    (("input = [1.0, -2.0, 0.5]\ntarget = [0.5]", "input = [" + ", ".join(["[1.0, -2.0, 0.5]"] * 5) + "]\ntarget = [" + ", ".join(["[0.5]"] * 5) + "]"),
     "more than 4 samples"),
])
def test_network_pages_beyond_the_loops_reach_are_not_read_back(change, why, capsys, tmp_path):
    """What the loop does not cover is said by `NetworkResult.reread`, and explain still writes the page."""
    if change is None:  # one unit past the limit
        text = wide_input(MAX_REREAD_UNITS - 7 + 1)
        assert explain_text(wide_input(MAX_REREAD_UNITS - 7), "net.toml").reread
    else:
        text = THREE_UNITS.replace(*change)
    assert text != THREE_UNITS
    assert not explain_text(text, "net.toml").reread, why
    path = tmp_path / "net.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["explain", "--network", str(path), "-o", str(tmp_path / "net.md")]) == 0


def explained(args, lang="en", fmt="markdown") -> str:
    from derive.api import explain
    at = dict(zip(args[1::2], args[2::2]))
    result = explain(args[0], at=at.get("--at"), step=at.get("--step"), optimizer=at.get("--optimizer"))
    return render(result.document, fmt, lang)


@pytest.mark.parametrize("args", EXPLAINED, ids=lambda a: a[0])
def test_every_explain_page_holds_as_printed(args, capsys):
    assert main(["explain", *args]) == 0
    page = capsys.readouterr().out
    report = verify_text(page)
    assert report.exit_code == 0 and not report.skipped and report.claims
    if "--optimizer" in args:  # an optimiser's steps carry their scopes: each step's state and settings
        assert "<!-- derive: scope update-2 from update-1 -->" in page and "\\leftarrow" in page


def test_a_wrong_local_gradient_with_an_input_held_is_caught():
    """(∂f/∂x)_{u₁} is f's gradient along its own edge to x only: the page printing the gradient along every path
    there (u₁ + x·u₁ = 5.43656 for f = x·u₁, u₁ = eˣ at x = 1) does not hold."""
    page = explained(["x*exp(x)", "--at", "x=1"])
    symbol = r"$\left(\frac{\partial f}{\partial x}\right)_{u_{1}}$"
    assert f"the local gradient {symbol} is taken with $u_{{1}}$ held fixed" in page
    assert f"局所的な微分 {symbol} は $u_{{1}}$ を固定して求めます" in explained(["x*exp(x)", "--at", "x=1"], "ja")
    held = r"1 \cdot \left(\frac{\partial f}{\partial x}\right)_{u_{1}} = 1 \cdot u_{1} = 1 \cdot 2.71828 = 2.71828"
    assert held in page
    wrong = held.replace(r"1 \cdot u_{1} = 1 \cdot 2.71828 = 2.71828",
                         r"1 \cdot \left(u_{1} + x \cdot u_{1}\right) = 1 \cdot 5.43656 = 5.43656")
    line = page[:page.index(held)].count("\n") + 1
    with pytest.raises(PageDoesNotHold, match=rf"^page\.md, line {line}:"):
        check_page(page.replace(held, wrong), "page.md")


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("name", ["toast", "linear-model"])
def test_a_scenario_rerun_by_an_optimiser_holds_as_printed(name, optimizer, capsys):
    """`derive show NAME --optimizer …`: every step's states, bias corrections and updates read back."""
    assert main(["show", name, "--optimizer", optimizer, "--step", "steps=3"]) == 0
    page = capsys.readouterr().out
    report = check_page(page, name)
    assert report.exit_code == 0 and not report.skipped
    assert "<!-- derive: scope update-3 from update-2 -->" in page


# --- seeded corruptions: each must be caught, at its line ------------------------------------------------------

_SEP = r"\s*&?=\s*"  # a link of a chain: " = ", or "&= " in a row of an alignment
_SUBSTITUTION = re.compile(rf"{_SEP}(?P<numbers>[^=&]*\\cdot[^=&]*?){_SEP}(?P<result>-?[\d.]+)"
                           r"(?:\s*\\times\s*10\^\{-?\d+\})?\s*$")  # a result may carry a power of ten
_NUMBER = re.compile(r"(?<![\w.{])-?\d+(?:\.\d+)?(?![\w.}])")
_ROW_END = re.compile(r"\s*\\\\(?:\[[^\]]*\])?\s*$")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def displayed_chains(text: str) -> list[tuple[int, int]]:
    r"""(start, end) of each displayed chain written on one line: a Markdown ``$$…$$`` line; in LaTeX the first
    argument of derive's ``\dchain`` (a network's ``\dnchain``, a slide table's ``\dvrows``), a row of an
    alignment that holds a whole chain (``lhs &= … = …``) and a slide's table cell in display style."""
    spans = [m.span(1) for m in re.finditer(r"^\$\$(.*)\$\$$", text, re.M)]
    for m in re.finditer(r"^\\dn?chain\{|\\dvrows\{", text, re.M):  # a slide's \dvrows: its one-line form
        end = brace_group(text, m.end() - 1)
        if end is not None and "\n" not in text[m.end():end - 1]:
            spans.append((m.end(), end - 1))
    for m in re.finditer(r"^(?!\\dn?chain|\\dv)([^&%\n$ ][^&\n$]*?&=[^\n$]*)$", text, re.M):
        row_end = _ROW_END.search(m.group(1))
        spans.append((m.start(1), m.start(1) + (row_end.start() if row_end else len(m.group(1)))))
    spans += [m.span(1) for m in re.finditer(r"\$\\displaystyle ([^$\n]*)\$", text)]  # a slide's table cell
    return sorted(spans)


def _substitutions(text: str):
    for start, end in displayed_chains(text):
        match = _SUBSTITUTION.search(text, start, end)
        if match is not None:
            yield match


def flip_result(text: str) -> tuple[str, int]:
    """The printed value of a chain, off by one in its last digit."""
    match = next(m for m in _substitutions(text) if m.group("result") not in ("0", "1"))
    start, end = match.span("result")
    result = match.group("result")
    flipped = result[:-1] + str((int(result[-1]) + 1) % 10)
    return text[:start] + flipped + text[end:], _line_of(text, start)


def swap_terms(text: str) -> tuple[str, int]:
    """Two different numbers of a substitution in the other order (the products still agree)."""
    for match in _substitutions(text):
        numbers = _NUMBER.findall(match.group("numbers").replace(r"\left(", "").replace(r"\right)", ""))
        if len(set(numbers)) >= 2:
            member = match.group("numbers")
            a, b = numbers[0], next(n for n in numbers if n != numbers[0])
            swapped = member.replace(a, "\0").replace(b, a, 1).replace("\0", b, 1)
            start, end = match.span("numbers")
            return text[:start] + swapped + text[end:], _line_of(text, start)
    raise NotApplicable("no substitution with two different numbers")


def drop_factor(text: str) -> tuple[str, int]:
    r"""A chain-rule factor lost: ``∂E/∂y · ∂y/∂w`` written ``∂E/∂y`` (on a network page, where no chain starts
    with a partial: ``δ^{3}_{1} = ∂C/∂a^{3}_{1} · σ'(z^{3}_{1}) = …`` or the recurrence's ``δ^{2}_{1} = (Σ_k w δ) ·
    σ'(z^{2}_{1}) = …`` written without its σ')."""
    name = r"(?:[^{}]|\{[^{}]*\})+"
    partial = rf"\\frac\{{\\partial {name}\}}\{{\\partial {name}\}}"
    summed = r"\\left\((?:(?!\\left\(|\\right\)).)*\\right\)"
    product = re.compile(rf"({partial}) \\cdot {partial}(?={_SEP})")
    gate = re.compile(rf"([^=&$]*?{_SEP})({partial}|{summed}) \\cdot \\sigma'\\left\({name}\\right\)(?={_SEP})")
    for start, end in displayed_chains(text):
        match = product.match(text, start, end) or gate.match(text, start, end)
        if match and not re.search(r"\\cdot 1(?![\d.])", text[start:end]):  # a link worth 1 may be left out
            return text[:match.start()] + "".join(match.groups()) + text[match.end():], _line_of(text, start)
    raise NotApplicable("no displayed chain-rule product")


def misround(text: str) -> tuple[str, int]:
    """The longest decimal of a displayed chain with its last digit one more: a value rounded (or copied) wrongly."""
    found = [(len(m.group()), start + m.start(), m.group()) for start, end in displayed_chains(text)
             for m in re.finditer(r"(?<![\d.])\d+\.\d+(?![\d])", text[start:end])]
    if not found:
        raise NotApplicable("this page prints no decimal in a displayed chain")
    _, start, number = max(found)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    return text[:start] + wrong + text[start + len(number):], _line_of(text, start)


def merge_scopes(text: str) -> tuple[str, int]:
    """A scope directive removed: a symbol of one part of the page is then reused with another meaning. The first
    scope with a meaning of its own (not the walk's): a network page's forward pass after the update (with the new
    weights, the scope whose symbols the walk's reuse), else a section's own, a part's, or a rule-card row's."""
    match = re.search(r"^<!-- derive: scope after from walk -->$|^% derive: scope after from walk\n", text, re.M) \
        or re.search(r"^<!-- derive: scope (?!walk\b)[\w.-]+ -->$|<!-- derive: scope [\w-]+\.1 --> "
                     r"|^% derive: scope (?!walk\b)[\w.-]+\n", text, re.M)
    if match is None:
        raise NotApplicable("a page with one scope has no scope to remove")
    start, end = match.span()
    return text[:start] + text[end:], _line_of(text, start)


_TEX_TABLE = re.compile(r"\\begin\{(tabular|longtable)\}")
_TEX_NUMBER_CELL = re.compile(r"& \$(-?\d+(?:\.\d+)?)\$ (?:\\\\|&)")
_MD_NUMBER_CELL = re.compile(r"\| \$(-?\d+(?:\.\d+)?)\$ \|")


def first_number_cell(text: str, directive: re.Match) -> int | None:
    """Where the first number cell of the table after ``directive`` ends: in a Markdown table's body, or in a
    ``tabular``'s (after its header's ``\\midrule``)."""
    if directive.group().startswith("%"):
        begin = _TEX_TABLE.search(text, directive.end())
        end = text.index(r"\end{" + begin.group(1) + "}", begin.end())
        cell = _TEX_NUMBER_CELL.search(text, text.index(r"\midrule", begin.end()), end)
        return cell.end(1) if cell else None
    body = list(re.finditer(r"^\|.*\|$", text[directive.end():], re.M))[2:]  # past the header and the rule
    cells = [directive.end() + row.start() + cell.end(1) for row in body
             for cell in [_MD_NUMBER_CELL.search(row.group())] if cell]
    return cells[0] if cells else None


def flip_table_cell(text: str) -> tuple[str, int]:
    """A number in a table under a `columns` directive (a node's value, a gradient) off by one in its last digit."""
    directive = re.search(r"^<!-- derive: columns .*-->$|^% derive: columns .*$", text, re.M)
    if directive is None:
        raise NotApplicable("no table on this page states its columns")
    end = first_number_cell(text, directive)
    assert end is not None, "no number in the table"
    start = end - 1
    return text[:start] + str((int(text[start]) + 1) % 10) + text[end:], _line_of(text, start)


class NotApplicable(Exception):
    """A page has nothing this corruption could change (a page of integers has no decimal to misround)."""


CORRUPTIONS = [flip_result, swap_terms, drop_factor, misround, merge_scopes, flip_table_cell]


def pages() -> dict[str, object]:
    found = {f"{name}-{lang}-{fmt}": (lambda name=name, lang=lang, fmt=fmt: scenario_page(name, lang, fmt))
             for name in REREAD for lang in ("en", "ja") for fmt in FORMATS}
    for fmt in FORMATS:
        found[f"explain-sigmoid-{fmt}"] = lambda fmt=fmt: explained(
            ["sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--step", "lr=0.1"], fmt=fmt)
    for stem in NETWORKS:
        for lang in ("en", "ja"):
            for fmt in FORMATS:
                found[f"network-{stem}-{lang}-{fmt}"] = (
                    lambda stem=stem, lang=lang, fmt=fmt: network_page(stem, lang, fmt))
    for name in RELU_NETWORKS:
        for fmt in ("markdown", "latex"):
            found[f"network-{name}-en-{fmt}"] = lambda name=name, fmt=fmt: relu_page(name, "en", fmt)
    found["explain-adam-markdown"] = lambda: explained(
        ["(w*x - t)**2", "--at", "w=1,x=2,t=4", "--optimizer", "adam", "--step", "lr=0.1,steps=2"])
    return found


PAGES = pages()
NOT_APPLICABLE = {(f"linear-model-{lang}-{fmt}", "misround") for lang in ("en", "ja") for fmt in FORMATS} | {
    (f"explain-sigmoid-{fmt}", "merge_scopes") for fmt in FORMATS} | {("explain-adam-markdown", "merge_scopes")} | {
    (page, "flip_table_cell") for page in PAGES if page.startswith("network-")}
"""Integers only; one graph at one point (an optimiser's later steps only continue the one before: removing one
changes no value); the network pages' tables do not state their columns yet."""




@pytest.mark.parametrize("page, corrupt", [(p, c) for p in PAGES for c in CORRUPTIONS
                                           if (p, c.__name__) not in NOT_APPLICABLE],
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_a_seeded_corruption_is_caught_at_its_line(page, corrupt):
    text = PAGES[page]()
    corrupted, line = corrupt(text)
    assert corrupted != text
    checked = ClaimCache()  # as a build reads its pages: the claims of the page as printed are known
    assert check_page(text, "page", own_definitions, checked).exit_code == 0
    with pytest.raises(PageDoesNotHold) as caught:
        check_page(corrupted, "page.md", own_definitions)
    with pytest.raises(PageDoesNotHold) as caught_after:
        check_page(corrupted, "page.md", own_definitions, checked)
    assert str(caught_after.value) == str(caught.value)
    found = int(re.search(r"line (\d+)", str(caught.value)).group(1))
    assert str(caught.value).startswith("page.md, line ")
    if corrupt is merge_scopes:  # caught in the scope that absorbed the removed one (its definitions hold scope-wide)
        absorbing = max(_line_of(text, m.start()) for m in re.finditer(r"derive: scope ", text)
                        if _line_of(text, m.start()) < line)
        assert found >= absorbing
    else:
        assert found == line


def _bound_page(g: int = 2, weight: int = 3, x: int = 1) -> str:
    """One scope: a value set by an assignment (w), a definition (y) and a given value (x), all read by the claim on
    the last line, whose text is the same whatever the bindings."""
    return ("<!-- derive: numbers strict -->\n<!-- derive: scope s -->\n"
            f"<!-- derive: given w = 1; \\eta = 0.1; g = {g}; y = {weight} \\cdot w \\cdot x^{{2}}; x = {x} -->\n\n"
            "$$w \\leftarrow w - \\eta \\cdot g$$\n\n"
            "$$\\frac{\\partial y}{\\partial x} = 6 \\cdot w \\cdot x = 4.8$$\n")


@pytest.mark.parametrize("other", [{"g": 3}, {"weight": 4}, {"x": 2}], ids=["assigned", "defined", "given"])
def test_a_claim_two_pages_share_is_checked_under_each_pages_bindings(other):
    """The build's cache of checked claims (and of assignments' values) is keyed by what decides a claim: the same
    text under other bindings is checked anew, and fails."""
    checked = ClaimCache()
    assert check_page(_bound_page(), "a.md", claims_checked=checked).exit_code == 0
    assert checked.hits == 0 and len(checked.results) == 1 and len(checked.assigned) == 1
    assert check_page(_bound_page(), "again.md", claims_checked=checked).exit_code == 0
    assert checked.hits == 1  # the same page again: taken from the cache
    with pytest.raises(PageDoesNotHold, match=r"^b\.md, line 7: the link «") as caught:
        check_page(_bound_page(**other), "b.md", claims_checked=checked)
    assert checked.hits == 1
    with pytest.raises(PageDoesNotHold) as uncached:
        check_page(_bound_page(**other), "b.md")
    assert str(caught.value) == str(uncached.value)


@pytest.mark.parametrize("page, corrupt", sorted(NOT_APPLICABLE), ids="-".join)
def test_a_corruption_left_out_has_nothing_to_change_on_that_page(page, corrupt):
    with pytest.raises(NotApplicable):
        globals()[corrupt](PAGES[page]())


WIDE_GRADIENT_TABLES = ["toast", "linear-model", "activations", "optimizers"]
"""The decks whose result slide lists the gradients asked for in a table lying on its side (a folded page has none)."""


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", WIDE_GRADIENT_TABLES)
def test_every_gradient_of_a_slides_table_on_its_side_is_a_claim(name, lang):
    """The slides' wide table (names in its first row, gradients below) under a `rows` directive: each gradient,
    printed off by one in its last digit, is caught at its line; the names' row claims nothing."""
    text = scenario_page(name, lang, "beamer")
    directive = re.search(r"^% derive: rows .*$", text, re.M)
    assert directive is not None
    begin = _TEX_TABLE.search(text, directive.end())
    rule = text.index(r"\midrule", begin.end())
    body = text[rule:text.index(r"\end{tabular}", rule)]
    cells = [rule + m.end(1) for m in re.finditer(r"& \$(-?\d+(?:\.\d+)?)\$", body)]
    assert cells
    for end in cells:
        start = end - 1
        corrupted = text[:start] + str((int(text[start]) + 1) % 10) + text[end:]
        with pytest.raises(PageDoesNotHold, match=rf"^page, line {_line_of(text, start)}:"):
            check_page(corrupted, "page", own_definitions)


@pytest.mark.parametrize("name", REREAD)
def test_a_step_table_spread_over_overlays_is_read_once_per_overlay(name):
    """A backward step's slides show its inputs' rows on successive overlays: each row's product is on exactly one
    overlay, and is read there as a claim."""
    text = scenario_page(name, "en", "beamer")
    report = check_page(text, "page", own_definitions)
    overlays = [m.group() for m in re.finditer(r"^\\only<\d+>\{%\n.*?(?=^\\only<|^\\end\{frame\})", text, re.M | re.S)]
    claims = {(c.line, " ".join(c.claim.split())) for c in report.claims}
    terms = [term["product"] for step in build_context(scenario_walk(name), "en")["steps"] for term in step["terms"]]
    assert terms
    for product in terms:
        holding = [overlay for overlay in overlays if product + "$" in overlay or product + "}" in overlay]
        assert len(holding) == 1, product
        line = _line_of(text, text.index(holding[0])) + holding[0][:holding[0].index(product)].count("\n")
        assert any(at == line and claim.endswith(" ".join(product.split())) for at, claim in claims)  # \displaystyle …


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
def test_explain_writes_nothing_when_its_page_does_not_hold(monkeypatch, tmp_path, capsys, fmt):
    """A page that does not hold is an internal error (exit 3): nothing on stdout, no file; an article or a deck is
    read back as it is (a --body-only fragment in its whole document)."""
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, fmt="markdown", lang="en", **kw):
        text = real(document, fmt, lang, **kw)
        assert "f = -12$" in text
        return text.replace("f = -12$", "f = -13$")  # the forward pass's output, misprinted

    monkeypatch.setattr(rendering, "render", wrong)
    monkeypatch.setattr(documents, "render", wrong)  # -o: the page is read back as `save` renders it
    out = tmp_path / ("walk.md" if fmt == "markdown" else "walk.tex")
    args = ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--format", fmt]
    code = main(args + ["-o", str(out)] + (["--body-only"] if fmt == "beamer" else []))
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and captured.out == ""
    assert "the walk-through, line" in captured.err and "does not hold" in captured.err
    monkeypatch.setattr(rendering, "render", real)
    monkeypatch.setattr(documents, "render", real)
    assert main(args + ["-o", str(out)]) == 0 and out.exists()


@pytest.mark.parametrize("args", [["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "-o", "walk.md"],
                                  ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "-o", "walk.tex"],
                                  ["show", "toast", "--format", "beamer", "-o", "toast.tex"]], ids=" ".join)
def test_a_page_written_with_o_is_rendered_once_and_read_back_as_written(monkeypatch, tmp_path, capsys, args):
    import derive.present.render as rendering
    real = rendering.render
    rendered: list[str] = []

    def counted(document, fmt="markdown", lang="en", **kw):
        rendered.append(fmt)
        return real(document, fmt, lang, **kw)

    monkeypatch.setattr(rendering, "render", counted)
    monkeypatch.setattr(documents, "render", counted)
    monkeypatch.chdir(tmp_path)
    assert main(args) == 0
    assert len(rendered) == 1 and (tmp_path / args[-1]).exists()


@pytest.mark.parametrize("fmt, suffix", [("markdown", ".md"), ("latex", ".tex"), ("beamer", ".tex")])
def test_explain_of_a_network_writes_nothing_when_its_page_does_not_hold(monkeypatch, tmp_path, capsys, fmt, suffix):
    """`derive explain --network` runs the loop too, in every format read back: the page as it is written is exit
    0; a misprinted entry of a matrix is exit 3, no file."""
    source = str(ROOT / "examples" / "networks" / "design-example.toml")
    assert main(["explain", "--network", source, "--format", fmt, "-o", str(tmp_path / f"good{suffix}")]) == 0
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, chosen="markdown", lang="en", **kw):
        text = real(document, chosen, lang, **kw)
        assert r"0.3 & 0.4\end{array}" in text
        return text.replace(r"0.3 & 0.4\end{array}", r"0.3 & 0.5\end{array}")  # W^{2} misprinted

    monkeypatch.setattr(rendering, "render", wrong)
    monkeypatch.setattr(documents, "render", wrong)
    out = tmp_path / f"net{suffix}"
    code = main(["explain", "--network", source, "--format", fmt, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and captured.out == ""
    assert "the walk-through, line" in captured.err and "does not hold" in captured.err


BUILD_SLIPS = {"markdown": ("1.4$$", "1.5$$", "en.md", ("en.html", "ja.md"), "en.tex"),
               "latex": (r"\right) = 1.4", r"\right) = 1.5", "en.tex", ("ja.tex",), "en.md"),
               "beamer": ("= 1.4}", "= 1.5}", "en-slides.tex", ("ja-slides.tex",), "en.tex")}


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
def test_build_leaves_a_failing_page_untouched(monkeypatch, tmp_path, fmt):
    """End to end: a corrupted page stops the build with exit 3 naming it, and its previous file stays."""
    import derive.gallery as gallery
    real = gallery.render
    good, bad, page, also_failing, written = BUILD_SLIPS[fmt]

    def wrong(document, chosen="markdown", lang="en", **kw):
        text = real(document, chosen, lang, **kw)
        return text.replace(good, bad) if getattr(document, "name", "") == "toast" and chosen == fmt else text

    out = tmp_path / "output"
    (out / "toast").mkdir(parents=True)
    (out / "toast" / page).write_text("previous\n", encoding="utf-8")
    monkeypatch.setattr(gallery, "render", wrong)
    with pytest.raises(PageDoesNotHold) as caught:
        gallery.build_gallery(out, pdf=False, jobs=1)
    assert str(caught.value).startswith(f"toast/{page}, line ")
    assert (out / "toast" / page).read_text(encoding="utf-8") == "previous\n"
    # nor is the Markdown's HTML page, made from it; every other document is written
    assert not any((out / "toast" / name).exists() for name in also_failing)
    committed = ROOT / "output" / "linear-model" / page
    assert (out / "linear-model" / page).read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    assert (out / "toast" / written).exists() and (out / "index.html").exists()


KEY_FILES = {"markdown": "key.md", "latex": "key.tex"}


@pytest.mark.parametrize("fmt", KEY_FILES)
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", REREAD)
def test_every_answer_of_an_exercise_key_holds_as_printed(name, lang, fmt, capsys):
    """`derive exercise NAME --key` re-reads its key (the loop runs in the command) and so does this test, in
    Markdown and LaTeX (a key defines no macro of its own: it is read under derive's preamble)."""
    assert main(["exercise", name, "--key", "--blanks", "5", "--seed", "3", "--lang", lang, "--format", fmt]) == 0
    key = capsys.readouterr().out
    report = verify_text(key, trusted=own_definitions)
    assert report.exit_code == 0 and not report.skipped and len(report.claims) >= 5
    assert STRICT[fmt] in key and re.findall(r"derive: scope (\S+)", key) == re.findall(
        r"derive: scope (\S+)", exercise_key(name, lang, "markdown"))  # the Markdown key's bindings
    corrupted, line = flip_result(key)
    with pytest.raises(PageDoesNotHold, match=rf"^{re.escape(KEY_FILES[fmt])}, line {line}:"):
        check_page(corrupted, KEY_FILES[fmt], own_definitions)


def exercise_key(name: str, lang: str, fmt: str) -> str:
    from derive.present.exercise import exercise, render_exercise
    walk, sheet = exercise(name, "5", "3")
    return render_exercise(walk, sheet, fmt, lang, key=True)


@pytest.mark.parametrize("fmt", KEY_FILES)
def test_an_exercise_key_that_does_not_hold_is_not_written(monkeypatch, tmp_path, capsys, fmt):
    """The key with one answer misprinted: exit 3, nothing on stdout, neither the worksheet nor the key written."""
    import derive.present.exercise as exercises
    real = exercises.render_exercise

    def wrong(walk, sheet, chosen="markdown", lang="en", *, key=False, **kw):
        text = real(walk, sheet, chosen, lang, key=key, **kw)
        return flip_result(text)[0] if key else text

    monkeypatch.setattr(exercises, "render_exercise", wrong)
    sheet = tmp_path / ("sheet.md" if fmt == "markdown" else "sheet.tex")
    args = ["exercise", "toast", "--blanks", "5", "--seed", "3", "--format", fmt]
    assert main(args + ["--key"]) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "the answer key, line" in captured.err
    assert main(args + ["-o", str(sheet)]) == 3
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(exercises, "render_exercise", real)
    assert main(args + ["-o", str(sheet)]) == 0 and len(list(tmp_path.iterdir())) == 2


# --- `show` relies on the check recorded when the pages were read back -------------------------------------------

def test_the_record_holds_every_page_read_back_and_nothing_else():
    """The record (derive/verify/checked-pages.sha256) is exactly the current pages of the scenarios read back: a
    changed page fails here until `python tests/record_checked_pages.py` has read it back again."""
    from derive.verify.recorded import RECORD, record_lines
    from record_checked_pages import FORMATS as SUFFIXES
    pages = {f"{name}/{lang}{suffix}": scenario_page(name, lang, fmt) for name in REREAD for lang in ("en", "ja")
             for fmt, suffix in SUFFIXES.items()}
    assert RECORD.read_text(encoding="ascii") == record_lines(pages), "run: python tests/record_checked_pages.py"


def test_show_prints_a_recorded_page_without_reading_it_again(monkeypatch, capsys):
    import derive.verify.pages as pages

    def not_called(text, document):
        raise AssertionError("a recorded page was read back again")

    monkeypatch.setattr(pages, "check_page", not_called)
    assert main(["show", "toast"]) == 0
    assert capsys.readouterr().out == scenario_page("toast", "en")


def test_show_reads_back_a_page_the_record_does_not_hold(tmp_path, capsys):
    """A user's template that prints a wrong number makes a page nobody has read: `show` reads it, exit 3."""
    folder = tmp_path / "templates" / "markdown"
    folder.mkdir(parents=True)
    shipped = (ROOT / "templates" / "markdown" / "walkthrough.md.j2").read_text(encoding="utf-8")
    wrong = shipped.replace("${{ g.value }}$", "${{ g.value }}1$", 1)
    assert wrong != shipped, "the seeded change must apply to the shipped template"
    (folder / "walkthrough.md.j2").write_text(wrong, encoding="utf-8")
    assert main(["show", "toast", "--templates", str(tmp_path / "templates")]) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and "does not hold" in captured.err


@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_show_reads_back_a_tex_file_it_writes(monkeypatch, tmp_path, capsys, fmt):
    """`show -o x.tex` writes a lecturer's handout: it is read back first (the Markdown on stdout relies on the tests)."""
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, chosen="markdown", lang="en", **kw):
        text = real(document, chosen, lang, **kw)
        assert r"\right) = 1.4" in text  # the update line w ← w − η ∂E/∂w = 1 − 0.1·(−4) = 1.4
        return text.replace(r"\right) = 1.4", r"\right) = 1.5")

    monkeypatch.setattr(rendering, "render", wrong)
    monkeypatch.setattr(documents, "render", wrong)
    out = tmp_path / "toast.tex"
    code = main(["show", "toast", "--format", fmt, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and "the walk-through, line" in captured.err
    monkeypatch.setattr(rendering, "render", real)
    monkeypatch.setattr(documents, "render", real)
    assert main(["show", "toast", "--format", fmt, "-o", str(out)]) == 0 and out.exists()
