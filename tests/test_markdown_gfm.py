"""Every Markdown file of the gallery renders as GitHub Flavored Markdown: each table line belongs to a table that
a GFM parser (markdown-it-py with its GFM table rule) reads as one, and every maths span ($…$, $$…$$) reaches the
parser's inline text intact — a ``|`` inside table maths would split the cell and the table would fall apart."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import require_module

FENCE = re.compile(r"^(`{3,}|~{3,})")
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\n]+?\$", flags=re.DOTALL)


def parse(text: str):
    require_module("markdown_it")
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)  # GFM without linkify


def outside_fences(text: str) -> list[tuple[int, str]]:
    """(0-based line number, line) of every line that is not inside a fenced code block."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines()):
        opened = FENCE.match(line.strip())
        if fence is None and opened:
            fence = opened.group(1)[0] * len(opened.group(1))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def gfm_problems(text: str) -> list[str]:
    """Lines starting with ``|`` outside any parsed table, and maths spans not intact in any inline text."""
    tokens = parse(text)
    table_lines = {n for t in tokens if t.type == "table_open" and t.map for n in range(*t.map)}
    inline_text = [t.content for t in tokens if t.type == "inline"]
    problems = [f"line {n + 1} is not part of a table: {line[:80]}" for n, line in outside_fences(text)
                if line.lstrip().startswith("|") and n not in table_lines]
    prose = "\n".join(line for _, line in outside_fences(text))
    for span in dict.fromkeys(MATH.findall(prose)):
        if not any(span in content for content in inline_text):
            problems.append(f"maths span broken by the parser: {span[:80]}")
    return problems


def test_the_checker_catches_a_bar_in_table_maths():
    broken = "| a | b |\n|---|---|\n| $|x|$ | 1 |\n"
    assert gfm_problems(broken)
    assert gfm_problems("| a | b |\n|---|---|\n| $\\lvert x\\rvert$ | 1 |\n") == []
    assert gfm_problems("text\n| not a table\n") == ["line 2 is not part of a table: | not a table"]


def test_every_gallery_markdown_file_is_gfm(gallery: Path):
    files = sorted(gallery.rglob("*.md"))
    groups = {p.relative_to(gallery).parts[0] for p in files}
    assert {"networks", "verify", "vanishing-gradients", "toast"} <= groups
    assert {p.name for p in files} >= {"en.md", "ja.md"}
    failures = {str(p.relative_to(gallery)): problems for p in files if (problems := gfm_problems(p.read_text()))}
    assert not failures, failures


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("key", [False, True])
def test_exercise_sheets_are_gfm(lang, key):
    from derive.present.exercise import exercise, render_exercise
    from derive.scenarios import SCENARIOS
    for name in SCENARIOS:
        walk, sheet = exercise(name, "8", "1")
        text = render_exercise(walk, sheet, "markdown", lang, key=key)
        assert gfm_problems(text) == [], name
