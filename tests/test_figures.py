"""The graph figures: one layout, drawn by Graphviz (SVG) and by TikZ (pdflatex), checked with the real tools."""
from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import FrozenInstanceError
from fractions import Fraction

import pytest
import sympy

from conftest import require_tool
from derive import figures
from derive.backward import derive
from derive.parse import parse_program

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
    assert 'COLOR="transparent"' in figures.to_dot(partial)


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


# --- Graphviz ---------------------------------------------------------------------------------------------------

def test_svg_parses_and_shows_every_value_and_gradient(linear):
    require_tool("dot")
    svg = figures.svg_for(linear)
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag.endswith("svg")
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    red = [t for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("fill") == figures._RED]
    for value in VALUES.values():
        assert str(value) in texts
    for value in GRADIENTS.values():
        assert str(value) in ["".join(t.itertext()) for t in red]
    assert "Generated by graphviz" not in svg


def test_svg_is_byte_identical_across_calls(linear):
    require_tool("dot")
    assert figures.svg_for(linear) == figures.svg_for(linear)
    assert figures.to_dot(figures.layout(linear)) == figures.to_dot(figures.layout(_derivation()))


def test_missing_dot_raises_tool_missing(linear, monkeypatch):
    monkeypatch.setattr(figures.shutil, "which", lambda name: None)
    with pytest.raises(figures.ToolMissing, match="Graphviz") as info:
        figures.svg_for(linear)
    assert info.value.exit_code == 3


def test_large_network_svg():
    require_tool("dot")
    d = _derivation(NETWORK, NETWORK_POINT)
    svg = figures.svg_for(d)
    ET.fromstring(svg.encode("utf-8"))
    for name in ("a1", "a2", "a3", "z3", "w22"):
        assert f">{name}<" in svg
    assert figures.number_text(d.values["f"]) in svg


# --- TikZ -------------------------------------------------------------------------------------------------------

def test_tikz_shows_every_value_and_gradient(linear):
    tikz = figures.to_tikz(figures.layout(linear))
    for value in VALUES.values():
        assert f"node[fwd] {{${value}$}}" in tikz
    for value in GRADIENTS.values():
        assert f"node[grad] {{${value}$}}" in tikz
    assert tikz == figures.to_tikz(figures.layout(_derivation()))
    assert r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}" in tikz


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
