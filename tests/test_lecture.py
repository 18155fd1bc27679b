"""The lecturer's controls of `derive show` / `explain` --format latex/beamer (issue 15, part 6), each compiled and its
effect checked in the PDF: --pdf (latexmk), --aspect and --paper (pdfinfo's page size), --theme (the theme's own
footline), --steps (exactly those steps get slides, the others a summary table), --body-only (\\input into a
minimal document, twice), frame labels (\\againframe), --figure svg|pdf|png; bad values give one line on stderr in
the language asked for and write nothing.

Every document is built once per session through the command line (`Builds`); a missing TeX engine, latexmk or
poppler fails under CI=true and skips elsewhere (conftest.require_tool).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import require_tool
from derive.cli import main
from derive.notation import number_text
from derive.present import pdf as pdf_module
from derive.present.lecture import FRAGMENT_PACKAGES, THEMES, parse_steps, tex_options
from derive.present.pdf import compile_tex
from derive.present.tex import overlay_plan
from derive.scenarios import build

STEPS_OF_TOAST = 4
NETWORK = str(Path(__file__).resolve().parent.parent / "examples" / "networks" / "design-example.toml")


class Builds:
    """`derive show SCENARIO ARGS… -o FOLDER/NAME` run once per distinct command in this session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done: dict[tuple[str, ...], Path] = {}

    def __call__(self, scenario: str, *args: str, name: str = "doc.tex") -> Path:
        return self.run("show", scenario, *args, name=name)

    def run(self, *argv: str, name: str) -> Path:
        if (*argv, name) not in self.done:
            out = self.folder / f"build{len(self.done)}"
            out.mkdir()
            assert main(["-q", *argv, "-o", str(out / name)]) == 0
            self.done[(*argv, name)] = out / name
        return self.done[(*argv, name)]


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> Builds:
    require_tool("latexmk")
    return Builds(tmp_path_factory.mktemp("lecture"))


def _tool(name: str, *args: str) -> str:
    return subprocess.run([require_tool(name), *args], capture_output=True, text=True, check=True).stdout


def _page_size(pdf: Path) -> tuple[float, float]:
    match = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", _tool("pdfinfo", str(pdf)), re.M)
    assert match, pdf
    return float(match.group(1)), float(match.group(2))


def _pages(pdf: Path) -> list[str]:
    return _tool("pdftotext", "-layout", str(pdf), "-").split("\f")[:-1]


# --- --pdf ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, lang", [("beamer", "en"), ("latex", "ja")])
def test_pdf_writes_the_tex_and_its_pdf(builds, fmt, lang):
    require_tool("lualatex" if lang == "ja" else "pdflatex")
    tex = builds("toast", "--format", fmt, "--lang", lang, "--pdf")
    assert tex.read_text(encoding="utf-8") == _rendered("toast", fmt, lang)
    pdf = tex.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = "".join(_pages(pdf))
    assert ("ステップ" if lang == "ja" else "Step 1 of 4") in text
    assert sorted(p.name for p in tex.parent.iterdir()) == ["doc.pdf", "doc.tex"]  # no aux files left behind


def _rendered(scenario: str, fmt: str, lang: str, **options) -> str:
    from derive.present.render import render
    return render(build(scenario), fmt, lang, options=tex_options(**options))


def test_pdf_is_reproducible(builds, tmp_path):
    first = builds("toast", "--format", "latex", "--pdf").with_suffix(".pdf").read_bytes()
    assert main(["-q", "show", "toast", "--format", "latex", "--pdf", "-o", str(tmp_path / "again.tex")]) == 0
    assert (tmp_path / "again.pdf").read_bytes() == first


