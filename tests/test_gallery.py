"""`derive build`: the committed output/ is what the build produces, and a second build changes no byte."""
from __future__ import annotations

import dataclasses
import filecmp
import html
import io
import json
import re
import shlex
import shutil
from pathlib import Path

from conftest import ROOT
from derive.cli import main
from derive.present.html import group_command
from test_packaging import assert_same_text_files, text_files


def test_committed_output_is_up_to_date(gallery):
    assert_same_text_files(gallery, ROOT / "output")


def test_second_build_is_byte_identical(gallery, tmp_path):
    again = tmp_path / "again"
    assert main(["build", "--out", str(again), "--no-pdf"]) == 0
    names = sorted(text_files(gallery))
    _, mismatch, errors = filecmp.cmpfiles(gallery, again, names, shallow=False)
    assert names and not mismatch and not errors


def test_gallery_has_every_scenario_format_and_language(gallery):
    from derive.gallery import gallery_files, relative_path
    for scenario, fmt, lang in gallery_files():
        assert (gallery / relative_path(scenario, fmt, lang)).is_file()


def _stand_in_compiler(monkeypatch, compiled: list[str]) -> None:
    """Compiling replaced by a stand-in that writes a PDF naming its .tex (the real engines run in test_tex)."""
    import derive.gallery as gallery_module

    def compile_one(tex: Path, text: str | None, pdf_path: Path, beside) -> Path:
        compiled.append(tex.name)
        pdf_path.write_bytes(b"%PDF stand-in for " + (text or tex.read_text()).encode()[:64])
        return pdf_path
    monkeypatch.setattr(gallery_module, "_compile", compile_one)


def test_index_is_the_same_whether_or_not_pdfs_are_compiled(gallery, tmp_path, monkeypatch):
    """The committed output/ is built with --no-pdf; the README's main job (a full build) must leave it unchanged,
    so the tests still pass after it."""
    import derive.gallery as gallery_module
    _stand_in_compiler(monkeypatch, [])
    full = tmp_path / "full"
    summary = gallery_module.build_gallery(full, pdf=True)
    assert {tex.with_suffix(".pdf") for tex in full.rglob("*.tex")} == set(summary.compiled) <= set(summary.written)
    assert (full / "index.html").read_bytes() == (gallery / "index.html").read_bytes()
    assert 'href="toast/en.pdf"' in (gallery / "index.html").read_text(encoding="utf-8")


def _documents(group: str | None = None, fail: bool = False):
    """The gallery's documents (those of ``group``), each recording its path in ``rendered`` when rendered; with
    ``fail``, rendering one is an error."""
    from derive import gallery as gallery_module
    rendered: list[str] = []

    def recorded(doc):
        def render():
            assert not fail, f"{doc.path} was rendered although nothing changed"
            rendered.append(doc.path)
            return doc.render()
        return dataclasses.replace(doc, render=render)
    docs = [recorded(d) for d in gallery_module.documents() if group is None or d.group == group]
    return docs, rendered


def test_a_second_build_renders_nothing_and_says_so(gallery, monkeypatch):
    from derive import gallery as gallery_module
    before = {p: p.read_bytes() for p in gallery.rglob("*") if p.is_file()}
    docs, _ = _documents(fail=True)
    monkeypatch.setattr(gallery_module, "documents", lambda: docs)
    progress = io.StringIO()
    summary = gallery_module.build_gallery(gallery, progress, pdf=False, jobs=2)  # rendering would fail the test
    assert summary.written == () and not summary.skipped
    assert {p: p.read_bytes() for p in gallery.rglob("*") if p.is_file()} == before
    assert set(summary.unchanged) == {p for p in before if ".cache" not in p.parts}
    lines = progress.getvalue().splitlines()
    assert lines[0] == f"[1/{len(docs)}] {docs[0].path} (unchanged)"
    assert lines[len(docs) - 1] == f"[{len(docs)}/{len(docs)}] {docs[-1].path} (unchanged)"
    assert lines[len(docs):] == [f"derive: 0 files written, {len(summary.unchanged)} unchanged",
                                 f"derive: open {gallery / 'index.html'}"]


