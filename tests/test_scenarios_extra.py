"""sigmoid-sse, softmax-cross-entropy and delta-recurrence: gradients against independent oracles, claims, rendering.

The oracles are written here from the study material's formulas, not from the scenario's graph: the cost as one
SymPy expression differentiated with `sympy.diff`, and (where the material's networks are) PyTorch in float64.
"""
from __future__ import annotations

import dataclasses
import math
import re

import pytest
import sympy

from conftest import DIRECTIVE_COMMENT, require_module
from derive.errors import CheckFailure
from derive.graph import symbol
from derive.notation import Grad
from derive.present.render import render
from derive.scenarios import build
from derive.walkthrough import Claim, Equation, Section, Table, check_claims

NAMES = ("sigmoid-sse", "softmax-cross-entropy", "delta-recurrence")
TOL = 1e-9


def walk(name, cache={}):
    if name not in cache:
        cache[name] = build(name)
    return cache[name]


def claims(name):
    w = walk(name)
    return [b for s in w.intro + w.extra for b in s.blocks if isinstance(b, Claim)]


def claim_value(name, lhs):
    found = [c.value for c in claims(name) if c.lhs == lhs]
    assert len(found) == 1, f"{name}: expected one claim about {lhs}, found {len(found)}"
    return float(found[0])


def gradient(name, node):
    return float(walk(name).derivation.gradients[node].value)


def close(a, b, tol=TOL):
    return abs(float(a) - float(b)) <= tol + 1e-9 * abs(float(b))


def sig(x):
    return 1 / (1 + sympy.exp(-x))


def rational(text):
    return sympy.Rational(text)


# ---------------------------------------------------------------------------------------------- sigmoid-sse

SSE_X1, SSE_X2, SSE_Y = ("1", "0.5", "-1"), ("2", "-1", "0.5"), ("1", "0", "1")
SSE_PARAMS = {"w1": "0.5", "w2": "-0.25", "b": "0.1"}


def sse_cost():
    w1, w2, b = sympy.symbols("w1 w2 b", real=True)
    cost = sum((sig(w1 * rational(x1) + w2 * rational(x2) + b) - rational(y)) ** 2
               for x1, x2, y in zip(SSE_X1, SSE_X2, SSE_Y)) / 2
    return cost, {"w1": w1, "w2": w2, "b": b}


def test_sigmoid_sse_point_is_the_stated_one():
    point = walk("sigmoid-sse").derivation.point
    for i, (x1, x2, y) in enumerate(zip(SSE_X1, SSE_X2, SSE_Y), 1):
        assert (point[f"x_1_{i}"], point[f"x_2_{i}"], point[f"Y_{i}"]) == (rational(x1), rational(x2), rational(y))
    assert {n: point[n] for n in SSE_PARAMS} == {n: rational(v) for n, v in SSE_PARAMS.items()}


def test_sigmoid_sse_gradients_match_sympy_diff():
    cost, params = sse_cost()
    at = {params[n]: rational(v) for n, v in SSE_PARAMS.items()}
    assert close(walk("sigmoid-sse").derivation.output_value, cost.subs(at).evalf(30))
    for name, s in params.items():
        expected = sympy.diff(cost, s).subs(at).evalf(30)
        assert close(gradient("sigmoid-sse", name), expected), name
        assert close(claim_value("sigmoid-sse", Grad("E", name)), expected), name


def test_sigmoid_sse_per_sample_factors():
    """∂E/∂A_i = A_i − Y_i (the factor 2 cancelled, not halved) and ∂A_i/∂Z_i = σ'(Z_i), from scratch."""
    z = sympy.Symbol("z")
    for i, (x1, x2, y) in enumerate(zip(SSE_X1, SSE_X2, SSE_Y), 1):
        zi = sum(rational(SSE_PARAMS[w]) * rational(x) for w, x in (("w1", x1), ("w2", x2))) + rational(SSE_PARAMS["b"])
        ai = sig(zi)
        assert close(claim_value("sigmoid-sse", Grad("E", f"A_{i}")), (ai - rational(y)).evalf(30))
        assert not close(claim_value("sigmoid-sse", Grad("E", f"A_{i}")), ((ai - rational(y)) / 2).evalf(30))
        assert close(claim_value("sigmoid-sse", Grad(f"A_{i}", f"Z_{i}")), sympy.diff(sig(z), z).subs(z, zi).evalf(30))