def test_a_missing_latexmk_exits_2_naming_its_package_and_writes_nothing(tmp_path, monkeypatch, capsys):
    real = pdf_module.shutil.which
    monkeypatch.setattr(pdf_module.shutil, "which", lambda tool: None if tool == "latexmk" else real(tool))
    assert main(["show", "toast", "--format", "latex", "--pdf", "-o", str(tmp_path / "t.tex")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "latexmk" in err and "apt-get install latexmk" in err
    assert list(tmp_path.iterdir()) == []  # neither the .tex nor the .pdf


def test_a_missing_engine_names_its_package_in_japanese(tmp_path, monkeypatch, capsys):
    real = pdf_module.shutil.which
    monkeypatch.setattr(pdf_module.shutil, "which", lambda tool: None if tool == "lualatex" else real(tool))
    require_tool("latexmk")
    assert main(["show", "toast", "--format", "beamer", "--lang", "ja", "--pdf", "-o", str(tmp_path / "t.tex")]) == 2
    err = capsys.readouterr().err
    assert "lualatex" in err and "texlive-luatex" in err and "インストールされていません" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("lang, says", [("en", "pdftoppm is not installed"), ("ja", "インストールされていません")])
def test_a_missing_pdftoppm_exits_2_naming_poppler_before_any_tex_runs(lang, says, tmp_path, monkeypatch, capsys):
    from derive.present import standalone
    real = pdf_module.shutil.which
    monkeypatch.setattr(pdf_module.shutil, "which", lambda tool: None if tool == "pdftoppm" else real(tool))
    monkeypatch.setattr(standalone, "latexmk_pdf", lambda *args, **kwargs: pytest.fail("TeX ran for a PNG"))
    assert main(["show", "toast", "--figure", "png", "--lang", lang, "-o", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "apt-get install poppler-utils" in err
    assert list(tmp_path.iterdir()) == []


# --- page sizes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("aspect, ratio", [("16:9", 16 / 9), ("4:3", 4 / 3)])
def test_aspect_sets_the_slides_page_ratio(builds, aspect, ratio):
    width, height = _page_size(builds("toast", "--format", "beamer", "--aspect", aspect, "--pdf").with_suffix(".pdf"))
    assert width / height == pytest.approx(ratio, rel=0.01)


@pytest.mark.parametrize("paper, lang, size", [("a4", "en", (595.28, 841.89)), ("letter", "en", (612, 792)),
                                               ("letter", "ja", (612, 792))])
def test_paper_sets_the_articles_page_size(builds, paper, lang, size):
    pdf = builds("toast", "--format", "latex", "--lang", lang, "--paper", paper, "--pdf").with_suffix(".pdf")
    assert _page_size(pdf) == pytest.approx(size, abs=0.5)


# --- figures on the chosen page (issue 15, part 1) ---------------------------------------------------------------

def _words_off_the_sheet(pdf: Path) -> list[tuple[int, str]]:
    """(page, word) of every word that pdftotext places even partly outside its page (a page turned a quarter:
    pdftotext gives its words in the turned page's coordinates)."""
    off, turned = [], set(_rotated_pages(pdf))
    pages = re.split(r"<page ", _tool("pdftotext", "-bbox", str(pdf), "-"))[1:]
    for number, page in enumerate(pages, 1):
        width, height = map(float, re.match(r'width="([\d.]+)" height="([\d.]+)"', page).groups())
        if number in turned:
            width, height = height, width
        for x0, y0, x1, y1, word in re.findall(
                r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">([^<]*)</word>', page):
            if float(x0) < 0 or float(y0) < 0 or float(x1) > width or float(y1) > height:
                off.append((number, word))
    return off


def _rotated_pages(pdf: Path) -> list[int]:
    info = _tool("pdfinfo", "-f", "1", "-l", "999", str(pdf))
    return [int(n) for n, turn in re.findall(r"^Page\s+(\d+) rot:\s+(\d+)", info, re.M) if turn != "0"]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_letter_article_prints_its_big_graph_readable_and_on_the_sheet(builds, lang):
    """softmax-cross-entropy's graph is too wide for letter's text height at 8 pt: its landscape pages reach into
    the margins (the sizes: tests/test_slide_figures.py reads them from the TeX); everything stays on the sheet."""
    from test_slide_figures import assert_graph_texts_readable
    require_tool("lualatex" if lang == "ja" else "pdflatex")
    tex = builds("softmax-cross-entropy", "--format", "latex", "--lang", lang, "--paper", "letter", "--pdf")
    assert_graph_texts_readable(tex.read_text(encoding="utf-8"), False, tex)
    pdf = tex.with_suffix(".pdf")
    assert _page_size(pdf) == pytest.approx((612, 792), abs=0.5)
    rotated = _rotated_pages(pdf)
    assert len(rotated) == 3  # the forward graph, the full graph, the graph after the update
    pages = _pages(pdf)
    assert all(pages[n - 1].count("softmax") >= 6 for n in rotated)  # the six softmax nodes' names
    assert _words_off_the_sheet(pdf) == []


def test_a_4_3_deck_keeps_its_graphs_on_the_slide(builds):
    """sigmoid-sse on 4:3 slides: the steps show the neighbourhood below the overview, all on the slide."""
    from test_slide_figures import assert_graph_texts_readable
    tex = builds("sigmoid-sse", "--format", "beamer", "--aspect", "4:3", "--pdf")
    source = tex.read_text(encoding="utf-8")
    assert_graph_texts_readable(source, True, tex)
    assert "\n\\dvsavestack{" in source and "\n\\dvsavestep{" not in source
    pdf = tex.with_suffix(".pdf")
    assert _words_off_the_sheet(pdf) == []
    assert sum("Step 6 of 8" in page for page in _pages(pdf)) >= 1


def test_a_4_3_network_deck_in_japanese_gives_its_diagram_a_slide_of_its_own(builds):
    """relu-cross-entropy's diagram (10.5 cm) leaves no column for its caption on a 4:3 slide (10.8 cm): the caption
    goes on the next slide, and nothing runs off the sheet (it did, beside the diagram, before)."""
    require_tool("lualatex")
    network = str(Path(NETWORK).with_name("relu-cross-entropy.toml"))
    tex = builds.run("explain", "--network", network, "--format", "beamer", "--lang", "ja", "--aspect", "4:3", "--pdf",
                     name="relu.tex")
    pdf = tex.with_suffix(".pdf")
    assert _page_size(pdf)[0] / _page_size(pdf)[1] == pytest.approx(4 / 3, rel=0.01)
    slides = [page for page in _pages(pdf) if page.lstrip().startswith("ネットワークの図")]
    assert len(slides) == 2 and "重み" in slides[1]  # the diagram, then its caption
    assert _words_off_the_sheet(pdf) == []


# --- themes ---------------------------------------------------------------------------------------------------------

def test_every_whitelisted_theme_is_installed():
    found = _tool("kpsewhich", *(f"beamertheme{name}.sty" for name in THEMES)).split()
    assert len(found) == len(THEMES), set(THEMES) - {Path(p).stem.removeprefix("beamertheme") for p in found}


def test_a_theme_keeps_its_own_footline(builds):
    themed = builds("toast", "--format", "beamer", "--theme", "Madrid", "--pdf")
    source = themed.read_text(encoding="utf-8")
    assert "\\usetheme{Madrid}" in source and "\\setbeamertemplate{footline}" not in source
    # Madrid's footline: "frame / frames" at the bottom of every slide but the plain title; derive's own footline
    # gives the frame number alone
    footers = [re.findall(r"\b(\d+) / (\d+)\s*$", page.rstrip()) for page in _pages(themed.with_suffix(".pdf"))]
    assert footers[0] == [] and all(len(found) == 1 for found in footers[1:])
    numbers = [int(found[0][0]) for found in footers[1:]]
    assert numbers == sorted(numbers) and numbers[0] == 2 and {found[0][1] for found in footers[1:]} == {
        str(numbers[-1])}
    plain = _pages(builds("toast", "--format", "beamer", "--pdf").with_suffix(".pdf"))
    assert not any(re.search(r"\b\d+ / \d+\s*$", page.rstrip()) for page in plain)


# --- steps ----------------------------------------------------------------------------------------------------------

def test_steps_gives_slides_to_exactly_those_steps(builds):
    pages = _pages(builds("toast", "--format", "beamer", "--steps", "1-2,4", "--pdf").with_suffix(".pdf"))
    shown = {int(m.group(1)) for page in pages for m in re.finditer(rf"Step (\d) of {STEPS_OF_TOAST}", page)}
    assert shown == {1, 2, 4}
    summary = [page for page in pages if "Steps not shown in full" in page]
    assert len(summary) == 1
    rows = re.findall(r"^\s*(\d)\s+\S", summary[0].split("Upstream gradient", 1)[1], re.M)
    assert rows == ["3"]  # the omitted step, and only it, in the table


def test_steps_in_the_article_keeps_the_others_as_a_table(builds):
    tex = builds("toast", "--format", "latex", "--steps", "2", "--pdf")
    source = tex.read_text(encoding="utf-8")
    assert re.findall(r"\\subsection\*\{(\d)\.", source) == ["2"]
    assert source.count("\\subsection*{Steps not shown in full}") == 2  # before step 2 (step 1), after it (3, 4)
    text = "".join(_pages(tex.with_suffix(".pdf")))
    assert "Steps not shown in full" in text


def test_the_overlay_plan_skips_steps_not_chosen_but_knows_their_gradients():
    derivation = build("sigmoid-sse").derivation
    full = {s["step"]: s for frame in overlay_plan(derivation) for s in frame["slides"]}
    chosen = frozenset({1, 6, 7})
    plan = overlay_plan(derivation, chosen=chosen)
    slides = [s for frame in plan for s in frame["slides"]]
    assert {s["step"] for s in slides} == chosen
    assert all(s["known"] == full[s["step"]]["known"] for s in slides)  # as if every step had been shown
    assert [s["overlay"] for s in plan[0]["slides"]] == list(range(2, 2 + len(plan[0]["slides"])))


def test_steps_are_parsed_and_checked():
    assert parse_steps("1-3,5") == (1, 2, 3, 5)
    assert parse_steps(" 4 , 2-2 ") == (2, 4)
    assert tex_options(steps=[3, 1]).steps == (1, 3)
    for bad in ("", "1-", "a", "1;2", "0", "3-1", "1,,2", "99999"):
        with pytest.raises(ValueError):
            tex_options(steps=bad)


# --- body only and labels -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, lang", [("beamer", "en"), ("latex", "ja"), ("latex", "en")])
def test_a_body_only_fragment_compiles_inside_a_minimal_document(builds, fmt, lang, tmp_path):
    """Three fragments (two walk-throughs, a network's: its program quotes text) \\input into a document whose
    preamble is what the fragments' first lines say they need, nothing more."""
    options = ("--format", fmt, "--lang", lang, "--body-only")
    fragments = [builds("toast", *options, name="toast.tex"),
                 builds("linear-model", *options, "--steps", "2", name="lm.tex"),
                 builds.run("explain", "--network", NETWORK, *options, name="net.tex")]
    needs = []
    for fragment in fragments:
        text = fragment.read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
        assert "\\documentclass" not in code and "\\begin{document}" not in code and "\\end{document}" not in code
        needs.append([line[4:] for line in text.splitlines() if line.startswith("%   ")])
        assert set(FRAGMENT_PACKAGES) <= set(needs[-1])
    assert needs[0] == needs[1] == needs[2]
    engine = "lualatex" if lang == "ja" else "pdflatex"
    require_tool(engine)
    again = "\\againframe{toast-forward}\n" if fmt == "beamer" else ""
    document_class = "beamer" if fmt == "beamer" else "ltjsarticle" if lang == "ja" else "article"
    document = (f"% !TEX program = {engine}\n\\documentclass{{{document_class}}}\n" + "\n".join(needs[0])
                + "\n\\begin{document}\n" + "".join(f"\\input{{{f.name}}}\n" for f in fragments)
                + again + "\\end{document}\n")
    main_tex = tmp_path / "main.tex"
    main_tex.write_text(document, encoding="utf-8")
    beside = {path.name: path for fragment in fragments for path in fragment.parent.iterdir()}
    compiled = compile_tex(main_tex, beside=beside)
    twice = set(re.findall(r"Label `([^']+)' multiply defined", compiled.log))
    assert {label.split("<")[0] for label in twice} <= {"toast-forward"}  # Beamer's own warning for \againframe;
    # otherwise the two decks' frame labels differ
    pages = "".join(_pages(compiled.pdf))
    if fmt == "beamer":
        assert pages.count("Step 2 of") >= 2  # toast's and linear-model's step 2
    assert ("詳しく示していないステップ" if lang == "ja" else "Steps not shown in full") in pages  # linear-model's


def test_frame_labels_are_unique_and_the_same_in_every_language():
    labels = {}
    for lang in ("en", "ja"):
        source = _rendered("sigmoid-sse", "beamer", lang)
        labels[lang] = re.findall(r"\\begin\{frame\}\[[^]]*label=([\w-]+)", source)
        assert len(labels[lang]) == source.count("\\begin{frame}")
        assert len(set(labels[lang])) == len(labels[lang])
    # a section's later slides (-2, -3, …) depend on the length of its text; its first slide's label does not
    first_slides = {lang: [label for label in found if not re.search(r"(?<!step)-\d+$", label)]
                    for lang, found in labels.items()}
    assert first_slides["en"] == first_slides["ja"]
    assert {"sigmoid-sse-title", "sigmoid-sse-forward", "sigmoid-sse-backward", "sigmoid-sse-step-7",
            "sigmoid-sse-check"} <= set(labels["en"])


# --- one figure alone -----------------------------------------------------------------------------------------------

def test_figure_svg_goes_to_stdout(capsys):
    assert main(["show", "toast", "--figure", "svg"]) == 0
    root = ElementTree.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert root.tag.endswith("svg") and float(root.get("width")) > 100


def test_figure_pdf_is_the_graph_alone_and_png_its_picture(builds):
    require_tool("pdflatex")
    pdf = builds("toast", "--figure", "pdf", name="graph.pdf")
    assert "Pages:           1" in _tool("pdfinfo", str(pdf))
    width, height = _page_size(pdf)
    assert width > 2 * height  # the toast graph runs left to right
    words = _tool("pdftotext", str(pdf), "-").split()
    derivation = build("toast").derivation
    assert set(derivation.graph.leaves) <= set(words) and derivation.output in words
    assert number_text(derivation.values[derivation.output]) in words  # the forward value leaving the output
    png = builds("toast", "--figure", "png", name="graph.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    png_width, png_height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert png_width == pytest.approx(width / 72 * 200, abs=2) and png_height == pytest.approx(height / 72 * 200, abs=2)


# --- bad values -----------------------------------------------------------------------------------------------------

BAD = [
    (["--format", "beamer", "--theme", "Nope"], "--theme", "'Nope'"),
    (["--format", "beamer", "--aspect", "3:2"], "--aspect", "'3:2'"),
    (["--format", "latex", "--paper", "a5"], "--paper", "'a5'"),
    (["--format", "beamer", "--steps", "2-x"], "--steps", "'2-x'"),
    (["--format", "beamer", "--steps", "9"], "--steps", " 9"),
    (["--format", "latex", "--theme", "Madrid"], "--theme", "beamer"),
    (["--format", "beamer", "--paper", "letter"], "--paper", "latex"),
    (["--format", "markdown", "--body-only"], "--body-only", "latex"),
    (["--format", "latex", "--pdf"], "--pdf", "-o"),
    (["--format", "latex", "--pdf", "--body-only", "-o", "x.tex"], "--pdf", "--body-only"),
    (["--figure", "gif"], "--figure", "'gif'"),
    (["--figure", "png"], "--figure", "-o"),
    (["--figure", "svg", "--steps", "1"], "--figure", "--steps"),
]


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("args, option, detail", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_values_give_one_line_in_the_language_asked_for(args, option, detail, lang, capsys, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["show", "toast", "--lang", lang, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"derive: error: {option}: ") and detail in captured.err
    assert bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", captured.err)) == (lang == "ja")
    assert list(tmp_path.iterdir()) == []


def test_a_network_takes_no_steps_and_has_no_figure(capsys):
    assert main(["explain", "--network", NETWORK, "--format", "beamer", "--steps", "1"]) == 2
    assert main(["explain", "--network", NETWORK, "--figure", "svg"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("derive: error: --steps: ") and lines[1].startswith("derive: error: --figure: ")


# --- the Python API -------------------------------------------------------------------------------------------------

def test_explain_takes_the_controls_too(capsys):
    assert main(["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--format", "beamer", "--steps", "2",
                 "--aspect", "4:3"]) == 0
    slides = capsys.readouterr().out
    assert "aspectratio=43" in slides and "Steps not shown in full" in slides
    assert {k for k, _ in re.findall(r"Step (\d) of (\d)", slides)} == {"2"}
    assert "label=explain-forward" in slides


def test_the_api_takes_the_same_controls(tmp_path):
    import derive
    result = derive.scenario("toast")
    slides = result.render("beamer", aspect="4:3", theme="Madrid", steps="1,3")
    assert slides == _rendered("toast", "beamer", "en", aspect="4:3", theme="Madrid", steps="1,3")
    assert "aspectratio=43" in slides and "\\usetheme{Madrid}" in slides
    assert result.figure("svg").startswith(b"<!--")
    with pytest.raises(ValueError, match="^paper: .*latex"):
        result.render("beamer", paper="letter")
    fragment = result.save(tmp_path / "toast.tex", body_only=True)[0].read_text(encoding="utf-8")
    assert "\n\\begin{document}" not in fragment and "\n\\end{document}" not in fragment