def test_every_template_file_counts_for_the_build_cache():
    """A page inlines its templates' files (html/style.css, html/stepthrough.js): each kind of file under templates/
    is part of the digest that says whether the gallery must be rendered again."""
    from derive import buildcache
    from derive.present.render import templates_root

    kinds = {path.suffix for path in Path(templates_root()).rglob("*") if path.is_file()
             and "__pycache__" not in path.parts}
    assert kinds <= buildcache.SOURCE_SUFFIXES


def test_only_what_changed_is_rebuilt(gallery, tmp_path, monkeypatch):
    """A changed or missing file is written again (and only its document is rendered); every byte ends as a
    build from scratch writes it."""
    from derive import gallery as gallery_module
    out = tmp_path / "output"
    shutil.copytree(gallery, out)
    (out / "toast" / "en.md").write_text("edited by hand\n", encoding="utf-8")
    (out / "linear-model" / "ja-slides.tex").unlink()
    docs, rendered = _documents()
    monkeypatch.setattr(gallery_module, "documents", lambda: docs)
    summary = gallery_module.build_gallery(out, pdf=False)
    assert sorted(rendered) == ["linear-model/ja-slides.tex", "toast/en.md"]
    assert sorted(summary.written) == [out / "linear-model" / "ja-slides.tex", out / "toast" / "en.md"]
    names = sorted(text_files(gallery))
    _, mismatch, errors = filecmp.cmpfiles(gallery, out, names, shallow=False)
    assert not mismatch and not errors


def test_a_missing_engine_skips_its_pdfs_with_the_reason(tmp_path, monkeypatch):
    import derive.present.pdf as pdf_module
    from derive import gallery as gallery_module
    compiled: list[str] = []
    _stand_in_compiler(monkeypatch, compiled)
    docs, _ = _documents("toast")
    monkeypatch.setattr(gallery_module, "documents", lambda: docs)
    monkeypatch.setattr(pdf_module, "engine_available", lambda engine: engine != "lualatex")
    progress = io.StringIO()
    out = tmp_path / "output"
    summary = gallery_module.build_gallery(out, progress, pdf=True)
    figure_pages = [name for name in compiled if name.startswith("dvfigures-")]
    assert len(figure_pages) == 1  # the folder's pictures, typeset once for all four documents
    assert sorted(set(compiled) - set(figure_pages)) == ["en-slides.tex", "en.tex"]
    assert sorted(p.name for p, _ in summary.skipped) == ["ja-slides.pdf", "ja.pdf"]
    text = progress.getvalue()
    assert "] toast/ja.pdf (skipped: lualatex not found)\n" in text
    assert "] toast/en.pdf\n" in text
    assert ("derive: skipped 2 PDFs: lualatex not found (install TeX Live, Debian/Ubuntu: texlive-luatex "
            "texlive-lang-japanese; macOS: MacTeX; see the README's Requirements)\n") in text
    assert text.endswith(f"derive: open {out / 'index.html'}\n")
    cache = out / ".cache" / "figures"
    current = sorted(p.name for p in cache.iterdir())
    (cache / "dvfigures-of-an-older-build.pdf").write_bytes(b"%PDF old")
    compiled.clear()
    gallery_module.build_gallery(out, progress, pdf=True)
    assert compiled == []  # the PDFs that were made are up to date; the skipped ones are still skipped
    assert sorted(p.name for p in cache.iterdir()) == current  # figure PDFs no document uses are dropped


