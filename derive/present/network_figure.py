"""The layered picture of a network: its units in one column per layer, one line per weight labelled w^l_{ji}, each
unit showing a^l_j (inside) with z^l_j and, in red, δ^l_j under it, W^l over each gap between layers.

One pure function, `diagram`, places everything (centimetres, sizes in points, labels printed by
`derive.notation.latex`) from the network's own layer sizes; two back ends draw that one description: `to_svg`
(through `derive.present.figure_svg.write`, no Graphviz) and `to_tikz`. A weight's label sits on its own line,
which is cut around it; its place along the line is the first of a fixed list of positions where the label meets no
other label, no unit and no other line (deterministic). When a gap has no such place for every weight even after
widening, that gap shows W^l alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal

import sympy

from . import mathtext
from .figure_svg import SCALE, Circle, Drawing, Text, write
from ..networks import notation as nn
from ..networks.backprop import NetworkResult
from ..notation import latex

PT_PER_CM = 72.27 / 2.54
SIZE = {"unit": 10.0, "z": 9.0, "delta": 9.0, "weight": 8.0, "layer": 10.0, "matrix": 10.0}  # points
MAX_UNITS = 16  # a wider layer is not drawn
MAX_LABELLED_WEIGHTS = 16  # a gap with more weights shows W^l alone
GAP = 3.4  # cm between the centres of neighbouring columns, before any widening
WIDEN = (1.0, 1.25, 1.5, 1.8)  # gap factors tried in turn until every weight label has a place
SPACE = 0.35  # cm between a unit's lowest label and the next unit's circle
PAD = 0.06  # cm of clearance kept around every label
LINE_GAP = 0.08  # cm between a unit's circle and the first label under it, and between those labels
POSITIONS = (0.22, 0.78, 0.32, 0.68, 0.5, 0.15, 0.85, 0.4, 0.6, 0.27, 0.73, 0.45, 0.55, 0.36, 0.64)
"""Where a weight's label may sit along its line, as a fraction from the earlier layer, in order of preference:
near an end first, where the lines of one unit fan out, then towards the middle, where they cross."""
RED_TIKZ = "red!80!black"

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # left, top, right, bottom (y grows downwards)
Role = Literal["unit", "z", "delta", "weight", "layer", "matrix"]


@dataclass(frozen=True)
class Label:
    """One piece of maths, centred on ``x`` with its baseline on ``baseline`` (cm), ``size`` in points."""

    latex: str
    x: float
    baseline: float
    size: float
    role: Role

    @property
    def red(self) -> bool:
        return self.role == "delta"

    def box(self) -> Box:
        runs = mathtext.read(self.latex)
        em = self.size / PT_PER_CM
        half = mathtext.width(runs) * em / 2
        up, down = mathtext.extent(runs)
        return self.x - half, self.baseline - up * em, self.x + half, self.baseline + down * em


@dataclass(frozen=True)
class Unit:
    layer: int  # 1 = input
    index: int  # 1-based, j
    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class Wire:
    """The line of weight w^{layer}_{target, source}: from the east point of unit ``source`` of layer − 1 to the west
    point of unit ``target``, drawn as ``pieces`` (cut around its label)."""

    layer: int
    target: int
    source: int
    start: Point
    end: Point
    pieces: tuple[tuple[Point, Point], ...]
    label: Label | None


@dataclass(frozen=True)
class Diagram:
    sizes: tuple[int, ...]
    units: tuple[Unit, ...]
    wires: tuple[Wire, ...]
    labels: tuple[Label, ...]  # every label, the wires' included
    box: Box  # everything drawn, in cm

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def drawable(sizes: Iterable[int]) -> bool:
    return max(sizes) <= MAX_UNITS


def diagram(result: NetworkResult) -> Diagram:
    """The picture of ``result``'s network (its layer sizes; the numbers are in the text around it)."""
    return diagram_of(tuple(result.network.sizes))


def _em(role: Role) -> float:
    return SIZE[role] / PT_PER_CM


def _text_box(text: str, role: Role) -> tuple[float, float, float]:
    """Width, ink above and below the baseline of a label, in cm."""
    runs = mathtext.read(text)
    up, down = mathtext.extent(runs)
    return mathtext.width(runs) * _em(role), up * _em(role), down * _em(role)


def _unit_texts(layer: int, j: int) -> tuple[tuple[str, Role], ...]:
    """What unit j of ``layer`` shows: a inside; z and δ under it (not on the input layer)."""
    a: tuple[str, Role] = (latex(nn.Sym("a", layer, str(j))), "unit")
    if layer == 1:
        return (a,)
    return a, (latex(nn.Sym("z", layer, str(j))), "z"), (latex(nn.Sym("delta", layer, str(j))), "delta")


