"""The graph figures: one layout, drawn as SVG in Python and by TikZ (pdflatex, checked with the real tool)."""
from __future__ import annotations

import re
import subprocess
from collections import Counter
import xml.etree.ElementTree as ET
from dataclasses import FrozenInstanceError
from fractions import Fraction

import pytest
import sympy

from conftest import require_tool
from derive import files
from derive.present import figure_svg, figures
from derive.present.block_figure import block_layout
from derive.backward import derive
from derive.parse import parse_program
from derive.scenarios import build as build_scenario
from derive.notation import label_latex, name_latex

LINEAR = "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"
POINT = {"x": 2, "w": 3, "b": 1, "y_": 5}
VALUES = {"x": 2, "w": 3, "b": 1, "y_": 5, "p": 6, "y": 7, "s": -7, "t": -2, "f": 4}
GRADIENTS = {"f": 1, "t": -4, "y_": -4, "s": -4, "y": 4, "p": 4, "b": 4, "w": 8, "x": 12}
NETWORK = ("z1 = w11*x1 + w12*x2 + b1; z2 = w21*x1 + w22*x2 + b2; a1 = sigmoid(z1); a2 = sigmoid(z2); "
           "z3 = v1*a1 + v2*a2 + c; a3 = sigmoid(z3); e = a3 - t; f = 0.5*e*e")
NETWORK_POINT = {"x1": "1", "x2": "1/2", "w11": "1/10", "w12": "-1/5", "w21": "3/10", "w22": "2/5", "b1": "1/20",
                 "b2": "1/10", "v1": "1/2", "v2": "-3/5", "c": "1/5", "t": "1"}


def _derivation(program: str = LINEAR, point: dict | None = None, symbolic: bool = False):
    point = POINT if point is None else point
    values = None if symbolic else {k: sympy.Rational(v) for k, v in point.items()}
    return derive(parse_program(program), values)


@pytest.fixture(scope="module")
def linear():
    return _derivation()


def _compile(tmp_path, body: str, cls: str = r"\documentclass{article}") -> None:
    pdflatex = require_tool("pdflatex")
    (tmp_path / "figure.tex").write_text(
        cls + "\n" + figures.TIKZ_PREAMBLE + "\\begin{document}\n" + body + "\\end{document}\n", encoding="utf-8")
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "figure.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "figure.pdf").stat().st_size > 0


# --- numbers ----------------------------------------------------------------------------------------------------

def test_figures_print_numbers_by_the_one_rule():
    """Figures have no number format of their own: the labels are `derive.notation.number_text`."""
    from derive import notation
    assert figures.number_text is notation.number_text
    assert figures.text_latex is notation.text_latex


# --- layout -----------------------------------------------------------------------------------------------------

def test_layout_columns_and_labels(linear):
    lay = figures.layout(linear)
    by_name = {n.name: n for n in lay.nodes}
    assert {n: by_name[n].column for n in ("w", "x", "p", "b", "y", "s", "y_", "t", "f")} == {
        "w": 0, "x": 0, "p": 1, "b": 1, "y": 2, "s": 3, "y_": 3, "t": 4, "f": 5}
    assert [by_name[n].kind for n in ("w", "p", "f")] == ["leaf", "op", "output"]
    assert [by_name[n].symbol.text for n in ("p", "y", "s", "t", "f")] == ["\u00d7", "+", "\u2212", "+", "\u00d7"]
    names = {n.id: n.name for n in lay.nodes}
    edges = {(names[e.source], names.get(e.target)): (e.forward.text, e.gradient.text) for e in lay.edges}
    assert edges == {
        ("w", "p"): ("3", "8"), ("x", "p"): ("2", "12"), ("p", "y"): ("6", "4"), ("b", "y"): ("1", "4"),
        ("y", "s"): ("7", "4"), ("s", "t"): ("-7", "-4"), ("y_", "t"): ("5", "-4"), ("t", "f"): ("-2", "-4"),
        ("f", None): ("4", "1")}
    assert all(a.row + 0.5 <= b.row or b.row + 0.5 <= a.row
               for a in lay.nodes for b in lay.nodes if a is not b and a.column == b.column)
    with pytest.raises(FrozenInstanceError):
        lay.nodes[0].row = 3  # type: ignore[misc]