def test_pdfs_are_the_same_bytes_with_a_cold_or_a_warm_cache(tmp_path, monkeypatch):
    """The toast slides in both languages, compiled for real: once from nothing (the folder's figure PDF is
    compiled), once into another folder whose figure cache is warm (it is not compiled again), then again into the
    first folder (nothing is compiled). Every PDF is byte-identical across the three, and to the PDF of the same
    source compiled as often as LaTeX asks (the gallery compiles its documents once: `gallery.READS_BACK`)."""
    from conftest import require_tool
    from derive import gallery as gallery_module
    require_tool("pdflatex")
    require_tool("lualatex")
    docs = [d for d in gallery_module.documents() if d.group == "toast" and d.fmt == "beamer"]
    monkeypatch.setattr(gallery_module, "documents", lambda: docs)
    compiled: list[str] = []
    calls: list[tuple] = []
    real = gallery_module._compile
    monkeypatch.setattr(gallery_module, "_compile",
                        lambda tex, *rest: compiled.append(tex.name) or calls.append((tex, *rest)) or real(tex, *rest))
    import derive.present.pdf as pdf_module
    runs: list[int] = []
    compile_tex = pdf_module.compile_tex
    monkeypatch.setattr(pdf_module, "compile_tex", lambda *args, **kwargs: runs.append(
        (done := compile_tex(*args, **kwargs)).runs) or done)
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    first = gallery_module.build_gallery(cold, pdf=True)
    assert sorted(p.name for p in first.compiled) == ["en-slides.pdf", "ja-slides.pdf"]
    assert sorted(name.startswith("dvfigures-") for name in compiled) == [False, False, True]
    assert runs == [1, 1, 1]  # the figure document and both decks: one run each
    pdfs = {p.name: p.read_bytes() for p in (cold / "toast").glob("*.pdf")}
    assert sorted(pdfs) == ["en-slides.pdf", "ja-slides.pdf"]
    assert all(data.startswith(b"%PDF") for data in pdfs.values())

    # the plain rule (a second run whenever LaTeX asks) gives the same bytes that the gallery's one run did
    for tex, text, pdf_path, beside in calls:
        if text is None or tex.name.startswith("dvfigures-"):
            continue
        plain = compile_tex(tex, text=text, pdf_path=tmp_path / "plain" / pdf_path.name, beside=beside)
        assert plain.runs == 2, tex.name  # LaTeX does ask (every frame is a label): the one run is a real saving
        assert plain.pdf.read_bytes() == pdfs[pdf_path.name], tex.name

    shutil.copytree(cold / ".cache" / "figures", warm / ".cache" / "figures")
    compiled.clear()
    gallery_module.build_gallery(warm, pdf=True)
    assert sorted(compiled) == ["en-slides.tex", "ja-slides.tex"]  # the figure PDF came from the cache
    assert {p.name: p.read_bytes() for p in (warm / "toast").glob("*.pdf")} == pdfs

    compiled.clear()
    again = gallery_module.build_gallery(cold, pdf=True)
    assert compiled == [] and again.written == () and sorted(p.name for p in again.kept) == sorted(pdfs)
    assert {p.name: p.read_bytes() for p in (cold / "toast").glob("*.pdf")} == pdfs



_READ_BACK = re.compile(r"\\(?:ref|pageref|eqref|autoref|nameref|cref|Cref|cite|tableofcontents|listoffigures|"
                        r"listoftables|inserttotalframenumber|insert(?:sub)?sectionnavigation\w*|insertnavigation|"
                        r"againframe|usetheme|useoutertheme)(?![A-Za-z])")


def test_the_gallerys_documents_typeset_nothing_from_their_auxiliary_files(gallery):
    """The gallery compiles each document in one run (`gallery.READS_BACK`), which gives the bytes of a second run
    only while no document typesets what a run writes for the next: references, contents, the total frame count,
    a theme's navigation bars; and the decks hide the navigation symbols."""
    from derive import gallery as gallery_module
    assert gallery_module.READS_BACK is False
    sources = sorted(p for p in gallery.rglob("*.tex") if ".cache" not in p.parts)
    assert len(sources) == 52
    found = {p.relative_to(gallery).as_posix(): _READ_BACK.findall(p.read_text(encoding="utf-8")) for p in sources}
    assert {name: hits for name, hits in found.items() if hits} == {}
    decks = [p for p in sources if p.name.endswith("-slides.tex")]
    assert decks and all("\\setbeamertemplate{navigation symbols}{}" in p.read_text(encoding="utf-8") for p in decks)
    assert _READ_BACK.findall(r"\ref{a} \tableofcontents \inserttotalframenumber \usetheme{Warsaw} \reflectbox") \
        == ["\\ref", "\\tableofcontents", "\\inserttotalframenumber", "\\usetheme"]


