"""`derive build`: the committed output/ is what the build produces, and a second build changes no byte."""
from __future__ import annotations

import filecmp

from conftest import ROOT
from derive.cli import main
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


def test_index_is_the_same_whether_or_not_pdfs_are_compiled(gallery, tmp_path, monkeypatch):
    """The committed output/ is built with --no-pdf; the README's main job (a full build) must leave it unchanged,
    so the tests still pass after it. Compiling is replaced by a stand-in that writes the PDFs' paths only."""
    import derive.gallery as gallery_module

    def compile_all(tex_files, bar):
        for tex in tex_files:
            tex.with_suffix(".pdf").write_bytes(b"%PDF stand-in\n")
        return [tex.with_suffix(".pdf") for tex in tex_files]
    monkeypatch.setattr(gallery_module, "_compile_all", compile_all)
    full = tmp_path / "full"
    written = gallery_module.build_gallery(full, pdf=True)
    assert {tex.with_suffix(".pdf") for tex in full.rglob("*.tex")} <= set(written)
    assert (full / "index.html").read_bytes() == (gallery / "index.html").read_bytes()
    assert 'href="toast/en.pdf"' in (gallery / "index.html").read_text(encoding="utf-8")


def test_a_build_without_tex_goes_on_and_says_so_at_the_end(tmp_path, monkeypatch):
    import io

    import derive.gallery as gallery_module
    tex_files = []
    for name, engine in (("en.tex", "pdflatex"), ("ja.tex", "lualatex"), ("ja-slides.tex", "lualatex")):
        tex_files.append(tmp_path / name)
        tex_files[-1].write_text(f"% !TEX program = {engine}\n\\documentclass{{article}}\n", encoding="utf-8")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    log = io.StringIO()
    bar = gallery_module.Progress(len(tex_files), log)
    assert gallery_module._compile_all(tex_files, bar) == [None, None, None]
    assert "warning" not in log.getvalue()  # said once, at the end
    bar.report("wrote 3 files")
    last = log.getvalue().splitlines()[-3:]
    assert last[0] == "derive: wrote 3 files"
    assert last[1].startswith("derive: warning: lualatex is not installed: skipped the 2 PDF(s)")
    assert last[2].startswith("derive: warning: pdflatex is not installed: skipped the 1 PDF(s)")
    assert "texlive-lang-japanese" in last[1] and "texlive-latex-extra" in last[2]
    assert not list(tmp_path.glob("*.pdf"))
