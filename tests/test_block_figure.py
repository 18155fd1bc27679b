"""A batch's graph in vector form (issue 15): one node per block of nodes that differ only in their indices, with the
per-sample graph still drawn beside it."""
from __future__ import annotations

import pytest

from derive.cli import main
from derive.present.block_figure import block_layout
from derive.present.blocks import blocks, vector_name
from derive.present.render import render
from derive.scenarios import SCENARIOS, build


def test_the_batch_of_sigmoid_sse_is_one_node_per_block_with_its_shape():
    found = {b.name: (b.op, b.inputs, b.shape) for b in blocks(build("sigmoid-sse").derivation.graph)}
    assert found == {"w": ("leaf", (), (2,)), "b": ("leaf", (), ()), "x": ("leaf", (), (2, 3)),
                     "Y": ("leaf", (), (3,)), "p": ("mul", ("w", "x"), (2, 3)), "Z": ("add", ("p", "b"), (3,)),
                     "A": ("sigmoid", ("Z",), (3,)), "r": ("sub", ("A", "Y"), (3,)), "s": ("pow", ("r",), (3,)),
                     "S": ("sum", ("s",), ()), "E": ("mul", ("S",), ())}


def test_softmax_rows_become_one_block_per_quantity():
    found = {b.name: (b.op, b.shape) for b in blocks(build("softmax-cross-entropy").derivation.graph)}
    assert found["y"] == ("softmax", (2, 3)) and found["s"] == ("add", (2,)) and found["L"] == ("mul", ())


@pytest.mark.parametrize("name", ["toast", "linear-model"])
def test_a_graph_without_a_batch_has_no_vector_form(name):
    assert blocks(build(name).derivation.graph) is None and block_layout(build(name).derivation) is None


def test_edges_carry_shapes_forward_and_gradients_back_and_data_gets_no_gradient():
    lay = block_layout(build("sigmoid-sse").derivation)
    names = {n.id: n.name for n in lay.nodes}
    edges = {(names[e.source], names.get(e.target)): e for e in lay.edges}
    assert edges[("x", "p")].forward.text == "2\u00d73" and edges[("x", "p")].gradient is None  # data
    assert edges[("Z", "A")].forward.text == "3" and edges[("Z", "A")].gradient.text == "\u2202E/\u2202Z"
    assert edges[("E", None)].gradient.text == "1"


def test_markdown_writes_both_figures_and_html_draws_both_inline(tmp_path):
    assert main(["show", "sigmoid-sse", "-o", str(tmp_path / "notes.md")]) == 0
    page = (tmp_path / "notes.md").read_text(encoding="utf-8")
    assert "](notes.svg)" in page and "](notes-vector.svg)" in page
    assert (tmp_path / "notes-vector.svg").read_text(encoding="utf-8").count("\u2202") >= 2 * 8  # ∂E/∂block, 8 blocks
    html = render(build("sigmoid-sse"), "html", "ja")
    assert "vector.svg" not in html and html.count("<svg") >= 2


@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_tex_documents_draw_the_vector_form_for_a_batch_only(fmt):
    batch = [n for n in SCENARIOS if blocks(build(n).derivation.graph) is not None]
    assert set(batch) >= {"sigmoid-sse", "softmax-cross-entropy"}
    for name in ("sigmoid-sse", "toast"):
        text = render(build(name), fmt, "en")
        assert ("vector form" in text) == (name in batch)


def test_vector_name_sits_beside_the_figure():
    assert vector_name("graph.svg") == "graph-vector.svg" and vector_name("notes") == "notes-vector"
