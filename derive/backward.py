"""The backward walk: reverse-mode differentiation over named intermediates → a plain-data `Derivation`."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Mapping

import sympy
from sympy import Expr

from .errors import InputError, message, shown
from .graph import (MAX_MAGNITUDE, Graph, definitions, exact, forward, is_finite_real, operand_exprs, substitute,
                    symbol)
from .notation import Grad
from .rules import RULES


@dataclass(frozen=True)
class Term:
    """One input's share of a node's backward step: upstream × local = contribution."""

    input: str
    local: Expr  # ∂node/∂input, in the node's operands and its own output
    local_value: Expr | None
    contribution: Expr  # upstream gradient × local gradient
    contribution_value: Expr | None


@dataclass(frozen=True)
class Step:
    """The backward step at one node: its definition, the upstream gradient and one term per input."""
    node: str
    op: str
    definition: Expr
    upstream: Expr  # ∂output/∂node as a symbol (1 for the output itself)
    upstream_value: Expr | None
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Part:
    """One edge's share of a gradient: the node that reads the value, the term it contributes (local gradient ×
    ∂output/∂reader, as printed) and that term's value at the point."""

    reader: str
    term: Expr
    value: Expr | None


@dataclass(frozen=True)
class Gradient:
    """∂output/∂node, collected over every node that reads it (a sum where the value fans out). For a leaf held
    constant (data such as a target, see `Derivation.constants`) nothing is computed: ``expr`` and ``value`` are
    None."""

    node: str
    expr: Expr | None
    value: Expr | None
    parts: tuple[Part, ...]  # one per edge to a reader, in edge order: ``expr`` is the sum of their terms

    @property
    def terms(self) -> tuple[Expr, ...]:
        """The printed terms, one per part and in the order of ``parts`` (the output's gradient: ``1``)."""
        if self.expr is None:
            return ()
        return tuple(p.term for p in self.parts) if self.parts else (self.expr,)


@dataclass(frozen=True)
class Derivation:
    """A reverse-mode walk of a graph: the steps, every gradient, and the point if there is one."""
    graph: Graph
    point: Mapping[str, Expr] | None  # leaf values, or None for a symbolic walk
    values: Mapping[str, Expr] | None  # every node's forward value
    steps: tuple[Step, ...]  # reverse topological order, one per non-leaf node
    gradients: Mapping[str, Gradient]  # every node and leaf
    wrt: tuple[str, ...]  # the leaves to explain and update
    constants: tuple[str, ...] = ()  # leaves that are data (targets): not differentiated, no gradient computed

    @property
    def output(self) -> str:
        return self.graph.output

    @cached_property
    def definitions(self) -> dict[str, Expr]:
        """Each operation node's definition, as its step shows it."""
        return {step.node: step.definition for step in self.steps}

    @property
    def output_value(self) -> Expr | None:
        return self.values[self.graph.output] if self.values is not None else None

    def local_value(self, node: str, input_name: str) -> Expr | None:
        """The value of ∂node/∂input found by the walk."""
        for step in self.steps:
            if step.node == node:
                for term in step.terms:
                    if term.input == input_name:
                        return term.local_value
        raise KeyError((node, input_name))


def derive(graph: Graph, point: Mapping[str, Expr] | None = None, wrt: tuple[str, ...] | None = None,
           constants: tuple[str, ...] = ()) -> Derivation:
    """Walk the graph backwards from ∂f/∂f = 1, recording every local gradient and product. The ``constants``
    (leaves that are data, such as targets) are not differentiated."""
    return walk(graph, point, forward(graph, point) if point is not None else None, wrt, constants)


