"""Graph figures that fit a page at a readable size.

`derive.present.figures` lays a graph out at TikZ scale, where its labels are set in 8 pt (``\\scriptsize``). This
module decides how a figure goes on a page: the scale it is drawn at (text included, so every label prints at
8 pt times the scale), whether a long graph wraps into bands, and, for a graph too big for a slide at a readable
size, the neighbourhood of one node (drawn at full size) and a text-free overview of the whole graph with that
node marked.
"""
from __future__ import annotations

import dataclasses
import math
import re
from functools import lru_cache

from .figures import LABEL_POINTS, LANE, Geometry, Layout, column_x, edge_points, extent, place_rows, tikz_point

LEAST_LABEL_PT = 8.0  # no graph text prints smaller
BODY_PT = 11.0  # the documents' body size: graph texts print at most this large
SMALLEST_FONT = min(LABEL_POINTS.values())
LEAST_SCALE = LEAST_LABEL_PT / SMALLEST_FONT
BODY_SCALE = BODY_PT / SMALLEST_FONT

_CM_PER_PT = 2.54 / 72.27
_DIGIT_EM = 0.5  # a digit, a letter or a sign of a label is about half an em wide (Computer Modern)


def text_width(text: str, points: float) -> float:
    """A label's width in cm (its plain text, at ``points``), padded by TikZ's inner sep."""
    return len(text) * _DIGIT_EM * points * _CM_PER_PT + 0.12


Box = tuple[float, float, float, float]  # left, top, right, bottom in cm at scale 1


def boxes(lay: Layout, starts: tuple[int, ...] = (0,)) -> list[Box]:
    """What the TikZ picture covers: each node with its name and total, each edge's labels and corners."""
    geometry = Geometry(lay, starts)
    out: list[Box] = []
    for node in lay.nodes:
        x, y = geometry.at(2 * node.column, node.row)
        if node.symbol:
            radius = max(0.35, text_width(node.symbol.text, LABEL_POINTS["small"]) / 2)
            out.append((x - radius, y - radius, x + radius, y + radius + 0.45))
            if node.total:
                half = text_width(node.total.text, LABEL_POINTS["scriptsize"]) / 2
                out.append((x - half, y + radius + 0.4, x + half, y + radius + 0.8))
        else:
            points = LABEL_POINTS["footnotesize" if node.kind == "const" else "small"]
            half = text_width(node.label.text, points) / 2
            out.append((x - half, y - 0.25, x + half, y + 0.25))
            if node.total:
                width = text_width(node.total.text, LABEL_POINTS["scriptsize"])
                out.append((x + half - width, y + 0.25, x + half, y + 0.6))
    for edge in lay.edges:
        drawn = edge_points(geometry, edge)
        out += [(x, y, x, y) for x, y in drawn.points]
        if drawn.stretch:
            (x0, y), (x1, _) = drawn.points[drawn.stretch[0]], drawn.points[drawn.stretch[1]]
            centre = (x0 + x1) / 2
            for label, top, bottom in ((edge.forward, y - 0.4, y), (edge.gradient, y, y + 0.4)):
                if label:
                    half = text_width(label.text, LABEL_POINTS["scriptsize"]) / 2
                    out.append((centre - half, top, centre + half, bottom))
    return out


