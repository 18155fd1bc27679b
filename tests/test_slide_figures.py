"""Graph figures that print readably (issue 15): sizes read from each picture's own data after its scale, no
label overlaps in the drawn coordinates, and step slides whose overlays never change the text's size."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import sympy

from derive.present import figure_fit, figures
from derive.present.figures import Geometry, edge_points
from derive.present.block_figure import block_layout
from derive.files import shipped_folder
from derive.gallery import NETWORK_EXAMPLES
from derive.networks import explain_text
from derive.present.network_figure import diagram
from derive.present.network import slide_diagram
from derive.present.page_room import PAPER_CM, SLIDE_CM, article_room, slide_room
from derive.present.render import render
from derive.present.lecture import ASPECTS, PAPERS, tex_options
from derive.present.tex import OVERVIEW_CM, article_picture, slide_picture
from derive.scenarios import SCENARIOS, build

OUTPUT = Path(__file__).resolve().parent.parent / "output"
DECKS = sorted(OUTPUT.glob("**/*-slides.tex"))  # the scenarios' decks and the example networks'
ARTICLES = sorted(OUTPUT.glob("*/[a-z][a-z].tex")) + sorted(OUTPUT.glob("networks/*/[a-z][a-z].tex"))
_SHRINK = re.compile(r"\\(resizebox|scalebox|dvfitpage|dvfitbox|dvfit|dvbest|adjustbox|dnfigure)\b")
PICTURE = re.compile(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)
SHRUNK = re.compile(r"\\resizebox(\{[^\n]*)\n\\begin\{tikzpicture\}")
ONLY_WHEN_WIDER = r"{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"  # the network diagram's


@pytest.fixture(scope="module")
def layouts():
    found = {name: figures.layout(build(name).derivation) for name in SCENARIOS}
    vectors = {f"{name}-vector": block_layout(build(name).derivation) for name in SCENARIOS}
    return found | {name: lay for name, lay in vectors.items() if lay is not None}


def test_every_gallery_deck_and_article_is_checked():
    assert len(DECKS) >= 2 * (len(SCENARIOS) + len(NETWORK_EXAMPLES))
    assert {deck.parent.name for deck in DECKS} >= set(NETWORK_EXAMPLES)
    assert len(ARTICLES) >= 2 * (len(SCENARIOS) + len(NETWORK_EXAMPLES))
    assert {p.parent.name for p in ARTICLES} >= {"sigmoid-sse", "softmax-cross-entropy", "delta-recurrence",
                                                  "vanishing-gradients", *NETWORK_EXAMPLES}


def assert_graph_texts_readable(text: str, deck: bool, title: object) -> None:
    """Every graph text of a TeX document at 8 pt or more as printed: read from each picture's scale and fonts, and
    no picture shrunk after its scale (only the network diagram of an article, only when wider than the text)."""
    for shrink in SHRUNK.finditer(text):
        assert shrink.group(1) == ONLY_WHEN_WIDER and not deck, (title, shrink.group())
    if deck:  # no picture on a slide is shrunk after its scale
        before = re.findall(r"([^\n]*)\n\\begin\{tikzpicture\}", text)
        assert not [line for line in before if _SHRINK.search(line)], title
    if PICTURE.search(text):
        sizes = [size for picture in PICTURE.findall(text) for size in figure_fit.label_points(picture)]
        assert sizes and min(sizes) >= figure_fit.LEAST_LABEL_PT, (title, min(sizes, default=None))


@pytest.mark.parametrize("document", DECKS + ARTICLES, ids=lambda p: str(p.relative_to(OUTPUT)))
def test_every_graph_text_on_every_slide_and_article_page_prints_at_8pt_or_more(document):
    assert_graph_texts_readable(document.read_text(encoding="utf-8"), document in DECKS, document)


def _network(stem: str):
    return explain_text((shipped_folder("examples") / "networks" / f"{stem}.toml").read_text(encoding="utf-8"),
                        f"{stem}.toml")


PAGES = [("latex", {"paper": paper}) for paper in PAPERS] + [("beamer", {"aspect": aspect}) for aspect in ASPECTS]


@pytest.mark.parametrize("fmt, page", PAGES, ids=lambda x: x if isinstance(x, str) else next(iter(x.values())))
@pytest.mark.parametrize("name", [*SCENARIOS, *(f"networks/{stem}" for stem in NETWORK_EXAMPLES)])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_graph_text_prints_at_8pt_or_more_on_every_paper_and_aspect(name, fmt, page, lang):
    """As the gallery's (A4, 16:9) documents, so those on letter paper and on 4:3 slides (--paper, --aspect)."""
    result = _network(name.split("/")[1]) if name.startswith("networks/") else build(name)
    text = render(result, fmt, lang, options=tex_options(**page))
    assert_graph_texts_readable(text, fmt == "beamer", (name, fmt, page, lang))


