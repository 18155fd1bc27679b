"""The network diagram (issue 15, part 2): one circle per unit, one line per weight labelled w^l_{ji}, a^l_j, z^l_j and
δ^l_j on the units, read back from the SVG file and from the TikZ picture; no two labels overlap, no label sits on a
unit or on a line other than its own; the diagram is in every network document (Markdown with the SVG beside it,
HTML inline, LaTeX and Beamer as TikZ) and the same on every run."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from derive.cli import main
from derive.networks import explain_file
from derive.present import mathtext
from derive.present.figure_svg import SCALE
from derive.present.network import slide_diagram
from derive.present.page_room import slide_room
from derive.present.network_figure import (MAX_LABELLED_WEIGHTS, PT_PER_CM, diagram, diagram_of, overlap,
                                           segment_meets, to_svg, to_tikz)
from derive.present.render import render

from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples" / "networks").glob("*.toml"))
SIZES = [(2, 2, 2), (3, 3, 2), (2, 3, 3, 2), (1, 1), (4, 4, 3), (3, 4, 4, 3), (5, 1, 5), (8, 8, 8), (12, 2)]
NS = {"svg": "http://www.w3.org/2000/svg"}
TOLERANCE = 1e-6


# --- reading the drawings back ------------------------------------------------------------------------------------

def _svg_texts(svg: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Every text of an SVG file with its ink box, measured from the file: each run's characters at its own size,
    rise and move back (``dx``), with the width table of `derive.present.mathtext`, anchored as the element says."""
    out = []
    for text in ET.fromstring(svg.split("\n", 1)[1]).iter("{http://www.w3.org/2000/svg}text"):
        size = float(text.get("font-size"))
        runs = [(text.text or "", size, 0.0, 0.0)]
        rise = 0.0
        for span in text:
            rise -= float(span.get("dy", 0))
            runs.append((span.text or "", float(span.get("font-size", size)), rise, float(span.get("dx", 0))))
            if span.tail:
                runs.append((span.tail, size, rise, 0.0))
        pen, left_ink, right_ink = 0.0, 0.0, 0.0
        for chars, s, _, dx in runs:
            pen += dx
            left_ink = min(left_ink, pen)
            pen += mathtext.advance(chars) * s
            right_ink = max(right_ink, pen)
        x, y = float(text.get("x")), float(text.get("y"))
        origin = x - {"start": 0, "middle": pen / 2, "end": pen}[text.get("text-anchor", "start")]
        top = min(y - r - mathtext.ASCENT * s for chars, s, r, _ in runs if chars)
        bottom = max(y - r + mathtext.DESCENT * s for chars, s, r, _ in runs if chars)
        out.append(("".join(run[0] for run in runs), (origin + left_ink, top, origin + right_ink, bottom)))
    return out


def _read_svg(svg: str):
    root = ET.fromstring(svg.split("\n", 1)[1])
    circles = [(float(c.get("cx")), float(c.get("cy")), float(c.get("r"))) for c in root.iter(f"{{{NS['svg']}}}circle")]
    segments = []
    for path in root.iter(f"{{{NS['svg']}}}path"):
        numbers = [float(v) for v in re.findall(r"-?[\d.]+", path.get("d"))]
        assert len(numbers) == 4, "a wire piece is one straight segment"
        segments.append(((numbers[0], numbers[1]), (numbers[2], numbers[3])))
    return circles, segments, _svg_texts(svg)


_NUMBER = r"(-?[\d.]+)"


