"""Teaching sections shared by the scenarios (issue 17): the rule card, the meaning of a gradient, the start at 1,
the fan-out sum, the cost of one backward pass and the sigmoid as gates. Each is built from a checked derivation
or the rule table; prose is referenced by catalog keys (``concept.*``), every number comes from the data."""
from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr, Integer

from ..backward import Derivation, derive
from ..graph import Graph, Node, exact, operand_exprs, symbol
from ..notation import Grad, Shown, chain_latex, exact_latex, formula_latex, latex, name_latex
from ..parse import parse_program
from ..rules import RULES
from ..walkthrough import Block, Claim, Section, Table, Text
from .common import bare_number, eq, maths


def key(concept: str, suffix: str) -> str:
    return f"concept.{concept}.{suffix}"


# ---------------------------------------------------------------- the rule card

@dataclass(frozen=True)
class CardRow:
    """One operand of one node kind: the node written generically, its local gradient, what the operand receives."""

    definition: Expr
    operand: sympy.Symbol
    local: Expr
    received: Expr
    siblings: tuple[Expr, ...] = ()  # definitions of the other outputs its local gradients name (a softmax's y_j)


def _card_operands(node: Node) -> tuple[list[Expr], str, tuple]:
    """Generic operands for a node kind (named like the textbook: x, y; x_1, …; z_1, … into a softmax), its output
    name and its params; a constant operand (the 2 of t², the ½ of ½·S) becomes c, or n as an exponent."""
    if node.op == "softmax":
        logits = [symbol(f"z_{j}") for j in range(1, len(node.args) + 1)]
        return logits, "y_1", (0, tuple(f"y_{j}" for j in range(1, len(node.args) + 1)))
    names = ["x", "y"] if len(node.args) <= 2 else [f"x_{j}" for j in range(1, len(node.args) + 1)]
    constant = "n" if node.op == "pow" else "c"
    operands = [symbol(names[i]) if isinstance(a, str) else symbol(constant) for i, a in enumerate(node.args)]
    return operands, "z", node.params


def card_rows(graph: Graph, output: str) -> tuple[CardRow, ...]:
    """One row per operand of each node kind of the graph (first use order), from `RULES`: the kind's most general
    node (the one reading most values) is written with generic operands."""
    chosen: dict[str, Node] = {}
    for node in graph.nodes:
        if node.op == "leaf":
            continue
        reads = sum(isinstance(a, str) for a in node.args)
        if node.op not in chosen or reads > sum(isinstance(a, str) for a in chosen[node.op].args):
            chosen[node.op] = node
    rows = []
    written = set()
    for op, node in chosen.items():
        rule = RULES[op]
        operands, out, params = _card_operands(node)
        locals_ = rule.partials(operands, symbol(out), params)
        definition = eq(symbol(out), rule.show(operands, params))
        if definition in written:  # sum and add write the same node: one entry
            continue
        written.add(definition)
        siblings = tuple(eq(symbol(name), rule.show(operands, (k,) + tuple(params[1:])))
                         for k, name in enumerate(params[1]) if name != out) if op == "softmax" else ()
        for arg, operand, local in zip(node.args, operands, locals_):
            if isinstance(arg, str):
                rows.append(CardRow(definition, operand, local, received(output, out, operand.name, local), siblings))
    return tuple(rows)


def received(output: str, node: str, operand: str, local: Expr) -> Expr:
    """∂output/∂operand = ∂output/∂node · local, written as the rule sends it (× 1 and × (−1) shown as such)."""
    upstream = Grad(output, node)
    if local == 1:
        product = upstream
    elif local == -1:
        product = -upstream
    else:
        product = sympy.Mul(upstream, local, evaluate=False)
    return eq(Grad(output, operand), product)


def rule_card(d: Derivation) -> Section:
    rows = card_rows(d.graph, d.output)
    # a kind's definition is written on its first row only
    cells = tuple((maths(r.definition) if i == 0 or rows[i - 1].definition != r.definition else "",
                   maths(r.local), maths(r.received)) for i, r in enumerate(rows))
    return Section(key("rule_card", "heading"), (
        Text(key("rule_card", "text"), (("z", symbol("z")), ("upstream", Grad(d.output, "z")))),
        Table((key("rule_card", "node"), key("rule_card", "local"), key("rule_card", "received")), cells),
        Text(key("rule_card", "fan_out")),
    ), scope="rows", row_given=tuple(_card_given(d.output, r) for r in rows))


def _card_given(output: str, row: CardRow) -> tuple[str, ...]:
    """A rule-card row's own bindings: the output as an unknown function of the row's node (E = f(z)), and the
    definitions of the sibling outputs its local gradients name."""
    node = row.definition.lhs
    function = "g" if output == "f" else "f"
    return (f"{name_latex(output)} = {function}({latex(node)})",) + tuple(
        chain_latex([latex(s.lhs), latex(s.rhs)]) for s in row.siblings)


