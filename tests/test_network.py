"""Networks from a file: loading and validation, the derivation against PyTorch (float64) and sympy.diff, the
DESIGN.md example by hand, rendering in every format and language, the JSON Schema, and 50 bad files.

PyTorch is a test dependency: missing under CI it fails the tests that need it (never a silent skip).
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import re
from pathlib import Path

import jsonschema
import pytest
import sympy

from derive.errors import CheckFailure, InputError
from derive.networks import (MAX_TEXT_BYTES, Mat, ShapeError, explain_file, explain_network, explain_text,
                             load_network, read_network_file)
from derive.present.network import network_json, schema
from derive.present.render import render as render_network
from derive.networks.backprop import Leaf, Prod, check_network, derive_network
from derive.networks.notation import (Apply, Display, Hadamard, MatrixProduct, Minus, Nabla, Num, Plus, Sym, Times,
                                     Transposed)
from derive.notation import latex
from derive.rules import RULES

from conftest import ROOT, require_module

EXAMPLES = ROOT / "examples" / "networks"
CORPUS = ROOT / "tests" / "corpus" / "network"
DESIGN = EXAMPLES / "design-example.toml"
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
LOSSES = ("sse", "mse", "cross_entropy")


def close(got: float, expected: float) -> bool:
    """The acceptance tolerance against PyTorch: 1e-12 + 1e-9·|expected|."""
    return abs(got - expected) <= 1e-12 + 1e-9 * abs(expected)


_CACHE: dict = {}


def explained(path: Path):
    if path not in _CACHE:
        _CACHE[path] = explain_file(path)
    return _CACHE[path]


# --- random networks ------------------------------------------------------------------------------------------------

def random_network(seed: int) -> str:
    """A network file: L = 3–6 layers, widths 1–6, the activation and loss cycling through every choice, single
    samples and batches; numbers with three decimals; points away from ReLU kinks (|z| ≥ 1e-3)."""
    rng = random.Random(seed)
    activation = ACTIVATIONS[seed % len(ACTIVATIONS)]
    loss = LOSSES[(seed // len(ACTIVATIONS)) % len(LOSSES)]
    batched = seed % 2 == 1
    L = 3 + seed % 4
    while True:
        sizes = [rng.randint(1, 6) for _ in range(L)]
        if loss == "cross_entropy":
            sizes[-1] = max(2, sizes[-1])
        N = rng.randint(1, 4) if batched else 1
        number = lambda: f"{rng.uniform(-1.5, 1.5):.3f}"  # noqa: E731
        inputs = [[number() for _ in range(sizes[0])] for _ in range(N)]
        if loss == "cross_entropy":
            targets = []
            for _ in range(N):
                if rng.random() < 0.5:
                    hot = rng.randrange(sizes[-1])
                    targets.append(["1" if k == hot else "0" for k in range(sizes[-1])])
                else:  # a probability vector with three decimals that sums to exactly 1
                    cuts = [0] + sorted(rng.sample(range(1, 1000), sizes[-1] - 1)) + [1000]
                    targets.append([f"{(hi - lo) / 1000:.3f}" for lo, hi in zip(cuts, cuts[1:])])
        else:
            targets = [[f"{rng.uniform(0, 1):.3f}" for _ in range(sizes[-1])] for _ in range(N)]
        lines = [f'activation = "{activation}"', f'loss = "{loss}"', f"learning_rate = {rng.choice(['0.1', '0.5', '0.05'])}"]
        if activation == "leaky_relu":
            lines.append(f"leaky_slope = {rng.choice(['0.01', '0.1', '0.2'])}")
        if batched:
            lines.append("input = [" + ", ".join("[" + ", ".join(x) + "]" for x in inputs) + "]")
            lines.append("target = [" + ", ".join("[" + ", ".join(t) + "]" for t in targets) + "]")
        else:
            lines.append("input = [" + ", ".join(inputs[0]) + "]")
            lines.append("target = [" + ", ".join(targets[0]) + "]")
        for l in range(1, L):
            lines.append("[[layer]]")
            lines.append("W = [" + ", ".join("[" + ", ".join(number() for _ in range(sizes[l - 1])) + "]"
                                             for _ in range(sizes[l])) + "]")
            lines.append("b = [" + ", ".join(number() for _ in range(sizes[l])) + "]")
        text = "\n".join(lines) + "\n"
        if activation not in ("relu", "leaky_relu") or _away_from_kinks(text):
            return text


def _away_from_kinks(text: str) -> bool:
    net = load_network(text, "random.toml")
    result = derive_network(net)
    return all(abs(float(z)) >= 1e-3 for l in result.forward.z for z in result.forward.z[l].entries()
               if net.activation_of(l) in ("relu", "leaky_relu"))


# --- PyTorch, float64 -------------------------------------------------------------------------------------------

def torch_reference(net) -> dict:
    """Loss, z, a, δ (= ∂C/∂z per sample, retained gradients), gradients, the step and the loss after it."""
    torch = require_module("torch")
    F = torch.nn.functional
    f64 = torch.float64
    L = net.depth

    def tensor(rows, grad=False):
        return torch.tensor([[float(v) for v in row] for row in rows], dtype=f64, requires_grad=grad)

    W = {l: tensor(net.weights[l - 2], True) for l in range(2, L + 1)}
    b = {l: torch.tensor([float(v) for v in net.biases[l - 2]], dtype=f64, requires_grad=True)
         for l in range(2, L + 1)}
    x, t = tensor(net.inputs), tensor(net.targets)

    def forward(W, b):
        a, zs, acts = x, {}, {1: x}
        for l in range(2, L + 1):
            z = a @ W[l].T + b[l]
            z.retain_grad()
            zs[l] = z
            name = net.activation_of(l)
            if name == "softmax":
                a = torch.softmax(z, dim=1)
            elif name == "sigmoid":
                a = torch.sigmoid(z)
            elif name == "tanh":
                a = torch.tanh(z)
            elif name == "relu":
                a = torch.relu(z)
            elif name == "leaky_relu":
                a = F.leaky_relu(z, float(net.leaky_slope))
            else:
                a = z
            acts[l] = a
        if net.loss == "sse":
            loss = 0.5 * F.mse_loss(a, t, reduction="sum")
        elif net.loss == "mse":
            loss = F.mse_loss(a, t, reduction="mean")
        else:
            loss = F.cross_entropy(zs[L], t, reduction="mean")  # probability targets, mean over the batch
        return loss, zs, acts

    loss, zs, acts = forward(W, b)
    loss.backward()
    eta = float(net.learning_rate)
    with torch.no_grad():
        W2 = {l: W[l] - eta * W[l].grad for l in W}
        b2 = {l: b[l] - eta * b[l].grad for l in b}
    loss_after, _, _ = forward({l: w.clone().requires_grad_(True) for l, w in W2.items()},
                               {l: v.clone().requires_grad_(True) for l, v in b2.items()})
    per_sample = lambda m: m.detach().tolist() if net.batched else m.detach()[0].tolist()  # noqa: E731
    return {
        "loss": loss.item(), "loss_after": loss_after.item(),
        "z": {str(l): per_sample(z) for l, z in zs.items()},
        "a": {str(l): per_sample(a) for l, a in acts.items()},
        "delta": {str(l): per_sample(z.grad) for l, z in zs.items()},
        "grad_W": {str(l): W[l].grad.tolist() for l in W}, "grad_b": {str(l): b[l].grad.tolist() for l in b},
        "updated_W": {str(l): w.tolist() for l, w in W2.items()}, "updated_b": {str(l): v.tolist() for l, v in b2.items()},
    }


def assert_matches(got, expected, where="") -> None:
    if isinstance(expected, dict):
        assert set(got) == set(expected), where
        for key in expected:
            assert_matches(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_matches(g, e, f"{where}[{i}]")
    else:
        assert close(float(got), float(expected)), f"{where}: derive {got!r}, PyTorch {expected!r}"


SEEDS = range(30)


def test_random_networks_cover_every_choice():
    texts = [load_network(random_network(seed), "r") for seed in SEEDS]
    assert {n.activation for n in texts} == set(ACTIVATIONS)
    assert {n.loss for n in texts} == set(LOSSES)
    assert {n.batched for n in texts} == {True, False}
    assert {n.depth for n in texts} == {3, 4, 5, 6}
    assert {(n.activation, n.loss) for n in texts} == {(a, l) for a in ACTIVATIONS for l in LOSSES}


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_pytorch(seed):
    net = load_network(random_network(seed), f"random-{seed}.toml")
    result = explain_network(net)
    data = network_json(result)
    reference = torch_reference(net)
    assert_matches({k: v for k, v in data.items() if k != "schema_version"}, reference)
    assert result.check.oracle in ("symbolic", "numeric")
    jsonschema.validate(data, schema())


# --- sympy.diff of the unrolled cost, written here independently -----------------------------------------------------

def sympy_gradients(net) -> dict:
    """Every ∂C/∂parameter by sympy.diff of the cost written out in the parameters."""
    L = net.depth
    symbols, values = {}, {}
    for l in range(2, L + 1):
        for j, row in enumerate(net.weights[l - 2]):
            for i, w in enumerate(row):
                symbols[("W", l, j, i)] = s = sympy.Symbol(f"W{l}_{j}_{i}")
                values[s] = w
            symbols[("b", l, j)] = s = sympy.Symbol(f"b{l}_{j}")
            values[s] = net.biases[l - 2][j]
    terms = []
    for x, t in zip(net.inputs, net.targets):
        a = list(x)
        for l in range(2, L + 1):
            rows = range(len(net.weights[l - 2]))
            z = [sum(symbols[("W", l, j, i)] * a[i] for i in range(len(a))) + symbols[("b", l, j)] for j in rows]
            name = net.activation_of(l)
            a = {"sigmoid": lambda v: 1 / (1 + sympy.exp(-v)), "tanh": sympy.tanh, "identity": lambda v: v,
                 "relu": lambda v: sympy.Max(0, v),
                 "leaky_relu": lambda v: sympy.Max(v, net.leaky_slope * v)}.get(
                     name, lambda v: v)
            a = [a(v) for v in z] if name != "softmax" else [sympy.exp(v) / sum(sympy.exp(u) for u in z) for v in z]
        if net.loss == "cross_entropy":
            terms += [-tk * sympy.log(ak) for ak, tk in zip(a, t) if tk != 0]
        else:
            terms += [(ak - tk) ** 2 for ak, tk in zip(a, t)]
    N, m = net.samples, net.sizes[-1]
    factor = {"sse": sympy.Rational(1, 2), "mse": sympy.Rational(1, N * m), "cross_entropy": sympy.Rational(1, N)}
    cost = factor[net.loss] * sum(terms)
    point = {s: sympy.Float(v, 30) for s, v in values.items()}
    return {key: float(sympy.N(sympy.diff(cost, s).xreplace(point), 20)) for key, s in symbols.items()}


SMALL = {
    "design": DESIGN.read_text(),
    "tanh-mse-batch": """activation = "tanh"\nloss = "mse"\nlearning_rate = 0.1\ninput = [[0.5, -1], [1, 0.25]]