def _read_tikz(tikz: str):
    """Circles, segments and labels of the TikZ picture, in SVG units (so that one checker reads both)."""
    circles = [(float(x) * SCALE, float(y) * SCALE, float(r) * SCALE) for x, y, r in
               re.findall(rf"\\draw\[fill=white\] \({_NUMBER}, {_NUMBER}\) circle\[radius={_NUMBER}\];", tikz)]
    segments = [((float(a) * SCALE, float(b) * SCALE), (float(c) * SCALE, float(d) * SCALE)) for a, b, c, d in
                re.findall(rf"\\draw \({_NUMBER}, {_NUMBER}\) -- \({_NUMBER}, {_NUMBER}\);", tikz)]
    texts = []
    for x, y, size, latex in re.findall(rf"\\node\[anchor=base[^\]]*\] at \({_NUMBER}, {_NUMBER}\) "
                                        rf"\{{\\fontsize\{{{_NUMBER}\}}\{{[\d.]+\}}\\selectfont\$(.*)\$\}};", tikz):
        runs = mathtext.read(latex, strict=True)
        em = float(size) / PT_PER_CM * SCALE
        width = mathtext.width(runs) * em
        up, down = mathtext.extent(runs)
        cx, base = float(x) * SCALE, float(y) * SCALE
        texts.append((mathtext.plain(runs), (cx - width / 2, base - up * em, cx + width / 2, base + down * em)))
    return circles, segments, texts


# --- the checks -----------------------------------------------------------------------------------------------------

def _columns(circles, sizes):
    """The circles as units: column by column (x), top to bottom (y); each column as large as its layer."""
    xs = sorted({round(c[0], 3) for c in circles})
    assert len(xs) == len(sizes)
    units = {}
    for l, x in enumerate(xs, 1):
        column = sorted((c for c in circles if round(c[0], 3) == x), key=lambda c: c[1])
        assert len(column) == sizes[l - 1]
        units.update({(l, j): c for j, c in enumerate(column, 1)})
    return units


def _on_line(point, start, end, within: float = 0.05) -> bool:
    """Whether ``point`` is on the segment (``within`` SVG units of it)."""
    cross = (end[0] - start[0]) * (point[1] - start[1]) - (end[1] - start[1]) * (point[0] - start[0])
    length = ((end[0] - start[0]) ** 2 + (end[1] - start[1]) ** 2) ** 0.5
    inside = min(start[0], end[0]) - within <= point[0] <= max(start[0], end[0]) + within
    return abs(cross) / length < within and inside


def _check(drawing, sizes) -> dict[int, bool]:
    """Asserts everything the module docstring says of one drawing; returns which gaps label their weights."""
    circles, segments, texts = drawing
    units = _columns(circles, sizes)
    # one line per weight: every segment lies on exactly one line from unit i of layer l − 1 to unit j of layer l
    lines = {(l, j, i): ((units[(l - 1, i)][0] + units[(l - 1, i)][2], units[(l - 1, i)][1]),
                         (units[(l, j)][0] - units[(l, j)][2], units[(l, j)][1]))
             for l in range(2, len(sizes) + 1) for j in range(1, sizes[l - 1] + 1) for i in range(1, sizes[l - 2] + 1)}
    covered = {}
    for segment in segments:
        owners = [key for key, (s, e) in lines.items() if _on_line(segment[0], s, e) and _on_line(segment[1], s, e)]
        assert len(owners) == 1, (segment, owners)
        covered.setdefault(owners[0], []).append(segment)
    assert set(covered) == set(lines)
    for key, pieces in covered.items():
        start, end = lines[key]
        ends = sorted(p for piece in pieces for p in piece)
        assert abs(ends[0][0] - start[0]) < 0.05 and abs(ends[-1][0] - end[0]) < 0.05, key  # the line is whole
    # the units' own labels: a inside, z and δ under every unit but the input layer's
    by_text = {}
    for text, box in texts:
        by_text.setdefault(text, []).append(box)
    for (l, j), (cx, cy, r) in units.items():
        names = [f"a{l}{j}"] + ([f"z{l}{j}", f"\u03b4{l}{j}"] if l > 1 else [])
        for name in names:
            (box,) = by_text.pop(name)
            assert abs((box[0] + box[2]) / 2 - cx) < 0.05, name
            if name[0] == "a":
                assert box[1] < cy < box[3] and box[2] - box[0] < 2 * r, name
            else:
                assert box[1] > cy + r and box[2] - box[0] < 2 * r, name  # under the circle, not wider
    for l in range(1, len(sizes) + 1):
        assert by_text.pop(f"l={l}")
    for l in range(2, len(sizes) + 1):
        assert by_text.pop(f"W{l}")
    # the weights: each label once, on its own line; a gap labels all its weights or none (too many to place)
    labelled = {l: f"w{l}{sizes[l - 1]}{sizes[l - 2]}" in by_text for l in range(2, len(sizes) + 1)}
    for (l, j, i), (start, end) in lines.items():
        if not labelled[l]:
            assert f"w{l}{j}{i}" not in by_text
            continue
        (box,) = by_text.pop(f"w{l}{j}{i}")
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        assert _on_line(centre, start, end, within=0.5), (l, j, i)
    assert not any(labelled[l] for l in labelled if sizes[l - 1] * sizes[l - 2] > MAX_LABELLED_WEIGHTS)
    assert not by_text, f"unexpected labels: {sorted(by_text)}"
    # nothing overlaps: labels with labels, labels with other units, lines with labels
    boxes = [box for _, box in texts]
    for k, a in enumerate(boxes):
        for b in boxes[:k]:
            assert not overlap(a, b), (texts[k], b)
        for segment in segments:
            assert not segment_meets(a, *segment), (texts[k][0], segment)
        for cx, cy, r in circles:
            inside = a[0] < cx < a[2] and a[1] < cy < a[3]
            nearest = (min(max(cx, a[0]), a[2]), min(max(cy, a[1]), a[3]))
            touches = ((nearest[0] - cx) ** 2 + (nearest[1] - cy) ** 2) ** 0.5 < r
            assert inside or not touches, texts[k][0]
    return labelled


