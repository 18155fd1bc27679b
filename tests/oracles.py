"""Independent gradient oracles for the core engine's tests.

Nothing here uses derive's parser, graph or rule table. A program text (one expression, or assignments separated
by ``;`` or newlines, the last one being the output) is read by a tiny walker of its own over Python's ``ast``
that knows only numbers, names, ``+ - * / **``, unary minus/plus and the functions ``exp log sqrt sin cos tanh
sigmoid relu``. The walker feeds one of three back ends:

(a) SymPy: the fully substituted expression (``sigmoid`` as ``1/(1 + exp(-x))``, ``relu`` as ``Max(0, x)``),
    differentiated with ``sympy.diff`` with respect to each leaf and evaluated with mpmath at 40 digits (exactly,
    as a Rational, where the derivative is a rational function of the leaves);
(b) plain ``math`` floats: central finite differences with one Richardson step;
(c) PyTorch float64 autograd.

``compare_with_oracles`` runs all three against a `Derivation` and asserts every leaf's gradient.
"""
from __future__ import annotations

import ast
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping

import mpmath
import pytest
import sympy

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu")
_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}

# |got − expected| ≤ ABS + REL·|expected|
TOLERANCE = {"sympy": (1e-9, 1e-6), "torch": (1e-9, 1e-6), "fd": (1e-6, 1e-5)}
DIGITS = 40
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# ---------------------------------------------------------------------------------------------------------------
# The independent reader


@dataclass
class Program:
    """A program as (name, expression AST) assignments; a one-line expression is ``f = <expression>``."""

    text: str
    statements: list[tuple[str, ast.expr]]
    output: str
    leaves: list[str] = field(default_factory=list)  # names read before being assigned, in order of first use

    @classmethod
    def read(cls, text: str) -> "Program":
        tree = ast.parse(text, mode="exec")
        body = tree.body
        if len(body) == 1 and isinstance(body[0], ast.Expr):
            statements = [("f", body[0].value)]
        else:
            statements = []
            for statement in body:
                if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name)):
                    raise ValueError(f"the oracle reads only assignments: {ast.dump(statement)}")
                statements.append((statement.targets[0].id, statement.value))
        program = cls(text, statements, statements[-1][0])
        assigned: set[str] = set()
        for name, expr in statements:
            for node in _in_order(expr):
                if isinstance(node, ast.Name) and node.id not in assigned and node.id not in program.leaves:
                    program.leaves.append(node.id)
            assigned.add(name)
        return program

    def algebraic(self) -> bool:
        """Only + - * / and integer powers: every value at a rational point is rational."""
        for _, expr in self.statements:
            for node in _in_order(expr):
                if isinstance(node, ast.Call):
                    return False
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                    exponent = node.right
                    if isinstance(exponent, ast.UnaryOp):
                        exponent = exponent.operand
                    if not (isinstance(exponent, ast.Constant) and type(exponent.value) is int):
                        return False
        return True

    def evaluate(self, backend: "Backend", leaves: Mapping[str, object], hold: Mapping[str, object] = {}):
        """The output through ``backend``; names in ``hold`` are not computed but taken as given (so that the
        gradient with respect to an intermediate can be taken with that intermediate held as a variable)."""
        env: dict[str, object] = dict(leaves)
        for name, expr in self.statements:
            env[name] = hold[name] if name in hold else self._expr(expr, env, backend)
        return env[self.output]

    def _expr(self, expr: ast.expr, env: dict, backend: "Backend"):
        if isinstance(expr, ast.Name):
            return env[expr.id]
        if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
            return backend.num(self._literal(expr))
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return backend.neg(self._expr(expr.operand, env, backend))
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.UAdd):
            return self._expr(expr.operand, env, backend)
        if isinstance(expr, ast.BinOp) and type(expr.op) in _BINOPS:
            left = self._expr(expr.left, env, backend)
            right = self._expr(expr.right, env, backend)
            return backend.binop(_BINOPS[type(expr.op)], left, right)
        if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in FUNCTIONS
                and len(expr.args) == 1 and not expr.keywords):
            return backend.call(expr.func.id, self._expr(expr.args[0], env, backend))
        raise ValueError(f"the oracle does not read {ast.dump(expr)}")

    def _literal(self, constant: ast.Constant) -> Fraction:
        segment = (ast.get_source_segment(self.text, constant) or "").replace("_", "")
        try:
            return Fraction(segment)  # exact: "0.1" is 1/10
        except ValueError:
            return Fraction(constant.value)  # 0x10 and the like


