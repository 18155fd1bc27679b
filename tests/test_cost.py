"""Valid but heavy inputs finish quickly and give the right numbers; the oracles agree with exact arithmetic at huge
arguments and on long products, and still catch a wrong gradient (issue 12, unbounded cost and false self-checks).

Times are CPU seconds of this process (a busy machine changes them little); each limit is several times what the
case takes now and well below what it took before (noted beside it).
"""
from __future__ import annotations

import dataclasses
import resource
import signal
from contextlib import contextmanager

import mpmath
import pytest
import sympy

from conftest import require_module
from derive import check as check_module
from derive import rules as rules_module
from derive.api import explain
from derive.backward import derive
from derive.check import FD_WORK, check, tree_operations
from derive.cli import main
from derive.errors import CheckFailure, InputError
from derive.graph import unrolled
from derive.parse import parse_program
from derive.optimizers import MAX_STEP_WORK

R = sympy.Rational
RULES = rules_module.RULES


class OverBudget(BaseException):
    pass


@contextmanager
def cpu_limit(seconds: float, what: str):
    """Fail when the body uses more than ``seconds`` of CPU time (SIGPROF, as tests/test_corpus.py does)."""
    def expired(signum, frame):
        signal.setitimer(signal.ITIMER_PROF, 0.05)  # again, in case this one lands in a gc callback
        raise OverBudget

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    except OverBudget:
        pytest.fail(f"{what} took more than {seconds} s of CPU time")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- a shared graph whose tree is exponential ----------------------------------------------------------------------

def doubling_program(lines: int) -> str:
    """``a = sin(x); a1 = a*a + a; a2 = a1*a + a1; …``: every line reads the previous one twice (400 bytes for 25
    lines), so the output written out as a tree doubles with every line; a_k = sin(x)·(1 + sin(x))^k."""
    return "; ".join(["a = sin(x)", "a1 = a*a + a"] + [f"a{k} = a{k - 1}*a + a{k - 1}" for k in range(2, lines)])


def test_the_25_line_program_is_derived_quickly_and_checked_by_the_numeric_oracles():
    """Before: sympy.count_ops walked the unrolled output as a tree (20 lines 17 s, 23 lines killed at 300 s)."""
    text = doubling_program(25)
    assert len(text) < 450
    with cpu_limit(8, "the 25-line program"):
        result = explain(text, at={"x": "0.5"})
        markdown = result.to_markdown()
    report = result.walkthrough.report
    assert report.oracle == "numeric" and report.gradients_checked == len(result.walkthrough.derivation.graph.nodes)
    with mpmath.workdps(40):
        s, c = mpmath.sin(mpmath.mpf(1) / 2), mpmath.cos(mpmath.mpf(1) / 2)
        expected = c * ((1 + s) ** 24 + 24 * s * (1 + s) ** 23)  # d/dx of sin(x)·(1 + sin(x))^24
        value = s * (1 + s) ** 24
    assert abs(float(result.gradients["x"]) - float(expected)) <= 1e-12 * float(expected)
    assert abs(float(result.walkthrough.derivation.output_value) - float(value)) <= 1e-12 * float(value)
    assert "a_{24}" in markdown


def test_the_symbolic_walk_of_the_25_line_program_is_quick_too():
    with cpu_limit(8, "the symbolic 25-line program"):
        result = explain(doubling_program(25))
    assert result.walkthrough.report.oracle == "numeric" and result.walkthrough.report.at_given_point is False


def test_tree_operations_counts_the_tree_once_per_shared_node():
    x, y = sympy.symbols("x y")
    assert tree_operations(x * y + sympy.sin(x), 100) == 3
    assert tree_operations(x + y + sympy.exp(x * y * 2), 100) == 2 + 1 + 2
    shared = x + sympy.sin(y)  # 2 operations, read twice by each level
    expr = shared
    for _ in range(30):
        expr = sympy.sin(expr) * sympy.cos(expr)
    # each level: 3 operations of its own, then the previous level twice: c_k = 3 + 2·c_(k−1), c_0 = 2
    count = 2
    for _ in range(30):
        count = 3 + 2 * count
    assert tree_operations(expr, 10 ** 12) == count
    assert tree_operations(expr, 5000) is None


def test_tree_operations_agrees_with_a_plain_tree_walk_on_small_outputs():
    def tree(expr):
        if not expr.args:
            return 0
        own = len(expr.args) - 1 if isinstance(expr, (sympy.Add, sympy.Mul)) else 1
        return own + sum(tree(a) for a in expr.args)

    for text in ("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t", doubling_program(6),
                 "sigmoid(w*x + b)*log(x) - sqrt(x*y)/tanh(y)"):
        graph = parse_program(text)
        output = unrolled(graph)[graph.output]
        assert tree_operations(output, 10 ** 6) == tree(output)


