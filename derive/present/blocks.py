"""A batch's graph in blocks: nodes that differ only in their indices (``x_1_1`` … ``x_2_3``, ``w^2_11`` … ``w^2_22``)
are one block with a shape (2 × 3), the unit of the graph's vector form (`derive.present.block_figure` draws it).
Pure and light: a page asks whether its graph has a vector form without loading the figure code."""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from ..graph import Graph

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
        groups.setdefault(base_name(node.name), []).append(node)
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


def base_name(name: str) -> str:
    """A node's name without its indices (``x_1_2`` → ``x``, ``w^2_11`` → ``w^2``); other names as they are."""
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


def vector_name(figure_name: str) -> str:
    """The vector-form figure's file beside the per-sample one: ``graph.svg`` → ``graph-vector.svg``."""
    stem, dot, suffix = figure_name.rpartition(".")
    return f"{stem}-vector.{suffix}" if dot else f"{figure_name}-vector"