def _in_order(expr: ast.expr):
    """Sub-expressions in evaluation order (left operand before right)."""
    if isinstance(expr, ast.BinOp):
        yield from _in_order(expr.left)
        yield from _in_order(expr.right)
    elif isinstance(expr, ast.UnaryOp):
        yield from _in_order(expr.operand)
    elif isinstance(expr, ast.Call):
        for arg in expr.args:
            yield from _in_order(arg)
    yield expr


class Backend:
    def num(self, value: Fraction): ...
    def neg(self, a): ...
    def binop(self, op: str, a, b): ...
    def call(self, name: str, a): ...


# ---------------------------------------------------------------------------------------------------------------
# (a) SymPy


def real_symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


class SympyBackend(Backend):
    def num(self, value):
        return sympy.Rational(value.numerator, value.denominator)

    def neg(self, a):
        return -a

    def binop(self, op, a, b):
        return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "div": lambda: a / b,
                "pow": lambda: a ** b}[op]()

    def call(self, name, a):
        if name == "sigmoid":
            return 1 / (1 + sympy.exp(-a))
        if name == "relu":
            return sympy.Max(0, a)
        return {"exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos,
                "tanh": sympy.tanh}[name](a)


def sympy_expression(text: str, hold: tuple[str, ...] = ()) -> tuple[sympy.Expr, Program]:
    """The output as one SymPy expression of the leaves (and of the names in ``hold``)."""
    program = Program.read(text)
    symbols = {name: real_symbol(name) for name in program.leaves}
    return program.evaluate(SympyBackend(), symbols, {n: real_symbol(n) for n in hold}), program


_TRANSCENDENTAL = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tanh, sympy.Max, sympy.Heaviside,
                   sympy.Min, sympy.Abs, sympy.sign)


