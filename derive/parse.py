"""Expressions and assignment programs → `Graph`, through an explicit whitelist over Python's `ast`.

Nothing here evaluates user text: the syntax tree is walked node by node, and anything not on the whitelist is
rejected with one line naming it. Naming rule for a one-line expression: the output is ``f``; every operator or
function application inside it becomes a node named ``u1, u2, …`` in the order it is computed (innermost first,
left to right), skipping names the input already uses. Programs name their own nodes; sub-expressions on the right
of an assignment are named the same way.
"""
from __future__ import annotations

import ast
import re
import sys
from fractions import Fraction

import sympy

from .errors import InputError, shown
from .graph import Graph, Node, Operand
from .rules import FUNCTIONS

MAX_CHARS = 128 * 1024
MAX_NODES = 10_000
MAX_DEPTH = 200
MAX_CONSTANT_EXPONENT = 1000  # the largest constant exponent, of a constant or of a variable (x**1000)
MAX_NAME_CHARS = 64
MAX_NUMBER_DIGITS = 100
MAX_EXPONENT = 300
MAX_CONSTANT_BITS = 1000  # a folded constant larger than this (about 300 digits) is refused
OUTPUT = "f"

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_OPERATIONS = re.compile(r"\*\*|[-+*/]|\b[A-Za-z_]\w*\s*\(")  # \b: linear, even on a 10^5-letter word
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DESCRIBE = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda", ast.Constant: "constant",
    ast.Compare: "comparisons", ast.BoolOp: "boolean operators", ast.IfExp: "conditional expressions",
    ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets", ast.JoinedStr: "f-strings",
    ast.ListComp: "comprehensions", ast.GeneratorExp: "generators", ast.Starred: "starred arguments",
    ast.NamedExpr: "the walrus operator", ast.Await: "await", ast.Yield: "yield",
}


def parse_number(text: str, what: str) -> sympy.Rational:
    """A decimal or integer, read exactly (``0.1`` is 1/10); rejects NaN, inf and anything else."""
    cleaned = text.strip()
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?", cleaned) and not re.fullmatch(
            r"[+-]?[0-9]+/[0-9]+", cleaned):
        raise InputError(f"{what}: '{shown(text)}' is not a number")
    if re.fullmatch(r"[+-]?[0-9]+/0+", cleaned):
        raise InputError(f"{what}: '{shown(text)}' divides by zero")
    mantissa, _, exponent = cleaned.lower().partition("e")
    if len(mantissa) > MAX_NUMBER_DIGITS or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        raise InputError(f"{what}: {_clip(text)} is outside the numbers derive handles "
                         f"(at most {MAX_NUMBER_DIGITS} digits, exponents up to {MAX_EXPONENT})")
    value = Fraction(cleaned)
    if value and not 1e-300 <= abs(value) <= 1e300:
        raise InputError(f"{what}: {_clip(text)} is outside the range 1e-300 to 1e300")
    return sympy.Rational(value.numerator, value.denominator)


def _clip(text: str) -> str:
    return repr(shown(text, 30))