def test_sigmoid_sse_updates_only_the_parameters():
    (update,) = walk("sigmoid-sse").updates
    assert [leaf for leaf, *_ in update.changes] == ["w1", "w2", "b"]
    assert update.learning_rate == sympy.Rational(1, 2)
    cost, params = sse_cost()
    at = {params[n]: rational(v) for n, v in SSE_PARAMS.items()}
    moved = {s: at[s] - sympy.Rational(1, 2) * sympy.diff(cost, s).subs(at) for s in params.values()}
    assert close(update.derivation.output_value, cost.subs(moved).evalf(30))
    assert update.derivation.output_value < walk("sigmoid-sse").derivation.output_value


def test_sigmoid_sse_batch_table_sums_to_the_gradient():
    """The batch table's ∂E/∂Z_i column is (A_i − Y_i)·σ'(Z_i), computed from scratch; its Σ row is the gradient."""
    tables = [b for s in walk("sigmoid-sse").extra for b in s.blocks if isinstance(b, Table)]
    batch = tables[-1]
    *samples, total = batch.rows
    assert len(samples) == 3
    z = sympy.Symbol("z")
    for row, (x1, x2, y) in zip(samples, zip(SSE_X1, SSE_X2, SSE_Y)):
        zi = sum(rational(SSE_PARAMS[w]) * rational(x) for w, x in (("w1", x1), ("w2", x2))) + rational(SSE_PARAMS["b"])
        expected = ((sig(zi) - rational(y)) * sympy.diff(sig(z), z).subs(z, zi)).evalf(30)
        assert close(row[1], expected)
        assert not close(row[1], expected / 2)
    for column, name in ((4, "w1"), (5, "w2"), (1, "b")):
        assert close(sum(float(row[column]) for row in samples), float(total[column]))
        assert close(float(total[column]), gradient("sigmoid-sse", name))


# ---------------------------------------------------------------------------------------------- softmax-cross-entropy

SCE_Z = (("1", "2", "0.5"), ("0.5", "-1", "1.5"))
SCE_T = (("0", "1", "0"), ("0.25", "0.25", "0.5"))


def sce_cost():
    z = {(n, k): sympy.Symbol(f"z{n}{k}", real=True) for n in (1, 2) for k in (1, 2, 3)}
    total = 0
    for n in (1, 2):
        denominator = sum(sympy.exp(z[n, j]) for j in (1, 2, 3))
        total += sum(rational(SCE_T[n - 1][k - 1]) * sympy.log(sympy.exp(z[n, k]) / denominator) for k in (1, 2, 3))
    return -total / 2, z


def test_softmax_targets_sum_to_one():
    assert all(sum(rational(t) for t in row) == 1 for row in SCE_T)


def test_softmax_gradients_match_sympy_diff():
    cost, z = sce_cost()
    at = {s: rational(SCE_Z[n - 1][k - 1]) for (n, k), s in z.items()}
    assert close(walk("softmax-cross-entropy").derivation.output_value, cost.subs(at).evalf(30))
    for (n, k), s in z.items():
        expected = sympy.diff(cost, s).subs(at).evalf(30)
        assert close(gradient("softmax-cross-entropy", f"z_{n}_{k}"), expected), (n, k)
        assert close(claim_value("softmax-cross-entropy", Grad("L", f"z_{n}_{k}")), expected), (n, k)
        y = (sympy.exp(at[s]) / sum(sympy.exp(at[z[n, j]]) for j in (1, 2, 3))).evalf(30)
        assert close(expected, (y - rational(SCE_T[n - 1][k - 1])) / 2)  # (y − t)/N