@pytest.mark.parametrize("stem", NETWORK_EXAMPLES)
def test_the_network_diagram_is_not_shrunk_in_the_article(stem):
    result = explain_text((shipped_folder("examples") / "networks" / f"{stem}.toml").read_text(encoding="utf-8"),
                          f"{stem}.toml")
    assert diagram(result).width <= min(article_room(paper).width for paper in PAPERS)


def test_every_paper_and_aspect_has_its_room():
    assert set(PAPER_CM) == set(PAPERS) and set(SLIDE_CM) == set(ASPECTS)
    assert article_room() == article_room("a4") and slide_room() == slide_room("16:9")


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_article_figure_fits_its_page_at_a_readable_size(name, paper, layouts):
    """The picture each article draws on ``paper`` fits the text's width, or the height of a rotated page of its
    own (reaching into the margins only on a page the standard room leaves unreadable)."""
    room = article_room(paper)
    for lay in (layouts[name], layouts.get(f"{name}-vector")):
        if lay is None:
            continue
        picture = article_picture(lay, room)
        width, height = figure_fit.natural_size(lay, picture.starts)
        if not picture.rotated:
            fits = (room.width, room.height)
        elif width * picture.scale <= room.rotated_width:
            fits = (room.rotated_width, room.rotated_height)
        else:  # only when the text's height leaves it unreadable
            assert article_picture(lay, dataclasses.replace(room, edge_width=room.rotated_width)).scale \
                < figure_fit.LEAST_SCALE, (name, paper)
            fits = (room.edge_width, room.rotated_height)
        assert picture.scale >= figure_fit.LEAST_SCALE, (name, paper, picture)
        assert width * picture.scale <= fits[0] and height * picture.scale <= fits[1], (name, paper, picture)


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_slide_figure_fits_the_slides_width_at_a_readable_size(name, aspect, layouts):
    """On slides of ``aspect``: a step's whole graph, or its neighbourhood beside (or, on a narrow slide, below) the
    overview, fits the text's width with every label at 8 pt or more."""
    room = slide_room(aspect)
    lay = layouts[name]
    picture = slide_picture(lay, room)
    assert picture.scale >= figure_fit.LEAST_SCALE, (name, aspect, picture)
    if picture.whole:
        assert figure_fit.natural_size(lay)[0] * picture.scale <= room.width, (name, aspect, picture)
        return
    overview = figure_fit.natural_size(lay, picture.starts)[0] * picture.overview
    for node in lay.nodes:
        if node.kind != "const":
            width = figure_fit.natural_size(figure_fit.neighbourhood(lay, node.id))[0] * picture.scale
            beside = 0.0 if picture.stacked else overview + 0.6
            assert width + beside <= room.width, (name, aspect, node.name, width, overview)
    assert overview <= (room.width if picture.stacked else OVERVIEW_CM)


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("stem", NETWORK_EXAMPLES)
def test_the_network_diagram_and_its_caption_fit_the_slides_width(stem, aspect):
    room = slide_room(aspect)
    place = slide_diagram(diagram(_network(stem)), room)
    assert place is not None  # every example's diagram has a slide at its own size
    assert place.figure_cm + (place.caption_cm or 0.0) + (0.4 if place.caption_cm else 0.0) <= room.width + 1e-9