@pytest.mark.parametrize("sizes", SIZES, ids=["-".join(map(str, s)) for s in SIZES])
def test_svg_has_a_unit_per_neuron_a_line_per_weight_and_no_overlap(sizes):
    _check(_read_svg(to_svg(diagram_of(sizes))), sizes)


@pytest.mark.parametrize("sizes", SIZES, ids=["-".join(map(str, s)) for s in SIZES])
def test_tikz_has_a_unit_per_neuron_a_line_per_weight_and_no_overlap(sizes):
    _check(_read_tikz(to_tikz(diagram_of(sizes))), sizes)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_network_is_drawn_from_its_own_sizes(path):
    result = explain_file(path)
    sizes = tuple(result.network.sizes)
    labelled = _check(_read_svg(to_svg(diagram(result))), sizes)
    assert _check(_read_tikz(to_tikz(diagram(result))), sizes) == labelled
    if max(sizes) <= 3:
        assert all(labelled.values())  # the small networks name every weight


def test_small_gaps_label_every_weight_and_large_ones_show_the_matrix():
    labelled = diagram_of((2, 3, 3, 2))
    assert all(w.label is not None for w in labelled.wires) and len(labelled.wires) == 6 + 9 + 6
    wide = diagram_of((8, 8, 8))
    assert all(w.label is None for w in wide.wires) and len(wide.wires) == 128
    assert {label.latex for label in wide.labels if label.role == "matrix"} == {"W^{2}", "W^{3}"}


def test_labels_are_the_printers():
    """Every label is what `derive.notation.latex` prints for the network's symbols (w^{2}_{11}, \\delta^{3}_{2})."""
    d = diagram_of((2, 2))
    assert {label.latex for label in d.labels} == {
        "a^{1}_{1}", "a^{1}_{2}", "a^{2}_{1}", "a^{2}_{2}", "z^{2}_{1}", "z^{2}_{2}", r"\delta^{2}_{1}",
        r"\delta^{2}_{2}", "w^{2}_{11}", "w^{2}_{12}", "w^{2}_{21}", "w^{2}_{22}", "l = 1", "l = 2", "W^{2}"}
    assert all(label.size >= 8 for label in d.labels)