def mp_evaluate(expr: sympy.Expr, point: Mapping[str, Fraction]) -> mpmath.mpf:
    """A SymPy expression evaluated with mpmath at ``DIGITS`` digits, by a walk of its tree (no code generation,
    no `subs`: substituting exact numbers makes SymPy simplify nested exponentials for minutes)."""
    memo: dict = {}
    with mpmath.workdps(DIGITS):
        value = _mp(expr, {real_symbol(n): mpmath.mpf(v.numerator) / v.denominator for n, v in point.items()},
                    memo)
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > mpmath.mpf(10) ** (-DIGITS // 2) * max(1, abs(value.real)):
            raise ValueError(f"the oracle's value is not real: {value}")
        value = value.real
    return value


def _mp(expr, env, memo):
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        value = env[expr]
    elif expr.is_Integer:
        value = mpmath.mpf(int(expr))
    elif expr.is_Rational:
        value = mpmath.mpf(expr.p) / expr.q
    elif expr.is_Float:
        value = mpmath.mpf(expr)
    elif expr is sympy.E:
        value = mpmath.e
    elif expr is sympy.pi:
        value = mpmath.pi
    else:
        args = [_mp(a, env, memo) for a in expr.args]
        if expr.is_Add:
            value = mpmath.fsum(args)
        elif expr.is_Mul:
            value = mpmath.fprod(args)
        elif expr.is_Pow:
            base, exponent = args
            value = base ** exponent if not (base == 0 and exponent < 0) else mpmath.inf
        elif isinstance(expr, sympy.exp):
            value = mpmath.exp(args[0])
        elif isinstance(expr, sympy.log):
            value = mpmath.log(args[0])
        elif isinstance(expr, sympy.sin):
            value = mpmath.sin(args[0])
        elif isinstance(expr, sympy.cos):
            value = mpmath.cos(args[0])
        elif isinstance(expr, sympy.tanh):
            value = mpmath.tanh(args[0])
        elif isinstance(expr, sympy.Max):
            value = max(args)
        elif isinstance(expr, sympy.Min):
            value = min(args)
        elif isinstance(expr, sympy.Heaviside):
            if args[0] == 0:
                raise ValueError("the oracle was asked for a derivative at a kink")
            value = mpmath.mpf(1 if args[0] > 0 else 0)
        elif isinstance(expr, sympy.Abs):
            value = abs(args[0])
        elif isinstance(expr, sympy.sign):
            value = mpmath.sign(args[0])
        else:
            raise ValueError(f"the oracle cannot evaluate {type(expr).__name__}")
    memo[expr] = value
    return value


@dataclass(frozen=True)
class SympyResult:
    value: sympy.Expr  # the output's value (a Rational when exact, else a 40-digit Float)
    gradients: dict[str, sympy.Expr]  # leaf -> ∂output/∂leaf, same convention
    exact: bool  # True when the program is a rational function and the numbers above are exact Rationals


def sympy_gradient(text: str, point: Mapping[str, object], wrt: tuple[str, ...] | None = None,
                   hold: tuple[str, ...] = ()) -> SympyResult:
    """∂output/∂name by `sympy.diff` of the fully substituted output, for every leaf (or the names in ``wrt``,
    which may include held intermediates). ``point`` maps every leaf to an exact number."""
    expr, program = sympy_expression(text, hold)
    exact_point = {name: _fraction(v) for name, v in point.items()}
    names = wrt if wrt is not None else tuple(program.leaves)
    exact = True
    for name in hold:  # a held intermediate needs its own value: the forward value at the point
        held_expr, _ = sympy_expression(_truncate(program, name))
        held_value = _number(held_expr, exact_point)
        exact = exact and held_value.is_Rational
        exact_point[name] = _to_fraction_or_float(held_value)
    exact = exact and program.algebraic()  # derive need not cancel exp(x) - exp(x) symbolically
    value = _number(expr, exact_point, exact)
    gradients = {name: _number(sympy.diff(expr, real_symbol(name)), exact_point, exact) for name in names}
    return SympyResult(value, gradients, exact)


def _truncate(program: Program, name: str) -> str:
    """The program up to the assignment of ``name`` (so that its value can be computed)."""
    lines = []
    for target, expr in program.statements:
        lines.append(f"{target} = {ast.unparse(expr)}")
        if target == name:
            break
    return "\n".join(lines)


def _algebraic(expr: sympy.Expr) -> bool:
    """A rational function of its symbols: no transcendental function, no fractional or symbolic power."""
    return not expr.has(*_TRANSCENDENTAL) and all(p.exp.is_Integer for p in expr.atoms(sympy.Pow))


def _number(expr: sympy.Expr, point: Mapping[str, Fraction], exact: bool = True) -> sympy.Expr:
    """Exact (a Rational) when ``exact`` and the expression is a rational function of the leaves, else a
    40-digit Float."""
    if exact and _algebraic(expr):
        exact = expr.xreplace({real_symbol(n): sympy.Rational(v.numerator, v.denominator) for n, v in point.items()})
        if exact.is_Rational:
            return exact
    return sympy.Float(mp_evaluate(expr, point), DIGITS)


def _fraction(value) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, sympy.Rational):
        return Fraction(int(value.p), int(value.q))
    if isinstance(value, (int, str)):
        return Fraction(value)
    if isinstance(value, sympy.Float):
        return Fraction(str(value))
    raise TypeError(f"the oracle needs exact point values, got {value!r}")