@pytest.mark.parametrize("program, point", [(LINEAR, POINT), (NETWORK, NETWORK_POINT)])
def test_layout_highlight_and_partial_gradients_keep_positions(program, point):
    d = _derivation(program, point)
    full = figures.layout(d)
    partial = figures.layout(d, highlight="f", shown_gradients={"f"})
    assert [(n.column, n.row) for n in full.nodes] == [(n.column, n.row) for n in partial.nodes]
    assert (full.x, full.stretch) == (partial.x, partial.stretch)
    assert [e.route for e in full.edges] == [e.route for e in partial.edges]
    assert [n.name for n in partial.nodes if n.highlight] == ["f"]
    assert {e.owner for e in partial.edges if e.gradient_shown} == {"f"}
    assert all(e.forward is not None and e.gradient is not None for e in partial.edges if e.owner)
    assert not any(n.gradient_shown for n in partial.nodes if n.total and n.name != "f")
    assert [n.total for n in full.nodes] == [n.total for n in partial.nodes]
    assert "opacity=0, text opacity=0" in figures.to_tikz(partial)
    assert 'visibility="hidden"' in figure_svg.to_svg(partial)


def test_rows_are_placed_once_per_derivation_and_each_figure_is_what_a_fresh_layout_gives(monkeypatch):
    """A Beamer deck draws the graph once per backward step in two languages: the placement (the costly part) runs
    once per derivation; every state still equals a layout computed from scratch."""
    d = _derivation(NETWORK, NETWORK_POINT)
    states = [(None, None)] + [(step.node, {step.node, d.output}) for step in d.steps] + [(None, set())]
    fresh = []
    for highlight, shown in states:
        figures._PLACED.clear()
        fresh.append(figures.layout(d, highlight=highlight, shown_gradients=shown))
    figures._PLACED.clear()
    calls = []
    place_rows = figures.place_rows
    monkeypatch.setattr(figures, "place_rows", lambda *a: calls.append(1) or place_rows(*a))
    again = [figures.layout(d, highlight=h, shown_gradients=s) for h, s in states * 2]
    assert again == fresh * 2
    assert len(calls) == 1
    figures.layout(_derivation(NETWORK, NETWORK_POINT))  # another derivation object: placed anew
    assert len(calls) == 2


def test_fan_out_edges_carry_their_share_and_the_node_its_total():
    d = _derivation("f = x*y + x", {"x": 3, "y": 2})  # ∂f/∂x = y + 1 = 3: 2 along x → u1, 1 along x → f
    lay = figures.layout(d)
    names = {n.id: n.name for n in lay.nodes}
    shares = {names[e.target]: e.gradient.text for e in lay.edges if names[e.source] == "x"}
    assert shares == {"u1": "2", "f": "1"}
    assert next(n for n in lay.nodes if n.name == "x").total.text == "3"


def test_constants_are_drawn_without_gradients():
    lay = figures.layout(_derivation("f = 3*x**2", {"x": 1}))
    constants = [n for n in lay.nodes if n.kind == "const"]
    assert sorted(n.label.text for n in constants) == ["2", "3"]
    ids = {n.id for n in constants}
    assert all(e.forward is None and e.gradient is None for e in lay.edges if e.source in ids)


def test_symbolic_labels_use_names(linear):
    lay = figures.layout(_derivation(symbolic=True))
    texts = {e.forward.text for e in lay.edges} | {e.gradient.text for e in lay.edges}
    assert {"y'", "t", "\u2202f/\u2202y'", "\u2202f/\u2202w", "1"} <= texts
    tikz = figures.to_tikz(lay)
    assert r"\partial f/\partial y'" in tikz and "$y'$" in tikz


# --- SVG --------------------------------------------------------------------------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg.encode("utf-8")).iter(SVG_NS + "text"))


def _labels(lay: figures.Layout) -> list[figures.Label]:
    labels = []
    for node in lay.nodes:
        labels += [label for label in (node.label, node.symbol, node.total) if label is not None]
    for edge in lay.edges:
        labels += [label for label in (edge.forward, edge.gradient) if label is not None]
    return labels


def _typeset(plain: str) -> str:
    """A layout label's plain text as the figure prints it: a real minus sign and a real prime."""
    return plain.replace("-", "\u2212").replace("'", "\u2032")