target = [[0.2], [0.9]]\n[[layer]]\nW = [[0.3, -0.4], [0.8, 0.1]]\nb = [0.1, -0.2]\n[[layer]]\nW = [[0.6, -0.7]]\nb = [0.05]\n""",
    "relu-ce": """activation = "relu"\nloss = "cross_entropy"\nlearning_rate = 0.5\ninput = [1, -0.5]\ntarget = [0.25, 0.75]
[[layer]]\nW = [[0.4, 0.2], [-0.6, 0.3]]\nb = [0.1, 0.5]\n[[layer]]\nW = [[0.7, -0.2], [0.1, 0.9]]\nb = [0, 0.1]\n""",
    "leaky-sse-deep": """activation = "leaky_relu"\nleaky_slope = 0.2\nloss = "sse"\nlearning_rate = 0.1\ninput = [1.5]
target = [0.5]\n[[layer]]\nW = [[0.5], [-1]]\nb = [0.1, 0.2]\n[[layer]]\nW = [[1, 0.5]]\nb = [-0.3]\n[[layer]]\nW = [[0.8]]\nb = [0.1]\n""",
}


@pytest.mark.parametrize("name", SMALL)
def test_small_networks_match_sympy_diff(name):
    net = load_network(SMALL[name], f"{name}.toml")
    result = explain_network(net)
    assert result.check.oracle == "symbolic"  # the built-in check used sympy.diff too
    expected = sympy_gradients(net)
    for key, value in expected.items():
        got = result.grad_W[key[1]].data[key[2]][key[3]] if key[0] == "W" else result.grad_b[key[1]].data[key[2]][0]
        assert abs(float(got) - value) <= 1e-12 + 1e-9 * abs(value), (key, got, value)


# --- the DESIGN.md example, by hand --------------------------------------------------------------------------------

def test_design_example_by_hand():
    result = explained(DESIGN)
    data = network_json(result)
    sig = lambda v: 1 / (1 + sympy.exp(-v))  # noqa: E731
    assert data["z"]["2"] == [0.05, 0.6]  # 0.1·1 − 0.2·0.5 + 0.05 and 0.3·1 + 0.4·0.5 + 0.1, exactly
    assert result.forward.z[2].column(0) == (sympy.Rational(1, 20), sympy.Rational(3, 5))
    a2 = [sig(sympy.Rational(1, 20)), sig(sympy.Rational(3, 5))]
    z3 = [sympy.Rational(1, 2) * a2[0] - sympy.Rational(3, 5) * a2[1] + sympy.Rational(1, 5),
          sympy.Rational(7, 10) * a2[0] + sympy.Rational(4, 5) * a2[1] - sympy.Rational(1, 10)]
    a3 = [sig(v) for v in z3]
    loss = (a3[0] ** 2 + (a3[1] - 1) ** 2) / 2
    d3 = [a3[0] * a3[0] * (1 - a3[0]), (a3[1] - 1) * a3[1] * (1 - a3[1])]
    d2 = [(sympy.Rational(1, 2) * d3[0] + sympy.Rational(7, 10) * d3[1]) * a2[0] * (1 - a2[0]),
          (-sympy.Rational(3, 5) * d3[0] + sympy.Rational(4, 5) * d3[1]) * a2[1] * (1 - a2[1])]
    assert close(data["loss"], float(loss))
    assert all(close(g, float(e)) for g, e in zip(data["delta"]["3"], d3))
    assert all(close(g, float(e)) for g, e in zip(data["delta"]["2"], d2))
    assert all(close(data["grad_W"]["3"][j][i], float(d3[j] * a2[i])) for j in range(2) for i in range(2))
    assert all(close(data["grad_W"]["2"][j][i], float(d2[j] * [1, sympy.Rational(1, 2)][i]))
               for j in range(2) for i in range(2))
    assert close(data["updated_W"]["3"][0][0], float(sympy.Rational(1, 2) - d3[0] * a2[0] / 10))
    assert round(data["loss"], 6) == 0.183471 and round(data["loss_after"], 6) == 0.179701
    assert result.check.oracle == "symbolic"


def test_docs_example_agrees_with_the_tool():
    """docs/network-example.md quotes numbers the tool computes; every row of its table must agree."""
    doc = (ROOT / "docs" / "network-example.md").read_text(encoding="utf-8")
    data = network_json(explained(DESIGN))
    rows = re.findall(r"^\| `([a-zA-Z_]+)((?:\.\d+|\[\d+\])*)` \| (-?[\d.]+) \|", doc, re.M)
    assert len(rows) >= 20
    for key, path, shown in rows:
        value = data[key]
        for part in re.findall(r"\.(\d+)|\[(\d+)\]", path):
            value = value[part[0]] if part[0] else value[int(part[1])]
        assert float(f"{value:.6g}") == float(shown), (key, path, value, shown)
    md = render_network(explained(DESIGN), "markdown", "en")
    for fragment in re.findall(r"^> `(.+)`$", doc, re.M):
        assert fragment in md, fragment


# --- what the walk-through shows ------------------------------------------------------------------------------------

def test_markdown_shows_every_part():
    md = render_network(explained(DESIGN), "markdown", "en")
    for fragment in (
        r"z^{2} = \underbrace{W^{2}}_{2 \times 2} \, \underbrace{a^{1}}_{2 \times 1} + \underbrace{b^{2}}_{2 \times 1}",
        r"\delta^{3} = \underbrace{\nabla_{a^{3}} C}_{2 \times 1} \odot \underbrace{\sigma'\left(z^{3}\right)}_{2 \times 1}",
        r"\delta^{2} = \left(\underbrace{\left(W^{3}\right)^{\mathsf{T}}}_{2 \times 2} \, \underbrace{\delta^{3}}_{2 \times 1}\right) \odot",
        r"\delta^{l}_{j} = \left(\sum_{k=1}^{n_{l+1}} w^{l+1}_{kj} \cdot \delta^{l+1}_{k}\right) \cdot \sigma'\left(z^{l}_{j}\right)",
        r"\delta^{2}_{1} = \left(w^{3}_{11} \cdot \delta^{3}_{1} + w^{3}_{21} \cdot \delta^{3}_{2}\right)",
        r"\frac{\partial C}{\partial W^{3}} = \underbrace{\delta^{3}}_{2 \times 1} \, \underbrace{\left(a^{2}\right)^{\mathsf{T}}}_{1 \times 2}",
        r"W^{2} \leftarrow W^{2} - \eta \cdot \frac{\partial C}{\partial W^{2}} = ",  # read back as an update
        r"C = \frac{1}{2} \cdot \sum_{j=1}^{2} \left(a^{L}_{j} - t_{j}\right)^{2}",
        "= 0.183471$$", "= 0.179701$$", "0.183471$ to $0.179701",
    ):
        assert fragment in md, fragment


def test_batch_shapes_and_sums():
    result = explained(EXAMPLES / "batch-sigmoid-sse.toml")
    md = render_network(result, "markdown", "en")
    assert r"\underbrace{\delta^{3}}_{1 \times 3} \, \underbrace{\left(a^{2}\right)^{\mathsf{T}}}_{3 \times 2}" in md
    assert r"\underbrace{\mathbf{1}_{3}}_{3 \times 1}" in md  # ∂C/∂b = δ 1_N sums over the samples
    data = network_json(result)
    assert len(data["delta"]["3"]) == 3 and len(data["delta"]["3"][0]) == 1  # one vector per sample
    assert len(data["a"]["1"]) == 3
    for l in ("2", "3"):  # the batch gradient is the sum over the samples of δ a^T
        for j, row in enumerate(data["grad_W"][l]):
            for i, g in enumerate(row):
                total = sum(d[j] * a[i] for d, a in zip(data["delta"][l], data["a"][str(int(l) - 1)]))
                assert close(g, total)
            assert close(data["grad_b"][l][j], sum(d[j] for d in data["delta"][l]))


def test_exact_numbers_for_linear_networks():
    result = explained(EXAMPLES / "linear-mse.toml")
    assert result.loss == sympy.Rational(1209, 256)
    assert all(v.is_Rational for m in result.grad_W.values() for v in m.entries())
    assert result.loss_after.is_Rational
    assert "= 4.72265625$$" in render_network(result, "markdown", "en")


def test_cross_entropy_delta_is_prediction_minus_target_over_n():
    result = explained(EXAMPLES / "relu-cross-entropy.toml")
    a, t, d = result.forward.a[3], result.t, result.delta[3]
    for j in range(a.rows):
        for n in range(a.cols):
            assert d.data[j][n] == (a.data[j][n] - t.data[j][n]) / 2 or close(
                float(d.data[j][n]), float((a.data[j][n] - t.data[j][n]) / 2))
    md = render_network(result, "markdown", "en")
    assert r"\delta^{L} = \frac{1}{N} \cdot \left(a^{L} - t\right)" in md


def test_kink_skips_the_oracles_and_says_so():
    text = DESIGN.read_text().replace('"sigmoid"', '"relu"').replace("b = [0.05, 0.1]", "b = [0, 0.1]")
    result = explain_text(text.replace("W = [[0.1, -0.2]", "W = [[0.1, 0.2]"), "kink.toml")
    assert result.forward.z[2].data[0][0] == sympy.Rational(1, 5)  # not yet a kink
    kinked = explain_text(text, "kink.toml")  # z^2_1 = 0.1 − 0.1 + 0 = 0 exactly
    assert kinked.forward.z[2].data[0][0] == 0
    assert kinked.check.oracle == "none" and kinked.check.kinks[0].layer == 2
    assert kinked.sigma_prime[2].data[0][0] == 0  # relu'(0) = 0, PyTorch's convention
    md = render_network(kinked, "markdown", "en")
    assert "lies at a kink ($z^{2}_{1}$)" in md


def test_leaky_relu_slope_at_the_kink():
    text = (EXAMPLES / "leaky-relu.toml").read_text().replace("b = [0.15, 0.0, -0.2]", "b = [0.1, 0.0, -0.2]")
    result = explain_text(text, "leaky.toml")
    assert result.forward.z[2].data[0][0] == 0 and result.sigma_prime[2].data[0][0] == sympy.Rational(1, 10)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_examples_render_in_every_format_and_language(path):
    result = explained(path)
    data = json.loads(render_network(result, "json"))
    jsonschema.validate(data, schema())
    assert data["schema_version"] == 1 and set(data["z"]) == {str(l) for l in range(2, result.L + 1)}
    assert set(data["a"]) == {str(l) for l in range(1, result.L + 1)}
    for lang in ("en", "ja"):
        md = render_network(result, "markdown", lang)
        assert md == render_network(explain_file(path), "markdown", lang)  # deterministic
        assert md.startswith("# ") and "$$" in md
        tex = render_network(result, "latex", lang)
        assert tex.startswith("% !TEX program = " + ("pdflatex" if lang == "en" else "lualatex"))
        assert tex.count(r"\begin{document}") == 1 and tex.rstrip().endswith(r"\end{document}")
        slides = render_network(result, "beamer", lang)
        assert r"\documentclass[11pt,aspectratio=169]{beamer}" in slides and slides.count(r"\begin{frame}") >= 8
        html = render_network(result, "html", lang)
        assert html.startswith("<!DOCTYPE html>") and "<math" in html and "$$" not in html


SKELETON = re.compile(r"\\(?:section|subsection)\*?(?=[{\[])|\\begin\{(?:tikzpicture|tabular|longtable|align\*?|equation\*?)\}"
                      r"|\\\[|\\includegraphics|\\dnchain(?=\{)")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_the_japanese_article_has_the_english_ones_structure(path):
    """Issue 15: a network article in Japanese is the English one in structure: the same sections, diagram,
    tables and displayed equations in the same order (only the prose differs)."""
    result = explained(path)
    english, japanese = (SKELETON.findall(render_network(result, "latex", lang)) for lang in ("en", "ja"))
    assert english == japanese and english.count("\\begin{tikzpicture}") >= 1 and len(english) > 20


def test_japanese_uses_the_japanese_catalog():
    md = render_network(explained(DESIGN), "markdown", "ja")
    for word in ("順伝播", "逆伝播", "誤差", "連鎖律", "学習率", "重み", "バイアス"):
        assert word in md, word
    assert "Forward pass" not in md and "The network" not in md
    from test_locales import english_runs
    for path in sorted(EXAMPLES.glob("*.toml")):
        assert english_runs(render_network(explained(path), "markdown", "ja")) == [], path.name


def test_latex_compiles(tmp_path):
    """The English article compiles with pdflatex (the gallery compiles both languages)."""
    import subprocess
    from conftest import require_tool
    pdflatex = require_tool("pdflatex")
    (tmp_path / "network.tex").write_text(render_network(explained(EXAMPLES / "batch-sigmoid-sse.toml"), "latex",
                                                         "en"), encoding="utf-8")
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "network.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "network.pdf").stat().st_size > 0


def test_unknown_formats_and_languages_are_input_errors():
    with pytest.raises(InputError, match="unknown format"):
        render_network(explained(DESIGN), "docx", "en")
    with pytest.raises(InputError, match="unknown language"):
        render_network(explained(DESIGN), "markdown", "fr")


def test_a_deep_network_derives_with_the_numeric_oracles():
    """L = 8 layers of 8 units with a batch of 4 (issue 7's scale target): each δ^l named, no expression swell."""
    result = explained(EXAMPLES / "deep-8x8.toml")
    assert result.L == 8 and result.network.samples == 4 and result.network.parameters == 504
    assert result.check.oracle == "numeric" and result.check.directions == 4
    md = render_network(result, "markdown", "en")
    assert md.count(r"\delta^{7} = ") == 1 and r"\delta^{2}_{8,1} = " in md  # unit 8 of the first sample


# --- shapes are checked by construction -----------------------------------------------------------------------------

def test_mismatched_products_are_refused():
    W = Mat(((sympy.Integer(1), sympy.Integer(2)), (sympy.Integer(3), sympy.Integer(4)), (sympy.Integer(5), sympy.Integer(6))))
    delta = Mat(((sympy.Integer(1),), (sympy.Integer(2),), (sympy.Integer(3),)))
    with pytest.raises(ShapeError, match="3×2 matrix by a 3×1"):
        W @ delta  # the forgotten transpose
    assert (W.T @ delta).shape == (2, 1)
    with pytest.raises(ShapeError):
        Prod(Leaf(Sym("W", 3), W), Leaf(Sym("delta", 3), delta))
    with pytest.raises(ShapeError):
        W.hadamard(W.T)
    with pytest.raises(ShapeError):
        Mat(((sympy.Integer(1),), (sympy.Integer(1), sympy.Integer(2))))
    assert issubclass(ShapeError, CheckFailure)


def test_display_nodes_print_through_the_one_printer():
    """The printer dispatches on the class name; parentheses follow each node's binding (sums and matrix products
    around ⊙, sums only around · and after −)."""
    W, delta, a = Sym("W", "l+1"), Sym("delta", "l+1"), Sym("a", 2)
    recurrence = Hadamard(MatrixProduct(Transposed(W), delta), Apply("sigma", Sym("z", "l"), prime=True))
    assert latex(recurrence) == (r"\left(\left(W^{l+1}\right)^{\mathsf{T}} \, \delta^{l+1}\right) \odot "
                                 r"\sigma'\left(z^{l}\right)")
    assert latex(Times((Num(sympy.Integer(-2)), Minus(a, Plus((a, a)))))) == (
        r"\left(-2\right) \cdot \left(a^{2} - \left(a^{2} + a^{2}\right)\right)")
    assert str(Nabla(Sym("C"), a)) == r"\nabla_{a^{2}} C"

    class Unknown(Display):
        pass

    with pytest.raises(TypeError, match="Unknown"):
        latex(Unknown())


def test_a_wrong_derivative_fails_the_check(monkeypatch):
    """The network takes σ' from the rule table: a wrong entry there is caught by the independent oracles."""
    right = RULES["sigmoid"]
    wrong = dataclasses.replace(right, partials=lambda a, out, p: [d * sympy.Rational(101, 100)
                                                                   for d in right.partials(a, out, p)])
    monkeypatch.setitem(RULES, "sigmoid", wrong)
    net = load_network(DESIGN.read_text(), "design.toml")
    with pytest.raises(CheckFailure, match="self-check failed"):
        explain_network(net)


def _design_with_loss(loss: str):
    text = DESIGN.read_text().replace('loss = "sse"', f'loss = "{loss}"')
    return load_network(re.sub(r"target = \[[^\]]*\]", "target = [0.25, 0.75]", text), "design.toml")


@pytest.mark.parametrize("loss", ["sse", "mse"])
def test_the_output_gradient_shown_must_be_the_loss_rules_partial(monkeypatch, loss):
    net = _design_with_loss(loss)
    assert explain_network(net).check.oracle == "symbolic"  # the right rule agrees
    right = RULES[loss]
    wrong = dataclasses.replace(right, partials=lambda a, out, p: [d + sympy.Rational(1, 1000)
                                                                   for d in right.partials(a, out, p)])
    monkeypatch.setitem(RULES, loss, wrong)
    with pytest.raises(CheckFailure, match="rule table's partial of the loss"):
        explain_network(net)


@pytest.mark.parametrize("loss", ["sse", "mse", "cross_entropy"])
def test_the_loss_comes_from_the_rule_table(monkeypatch, loss):
    """The cost is the loss rule's forward definition: a wrong rule is caught by the float64 forward pass."""
    net = _design_with_loss(loss)
    right = RULES[loss]
    monkeypatch.setitem(RULES, loss, dataclasses.replace(
        right, forward=lambda a, p: right.forward(a, p) * sympy.Rational(101, 100)))
    with pytest.raises(CheckFailure, match="self-check failed: C = "):
        explain_network(net)


def test_the_cross_entropy_rule_against_sympy_diff_and_its_float_form():
    ys, ts = sympy.symbols("y1 y2 y3", positive=True), sympy.symbols("t1 t2 t3", real=True)
    rule = RULES["cross_entropy"]
    cost = rule.forward(ys + ts, ())
    point = dict(zip(ys + ts, (sympy.Rational(1, 5), sympy.Rational(3, 10), sympy.Rational(1, 2),
                               sympy.Rational(0), sympy.Rational(1, 4), sympy.Rational(3, 4))))
    for operand, partial in zip(ys + ts, rule.partials(ys + ts, cost, ())):
        assert sympy.simplify(partial - sympy.diff(cost, operand)) == 0
    by_hand = -(0.25 * math.log(0.3) + 0.75 * math.log(0.5))
    assert rule.numeric([complex(point[v]) for v in ys + ts], ()).real == pytest.approx(by_hand, rel=1e-15)
    assert float(cost.subs(point)) == pytest.approx(by_hand, rel=1e-15)


def test_an_unchecked_result_is_never_rendered():
    result = derive_network(load_network(DESIGN.read_text(), "design.toml"))
    with pytest.raises(CheckFailure):
        render_network(result, "markdown", "en")
    assert check_network(result).oracle == "symbolic"


# --- bad files ----------------------------------------------------------------------------------------------------

BAD = sorted(CORPUS.glob("*.toml"))


def test_corpus_is_large_enough():
    assert len(BAD) >= 30


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_files_are_input_errors_naming_the_problem(path):
    expected = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert expected.startswith("# expect: ")
    with pytest.raises(InputError) as info:
        explain_file(path)
    message = str(info.value)
    assert expected[len("# expect: "):] in message
    assert "\n" not in message and message.startswith(str(path))
    assert info.value.exit_code == 2


def test_a_million_unit_layer_is_refused_before_parsing():
    text = DESIGN.read_text().replace("b = [0.2, -0.1]", "b = [" + ", ".join(["0"] * 1_000_000) + "]")
    assert len(text.encode()) > MAX_TEXT_BYTES
    with pytest.raises(InputError, match=r"layer 3: b \(line \d+\): the file is \d+ bytes; the limit"):
        load_network(text, "huge.toml")


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="cannot read .*missing.toml: no such file"):
        read_network_file(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="cannot read .*: it is a folder"):
        read_network_file(tmp_path)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(InputError, match="the limit is"):
        read_network_file(big)


def test_decimals_are_read_exactly():
    net = load_network(DESIGN.read_text(), "design.toml")
    assert net.learning_rate == sympy.Rational(1, 10)
    assert net.weights[0][0] == (sympy.Rational(1, 10), sympy.Rational(-1, 5))
    assert net.inputs == ((sympy.Integer(1), sympy.Rational(1, 2)),) and not net.batched
    assert net.sizes == (2, 2, 2) and net.depth == 3 and net.parameters == 12
