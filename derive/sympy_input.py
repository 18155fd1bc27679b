"""A SymPy expression → the text of an expression that `derive.parse` reads, node for node.

The expression tree is walked over an explicit whitelist of SymPy classes (nothing is evaluated, nothing is
sympified); each node becomes the operator or function call the parser turns into exactly one graph node, so a
SymPy expression goes through the same graph builder, naming rule and limits as typed text.

SymPy has evaluated the expression before derive sees it: ``x - y`` arrives as ``x + (-1)*y``, ``x/y`` as
``x*y**(-1)``, ``t*t`` as ``t**2`` and the terms in SymPy's own order. The text keeps that structure, so the
walk-through shows the nodes SymPy built (type the expression as text to keep the nodes a student wrote).
"""
from __future__ import annotations

import keyword
import re

import sympy
from sympy.core.function import AppliedUndef

from .errors import InputError, message
from .parse import MAX_DEPTH, MAX_NODES

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FUNCTIONS = {sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos", sympy.tanh: "tanh"}
_UNDEFINED = ("sigmoid", "relu")  # sympy.Function("sigmoid")(x): derive's own functions, which SymPy lacks
SUPPORTED = ("Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow (sqrt as x**(1/2))", "exp", "log", "sin",
             "cos", "tanh", "Max(0, x) (relu)", 'Function("sigmoid"), Function("relu")')
# binding strength, as Python's grammar has it: a child binding less tightly than its parent gets parentheses
_ATOM, _POWER, _PRODUCT, _SUM = 4, 3, 2, 1


def is_sympy(source: object) -> bool:
    return isinstance(source, sympy.Basic)


def sympy_to_text(expr: sympy.Basic) -> str:
    """The expression written for `derive.parse.parse_program`; `InputError` naming the first SymPy class (or
    symbol name) that derive does not read."""
    if not isinstance(expr, sympy.Expr):
        raise InputError(message("sympy.not_expression", kind=type(expr).__name__), "source")
    counter = [0]
    text, _ = _write(expr, 0, counter)
    return text


def _write(expr: sympy.Expr, depth: int, counter: list[int]) -> tuple[str, int]:
    """(text, binding strength) of one SymPy node."""
    if depth > MAX_DEPTH:
        raise InputError(message("too_deep", limit=MAX_DEPTH), "source")
    counter[0] += 1
    if counter[0] > 2 * MAX_NODES:
        raise InputError(message("too_many_operations", limit=MAX_NODES), "source")
    if isinstance(expr, sympy.Symbol):
        return _symbol(expr.name), _ATOM
    if isinstance(expr, sympy.Number):
        return _number(expr)
    if isinstance(expr, sympy.Add):
        return " + ".join(_operand(a, _PRODUCT, depth, counter) for a in expr.args), _SUM  # x + (-1)
    if isinstance(expr, sympy.Mul):
        return "*".join(_operand(a, _PRODUCT + 1, depth, counter) for a in expr.args), _PRODUCT
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        if exponent == sympy.S.Half:
            return f"sqrt({_write(base, depth + 1, counter)[0]})", _ATOM
        # Python's ** binds to the right: a power as the base needs parentheses, a power as the exponent does not
        return f"{_operand(base, _ATOM, depth, counter)}**{_operand(exponent, _POWER, depth, counter)}", _POWER
    if isinstance(expr, sympy.Max) and len(expr.args) == 2 and sympy.S.Zero in expr.args:
        (inner,) = [a for a in expr.args if a != 0]
        return f"relu({_write(inner, depth + 1, counter)[0]})", _ATOM
    function = _FUNCTIONS.get(type(expr)) or (type(expr).__name__ if isinstance(expr, AppliedUndef) and
                                              type(expr).__name__ in _UNDEFINED else None)
    if function is not None and len(expr.args) == 1:
        return f"{function}({_write(expr.args[0], depth + 1, counter)[0]})", _ATOM
    if expr is sympy.E:
        return "exp(1)", _ATOM
    raise InputError(message("sympy.unsupported", kind=_describe(expr), supported=", ".join(SUPPORTED)), "source")


def _operand(expr: sympy.Expr, strength: int, depth: int, counter: list[int]) -> str:
    text, own = _write(expr, depth + 1, counter)
    return f"({text})" if own < strength else text


def _number(number: sympy.Number) -> tuple[str, int]:
    if isinstance(number, sympy.Integer):
        text = str(number)
    elif isinstance(number, sympy.Rational):
        text = f"{number.p}/{number.q}"
    elif isinstance(number, sympy.Float) and number.is_finite:
        text = sympy.sstr(number, full_prec=False)  # the decimal SymPy shows, read exactly by the parser
    else:
        raise InputError(message("sympy.number", kind=_describe(number)), "source")
    return text, _ATOM if re.fullmatch(r"[0-9.e+]+", text) else _SUM  # signs and fractions get parentheses


def _symbol(name: str) -> str:
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise InputError(message("sympy.symbol", name=repr(name)), "source")
    return name


def _describe(expr: sympy.Basic) -> str:
    shown = sympy.sstr(expr)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{type(expr).__name__} ({shown})"
