"""The computational graph of a `Derivation`, drawn as the study material draws it.

One pure function, `layout`, decides where everything goes: leaves and op nodes in columns from left to right
(an op node one column right of its rightmost input, a leaf one column left of its first reader), rows chosen to
keep edges short and straight, and every label already formatted. Two back ends draw that one description:
`derive.present.figure_svg` (SVG, in Python) and `to_tikz` here (pdflatex, with Beamer overlays).

Each edge ``src → dst`` carries the forward value of ``src`` (black, above) and the gradient that flows back along
it (red, below): ∂f/∂src when ``src`` feeds one node, otherwise that edge's share ∂f/∂dst · ∂dst/∂src, and the
node then shows its total ∂f/∂src (the sum of its edges) in red next to its name. The output gets a stub edge
carrying its value and the gradient 1.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable, Literal, Mapping

import sympy
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..backward import Derivation
from ..notation import Grad, label_latex, name_latex, number_text, text_latex
from ..rules import RULES

Kind = Literal["leaf", "op", "output", "const"]

SWEEPS = 12  # passes of each phase of the row placement; enough for the graphs the material draws
PULL = 3  # how much more an edge's labels are drawn to its target's row than to its source's


TIKZ_DEFINITIONS = r"""\tikzset{onslide/.code args={<#1>#2}{\only<#1>{\pgfkeysalso{#2}}}}
"""
"""The styles `to_tikz` pictures use beyond TikZ's own (``onslide`` only with ``reveal``, in Beamer); a ``--body-only``
fragment carries them, since they may also be set after ``\\begin{document}``."""

TIKZ_PREAMBLE = r"""\usepackage{amsmath,amssymb}
\usepackage{tikz}
\usepackage{graphicx}
\usetikzlibrary{arrows.meta}
""" + TIKZ_DEFINITIONS
"""What a document's preamble needs for `to_tikz` pictures."""


@dataclass(frozen=True)
class Label:
    text: str  # plain text (what sizes the layout's columns)
    latex: str  # maths-mode LaTeX (TikZ; the SVG back end typesets it with derive.present.mathtext)


@dataclass(frozen=True)
class FigureNode:
    id: str  # unique, safe in TikZ and SVG: n0, n1, … for graph nodes, k0, k1, … for constants
    name: str  # the graph node's name ('' for a constant)
    kind: Kind
    column: int
    row: float  # distance below the top, in cm at TikZ scale
    label: Label  # the name (a constant: its value)
    symbol: Label | None  # what the circle shows (op and output nodes)
    total: Label | None  # ∂f/∂node when it is split over several edges
    highlight: bool = False
    gradient_shown: bool = True  # False: the total keeps its room but is not drawn
    fresh: bool = False  # the total was written in the step shown (drawn so that it stands out)


@dataclass(frozen=True)
class FigureEdge:
    source: str  # node id
    target: str | None  # node id; None for the output's stub
    owner: str  # the graph node whose gradient the red label shows (for overlays)
    forward: Label | None
    gradient: Label | None  # None only on edges from constants
    route: tuple[float, ...] = ()  # rows at columns source + ½, source + 1, …, target − ½; labels sit on the last
    # (the output's stub has one point, at column + ½)
    gradient_shown: bool = True  # False: the gradient keeps its room but is not drawn, so figures never move
    fresh: bool = False  # the gradient was written in the step shown (drawn so that it stands out)


@dataclass(frozen=True)
class Layout:
    nodes: tuple[FigureNode, ...]
    edges: tuple[FigureEdge, ...]
    x: tuple[float, ...]  # where each column is (the last one ends the output's stub), in cm at TikZ scale
    stretch: tuple[float, ...]  # half the length of the labelled stretch of the edges entering each column
    height: float  # the largest row + 1
    clear: tuple[float, ...]  # how far right of each column's x its nodes and the labels under them reach

    def leave(self, edge: FigureEdge, source: FigureNode, radius: float) -> float | None:
        """How far right of its centre ``edge`` leaving the op node ``source`` (a circle of ``radius``) for another
        row first runs level: past the names and totals under the column's nodes, so that it crosses none of them
        (None: it stays on its row, or nothing there reaches past the circle and it leaves straight for its next
        point)."""
        if not edge.route or edge.route[0] == source.row:
            return None
        reach = self.clear[source.column]
        return reach if reach > radius + _LEVEL else None


# --- numbers and names ------------------------------------------------------------------------------------------
# Numbers are printed by `derive.notation.number_text`, the one rule for every number the project prints.

def name_text(name: str) -> str:
    """A node name in plain text, as the material writes it (``y_`` → ``y'``)."""
    base = name.rstrip("_")
    return base + "'" * (len(name) - len(base)) if base else name


class _TextPrinter(StrPrinter):
    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return name_text(expr.name)

    def _print_Grad(self, expr: Grad) -> str:
        return f"\u2202{name_text(expr.output)}/\u2202{name_text(expr.node)}"

    def _print_Pow(self, expr: sympy.Pow) -> str:
        if expr.exp.is_Integer and expr.exp > 0 and expr.base.is_Symbol:
            return self._print(expr.base) + str(expr.exp).translate(_SUPERSCRIPTS)
        return super()._print_Pow(expr)


_SUPERSCRIPTS = str.maketrans("0123456789-", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b")


_TEXT = _TextPrinter()

_SYMBOL_LATEX = {"+": "+", "=": "=", "\u03a3": r"\Sigma", "\u2212": "-", "\u00d7": r"\times", "\u00f7": r"\div",
                 "\u221a": r"\surd", "\u03c3": r"\sigma", "exp": r"\exp", "log": r"\log",
                 "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh"}


def _symbol(derivation: Derivation, name: str, op: str) -> Label:
    """What an op node's circle shows: the op's sign, except that a power shows itself as the maths writes it
    (r² for q = r**2), in the printer's notation."""
    if op == "pow":
        return label_expr(derivation.definitions[name])
    return symbol_label(RULES[op].symbol)


def symbol_label(text: str) -> Label:
    """An op's sign as its circle shows it."""
    return Label(text, _SYMBOL_LATEX.get(text, r"\mathrm{" + text + "}"))


def number_label(value: sympy.Expr) -> Label:
    """A number as the figures print it; its plain text as wide as the maths (``2.8 × 10⁻⁶``, not ``2.8e-06``:
    the text sizes the room the label is given)."""
    latex = text_latex(number_text(value))
    power = re.sub(r"\^\{(-?\d+)\}", lambda m: m.group(1).translate(_SUPERSCRIPTS), latex)
    return Label(power.replace(r" \times ", " \u00d7 "), latex)


def _name(name: str) -> Label:
    return Label(name_text(name), name_latex(name))


def label_expr(expr: sympy.Expr) -> Label:
    return Label(_TEXT.doprint(expr), label_latex(expr))


# --- layout -----------------------------------------------------------------------------------------------------

def layout(derivation: Derivation, highlight: str | None = None,
           shown_gradients: set[str] | None = None, fresh: frozenset[str] = frozenset()) -> Layout:
    """Where every node and label of the graph figure goes; ``shown_gradients`` (default: all) limits the red
    labels to the gradients of those nodes, ``highlight`` marks the node being processed and ``fresh`` the nodes
    whose gradients the step shown writes. Positions depend on none of them, so a sequence of figures (one per
    backward step) never moves: the placement is computed once per derivation and each figure only sets flags."""
    placed = _placed(derivation)
    if highlight is None and shown_gradients is None and not fresh:
        return placed
    shown = (lambda name: True) if shown_gradients is None else (lambda name: name in shown_gradients)
    return Layout(tuple(n if n.kind == "const" else dataclasses.replace(
                            n, highlight=n.name == highlight, gradient_shown=shown(n.name),
                            fresh=n.name in fresh and n.total is not None)
                        for n in placed.nodes),
                  tuple(dataclasses.replace(e, gradient_shown=shown(e.owner), fresh=e.owner in fresh
                                            and e.gradient is not None) for e in placed.edges),
                  placed.x, placed.stretch, placed.height, placed.clear)


_PLACED: dict[int, tuple[Derivation, Layout]] = {}  # id → (derivation, its layout); the derivation is kept so
_PLACED_SIZE = 32  # that its id is not reused while it is in here


def _placed(derivation: Derivation) -> Layout:
    """`_place` memoised per derivation object (a Beamer deck draws one derivation once per backward step, in
    every language; `Derivation` holds dicts and cannot be a dictionary key itself)."""
    hit = _PLACED.get(id(derivation))
    if hit is not None and hit[0] is derivation:
        return hit[1]
    placed = _place(derivation)
    while len(_PLACED) >= _PLACED_SIZE:
        _PLACED.pop(next(iter(_PLACED)))
    _PLACED[id(derivation)] = (derivation, placed)
    return placed


def _place(derivation: Derivation) -> Layout:
    graph, out = derivation.graph, derivation.output
    readers = graph.consumers()
    terms = {(step.node, term.input): term for step in derivation.steps for term in step.terms}

    column = columns_of([(n.name, n.op == "leaf", n.inputs) for n in graph.nodes], readers)

    ids = {node.name: f"n{i}" for i, node in enumerate(graph.nodes)}
    places = {ids[n]: c for n, c in column.items()}
    extents = {ids[n.name]: extent("leaf" if n.op == "leaf" else "op", len(readers[n.name]) > 1)
               for n in graph.nodes}
    raw: list[RawEdge] = []
    constants: dict[str, Label] = {}
    for node in graph.nodes:
        for position, arg in enumerate(node.args):
            if isinstance(arg, str):
                if arg in node.args[:position]:
                    continue  # one edge per distinct input: t*t has one edge t → f
                gradient = _edge_gradient(derivation, arg, node.name, readers, terms)
                raw.append((ids[arg], ids[node.name], arg, _forward(derivation, arg), gradient))
            else:
                const = f"k{len(constants)}"
                constants[const] = number_label(arg)
                places[const], extents[const] = column[node.name] - 1, extent("const", False)
                raw.append((const, ids[node.name], "", None, None))
    raw.append((ids[out], None, out, _forward(derivation, out), number_label(sympy.S.One)))


    def graph_nodes(rows: Mapping) -> list[FigureNode]:
        nodes = []
        for node in graph.nodes:
            kind: Kind = "output" if node.name == out else "leaf" if node.op == "leaf" else "op"
            total = None
            if len(readers[node.name]) > 1 and node.name not in derivation.constants:
                gradient = derivation.gradients[node.name]
                total = (number_label(gradient.value) if derivation.values is not None
                         else label_expr(Grad(out, node.name)))
            nodes.append(FigureNode(ids[node.name], node.name, kind, column[node.name], rows[ids[node.name]],
                                    _name(node.name),
                                    None if node.op == "leaf" else _symbol(derivation, node.name, node.op), total))
        return nodes

    return place_figure(raw, places, extents, constants, ids[out], graph_nodes)


RawEdge = tuple[str, "str | None", str, "Label | None", "Label | None"]
"""An edge before placement: source id, target id (None: the output's stub), owner, forward and gradient labels."""


def place_figure(raw: list[RawEdge], places: dict[str, int], extents: dict[str, tuple[float, float]],
                 constants: Mapping[str, Label], out_id: str,
                 graph_nodes: Callable[[Mapping], list[FigureNode]]) -> Layout:
    """Rows for every node and edge, then the figure: ``graph_nodes(rows)`` makes the graph's own nodes, the
    constants and edges are made here."""
    rows = place_rows(places, extents, [(s, t, f is not None) for s, t, _, f, _ in raw if t is not None])
    rows[(out_id, None, 2 * places[out_id] + 1)] = rows[out_id]
    nodes = graph_nodes(rows) + [FigureNode(k, "", "const", places[k], rows[k], label, None, None)
                                 for k, label in constants.items()]
    edges = tuple(FigureEdge(s, t, owner, fwd, grad, tuple(
        rows[(s, t, x)] for x in range(2 * places[s] + 1, 2 * places[t] if t else 2 * places[s] + 2)))
        for s, t, owner, fwd, grad in raw)
    x, stretch, clear = column_x(nodes, edges)
    return Layout(tuple(nodes), edges, x, stretch, max(rows.values()) + 1, clear)


def columns_of(nodes: list[tuple[str, bool, tuple[str, ...]]], readers: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Each node's column, from (name, is a leaf, inputs) in graph order: an op node one column right of its
    rightmost input, a leaf just left of its first reader (as the material draws b and y')."""
    column: dict[str, int] = {}
    for name, leaf, inputs in nodes:
        if not leaf:
            column[name] = 1 + max((column.get(i, 0) for i in inputs), default=0)
    for name, leaf, _ in nodes:
        if leaf:
            column[name] = min((column[r] for r in readers[name]), default=1) - 1
    return column


OP_RADIUS = 0.35  # cm: an op node's circle (TikZ: minimum size 7mm)
_LEVEL = 0.1  # cm: the shortest level piece worth drawing between a circle and a bend
_CHAR = 0.13  # cm per character of a \scriptsize label (digits are 0.12 cm; ∂ and subscripts vary)
_CONNECT = 0.3  # cm of edge at least between a node and a labelled stretch
_MIN_STRETCH = 0.9  # cm: the shortest labelled stretch, long enough to read as a straight piece of the edge


def column_x(nodes: list[FigureNode], edges: tuple[FigureEdge, ...]
             ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Columns far enough apart for the widest labels between them: where each column is, half the labelled
    stretch entering it, and how far right of it its nodes and the labels under them reach."""
    count = max(n.column for n in nodes) + 2
    half = [0.0] * count  # half the width of the widest node in each column
    for node in nodes:
        text = node.symbol.text if node.symbol else node.label.text
        own = _half_width(text)
        # a leaf's total hangs left from the name's right end: as far left as it is wider than half the name
        total = _label_width(node.total.text) - own if node.total and not node.symbol else 0.0
        # an op node's name and total are centred under its circle
        under = max(_label_width(t.text) / 2 for t in (node.label, node.total) if t) if node.symbol else 0.0
        half[node.column] = max(half[node.column], OP_RADIUS if node.symbol else 0.0, own, total, under)
    label = [0.0] * count  # the widest label on the edges entering each column
    by_id = {node.id: node for node in nodes}
    for edge in edges:
        target = by_id[edge.target].column if edge.target else by_id[edge.source].column + 1
        texts = [t.text for t in (edge.forward, edge.gradient) if t]
        label[target] = max([label[target]] + [_label_width(t) for t in texts])
    x = [0.0]
    for c in range(1, count):
        x.append(round(x[-1] + 2 * max(half[c - 1], half[c]) + 2 * _CONNECT + max(label[c], _MIN_STRETCH), 2))
    return tuple(x), tuple(round(max(w, _MIN_STRETCH) / 2, 2) for w in label), tuple(round(h, 2) for h in half)


def _half_width(text: str) -> float:
    """Half the width of a node's own text (a leaf's name, an op node's symbol), in cm."""
    return 0.1 * len(text) + 0.1


def _label_width(text: str) -> float:
    """The width of a \\scriptsize label with its padding, in cm."""
    return _CHAR * len(text) + 0.2


# Room above and below each kind of thing in a column, in cm at TikZ scale.
_EXTENT = {"op": (0.4, 0.75), "leaf": (0.25, 0.25), "const": (0.25, 0.25), "label": (0.35, 0.35),
           "bend": (0.1, 0.1)}
_TOTAL = 0.3  # the extra line under a node whose gradient is split over several edges
_MARGIN = 0.1


def extent(kind: str, total: bool) -> tuple[float, float]:
    up, down = _EXTENT[kind]
    return up, down + (_TOTAL if total else 0.0)


def _forward(derivation: Derivation, name: str) -> Label:
    if derivation.values is None:
        return _name(name)
    return number_label(derivation.values[name])


def _edge_gradient(derivation: Derivation, src: str, dst: str, readers: Mapping[str, tuple[str, ...]],
                   terms: Mapping) -> Label | None:
    """What flows back along ``src → dst``: ∂f/∂src when ``src`` has one reader, else this edge's share."""
    single = len(readers[src]) == 1
    if src in derivation.constants:
        return None  # data, not differentiated
    if derivation.values is not None:
        gradient = derivation.gradients[src]
        return number_label(gradient.value if single else {p.reader: p.value for p in gradient.parts}[dst])
    if single:
        return label_expr(Grad(derivation.output, src))
    term = terms[(dst, src)]
    local = _TEXT.parenthesize(term.local, PRECEDENCE["Mul"]).replace("**", "^").replace("*", "\u00b7")
    text = local if dst == derivation.output else f"{local}\u00b7{_TEXT.doprint(Grad(derivation.output, dst))}"
    return Label(text, label_latex(term.contribution))


def place_rows(places: Mapping[str, int], extents: Mapping[str, tuple[float, float]],
                edges: list[tuple[str, str, bool]]) -> dict:
    """Rows for every node and for every point of every edge's route (keyed ``(src, dst, 2·column)``).

    Sugiyama-style on a grid of half columns: nodes sit on whole columns, and each edge gets one route point on
    every half column it crosses, the last of which holds its labels. Sweeps left and right sort each column by
    the weighted mean row of its neighbours and place it as close to those means as the room each thing needs
    allows (isotonic regression). Deterministic: ties keep the previous order, which starts as the graph's.
    """
    neighbours: dict = {key: [] for key in places}
    grid: dict = {key: 2 * c for key, c in places.items()}
    room = dict(extents)
    for src, dst, labelled in edges:
        route = [(src, dst, x) for x in range(grid[src] + 1, grid[dst])]
        for key in route:
            grid[key], neighbours[key] = key[2], []
            room[key] = _EXTENT["label" if labelled and key is route[-1] else "bend"]
        chain = [src, *route, dst]
        for a, b in zip(chain, chain[1:]):
            weight = PULL if b == dst else 1  # labels stay near their target's row: edges arrive flat
            neighbours[a].append((b, weight))
            neighbours[b].append((a, weight))
    columns: dict[int, list] = {}
    for key in neighbours:
        columns.setdefault(grid[key], []).append(key)
    row = {key: float(i) for members in columns.values() for i, key in enumerate(members)}
    order = sorted(columns)
    for sweep in range(2 * SWEEPS):
        settled = sweep >= SWEEPS  # first find an order with few crossings, then straighten the edges
        for x in order if sweep % 2 == 0 else reversed(order):
            members = columns[x]
            target = {k: _mean(neighbours[k], row, row[k], settled) for k in members}
            if not settled:
                members.sort(key=lambda k: (target[k], row[k]))
            offsets = [0.0]
            for a, b in zip(members, members[1:]):
                offsets.append(offsets[-1] + room[a][1] + room[b][0] + _MARGIN)
            placed = _isotonic([target[k] - o for k, o in zip(members, offsets)])
            for k, z, o in zip(members, placed, offsets):
                row[k] = z + o
    top = min(row.values())
    return {k: round(r - top, 2) for k, r in row.items()}


def _mean(neighbours: list, row: Mapping, default: float, weighted: bool) -> float:
    weights = [w if weighted else 1 for _, w in neighbours]
    return sum(row[n] * w for (n, _), w in zip(neighbours, weights)) / sum(weights) if weights else default


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    return [total / count for total, count in blocks for _ in range(int(count))]


# --- where things go on the page --------------------------------------------------------------------------------

LANE = 0.3  # cm between the edges that run from one band to the next side by side
BAND_GAP = 1.9  # cm between the lowest row of one band of a wrapped graph and the highest row of the next
_CHANNEL = 1.2  # cm below a band's lowest row: where an edge runs back to the start of the next band
_ENTRY = 0.9  # cm: where a band's first column sits; an edge from the band above comes down left of it


class Geometry:
    """Where each point of a layout is drawn, in cm at TikZ scale: as the layout says, or, for a long graph
    wrapped into bands (``starts``: the first column of each band), each band below the previous one, starting
    at the left. ``h`` counts half columns: column c is h = 2c, the stretch after it h = 2c + 1."""

    def __init__(self, lay: Layout, starts: tuple[int, ...] = (0,)):
        self.lay, self.starts = lay, starts
        rows: dict[int, list[float]] = {b: [] for b in range(len(starts))}
        for node in lay.nodes:
            rows[self.band(2 * node.column)].append(node.row)
        columns = {node.id: node.column for node in lay.nodes}
        for edge in lay.edges:
            for h, row in zip(range(2 * columns[edge.source] + 1, 2 * _end(edge, columns)), edge.route):
                rows[self.band(h)].append(row)
        self.lanes = _lanes(lay, starts, columns)
        widest = max((len(crossing) for crossing in self.lanes.values()), default=1)
        self.entry = _ENTRY + LANE * (widest - 1)
        self.top = [min(rows[b], default=0.0) for b in rows]
        self.offset = [0.0]
        for b in range(1, len(starts)):
            lanes = max(len(self.lanes[b - 1]), 1)
            self.offset.append(self.offset[-1] + max(rows[b - 1], default=0.0) - self.top[b - 1] + BAND_GAP
                               + LANE * (lanes - 1))

    @property
    def wrapped(self) -> bool:
        return len(self.starts) > 1

    def band(self, h: int) -> int:
        return max(b for b, start in enumerate(self.starts) if 2 * start <= h or b == 0)

    def at(self, h: int, row: float) -> tuple[float, float]:
        b = self.band(h)
        x = self.lay.x
        here = x[h // 2] if h % 2 == 0 else (x[h // 2] + x[h // 2 + 1]) / 2
        if not self.wrapped:
            return here, row
        return round(here - x[self.starts[b]] + self.entry, 2), round(row - self.top[b] + self.offset[b], 2)

    def detour(self, band: int, edge: FigureEdge, leaving: tuple[float, float],
               arriving: tuple[float, float]) -> list[tuple]:
        """The corners of an edge that leaves ``band`` at ``leaving`` and enters the next band at ``arriving``:
        down below the band, back to its start, down to the row it enters on. Several edges leaving one band
        each take a lane of their own, nested so that they do not cross: the higher an edge leaves, the further
        right it goes down, the lower it runs back and the further right it comes down again."""
        crossing = self.lanes.get(band, ())
        lane = len(crossing) - 1 - crossing.index(edge) if edge in crossing else 0
        right = leaving[0]
        if len(crossing) > 1:  # all go down right of the labels on the band's last stretch
            cut = self.starts[band + 1]
            right = round(self.at(2 * cut - 1, 0.0)[0] + self.lay.stretch[cut] + LANE * lane, 2)
        channel = round(self.offset[band + 1] - BAND_GAP - LANE * (len(crossing) - 1) + _CHANNEL + LANE * lane, 2)
        entry = round(_ENTRY / 3 + LANE * lane, 2)
        to_lane = [(right, leaving[1])] if right != leaving[0] else []
        return to_lane + [(right, channel), (entry, channel), (entry, arriving[1])]


def _lanes(lay: Layout, starts: tuple[int, ...], columns: Mapping[str, int]) -> dict[int, tuple[FigureEdge, ...]]:
    """The edges leaving each band for the next one (by band), from the highest to the lowest where they leave."""
    out: dict[int, tuple[FigureEdge, ...]] = {}
    for band, cut in enumerate(starts[1:]):
        leaving = [(edge.route[2 * cut - 1 - (2 * columns[edge.source] + 1)], k, edge)
                   for k, edge in enumerate(lay.edges)
                   if columns[edge.source] < cut <= _end(edge, columns) - (0 if edge.target else 1)]
        out[band] = tuple(edge for _, _, edge in sorted(leaving, key=lambda item: item[:2]))
    return out


def _end(edge: FigureEdge, columns: Mapping[str, int]) -> int:
    """The column where the edge ends (the output's stub: the column after the output)."""
    return columns[edge.target] if edge.target else columns[edge.source] + 1


@dataclass(frozen=True)
class Drawn:
    """One edge as drawn: its corners (cm at TikZ scale) and where its labels sit (None: no labels)."""
    points: tuple[tuple[float, float], ...]
    stretch: tuple[int, int] | None  # the labels sit on the segment from points[i] to points[j]


def edge_points(geometry: Geometry, edge: FigureEdge) -> Drawn:
    """The corners of an edge from its source's centre to its target's centre (or the stub's end)."""
    lay = geometry.lay
    nodes = {node.id: node for node in lay.nodes}
    columns = {node.id: node.column for node in lay.nodes}
    start, end = nodes[edge.source], _end(edge, columns)
    points = [geometry.at(2 * start.column, start.row)]
    leave = lay.leave(edge, start, max(OP_RADIUS, _half_width(start.symbol.text))) if start.symbol else None
    if leave is not None:
        points.append((round(points[0][0] + leave, 2), points[0][1]))
    band = geometry.band(2 * start.column)
    stretch = None
    hs = list(range(2 * start.column + 1, 2 * end))
    for h, row in zip(hs, edge.route):
        here = geometry.at(h, row)
        if geometry.band(h) != band:
            points += geometry.detour(band, edge, points[-1], here)
            band = geometry.band(h)
        if h == hs[-1] and (edge.forward or edge.gradient):
            half = lay.stretch[end]
            stretch = (len(points), len(points) + 1)
            points += [(round(here[0] - half, 2), here[1]), (round(here[0] + half, 2), here[1])]
        else:
            points.append(here)
    target = geometry.at(2 * end, nodes[edge.target].row if edge.target else start.row)
    if geometry.band(2 * end) != band:
        points += geometry.detour(band, edge, points[-1], target)
    points.append(target)
    return Drawn(tuple(points), stretch)


# --- TikZ -------------------------------------------------------------------------------------------------------

LABEL_POINTS = {"small": 10.0, "footnotesize": 9.0, "scriptsize": 8.0}
"""The size in pt of each TikZ font of the figures in the 11 pt classes the templates use."""

_TIKZ_STYLES = (r"x=1cm, y=-1cm, >={Stealth[length=4pt]}, every node/.style={font=\small}, "
                r"op/.style={circle, draw, minimum size=7mm, inner sep=1pt}, "
                r"leaf/.style={inner sep=2pt}, const/.style={inner sep=2pt, font=\footnotesize}, "
                r"nodename/.style={font=\footnotesize}, total/.style={font=\scriptsize, text=red!80!black}, "
                r"fwd/.style={above, font=\scriptsize, inner sep=1.5pt}, "
                r"grad/.style={below, font=\scriptsize, inner sep=1.5pt, text=red!80!black}, "
                r"fresh/.style={font=\scriptsize\boldmath, fill=yellow!30, inner sep=1pt}, "
                r"freshedge/.style={very thick, draw=red!80!black}, "
                r"highlight/.style={fill=yellow!40, very thick}")


def to_tikz(lay: Layout, reveal: Mapping[str, int] | None = None, scale: float = 1.0,
            starts: tuple[int, ...] = (0,)) -> str:
    """A ``tikzpicture`` (needs `TIKZ_PREAMBLE`) drawn at ``scale`` (text included: every size printed is the
    font's size times the scale, which the caller chose to fit the page), wrapped into bands at ``starts``.

    ``reveal`` (Beamer only) maps a node's name to the overlay from which its gradient is shown; the node is
    highlighted on that overlay alone. Gradients of nodes not in ``reveal`` are shown on every overlay.
    """
    reveal = reveal or {}
    geometry = Geometry(lay, starts)
    out = [f"\\begin{{tikzpicture}}[scale={_num(scale)}, transform shape, {_TIKZ_STYLES}]"]
    for node in lay.nodes:
        options = ["op" if node.symbol else node.kind if node.kind == "const" else "leaf"]
        if node.highlight:
            options.append("highlight")
        if node.name in reveal:
            options.append(f"onslide=<{reveal[node.name]}>{{highlight}}")
        if node.symbol:
            options.append(f"label={{[nodename]below:{{${node.label.latex}$}}}}")
            style, place = "total, yshift=-9pt", "below"  # under the name
            text = f"${node.symbol.latex}$"
        else:
            style, place = "total, anchor=north east", "south east"  # under a leaf, clear of edges leaving east
            text = f"${node.label.latex}$"
        if node.total:
            hide = _hidden(node.name, node.gradient_shown, reveal)
            fresh = ", fresh" if node.fresh else ""
            options.append(f"label={{[{style}{fresh}{hide}]{place}:{{${node.total.latex}$}}}}")
        out.append(f"\\node[{', '.join(options)}] ({node.id}) at {tikz_point(*geometry.at(2 * node.column, node.row))} "
                   f"{{{text}}};")
    for edge in lay.edges:
        drawn = edge_points(geometry, edge)
        source = next(n for n in lay.nodes if n.id == edge.source)
        path = [f"({edge.source}{'' if source.symbol else '.east'})"]
        for i, point in enumerate(drawn.points[1:-1], 1):
            text = tikz_point(*point)
            if drawn.stretch and i == drawn.stretch[1]:
                labels = f"node[fwd] {{${edge.forward.latex}$}} " if edge.forward else ""
                if edge.gradient:
                    fresh = ", fresh" if edge.fresh else ""
                    hide = _hidden(edge.owner, edge.gradient_shown, reveal)
                    labels += f"node[grad{fresh}{hide}] {{${edge.gradient.latex}$}} "
                text = labels + text
            path.append(text)
        path.append(f"({edge.target})" if edge.target else tikz_point(*drawn.points[-1]))
        style = "->, rounded corners=6pt" + (", freshedge" if edge.fresh and edge.gradient_shown else "")
        out.append(f"\\draw[{style}] {' -- '.join(path)};")
    out.append("\\end{tikzpicture}")
    return "\n".join(out) + "\n"


def _hidden(owner: str, shown: bool, reveal: Mapping[str, int]) -> str:
    """Options hiding a gradient label (it keeps its room), or hiding it before its overlay (Beamer's
    ``\\uncover`` breaks TikZ paths)."""
    if not shown:
        return ", opacity=0, text opacity=0"
    slide = reveal.get(owner, 1)
    return f", onslide=<-{slide - 1}>{{opacity=0, text opacity=0}}" if slide > 1 else ""


def tikz_point(x: float, y: float) -> str:
    return f"({_num(x)}, {_num(y)})"


def _num(value: float) -> str:
    return f"{value:g}"
