"""Activations and losses of the rule table, and the scenario `activations` that compares them on one neuron.

Every activation and loss derivative is compared three ways: with `sympy.diff` of the op's own definition and
with central finite differences of its float forward (both away from kinks), and with PyTorch's autograd in
float64, at the kinks too (relu'(0) = 0, leaky_relu'(0) = α). The scenario's tables and claims are then compared
with PyTorch, and it must render in Markdown in both languages.
"""
from __future__ import annotations

import pytest
import sympy
from sympy import Rational as R

from conftest import require_module
from derive.backward import derive
from derive.check import check
from derive.graph import Graph, Node, operand_exprs, symbol
from derive.notation import latex
from derive.present.render import render
from derive.rules import FUNCTIONS, RULES, LeakyStep
from derive.scenarios import SCENARIOS, build
from derive.scenarios import activations as scenario
from derive.walkthrough import Claim, Table, check_claims

ALPHA = R(1, 10)
TOL = 1e-9


def close(got, expected, rel=1e-7):
    return abs(float(got) - float(expected)) <= TOL + rel * abs(float(expected))


# ---------------------------------------------------------------- the ops and the points they are tested at

# (op, operand names or constants, params, points: each a dict of leaf values)
SMOOTH_POINTS = [R(-2), R(-1, 2), R(3, 10), R(17, 10)]
CASES = [
    ("sigmoid", ("z",), (), [{"z": v} for v in SMOOTH_POINTS + [R(0)]]),
    ("tanh", ("z",), (), [{"z": v} for v in SMOOTH_POINTS + [R(0)]]),
    ("relu", ("z",), (), [{"z": v} for v in SMOOTH_POINTS]),
    ("leaky_relu", ("z",), (ALPHA,), [{"z": v} for v in SMOOTH_POINTS]),
    ("identity", ("z",), (), [{"z": v} for v in SMOOTH_POINTS]),
    ("softmax", ("z1", "z2", "z3"), (1,), [{"z1": R(1, 2), "z2": R(-2), "z3": R(1)},
                                           {"z1": R(0), "z2": R(3, 10), "z3": R(-7, 10)}]),
    ("mse", ("a1", "a2", "t1", "t2"), (), [{"a1": R(3, 10), "a2": R(-1, 2), "t1": R(1), "t2": R(1, 4)}]),
    ("mse", ("a", "t"), (), [{"a": R(3, 5), "t": R(1)}]),
    ("sse", ("a1", "a2", "t1", "t2"), (), [{"a1": R(3, 10), "a2": R(-1, 2), "t1": R(1), "t2": R(1, 4)}]),
    ("sse", ("a", "t"), (), [{"a": R(3, 5), "t": R(1)}]),
    ("binary_cross_entropy", ("p", "t"), (), [{"p": R(3, 10), "t": R(1)}, {"p": R(4, 5), "t": R(1, 4)}]),
    ("binary_cross_entropy", ("p1", "p2", "t1", "t2"), (), [{"p1": R(3, 10), "p2": R(9, 10), "t1": R(0),
                                                            "t2": R(7, 10)}]),
    ("softmax_cross_entropy", ("z1", "z2", "z3", "t1", "t2", "t3"), (),
     [{"z1": R(1, 2), "z2": R(-2), "z3": R(1), "t1": R(1), "t2": R(0), "t3": R(0)},
      {"z1": R(0), "z2": R(3, 10), "z3": R(-7, 10), "t1": R(1, 5), "t2": R(1, 2), "t3": R(1, 3)}]),
]
IDS = [f"{op}-{len(args)}" for op, args, _, _ in CASES]


def one_node(op, args, params) -> Graph:
    leaves = tuple(Node(a, "leaf") for a in args if isinstance(a, str))
    return Graph(leaves + (Node("f", op, tuple(args), tuple(params)),), "f")


def locals_at(op, args, params, point) -> dict[str, float]:
    """∂f/∂input from the walk (the rule table's partials, evaluated exactly)."""
    d = derive(one_node(op, args, params), point)
    (step,) = d.steps
    return {term.input: term.local_value for term in step.terms}