def test_svg_has_one_text_per_label_with_every_value_and_gradient(linear):
    svg = figure_svg.svg_for(linear)
    assert svg.startswith(files.SVG_MARK + "\n<svg ")
    texts = _texts(svg)
    shown = Counter("".join(t.itertext()) for t in texts)
    assert shown == Counter(_typeset(label.text) for label in _labels(figures.layout(linear)))
    red = ["".join(t.itertext()) for t in texts if t.get("fill") == figure_svg.RED]
    assert Counter(red) == Counter(_typeset(str(g)) for g in GRADIENTS.values())  # one edge leaves each node
    black = Counter("".join(t.itertext()) for t in texts if t.get("fill") is None)
    for name, value in VALUES.items():
        assert black[_typeset(str(value))] >= 1, name
    for name in ("w", "x", "p", "b", "y", "s", "y\u2032", "t", "f"):
        assert black[name] == 1
    italic = [t for t in texts if "".join(t.itertext()) == "y\u2032"][0]
    assert italic.find(SVG_NS + "tspan").get("font-style") == "italic"


def test_svg_looks_after_readers_and_pages(linear):
    root = ET.fromstring(figure_svg.svg_for(linear).encode("utf-8"))
    assert root.get("role") == "img" and root.get("aria-label").startswith("Computational graph of f")
    assert root.find(SVG_NS + "title").text == root.get("aria-label")
    left, top, width, height = map(float, root.get("viewBox").split())
    assert (float(root.get("width")), float(root.get("height"))) == (width, height)
    assert "max-width: 100%" in root.get("style")


def test_indices_are_raised_and_lowered():
    svg = figure_svg.svg_for(build_scenario("delta-recurrence").derivation)
    (text,) = [t for t in _texts(svg) if "".join(t.itertext()) == "a21"]  # a^{2}_{1}
    base, sup, sub = text.findall(SVG_NS + "tspan")
    assert (base.text, base.get("font-style")) == ("a", "italic")
    size = float(text.get("font-size"))
    assert sup.text == "2" and float(sup.get("dy")) < 0 and float(sup.get("font-size")) < size
    assert sub.text == "1" and float(sub.get("dy")) > 0 and float(sub.get("font-size")) < size
    assert float(sub.get("dx")) < 0  # stacked under the superscript, as TeX sets a^2_1


def test_svg_is_byte_identical_and_needs_no_graphviz(linear, monkeypatch):
    first = figure_svg.svg_for(linear)
    monkeypatch.setenv("PATH", "")  # no dot, no fonts tools: nothing outside Python is used
    assert figure_svg.svg_for(_derivation()) == first
    assert not hasattr(figures, "to_dot")


def test_show_writes_the_figure_without_graphviz(tmp_path, monkeypatch):
    from derive.cli import main
    monkeypatch.setenv("PATH", "")
    assert main(["show", "toast", "-o", str(tmp_path / "notes.md")]) == 0
    svg = (tmp_path / "notes.svg").read_text(encoding="utf-8")
    assert svg.startswith(files.SVG_MARK) and "](notes.svg)" in (tmp_path / "notes.md").read_text("utf-8")


def test_hidden_gradients_keep_their_text_and_room(linear):
    partial = figures.layout(linear, highlight="t", shown_gradients={"f", "t"})
    texts = _texts(figure_svg.to_svg(partial))
    assert len(texts) == len(_labels(partial))
    hidden = [t for t in texts if t.get("visibility") == "hidden"]
    assert {t.get("fill") for t in hidden} == {figure_svg.RED}
    assert len(hidden) == sum(not e.gradient_shown for e in partial.edges if e.gradient)
    assert figure_svg.draw(partial).view == figure_svg.draw(figures.layout(linear)).view


def _overlaps(a: tuple, b: tuple, gap: float = 0.0) -> bool:
    return a[0] < b[2] - gap and b[0] < a[2] - gap and a[1] < b[3] - gap and b[1] < a[3] - gap


def _drawings() -> list:
    from derive.present.render import drawable
    from derive.scenarios import SCENARIOS
    derivations = [build_scenario(name).derivation for name in SCENARIOS]
    derivations += [_derivation(NETWORK, NETWORK_POINT), _derivation(NETWORK, symbolic=True),
                    _derivation(symbolic=True)]
    vectors = [block_layout(d) for d in derivations]  # a batch's graph in vector form too
    return [figure_svg.draw(figures.layout(d)) for d in derivations if drawable(d)] + [
        figure_svg.draw(lay) for lay in vectors if lay is not None]