def test_a_pdf_with_a_plot_does_not_depend_on_the_folder(tmp_path, monkeypatch):
    """pdfTeX records where it found an included PDF (/PTEX.FileName): the plot beside the .tex is compiled from a
    copy in TeX's work folder, so the same document built into two folders gives the same bytes."""
    from conftest import require_tool
    from derive import gallery as gallery_module
    require_tool("pdflatex")
    docs = [d for d in gallery_module.documents() if d.group == "optimizers" and d.fmt == "latex" and d.lang == "en"]
    monkeypatch.setattr(gallery_module, "documents", lambda: docs)
    built = {}
    for name in ("one", "another-folder"):
        summary = gallery_module.build_gallery(tmp_path / name, pdf=True)
        assert [p.name for p in summary.compiled] == ["en.pdf"]
        built[name] = (tmp_path / name / "optimizers" / "en.pdf").read_bytes()
        assert b"PTEX.FileName (./optimizers-" in built[name] and str(tmp_path).encode() not in built[name]
    assert built["one"] == built["another-folder"]


_SECTION = re.compile(r'<section class="scenario" id="([^"]+)">(.*?)</section>', re.S)


def _index_commands(gallery: Path) -> list[tuple[str, str, str]]:
    """(group, command, the group's English Markdown file) for every command the index shows."""
    shown = []
    for group, body in _SECTION.findall((gallery / "index.html").read_text(encoding="utf-8")):
        commands = re.findall(r"<code>(.*?)</code>", body)
        markdown = re.search(r'<a href="([^"]+/en\.md)"', body)
        assert len(commands) == 1 and markdown, group
        shown.append((group, html.unescape(commands[0]), markdown.group(1)))
    return shown


def test_every_command_the_index_shows_works(gallery, monkeypatch, capsys):
    """Each group's command, run in-process from the project's folder as a reader would type it, writes that
    group's document (its title line is the gallery's) and exits as the document says (a verify report of a
    document with a slip exits 1)."""
    monkeypatch.chdir(ROOT)
    shown = _index_commands(gallery)
    assert {group for group, _, _ in shown} >= {"toast", "network-batch-sigmoid-sse", "verify-sigmoid-sse-slip"}
    for group, command, markdown in shown:
        assert command == group_command(group)
        argv = shlex.split(command)
        assert argv[0] == "derive"
        expected = 0
        if argv[1] == "verify":
            stem = Path(markdown).parent.name
            expected = 0 if json.loads((gallery / "verify" / stem / f"{stem}.json").read_text())["ok"] else 1
        code = main(argv[1:])
        out, err = capsys.readouterr()
        assert code == expected, (command, err)
        assert "error" not in err, (command, err)
        title = (gallery / markdown).read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
        assert out.splitlines()[0].removeprefix("# ") == title, command