def walk(graph: Graph, point: Mapping[str, Expr] | None, values: Mapping[str, Expr] | None,
         wrt: tuple[str, ...] | None = None, constants: tuple[str, ...] = ()) -> Derivation:
    """`derive` with the forward pass ``values`` at ``point`` already computed (None for a symbolic walk)."""
    wrt = _check_wrt(graph, wrt)
    _check_constants(graph, constants, wrt)
    sub = {symbol(name): value for name, value in values.items()} if values is not None else None
    out = graph.output
    upstream: dict[str, Expr] = {out: sympy.S.One}
    upstream_value: dict[str, Expr] = {out: sympy.S.One}
    parts: dict[str, list[Part]] = {n.name: [] for n in graph.nodes}
    steps: list[Step] = []
    gradients: dict[str, Gradient] = {}
    shown = _shown_definitions(graph)
    for node in reversed(graph.nodes):
        name = node.name
        received = parts[name]
        if name in constants:
            gradients[name] = Gradient(name, None, None, ())
            continue
        if name != out:
            upstream[name] = _sum([p.term for p in received])
            upstream_value[name] = (
                _gradient_value(sympy.Add(*[p.value for p in received]), name) if sub is not None else None)
        gradients[name] = Gradient(name, upstream[name], upstream_value[name], tuple(received))
        if node.op == "leaf":
            continue
        g_symbol = _grad_symbol(out, name)
        terms = []
        for input_name, local in _locals(node):
            if input_name in constants:
                continue
            local_value = _value(local, sub, node.name) if sub is not None else None
            contribution_value = exact(local_value * upstream_value[name]) if sub is not None else None
            term = Term(input_name, local, local_value, _times(local, g_symbol), contribution_value)
            terms.append(term)
            parts[input_name].append(Part(name, term.contribution, contribution_value))
        steps.append(Step(name, node.op, shown[name], g_symbol, upstream_value[name], tuple(terms)))
    return Derivation(graph, dict(point) if point is not None else None, values, tuple(steps), gradients, wrt,
                      tuple(constants))


def _times(local: Expr, gradient: Expr) -> Expr:
    """local · gradient, kept in that order as the material writes it (``gw = x · gp``)."""
    if local is sympy.S.One or gradient is sympy.S.One:
        return local * gradient
    if local is sympy.S.NegativeOne:
        return -gradient
    factors = local.args if isinstance(local, sympy.Mul) else (local,)  # flat, so a sign leads the product
    return sympy.Mul(*factors, gradient, evaluate=False)


def _sum(terms: list[Expr]) -> Expr:
    return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)


@lru_cache(maxsize=1 << 16)
def _grad_symbol(output: str, node: str) -> Expr:
    return sympy.S.One if node == output else Grad(output, node)


@lru_cache(maxsize=16)
def _shown_definitions(graph: Graph) -> dict[str, Expr]:
    """`definitions` once per graph: descent steps walk the same graph again at each new point."""
    return definitions(graph.nodes)


def _locals(node) -> tuple[tuple[str, Expr], ...]:
    return _rule_locals(RULES[node.op], node)


@lru_cache(maxsize=1 << 14)
def _rule_locals(rule, node) -> tuple[tuple[str, Expr], ...]:
    """∂node/∂input for each distinct input; an input used twice (``x*x``) gets the sum of its positions. Found
    once per node and rule (the point does not enter), not once per descent step."""
    per_position = rule.partials(operand_exprs(node), symbol(node.name), node.params)
    locals_: dict[str, Expr] = {}
    for arg, partial in zip(node.args, per_position):
        if isinstance(arg, str):
            locals_[arg] = locals_[arg] + partial if arg in locals_ else partial
    return tuple(locals_.items())


def _gradient_value(total: Expr, node: str) -> Expr:
    if (abs(total) if total.is_Rational else abs(total.evalf(30))) > MAX_MAGNITUDE:
        raise InputError.of("value.gradient_too_large", node=node)
    return exact(total)


def _value(expr: Expr, sub: Mapping[sympy.Symbol, Expr], node: str) -> Expr:
    value = substitute(expr, sub)
    if not is_finite_real(value):
        raise InputError.of("value.local_not_finite", node=node)
    return exact(value)


def _check_constants(graph: Graph, constants: tuple[str, ...], wrt: tuple[str, ...]) -> None:
    for name in constants:
        if name not in graph or graph[name].op != "leaf" or name in wrt:
            raise ValueError(f"constant '{name}' must be a leaf of the graph that is not differentiated")


def _check_wrt(graph: Graph, wrt: tuple[str, ...] | None) -> tuple[str, ...]:
    if not wrt:
        return graph.leaves
    repeated = [name for i, name in enumerate(wrt) if name in wrt[:i]]
    if repeated:
        raise InputError(message("point.given_twice", name=shown(repeated[0])), "wrt")
    for name in wrt:
        if name not in graph or graph[name].op != "leaf":
            raise InputError(message("point.not_a_leaf", name=shown(name), leaves=", ".join(graph.leaves)), "wrt")
    return tuple(wrt)
