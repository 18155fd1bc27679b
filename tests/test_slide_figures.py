"""Graph figures that print readably (issue 15): sizes read from each picture's own data after its scale, no
label overlaps in the drawn coordinates, and step slides whose overlays never change the text's size."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from derive.present import figure_fit, figures
from derive.present.figures import Geometry, edge_points
from derive.present.block_figure import block_layout
from derive.present.tex import article_picture, slide_picture
from derive.gallery import NETWORK_EXAMPLES
from derive.scenarios import SCENARIOS, build

OUTPUT = Path(__file__).resolve().parent.parent / "output"
DECKS = sorted(OUTPUT.glob("**/*-slides.tex"))  # the scenarios' decks and the example networks'
_SHRINK = re.compile(r"\\(resizebox|scalebox|dvfitpage|dvfitbox|dvfit|dvbest|adjustbox|dnfigure)\b")
PICTURE = re.compile(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)


@pytest.fixture(scope="module")
def layouts():
    found = {name: figures.layout(build(name).derivation) for name in SCENARIOS}
    vectors = {f"{name}-vector": block_layout(build(name).derivation) for name in SCENARIOS}
    return found | {name: lay for name, lay in vectors.items() if lay is not None}


def test_every_gallery_deck_is_checked():
    assert len(DECKS) >= 2 * (len(SCENARIOS) + len(NETWORK_EXAMPLES))
    assert {deck.parent.name for deck in DECKS} >= set(NETWORK_EXAMPLES)


@pytest.mark.parametrize("deck", DECKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_graph_text_on_every_slide_prints_at_8pt_or_more(deck):
    pictures = PICTURE.findall(deck.read_text(encoding="utf-8"))
    sizes = [size for picture in pictures for size in figure_fit.label_points(picture)]
    before = re.findall(r"([^\n]*)\n\\begin\{tikzpicture\}", deck.read_text(encoding="utf-8"))
    assert not [line for line in before if _SHRINK.search(line)], deck  # no picture is shrunk after its scale
    if pictures:
        assert sizes and min(sizes) >= figure_fit.LEAST_LABEL_PT, (deck, min(sizes))


def test_label_points_reads_the_scale_and_the_fonts(layouts):
    tikz = figures.to_tikz(layouts["toast"], scale=1.25)
    assert sorted(set(figure_fit.label_points(tikz))) == [10.0, 11.25, 12.5]
    assert figure_fit.label_points(figure_fit.overview_tikz(layouts["toast"], "n3", 0.3)) == []


def _inside(box, point, margin=0.02):
    return box[0] + margin < point[0] < box[2] - margin and box[1] + margin < point[1] < box[3] - margin


def _crosses(box, a, b, margin=0.03) -> bool:
    """Whether the segment a–b passes through the inside of the box (sampled)."""
    return any(_inside(box, (a[0] + (b[0] - a[0]) * t / 40, a[1] + (b[1] - a[1]) * t / 40), margin)
               for t in range(41))


def _pictures(layouts):
    for name, lay in layouts.items():
        yield name, lay, (0,)
        slides = slide_picture(lay)
        if not slides.whole:
            for node in lay.nodes:
                if node.kind != "const":
                    yield f"{name}/{node.name}", figure_fit.neighbourhood(lay, node.id), (0,)
        starts = article_picture(lay).starts
        if starts != (0,):
            yield f"{name}/wrapped", lay, starts


def _label_boxes(lay, starts):
    """(owner, box) of every edge label, as the TikZ coordinates place them."""
    geometry = Geometry(lay, starts)
    out = []
    for k, edge in enumerate(lay.edges):
        drawn = edge_points(geometry, edge)
        if drawn.stretch:
            (x0, y), (x1, _) = drawn.points[drawn.stretch[0]], drawn.points[drawn.stretch[1]]
            for label, top, bottom in ((edge.forward, y - 0.38, y - 0.04), (edge.gradient, y + 0.04, y + 0.38)):
                if label:
                    half = figure_fit.text_width(label.text, 8.0) / 2 - 0.06
                    out.append((k, ((x0 + x1) / 2 - half, top, (x0 + x1) / 2 + half, bottom)))
    return out


def test_no_two_labels_overlap_and_no_edge_crosses_a_label(layouts):
    for title, lay, starts in _pictures(layouts):
        boxes = _label_boxes(lay, starts)
        for i, (_, a) in enumerate(boxes):
            for _, b in boxes[:i]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (title, a, b)
        geometry = Geometry(lay, starts)
        for k, edge in enumerate(lay.edges):
            points = edge_points(geometry, edge).points[1:-1]  # from the source's border to the target's
            for owner, box in boxes:
                if owner != k:
                    assert not any(_crosses(box, p, q) for p, q in zip(points, points[1:])), (title, edge, box)


def test_a_long_chain_wraps_into_bands_in_the_article(layouts):
    lay = layouts["vanishing-gradients"]
    picture = article_picture(lay)
    assert len(picture.starts) > 2
    width, height = figure_fit.natural_size(lay, picture.starts)
    assert width * picture.scale <= 15.8 and height * picture.scale <= 21.0
    assert picture.scale > 2 * figure_fit.fit_scale(figure_fit.natural_size(lay), 15.8, 21.0, 1.0)


def test_big_graphs_are_shown_by_neighbourhoods_and_small_ones_whole(layouts):
    assert slide_picture(layouts["toast"]).whole and slide_picture(layouts["linear-model"]).whole
    for name in ("softmax-cross-entropy", "delta-recurrence", "vanishing-gradients"):
        picture = slide_picture(layouts[name])
        assert not picture.whole and picture.scale >= figure_fit.LEAST_SCALE
        near = figure_fit.neighbourhood(layouts[name], layouts[name].nodes[-1].id)
        assert {n.column for n in near.nodes} <= {0, 1, 2}


_OVERLAY = re.compile(r"^\\only<(\d+)>\{%\n(.*?)(?=^\\only<|^\\end\{frame\})", re.S | re.M)
_SIZES = re.compile(r"\\(tiny|scriptsize|footnotesize|small|normalsize|large|Large)\b")


@pytest.mark.parametrize("deck", DECKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_overlay_of_a_step_differs_in_font_size(deck):
    steps: dict[str, set] = {}
    for match in _OVERLAY.finditer(deck.read_text(encoding="utf-8")):
        body = match.group(2)
        head = re.search(r"\\textbf\{([^}]*)\}", body)
        assert not _SHRINK.search(body), (deck, body[:300])
        steps.setdefault(head.group(1) if head else "start", set()).add(tuple(_SIZES.findall(body)))
    assert steps or deck.parent.name not in SCENARIOS  # a network's deck has no step overlays
    for step, sizes in steps.items():
        assert len({tuple(sorted(set(s))) for s in sizes}) == 1, (deck, step, sizes)


def test_the_step_writes_stand_out(layouts):
    derivation = build("toast").derivation
    lay = figures.layout(derivation, highlight="q", shown_gradients={"E", "q"}, fresh=frozenset({"q"}))
    tikz = figures.to_tikz(lay)
    assert tikz.count("freshedge") == 2  # the style and the edge q → E
    assert re.search(r"node\[grad, fresh\] \{\$[^$]+\$\}", tikz)
    assert "fresh" not in figures.to_tikz(figures.layout(derivation)).split("\n", 1)[1]
