"""Checks every derivation against independent oracles before anything is rendered.

(1) Each local gradient against `sympy.diff` of its node's own definition. (2) Each accumulated gradient against
an independent float64 reverse pass whose local derivatives come from the complex step (no use of the rule table's
symbolic partials), and against `sympy.diff` of the unrolled output while that stays small (≤ ``SYMBOLIC_OPS``
operations written out as a tree, counted once per distinct sub-expression; ≤ ``SYMBOLIC_WORK`` operations ×
leaves), else against central finite differences. Tolerance ``|a − b| ≤ 1e-9 + 1e-6·|b|``, widened only by each
numeric oracle's own error bound (the rounding of the reverse pass, the truncation of the differences).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Collection, Mapping

import mpmath
import sympy
from sympy import Expr

from .backward import Derivation, walk
from .errors import CheckFailure, InputError
from .graph import Graph, forward, symbol, unrolled
from .rules import RULES

SYMBOLIC_OPS = 5000
SYMBOLIC_WORK = 20_000  # operations × leaves: one sympy.diff per leaf, each costing about the size of the output
MAX_SYMBOLIC_NODES = 400  # beyond this the unrolled output is not even built
UNROLL_OPS = 2 * SYMBOLIC_OPS  # nor beyond this many operations of the graph written out as a tree
ABS_TOL, REL_TOL = 1e-9, 1e-6
FD_TOL = (1e-6, 1e-5)  # central differences are accurate to about 1e-8 relative, not to float64 rounding
FD_STEP = 1e-5  # relative to max(1, |leaf|); the differences at FD_STEP and FD_STEP/2 also give their error
FD_WORK = 50_000  # leaves × nodes: one difference per leaf; beyond, along random directions (cost: the graph's size)
FD_DIRECTIONS = 2
ROUNDING_TOL = 1e-9  # of the float64 reverse pass, relative to the sum of |terms| it adds: ~ (depth + fan-in)·2^-53
KINK_RADIUS = 1e-6
_STEP = 1e-30  # complex step; exact to machine precision for analytic ops


@dataclass(frozen=True)
class Note:
    """A remark of the self-check for the reader (a catalog key and its parameters)."""
    key: str  # catalog key
    params: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class CheckReport:
    """What the self-check compared, against which oracle, and at which point."""
    locals_checked: int
    gradients_checked: int
    oracle: str  # "symbolic" or "numeric"
    at_given_point: bool
    notes: tuple[Note, ...]


def close(got: float, expected: float) -> bool:
    """Whether a float computed from the walk agrees with an independent oracle's float: within
    ``ABS_TOL + REL_TOL·|expected|`` (absolute near zero, relative elsewhere). The one tolerance of the engine's
    and the scenarios' self-checks."""
    return abs(got - expected) <= ABS_TOL + REL_TOL * abs(expected)


def check(derivation: Derivation) -> CheckReport:
    """Raise `CheckFailure` on the first disagreement; return what was checked."""
    graph = derivation.graph
    values, given = (derivation.values, True) if derivation.values is not None else (_random_point(graph), False)
    floats = {name: float(v) for name, v in values.items()}
    kinks = _kinks(graph, floats)
    notes = [Note("kink_skipped", (("nodes", tuple(kinks)),))] if kinks else []
    locals_checked = _check_locals(derivation, values, set(kinks))
    if kinks:
        return CheckReport(locals_checked, 0, "none", given, tuple(notes))
    walk = _walk_values(derivation, values)
    # every node against the independent float64 reverse pass; the leaves also against sympy.diff of the
    # unrolled output while it is small, else against central finite differences
    reverse, scale = _complex_step_reverse(graph, values, floats)
    _compare(graph, walk, "float64 reverse pass",
             {name: (value, ROUNDING_TOL * scale[name]) for name, value in reverse.items()}, (ABS_TOL, REL_TOL),
             derivation.constants)
    symbolic = _try_symbolic(graph, values)
    if symbolic is not None:
        _compare(graph, walk, "sympy.diff", {name: (value, 0.0) for name, value in symbolic.items()},
                 (ABS_TOL, REL_TOL), derivation.constants)
    else:
        _check_differences(graph, walk, floats, derivation.constants)
    return CheckReport(locals_checked, len(walk), "numeric" if symbolic is None else "symbolic", given,
                       tuple(notes))