@pytest.fixture(scope="module")
def drawings():
    return _drawings()


def test_no_label_overlaps_another_or_a_node(drawings):
    for drawing in drawings:
        boxes = [t.box() for t in drawing.texts]
        clashes = [(drawing.texts[i].runs, drawing.texts[j].runs) for i, a in enumerate(boxes)
                   for j, b in enumerate(boxes[:i]) if _overlaps(a, b)]
        assert not clashes, (drawing.title, clashes[:3])
        for circle in drawing.circles:
            inside = [t for t in drawing.texts if abs(t.x - circle.cx) < 0.01 and
                      t.box()[1] < circle.cy < t.box()[3]]  # the node's own symbol
            square = (circle.cx - circle.r, circle.cy - circle.r, circle.cx + circle.r, circle.cy + circle.r)
            others = [t.runs for t in drawing.texts if t not in inside and _overlaps(t.box(), square, 1.0)]
            assert len(inside) == 1 and not others, (drawing.title, others[:3])


def test_no_edge_crosses_a_label(drawings):
    """Every straight piece of every drawn edge, sampled, stays out of every text's box (a fan-out's total
    under one node is not run through by an edge rising from the node below it)."""
    for drawing in drawings:
        for path in drawing.paths:
            for (x0, y0), (x1, y1) in zip(path, path[1:]):
                samples = [(x0 + (x1 - x0) * k / 60, y0 + (y1 - y0) * k / 60) for k in range(61)]
                crossed = [figure_svg.mathtext.plain(t.runs) for t in drawing.texts
                           if any(_overlaps(t.box(), (x, y, x, y), 1.0) for x, y in samples)]
                assert not crossed, (drawing.title, crossed, path)


def test_every_label_is_read_without_guessing(drawings):
    for program, point in ((LINEAR, POINT), (NETWORK, NETWORK_POINT)):
        for symbolic in (False, True):
            for label in _labels(figures.layout(_derivation(program, point, symbolic))):
                figure_svg.mathtext.read(label.latex, strict=True)
    from derive.scenarios import SCENARIOS
    for name in SCENARIOS:
        for label in _labels(figures.layout(build_scenario(name).derivation)):
            figure_svg.mathtext.read(label.latex, strict=True)


@pytest.mark.parametrize("latex, text, italic", [
    ("-4", "\u22124", ""), (r"\frac{1}{3}", "1/3", ""), (r"2.835\times 10^{-6}", "2.835\u00d710\u22126", ""),
    (r"\partial f/\partial y'", "\u2202f/\u2202y\u2032", "fy"), (r"\sigma\left(z\right)", "\u03c3(z)", "\u03c3z"),
    (r"\frac{x + 1}{y}", "(x+1)/y", "xy"), (r"\mathrm{softmax}", "softmax", ""), (r"e^{x}", "ex", "ex"),
    (r"\log{\left(a_{1} \right)}", "log(a1)", "a"), (r"{\ast}{\ast}", "\u2217\u2217", ""),
])
def test_labels_read_as_maths(latex, text, italic):
    runs = figure_svg.mathtext.read(latex, strict=True)
    assert figure_svg.mathtext.plain(runs) == text
    assert "".join(run.text for run in runs if run.italic) == italic


def test_unknown_commands_are_drawn_by_name_or_refused():
    assert figure_svg.mathtext.plain(figure_svg.mathtext.read(r"\nabla x")) == "nablax"
    with pytest.raises(ValueError, match="nabla"):
        figure_svg.mathtext.read(r"\nabla x", strict=True)