def test_softmax_gradients_match_torch():
    torch = require_module("torch")
    z = torch.tensor([[float(v) for v in row] for row in SCE_Z], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[float(v) for v in row] for row in SCE_T], dtype=torch.float64)
    loss = -(t * torch.log_softmax(z, dim=1)).sum() / 2
    loss.backward()
    assert close(walk("softmax-cross-entropy").derivation.output_value, loss.item())
    reference = torch.nn.functional.cross_entropy(z.detach(), t)  # PyTorch's own mean over the batch
    assert math.isclose(reference.item(), loss.item(), rel_tol=1e-12)
    for n in (1, 2):
        for k in (1, 2, 3):
            assert close(gradient("softmax-cross-entropy", f"z_{n}_{k}"), z.grad[n - 1, k - 1].item())


def test_softmax_path_from_L():
    """1/N, 1/N, −1/N, −1/N, −t/N, −t/(N y) along the path to y_23, as the material walks it."""
    d = walk("softmax-cross-entropy").derivation
    t, y = float(d.values["t_2_3"]), float(d.values["y_2_3"])
    expected = {"S": 0.5, "c_2": 0.5, "s_2": -0.5, "m_2_3": -0.5, "l_2_3": -t / 2, "y_2_3": -t / (2 * y)}
    for node, value in expected.items():
        assert close(claim_value("softmax-cross-entropy", Grad("L", node)), value), node
        assert close(gradient("softmax-cross-entropy", node), value), node


def test_softmax_update_moves_only_the_logits():
    (update,) = walk("softmax-cross-entropy").updates
    assert sorted(leaf for leaf, *_ in update.changes) == sorted(f"z_{n}_{k}" for n in (1, 2) for k in (1, 2, 3))
    assert update.derivation.output_value < walk("softmax-cross-entropy").derivation.output_value


# ---------------------------------------------------------------------------------------------- delta-recurrence

W = {2: (("0.1", "-0.2"), ("0.3", "0.4")), 3: (("0.5", "-0.6"), ("0.7", "0.8"))}
B = {2: ("0.05", "0.1"), 3: ("0.2", "-0.1")}
BATCH = ((("1", "0.5"), ("0", "1")), (("0.5", "-1"), ("1", "0")), (("-1", "2"), ("1", "1")),
         (("0", "0.25"), ("0", "0")))
PARAMETERS = ([f"w^{l}_{j}{i}" for l in (2, 3) for j in (1, 2) for i in (1, 2)]
              + [f"b^{l}_{j}" for l in (2, 3) for j in (1, 2)])


def network_symbols():
    return {name: sympy.Symbol(name.replace("^", "").replace("_", ""), real=True) for name in PARAMETERS}


def network_cost(x, t, s):
    """C = ½ Σ_j (a³_j − t_j)², written out with matrices."""
    w2 = sympy.Matrix(2, 2, lambda j, i: s[f"w^2_{j + 1}{i + 1}"])
    w3 = sympy.Matrix(2, 2, lambda j, i: s[f"w^3_{j + 1}{i + 1}"])
    b2 = sympy.Matrix([s["b^2_1"], s["b^2_2"]])
    b3 = sympy.Matrix([s["b^3_1"], s["b^3_2"]])
    a1 = sympy.Matrix([rational(v) for v in x])
    a2 = (w2 * a1 + b2).applyfunc(sig)
    a3 = (w3 * a2 + b3).applyfunc(sig)
    return sum((a3[j] - rational(t[j])) ** 2 for j in range(2)) / 2


def network_point(s):
    values = {f"w^{l}_{j}{i}": W[l][j - 1][i - 1] for l in (2, 3) for j in (1, 2) for i in (1, 2)}
    values.update({f"b^{l}_{j}": B[l][j - 1] for l in (2, 3) for j in (1, 2)})
    return {s[name]: rational(v) for name, v in values.items()}


def test_delta_gradients_match_sympy_diff():
    s = network_symbols()
    at = network_point(s)
    cost = network_cost(*BATCH[0], s)
    assert close(walk("delta-recurrence").derivation.output_value, cost.subs(at).evalf(30))
    for name in PARAMETERS:
        expected = sympy.diff(cost, s[name]).subs(at).evalf(30)
        assert close(gradient("delta-recurrence", name), expected), name
        assert close(claim_value("delta-recurrence", Grad("C", name)), expected), name