# natural_size, wrap_starts and neighbourhood are cached: the article and the slides, in every language, fit the same
# immutable layouts (about a sixth of a build's rendering time went into measuring them again)
@lru_cache(maxsize=4096)
def natural_size(lay: Layout, starts: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """The picture's width and height in cm at scale 1 (a little more than TikZ's bounding box)."""
    covered = boxes(lay, starts)
    return (round(1.015 * (max(b[2] for b in covered) - min(b[0] for b in covered)) + 0.1, 2),
            round(max(b[3] for b in covered) - min(b[1] for b in covered) + 0.05, 2))


def fit_scale(size: tuple[float, float], width: float, height: float, most: float = BODY_SCALE) -> float:
    """The largest scale (two decimals, at most ``most``) at which a picture of ``size`` fits the room."""
    return min(most, math.floor(100 * min(width / size[0], height / size[1])) / 100)


@lru_cache(maxsize=4096)
def wrap_starts(lay: Layout, width: float, lanes: int = 1) -> tuple[int, ...]:
    """Where a long graph wraps so that each band is at most ``width`` cm wide at scale 1: it is cut only between
    columns that at most ``lanes`` edges cross, each from an op node (a chain when ``lanes`` is 1; a value that
    is not computed stays beside its reader), as late as the width allows. ``(0,)`` when it fits or has no such
    cut."""
    if natural_size(lay)[0] <= width:
        return (0,)
    columns = {node.id: node.column for node in lay.nodes}
    computed = {node.id for node in lay.nodes if node.symbol}
    last = max(columns.values())
    crossing = [0] * (last + 1)  # edges crossing from column c to c + 1 (a leaf's or a constant's: too many)
    for edge in lay.edges:
        for c in range(columns[edge.source], (columns[edge.target] if edge.target else last + 1)):
            if c < last:
                crossing[c] += 1 if edge.source in computed else lanes + 1
    starts = [0]
    while True:
        begin = lay.x[starts[-1]]
        tail = lay.x[-1] - begin + 1.5  # the rest, with the output's stub
        if tail <= width:
            return tuple(starts) if len(starts) > 1 else (0,)
        cuts = [c + 1 for c in range(starts[-1], last) if 1 <= crossing[c] <= lanes
                and (lay.x[c] + lay.x[c + 1]) / 2 - begin + 1.5 + LANE * (crossing[c] - 1) <= width]
        if not cuts:
            return (0,)
        starts.append(cuts[-1])


@lru_cache(maxsize=4096)
def neighbourhood(lay: Layout, node_id: str) -> Layout:
    """The node, the nodes it reads (one column left) and those that read it (one column right), with the
    edges between them and their labels, placed anew: a readable piece of a graph too big to show whole."""
    edges = [e for e in lay.edges if e.target == node_id or e.source == node_id]
    column = {node_id: 1}
    for edge in edges:
        if edge.target == node_id:
            column[edge.source] = 0
        elif edge.target:
            column[edge.target] = 2
    kept = [n for n in lay.nodes if n.id in column]
    extents = {n.id: extent("op" if n.symbol else "leaf", n.total is not None) for n in kept}
    rows = place_rows(column, extents, [(e.source, e.target, e.forward is not None) for e in edges if e.target])
    nodes = [dataclasses.replace(n, column=column[n.id], row=rows[n.id]) for n in kept]
    placed = tuple(dataclasses.replace(e, route=(rows[(e.source, e.target, 2 * column[e.source] + 1)],)
                                       if e.target else (rows[e.source],)) for e in edges)
    x, stretch, clear = column_x(nodes, placed)
    return Layout(tuple(nodes), placed, x, stretch, max(rows.values()) + 1, clear)


def overview_tikz(lay: Layout, mark: str | None, scale: float, starts: tuple[int, ...] = (0,)) -> str:
    """The whole graph without any text, drawn at ``scale``: a dot per node and a line per edge, the node
    ``mark`` (a node id) ringed and filled in yellow, the nodes of its neighbourhood darker."""
    geometry = Geometry(lay, starts)
    near = {mark} | {e.source for e in lay.edges if e.target == mark} | {e.target for e in lay.edges
                                                                         if e.source == mark}
    out = [f"\\begin{{tikzpicture}}[scale={scale:g}, x=1cm, y=-1cm, every node/.style={{circle, inner sep=0pt}}]"]
    for edge in lay.edges:
        points = edge_points(geometry, edge).points
        colour = "black" if edge.source == mark or edge.target == mark else "gray!60"
        out.append(f"\\draw[{colour}, rounded corners=2pt] {' -- '.join(tikz_point(*p) for p in points)};")
    for node in lay.nodes:
        where = tikz_point(*geometry.at(2 * node.column, node.row))
        if node.id == mark:
            style = "draw=red!80!black, very thick, fill=yellow, minimum size=9pt"
        else:
            style = f"fill={'black' if node.id in near else 'gray'}, minimum size={4 if node.symbol else 2.5}pt"
        out.append(f"\\node[{style}] at {where} {{}};")
    out.append("\\end{tikzpicture}")
    return "\n".join(out)


_FONTSIZE = re.compile(r"\\fontsize\{([0-9.]+)\}")


def label_points(tikz: str) -> list[float]:
    """Every text size a TikZ picture prints, in pt: each font it names (the figures' TikZ fonts, or an explicit
    ``\\fontsize``, as the network diagram sets its labels) times the picture's scale (the figure's own data,
    after scaling)."""
    head = tikz[tikz.index("[") + 1:tikz.index("\n")]
    scale = float(head.split("scale=", 1)[1].split(",", 1)[0].rstrip("]")) if "scale=" in head else 1.0
    if "$" not in tikz:
        return []  # a picture without text (an overview)
    fonts = [LABEL_POINTS[name] for name in LABEL_POINTS if "\\" + name in tikz]
    return [size * scale for size in fonts + sorted({float(size) for size in _FONTSIZE.findall(tikz)})]
