"""Expressions and assignment programs → `Graph`: plain text (`derive.input_syntax`) or LaTeX (`derive.latex_input`,
on the grammar shared with `derive verify`), both read into the same neutral syntax tree (`derive.syntax_tree`).

Nothing here evaluates user text. Naming rule for a one-line expression: the output is ``f``; every operator or
function application inside it becomes a node named ``u1, u2, …`` in the order it is computed (innermost first,
left to right), skipping names the input already uses. Programs name their own nodes; sub-expressions on the right
of an assignment are named the same way.

``e`` is Euler's number (``e^x`` an exp node, ``e`` alone the constant `sympy.E`) unless it is a variable: given a
value (``variables``, the names of ``--at``), assigned, or a parameter of a definition; then it is a leaf ``e``.
"""
from __future__ import annotations

import re
import sys
from importlib import import_module
from typing import Collection

import sympy

from .errors import InputError
from .graph import Graph, Node, Operand
from .input_syntax import (LATEX_MARK, MAX_CONSTANT_BITS, MAX_DEPTH, MAX_NAME_CHARS, Reader, Source,  # noqa: F401
                           Statement, parse_number, read_target, split_statements, tokenize)  # (parse_number)
from .rules import FUNCTIONS
from .syntax_tree import Add, Div, Func, Mul, Neg, Num, Pow, Sym, walk
from .syntax_tree import Node as Tree

MAX_CHARS = 128 * 1024
MAX_NODES = 10_000
MAX_CONSTANT_EXPONENT = 1000  # the largest constant exponent, of a constant or of a variable (x**1000)
OUTPUT = "f"
EULER = "e"
LATEX_READER = "derive.latex_input"
"""The module that reads LaTeX input, loaded by name when the input has a backslash or a brace: plain text (every
scenario, most input) then never loads the LaTeX grammar, which costs start-up time."""

_BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow"}
_FUNCTIONS = {**{name: name for name in FUNCTIONS}, "sigma": "sigmoid"}
_OPERANDS = re.compile(r"#[^\r\n]*|([A-Za-z_]\w*|[0-9.][0-9._]*)")  # names and numbers outside comments


def parse_program(text: str, variables: Collection[str] = ()) -> Graph:
    """Parse one expression (output ``f``) or a program of assignments (output: the last one assigned).
    ``variables``: names given a value elsewhere (``--at``), which makes ``e`` a variable if it is one of them."""
    if len(text) > MAX_CHARS:
        raise InputError.of("too_long", length=len(text), limit=MAX_CHARS)
    if sum(map(bool, _OPERANDS.findall(text))) > 2 * MAX_NODES:  # a node reads at most two: fail before reading
        raise InputError.of("too_many_operations", limit=MAX_NODES)
    source = Source(text)
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, 2 * MAX_NODES + 1000))  # a chain a/b*c/d… nests one level per operator
        statements, spans = _statements(source, variables)
        if not statements:
            raise InputError.of("empty")
        return _Builder(source, statements, spans, variables).build()
    except RecursionError:
        raise InputError.of("too_deep", limit=MAX_DEPTH) from None
    finally:
        sys.setrecursionlimit(limit)


def _statements(source: Source, variables: Collection[str]) -> tuple[list[Statement], dict]:
    """The statements of plain text, or of LaTeX through `LATEX_READER` (loaded by name on first use)."""
    if LATEX_MARK.search(source.text):
        return import_module(LATEX_READER).latex_statements(source)
    return _plain_statements(source, variables)


def _plain_statements(source: Source, variables: Collection[str]) -> tuple[list[Statement], dict]:
    pieces = list(split_statements(tokenize(source)))
    targets = [read_target(tokens, source) for tokens in pieces]
    definitions = {name: params for name, params, _ in targets if params is not None}
    known = _variables(variables, targets)
    spans: dict[int, tuple[int, int]] = {}
    statements = []
    for tokens, (target, params, start) in zip(pieces, targets):
        tree = Reader(tokens, source, known, definitions, spans).statement(start)
        statements.append(Statement(target, params, tree, tokens[0].start, tokens[-1].start))
    return statements, spans


def _variables(given: Collection[str], targets: list) -> frozenset[str]:
    return frozenset(given) | {name for name, _, _ in targets if name} | {
        p for _, params, _ in targets for p in params or ()}