# --- descent steps: the cost of a step is a walk, not a re-derivation ------------------------------------------------

def test_1000_sgd_steps_on_a_small_graph_are_fast_and_exact():
    """Before: 20 s (sympy.diff of the whole output at every step, counting the factors of 4096-bit
    denominators when printing)."""
    start = cpu_seconds()
    with cpu_limit(15, "1000 steps of SGD"):
        result = explain("(w*x - 1)**2", at={"w": "1", "x": "2"}, wrt="w", step="lr=0.01,steps=1000")
        result.to_markdown()
    elapsed = cpu_seconds() - start
    updates = result.walkthrough.updates
    assert len(updates) == 1000
    w = R(1)  # the same recurrence in exact arithmetic, carried as derive carries it (a float past 4096 bits)
    for update in updates:
        w = w - R(1, 100) * 2 * (w * 2 - 1) * 2
        got = update.derivation.point["w"]
        if got.is_Rational:
            assert got == w
        else:
            assert abs(float(got) - float(w)) <= 1e-25 + 1e-25 * abs(float(w))
            w = got  # from here on both carry the same 30-digit float
    assert elapsed < 15


def test_1000_adam_steps_match_torch(monkeypatch):
    """Before: 20 s at w = 1 (and exit 3 at w = 0.5, where the gradient is 0)."""
    torch = require_module("torch")
    with cpu_limit(20, "1000 steps of Adam"):
        result = explain("(w*x - 1)**2", at={"w": "0.5", "x": "2"}, wrt="w", step="lr=0.01,steps=1000",
                         optimizer="adam")
        result.to_markdown()
    w = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.01, foreach=False)
    for update in result.walkthrough.updates:
        optimizer.zero_grad()
        ((w * 2.0 - 1.0) ** 2).backward()
        optimizer.step()
        got = float(update.derivation.point["w"])
        assert abs(got - float(w.detach())) <= 1e-12 + 1e-9 * abs(float(w.detach())), update.step


def test_the_symbolic_oracle_differentiates_once_per_graph():
    check_module._symbolic_partials.cache_clear()
    explain("(w*x - 1)**2", at={"w": "1", "x": "2"}, wrt="w", step="lr=0.01,steps=50")
    info = check_module._symbolic_partials.cache_info()
    assert info.misses == 1 and info.hits == 50


@pytest.mark.parametrize("optimizer", [None, "sgd", "momentum", "adagrad", "rmsprop", "adam"])
def test_steps_times_operations_beyond_the_budget_is_exit_2(capsys, optimizer):
    """50 squared residuals with steps=1000 would have taken about 9 minutes."""
    terms = " + ".join(f"(w{i}*x{i} - t{i})**2" for i in range(50))
    point = ",".join(f"w{i}=0.1,x{i}=1,t{i}=0.5" for i in range(50))
    argv = ["explain", terms, "--at", point, "--step", "lr=0.1,steps=1000"]
    argv += ["--optimizer", optimizer] if optimizer else []
    operations = 50 * 3 + 49
    start = cpu_seconds()
    assert main(argv) == 2
    assert cpu_seconds() - start < 2
    err = capsys.readouterr().err.strip()
    assert err == (f"derive: error: --step: steps × operations is at most {MAX_STEP_WORK}; got 1000 × {operations} = "
                   f"{1000 * operations} (take at most {MAX_STEP_WORK // operations} steps on this graph)")


def test_the_budget_allows_exactly_its_limit():
    text = "(w*x - 1)**2 + w*w"  # five operations
    steps = MAX_STEP_WORK // 5
    assert len(explain(text, at={"w": "1", "x": "2"}, wrt="w", step=f"lr=0.01,steps={steps}")
               .walkthrough.updates) == steps
    with pytest.raises(InputError, match="steps × operations"):
        explain(text, at={"w": "1", "x": "2"}, wrt="w", step=f"lr=0.01,steps={steps + 1}")


# --- huge arguments: the oracles reduce them exactly ---------------------------------------------------------------

HUGE = [
    ("sin(x)", "1e23", lambda x: mpmath.cos(x)),
    ("sin(x)", "-1e23", lambda x: mpmath.cos(x)),
    ("cos(x)", "1e100", lambda x: -mpmath.sin(x)),
    ("sin(x)*cos(x)", "1e300", lambda x: mpmath.cos(x) ** 2 - mpmath.sin(x) ** 2),
    ("sin(3*x)", "1e299", lambda x: 3 * mpmath.cos(3 * x)),
    ("tanh(x)*sin(x)", "123456789012345678901234567", lambda x: (1 - mpmath.tanh(x) ** 2) * mpmath.sin(x)
     + mpmath.tanh(x) * mpmath.cos(x)),
]