# ---------------------------------------------------------------- what a gradient means: the nudge

@dataclass(frozen=True)
class Nudge:
    """The output at leaf ± h (forward passes of the same graph) and what the gradient predicted."""

    leaf: str
    h: Expr
    value: Expr  # the leaf's value
    before: Expr  # the output at the point
    up: Expr  # the output with the leaf raised by h
    down: Expr  # the output with the leaf lowered by h
    gradient: Expr

    @property
    def predicted(self) -> Expr:
        return exact(self.gradient * self.h)

    @property
    def change(self) -> Expr:
        return exact(self.up - self.before)

    @property
    def central(self) -> Expr:
        return exact((self.up - self.down) / (2 * self.h))


def nudge(d: Derivation, leaf: str, h: Expr) -> Nudge:
    def output_at(value: Expr) -> Expr:
        return derive(d.graph, {**d.point, leaf: value}, (leaf,)).output_value

    value = d.point[leaf]
    return Nudge(leaf, h, value, d.output_value, output_at(exact(value + h)), output_at(exact(value - h)),
                 d.gradients[leaf].value)


def nudge_section(d: Derivation, leaf: str, h: Expr) -> Section:
    n = nudge(d, leaf, h)
    out = symbol(d.output)
    with sympy.evaluate(False):
        quotient = sympy.Mul(sympy.Add(Shown(n.up), -Shown(n.down)),
                             sympy.Pow(sympy.Mul(Integer(2), Shown(h)), -1))
    held = tuple((s, s.value) for s in quotient.atoms(Shown))
    return Section(key("nudge", "heading"), (
        Text(key("nudge", "meaning"), (("grad", eq(Grad(d.output, leaf), n.gradient)), ("leaf", symbol(leaf)),
                                       ("out", out), ("h", symbol("h")),
                                       ("gh", sympy.Mul(Shown(n.gradient), symbol("h"), evaluate=False)))),
        Text(key("nudge", "try"), (("h", eq(symbol("h"), h)), ("leaf", symbol(leaf)), ("old", n.value),
                                   ("new", exact(n.value + h)), ("out", out), ("before", n.before),
                                   ("after", n.up), ("change", n.change),
                                   ("predicted", eq(sympy.Mul(Shown(n.gradient), Shown(h), evaluate=False),
                                                    n.predicted)))),
        Text(key("nudge", "central"), (("h", symbol("h")), ("leaf", symbol(leaf)), ("new_low", exact(n.value - h)), ("down", n.down),
                                       ("out", out))),
        Claim(Grad(d.output, leaf), (quotient,), n.gradient, subs=held),
        Text(key("nudge", "why_central")),
    ))


# ---------------------------------------------------------------- why the walk starts from 1

def seed_section(d: Derivation) -> Section:
    out = symbol(d.output)
    return Section(key("seed", "heading"), (
        Text(key("seed", "text"), (("start", eq(Grad(d.output, d.output), Integer(1))), ("out", out),
                                   ("h", symbol("h")))),
        Text(key("seed", "chain"), (("out", out),)),
    ))


# ---------------------------------------------------------------- gradients add where a value is used twice

def edge_locals(d: Derivation, node_name: str, operand: str) -> tuple[tuple[Expr, Expr], ...]:
    """(local gradient, its value) along each edge from ``operand`` into ``node_name``: the rule's partial for each
    argument position that reads the operand, evaluated at the walk's values."""
    node = d.graph[node_name]
    rule = RULES[node.op]
    symbolic = rule.partials(operand_exprs(node), symbol(node_name), node.params)
    values = [d.values[a] if isinstance(a, str) else a for a in node.args]
    numeric = rule.partials(values, d.values[node_name], node.params)
    return tuple((s, exact(v)) for a, s, v in zip(node.args, symbolic, numeric) if a == operand)


def fan_out_section(d: Derivation, node_name: str, operand: str, more: tuple[Block, ...] = ()) -> Section:
    edges = edge_locals(d, node_name, operand)
    upstream = Grad(d.output, node_name)
    upstream_value = d.gradients[node_name].value
    symbolic = sympy.Add(*[sympy.Mul(upstream, s, evaluate=False) for s, _ in edges], evaluate=False)
    factors = [(Shown(upstream_value), Shown(v)) for _, v in edges]
    numbers = sympy.Add(*[sympy.Mul(a, b, evaluate=False) for a, b in factors], evaluate=False)
    held = tuple((s, s.value) for pair in factors for s in pair)
    node = d.graph[node_name]
    with sympy.evaluate(False):  # t·t as written, not t²
        definition = eq(symbol(node_name), RULES[node.op].show(operand_exprs(node), node.params))
    contributions = tuple(exact(upstream_value * v) for _, v in edges)
    return Section(key("fan_out", "heading"), (
        Text(key("fan_out", "text"), (("definition", definition), ("operand", symbol(operand)),
                                      ("count", len(edges)),
                                      ("node", symbol(node_name)))),
        Text(key("fan_out", "numbers"), (("each", contributions[0]), ("operand", symbol(operand)),
                                         ("total", d.gradients[operand].value))),
        Claim(Grad(d.output, operand), (symbolic, numbers), d.gradients[operand].value, subs=held),
        Text(key("fan_out", "power"), (("rule", eq(Grad(node_name, operand),
                                                   sympy.diff(d.definitions[node_name], symbol(operand)))),)),
    ) + more)