def test_delta_values_are_the_unit_errors():
    """δ^l_j = ∂C/∂z^l_j: perturb z directly in an independent sympy expression."""
    s = network_symbols()
    at = network_point(s)
    (x, t) = BATCH[0]
    zs = sympy.symbols("z1 z2", real=True)  # the z of one layer, as free variables
    w3 = sympy.Matrix(2, 2, lambda j, i: s[f"w^3_{j + 1}{i + 1}"]).subs(at)
    b3 = sympy.Matrix([s["b^3_1"], s["b^3_2"]]).subs(at)
    cost_of_z3 = sum((sig(zs[j]) - rational(t[j])) ** 2 for j in range(2)) / 2
    a1 = sympy.Matrix([rational(v) for v in x])
    w2 = sympy.Matrix(2, 2, lambda j, i: s[f"w^2_{j + 1}{i + 1}"]).subs(at)
    b2 = sympy.Matrix([s["b^2_1"], s["b^2_2"]]).subs(at)
    z2 = w2 * a1 + b2
    z3 = w3 * z2.applyfunc(sig) + b3
    cost_of_z2 = sum((sig((w3 * sympy.Matrix(zs).applyfunc(sig) + b3)[j]) - rational(t[j])) ** 2 for j in range(2)) / 2
    for j in (1, 2):
        delta3 = sympy.diff(cost_of_z3, zs[j - 1]).subs(dict(zip(zs, z3))).evalf(30)
        delta2 = sympy.diff(cost_of_z2, zs[j - 1]).subs(dict(zip(zs, z2))).evalf(30)
        assert close(claim_value("delta-recurrence", symbol(f"delta^3_{j}")), delta3)
        assert close(claim_value("delta-recurrence", symbol(f"delta^2_{j}")), delta2)


def torch_network(torch, samples):
    params = {name: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for name, v in (
        [(f"w^{l}_{j}{i}", W[l][j - 1][i - 1]) for l in (2, 3) for j in (1, 2) for i in (1, 2)]
        + [(f"b^{l}_{j}", B[l][j - 1]) for l in (2, 3) for j in (1, 2)])}
    w2 = torch.stack([torch.stack([params[f"w^2_{j}{i}"] for i in (1, 2)]) for j in (1, 2)])
    w3 = torch.stack([torch.stack([params[f"w^3_{j}{i}"] for i in (1, 2)]) for j in (1, 2)])
    b2 = torch.stack([params["b^2_1"], params["b^2_2"]])
    b3 = torch.stack([params["b^3_1"], params["b^3_2"]])
    x = torch.tensor([[float(v) for v in sx] for sx, _ in samples], dtype=torch.float64)
    t = torch.tensor([[float(v) for v in st] for _, st in samples], dtype=torch.float64)
    a3 = torch.sigmoid(torch.sigmoid(x @ w2.T + b2) @ w3.T + b3)
    cost = 0.5 * ((a3 - t) ** 2).sum()
    cost.backward()
    return cost.item(), {name: p.grad.item() for name, p in params.items()}


def test_delta_gradients_match_torch():
    torch = require_module("torch")
    cost, grads = torch_network(torch, BATCH[:1])
    assert close(walk("delta-recurrence").derivation.output_value, cost)
    for name in PARAMETERS:
        assert close(gradient("delta-recurrence", name), grads[name]), name


def batch_section():
    return next(s for s in walk("delta-recurrence").extra if s.title_key.endswith("heading.batch"))


def test_delta_batch_sum_matches_sympy_and_torch():
    torch = require_module("torch")
    cost, grads = torch_network(torch, BATCH)
    s = network_symbols()
    at = network_point(s)
    total = sum(network_cost(x, t, s) for x, t in BATCH)
    shown = [b for b in batch_section().blocks if isinstance(b, Claim)]
    assert len(shown) >= 2
    for claim in shown:
        name = claim.lhs.node
        assert claim.lhs.output == "C_T"
        assert close(claim.value, grads[name]), name
        assert close(claim.value, sympy.diff(total, s[name]).subs(at).evalf(30)), name
    table = next(b for b in batch_section().blocks if isinstance(b, Table))
    assert close(table.rows[-1][3], cost)  # C_T in the Σ row