def test_the_costliest_compilation_waiting_runs_first():
    """The build's TeX runs are taken longest first (they all wait within its first seconds), so that it does not
    end on one long compilation with the other core idle; an error reaches whoever waits, and a shutdown cancels
    what has not started."""
    import threading
    from derive.gallery import CostliestFirst
    pool, started, release, ran = CostliestFirst(workers=1), threading.Event(), threading.Event(), []
    blocker = pool.submit(0.0, lambda: started.set() or release.wait(10))
    started.wait(10)
    futures = [pool.submit(cost, ran.append, cost) for cost in (1.0, 5.0, 3.0, 5.0)]
    failing = pool.submit(2.0, lambda: 1 / 0)
    release.set()
    assert blocker.result(10) is True and [f.result(10) for f in futures] == [None] * 4
    assert ran == [5.0, 5.0, 3.0, 1.0]
    assert isinstance(failing.exception(10), ZeroDivisionError)
    started.clear()
    release.clear()
    pool.submit(0.0, lambda: started.set() or release.wait(10))
    started.wait(10)
    waiting = pool.submit(1.0, ran.append, "never")
    pool.shutdown()
    release.set()
    assert waiting.cancelled() and "never" not in ran


def test_compile_time_estimates_order_the_kinds_of_run():
    from derive.gallery import tex_seconds
    source = "x" * 40_000
    assert tex_seconds("lualatex", "beamer", source) > tex_seconds("lualatex", "latex", source) \
        > tex_seconds("pdflatex", "beamer", source) > tex_seconds("pdflatex", "latex", source)
    assert tex_seconds("pdflatex", "figures", "x" * 200_000) > tex_seconds("lualatex", "beamer", "x" * 80_000)


SAMPLE_FOLDERS = ("toast", "sigmoid-sse", "network-design-example", "verify-linear-model")
"""Folders of every kind (a scenario with a plot, an example network, a verification example), for the builds that
compare how many processes render."""


def test_one_process_and_two_write_the_same_bytes(gallery, tmp_path, monkeypatch):
    """With two jobs the folders are rendered costliest first, some by a worker process and some by the build's own
    process between writes; every byte is the one a build in one process writes (and the session's gallery)."""
    from derive import gallery as gallery_module
    docs = [doc for doc in gallery_module.documents() if doc.group in SAMPLE_FOLDERS]
    monkeypatch.setattr(gallery_module, "documents", lambda: docs)
    built = {}
    for jobs in (1, 2):
        progress = io.StringIO()
        gallery_module.build_gallery(tmp_path / f"jobs{jobs}", progress, pdf=False, jobs=jobs)
        written = [line.split("] ", 1)[1] for line in progress.getvalue().splitlines() if line.startswith("[")]
        assert written == [doc.path for doc in docs]  # written in gallery order either way
        built[jobs] = {path.relative_to(tmp_path / f"jobs{jobs}"): path.read_bytes()
                       for path in (tmp_path / f"jobs{jobs}").rglob("*") if path.is_file() and ".cache" not in path.parts}
    assert built[1] == built[2]
    folders = {Path(doc.path).parent for doc in docs}
    assert {name for name in built[1] if name.parent in folders} == {
        path.relative_to(gallery) for folder in folders for path in (gallery / folder).iterdir() if path.is_file()}
    assert all(data == (gallery / name).read_bytes() for name, data in built[1].items() if name.parent in folders)


def test_the_costliest_folders_are_rendered_first():
    """Every scenario and example network has a cost estimate (a new one must be given its own), so that the
    longest folders start first and the build does not end with one process rendering and the other idle."""
    from derive.gallery import FOLDER_SECONDS, UNKNOWN_FOLDER_SECONDS, costliest_first, documents
    groups = list(dict.fromkeys(doc.group for doc in documents()))
    rendered = [group for group in groups if not group.startswith("verify-")]
    assert set(rendered) == set(FOLDER_SECONDS)
    assert all(FOLDER_SECONDS[group] > UNKNOWN_FOLDER_SECONDS for group in rendered)
    order = costliest_first(dict.fromkeys(groups, []))
    assert order[:2] == ["vanishing-gradients", "delta-recurrence"]
    assert order[-4:] == [group for group in groups if group.startswith("verify-")]  # equal costs: gallery order
    assert [FOLDER_SECONDS.get(group, UNKNOWN_FOLDER_SECONDS) for group in order] == sorted(
        (FOLDER_SECONDS.get(group, UNKNOWN_FOLDER_SECONDS) for group in groups), reverse=True)
