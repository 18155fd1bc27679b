"""The computational graph of a `Derivation`, drawn as the study material draws it.

One pure function, `layout`, decides where everything goes: leaves and op nodes in columns from left to right
(an op node one column right of its rightmost input, a leaf one column left of its first reader), rows chosen to
keep edges short and straight, and every label already formatted. Two back ends draw that one description:
`to_dot`/`to_svg` (Graphviz) and `to_tikz` (pdflatex, with Beamer overlays).

Each edge ``src → dst`` carries the forward value of ``src`` (black, above) and the gradient that flows back along
it (red, below): ∂f/∂src when ``src`` feeds one node, otherwise that edge's share ∂f/∂dst · ∂dst/∂src, and the
node then shows its total ∂f/∂src (the sum of its edges) in red next to its name. The output gets a stub edge
carrying its value and the gradient 1.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Mapping

import sympy
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from .backward import Derivation
from .errors import DeriveError
from .files import SVG_MARK
from .notation import DerivePrinter, Grad, name_latex
from .render import MAX_FIGURE_NODES, drawable
from .rules import RULES

Kind = Literal["leaf", "op", "output", "const"]

SWEEPS = 12  # passes of each phase of the row placement; enough for the graphs the material draws
PULL = 3  # how much more an edge's labels are drawn to its target's row than to its source's
MAX_PLAIN_CHARS = 12  # exact numbers longer than this are shown with 4 significant digits
DOT_TIMEOUT = 60

TIKZ_PREAMBLE = r"""\usepackage{amsmath,amssymb}
\usepackage{tikz}
\usepackage{graphicx}
\usetikzlibrary{arrows.meta}
\tikzset{onslide/.code args={<#1>#2}{\only<#1>{\pgfkeysalso{#2}}}}
"""
"""What a document's preamble needs for `to_tikz` pictures (``onslide`` is used only with ``reveal``, in Beamer)."""


class ToolMissing(DeriveError):
    """An external program the figures need (Graphviz ``dot``) is not installed (exit 3)."""

    exit_code = 3


@dataclass(frozen=True)
class Label:
    text: str  # plain text (DOT, SVG)
    latex: str  # maths-mode LaTeX (TikZ)


@dataclass(frozen=True)
class FigureNode:
    id: str  # unique, safe in DOT and TikZ: n0, n1, … for graph nodes, k0, k1, … for constants
    name: str  # the graph node's name ('' for a constant)
    kind: Kind
    column: int
    row: float  # distance below the top, in cm at TikZ scale
    label: Label  # the name (a constant: its value)
    symbol: Label | None  # what the circle shows (op and output nodes)
    total: Label | None  # ∂f/∂node when it is split over several edges
    highlight: bool = False
    gradient_shown: bool = True  # False: the total keeps its room but is not drawn


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


@dataclass(frozen=True)
class Layout:
    nodes: tuple[FigureNode, ...]
    edges: tuple[FigureEdge, ...]
    x: tuple[float, ...]  # where each column is (the last one ends the output's stub), in cm at TikZ scale
    stretch: tuple[float, ...]  # half the length of the labelled stretch of the edges entering each column
    height: float  # the largest row + 1


# --- numbers and names ------------------------------------------------------------------------------------------

def number_text(value: sympy.Expr | int | float | Fraction) -> str:
    """A number as a figure prints it: ``-4``, ``0.72``, ``1/3`` when exact and short, else 4 significant digits."""
    value = sympy.Rational(value.numerator, value.denominator) if isinstance(value, Fraction) else sympy.sympify(value)
    if value.is_Rational:
        if value.is_Integer:
            text = str(int(value))
        else:
            q = int(value.q)
            while q % 2 == 0:
                q //= 2
            while q % 5 == 0:
                q //= 5
            text = _decimal(Fraction(int(value.p), int(value.q))) if q == 1 else f"{value.p}/{value.q}"
        if len(text) <= MAX_PLAIN_CHARS:
            return text
    return _four_digits(float(value))


def _decimal(value: Fraction) -> str:
    digits = 0
    while (value * 10 ** digits).denominator != 1:
        digits += 1
    scaled = abs(value.numerator * 10 ** digits // value.denominator)
    whole, frac = divmod(scaled, 10 ** digits)
    return ("-" if value < 0 else "") + f"{whole}.{frac:0{digits}d}"


def _four_digits(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


def number_latex(text: str) -> str:
    """`number_text`'s output in maths-mode LaTeX (``1/3`` → ``\\frac{1}{3}``, ``1e-05`` → ``1\\times 10^{-5}``)."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    if "/" in body:
        p, q = body.split("/")
        return sign + r"\frac{" + p + "}{" + q + "}"
    match = re.fullmatch(r"([\d.]+)e([+-])0*(\d+)", body)
    if match:
        mantissa, exp_sign, exponent = match.groups()
        return sign + mantissa + r"\times 10^{" + ("-" if exp_sign == "-" else "") + exponent + "}"
    return sign + body


def name_text(name: str) -> str:
    """A node name in plain text, as the material writes it (``y_`` → ``y'``)."""
    base = name.rstrip("_")
    return base + "'" * (len(name) - len(base)) if base else name


class _TextPrinter(StrPrinter):
    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return name_text(expr.name)

    def _print_Grad(self, expr: Grad) -> str:
        return f"\u2202{name_text(expr.output)}/\u2202{name_text(expr.node)}"


class _LatexPrinter(DerivePrinter):
    """The project's notation, with ∂f/∂x on one line so that labels stay short."""

    def __init__(self) -> None:
        super().__init__({"fold_short_frac": True})

    def _print_Grad(self, expr: Grad) -> str:
        return r"\partial " + name_latex(expr.output) + r"/\partial " + name_latex(expr.node)


_TEXT = _TextPrinter()
_LATEX = _LatexPrinter()

_SYMBOL_LATEX = {"+": "+", "=": "=", "\u03a3": r"\Sigma", "\u2212": "-", "\u00d7": r"\times", "\u00f7": r"\div",
                 "**": r"{\ast}{\ast}", "\u221a": r"\surd", "\u03c3": r"\sigma", "exp": r"\exp", "log": r"\log",
                 "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh"}


def _symbol(op: str) -> Label:
    text = RULES[op].symbol
    return Label(text, _SYMBOL_LATEX.get(text, r"\mathrm{" + text + "}"))


def _number(value: sympy.Expr) -> Label:
    text = number_text(value)
    return Label(text, number_latex(text))


def _name(name: str) -> Label:
    return Label(name_text(name), name_latex(name))


def _expr(expr: sympy.Expr) -> Label:
    return Label(_TEXT.doprint(expr), _LATEX.doprint(expr))


# --- layout -----------------------------------------------------------------------------------------------------

def layout(derivation: Derivation, highlight: str | None = None,
           shown_gradients: set[str] | None = None) -> Layout:
    """Where every node and label of the graph figure goes; ``shown_gradients`` (default: all) limits the red
    labels to the gradients of those nodes, ``highlight`` marks the node being processed. Positions do not depend
    on either, so a sequence of figures (one per backward step) never moves."""
    graph, out = derivation.graph, derivation.output
    readers = graph.consumers()
    shown = (lambda name: True) if shown_gradients is None else (lambda name: name in shown_gradients)
    terms = {(step.node, term.input): term for step in derivation.steps for term in step.terms}

    column: dict[str, int] = {}
    for node in graph.nodes:
        if node.op != "leaf":
            column[node.name] = 1 + max((column.get(i, 0) for i in node.inputs), default=0)
    for node in graph.nodes:  # a leaf sits just left of its first reader, as the material draws b and y'
        if node.op == "leaf":
            column[node.name] = min((column[r] for r in readers[node.name]), default=1) - 1

    ids = {node.name: f"n{i}" for i, node in enumerate(graph.nodes)}
    places = {ids[n]: c for n, c in column.items()}
    extents = {ids[n.name]: _extent("leaf" if n.op == "leaf" else "op", len(readers[n.name]) > 1)
               for n in graph.nodes}
    raw: list[tuple[str, str | None, str, Label | None, Label | None]] = []
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
                constants[const] = _number(arg)
                places[const], extents[const] = column[node.name] - 1, _extent("const", False)
                raw.append((const, ids[node.name], "", None, None))
    raw.append((ids[out], None, out, _forward(derivation, out), _number(sympy.S.One)))

    rows = _place_rows(places, extents, [(s, t, f is not None) for s, t, _, f, _ in raw if t is not None])
    rows[(ids[out], None, 2 * column[out] + 1)] = rows[ids[out]]
    nodes = []
    for node in graph.nodes:
        kind: Kind = "output" if node.name == out else "leaf" if node.op == "leaf" else "op"
        total = None
        if len(readers[node.name]) > 1:
            gradient = derivation.gradients[node.name]
            total = _number(gradient.value) if derivation.values is not None else _expr(Grad(out, node.name))
        nodes.append(FigureNode(ids[node.name], node.name, kind, column[node.name], rows[ids[node.name]],
                                _name(node.name), None if node.op == "leaf" else _symbol(node.op), total,
                                node.name == highlight, shown(node.name)))
    nodes += [FigureNode(k, "", "const", places[k], rows[k], label, None, None) for k, label in constants.items()]
    edges = tuple(FigureEdge(s, t, owner, fwd, grad, tuple(
        rows[(s, t, x)] for x in range(2 * places[s] + 1, 2 * places[t] if t else 2 * places[s] + 2)),
        shown(owner)) for s, t, owner, fwd, grad in raw)
    x, stretch = _column_x(nodes, edges)
    return Layout(tuple(nodes), edges, x, stretch, max(rows.values()) + 1)


_CHAR = 0.13  # cm per character of a \scriptsize label (digits are 0.12 cm; ∂ and subscripts vary)
_CONNECT = 0.3  # cm of edge at least between a node and a labelled stretch
_MIN_STRETCH = 0.9  # cm: the shortest labelled stretch, long enough to read as a straight piece of the edge


def _column_x(nodes: list[FigureNode], edges: tuple[FigureEdge, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Columns far enough apart for the widest labels between them."""
    count = max(n.column for n in nodes) + 2
    half = [0.0] * count  # half the width of the widest node in each column
    for node in nodes:
        text = node.symbol.text if node.symbol else node.label.text
        half[node.column] = max(half[node.column], 0.35 if node.symbol else 0.0, 0.1 * len(text) + 0.1)
    label = [0.0] * count  # the widest label on the edges entering each column
    by_id = {node.id: node for node in nodes}
    for edge in edges:
        target = by_id[edge.target].column if edge.target else by_id[edge.source].column + 1
        texts = [t.text for t in (edge.forward, edge.gradient) if t]
        label[target] = max([label[target]] + [_CHAR * len(t) + 0.2 for t in texts])
    x = [0.0]
    for c in range(1, count):
        x.append(round(x[-1] + 2 * max(half[c - 1], half[c]) + 2 * _CONNECT + max(label[c], _MIN_STRETCH), 2))
    return tuple(x), tuple(round(max(w, _MIN_STRETCH) / 2, 2) for w in label)


# Room above and below each kind of thing in a column, in cm at TikZ scale.
_EXTENT = {"op": (0.4, 0.75), "leaf": (0.25, 0.25), "const": (0.25, 0.25), "label": (0.35, 0.35),
           "bend": (0.1, 0.1)}
_TOTAL = 0.3  # the extra line under a node whose gradient is split over several edges
_MARGIN = 0.1


def _extent(kind: str, total: bool) -> tuple[float, float]:
    up, down = _EXTENT[kind]
    return up, down + (_TOTAL if total else 0.0)


def _forward(derivation: Derivation, name: str) -> Label:
    if derivation.values is None:
        return _name(name)
    return _number(derivation.values[name])


def _edge_gradient(derivation: Derivation, src: str, dst: str, readers: Mapping[str, tuple[str, ...]],
                   terms: Mapping) -> Label:
    """What flows back along ``src → dst``: ∂f/∂src when ``src`` has one reader, else this edge's share."""
    single = len(readers[src]) == 1
    if derivation.values is not None:
        gradient = derivation.gradients[src]
        return _number(gradient.value if single else dict(gradient.parts)[dst])
    if single:
        return _expr(Grad(derivation.output, src))
    term = terms[(dst, src)]
    local = _TEXT.parenthesize(term.local, PRECEDENCE["Mul"]).replace("**", "^").replace("*", "\u00b7")
    text = local if dst == derivation.output else f"{local}\u00b7{_TEXT.doprint(Grad(derivation.output, dst))}"
    return Label(text, _LATEX.doprint(term.contribution))


def _place_rows(places: Mapping[str, int], extents: Mapping[str, tuple[float, float]],
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


# --- Graphviz ---------------------------------------------------------------------------------------------------

_FONT = "Helvetica"
_RED = "#d62728"
_HIGHLIGHT = "#ffe680"


def to_dot(lay: Layout) -> str:
    """Graphviz source on the layout's grid (ranks are half columns, kept in the layout's row order); each labelled
    edge runs through a small label block whose middle line continues the edge, so the forward value is always
    above the line and the gradient (red) below it. An op node's name is a node of its own just under it."""
    lines = ["digraph derivation {",
             f'  graph [rankdir=LR, nodesep=0.1, ranksep=0.12, fontname="{_FONT}"];',
             f'  node [fontname="{_FONT}", fontsize=14, shape=plaintext, margin=0, width=0, height=0];',
             '  edge [arrowsize=0.6];']
    ranks: dict[int, list[tuple[float, int, str]]] = {}
    by_id = {node.id: node for node in lay.nodes}
    for node in lay.nodes:
        name = f"<I>{html.escape(node.label.text)}</I>" if node.kind != "const" else html.escape(node.label.text)
        if node.total:
            color = _RED if node.gradient_shown else "transparent"
            name += f'<BR/><FONT COLOR="{color}" POINT-SIZE="11">{html.escape(node.total.text)}</FONT>'
        fill = f', style=filled, fillcolor="{_HIGHLIGHT}"' if node.highlight else ""
        ranks.setdefault(2 * node.column, []).append((node.row, 0, node.id))
        if node.symbol is None:
            lines.append(f"  {node.id} [label=<{name}>{fill}];")
            continue
        size, width = (11, 0.2 + 0.1 * len(node.symbol.text)) if len(node.symbol.text) > 1 else (16, 0.42)
        lines.append(f'  {node.id} [shape=circle, fixedsize=true, width={width:.2f}, fontsize={size}, '
                     f'label="{html.escape(node.symbol.text)}"{fill}{", penwidth=2" if node.highlight else ""}];')
        lines.append(f"  {node.id}_name [fontsize=12, label=<{name}>];")
        lines.append(f"  {node.id} -> {node.id}_name [style=invis, weight=50];")
        ranks[2 * node.column].append((node.row, 1, f"{node.id}_name"))
    for i, edge in enumerate(lay.edges):
        start = by_id[edge.source]
        target, x = edge.target, 2 * start.column + len(edge.route)
        if target is None:
            target = f"end{i}"
            lines.append(f"  {target} [shape=point, width=0.01, style=invis];")
            ranks.setdefault(x + 1, []).append((start.row, 0, target))
        if edge.forward is None and edge.gradient is None:
            lines.append(f"  {edge.source} -> {target} [minlen={x + 1 - 2 * start.column}];")
            continue
        lines.append(f"  e{i} [label=<{_dot_block(edge)}>];")
        lines.append(f"  {edge.source} -> e{i}:m:w [arrowhead=none, minlen={x - 2 * start.column}];")
        lines.append(f"  e{i}:m:e -> {target};")
        ranks.setdefault(x, []).append((edge.route[-1], 0, f"e{i}"))
    for x in sorted(ranks):
        members = [name for *_, name in sorted(ranks[x])]
        lines.append("  { rank=same; " + " ".join(m + ";" for m in members) + " }")
        lines += [f"  {a} -> {b} [style=invis];" for a, b in zip(members, members[1:]) if b != f"{a}_name"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_block(edge: FigureEdge) -> str:
    forward = html.escape(edge.forward.text) if edge.forward else "&#160;"
    color = _RED if edge.gradient_shown else "transparent"  # hidden text keeps its room: nothing moves
    gradient = f'<FONT COLOR="{color}">{html.escape(edge.gradient.text)}</FONT>' if edge.gradient else "&#160;"
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'<TR><TD><FONT POINT-SIZE="11">{forward}</FONT></TD></TR>'
            '<TR><TD PORT="m" SIDES="B" BORDER="1" HEIGHT="1" WIDTH="36"></TD></TR>'
            f'<TR><TD><FONT POINT-SIZE="11">{gradient}</FONT></TD></TR></TABLE>')


def to_svg(lay: Layout) -> str:
    """SVG from the real Graphviz ``dot``; its version comment becomes derive's mark (`derive.files.SVG_MARK`: ``-o``
    replaces only an SVG carrying it), so that the output is reproducible."""
    dot = shutil.which("dot")
    if dot is None:
        raise ToolMissing("drawing the graph needs Graphviz: the program 'dot' was not found on PATH "
                          "(install the 'graphviz' package)")
    result = subprocess.run([dot, "-Tsvg"], input=to_dot(lay).encode("utf-8"), capture_output=True,
                            timeout=DOT_TIMEOUT, check=False)
    if result.returncode != 0:
        raise DeriveError(f"dot failed: {result.stderr.decode('utf-8', 'replace').strip()[:500]}")
    svg = result.stdout.decode("utf-8")
    return re.sub(r"<!-- Generated by graphviz[^>]*-->\n", SVG_MARK + "\n", svg)  # the version would vary


def svg_for(derivation: Derivation) -> str:
    """The whole graph with every value and gradient, as SVG (for ``_repr_svg_``)."""
    if not drawable(derivation):
        raise DeriveError(f"the graph has {len(derivation.graph.nodes)} nodes; graphs are drawn up to "
                          f"{MAX_FIGURE_NODES} nodes")
    return to_svg(layout(derivation))


# --- TikZ -------------------------------------------------------------------------------------------------------

_TIKZ_STYLES = (r"x=1cm, y=-1cm, >={Stealth[length=4pt]}, every node/.style={font=\small}, "
                r"op/.style={circle, draw, minimum size=7mm, inner sep=1pt}, "
                r"leaf/.style={inner sep=2pt}, const/.style={inner sep=2pt, font=\footnotesize}, "
                r"nodename/.style={font=\footnotesize}, total/.style={font=\scriptsize, text=red!80!black}, "
                r"fwd/.style={above, font=\scriptsize, inner sep=1.5pt}, "
                r"grad/.style={below, font=\scriptsize, inner sep=1.5pt, text=red!80!black}, "
                r"highlight/.style={fill=yellow!40, very thick}")


def to_tikz(lay: Layout, reveal: Mapping[str, int] | None = None) -> str:
    """A ``tikzpicture`` (needs `TIKZ_PREAMBLE`), shrunk with ``\\resizebox`` to ``\\linewidth`` when wider.

    ``reveal`` (Beamer only) maps a node's name to the overlay from which its gradient is shown; the node is
    highlighted on that overlay alone. Gradients of nodes not in ``reveal`` are shown on every overlay.
    """
    reveal = reveal or {}
    ids = {node.id: node for node in lay.nodes}
    out = ["\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",
           f"\\begin{{tikzpicture}}[{_TIKZ_STYLES}]"]
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
            options.append(f"label={{[{style}{hide}]{place}:{{${node.total.latex}$}}}}")
        out.append(f"\\node[{', '.join(options)}] ({node.id}) at {_point(lay.x[node.column], node.row)} {{{text}}};")
    for edge in lay.edges:
        start = ids[edge.source]
        end = ids[edge.target].column if edge.target else start.column + 1
        xs = [lay.x[c // 2] if c % 2 == 0 else (lay.x[c // 2] + lay.x[c // 2 + 1]) / 2
              for c in range(2 * start.column + 1, 2 * end)]
        path = [f"({edge.source}{'' if start.symbol else '.east'})"] + [_point(x, r) for x, r in
                                                                         zip(xs, edge.route[:-1])]
        x, r = xs[-1], edge.route[-1]
        if edge.forward or edge.gradient:
            labels = f"node[fwd] {{${edge.forward.latex}$}} " if edge.forward else ""
            if edge.gradient:
                labels += f"node[grad{_hidden(edge.owner, edge.gradient_shown, reveal)}] {{${edge.gradient.latex}$}} "
            half = lay.stretch[end]
            path += [_point(x - half, r), labels + _point(x + half, r)]
        else:
            path.append(_point(x, r))
        path.append(f"({edge.target})" if edge.target else _point(lay.x[end], start.row))
        out.append(f"\\draw[->, rounded corners=6pt] {' -- '.join(path)};")
    out += ["\\end{tikzpicture}}"]
    return "\n".join(out) + "\n"


def _hidden(owner: str, shown: bool, reveal: Mapping[str, int]) -> str:
    """Options hiding a gradient label (it keeps its room), or hiding it before its overlay (Beamer's
    ``\\uncover`` breaks TikZ paths)."""
    if not shown:
        return ", opacity=0, text opacity=0"
    slide = reveal.get(owner, 1)
    return f", onslide=<-{slide - 1}>{{opacity=0, text opacity=0}}" if slide > 1 else ""


def _point(x: float, y: float) -> str:
    return f"({_num(x)}, {_num(y)})"


def _num(value: float) -> str:
    return f"{value:g}"