def test_the_drawing_is_the_same_on_every_run():
    assert to_svg(diagram_of((3, 3, 2))) == to_svg(diagram_of((3, 3, 2)))
    assert to_tikz(diagram_of((3, 3, 2))) == to_tikz(diagram_of((3, 3, 2)))


# --- in the documents -----------------------------------------------------------------------------------------------

NETWORK = ROOT / "examples" / "networks" / "relu-cross-entropy.toml"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_markdown_gets_the_svg_beside_it_and_html_draws_it_inline(tmp_path, lang):
    markdown = tmp_path / f"{lang}.md"
    assert main(["-q", "explain", "--network", str(NETWORK), "--lang", lang, "-o", str(markdown)]) == 0
    svg = (tmp_path / f"{lang}.svg").read_text(encoding="utf-8")
    assert f"]({lang}.svg)" in markdown.read_text(encoding="utf-8")
    _check(_read_svg(svg), (3, 3, 2))
    page = tmp_path / f"{lang}.html"
    assert main(["-q", "explain", "--network", str(NETWORK), "--lang", lang, "-f", "html", "-o", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    figure = re.search(r'<figure class="plot"><svg .*?</svg><figcaption>(.*?)</figcaption></figure>', html, re.S)
    assert figure and figure.group(0).count("<circle ") == 8
    assert "<math" in figure.group(1)  # the caption's symbols are maths


def test_standard_output_has_no_dangling_image(capsys):
    assert main(["explain", "--network", str(NETWORK)]) == 0
    assert "![" not in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["latex", "beamer"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_tex_documents_draw_the_diagram_in_tikz(fmt, lang):
    result = explain_file(NETWORK)
    tex = render(result, fmt, lang)
    assert to_tikz(diagram(result)).rstrip("\n") in tex
    assert tex.count("circle[radius=") == 8


def test_a_network_too_wide_to_draw_has_no_diagram(tmp_path):
    wide = tmp_path / "wide.toml"
    rows, zeros = ", ".join(["[0.1, 0.2]"] * 17), ", ".join(["0.0"] * 17)
    wide.write_text(f'activation = "sigmoid"\nloss = "sse"\nlearning_rate = 0.1\ninput = [1.0, 0.5]\n'
                    f'target = [{zeros}]\n\n[[layer]]\nW = [{rows}]\nb = [{zeros}]\n', encoding="utf-8")
    out = tmp_path / "wide.md"
    assert main(["-q", "explain", "--network", str(wide), "-o", str(out)]) == 0
    assert not (tmp_path / "wide.svg").exists() and "![" not in out.read_text(encoding="utf-8")
    assert "tikzpicture" not in render(explain_file(wide), "latex", "en")


@pytest.mark.parametrize("aspect, room", [("16:9", (14.0, 7.4)), ("4:3", (10.8, 7.9))])
@pytest.mark.parametrize("sizes", SIZES)
def test_a_slide_shows_the_diagram_at_its_own_size_or_not_at_all(sizes, aspect, room):
    """A 16:9 beamer slide's \\textwidth is 398.34 pt = 14.0 cm, a 4:3 one's 307.29 pt = 10.8 cm."""
    d = diagram_of(sizes)
    place = slide_diagram(d, slide_room(aspect))
    width, height = room
    assert (place is not None) == (d.width < width - 0.05 and d.height <= height)
    if place is not None:
        assert d.width < place.figure_cm < width  # its column holds it unshrunk
        beside = width - place.figure_cm >= 3.4
        assert (place.caption_cm is not None) == beside  # else the caption is on a slide of its own
        assert place.caption_cm is None or place.figure_cm + place.caption_cm < width


def test_slides_leave_out_a_diagram_too_big_for_a_slide():
    deep = explain_file(ROOT / "examples" / "networks" / "deep-8x8.toml")
    assert "tikzpicture" not in render(deep, "beamer", "en")
    assert to_tikz(diagram(deep)).rstrip("\n") in render(deep, "latex", "en")  # the article shrinks it to the line