def _to_fraction_or_float(value: sympy.Expr) -> Fraction:
    return Fraction(int(value.p), int(value.q)) if value.is_Rational else Fraction(str(value))


# ---------------------------------------------------------------------------------------------------------------
# (b) Finite differences in float64


class FloatBackend(Backend):
    """Plain float64 arithmetic; records every relu input so that kinks can be avoided."""

    def __init__(self) -> None:
        self.relu_inputs: list[float] = []
        self.largest = 0.0

    def _seen(self, value: float) -> float:
        if not math.isfinite(value):
            raise OverflowError("not finite")
        self.largest = max(self.largest, abs(value))
        return value

    def num(self, value):
        return float(value)

    def neg(self, a):
        return -a

    def binop(self, op, a, b):
        if op == "pow":
            result = a ** b
            if isinstance(result, complex):
                raise ValueError("complex power")
            return self._seen(float(result))
        return self._seen({"add": a + b, "sub": a - b, "mul": a * b}[op] if op != "div" else a / b)

    def call(self, name, a):
        if name == "sigmoid":
            return self._seen(1 / (1 + math.exp(-a)) if a >= 0 else math.exp(a) / (1 + math.exp(a)))
        if name == "relu":
            self.relu_inputs.append(a)
            return max(0.0, a)
        return self._seen({"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
                           "tanh": math.tanh}[name](a))


def float_forward(text: str, point: Mapping[str, object]) -> tuple[float, FloatBackend]:
    program = Program.read(text)
    backend = FloatBackend()
    value = program.evaluate(backend, {n: float(_fraction(point[n])) for n in program.leaves})
    return float(value), backend


def finite_difference_gradient(text: str, point: Mapping[str, object]) -> dict[str, float | None]:
    """Central differences with one Richardson step, ``(4·D(h/2) − D(h))/3``, for every leaf. A leaf whose
    perturbation moves a relu input across zero (or leaves a function's domain) gets ``None``: finite
    differences say nothing there."""
    program = Program.read(text)
    base = {n: float(_fraction(point[n])) for n in program.leaves}
    _, backend = _run(program, base)
    signs = [v > 0 for v in backend.relu_inputs]
    result: dict[str, float | None] = {}
    for leaf in program.leaves:
        h = 1e-4 * max(1e-2, abs(base[leaf]))
        try:
            values = {}
            for k in (-2, -1, 1, 2):
                value, probe = _run(program, {**base, leaf: base[leaf] + k * h / 2})
                if [v > 0 for v in probe.relu_inputs] != signs:
                    raise ValueError("crossed a kink")
                values[k] = value
        except (ValueError, ZeroDivisionError, OverflowError):
            result[leaf] = None
            continue
        d_h = (values[2] - values[-2]) / (2 * h)
        d_half = (values[1] - values[-1]) / h
        result[leaf] = (4 * d_half - d_h) / 3
    return result


def _run(program: Program, point: Mapping[str, float]) -> tuple[float, FloatBackend]:
    backend = FloatBackend()
    return float(program.evaluate(backend, point)), backend


# ---------------------------------------------------------------------------------------------------------------
# (c) PyTorch float64 autograd


def require_torch():
    """torch, or a skip where it is not installed; under CI (``CI=true``) a missing torch is a failure."""
    try:
        import torch
    except ImportError:
        message = "torch is not installed (scripts/install-test-deps.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return torch


class TorchBackend(Backend):
    def __init__(self, torch) -> None:
        self.torch = torch

    def num(self, value):
        return self.torch.tensor(float(value), dtype=self.torch.float64)

    def neg(self, a):
        return -a

    def binop(self, op, a, b):
        t = self.torch
        return {"add": t.add, "sub": t.sub, "mul": t.mul, "div": t.div, "pow": t.pow}[op](a, b)

    def call(self, name, a):
        t = self.torch
        return {"exp": t.exp, "log": t.log, "sqrt": t.sqrt, "sin": t.sin, "cos": t.cos, "tanh": t.tanh,
                "sigmoid": t.sigmoid, "relu": t.relu}[name](a)