@pytest.mark.parametrize("op, args, params, points", CASES, ids=IDS)
def test_rule_partials_agree_with_sympy_diff(op, args, params, points):
    node = Node("f", op, tuple(args), tuple(params))
    own = RULES[op].forward(operand_exprs(node), tuple(params))
    for point in points:
        walk = locals_at(op, args, params, point)
        sub = {symbol(n): v for n, v in point.items()}
        for name in walk:
            expected = sympy.N(sympy.diff(own, symbol(name)).xreplace(sub), 30)
            assert close(walk[name], expected), (op, name, point, walk[name], expected)


@pytest.mark.parametrize("op, args, params, points", CASES, ids=IDS)
def test_rule_partials_agree_with_finite_differences(op, args, params, points):
    numeric = RULES[op].numeric
    for point in points:
        walk = locals_at(op, args, params, point)
        for name in walk:
            h = 1e-6

            def f(shift):
                values = [complex(float(point[a]) + (shift if a == name else 0.0)) for a in args]
                return numeric(values, tuple(params)).real

            central = (f(h) - f(-h)) / (2 * h)
            assert abs(central - float(walk[name])) <= 1e-6 + 1e-6 * abs(central), (op, name, point)


@pytest.mark.parametrize("op, args, params, points", CASES, ids=IDS)
def test_rule_forward_and_partials_are_checked_by_the_walk(op, args, params, points):
    """The project's own check (sympy.diff of each local, an oracle for every gradient) passes for each op,
    at the given points and, symbolically, at its reproducible random point."""
    graph = one_node(op, args, params)
    for point in points:
        report = check(derive(graph, point))
        assert report.gradients_checked == len(graph.nodes) and not report.notes
    assert check(derive(graph)).gradients_checked == len(graph.nodes)


def test_textbook_forms():
    """The derivatives are written the way textbooks write them: with the output for σ and tanh, a step for ReLU
    and Leaky ReLU, (a − t) for ½-SSE, (p − t)/(p(1 − p)) for binary cross-entropy, y − t for softmax CE."""
    z, out, a, t, p = (symbol(n) for n in ("z", "out", "a", "t", "p"))
    assert RULES["sigmoid"].partials([z], out, ()) == [out * (1 - out)]
    assert RULES["tanh"].partials([z], out, ()) == [1 - out ** 2]
    assert RULES["relu"].partials([z], out, ()) == [sympy.Heaviside(z, 0)]
    assert RULES["leaky_relu"].partials([z], out, (ALPHA,)) == [LeakyStep(z, ALPHA)]
    assert latex(LeakyStep(z, ALPHA)) == r"\begin{cases} 1 & z > 0 \\ 0.1 & z \le 0 \end{cases}"
    assert RULES["sse"].partials([a, t], out, ())[0] == a - t
    assert latex(RULES["mse"].partials([a, t], out, ())[0]) == r"2 \cdot \left(a - t\right)"
    assert latex(RULES["binary_cross_entropy"].partials([p, t], out, ())[0]) == \
        r"\frac{p - t}{p \cdot \left(1 - p\right)}"
    zs = sympy.symbols("z1 z2", real=True)
    partial = RULES["softmax_cross_entropy"].partials([*zs, R(1), R(0)], out, ())[0]
    assert latex(partial) == r"\operatorname{softmax}_{1}\left(z_{1}, z_{2}\right) - 1"


def test_new_ops_are_not_callable_from_expressions():
    """The parser's whitelist is unchanged: the new ops are built by scenarios, not typed by users."""
    assert FUNCTIONS == ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu")
    for op in ("leaky_relu", "mse", "sse", "binary_cross_entropy", "softmax_cross_entropy"):
        assert op in RULES and op not in FUNCTIONS


def test_kinks_are_noticed_and_follow_pytorch():
    for op, params, expected in (("relu", (), 0), ("leaky_relu", (ALPHA,), ALPHA)):
        graph = one_node(op, ("z",), params)
        d = derive(graph, {"z": R(0)})
        assert d.steps[0].terms[0].local_value == expected
        report = check(d)
        assert report.oracle == "none" and report.notes[0].key == "kink_skipped"


# ---------------------------------------------------------------- PyTorch, float64, at the kinks as well


