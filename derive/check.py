"""Checks every derivation against independent oracles before anything is rendered.

(1) Each local gradient against `sympy.diff` of its node's own definition. (2) Each accumulated gradient against
`sympy.diff` of the unrolled output while that stays small (≤ ``SYMBOLIC_OPS`` operations, ≤ ``SYMBOLIC_WORK``
operations × leaves), else against central finite differences and an independent float64 reverse pass whose
local derivatives come from the complex step (no use of the rule table's symbolic partials).
Tolerance ``|a − b| ≤ 1e-9 + 1e-6·|b|``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import sympy
from sympy import Expr

from .backward import Derivation
from .errors import CheckFailure, InputError
from .graph import Graph, forward, symbol, unrolled
from .rules import RULES

SYMBOLIC_OPS = 5000
SYMBOLIC_WORK = 20_000  # operations × leaves: one sympy.diff per leaf, each costing about the size of the output
MAX_SYMBOLIC_NODES = 400  # beyond this the unrolled output is not even built
ABS_TOL, REL_TOL = 1e-9, 1e-6
FD_TOL = (1e-6, 1e-5)  # central differences are accurate to about 1e-8 relative, not to float64 rounding
KINK_RADIUS = 1e-6
_STEP = 1e-30  # complex step; exact to machine precision for analytic ops


@dataclass(frozen=True)
class Note:
    key: str  # catalog key
    params: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class CheckReport:
    locals_checked: int
    gradients_checked: int
    oracle: str  # "symbolic" or "numeric"
    at_given_point: bool
    notes: tuple[Note, ...]


def close(got: float, expected: float) -> bool:
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
    oracles = [("float64 reverse pass", _complex_step_reverse(graph, floats), (ABS_TOL, REL_TOL))]
    symbolic = _try_symbolic(graph, values)
    if symbolic is not None:
        oracles.append(("sympy.diff", symbolic, (ABS_TOL, REL_TOL)))
    else:
        oracles.append(("finite differences", _central_differences(graph, floats), FD_TOL))
    for oracle_name, expected, (abs_tol, rel_tol) in oracles:
        for name, value in expected.items():
            if name in derivation.constants:
                continue  # data, not differentiated
            if not abs(walk[name] - value) <= abs_tol + rel_tol * abs(value):
                raise CheckFailure(f"self-check failed: d{graph.output}/d{name} = {walk[name]!r} from the walk, "
                                   f"{value!r} from {oracle_name}")
    return CheckReport(locals_checked, len(walk), "numeric" if symbolic is None else "symbolic", given,
                       tuple(notes))


def _try_symbolic(graph: Graph, values: Mapping[str, Expr]) -> dict[str, float] | None:
    """The symbolic oracle while the unrolled output is small (and shallow enough for SymPy's recursion)."""
    if len(graph.nodes) > MAX_SYMBOLIC_NODES:
        return None
    try:
        output = unrolled(graph)[graph.output]
        ops = sympy.count_ops(output)
        if ops > SYMBOLIC_OPS or ops * len(graph.leaves) > SYMBOLIC_WORK:
            return None
        return _symbolic_oracle(graph, output, values)
    except RecursionError:
        return None


def _walk_values(derivation: Derivation, values: Mapping[str, Expr]) -> dict[str, float]:
    """The walk's gradients at the check point (recomputed from the symbolic chain when the walk had no point)."""
    if derivation.values is not None:
        return {name: float(g.value) for name, g in derivation.gradients.items() if g.value is not None}
    from .backward import walk  # the same walk, now at the random point
    graph = derivation.graph
    at_point = walk(graph, {n: values[n] for n in graph.leaves}, values, derivation.wrt, derivation.constants)
    return {name: float(g.value) for name, g in at_point.gradients.items() if g.value is not None}


def _check_locals(derivation: Derivation, values: Mapping[str, Expr], skip: set[str]) -> int:
    graph = derivation.graph
    # 30-digit floats: an exact rational point would make x**999999999 an enormous exact number
    sub = {symbol(n): sympy.Float(v, 30) for n, v in values.items()}
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


def _symbolic_oracle(graph: Graph, output: Expr, values: Mapping[str, Expr]) -> dict[str, float]:
    """∂output/∂leaf by `sympy.diff` of the output unrolled down to the leaves. The other leaves are fixed at
    their (30-digit) values first, so each derivative is taken of a one-variable expression."""
    numbers = {symbol(n): sympy.Float(values[n], 30) for n in graph.leaves}
    expected = {}
    for leaf in graph.leaves:
        x = symbol(leaf)
        partial = sympy.diff(output.xreplace({s: v for s, v in numbers.items() if s != x}), x)
        expected[leaf] = float(sympy.N(partial.xreplace({x: numbers[x]}), 20))
    return expected


def _central_differences(graph: Graph, floats: Mapping[str, float]) -> dict[str, float]:
    """∂output/∂leaf by central differences on a float64 forward pass."""
    expected = {}
    for leaf in graph.leaves:
        h = 1e-5 * max(1.0, abs(floats[leaf]))
        up = _float_forward(graph, {**floats, leaf: floats[leaf] + h})
        down = _float_forward(graph, {**floats, leaf: floats[leaf] - h})
        expected[leaf] = (up - down) / (2 * h)
    return expected


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


def _complex_step_reverse(graph: Graph, floats: Mapping[str, float]) -> dict[str, float]:
    vals = _complex_forward(graph, floats)
    grad = {node.name: 0.0 for node in graph.nodes}
    grad[graph.output] = 1.0
    for node in reversed(graph.nodes):
        if node.op == "leaf":
            continue
        args = _operands(node, vals)
        for i, arg in enumerate(node.args):
            if isinstance(arg, str):
                bumped = args[:i] + [args[i] + complex(0, _STEP)] + args[i + 1:]
                grad[arg] += grad[node.name] * RULES[node.op].numeric(bumped, node.params).imag / _STEP
    return grad


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
    raise InputError("found no point where the expression is defined to check the symbolic walk at; "
                     "give one with --at")
