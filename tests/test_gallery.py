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
