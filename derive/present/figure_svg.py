"""The graph figure as SVG, drawn in Python from the one `derive.present.figures.Layout` that TikZ draws too.

No Graphviz and no font measurement: positions come from the layout (centimetres, scaled by `SCALE`), text widths
from `derive.present.mathtext`'s fixed table, so the file is the same on every machine. `draw` computes every circle,
path, arrowhead and text with its box (the tests check that nothing overlaps); `to_svg` writes them out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Literal

from . import mathtext
from ..backward import Derivation
from ..errors import DeriveError
from .figure_limit import MAX_FIGURE_NODES, drawable
from .figures import Label, Layout, layout
from ..files import SVG_MARK
from .mathtext import Run

SCALE = 50.0  # SVG units (CSS pixels at natural size) per centimetre of the layout
MARGIN = 8.0
FONT_FAMILY = "'DejaVu Serif', 'Times New Roman', Times, serif"  # the width table is DejaVu Serif's
SIZE = {"name": 15.0, "opname": 13.0, "symbol": 17.0, "word": 12.0, "const": 13.0, "label": 12.0}
RED = "#cc0000"
HIGHLIGHT = "#ffe680"
OP_RADIUS = 0.35 * SCALE  # the smallest circle (TikZ: minimum size 7mm)
INNER_SEP = 3.0  # between a text's ink and what it labels
CORNER = 0.21 * SCALE  # rounded corners of edges (TikZ: 6pt)
ARROW = (7.0, 3.0)  # arrowhead length and half width

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # left, top, right, bottom
Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Text:
    """One label: its runs drawn from ``x`` (as ``anchor`` says) on ``baseline``."""

    x: float
    baseline: float
    anchor: Anchor
    runs: tuple[Run, ...]
    size: float
    red: bool = False
    visible: bool = True
    data: tuple[tuple[str, str], ...] = ()  # data- attributes naming what it labels (the HTML step-through)

    def box(self) -> Box:
        """Left, top, right, bottom of the ink, from the width table."""
        width = mathtext.width(self.runs) * self.size
        left = self.x - {"start": 0.0, "middle": width / 2, "end": width}[self.anchor]
        up, down = mathtext.extent(self.runs)
        return left, self.baseline - up * self.size, left + width, self.baseline + down * self.size


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    highlight: bool
    node: str = ""  # the graph node it draws (the HTML step-through highlights it)


@dataclass(frozen=True)
class Drawing:
    view: tuple[float, float, float, float]  # left, top, width, height of everything drawn, with a margin
    title: str
    circles: tuple[Circle, ...]
    backdrops: tuple[Box, ...]  # highlighted leaves: a box filled behind the name
    paths: tuple[tuple[Point, ...], ...]  # polylines, drawn with rounded corners
    arrows: tuple[tuple[Point, ...], ...]  # arrowhead polygons
    texts: tuple[Text, ...]


def svg_for(derivation: Derivation) -> str:
    """The whole graph with every value and gradient, as SVG (Markdown's ``NAME.svg``, HTML, ``_repr_svg_``)."""
    if not drawable(derivation):
        raise DeriveError(f"the graph has {len(derivation.graph.nodes)} nodes; graphs are drawn up to "
                          f"{MAX_FIGURE_NODES} nodes")
    return to_svg(layout(derivation))


def to_svg(lay: Layout) -> str:
    return write(draw(lay))


# --- geometry ---------------------------------------------------------------------------------------------------

def _centred(x: float, y: float, label: Label, size: float) -> Text:
    runs = mathtext.read(label.latex)
    up, down = mathtext.extent(runs)
    return Text(x, y + (up - down) / 2 * size, "middle", runs, size)


def _below(x: float, top: float, anchor: Anchor, label: Label, size: float, **style) -> Text:
    runs = mathtext.read(label.latex)
    return Text(x, top + mathtext.extent(runs)[0] * size, anchor, runs, size, **style)


def _above(x: float, bottom: float, label: Label, size: float) -> Text:
    runs = mathtext.read(label.latex)
    return Text(x, bottom - mathtext.extent(runs)[1] * size, "middle", runs, size)


@dataclass(frozen=True)
class _Placed:
    """A node as drawn: where edges leave it and where they end on it."""

    centre: Point
    radius: float | None  # op nodes: the circle; leaves and constants: None, edges leave from ``east``
    east: float


def _at(x: float, row: float) -> Point:
    """A point of the layout (centimetres) in SVG units."""
    return x * SCALE, row * SCALE


def _nodes(lay: Layout) -> tuple[dict[str, _Placed], list[Circle], list[Box], list[Text]]:
    """Circles, highlight backdrops and texts of the nodes, and where each node's edges start and end."""
    placed: dict[str, _Placed] = {}
    circles: list[Circle] = []
    backdrops: list[Box] = []
    texts: list[Text] = []
    for node in lay.nodes:
        cx, cy = _at(lay.x[node.column], node.row)
        if node.symbol is None:
            size = SIZE["const" if node.kind == "const" else "name"]
            name = _centred(cx, cy, node.label, size)
            left, top, right, bottom = name.box()
            if node.highlight:
                backdrops.append((left - INNER_SEP, top - INNER_SEP, right + INNER_SEP, bottom + INNER_SEP))
            texts.append(name)
            placed[node.id] = _Placed((cx, cy), None, right + INNER_SEP)
            under, total_x, total_anchor = bottom + INNER_SEP, right + INNER_SEP, "end"
        else:
            word = len(mathtext.plain(mathtext.read(node.symbol.latex))) > 1
            symbol = _centred(cx, cy, node.symbol, SIZE["word" if word else "symbol"])
            left, top, right, bottom = symbol.box()
            radius = max(OP_RADIUS, math.hypot(right - left, bottom - top) / 2 + 1.0)  # the ink's corners inside
            circles.append(Circle(cx, cy, radius, node.highlight, node.name))
            name = _below(cx, cy + radius + INNER_SEP, "middle", node.label, SIZE["opname"])
            texts += [symbol, name]
            placed[node.id] = _Placed((cx, cy), radius, cx + radius)
            under, total_x, total_anchor = name.box()[3] + 1.0, cx, "middle"
        if node.total:
            texts.append(_below(total_x, under, total_anchor, node.total, SIZE["label"], red=True,
                                visible=node.gradient_shown, data=(("grad", node.name),)))
    return placed, circles, backdrops, texts


def draw(lay: Layout) -> Drawing:
    """Every shape of the figure, in SVG units."""
    placed, circles, backdrops, texts = _nodes(lay)
    names = {node.id: node.name for node in lay.nodes}
    columns = {node.id: node.column for node in lay.nodes}
    rows = {node.id: node.row for node in lay.nodes}
    by_id = {node.id: node for node in lay.nodes}
    paths, arrows = [], []
    for edge in lay.edges:
        start = placed[edge.source]
        end = columns[edge.target] if edge.target else columns[edge.source] + 1
        xs = [lay.x[c // 2] if c % 2 == 0 else (lay.x[c // 2] + lay.x[c // 2 + 1]) / 2
              for c in range(2 * columns[edge.source] + 1, 2 * end)]
        points = [_at(x, row) for x, row in zip(xs[:-1], edge.route[:-1])]
        leave = lay.leave(edge, by_id[edge.source], start.radius / SCALE) if start.radius is not None else None
        if leave is not None:
            points.insert(0, _at(lay.x[columns[edge.source]] + leave, rows[edge.source]))
        mid_x, line_y = _at(xs[-1], edge.route[-1])
        if edge.forward or edge.gradient:
            half = lay.stretch[end] * SCALE
            points += [(mid_x - half, line_y), (mid_x + half, line_y)]
            if edge.forward:
                texts.append(_above(mid_x, line_y - INNER_SEP, edge.forward, SIZE["label"]))
            if edge.gradient:
                to = (("to", names[edge.target]),) if edge.target else ()
                texts.append(_below(mid_x, line_y + INNER_SEP, "middle", edge.gradient, SIZE["label"], red=True,
                                    visible=edge.gradient_shown, data=(("grad", edge.owner), *to)))
        else:
            points.append((mid_x, line_y))
        first = _leaving(start, points[0])
        if edge.target:
            target = placed[edge.target]
            tip = _boundary(target.centre, target.radius or 0.0, points[-1])
        else:
            tip = _at(lay.x[end], rows[edge.source])
        head, shaft_end = _arrowhead(points[-1], tip)
        paths.append(tuple([first, *points, shaft_end]))
        arrows.append(head)
    boxes = [t.box() for t in texts] + [(c.cx - c.r, c.cy - c.r, c.cx + c.r, c.cy + c.r) for c in circles] + \
        [(x, y, x, y) for shape in paths + arrows for x, y in shape] + backdrops
    left, top = min(b[0] for b in boxes) - MARGIN, min(b[1] for b in boxes) - MARGIN
    view = (round(left, 2), round(top, 2), round(max(b[2] for b in boxes) + MARGIN - left, 2),
            round(max(b[3] for b in boxes) + MARGIN - top, 2))
    output = next((mathtext.plain(mathtext.read(n.label.latex)) for n in lay.nodes if n.kind == "output"), "")
    title = (f"Computational graph of {output}: each edge carries its forward value (black, above) and the "
             "gradient flowing back along it (red, below)")
    return Drawing(view, title, tuple(circles), tuple(backdrops), tuple(paths), tuple(arrows), tuple(texts))


def _leaving(node: _Placed, toward: Point) -> Point:
    if node.radius is None:
        return node.east, node.centre[1]
    return _boundary(node.centre, node.radius, toward)


def _boundary(centre: Point, radius: float, toward: Point) -> Point:
    """Where the segment from ``centre`` to ``toward`` leaves the circle."""
    dx, dy = toward[0] - centre[0], toward[1] - centre[1]
    length = math.hypot(dx, dy) or 1.0
    return centre[0] + radius * dx / length, centre[1] + radius * dy / length


def _arrowhead(previous: Point, tip: Point) -> tuple[tuple[Point, ...], Point]:
    """A stealth arrowhead at ``tip`` pointing away from ``previous``, and where the line should stop."""
    length, half = ARROW
    dx, dy = tip[0] - previous[0], tip[1] - previous[1]
    norm = math.hypot(dx, dy) or 1.0
    ux, uy = dx / norm, dy / norm
    back = (tip[0] - length * ux, tip[1] - length * uy)
    inset = (tip[0] - 0.6 * length * ux, tip[1] - 0.6 * length * uy)
    return (tip, (back[0] - half * uy, back[1] + half * ux), inset, (back[0] + half * uy, back[1] - half * ux)), inset


# --- writing ----------------------------------------------------------------------------------------------------

def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _path_data(points: tuple[Point, ...]) -> str:
    """A polyline with its corners rounded (quadratic curves through each corner point)."""
    parts = [f"M{_n(points[0][0])} {_n(points[0][1])}"]
    for previous, corner, following in zip(points, points[1:], points[2:]):
        a = (corner[0] - previous[0], corner[1] - previous[1])
        b = (following[0] - corner[0], following[1] - corner[1])
        if abs(a[0] * b[1] - a[1] * b[0]) < 1e-9:  # straight on: no corner to round
            continue
        cut_in = min(CORNER, math.hypot(*a) / 2) / (math.hypot(*a) or 1.0)
        cut_out = min(CORNER, math.hypot(*b) / 2) / (math.hypot(*b) or 1.0)
        parts.append(f"L{_n(corner[0] - a[0] * cut_in)} {_n(corner[1] - a[1] * cut_in)}")
        parts.append(f"Q{_n(corner[0])} {_n(corner[1])} {_n(corner[0] + b[0] * cut_out)} "
                     f"{_n(corner[1] + b[1] * cut_out)}")
    parts.append(f"L{_n(points[-1][0])} {_n(points[-1][1])}")
    return "".join(parts)


def _text(text: Text) -> str:
    attributes = f'x="{_n(text.x)}" y="{_n(text.baseline)}"'
    if text.anchor != "start":
        attributes += f' text-anchor="{text.anchor}"'
    attributes += f' font-size="{_n(text.size)}"'
    if text.red:
        attributes += f' fill="{RED}"'
    if not text.visible:
        attributes += ' visibility="hidden"'  # keeps its room: a sequence of figures never moves
    attributes += "".join(f' data-{key}="{escape(value)}"' for key, value in text.data)
    body, rise = [], 0.0
    for run in text.runs:
        style = []
        if run.italic:
            style.append('font-style="italic"')
        if run.size != 1.0:
            style.append(f'font-size="{_n(run.size * text.size)}"')
        if run.back:
            style.append(f'dx="{_n(-run.back * text.size)}"')
        if run.rise != rise:
            style.append(f'dy="{_n((rise - run.rise) * text.size)}"')
            rise = run.rise
        content = escape(run.text, quote=False)
        body.append(f"<tspan {' '.join(style)}>{content}</tspan>" if style else content)
    return f"<text {attributes}>{''.join(body)}</text>"


def write(drawing: Drawing) -> str:
    """The drawing as an SVG file: scales down with the page (``max-width: 100%``), titled for screen readers."""
    left, top, w, h = map(_n, drawing.view)
    title = escape(drawing.title)
    lines = [SVG_MARK,
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="{left} {top} {w} {h}" '
             f'role="img" aria-label="{title}" style="max-width: 100%; height: auto" '
             f'font-family="{escape(FONT_FAMILY, quote=False)}">',
             f"<title>{title}</title>",
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fff"/>']
    lines += [f'<rect x="{_n(a)}" y="{_n(b)}" width="{_n(c - a)}" height="{_n(d - b)}" rx="3" fill="{HIGHLIGHT}"/>'
              for a, b, c, d in drawing.backdrops]
    lines.append('<g fill="none" stroke="#000" stroke-width="1">')
    lines += [f'<path d="{_path_data(points)}"/>' for points in drawing.paths]
    lines.append("</g>")
    lines.append('<g fill="#000">')
    lines += ['<path d="M' + " L".join(f"{_n(x)} {_n(y)}" for x, y in head) + 'Z"/>' for head in drawing.arrows]
    lines.append("</g>")
    for circle in drawing.circles:
        fill, stroke = (HIGHLIGHT, "2") if circle.highlight else ("#fff", "1")
        node = f' data-node="{escape(circle.node)}"' if circle.node else ""
        lines.append(f'<circle cx="{_n(circle.cx)}" cy="{_n(circle.cy)}" r="{_n(circle.r)}" fill="{fill}" '
                     f'stroke="#000" stroke-width="{stroke}"{node}/>')
    lines += [_text(text) for text in drawing.texts]
    lines.append("</svg>")
    return "\n".join(lines) + "\n"