def test_delta_batch_update_table():
    torch = require_module("torch")
    _, grads = torch_network(torch, BATCH)
    update = [b for b in batch_section().blocks if isinstance(b, Table)][-1]
    assert len(update.rows) == len(PARAMETERS)
    for name, old, grad, new in update.rows:
        assert close(grad, grads[name.name]), name
        assert close(new, float(old) - 0.5 * grads[name.name]), name


def test_delta_matrix_form_is_there():
    section = next(s for s in walk("delta-recurrence").extra if s.title_key.endswith("heading.matrix"))
    matrices = [b for b in section.blocks if isinstance(b, Equation)
                and any(isinstance(m, sympy.MatrixBase) for m in b.rhs)]
    assert len(matrices) == 4  # δ³, δ², ∂C/∂W³, ∂C/∂W²
    gradient_w2 = matrices[-1].rhs[-1]
    assert gradient_w2.shape == (2, 2)
    for j in (1, 2):
        for i in (1, 2):
            assert math.isclose(float(gradient_w2[j - 1, i - 1]), gradient("delta-recurrence", f"w^2_{j}{i}"),
                                rel_tol=1e-5)


# ---------------------------------------------------------------------------------------------- every scenario

EXPECTED_CLAIMS = {
    "sigmoid-sse": [Grad("E", f"A_{i}") for i in (1, 2, 3)] + [Grad(f"A_{i}", f"Z_{i}") for i in (1, 2, 3)]
    + [Grad("E", n) for n in ("w1", "w2", "b")],  # ∂E/∂Z_i: in the batch table (test_sigmoid_sse_batch_table_…)
    "softmax-cross-entropy": [Grad("L", f"z_{n}_{k}") for n in (1, 2) for k in (1, 2, 3)]
    + [Grad("L", n) for n in ("S", "c_2", "s_2", "m_2_3", "l_2_3", "y_2_3")],
    "delta-recurrence": [symbol(f"delta^{l}_{j}") for l in (3, 2) for j in (1, 2)]
    + [Grad("C", p) for p in PARAMETERS],
}


@pytest.mark.parametrize("name", NAMES)
def test_claims_exist_and_hold(name):
    d = walk(name).derivation
    lhs = [c.lhs for c in claims(name)]
    for expected in EXPECTED_CLAIMS[name]:
        assert expected in lhs, f"{name}: no claim about {expected}"
    assert all(c.value is not None for c in claims(name))
    check_claims(d, walk(name).intro + walk(name).extra)  # raises on any disagreement


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_claim_is_caught(name):
    """The claims are really compared with the walk: nudge one value and the check fails."""
    w = walk(name)
    target = claims(name)[-1]
    wrong = dataclasses.replace(target, value=target.value + sympy.Rational(1, 100))
    sections = tuple(Section(s.title_key, tuple(wrong if b is target else b for b in s.blocks)) for s in w.extra)
    with pytest.raises(CheckFailure):
        check_claims(w.derivation, w.intro + sections)


@pytest.mark.parametrize("name", NAMES)
def test_every_gradient_checked_symbolically(name):
    report = walk(name).report
    assert report.oracle == "symbolic" and report.at_given_point
    d = walk(name).derivation
    assert report.gradients_checked == len(d.graph.nodes) - len(d.constants)  # constants have no gradient


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", NAMES)
def test_markdown_renders(name, lang):
    text = render(walk(name), "markdown", lang)
    assert text.startswith("# ")
    prose = re.sub(r"\$[^$\n]*\$", "", re.sub(r"\$\$.*?\$\$", "", DIRECTIVE_COMMENT.sub("", text), flags=re.S))
    assert not re.search(r"\{[a-zA-Z_]+\}", prose), "an unfilled placeholder"
    assert "\\mathrm{" not in text, "a name the notation printer did not understand"
    for claim in claims(name):
        from derive.notation import number_latex
        assert number_latex(claim.value) in text