# ---------------------------------------------------------------- one backward pass serves every gradient

def edge_count(graph: Graph) -> int:
    """Edges of the graph: one per operand that is a value (t·t reads t along two edges)."""
    return sum(len(out) for out in graph.edges().values())


def path_lengths(graph: Graph, leaf: str) -> tuple[int, ...]:
    """The length (edges) of every path from the output back to ``leaf``, each edge counted separately."""
    readers = {name: [reader for reader, _ in out] for name, out in graph.edges().items()}
    lengths: list[int] = []

    def walk(name: str, length: int) -> None:
        if name == graph.output:
            lengths.append(length)
        for reader in readers.get(name, ()):
            walk(reader, length + 1)

    walk(leaf, 0)
    return tuple(sorted(lengths))


def one_pass_section(d: Derivation) -> Section:
    rows = []
    separately = 0
    for leaf in d.wrt:
        lengths = path_lengths(d.graph, leaf)
        separately += sum(lengths)
        rows.append((maths(Grad(d.output, leaf)), Integer(len(lengths)), Integer(sum(lengths))))
    edges = edge_count(d.graph)
    return Section(key("one_pass", "heading"), (
        Text(key("one_pass", "alone"), (("out", symbol(d.output)),)),
        Table((key("one_pass", "gradient"), key("one_pass", "paths"), key("one_pass", "products")), tuple(rows)),
        Text(key("one_pass", "shared"), (("separately", separately), ("edges", edges), ("count", len(d.wrt)),
                                         ("out", symbol(d.output)))),
    ))


# ---------------------------------------------------------------- the sigmoid as gates and as one node

GATES = "u = -z; v = exp(u); s = 1 + v; a = 1/s"
ONE_NODE = "a = sigmoid(z)"


@dataclass(frozen=True)
class GateComparison:
    """The sigmoid walked backward twice: built from four gates, and as one σ node."""
    gates: Derivation
    one_node: Derivation


def compare_gates(z: Expr) -> GateComparison:
    """The sigmoid built from four gates and as one σ node, both walked backward at the same z."""
    point = {"z": z}
    return GateComparison(derive(parse_program(GATES), point, ("z",)), derive(parse_program(ONE_NODE), point, ("z",)))


def gates_section(z_name: str, z: Expr) -> Section:
    c = compare_gates(z)
    steps = tuple(reversed(c.gates.steps))  # forward order: u, v, s, a
    rows = tuple((maths(eq(symbol(s.node), c.gates.definitions[s.node])),
                  maths(eq(Grad(s.node, t.input), t.local)), bare_number(t.local_value))
                 for s in steps for t in s.terms)
    local_values = [Shown(t.local_value) for s in reversed(steps) for t in s.terms]
    product = sympy.Mul(*local_values, evaluate=False)
    held = tuple((s, s.value) for s in local_values)
    a = symbol("a")
    one = Claim(Grad("a", "z"), (sympy.Mul(a, 1 - a, evaluate=False),), c.one_node.gradients["z"].value,
                subs=((a, c.one_node.values["a"]),))
    return Section(key("gates", "heading"), (
        Text(key("gates", "text"), (("sigma", eq(a, c.one_node.definitions["a"])),
                                    ("z", eq(symbol("z"), z)), ("name", symbol(z_name)), ("count", len(steps)))),
        Table((key("gates", "gate"), key("gates", "local"), key("gates", "value")), rows),
        Text(key("gates", "product"), (("count", len(local_values)),)),
        Claim(Grad("a", "z"), (product,), c.gates.gradients["z"].value, subs=held),
        Text(key("gates", "one_node"), (("a", eq(a, c.one_node.values["a"])),)),
        one,
        Text(key("gates", "agree"), (("count", len(steps)), ("gates", c.gates.gradients["z"].value),
                                     ("one", c.one_node.gradients["z"].value))),
    ), scope="own", given=_gates_given(c, z))


def _gates_given(c: GateComparison, z: Expr) -> tuple[str, ...]:
    """The section's own graph for `derive verify`: the gates define a (a = σ(z) and ∂a/∂z = a·(1 − a) are then
    claims about it), at the section's point z."""
    definitions = tuple(chain_latex([name_latex(s.node), formula_latex(c.gates.definitions[s.node])])
                        for s in reversed(c.gates.steps))
    return definitions + (chain_latex([name_latex("z"), exact_latex(z)]),)