@pytest.mark.parametrize("text,x,derivative", HUGE, ids=[f"{t}@{x}" for t, x, _ in HUGE])
def test_huge_arguments_are_checked_against_exact_arithmetic(text, x, derivative):
    """Before: exit 3, the float64 oracle rounded x before sin saw it."""
    result = explain(text, at={"x": x})
    with mpmath.workdps(400):
        expected = float(derivative(mpmath.mpf(int(sympy.Rational(x)))))
    assert abs(float(result.gradients["x"]) - expected) <= 1e-12 + 1e-9 * abs(expected)


def test_the_float64_oracle_reduces_the_argument_exactly():
    graph = parse_program("sin(x)")
    derivation = derive(graph, {"x": R(10) ** 23})
    reverse, _ = check_module._complex_step_reverse(graph, derivation.values,
                                                    {n: float(v) for n, v in derivation.values.items()})
    with mpmath.workdps(60):
        assert abs(reverse["x"] - float(mpmath.cos(mpmath.mpf(10) ** 23))) < 1e-15


@pytest.mark.parametrize("x", ["1e23", "1e100"])
def test_a_wrong_sin_rule_is_still_caught_at_huge_arguments(monkeypatch, x):
    monkeypatch.setitem(RULES, "sin", dataclasses.replace(RULES["sin"], partials=lambda a, out, p: [-sympy.cos(a[0])]))
    with pytest.raises(CheckFailure):
        check(derive(parse_program("sin(x)*y"), {"x": R(sympy.Rational(x)), "y": R(3)}))


# --- long products: finite differences with their own error bound --------------------------------------------------

def test_3000_factors_of_exp_pass_the_check_and_give_3000_e_cubed():
    """Before: exit 3, the plain central difference was off by 1.5e-4 relative."""
    derivation = derive(parse_program("*".join(["exp(x)"] * 3000)), {"x": R(1, 1000)})
    with cpu_limit(20, "checking 3000 factors of exp(x)"):
        report = check(derivation)
    assert report.oracle == "numeric"
    with mpmath.workdps(40):
        expected = float(3000 * mpmath.exp(3))
    assert abs(float(derivation.gradients["x"].value) - expected) <= 1e-9 * expected


def _tampered_walk(derivation, name, factor):
    gradients = dict(derivation.gradients)
    old = gradients[name]
    gradients[name] = dataclasses.replace(old, value=old.value * factor)
    return dataclasses.replace(derivation, gradients=gradients)


@pytest.mark.parametrize("factor", [R(1001, 1000), R(999, 1000), R(-1)])
def test_a_wrong_gradient_of_the_long_product_is_caught(factor):
    derivation = derive(parse_program("*".join(["exp(x)"] * 3000)), {"x": R(1, 1000)})
    with pytest.raises(CheckFailure, match="/dx"):
        check(_tampered_walk(derivation, "x", factor))


def test_finite_differences_alone_catch_a_wrong_gradient_that_the_reverse_pass_would_too(monkeypatch):
    """The reverse pass switched off: the differences with their error bound still see a 1e-3 error."""
    graph = parse_program("*".join(["exp(x)"] * 3000))
    derivation = derive(graph, {"x": R(1, 1000)})
    floats = {n: float(v) for n, v in derivation.values.items()}
    walk = {name: float(g.value) for name, g in derivation.gradients.items()}
    check_module._check_differences(graph, walk, floats)
    with pytest.raises(CheckFailure, match="finite differences"):
        check_module._check_differences(graph, {**walk, "x": walk["x"] * 1.001}, floats)


def wide_sum(n: int) -> tuple[str, dict[str, sympy.Rational]]:
    text = " + ".join(f"x{i}*x{i}" for i in range(n))
    return text, {f"x{i}": R(i % 7 + 1, 4) for i in range(n)}


def test_a_wide_graph_is_checked_along_random_directions_in_linear_time():
    """3000 leaves: one difference per leaf would be 3000 forward passes of the whole graph (16 s before for a
    sum of 3000 leaves)."""
    text, point = wide_sum(3000)
    graph = parse_program(text)
    assert len(graph.leaves) * len(graph.nodes) > FD_WORK
    derivation = derive(graph, point)
    with cpu_limit(10, "checking a sum of 3000 squares"):
        report = check(derivation)
    assert report.oracle == "numeric"
    for leaf, value in point.items():
        assert derivation.gradients[leaf].value == 2 * value


def test_the_random_directions_catch_one_wrong_leaf_among_many():
    text, point = wide_sum(400)
    graph = parse_program(text)
    derivation = derive(graph, point)
    floats = {n: float(v) for n, v in derivation.values.items()}
    walk = {name: float(g.value) for name, g in derivation.gradients.items()}
    check_module._check_differences(graph, walk, floats)
    with pytest.raises(CheckFailure, match="random direction"):
        check_module._check_differences(graph, {**walk, "x123": walk["x123"] + 0.5}, floats)