def torch_gradient(text: str, point: Mapping[str, object]) -> tuple[float, dict[str, float]]:
    """The output and ∂output/∂leaf by PyTorch float64 autograd."""
    torch = require_torch()
    program = Program.read(text)
    leaves = {n: torch.tensor(float(_fraction(point[n])), dtype=torch.float64, requires_grad=True)
              for n in program.leaves}
    out = program.evaluate(TorchBackend(torch), leaves)
    grads = torch.autograd.grad(out, list(leaves.values()), allow_unused=True)
    return float(out.detach()), {n: (0.0 if g is None else float(g)) for n, g in zip(leaves, grads)}


# ---------------------------------------------------------------------------------------------------------------
# Comparison


def close(got: float, expected: float, oracle: str) -> bool:
    absolute, relative = TOLERANCE[oracle]
    return abs(got - expected) <= absolute + relative * abs(expected)


def assert_close(got, expected, oracle: str, what: str) -> None:
    got_f, expected_f = float(got), float(expected)
    assert close(got_f, expected_f, oracle), (
        f"{what}: derive gives {got_f!r}, the {oracle} oracle {expected_f!r} "
        f"(difference {abs(got_f - expected_f):.3g})")


def point_of(assignments: Mapping[str, str]) -> dict[str, sympy.Rational]:
    """``{"x": "0.7"}`` -> exact sympy Rationals (``0.7`` is 7/10)."""
    return {name: sympy.Rational(Fraction(text)) for name, text in assignments.items()}


def compare_with_oracles(text: str, derivation, point: Mapping[str, object], *, use_torch: bool = True,
                         use_fd: bool = True, intermediates: bool = True) -> dict[str, int]:
    """Assert that ``derivation`` (derive's walk of ``text`` at ``point``) agrees with every oracle on every leaf,
    exactly where SymPy's answer is rational; also the output value, and (for programs) the gradient with
    respect to each assigned intermediate, held as a variable. Returns how many comparisons each oracle made."""
    counts = {"sympy": 0, "torch": 0, "fd": 0, "exact": 0}
    program = Program.read(text)
    assert set(program.leaves) == set(derivation.graph.leaves), (program.leaves, derivation.graph.leaves)
    oracle = sympy_gradient(text, point)
    _assert_equal_or_close(derivation.values[derivation.output], oracle.value, oracle.exact, "output value",
                           counts)
    for leaf in program.leaves:
        got = derivation.gradients[leaf].value
        _assert_equal_or_close(got, oracle.gradients[leaf], oracle.exact, f"d{program.output}/d{leaf}", counts)
    if intermediates:
        for name, _ in program.statements[:-1]:
            held = sympy_gradient(text, point, wrt=(name,), hold=(name,))
            _assert_equal_or_close(derivation.gradients[name].value, held.gradients[name], held.exact,
                                   f"d{program.output}/d{name}", counts)
    if use_torch:
        value, grads = torch_gradient(text, point)
        assert_close(derivation.values[derivation.output], value, "torch", "output value")
        for leaf in program.leaves:
            assert_close(derivation.gradients[leaf].value, grads[leaf], "torch", f"d{program.output}/d{leaf}")
            counts["torch"] += 1
    if use_fd:
        for leaf, estimate in finite_difference_gradient(text, point).items():
            if estimate is not None:
                assert_close(derivation.gradients[leaf].value, estimate, "fd", f"d{program.output}/d{leaf}")
                counts["fd"] += 1
    return counts


def _assert_equal_or_close(got, expected, exact: bool, what: str, counts) -> None:
    if exact and isinstance(expected, sympy.Rational):
        assert got is not None and getattr(got, "is_Rational", False) and got == expected, (
            f"{what}: derive gives {got!r}, exactly {expected!r} expected")
        counts["exact"] += 1
    else:
        assert_close(got, expected, "sympy", what)
    counts["sympy"] += 1