def diagram_of(sizes: tuple[int, ...]) -> Diagram:
    """Columns placed left to right; each gap is as narrow as lets every weight label find a place (`WIDEN`), and
    shows W^l alone when none does."""
    L = len(sizes)
    texts = {(l, j): _unit_texts(l, j) for l in range(1, L + 1) for j in range(1, sizes[l - 1] + 1)}
    radius = max(max(_text_box(*texts[key][0])[0] / 2 + 0.12, 0.42) for key in texts)
    # labels under a circle are no wider than it, so the lines leaving its east point never cross them
    below = max(sum(u + d + LINE_GAP for _, u, d in (_text_box(*t) for t in texts[key][1:])) for key in texts)
    _, up, down = _text_box(latex(nn.Sym("W", L)), "matrix")
    geometry = _Geometry(sizes, radius, 2 * radius + below + SPACE, up, up + down + 0.25 + radius, texts)
    units, labels = geometry.column(1, 0.0)
    wires: list[Wire] = []
    for l in range(2, L + 1):
        labelled = sizes[l - 1] * sizes[l - 2] <= MAX_LABELLED_WEIGHTS
        for factor in (WIDEN if labelled else WIDEN[:1]) + (None,):
            x = units[-1].x + GAP * (factor or 1.0)
            column, column_labels = geometry.column(l, x)
            header = Label(latex(nn.Sym("W", l)), x - (x - units[-1].x) / 2, geometry.header, SIZE["matrix"],
                           "matrix")
            gap = _gap(l, units + column, labels + column_labels + [header], factor is not None and labelled)
            if gap is not None:
                break
        units += column
        labels += column_labels + [header] + [w.label for w in gap if w.label]
        wires += gap
    boxes = [lab.box() for lab in labels] + [(u.x - u.radius, u.y - u.radius, u.x + u.radius, u.y + u.radius)
                                             for u in units]
    box = (min(b[0] for b in boxes) - PAD, min(b[1] for b in boxes) - PAD,
           max(b[2] for b in boxes) + PAD, max(b[3] for b in boxes) + PAD)
    return Diagram(sizes, tuple(units), tuple(wires), tuple(labels), box)


@dataclass(frozen=True)
class _Geometry:
    sizes: tuple[int, ...]
    radius: float
    pitch: float  # between the centres of neighbouring units of a column
    header: float  # the headers' baseline
    top: float  # the centre of the highest unit
    texts: dict

    def column(self, l: int, x: float) -> tuple[list[Unit], list[Label]]:
        """The units of layer ``l`` centred on the tallest column, their labels and the layer's header."""
        units, labels = [], []
        n, tallest = self.sizes[l - 1], max(self.sizes)
        for j in range(1, n + 1):
            y = self.top + (j - 1 + (tallest - n) / 2) * self.pitch
            units.append(Unit(l, j, x, y, self.radius))
            (a, role), *under = self.texts[(l, j)]
            _, up, down = _text_box(a, role)
            labels.append(Label(a, x, y + (up - down) / 2, SIZE[role], role))
            level = y + self.radius
            for text, role in under:
                _, up, down = _text_box(text, role)
                labels.append(Label(text, x, level + LINE_GAP + up, SIZE[role], role))
                level += LINE_GAP + up + down
        layer_name = latex(nn.Relation(nn.Sym("l"), "=", nn.Num(sympy.Integer(l))))
        labels.append(Label(layer_name, x, self.header, SIZE["layer"], "layer"))
        return units, labels


def _gap(l: int, units: list[Unit], labels: list[Label], label_weights: bool) -> list[Wire] | None:
    """The wires from layer l − 1 to layer l, each labelled when ``label_weights``; None when a label finds no
    room."""
    by_key = {(u.layer, u.index): u for u in units}
    sizes = (max(u.index for u in units if u.layer == l - 1), max(u.index for u in units if u.layer == l))
    lines = [(j, i, (by_key[(l - 1, i)].x + by_key[(l - 1, i)].radius, by_key[(l - 1, i)].y),
              (by_key[(l, j)].x - by_key[(l, j)].radius, by_key[(l, j)].y))
             for j in range(1, sizes[1] + 1) for i in range(1, sizes[0] + 1)]
    wires: list[Wire] = []
    placed = list(labels)
    for j, i, start, end in lines:
        if not label_weights:
            wires.append(Wire(l, j, i, start, end, ((start, end),), None))
            continue
        text = latex(nn.Sym("w", l, f"{j}{i}" if max(sizes) < 10 else f"{j},{i}"))
        others = [(s, e) for k, n, s, e in lines if (k, n) != (j, i)]
        found = _free_place(text, start, end, placed, units, others)
        if found is None:
            return None
        label, pieces = found
        placed.append(label)
        wires.append(Wire(l, j, i, start, end, pieces, label))
    return wires