def torch_module():
    return require_module("torch")


def torch_activation(torch, op, z):
    F = torch.nn.functional
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=float(ALPHA)),
            "identity": lambda x: x}[op](z)


@pytest.mark.parametrize("op", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
@pytest.mark.parametrize("value", [R(-2), R(-1, 2), R(0), R(3, 10), R(17, 10)])
def test_activation_derivatives_agree_with_pytorch(op, value):
    torch = torch_module()
    z = torch.tensor(float(value), dtype=torch.float64, requires_grad=True)
    out = torch_activation(torch, op, z)
    out.backward()
    params = (ALPHA,) if op == "leaky_relu" else ()
    d = derive(one_node(op, ("z",), params), {"z": value})
    assert close(d.values["f"], out.item(), 1e-12)
    assert close(d.gradients["z"].value, z.grad.item(), 1e-12), (op, value, z.grad.item())


def test_kink_convention_is_pytorchs():
    torch = torch_module()
    for op, expected in (("relu", 0.0), ("leaky_relu", float(ALPHA))):
        z = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        torch_activation(torch, op, z).backward()
        assert z.grad.item() == expected
        params = (ALPHA,) if op == "leaky_relu" else ()
        assert float(derive(one_node(op, ("z",), params), {"z": R(0)}).gradients["z"].value) == expected


def test_softmax_jacobian_agrees_with_pytorch():
    torch = torch_module()
    logits = [R(1, 2), R(-2), R(1)]
    z = torch.tensor([float(v) for v in logits], dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda x: torch.softmax(x, 0), z)
    for k in range(3):
        walk = locals_at("softmax", ("z1", "z2", "z3"), (k,), dict(zip(("z1", "z2", "z3"), logits)))
        for j, name in enumerate(("z1", "z2", "z3")):
            assert close(walk[name], jacobian[k, j].item(), 1e-12)


def torch_loss(torch, op, predictions, targets):
    F = torch.nn.functional
    if op == "mse":
        return F.mse_loss(predictions, targets)
    if op == "sse":
        return 0.5 * ((predictions - targets) ** 2).sum()
    if op == "binary_cross_entropy":
        return F.binary_cross_entropy(predictions, targets)
    return F.cross_entropy(predictions.unsqueeze(0), targets.unsqueeze(0))  # probability targets, one sample


@pytest.mark.parametrize("op, args, params, points", [c for c in CASES if c[0] in (
    "mse", "sse", "binary_cross_entropy", "softmax_cross_entropy")], ids=[i for i, c in zip(IDS, CASES) if c[0] in (
        "mse", "sse", "binary_cross_entropy", "softmax_cross_entropy")])
def test_losses_agree_with_pytorch(op, args, params, points):
    torch = torch_module()
    m = len(args) // 2
    for point in points:
        values = [float(point[a]) for a in args]
        predictions = torch.tensor(values[:m], dtype=torch.float64, requires_grad=True)
        targets = torch.tensor(values[m:], dtype=torch.float64)
        loss = torch_loss(torch, op, predictions, targets)
        loss.backward()
        d = derive(one_node(op, args, params), point)
        assert close(d.values["f"], loss.item(), 1e-12), (op, point)
        for i, name in enumerate(args[:m]):
            assert close(d.gradients[name].value, predictions.grad[i].item(), 1e-12), (op, name, point)


# ---------------------------------------------------------------- the scenario


@pytest.fixture(scope="module")
def walk():
    return build("activations")


def test_registered():
    assert "activations" in SCENARIOS


def test_every_number_is_a_checked_claim(walk):
    claims = [b for s in walk.intro + walk.extra for b in s.blocks if isinstance(b, Claim)]
    assert len(claims) >= 40
    check_claims(walk.derivation, walk.intro + walk.extra)  # again, explicitly: raises on a wrong claim
    assert walk.report.oracle == "symbolic" and walk.report.gradients_checked == len(walk.derivation.graph.nodes)


def test_a_wrong_claim_is_caught(walk):
    from derive.errors import CheckFailure
    from derive.walkthrough import Section
    first = next(b for s in walk.extra for b in s.blocks if isinstance(b, Claim))
    wrong = Claim(first.lhs, first.rhs, first.value + R(1, 1000), first.subs)
    with pytest.raises(CheckFailure):
        check_claims(walk.derivation, (Section("x", (wrong,)),))


def tables(walk, title_key):
    (section,) = [s for s in walk.extra if s.title_key == title_key]
    return [b for b in section.blocks if isinstance(b, Table)]


def test_side_by_side_tables_agree_with_pytorch(walk):
    torch = torch_module()
    upstream = float(R(1, 2))
    ops = [act.key for act in scenario.activations()]
    for z_value, table in zip((0.5, -2.0), tables(walk, "scenario.activations.heading.side_by_side")):
        assert len(table.rows) == len(ops)
        for op, (_, value, derivative, flowing) in zip(ops, table.rows):
            z = torch.tensor(z_value, dtype=torch.float64, requires_grad=True)
            a = torch_activation(torch, op, z)
            (upstream * a).backward()
            assert close(value, a.item(), 1e-12), op
            assert close(derivative, z.grad.item() / upstream, 1e-12), op
            assert close(flowing, z.grad.item(), 1e-12), op


def test_loss_table_agrees_with_pytorch(walk):
    torch = torch_module()
    F = torch.nn.functional
    (table,) = tables(walk, "scenario.activations.heading.loss_table")
    rows = {row[0]: row[1:] for row in table.rows}
    expected = {}
    for key, fn in ((r"$\mathrm{MSE}$", lambda a, t: F.mse_loss(a, t)),
                    (r"$\tfrac{1}{2}\mathrm{SSE}$", lambda a, t: 0.5 * ((a - t) ** 2).sum()),
                    (r"$\mathrm{BCE}$", lambda a, t: F.binary_cross_entropy(a, t))):
        z = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        a = torch.sigmoid(z)
        a.retain_grad()
        loss = fn(a, torch.tensor([1.0], dtype=torch.float64))
        loss.backward()
        expected[key] = (loss.item(), a.grad.item(), z.grad.item())
    logits = torch.tensor([[0.5, -2.0, 1.0]], dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(logits, torch.tensor([0]))
    loss.backward()
    expected[r"$\mathrm{CE}$"] = (loss.item(), None, logits.grad[0, 0].item())
    assert rows.keys() == expected.keys()
    for key, (value, by_a, by_z) in expected.items():
        got = rows[key]
        assert close(got[0], value, 1e-12) and close(got[2], by_z, 1e-12), key
        if by_a is not None:
            assert close(got[1], by_a, 1e-12), key


def test_softmax_cross_entropy_composite_equals_fused():
    fused, composite = scenario.softmax_ce_walks()
    for j in (1, 2, 3):
        assert close(fused.gradients[f"z_{j}"].value, composite.gradients[f"z_{j}"].value, 1e-12)
        assert close(fused.gradients[f"z_{j}"].value,
                     composite.values[f"y_{j}"] - (1 if j == 1 else 0), 1e-12)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_renders_in_markdown(walk, lang):
    md = render(walk, "markdown", lang)
    assert md == render(build("activations"), "markdown", lang)  # deterministic
    assert md.startswith("# ") and "$$" in md
    for fragment in (r"\sigma'\left(z\right) = a \cdot \left(1 - a\right) = 0.235004",
                     r"\tanh'\left(z\right) = 1 - a^{2} = 0.786448",
                     r"\operatorname{ReLU}'\left(z\right) = \mathbf{1}\left[z > 0\right] = 0",
                     r"\begin{cases} 1 & z > 0 \\ 0.1 & z \le 0 \end{cases} = 0.1",
                     r"\frac{\partial C}{\partial z_{1}} = y_{1} - t_{1} = -0.633808",
                     "PyTorch"):
        assert fragment in md, fragment


def test_pytorch_kink_convention_is_stated():
    from derive.present.context import catalog
    for lang in ("en", "ja"):
        text = catalog(lang)["scenario.activations.text.kink"]
        assert "PyTorch" in text and "α" in text
        assert "PyTorch" in catalog(lang)["rule.leaky_relu.text"] and "PyTorch" in catalog(lang)["rule.relu.text"]