@pytest.mark.parametrize("scenario", ["toast", "softmax-cross-entropy"])
def test_browser_draws_every_label_inside_its_box(tmp_path, scenario):
    """Headless Chromium draws the file at its natural size: red ink (gradients) lies only inside the boxes the
    writer computed for red labels, and every label has ink in its box."""
    from test_html import chromium, decode_png
    binary = require_tool("chromium")
    drawing = figure_svg.draw(figures.layout(build_scenario(scenario).derivation))
    (tmp_path / "graph.svg").write_text(figure_svg.write(drawing), encoding="utf-8")
    left, top, width, height = drawing.view
    image = decode_png(chromium(binary, (tmp_path / "graph.svg").as_uri(), screenshot=tmp_path / "shot.png",
                                size=(int(width) + 40, int(height) + 40))).astype(int)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    red, ink = (r - g > 80) & (r - b > 80), (r + g + b) < 600

    def pixels(box, pad):
        x0, y0, x1, y1 = box
        return (slice(max(0, int(y0 - top - pad)), int(y1 - top + pad) + 1),
                slice(max(0, int(x0 - left - pad)), int(x1 - left + pad) + 1))

    allowed = red & False
    for text in drawing.texts:
        rows, cols = pixels(text.box(), 2)
        assert ink[rows, cols].any(), figure_svg.mathtext.plain(text.runs)
        if text.red:
            allowed[rows, cols] = True
    assert red.any() and not (red & ~allowed).any(), "red ink outside the red labels' boxes"


def test_large_network_svg():
    d = _derivation(NETWORK, NETWORK_POINT)
    svg = figure_svg.svg_for(d)
    shown = {"".join(t.itertext()) for t in _texts(svg)}
    assert {"a1", "a2", "a3", "z3", "w22"} <= shown
    assert figures.number_text(d.values["f"]) in shown


# --- TikZ -------------------------------------------------------------------------------------------------------

def test_tikz_shows_every_value_and_gradient(linear):
    tikz = figures.to_tikz(figures.layout(linear))
    for value in VALUES.values():
        assert f"node[fwd] {{${value}$}}" in tikz
    for value in GRADIENTS.values():
        assert f"node[grad] {{${value}$}}" in tikz
    assert tikz == figures.to_tikz(figures.layout(_derivation()))
    assert "\\resizebox" not in tikz and tikz.startswith("\\begin{tikzpicture}[scale=1, transform shape,")


def test_tikz_compiles_with_pdflatex(tmp_path, linear):
    tikz = figures.to_tikz(figures.layout(linear, highlight="p"))
    _compile(tmp_path, tikz, r"\documentclass[border=4pt]{standalone}")


def test_large_graphs_compile(tmp_path):
    network = figures.to_tikz(figures.layout(_derivation(NETWORK, NETWORK_POINT)))
    symbolic = figures.to_tikz(figures.layout(_derivation(NETWORK, symbolic=True)))
    _compile(tmp_path, network + "\n\n" + symbolic)


def test_beamer_overlays(tmp_path, linear):
    reveal = {name: k for k, name in enumerate(linear.gradients, start=1)}  # f, t, s, … in backward order
    tikz = figures.to_tikz(figures.layout(linear), reveal=reveal)
    assert "onslide=<9>{highlight}" in tikz  # w, the last gradient, is highlighted on its own slide
    assert "onslide=<-8>{opacity=0, text opacity=0}] {$8$}" in tikz  # and its gradient hidden before
    _compile(tmp_path, "\\begin{frame}\n" + tikz + "\\end{frame}\n", r"\documentclass{beamer}")
    pdfinfo = require_tool("pdfinfo")
    info = subprocess.run([pdfinfo, str(tmp_path / "figure.pdf")], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+9$", info.stdout, re.MULTILINE), info.stdout


@pytest.mark.parametrize("scenario", ["toast", "sigmoid-sse", "delta-recurrence"])
def test_a_power_node_is_drawn_as_its_maths(scenario):
    """The circle of q = r**2 shows r², printed by the same printer as the maths (not the program's **), in the
    SVG (r in italics, 2 raised) and in TikZ."""
    derivation = build_scenario(scenario).derivation
    powers = [n.name for n in derivation.graph.nodes if n.op == "pow"]
    assert powers
    lay = figures.layout(derivation)
    tikz = figures.to_tikz(lay)
    svg = figure_svg.to_svg(lay)
    assert "\\ast" not in tikz and "\u2217" not in svg
    for node in (n for n in lay.nodes if n.name in powers):
        expected = label_latex(derivation.definitions[node.name])
        base, exponent = derivation.definitions[node.name].args
        assert node.symbol.latex == expected == name_latex(base.name) + "^{" + str(exponent) + "}"
        assert f"{{${expected}$}};" in tikz
        runs = figure_svg.mathtext.read(node.symbol.latex, strict=True)
        assert runs[0].italic and runs[0].text == base.name[0] and runs[-1].text == str(exponent)
