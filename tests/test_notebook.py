"""A notebook executed by nbconvert shows derive's walk-through as HTML: the graph as inline SVG and the maths as
MathML, with the right numbers; the ``%%derive`` cell magic gives the same."""
from __future__ import annotations

import re
from html import unescape

import pytest

from conftest import ROOT, require_module

NETWORK = ROOT / "examples" / "networks" / "design-example.toml"

CELLS = [
    "import derive",
    'derive.explain("(x + y) * z", at={"x": -2, "y": 5, "z": -4})',
    "%load_ext derive",
    "%%derive --at w=3,x=2,t=4\nE = (w*x - t)**2",
    '%%derive --at x=1\nx + nope(',
    "%%derive --network --lang ja\n" + NETWORK.read_text(),
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = require_module("nbformat")
    require_module("ipykernel")
    require_module("nbconvert")
    from nbconvert.preprocessors import ExecutePreprocessor

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    folder = tmp_path_factory.mktemp("notebook")
    ExecutePreprocessor(timeout=300, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(folder)}})
    return notebook


def _html(cell) -> str:
    (output,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return output.data["text/html"]


def _has_gradient(html: str, output: str, leaf: str, value: str) -> bool:
    """A displayed MathML equation ``∂output/∂leaf = … = value``: presentation MathML (a fraction) whose TeX
    annotation states that chain."""
    chain = re.compile(rf"\\frac{{\\partial {output}}}{{\\partial {leaf}}} = .*= {re.escape(value)}")
    for block in re.findall(r'<math[^>]*display="block"[^>]*>.*?</math>', html, flags=re.DOTALL):
        annotation = re.search(r'<annotation encoding="application/x-tex">(.*?)</annotation>', block, re.DOTALL)
        if "<mfrac>" in block and annotation and chain.fullmatch(unescape(annotation.group(1)).strip()):
            return True
    return False


def test_explain_cell_shows_graph_and_maths(executed):
    html = _html(executed.cells[1])
    assert html.startswith('<div class="derive-page" lang="en">')
    assert re.search(r"<svg\b[^>]*role=\"img\"", html) and "</svg>" in html  # the computational graph
    assert "<math" in html and "</math>" in html
    for leaf, value in (("x", "-4"), ("y", "-4"), ("z", "3")):
        assert _has_gradient(html, "f", leaf, value), leaf
    plain = executed.cells[1].outputs[0].data["text/plain"]
    assert plain == "<derive.Result '(x + y) * z': 5 nodes, f = -12, gradients x=-4, y=-4, z=3>"


def test_cell_magic_shows_the_same_walk_through(executed):
    html = _html(executed.cells[3])
    assert "<svg" in html and "<math" in html
    # E = (w x − t)², w = 3, x = 2, t = 4: ∂E/∂w = 2(wx − t)·x = 8, ∂E/∂x = 12, ∂E/∂t = −4
    for leaf, value in (("w", "8"), ("x", "12"), ("t", "-4")):
        assert _has_gradient(html, "E", leaf, value), leaf


def test_cell_magic_bad_input_is_one_line(executed):
    cell = executed.cells[4]
    assert [o.output_type for o in cell.outputs] == ["stream"]
    assert cell.outputs[0].name == "stderr"
    assert cell.outputs[0].text.startswith("derive: error: ") and cell.outputs[0].text.count("\n") == 1


def test_nbconvert_html_export_keeps_graph_and_maths(executed):
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(executed)
    start = body.index('<div class="derive-page"')
    shown = body[start:body.index("</main>", start)]
    assert "<svg" in shown and "<math" in shown and "<mfrac>" in shown
    assert _has_gradient(shown, "f", "z", "3")


def test_cell_magic_network_in_japanese(executed):
    import derive
    html = _html(executed.cells[5])
    expected = derive.network(NETWORK.read_text(), lang="ja")
    assert html == expected._repr_html_() and html.startswith('<div class="derive-page" lang="ja">')
    assert "<math" in html and "<mfrac>" in html