def test_a_graph_too_wide_for_the_text_goes_on_a_landscape_page_of_its_own():
    text = (OUTPUT / "softmax-cross-entropy" / "ja.tex").read_text(encoding="utf-8")
    assert r"\usepackage{pdflscape,afterpage}" in text
    pages = re.findall(r"\\afterpage\{\\begin\{landscape\}(.*?)\\end\{landscape\}\}", text, re.S)
    assert len(pages) == 3 and all(PICTURE.search(page) and "\\dvfigurecaption{" in page for page in pages)
    assert "\\begin{landscape}" not in (OUTPUT / "toast" / "en.tex").read_text(encoding="utf-8")


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
    """(owner, box) of every edge label (owner: the edge's index) and of every node's total (owner: None), as the
    TikZ coordinates place them."""
    geometry = Geometry(lay, starts)
    out = []
    for node in lay.nodes:
        if node.total:
            x, y = geometry.at(2 * node.column, node.row)
            width = figure_fit.text_width(node.total.text, 8.0) - 0.12
            if node.symbol:  # centred under the name
                out.append((None, (x - width / 2, y + 0.75, x + width / 2, y + 1.05)))
            else:  # hanging left from the name's right end
                right = x + figure_fit.text_width(node.label.text, 10.0) / 2 - 0.06
                out.append((None, (right - width, y + 0.27, right, y + 0.6)))
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
            segments = _drawn_segments(lay, geometry, edge)
            for owner, box in boxes:
                if owner != k:
                    assert not any(_crosses(box, p, q) for p, q in segments), (title, edge, box)


def _drawn_segments(lay, geometry, edge) -> list:
    """The straight pieces of an edge as TikZ draws it: from a leaf's east side or an op node's circle to the
    target's circle (the circles cut off as the border points TikZ computes)."""
    nodes = {node.id: node for node in lay.nodes}
    points = list(edge_points(geometry, edge).points)
    source = nodes[edge.source]
    if source.symbol:
        points[0] = _towards(points[0], points[1], figures.OP_RADIUS)
    else:
        points[0] = (points[0][0] + figure_fit.text_width(source.label.text, 10.0) / 2, points[0][1])
    if edge.target:
        points[-1] = _towards(points[-1], points[-2], figures.OP_RADIUS)
    return list(zip(points, points[1:]))


def _towards(centre, toward, radius):
    length = ((toward[0] - centre[0]) ** 2 + (toward[1] - centre[1]) ** 2) ** 0.5
    return (centre[0] + radius * (toward[0] - centre[0]) / length, centre[1] + radius * (toward[1] - centre[1]) / length)


def test_a_long_chain_wraps_into_bands_in_the_article(layouts):
    lay = layouts["vanishing-gradients"]
    picture = article_picture(lay)
    assert len(picture.starts) > 2 and picture.scale >= figure_fit.LEAST_SCALE
    assert picture.scale > 2 * figure_fit.fit_scale(figure_fit.natural_size(lay), 15.8, 21.0, 1.0)


def test_bands_joined_by_several_edges_give_each_its_own_lane(layouts):
    """delta-recurrence wraps where two edges cross: their detours never run along each other."""
    lay = layouts["delta-recurrence"]
    starts = article_picture(lay).starts
    assert len(starts) > 1 and len(Geometry(lay, starts).lanes[0]) == 2
    geometry = Geometry(lay, starts)
    segments = [(k, a, b) for k, edge in enumerate(lay.edges)
                for a, b in zip(edge_points(geometry, edge).points, edge_points(geometry, edge).points[1:])]
    for i, (k, a, b) in enumerate(segments):
        for m, c, d in segments[:i]:
            if k != m and _collinear_overlap((a, b), (c, d)):
                assert lay.edges[k].source == lay.edges[m].source, (lay.edges[k], lay.edges[m], a, b, c, d)


def _collinear_overlap(one, other) -> bool:
    """Whether two axis-parallel segments run along each other for more than a point."""
    (a, b), (c, d) = one, other
    for axis in (0, 1):
        along = 1 - axis
        if a[axis] == b[axis] == c[axis] == d[axis]:
            low = max(min(a[along], b[along]), min(c[along], d[along]))
            high = min(max(a[along], b[along]), max(c[along], d[along]))
            return high - low > 0.01
    return False


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


def test_a_number_in_powers_of_ten_is_sized_as_printed():
    """The room a label gets comes from its plain text: 2.83545e-06 is printed 2.83545 × 10⁻⁶, wider (the
    vanishing-gradients article's red labels ran into the nodes)."""
    label = figures.number_label(sympy.Float("2.83545e-6"))
    assert (label.text, label.latex) == ("2.83545 \u00d7 10\u207b\u2076", r"2.83545 \times 10^{-6}")
    assert figures.number_label(sympy.Float("1e-10")).text == "10\u207b\u00b9\u2070"