def parse_program(text: str) -> Graph:
    """Parse one expression (output ``f``) or a program of assignments (output: the last one assigned)."""
    if len(text) > MAX_CHARS:
        raise InputError(f"input is {len(text)} characters long; the limit is {MAX_CHARS}")
    if not text.strip():
        raise InputError("the expression is empty")
    if len(_OPERATIONS.findall(text)) > MAX_NODES:  # before Python's parser meets a 10^5-term chain
        raise InputError(f"the expression has more than {MAX_NODES} operations")
    limit = sys.getrecursionlimit()
    try:
        # a flat chain of n operations is n levels deep in Python's syntax tree, though not nested for us
        sys.setrecursionlimit(max(limit, 2 * MAX_NODES + 1000))
        tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        if "too many nested" in (exc.msg or ""):
            raise InputError(f"the expression is nested too deeply (the limit is {MAX_DEPTH} levels)") from None
        where = f" at line {exc.lineno}, column {exc.offset}" if exc.lineno else ""
        raise InputError(f"cannot read the expression{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise InputError(f"the expression is nested too deeply (the limit is {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise InputError(f"cannot read the expression: {exc}") from None
    finally:
        sys.setrecursionlimit(limit)
    return _Builder(text, tree).build()


class _Builder:
    def __init__(self, text: str, tree: ast.Module) -> None:
        self.text = text
        # lines as Python's tokenizer counts them (\r\n, \r or \n; not the other breaks str.splitlines knows)
        self.lines = [line.encode("utf-8") for line in re.split(r"(?<=\n)|(?<=\r)(?!\n)", text)]
        self.tree = tree
        self.nodes: list[Node] = []
        self.defined: set[str] = set()
        self.leaves: set[str] = set()
        self.taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.counter = 0

    def build(self) -> Graph:
        body = self.tree.body
        if not body:
            raise InputError("the expression is empty")
        if len(body) == 1 and isinstance(body[0], ast.Expr):
            if OUTPUT in self.taken:
                raise InputError(f"'{OUTPUT}' names the output of an expression; call the variable something else")
            self.taken.add(OUTPUT)
            self._assign(OUTPUT, body[0].value)
            output = OUTPUT
        else:
            for statement in body:
                self._statement(statement)
            last = body[-1]
            if not isinstance(last, ast.Assign):
                raise InputError("the last statement of a program must assign the output, e.g. 'f = ...'")
            output = last.targets[0].id
        self._check_all_used(output)
        return Graph(tuple(self._leaf_nodes() + self.nodes), output)

    def _statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Expr):
            raise InputError(f"{self._where(statement)}: every statement of a program must be an assignment "
                             f"'name = expression', not {self._quote(statement)}")
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1 or not isinstance(
                statement.targets[0], ast.Name):
            raise InputError(f"{self._where(statement)}: not allowed: {self._quote(statement)} "
                             "(only 'name = expression' assignments)")
        name = statement.targets[0].id
        self._check_name(name, statement)
        if name in self.defined:
            raise InputError(f"{self._where(statement)}: '{name}' is assigned twice")
        self._assign(name, statement.value, statement)

    def _assign(self, name: str, value: ast.expr, statement: ast.AST | None = None) -> None:
        operand = self._operand(value, 0)
        if name in self.leaves:  # read before (or while) it is assigned, as in x = x + 1
            raise InputError(f"{self._where(statement or value)}: '{name}' is used before it is assigned")
        fresh = self.nodes and operand == self.nodes[-1].name and operand not in self.defined
        if fresh:  # the right side's top operation takes the assigned name
            last = self.nodes.pop()
            self.taken.discard(last.name)
            self.counter = int(last.name[1:]) - 1
            self._add(Node(name, last.op, last.args, last.params))
        else:  # a copy of a variable, or a constant
            self._add(Node(name, "identity", (operand,)))
        self.defined.add(name)

    def _operand(self, expr: ast.expr, depth: int) -> Operand:
        if depth > MAX_DEPTH:
            raise InputError(f"the expression is nested too deeply (the limit is {MAX_DEPTH} levels)")
        if isinstance(expr, ast.Name):
            self._check_name(expr.id, expr)
            if self._segment(expr) != expr.id:  # Python folds ｘ and 𝑥 into x (NFKC)
                raise InputError(f"{self._where(expr)}: {self._quote(expr)} is not allowed as a name "
                                 "(ASCII letters, digits and '_')")
            if expr.id not in self.defined:
                self.leaves.add(expr.id)
            return expr.id
        if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
            return self._literal(expr)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            if isinstance(expr.op, ast.UAdd):
                return self._operand(expr.operand, depth + 1)
            operand = self._operand(expr.operand, depth + 1)
            return self._node("neg", (operand,)) if isinstance(operand, str) else -operand
        if isinstance(expr, ast.BinOp) and type(expr.op) in _BINOPS:
            return self._chain(expr, depth)
        if isinstance(expr, ast.Call):
            return self._call(expr, depth)
        raise InputError(f"{self._where(expr)}: not allowed: {self._quote(expr)} ({self._describe(expr)})")

    def _chain(self, expr: ast.BinOp, depth: int) -> Operand:
        """A left-leaning chain such as ``x0 + x1 + … + x299`` is a sequence, not nesting: walk it iteratively."""
        spine = []
        while isinstance(expr, ast.BinOp) and type(expr.op) in _BINOPS:
            spine.append(expr)
            expr = expr.left
        operand = self._operand(expr, depth + 1)
        for binop in reversed(spine):
            right = self._operand(binop.right, depth + 1)
            if isinstance(binop.op, ast.Pow) and not isinstance(right, str) and abs(right) > MAX_CONSTANT_EXPONENT:
                raise InputError(f"{self._where(binop)}: the exponent of {self._quote(binop)} is too large "
                                 f"(at most {MAX_CONSTANT_EXPONENT})")  # of a constant (2**2000) or a name (x**2000)
            if not isinstance(operand, str) and not isinstance(right, str):
                operand = self._fold(binop, operand, right)
            else:
                operand = self._node(_BINOPS[type(binop.op)], (operand, right))
        return operand

    def _fold(self, expr: ast.BinOp, left: sympy.Rational, right: sympy.Rational) -> Operand:
        """Arithmetic on constants alone is done at once, exactly (``1/2`` is the constant one half); a power
        that leaves the rationals (``2**0.5``) stays a node, like ``sqrt(2)``."""
        op = type(expr.op)
        if op is ast.Div and right == 0:
            raise InputError(f"{self._where(expr)}: division by zero in {self._quote(expr)}")
        if op is ast.Pow:
            if left == 0 and right < 0:
                raise InputError(f"{self._where(expr)}: division by zero in {self._quote(expr)}")
            if not right.is_Integer:
                if left < 0:
                    raise InputError(f"{self._where(expr)}: {self._quote(expr)} is not a real number")
                return self._node("pow", (left, right))
            if max(abs(left.p).bit_length(), left.q.bit_length()) * abs(right) > MAX_CONSTANT_BITS:
                raise InputError(f"{self._where(expr)}: the constant {self._quote(expr)} is too large")
            return left ** right
        return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right,
                ast.Div: left / right if right != 0 else None}[op]

    def _call(self, call: ast.Call, depth: int) -> Operand:
        if not isinstance(call.func, ast.Name):
            raise InputError(f"{self._where(call)}: not allowed: {self._quote(call)} (only calls of "
                             f"{', '.join(FUNCTIONS)})")
        if call.func.id not in FUNCTIONS:
            raise InputError(f"{self._where(call)}: unknown function '{shown(call.func.id)}' "
                             f"(allowed: {', '.join(FUNCTIONS)})")
        if call.keywords or len(call.args) != 1 or isinstance(call.args[0], ast.Starred):
            raise InputError(f"{self._where(call)}: {call.func.id}() takes exactly one argument: "
                             f"{self._quote(call)}")
        return self._node(call.func.id, (self._operand(call.args[0], depth + 1),))

    def _literal(self, constant: ast.Constant) -> sympy.Rational:
        if isinstance(constant.value, bool):
            raise InputError(f"{self._where(constant)}: not allowed: {shown(repr(constant.value))}")
        segment = self._segment(constant).replace("_", "")
        if isinstance(constant.value, int) and not re.fullmatch(r"\d+", segment):
            if constant.value.bit_length() > MAX_CONSTANT_BITS:
                raise InputError(f"{self._where(constant)}: the number {self._quote(constant)} is too large")
            return sympy.Integer(constant.value)  # 0x.., 0o.., 0b..
        return parse_number(segment, "number")

    def _node(self, op: str, args: tuple[Operand, ...]) -> str:
        self.counter += 1
        name = f"u{self.counter}"
        while name in self.taken:
            self.counter += 1
            name = f"u{self.counter}"
        self.taken.add(name)
        self._add(Node(name, op, args))
        return name

    def _add(self, node: Node) -> None:
        if len(self.nodes) >= MAX_NODES:
            raise InputError(f"the expression has more than {MAX_NODES} operations")
        self.nodes.append(node)

    def _check_name(self, name: str, where: ast.AST) -> None:
        if len(name) > MAX_NAME_CHARS:
            raise InputError(f"{self._where(where)}: the name '{name[:20]}…' is longer than {MAX_NAME_CHARS} "
                             "characters")
        if not _NAME.match(name):
            raise InputError(f"{self._where(where)}: '{name}' is not allowed as a name "
                             "(letters, digits and '_', starting with a letter)")
        if name in FUNCTIONS:
            raise InputError(f"{self._where(where)}: '{name}' is a function, not a variable")

    def _check_all_used(self, output: str) -> None:
        needed = {output}
        for node in reversed(self.nodes):
            if node.name in needed:
                needed.update(node.inputs)
        unused = [n.name for n in self.nodes if n.name not in needed]
        if unused:
            raise InputError(f"'{unused[0]}' is assigned but never used to compute the output '{output}'")

    def _leaf_nodes(self) -> list[Node]:
        order = dict.fromkeys(a for node in self.nodes for a in node.inputs if a in self.leaves)
        return [Node(name, "leaf") for name in order]

    def _segment(self, node: ast.AST) -> str:
        """The source text of a node (``ast.get_source_segment`` re-splits the whole text on every call)."""
        if getattr(node, "lineno", None) is None:
            return ""
        if node.lineno != node.end_lineno:
            return ast.get_source_segment(self.text, node) or ""
        line = self.lines[node.lineno - 1]
        return line[node.col_offset:node.end_col_offset].decode("utf-8", "replace")

    def _quote(self, node: ast.AST) -> str:
        return "'" + shown(" ".join((self._segment(node) or type(node).__name__).split()), 60) + "'"

    def _describe(self, node: ast.AST) -> str:
        if isinstance(node, ast.BinOp):
            return f"the operator {type(node.op).__name__} is not one of + - * / **"
        if isinstance(node, ast.UnaryOp):
            return "only unary minus is allowed"
        if isinstance(node, ast.Constant):
            return f"{type(node.value).__name__} literals are not numbers"
        return _DESCRIBE.get(type(node), f"{type(node).__name__} is not allowed")

    @staticmethod
    def _where(node: ast.AST) -> str:
        return f"line {getattr(node, 'lineno', 1)}, column {getattr(node, 'col_offset', 0) + 1}"
