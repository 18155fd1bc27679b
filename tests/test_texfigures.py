"""The gallery typesets each distinct graph picture of a folder once (derive/present/texfigures.py)."""
from __future__ import annotations

import re

import pytest

from derive.present.render import render
from derive.scenarios import build
from derive.present.texfigures import figure_document, externalized, occurrences


@pytest.fixture(scope="module")
def toast_texts():
    walk = build("toast")
    return [render(walk, fmt, lang) for fmt in ("latex", "beamer") for lang in ("en", "ja")]


def test_every_distinct_picture_is_one_page_and_pinned_pages_follow_their_recording(toast_texts):
    figures = figure_document(toast_texts)
    pictures = {page.picture for text in toast_texts for _, page in occurrences(text)}
    total = sum(len(occurrences(text)) for text in toast_texts)
    assert len(figures.pages) == len(pictures) < total  # the complete graph: shown in the article, recorded once
    assert figures.source.count("\\begin{dvpage}") == len(figures.pages)
    assert [page.style for page in figures.pages].count("dv record") == 1  # en and ja share the recording
    record = None
    for page in figures.pages:
        if page.style == "dv record":
            record = page.picture
        if page.style == "dv pin":
            assert page.record == record
    assert figures.source.startswith("% !TEX program = pdflatex\n")


def test_the_documents_refer_to_their_pictures_pages(toast_texts):
    figures = figure_document(toast_texts)
    for text in toast_texts:
        out = externalized(text, figures)
        assert "tikzpicture" not in out
        pages = [int(n) for n in re.findall(r"\\includegraphics\[page=(\d+)\]\{" + figures.name + "}", out)]
        assert pages and all(1 <= n <= len(figures.pages) for n in pages)
        assert [figures.pages[n - 1].picture for n in pages] == [page.picture for _, page in occurrences(text)]


def test_a_document_without_pictures_has_no_figure_document():
    assert figure_document(["\\documentclass{article}\\begin{document}x\\end{document}"]) is None