def _free_place(text: str, start: Point, end: Point, labels: list[Label], units: list[Unit],
                others: list[tuple[Point, Point]]) -> tuple[Label, tuple[tuple[Point, Point], ...]] | None:
    """The first place along ``start → end`` where the label touches nothing, and the line's pieces around it."""
    width, up, down = _text_box(text, "weight")
    taken = [grown(label.box(), PAD) for label in labels]
    for t in POSITIONS:
        cx, cy = start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
        label = Label(text, cx, cy + (up - down) / 2, SIZE["weight"], "weight")
        box = grown(label.box(), PAD)
        if any(overlap(box, other) for other in taken):
            continue
        if any(circle_meets(box, u) for u in units):
            continue
        if any(segment_meets(box, s, e) for s, e in others):
            continue
        before, after = _cut(start, end, box)
        return label, ((start, before), (after, end))
    return None


def _cut(start: Point, end: Point, box: Box) -> tuple[Point, Point]:
    """Where the line from ``start`` to ``end`` enters and leaves ``box`` (which holds a point of it)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    low, high = 0.0, 1.0
    for d, s, lo, hi in ((dx, start[0], box[0], box[2]), (dy, start[1], box[1], box[3])):
        if abs(d) < 1e-12:
            continue
        a, b = (lo - s) / d, (hi - s) / d
        low, high = max(low, min(a, b)), min(high, max(a, b))
    return (start[0] + low * dx, start[1] + low * dy), (start[0] + high * dx, start[1] + high * dy)


# --- geometry tests (also used by the tests) ---------------------------------------------------------------------

def grown(box: Box, by: float) -> Box:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def circle_meets(box: Box, unit: Unit) -> bool:
    nearest_x = min(max(unit.x, box[0]), box[2])
    nearest_y = min(max(unit.y, box[1]), box[3])
    return math.hypot(unit.x - nearest_x, unit.y - nearest_y) < unit.radius


def segment_meets(box: Box, start: Point, end: Point) -> bool:
    """Whether the segment passes through the inside of ``box`` (Liang–Barsky clipping)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    low, high = 0.0, 1.0
    for p, q in ((-dx, start[0] - box[0]), (dx, box[2] - start[0]), (-dy, start[1] - box[1]), (dy, box[3] - start[1])):
        if abs(p) < 1e-12:
            if q <= 0:
                return False
            continue
        r = q / p
        if p < 0:
            low = max(low, r)
        else:
            high = min(high, r)
        if low >= high:
            return False
    return True


# --- back ends ----------------------------------------------------------------------------------------------------

def title(d: Diagram) -> str:
    sizes = "-".join(map(str, d.sizes))
    return (f"Network diagram ({sizes} units): each circle is a unit with its activation a inside and its weighted "
            "input z and error delta (red) under it; each line is a weight w")


def _svg_point(point: Point) -> Point:
    return point[0] * SCALE, point[1] * SCALE


def to_svg(d: Diagram) -> str:
    """The diagram as an SVG file (drawn by `derive.present.figure_svg.write`)."""
    left, top, right, bottom = d.box
    texts = tuple(Text(label.x * SCALE, label.baseline * SCALE, "middle", mathtext.read(label.latex),
                       label.size / PT_PER_CM * SCALE, red=label.red) for label in d.labels)
    drawing = Drawing((round(left * SCALE, 2), round(top * SCALE, 2), round((right - left) * SCALE, 2),
                       round((bottom - top) * SCALE, 2)), title(d),
                      tuple(Circle(u.x * SCALE, u.y * SCALE, u.radius * SCALE, False) for u in d.units), (),
                      tuple((_svg_point(a), _svg_point(b)) for wire in d.wires for a, b in wire.pieces), (), texts)
    return write(drawing)


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _tikz_point(point: Point) -> str:
    return f"({_num(point[0])}, {_num(point[1])})"


def to_tikz(d: Diagram) -> str:
    """A ``tikzpicture`` (needs only TikZ) at its own size: every label prints at its `SIZE`."""
    out = ["\\begin{tikzpicture}[x=1cm, y=-1cm]"]
    out += [f"\\draw[fill=white] {_tikz_point((u.x, u.y))} circle[radius={_num(u.radius)}];" for u in d.units]
    out += [f"\\draw {_tikz_point(a)} -- {_tikz_point(b)};" for wire in d.wires for a, b in wire.pieces]
    for label in d.labels:
        colour = f", text={RED_TIKZ}" if label.red else ""
        size = _num(label.size)
        out.append(f"\\node[anchor=base, inner sep=0pt{colour}] at {_tikz_point((label.x, label.baseline))} "
                   f"{{\\fontsize{{{size}}}{{{_num(label.size * 1.2)}}}\\selectfont${label.latex}$}};")
    out.append("\\end{tikzpicture}")
    return "\n".join(out) + "\n"


def shrunk_to_line(tikz: str) -> str:
    """The picture shrunk with ``\\resizebox`` to ``\\linewidth`` when wider (the article's page)."""
    return "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n" + tikz.rstrip("\n") + "}\n"
