"""A batch's graph in vector form: one node per block (`derive.present.blocks`), laid out and drawn like the
per-sample graph, which stays the figure with every number. Each edge carries the shape of what flows forward
(black) and the gradient that flows back (red, ∂E/∂block, of the same shape); data (inputs, targets) gets no
gradient."""
from __future__ import annotations

import sympy

from ..backward import Derivation
from ..notation import Grad, name_latex
from ..rules import RULES
from .blocks import Block, base_name, blocks
from .figure_svg import to_svg
from .figures import (FigureNode, Label, Layout, RawEdge, columns_of, extent, label_expr, number_label, place_figure,
                      symbol_label)


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
    data = {base_name(c) if base_name(c) in by_name else c for c in derivation.constants}
    out = by_name[base_name(derivation.output)].name if base_name(derivation.output) in by_name else derivation.output
    column = columns_of([(b.name, b.op == "leaf", b.inputs) for b in found], readers)
    ids = {b.name: f"n{k}" for k, b in enumerate(found)}
    places = {ids[n]: c for n, c in column.items()}
    extents = {ids[b.name]: extent("leaf" if b.op == "leaf" else "op", False) for b in found}
    raw: list[RawEdge] = []
    constants: dict[str, Label] = {}
    for b in found:
        for i in b.inputs:
            gradient = None if i in data else label_expr(Grad(out, i))
            raw.append((ids[i], ids[b.name], i, shape_label(by_name[i].shape), gradient))
        for value in (c for c in b.constants if b.op != "pow"):
            key = f"k{len(constants)}"
            constants[key] = number_label(value)
            places[key], extents[key] = column[b.name] - 1, extent("const", False)
            raw.append((key, ids[b.name], "", None, None))
    raw.append((ids[out], None, out, shape_label(by_name[out].shape), number_label(sympy.S.One)))
    return place_figure(raw, places, extents, constants, ids[out], lambda rows: [
        FigureNode(ids[b.name], b.name, "output" if b.name == out else "leaf" if b.op == "leaf" else "op",
                   column[b.name], rows[ids[b.name]], Label(b.name, name_latex(b.name)),
                   None if b.op == "leaf" else _block_symbol(b), None) for b in found])


def _block_symbol(b: Block) -> Label:
    if b.op == "pow":
        return label_expr(sympy.Pow(sympy.Symbol(b.inputs[0]), b.constants[0], evaluate=False))
    return symbol_label(RULES[b.op].symbol)


def vector_svg(derivation: Derivation) -> str | None:
    lay = block_layout(derivation)
    return None if lay is None else to_svg(lay)
