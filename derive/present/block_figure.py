"""A batch's graph in vector form: one node per block of nodes that differ only in their indices (``x_1_1`` …
``x_2_3`` become one node x of shape 2 × 3), laid out and drawn like the per-sample graph, which stays the figure
with every number. Each edge carries the shape of what flows forward (black) and the gradient that flows back
(red, ∂E/∂block, of the same shape); data (inputs, targets) gets no gradient."""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from ..backward import Derivation
from ..graph import Graph
from ..notation import Grad, name_latex
from ..rules import RULES
from .figure_svg import to_svg
from .figures import (FigureEdge, FigureNode, Label, Layout, column_x, columns_of, extent, label_expr, number_label,
                      place_rows, symbol_label)

_INDEXED = re.compile(r"^([A-Za-z]+(?:\^[0-9]+)?)((?:_?[0-9])+)$")  # x_1_2, w1, w^2_11 (layer 2)


@dataclass(frozen=True)
class Block:
    name: str  # the members' common base name (or the one member's own name)
    op: str
    inputs: tuple[str, ...]  # blocks read, in order of first use
    constants: tuple[sympy.Expr, ...]  # constant operands every member shares (r**2's 2)
    shape: tuple[int, ...]  # () for a block of one node


def blocks(graph: Graph) -> tuple[Block, ...] | None:
    """The graph's blocks, each after the blocks it reads; None when no two nodes share a base or the blocks read
    each other in a circle (not a batch)."""
    groups: dict[str, list] = {}
    for node in graph.nodes:
        groups.setdefault(_base(node.name), []).append(node)
    merged = {base: members for base, members in groups.items() if _uniform(members)}
    if not any(len(members) > 1 for members in merged.values()):
        return None
    owner = {n.name: (base if base in merged else n.name) for base, members in groups.items() for n in members}
    found: list[Block] = []
    for base, members in groups.items():
        for part in ([members] if base in merged else [[n] for n in members]):
            head = part[0]
            inputs = tuple(dict.fromkeys(owner[i] for n in part for i in n.inputs))
            constants = tuple(a for a in head.args if not isinstance(a, str))
            found.append(Block(owner[head.name], head.op, inputs, constants,
                               _shape([n.name for n in part]) if len(part) > 1 else ()))
    return _in_order(found)


def _in_order(found: list[Block]) -> tuple[Block, ...] | None:
    """The blocks with every block after the blocks it reads; None when blocks read each other in a circle (a
    layer's a_1 feeding the next layer's a_2: the names do not mark a batch)."""
    placed: dict[str, Block] = {}
    waiting = list(found)
    while waiting:
        ready = [b for b in waiting if all(i in placed for i in b.inputs)]
        if not ready:
            return None
        placed.update((b.name, b) for b in ready)
        waiting = [b for b in waiting if b.name not in placed]
    return tuple(placed.values())


def _base(name: str) -> str:
    match = _INDEXED.match(name)
    return match.group(1) if match else name


def _indices(name: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[0-9]", _INDEXED.match(name).group(2)))


def _uniform(members: list) -> bool:
    """Members that can be one block: the same op, the same constants, indices of one length."""
    if len(members) == 1:
        return True
    head = members[0]
    if not all(_INDEXED.match(n.name) for n in members):
        return False
    constants = [tuple(a for a in n.args if not isinstance(a, str)) for n in members]
    return (all(n.op == head.op for n in members) and len(set(constants)) == 1
            and len({len(_indices(n.name)) for n in members}) == 1)


def _shape(names: list[str]) -> tuple[int, ...]:
    columns = zip(*(_indices(n) for n in names))
    return tuple(len(set(values)) for values in columns)


def shape_label(shape: tuple[int, ...]) -> Label:
    text = "\u00d7".join(map(str, shape)) if shape else "1"
    return Label(text, r" \times ".join(map(str, shape)) if shape else "1")


def block_layout(derivation: Derivation) -> Layout | None:
    """The vector-form figure of a batch derivation (None when the graph is not a batch)."""
    found = blocks(derivation.graph)
    if found is None:
        return None
    by_name = {b.name: b for b in found}
    readers: dict[str, tuple[str, ...]] = {b.name: () for b in found}
    for b in found:
        for i in b.inputs:
            readers[i] += (b.name,)
    data = {_base(c) if _base(c) in by_name else c for c in derivation.constants}
    out = by_name[_base(derivation.output)].name if _base(derivation.output) in by_name else derivation.output
    column = columns_of([(b.name, b.op == "leaf", b.inputs) for b in found], readers)
    ids = {b.name: f"n{k}" for k, b in enumerate(found)}
    places = {ids[n]: c for n, c in column.items()}
    extents = {ids[b.name]: extent("leaf" if b.op == "leaf" else "op", False) for b in found}
    raw: list[tuple[str, str | None, str, Label | None, Label | None]] = []
    constants: dict[str, Label] = {}
    for b in found:
        for i in b.inputs:
            gradient = None if i in data else label_expr(Grad(out, i))
            raw.append((ids[i], ids[b.name], i, shape_label(by_name[i].shape), gradient))
        for value in (c for c in b.constants if not (b.op == "pow")):
            key = f"k{len(constants)}"
            constants[key] = number_label(value)
            places[key], extents[key] = column[b.name] - 1, extent("const", False)
            raw.append((key, ids[b.name], "", None, None))
    raw.append((ids[out], None, out, shape_label(by_name[out].shape), number_label(sympy.S.One)))
    rows = place_rows(places, extents, [(s, t, f is not None) for s, t, _, f, _ in raw if t is not None])
    rows[(ids[out], None, 2 * column[out] + 1)] = rows[ids[out]]
    nodes = [FigureNode(ids[b.name], b.name, "output" if b.name == out else "leaf" if b.op == "leaf" else "op",
                        column[b.name], rows[ids[b.name]], Label(b.name, name_latex(b.name)),
                        None if b.op == "leaf" else _block_symbol(b), None) for b in found]
    nodes += [FigureNode(k, "", "const", places[k], rows[k], label, None, None) for k, label in constants.items()]
    edges = tuple(FigureEdge(s, t, owner, fwd, grad, tuple(
        rows[(s, t, x)] for x in range(2 * places[s] + 1, 2 * places[t] if t else 2 * places[s] + 2)))
        for s, t, owner, fwd, grad in raw)
    x, stretch = column_x(nodes, edges)
    return Layout(tuple(nodes), edges, x, stretch, max(rows.values()) + 1)


def _block_symbol(b: Block) -> Label:
    if b.op == "pow":
        return label_expr(sympy.Pow(sympy.Symbol(b.inputs[0]), b.constants[0], evaluate=False))
    return symbol_label(RULES[b.op].symbol)


def vector_name(figure_name: str) -> str:
    """The vector-form figure's file beside the per-sample one: ``graph.svg`` → ``graph-vector.svg``."""
    stem, dot, suffix = figure_name.rpartition(".")
    return f"{stem}-vector.{suffix}" if dot else f"{figure_name}-vector"


def vector_svg(derivation: Derivation) -> str | None:
    lay = block_layout(derivation)
    return None if lay is None else to_svg(lay)
