"""The LaTeX article and the Beamer slides: every scenario × {latex, beamer} × {en, ja} is rendered, compiled
with the real engine its first line names, and checked in the log (no error, no overfull box wider than 20 pt, no
missing glyph) and in the PDF (the linear-model slides have a page per backward step; PDFs are reproducible).

Each document is compiled once per session, in parallel (a session-scoped fixture compiles exactly the documents
the selected tests need). A missing engine fails under CI and skips elsewhere; a scenario or a Japanese catalog
that is not written yet is skipped with that reason.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, require_tool
from derive.locales import catalog
from derive.errors import DeriveError
from derive.files import write_atomic
from derive.present.pdf import (CompileError, Compiled, EngineMissing, compile_pdf, compile_tex, engine_for,
                        overfull_boxes, rerun_needed)
from derive.present.render import attachments, render
from derive.scenarios import SCENARIOS, build
from derive.present.formats import tex_engine
from derive.present.tex import align_rows, chain_members, escape_code, escape_prose, math_width, overlay_plan

FORMATS = ("latex", "beamer")
LANGS = ("en", "ja")
DOCUMENTS = [(s, f, lang) for s in SCENARIOS for f in FORMATS for lang in LANGS]
MAX_OVERFULL_PT = 20.0


def _doc_id(doc) -> str:
    return "-".join(doc)


def _missing_reason(scenario: str, lang: str) -> str | None:
    """Why a document cannot be rendered yet (its scenario module or its catalog is not written), or None."""
    module = f"derive.scenarios.{scenario.replace('-', '_')}"
    if importlib.util.find_spec(module) is None:
        return f"scenario {scenario} is not written yet"
    if f"scenario.{scenario}.title" not in catalog(lang):
        return f"the {lang} catalog of {scenario} is not written yet"
    return None


_WALKS: dict = {}


def _walk(scenario: str):
    if scenario not in _WALKS:
        _WALKS[scenario] = build(scenario)
    return _WALKS[scenario]


def _render(doc) -> str:
    scenario, fmt, lang = doc
    reason = _missing_reason(scenario, lang)
    if reason:
        pytest.skip(reason)
    return render(_walk(scenario), fmt, lang)


class Compilations:
    """The documents of this session, each rendered and compiled at most once (in parallel on first use)."""

    def __init__(self, folder: Path, wanted: list[tuple[str, str, str]]) -> None:
        self.folder = folder
        self.wanted = wanted
        self.results: dict[tuple[str, str, str], Compiled | Exception] = {}
        self.total_seconds = 0.0

    def _one(self, doc) -> Compiled | Exception:
        scenario, fmt, lang = doc
        tex = self.folder / f"{scenario}-{fmt}-{lang}.tex"
        try:
            tex.write_text(render(_walk(scenario), fmt, lang), encoding="utf-8")
            for name, data in attachments(_walk(scenario), fmt, None).items():  # plots beside the .tex
                # atomically: the en and ja documents of a scenario share the plot, and another thread's TeX run
                # may be reading it right now
                write_atomic(self.folder / name, data)
            return compile_tex(tex)
        except (DeriveError, OSError) as error:
            return error

    def _compile_all(self) -> None:
        todo = [d for d in self.wanted if d not in self.results and _missing_reason(d[0], d[2]) is None
                and shutil.which(tex_engine(d[2]))]
        started = time.monotonic()
        # One LuaLaTeX run first: on a fresh machine it builds the font cache, which parallel runs would race for.
        first = next((d for d in todo if tex_engine(d[2]) == "lualatex"), None)
        if first is not None:
            self.results[first] = self._one(first)
            todo.remove(first)
        # Big documents first, so that the pool does not end waiting on one of them.
        todo.sort(key=lambda d: (d[1] != "beamer", d[0] in ("toast", "linear-model")))
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            for doc, result in zip(todo, pool.map(self._one, todo)):
                self.results[doc] = result
        self.total_seconds += time.monotonic() - started
        timings = sorted((r.seconds, _doc_id(d)) for d, r in self.results.items() if isinstance(r, Compiled))
        sys.stderr.write(f"\n[test_tex] compiled {len(timings)} documents in {self.total_seconds:.1f} s: "
                         + ", ".join(f"{name} {s:.1f} s" for s, name in reversed(timings)) + "\n")

    def get(self, doc) -> Compiled:
        scenario, fmt, lang = doc
        reason = _missing_reason(scenario, lang)
        if reason:
            pytest.skip(reason)
        require_tool(tex_engine(lang))  # a failure under CI, a skip elsewhere
        if doc not in self.results:
            if doc not in self.wanted:
                self.wanted.append(doc)
            self._compile_all()
        result = self.results[doc]
        if isinstance(result, CompileError):
            pytest.fail(f"{_doc_id(doc)}: {result}\n--- log tail ---\n{result.log[-3000:]}")
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture(scope="session")
def compiled(request, tmp_path_factory) -> Compilations:
    wanted = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "doc" in callspec.params and item.module.__name__.endswith("test_tex"):
            if callspec.params["doc"] not in wanted:
                wanted.append(callspec.params["doc"])
    return Compilations(tmp_path_factory.mktemp("tex"), wanted)


# --- the documents ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", DOCUMENTS, ids=_doc_id)
def test_first_line_names_the_engine(doc):
    text = _render(doc)
    engine = tex_engine(doc[2])
    assert text.splitlines()[0] == f"% !TEX program = {engine}"
    assert engine_for(text) == engine
    assert "\\date{}" in text  # \today would print the date of the build
    assert text.rstrip().endswith("\\end{document}")


def _missing_glyphs(log: str) -> list[str]:
    """The characters the log says no font had (they print as nothing or as empty boxes)."""
    return sorted(set(re.findall(r"^Missing character: There is no (.*?) in font", log, re.M)))


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_doc_id)
def test_compiles_cleanly(doc, compiled):
    result = compiled.get(doc)
    assert result.pdf.exists() and result.pdf.stat().st_size > 1000
    assert result.pdf.read_bytes().startswith(b"%PDF-")
    wide = overfull_boxes(result.log, MAX_OVERFULL_PT)
    assert not wide, f"overfull \\hbox wider than {MAX_OVERFULL_PT} pt: {wide[:5]}"
    tall = [float(m) for m in re.findall(r"^Overfull \\vbox \((\d+(?:\.\d+)?)pt too high\)", result.log, re.M)]
    assert not [h for h in tall if h > MAX_OVERFULL_PT], f"material runs off a page (overfull \\vbox): {tall[:5]}"
    missing = _missing_glyphs(result.log)
    assert not missing, f"glyphs missing from the fonts (they would print as empty boxes): {missing}"
    assert not re.search(r"^! ", result.log, re.M)
    overflows = re.findall(r"^dv-overflow: .*$", result.log, re.M)  # a step's text ran past its slide
    assert not overflows, overflows[:3]


@pytest.mark.parametrize("lang", LANGS)
def test_linear_model_slides_have_a_page_per_backward_step(lang, compiled):
    doc = ("linear-model", "beamer", lang)
    result = compiled.get(doc)
    pdfinfo = require_tool("pdfinfo")
    info = subprocess.run([pdfinfo, str(result.pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    steps = len(_walk("linear-model").derivation.steps)
    assert pages >= steps
    # and each step has its own overlay in the backward frame: "Step k of n" appears on a page of its own
    pdftotext = require_tool("pdftotext")
    text = subprocess.run([pdftotext, str(result.pdf), "-"], capture_output=True, text=True, check=True).stdout
    heading = catalog(lang)["tex.step"]
    shown = {k for k in range(1, steps + 1) if heading.format(k=k, n=steps) in text}
    assert shown == set(range(1, steps + 1))


# --- reproducibility and the engine -----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_compiling_twice_gives_identical_pdfs(lang, tmp_path):
    require_tool(tex_engine(lang))
    if _missing_reason("toast", lang):
        pytest.skip(_missing_reason("toast", lang))
    source = tmp_path / "a" / "toast.tex"
    source.parent.mkdir()
    source.write_text(render(_walk("toast"), "latex", lang), encoding="utf-8")
    first = compile_pdf(source).read_bytes()
    other = tmp_path / "b" / "elsewhere.tex"  # another folder and name: the output must not depend on them
    other.parent.mkdir()
    shutil.copyfile(source, other)
    second = compile_pdf(other).read_bytes()
    assert first == second
    assert b"/CreationDate (D:19700101000000Z)" in first or b"/CreationDate(D:19700101000000Z)" in first


def test_engine_for_reads_the_first_line():
    assert engine_for("% !TEX program = lualatex\n\\documentclass{article}") == "lualatex"
    assert engine_for("%!TEX program=pdflatex\n") == "pdflatex"
    with pytest.raises(DeriveError):
        engine_for("\\documentclass{article}\n% !TEX program = lualatex\n")
    with pytest.raises(DeriveError):
        engine_for("% !TEX program = xelatex\n")


def test_a_missing_engine_is_a_clear_error(tmp_path, monkeypatch):
    tex = tmp_path / "doc.tex"
    tex.write_text("% !TEX program = pdflatex\n\\documentclass{article}\\begin{document}x\\end{document}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EngineMissing, match="pdflatex") as info:
        compile_pdf(tex)
    assert info.value.exit_code == 2  # a missing program is the user's to install, never an internal error
    assert not tex.with_suffix(".pdf").exists()


def test_a_failing_document_reports_its_error_and_writes_no_pdf(tmp_path):
    require_tool("pdflatex")
    tex = tmp_path / "bad.tex"
    tex.write_text("% !TEX program = pdflatex\n"
                   "\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    with pytest.raises(CompileError, match="Undefined control sequence"):
        compile_pdf(tex)
    assert not tex.with_suffix(".pdf").exists()


def test_overfull_boxes_are_read_from_the_log():
    log = ("Overfull \\hbox (3.5pt too wide) in paragraph at lines 1--2\n"
           "Overfull \\hbox (25.01pt too wide) detected at line 7\n")
    assert overfull_boxes(log) == [(3.5, "in paragraph at lines 1--2"), (25.01, "detected at line 7")]
    assert overfull_boxes(log, 20) == [(25.01, "detected at line 7")]


_NEW_LABELS = "LaTeX Warning: Label(s) may have changed. Rerun to get cross-references right.\n"
_UNDEFINED = ("LaTeX Warning: Reference `fig:1' on page 2 undefined on input line 40.\n"
              "LaTeX Warning: There were undefined references.\n")
_WIDTHS = "Package longtable Warning: Table widths have changed. Rerun LaTeX.\n"
_OUTLINES = ("Package rerunfilecheck Warning: File `document.out' has changed.\n"
             "(rerunfilecheck) Rerun to get outlines right\n")


@pytest.mark.parametrize("log,runs,reads_back,expected", [
    ("", 1, True, False),
    ("Package: rerunfilecheck 2022-07-10 v1.10 Rerun checks for auxiliary files (HO)\n", 1, True, False),
    (_NEW_LABELS, 1, True, True),  # the plain rule: LaTeX asks, so run again
    (_NEW_LABELS, 1, False, False),  # labels new, not changed, and nothing read them
    (_NEW_LABELS, 2, False, True),  # labels that changed between two runs
    (_UNDEFINED + _NEW_LABELS, 1, False, True),  # a reference met a label the first run did not know yet
    (_NEW_LABELS + _WIDTHS, 1, False, True),
    (_NEW_LABELS + _OUTLINES, 1, False, True),
    (_WIDTHS, 1, False, True),
], ids=["quiet", "package-banner", "labels", "new-labels-read-by-nothing", "labels-changed-again",
        "undefined-reference", "longtable", "outlines", "longtable-alone"])
def test_a_rerun_follows_the_log(log, runs, reads_back, expected):
    assert rerun_needed(log, runs, reads_back) is expected


# --- prose and chains -------------------------------------------------------------------------------------------

def test_escape_prose_leaves_maths_alone_and_escapes_the_rest():
    assert escape_prose("50% of $\\frac{a}{b}$ & more #1 {x}") == \
        "50\\% of $\\frac{a}{b}$ \\& more \\#1 \\{x\\}"
    assert escape_prose("(y' − y)² with η") == "(y' $-$ y)$^{2}$ with $\\eta$"
    assert escape_prose("σ(1 − σ)") == "$\\sigma$(1 $-$ $\\sigma$)"
    assert escape_prose("y_k and y_{kj}") == "$y_{k}$ and $y_{kj}$"
    assert escape_prose("written y_ in the program") == "written \\texttt{y\\_} in the program"
    assert escape_prose("Use --wrt w,b") == "Use \\texttt{-{}-{}wrt} w,b"
    assert escape_prose("a ~ b ^ c \\ d") == "a \\textasciitilde{} b \\^{} c \\textbackslash{} d"
    assert escape_prose("誤差 $E$ を、η で") == "誤差 $E$ を、$\\eta$ で"


def test_escape_code_keeps_every_character():
    assert escape_code("s = -y; t = y_ * 2") == "s\\ =\\ -{}\\allowbreak{}y;\\ t\\ =\\ y\\_\\ {*}\\allowbreak{}\\ 2"


def test_escape_code_lets_a_long_line_break_after_an_operator():
    assert escape_code("a+b/c") == "a+\\allowbreak{}b/\\allowbreak{}c"


def test_chains_split_at_top_level_equals_only():
    chain = "\\frac{\\partial f}{\\partial t} = \\left(a = b\\right) = {x = y} = 4"
    assert chain_members(chain) == ["\\frac{\\partial f}{\\partial t}", "\\left(a = b\\right)", "{x = y}", "4"]
    assert align_rows("a = b = c") == "a &= b \\\\\n  &= c"


def test_long_members_break_before_top_level_operators():
    term = "\\left(A_{1} - Y_{1}\\right) \\cdot A_{1} \\cdot \\left(1 - A_{1}\\right) \\cdot x_{11}"
    long = " + ".join([term] * 4)
    rows = align_rows("\\frac{\\partial E}{\\partial w} = " + long + " = 0.1", budget=38)
    lines = rows.split("\\\\\n")
    assert len(lines) >= 3 and lines[-1].strip() == "&= 0.1"
    assert any(line.strip().startswith("&\\quad {}+") for line in lines)
    assert all(math_width(line) <= 40 for line in lines)


def test_overlay_plan_gives_each_backward_step_an_overlay():
    walk = _walk("linear-model")
    frames = overlay_plan(walk.derivation)
    slides = [s for f in frames for s in f["slides"]]
    assert frames[0]["start"]
    # one overlay per input of each step, in order (a step's inputs are split over overlays, never shrunk)
    assert [s["step"] for s in slides] == [k for k, step in enumerate(walk.derivation.steps)
                                           for _ in range(max(len(step.terms), 1))]
    assert all(s["parts"] == max(len(walk.derivation.steps[s["step"]].terms), 1) for s in slides)
    assert [s["overlay"] for s in slides] == [k + 2 for k in range(len(slides))]
    assert all("highlight" in s["figure"][0] and not s["figure"][1] for s in slides)  # the current node; whole
    assert slides[0]["fresh"] == ["t"] and slides[-1]["fresh"] == ["w", "x"]  # the gradients each step writes
    names = {n.name for n in walk.derivation.graph.nodes}
    assert slides[0]["known"] == ["f", "t"]  # ∂f/∂f = 1, then f = t·t gives ∂f/∂t
    assert set(slides[-1]["known"]) == names  # in the end every gradient is drawn in red
    for before, after in zip(slides, slides[1:]):
        assert set(before["known"]) <= set(after["known"])


# --- the gallery's own .tex of every document kind -------------------------------------------------------------

GALLERY_KINDS = {  # kind: (its .tex in the gallery, the catalog key of its title)
    "scenario-article": ("toast/{lang}.tex", "scenario.toast.title"),
    "network-deck": ("networks/design-example/{lang}-slides.tex", "network.title"),
    "network-article": ("networks/design-example/{lang}.tex", "network.title"),
    "verify-report": ("verify/linear-model/{lang}.tex", "verify.title"),
}
GALLERY_TEX = [(kind, lang) for kind in GALLERY_KINDS for lang in LANGS]
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji


@pytest.fixture(scope="session")
def gallery_pdfs(gallery, tmp_path_factory) -> dict[tuple[str, str], tuple[str, Compiled | Exception]]:
    """Each of GALLERY_TEX compiled once per session, in parallel (after one LuaLaTeX run for its font cache): its
    .tex source, and the compiled PDF with its log (or the error)."""
    for lang in LANGS:
        require_tool(tex_engine(lang))  # a failure under CI, a skip elsewhere
    folder = tmp_path_factory.mktemp("gallery-tex")

    def one(key: tuple[str, str]) -> tuple[str, Compiled | Exception]:
        kind, lang = key
        source = gallery / GALLERY_KINDS[kind][0].format(lang=lang)
        tex = folder / f"{kind}-{lang}" / source.name
        tex.parent.mkdir()
        text = source.read_text(encoding="utf-8")
        tex.write_text(text, encoding="utf-8")
        try:
            return text, compile_tex(tex)
        except DeriveError as error:
            return text, error

    first, rest = GALLERY_TEX[1], GALLERY_TEX[:1] + GALLERY_TEX[2:]
    results = {first: one(first)}
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        results.update(zip(rest, pool.map(one, rest)))
    return results


def _squeezed(text: str) -> str:
    """The text without white space: pdftotext breaks lines and puts spaces as it likes."""
    return re.sub(r"\s+", "", text)


def _pdf_text(pdf: Path) -> str:
    pdftotext = require_tool("pdftotext")
    return subprocess.run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("kind,lang", GALLERY_TEX, ids=["-".join(k) for k in GALLERY_TEX])
def test_the_gallerys_tex_prints_its_language(kind, lang, gallery_pdfs):
    """Every kind of gallery document compiles with its language's engine, Japanese ones with luatexja: no glyph
    is missing from the log, the PDF's text holds the title and every kana and kanji of the source."""
    source, result = gallery_pdfs[(kind, lang)]
    if isinstance(result, CompileError):
        pytest.fail(f"{kind}-{lang}: {result}\n--- log tail ---\n{result.log[-3000:]}")
    if isinstance(result, Exception):
        raise result
    assert engine_for(source) == tex_engine(lang)
    assert not _missing_glyphs(result.log), f"glyphs missing from the fonts: {_missing_glyphs(result.log)[:10]}"
    text = _pdf_text(result.pdf)
    title = catalog(lang)[GALLERY_KINDS[kind][1]]
    assert _squeezed(title) in _squeezed(text)
    prose = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    wanted = set(_JAPANESE.findall(prose))
    assert bool(wanted) == (lang == "ja")
    assert wanted <= set(_JAPANESE.findall(text)), f"not in the PDF: {sorted(wanted - set(_JAPANESE.findall(text)))[:20]}"
    if lang == "ja":
        assert r"\usepackage{luatexja}" in source or "{ltjsarticle}" in source


_LEAD_IN_DECKS = [("optimizers", lang) for lang in LANGS] + [
    (f"network:{stem}", lang) for stem in ("design-example", "batch-sigmoid-sse", "relu-cross-entropy")
    for lang in LANGS]


@pytest.mark.parametrize("deck,lang", _LEAD_IN_DECKS, ids=["-".join(d) for d in _LEAD_IN_DECKS])
def test_no_slide_holds_a_lead_in_alone(deck, lang):
    """A sentence that introduces what follows ("Layer 2:", "The error E after each step:") shares its slide with
    it: no frame's material ends with such a sentence (issue 15: slides holding only "Layer 2:")."""
    from derive.networks import explain_file
    document = (explain_file(ROOT / "examples" / "networks" / f"{deck.split(':')[1]}.toml")
                if deck.startswith("network:") else _walk(deck))
    tex = render(document, "beamer", lang)
    frames = re.findall(r"\\dvfitpage\{\\dvavail\}\{%\n(.*?)\n\}\n\\end\{frame\}", tex, re.S)
    assert frames
    alone = [frame for frame in frames if frame.rstrip().endswith((":", "\uff1a"))]
    assert not alone, alone[:3]