def _compare(graph: Graph, walk: Mapping[str, float], oracle: str, expected: Mapping[str, tuple[float, float]],
             tolerance: tuple[float, float], constants: Collection[str] = ()) -> None:
    """``expected``: node → (value, the oracle's own error bound); ``constants`` have no gradient to compare."""
    abs_tol, rel_tol = tolerance
    for name, (value, error) in expected.items():
        if name in constants:
            continue  # data, not differentiated
        if not abs(walk[name] - value) <= abs_tol + rel_tol * abs(value) + error:
            raise CheckFailure(f"self-check failed: d{graph.output}/d{name} = {walk[name]!r} from the walk, "
                               f"{value!r} from {oracle}")


def _try_symbolic(graph: Graph, values: Mapping[str, Expr]) -> dict[str, float] | None:
    """The symbolic oracle at a point, while the unrolled output is small (and shallow enough for SymPy's
    recursion). The partial derivatives are found once per graph: descent steps only evaluate them again."""
    partials = _symbolic_partials(graph)
    if partials is None:
        return None
    leaves = {symbol(n): _float_30(values[n]) for n in graph.leaves}
    return {leaf: float(sympy.N(partial.xreplace(leaves), 20)) for leaf, partial in partials}


def _float_30(value: Expr) -> Expr:
    """``value`` as a float with 30 significant digits, and with more where it is large, so that its absolute
    error stays below 1e-30: sin(10^100) needs 10^100 to its last unit. (Not the exact rational: at an exact
    point a deep chain of exp and sigmoid would be evaluated as one nested exact expression.)"""
    if value.is_Float:
        return value  # the walk's own 30-digit value
    whole_digits = len(str(abs(value.p) // value.q))
    return sympy.Float(value, 30 + whole_digits)


@lru_cache(maxsize=16)
def _symbolic_partials(graph: Graph) -> tuple[tuple[str, Expr], ...] | None:
    """``sympy.diff`` of the output unrolled to the leaves by each leaf, or None when that is too large."""
    if len(graph.nodes) > MAX_SYMBOLIC_NODES or _graph_tree_operations(graph) > UNROLL_OPS:
        return None
    try:
        output = unrolled(graph)[graph.output]
        ops = tree_operations(output, SYMBOLIC_OPS)
        if ops is None or ops * len(graph.leaves) > SYMBOLIC_WORK:
            return None
        return tuple((leaf, sympy.diff(output, symbol(leaf))) for leaf in graph.leaves)
    except RecursionError:
        return None


def _graph_tree_operations(graph: Graph) -> int:
    """The operations of the output written out from the graph as a tree (each read of a node a copy of it), at
    most ``UNROLL_OPS + 1``: SymPy's construction of the unrolled output can cost that much (it merges ``t*t`` into
    ``t**2``, so `tree_operations` of what it builds may be smaller)."""
    size: dict[str, int] = {}
    for node in graph.nodes:
        size[node.name] = 0 if node.op == "leaf" else min(
            1 + sum(size[a] for a in node.args if isinstance(a, str)), UNROLL_OPS + 1)
    return size[graph.output]


def tree_operations(expr: Expr, limit: int) -> int | None:
    """The operations of ``expr`` written out as a tree (an n-term sum or product counts n − 1, any other
    operation 1), found once per distinct sub-expression: the cost is the size of the shared graph however large
    its tree, where `sympy.count_ops` walks the tree (2^25 operations for a 25-line program whose every line
    reads the previous one twice). None as soon as the count passes ``limit``."""
    counts: dict[Expr, int] = {}
    pending: list[tuple[Expr, bool]] = [(expr, False)]
    while pending:
        node, children_done = pending.pop()
        if node in counts:
            continue
        if not node.args:
            counts[node] = 0
        elif not children_done:
            pending.append((node, True))
            pending.extend((arg, False) for arg in node.args if arg not in counts)
        else:
            own = len(node.args) - 1 if isinstance(node, (sympy.Add, sympy.Mul)) else 1
            counts[node] = own + sum(counts[arg] for arg in node.args)
            if counts[node] > limit:
                return None
    return counts[expr]


def _walk_values(derivation: Derivation, values: Mapping[str, Expr]) -> dict[str, float]:
    """The walk's gradients at the check point (recomputed from the symbolic chain when the walk had no point)."""
    if derivation.values is not None:
        return {name: float(g.value) for name, g in derivation.gradients.items() if g.value is not None}
    graph = derivation.graph  # the same walk, now at the random point
    at_point = walk(graph, {n: values[n] for n in graph.leaves}, values, derivation.wrt, derivation.constants)
    return {name: float(g.value) for name, g in at_point.gradients.items() if g.value is not None}


def _check_locals(derivation: Derivation, values: Mapping[str, Expr], skip: set[str]) -> int:
    graph = derivation.graph
    # 30-digit floats: an exact rational point would make x**999999999 an enormous exact number
    sub = {symbol(n): _float_30(v) for n, v in values.items()}
    count = 0
    for step in derivation.steps:
        if step.node in skip:
            continue
        node = graph[step.node]
        inputs = node.inputs
        own, partials = _definition_partials(node.op, node.params, _operand_pattern(node))
        at_point = {_placeholder(k): sub[symbol(name)] for k, name in enumerate(inputs)}
        own_value = own.xreplace(at_point)
        for term in step.terms:
            expected = partials[inputs.index(term.input)].xreplace(at_point)
            got = term.local.xreplace({symbol(node.name): own_value}).xreplace(sub)
            a, b = (complex(e) if e.is_Number else complex(sympy.N(e, 20)) for e in (got, expected))
            if abs(a.imag) > 0 or abs(b.imag) > 0 or not close(a.real, b.real):
                raise CheckFailure(f"self-check failed: local gradient d{node.name}/d{term.input} of op "
                                   f"{node.op} is {a.real!r}, sympy.diff gives {b.real!r}")
            count += 1
    return count


def _operand_pattern(node) -> tuple:
    """The node's operands with each name replaced by the index of its first use: ``x*x`` → ((0,), (0,)).
    (A bare index would equal the constant: SymPy's 1 == 1 and hashes alike.)"""
    return tuple((node.inputs.index(a),) if isinstance(a, str) else a for a in node.args)


def _placeholder(k: int) -> sympy.Symbol:
    return symbol(f"_operand{k}")


@lru_cache(maxsize=4096)
def _definition_partials(op: str, params: tuple, pattern: tuple) -> tuple[Expr, tuple[Expr, ...]]:
    """An op's definition over placeholder operands and `sympy.diff` of it by each distinct one, found once per
    shape of node rather than once per node."""
    args = [_placeholder(a[0]) if isinstance(a, tuple) else a for a in pattern]
    own = RULES[op].forward(args, params)
    distinct = dict.fromkeys(a[0] for a in pattern if isinstance(a, tuple))
    return own, tuple(sympy.diff(own, _placeholder(k)) for k in distinct)


def _check_differences(graph: Graph, walk: Mapping[str, float], floats: Mapping[str, float],
                       constants: Collection[str] = ()) -> None:
    """The leaves' gradients against central differences: one per leaf while leaves × nodes ≤ ``FD_WORK``, else
    (a wide graph, where that would cost leaves × nodes) along ``FD_DIRECTIONS`` reproducible random directions,
    each compared with the walk's gradient projected on it. ``constants`` are data, not differentiated."""
    leaves = [leaf for leaf in graph.leaves if leaf not in constants]
    spans = {leaf: max(1.0, abs(floats[leaf])) for leaf in leaves}
    if len(leaves) * len(graph.nodes) <= FD_WORK:
        expected = {}
        for leaf in leaves:
            value, error = _difference(graph, floats, {leaf: spans[leaf]})
            expected[leaf] = (value / spans[leaf], error / spans[leaf])
        _compare(graph, walk, "finite differences", expected, FD_TOL)
        return
    rng = random.Random(20261204)
    abs_tol, rel_tol = FD_TOL
    for _ in range(FD_DIRECTIONS):
        direction = {leaf: spans[leaf] * rng.choice((-1, 1)) * rng.uniform(0.5, 1.5) for leaf in leaves}
        value, error = _difference(graph, floats, direction)
        terms = [walk[leaf] * step for leaf, step in direction.items()]
        projected = sum(terms)
        if not abs(projected - value) <= abs_tol + rel_tol * sum(map(abs, terms)) + error:
            raise CheckFailure(f"self-check failed: along a random direction d{graph.output} changes at the rate "
                               f"{projected!r} by the walk's gradients, {value!r} by finite differences")


def _difference(graph: Graph, floats: Mapping[str, float], direction: Mapping[str, float]) -> tuple[float, float]:
    """The derivative of the float64 forward pass along ``direction`` (leaf → step per unit of h): Richardson's
    extrapolation of the central differences at h and h/2, and a bound on its error, the distance between the
    two (4× the truncation error left in the h/2 one, and it also shows rounding noise). A long product such as
    3,000 factors of exp(x) has a large third derivative: its plain central difference is off by 1.5e-4."""
    def quotient(h: float) -> float:
        up = _float_forward(graph, {**floats, **{leaf: floats[leaf] + h * d for leaf, d in direction.items()}})
        down = _float_forward(graph, {**floats, **{leaf: floats[leaf] - h * d for leaf, d in direction.items()}})
        return (up - down) / (2 * h)

    coarse, fine = quotient(FD_STEP), quotient(FD_STEP / 2)
    return (4 * fine - coarse) / 3, abs(fine - coarse)


def _operands(node, vals: Mapping[str, complex]) -> list[complex]:
    return [vals[a] if isinstance(a, str) else complex(a) for a in node.args]


def _complex_forward(graph: Graph, floats: Mapping[str, float]) -> dict[str, complex]:
    """Every node's value in complex float64, from the rule table's numeric forms only."""
    vals: dict[str, complex] = {}
    for node in graph.nodes:
        vals[node.name] = complex(floats[node.name]) if node.op == "leaf" else RULES[node.op].numeric(
            _operands(node, vals), node.params)
    return vals


def _float_forward(graph: Graph, floats: Mapping[str, float]) -> float:
    return _complex_forward(graph, floats)[graph.output].real


def _complex_step_reverse(graph: Graph, values: Mapping[str, Expr], floats: Mapping[str, float],
                          ) -> tuple[dict[str, float], dict[str, float]]:
    """Every node's gradient by a float64 reverse pass, and the sum of the |terms| that make it up (its rounding
    error is a small multiple of 2^-53 times that). The operands are the exact forward values rounded once to
    float64, a periodic op's operand reduced modulo its period first, exactly: float64 would round x = 10^23
    before sin saw it, and sin of the rounded number is another number. Each local derivative is the complex
    step of the op's numeric form."""
    grad = {node.name: 0.0 for node in graph.nodes}
    scale = dict(grad)
    grad[graph.output] = scale[graph.output] = 1.0
    for node in reversed(graph.nodes):
        if node.op == "leaf":
            continue
        rule = RULES[node.op]
        args = _operands(node, floats)
        if rule.period is not None:
            args = [complex(_reduced(values[a] if isinstance(a, str) else a, rule.period)) for a in node.args]
        for i, arg in enumerate(node.args):
            if isinstance(arg, str):
                bumped = args[:i] + [args[i] + complex(0, _STEP)] + args[i + 1:]
                local = rule.numeric(bumped, node.params).imag / _STEP
                grad[arg] += grad[node.name] * local
                scale[arg] += scale[node.name] * abs(local)
    return grad, scale


def _reduced(value: Expr, period: Expr) -> float:
    """``value`` modulo ``period``, from the exact value with enough bits that the result is right in float64."""
    bits = 128 + int(abs(value.evalf(5))).bit_length()
    with mpmath.workprec(bits):
        return float(mpmath.fmod(value._to_mpmath(bits), period._to_mpmath(bits)))


def _kinks(graph: Graph, floats: Mapping[str, float]) -> list[str]:
    out = []
    for node in graph.nodes:
        rule = RULES.get(node.op)
        if rule is not None and rule.kink is not None:
            args = [floats[a] if isinstance(a, str) else float(a) for a in node.args]
            if rule.kink(args, node.params):
                out.append(node.name)
    return out


def _random_point(graph: Graph) -> dict[str, Expr]:
    """A reproducible point where the forward pass is defined, for checking a symbolic walk."""
    rng = random.Random(20261125)
    for attempt in range(60):
        spread = 700 // 10 ** (attempt // 20)  # closer to 1 when large powers over- or underflow further out
        point = {leaf: sympy.Rational(rng.randint(1000 - spread, 1000 + spread), 1000) for leaf in graph.leaves}
        try:
            values = forward(graph, point)
        except (InputError, ZeroDivisionError, OverflowError):
            continue
        if not _kinks(graph, {n: float(v) for n, v in values.items()}):
            return values
    raise InputError.of("point.none_defined")
