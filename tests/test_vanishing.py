"""vanishing-gradients: the product formula, the table's ratios, the bound σ' ≤ 1/4, the plot and determinism.

The oracles are independent of the scenario's graph: ∂C/∂w^l by `sympy.diff` of the cost written as one nested
expression, and by PyTorch (float64) running the same chains.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import sympy

from conftest import ROOT, require_module
from derive.graph import symbol
from derive.notation import Grad
from derive.present.plots import draw, plot_files
from derive.present.render import attachments, render
from derive.scenarios import SCENARIOS, build
from derive.scenarios import vanishing_gradients as vg
from derive.walkthrough import Claim, Image, Table

TOL = 1e-9


def close(got, expected, rel=1e-9):
    return abs(float(got) - float(expected)) <= TOL * 1e-3 + rel * abs(float(expected))


@pytest.fixture(scope="module")
def walk():
    return build("vanishing-gradients")


@pytest.fixture(scope="module")
def chains():
    return vg.walks()


def parameters():
    point = vg.point()
    return ({l: float(point[vg.w(l)]) for l in vg.LAYERS}, {l: float(point[vg.b(l)]) for l in vg.LAYERS},
            float(point[vg.a(1)]), float(point["t"]))


def test_registered():
    assert "vanishing-gradients" in SCENARIOS


def test_gradients_agree_with_sympy_diff_of_the_nested_cost(chains):
    """C written as one expression (σ nested eight deep), differentiated by sympy for each weight."""
    weights = {l: sympy.Symbol(f"w{l}") for l in vg.LAYERS}
    point = vg.point()
    activation = point[vg.a(1)]
    for l in vg.LAYERS:
        activation = 1 / (1 + sympy.exp(-(weights[l] * activation + point[vg.b(l)])))
    cost = sympy.Rational(1, 2) * (activation - point["t"]) ** 2
    at = {weights[l]: sympy.Float(point[vg.w(l)], 40) for l in vg.LAYERS}
    sig, _ = chains
    for l in vg.LAYERS:
        expected = sympy.diff(cost, weights[l]).evalf(30, subs=at)
        assert close(sig.gradients[vg.w(l)].value, expected, 1e-20), l


def test_gradients_agree_with_pytorch(chains):
    torch = require_module("torch")
    w, b, x, t = parameters()
    sig, relu = chains
    for derivation, activation in ((sig, torch.sigmoid), (relu, torch.relu)):
        weights = {l: torch.tensor(w[l], dtype=torch.float64, requires_grad=True) for l in vg.LAYERS}
        a = torch.tensor(x, dtype=torch.float64)
        for l in vg.LAYERS:
            a = activation(weights[l] * a + b[l])
        cost = 0.5 * (a - t) ** 2
        cost.backward()
        assert close(derivation.output_value, cost.item(), 1e-12)
        for l in vg.LAYERS:
            assert close(derivation.gradients[vg.w(l)].value, weights[l].grad.item(), 1e-12), l


def test_product_formula_equals_the_walk_and_sympy(chains):
    """The scenario's product of σ' factors, with σ' from sympy.diff, gives every layer's gradient."""
    sig, _ = chains
    values = {symbol(n): v for n, v in sig.values.items()}
    primes = {vg.SigmaPrime(symbol(vg.z(l))): vg.sigmoid_prime_value(sig.values[vg.z(l)]) for l in vg.LAYERS}
    for l in vg.LAYERS:
        formula = vg.product_formula(l)
        factors = formula.args
        assert sum(isinstance(f, vg.SigmaPrime) for f in factors) == vg.L - l + 1  # one σ' per layer l … L
        value = formula.xreplace(primes).xreplace(values)
        assert close(value, sig.gradients[vg.w(l)].value), l


def test_table_ratios_match_the_product_formula(walk):
    """Each ratio of the table is |∂C/∂w^l| / |∂C/∂w^(l+1)| and equals w^(l+1)·σ'(z^l)·a^(l−1)/a^l, computed
    here from the forward values with σ' = σ(1 − σ) (not taken from the scenario)."""
    (section,) = [s for s in walk.extra if s.title_key == "scenario.vanishing-gradients.heading.table"]
    (table,) = [b for b in section.blocks if isinstance(b, Table)]
    sig, relu = vg.walks()
    assert [int(row[0]) for row in table.rows] == list(vg.LAYERS)
    for row in table.rows:
        l, z_value, prime, size, ratio, relu_size, relu_ratio = row
        a = sig.values
        assert close(z_value, a[vg.z(l)])
        s = 1 / (1 + sympy.exp(-a[vg.z(l)]))
        assert close(prime, s * (1 - s))
        assert close(size, abs(sig.gradients[vg.w(l)].value))
        assert close(relu_size, abs(relu.gradients[vg.w(l)].value))
        if l == vg.L:
            assert ratio == relu_ratio == "—"
            continue
        from_gradients = abs(sig.gradients[vg.w(l)].value) / abs(sig.gradients[vg.w(l + 1)].value)
        formula = a[vg.w(l + 1)] * s * (1 - s) * a[vg.a(l - 1)] / a[vg.a(l)]
        assert close(ratio, from_gradients) and close(ratio, formula), l
        assert 0 < ratio <= float(a[vg.w(l + 1)]) / 4 * float(a[vg.a(l - 1)] / a[vg.a(l)])  # σ' ≤ 1/4
        r = relu.values
        relu_formula = r[vg.w(l + 1)] * r[vg.a(l - 1)] / r[vg.a(l)]  # every unit active: ReLU' = 1
        assert close(relu_ratio, relu_formula), l
    claims = [b for b in section.blocks if isinstance(b, Claim)]
    assert len(claims) == len(vg.LAYERS)  # one per neighbouring pair, and the whole chain