class _Builder:
    """The statements' trees → graph nodes: one node per operation, constants folded exactly."""

    def __init__(self, source: Source, statements: list[Statement], spans: dict[int, tuple[int, int]],
                 variables: Collection[str]) -> None:
        self.source, self.statements, self.spans = source, statements, spans
        self.nodes: list[Node] = []
        self.defined: set[str] = set()
        self.leaves: set[str] = set()
        self.taken = {n.base for s in statements for n in walk(s.tree) if isinstance(n, Sym)} | {
            s.target for s in statements if s.target} | {p for s in statements for p in s.params or ()}
        self.euler_is_variable = EULER in _variables(variables, [(s.target, s.params, 0) for s in statements])
        self.counter = 0
        self.statement = statements[0]

    def build(self) -> Graph:
        if len(self.statements) == 1 and self.statements[0].target is None:
            if OUTPUT in self.taken:
                raise InputError.of("name.output", name=OUTPUT)
            self.taken.add(OUTPUT)
            self.statement = self.statements[0]
            self._assign(OUTPUT, self.statement.tree)
            output = OUTPUT
        else:
            for statement in self.statements:
                self.statement = statement
                if statement.target is None:
                    raise InputError.of("program.not_assignment", statement=self._quote())
                if statement.target in FUNCTIONS or statement.target == "ln":
                    raise InputError.of("name.function", name=statement.target)
                if statement.target in self.defined:
                    raise InputError.of("program.assigned_twice", name=statement.target)
                self._assign(statement.target, statement.tree)
            output = self.statements[-1].target
        self._check_all_used(output)
        if not self.leaves:  # a number: no variable to differentiate with respect to
            raise InputError.of("no_variable", quote=self.source.quote(0, len(self.source.text)))
        return Graph(tuple(self._leaf_nodes() + self.nodes), output)

    def _assign(self, name: str, tree: Tree) -> None:
        operand = self._operand(tree)
        if name in self.leaves:  # read before (or while) it is assigned, as in x = x + 1
            raise InputError.of("program.used_before", name=name)
        fresh = self.nodes and operand == self.nodes[-1].name and operand not in self.defined
        if fresh:  # the right side's top operation takes the assigned name
            last = self.nodes.pop()
            self.taken.discard(last.name)
            self.counter = int(last.name[1:]) - 1
            self._add(Node(name, last.op, last.args, last.params))
        else:  # a copy of a variable, or a constant
            self._add(Node(name, "identity", (operand,)))
        self.defined.add(name)

    def _operand(self, tree: Tree) -> Operand:
        if isinstance(tree, Num):
            return sympy.Rational(tree.value.numerator, tree.value.denominator)
        if isinstance(tree, Sym) and tree == Sym(tree.base):
            return self._name(tree.base)
        if isinstance(tree, Neg):
            operand = self._operand(tree.arg)
            return -operand if isinstance(operand, sympy.Rational) else self._node("neg", (operand,))
        if isinstance(tree, Add):
            operand = self._operand(tree.terms[0][1])
            for sign, term in tree.terms[1:]:
                operand = self._binary("+" if sign > 0 else "-", operand, self._operand(term), tree)
            return operand
        if isinstance(tree, Mul) and not tree.hadamard:
            operand = self._operand(tree.factors[0])
            for factor in tree.factors[1:]:
                operand = self._binary("*", operand, self._operand(factor), tree)
            return operand
        if isinstance(tree, Div):
            return self._binary("/", self._operand(tree.num), self._operand(tree.den), tree)
        if isinstance(tree, Pow):
            if tree.base == Sym(EULER) and not self.euler_is_variable:
                return self._node("exp", (self._operand(tree.exp),))
            return self._binary("^", self._operand(tree.base), self._operand(tree.exp), tree)
        if isinstance(tree, Func) and tree.name in _FUNCTIONS:
            return self._node(_FUNCTIONS[tree.name], (self._operand(tree.arg),))
        raise InputError.of("latex_unsupported", statement=self._quote(), functions=", ".join(FUNCTIONS))

    def _name(self, name: str) -> Operand:
        if name == EULER and not self.euler_is_variable:
            return sympy.E
        if name in FUNCTIONS or name == "ln":
            raise InputError.of("name.function", name=name)
        if len(name) > MAX_NAME_CHARS:  # LaTeX names (\mathrm{…}); plain text is checked as it is read
            raise InputError.of("name.too_long", name=name[:20], limit=MAX_NAME_CHARS)
        if name not in self.defined:
            self.leaves.add(name)
        return name

    def _binary(self, op: str, left: Operand, right: Operand, tree: Tree) -> Operand:
        if op == "^" and not isinstance(right, str) and right.is_Rational and abs(right) > MAX_CONSTANT_EXPONENT:
            raise InputError.of("number.exponent", expression=self._quote(tree), limit=MAX_CONSTANT_EXPONENT)
        if isinstance(left, sympy.Rational) and isinstance(right, sympy.Rational):
            folded = self._fold(op, left, right, tree)
            if folded is not None:
                return folded
        return self._node(_BINARY[op], (left, right))

    def _fold(self, op: str, left: sympy.Rational, right: sympy.Rational, tree: Tree) -> sympy.Rational | None:
        """Arithmetic on constants alone is done at once, exactly (``1/2`` is the constant one half); a power
        that leaves the rationals (``2**0.5``) stays a node, like ``sqrt(2)`` (None)."""
        if (op == "/" and right == 0) or (op == "^" and left == 0 and right < 0):
            raise InputError.of("number.division_by_zero", expression=self._quote(tree))
        if op == "^":
            if not right.is_Integer:
                if left < 0:
                    raise InputError.of("number.not_real", expression=self._quote(tree))
                return None
            if max(abs(left.p).bit_length(), left.q.bit_length()) * abs(right) > MAX_CONSTANT_BITS:
                raise InputError.of("number.constant_too_large", expression=self._quote(tree))
            return left ** right
        return {"+": left + right, "-": left - right, "*": left * right, "/": left / right if right else None}[op]

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
            raise InputError.of("too_many_operations", limit=MAX_NODES)
        self.nodes.append(node)

    def _check_all_used(self, output: str) -> None:
        needed = {output}
        for node in reversed(self.nodes):
            if node.name in needed:
                needed.update(node.inputs)
        unused = [n.name for n in self.nodes if n.name not in needed]
        if unused:
            raise InputError.of("program.never_used", name=unused[0], output=output)

    def _leaf_nodes(self) -> list[Node]:
        order = dict.fromkeys(a for node in self.nodes for a in node.inputs if a in self.leaves)
        return [Node(name, "leaf") for name in order]

    def _quote(self, tree: Tree | None = None) -> str:
        span = self.spans.get(id(tree)) if tree is not None else None
        return self.source.quote(*(span or (self.statement.start, self.statement.end)))