def test_the_gradient_vanishes_for_sigmoid_and_not_for_relu(chains):
    sig, relu = chains
    first, last = vg.w(2), vg.w(vg.L)
    assert abs(sig.gradients[first].value / sig.gradients[last].value) < 1e-4
    assert 0.5 < abs(relu.gradients[first].value / relu.gradients[last].value) < 2


def test_bound_is_derived_with_sympy():
    found = vg.bound()
    assert found["critical"] == sympy.Rational(1, 2)
    assert found["peak"] == sympy.Rational(1, 4)
    assert found["at_z"] == 0
    assert found["second"] == -2
    z = symbol("z")
    assert sympy.simplify(found["derivative"] - sympy.diff(1 / (1 + sympy.exp(-z)), z)) == 0


def test_every_claim_is_checked(walk):
    from derive.walkthrough import check_claims
    claims = [b for s in walk.intro + walk.extra for b in s.blocks if isinstance(b, Claim)]
    assert len(claims) >= 2 * len(vg.LAYERS)
    check_claims(walk.derivation, walk.intro + walk.extra)
    per_layer = {c.lhs for c in claims}
    assert all(Grad("C", vg.w(l)) in per_layer for l in vg.LAYERS)


def test_plot_is_made_by_matplotlib_in_this_run(chains):
    require_module("matplotlib")
    before = "matplotlib.figure" in sys.modules
    svg, pdf = draw(vg.plot(*chains))
    assert "matplotlib.figure" in sys.modules or before
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "</svg>" in svg
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert "CreationDate" not in pdf.decode("latin-1") and "<dc:date>" not in svg


def test_the_walkthrough_carries_the_plot(walk, chains):
    (image,) = walk.images
    assert isinstance(image, Image) and image.name == vg.PLOT
    assert image.plot == vg.plot(*chains) and image.files == (vg.PLOT + ".svg", vg.PLOT + ".pdf")
    svg, pdf = draw(image.plot)
    files = attachments(walk, "markdown", None)
    assert files[vg.PLOT + ".svg"] == svg.encode("utf-8")
    assert attachments(walk, "latex", None)[vg.PLOT + ".pdf"] == pdf


def test_two_builds_are_byte_identical(walk):
    again = build("vanishing-gradients")
    for fmt in ("markdown", "json", "html"):
        for lang in ("en", "ja"):
            assert render(walk, fmt, lang) == render(again, fmt, lang), (fmt, lang)
    for fmt in ("markdown", "latex"):
        assert attachments(walk, fmt, None) == attachments(again, fmt, None)


def test_plot_bytes_are_the_same_in_a_fresh_process(walk):
    """Another interpreter (another hash seed) draws the same SVG and PDF bytes."""
    script = ("import sys, hashlib\n"
              "from derive.scenarios import vanishing_gradients as vg\n"
              "from derive.present.plots import draw\n"
              "svg, pdf = draw(vg.plot(*vg.walks()))\n"
              "print(hashlib.sha256(svg.encode()).hexdigest(), hashlib.sha256(pdf).hexdigest())\n")
    import hashlib
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    (image,) = walk.images
    svg, pdf = plot_files(image.plot)
    assert done.stdout.split() == [hashlib.sha256(svg.encode()).hexdigest(), hashlib.sha256(pdf).hexdigest()]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_renders_in_markdown(walk, lang):
    md = render(walk, "markdown", lang)
    assert md.startswith("# ")
    assert f"]({vg.PLOT}.svg)" in md
    assert r"\sigma'\left(z\right) = \frac{e^{- z}}{\left(1 + e^{- z}\right)^{2}}" in md
    assert r"\sigma'\left(0\right) = \sigma\left(0\right) \cdot \left(1 - \sigma\left(0\right)\right) = 0.25" in md
    assert r"\prod_{k=l}^{L - 1} w^{k + 1} \cdot \sigma'\left(z^{k}\right)" in md
    assert md.count("| $") >= 2 * len(vg.LAYERS)  # the parameter table and the layer table
