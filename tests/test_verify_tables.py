"""A table's numbers are claims too: the rows under a `columns` directive (Markdown, LaTeX tabular/longtable, HTML),
and an HTML page's maths is the TeX its MathML keeps. Each layout is checked holding and with one cell wrong, which
must fail on that cell's row."""
from __future__ import annotations

import pytest

from derive.present.html import markdown_to_html
from derive.verify import verify_text

GIVEN = r"given y = w \cdot x; E = \frac{1}{2} \cdot y^{2}; w = 3; x = 2"
COLUMNS = r"columns -; #1 = #; \frac{\partial E}{\partial #1} = #"
ROWS = [("w", "3", "12"), ("y", "6", "6"), ("E", "18", None)]


def markdown(rows=ROWS) -> str:
    body = "".join(f"| ${n}$ | ${v}$ | {'$' + g + '$' if g else '—'} |\n" for n, v, g in rows)
    return (f"<!-- derive: numbers strict -->\n<!-- derive: output E -->\n<!-- derive: {GIVEN} -->\n\n"
            f"<!-- derive: {COLUMNS} -->\n\n| Node | Value | Gradient |\n|---|---|---|\n{body}")


def latex(rows=ROWS, env="tabular") -> str:
    body = "".join(f"${n}$ & ${v}$ & {'$' + g + '$' if g else '---'} \\\\\n" for n, v, g in rows)
    head = "Node & Value & Gradient \\\\\n\\midrule\n" + ("\\endhead\n" if env == "longtable" else "")
    return ("\\documentclass{article}\n\\begin{document}\n% derive: numbers strict\n% derive: output E\n"
            f"% derive: {GIVEN}\n% derive: {COLUMNS}\n\\begin{{{env}}}{{lrr}}\n\\toprule\n{head}{body}"
            f"\\bottomrule\n\\end{{{env}}}\n\\end{{document}}\n")


def html(rows=ROWS) -> str:
    return "<!DOCTYPE html>\n<html><body>\n" + markdown_to_html(markdown(rows)) + "</body></html>\n"


LAYOUTS = {"markdown": markdown, "tabular": latex, "longtable": lambda rows=ROWS: latex(rows, "longtable"),
           "html": html}


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_cell_of_a_table_is_a_claim_that_holds(layout):
    report = verify_text(LAYOUTS[layout]())
    tables = sorted(c.claim for c in report.claims if "#" not in c.claim)
    assert report.exit_code == 0 and not report.skipped
    assert {"w = 3", "y = 6", "E = 18", r"\frac{\partial E}{\partial w} = 12",
            r"\frac{\partial E}{\partial y} = 6"} <= set(tables)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("wrong, cell", [((("w", "3", "13"),) + tuple(ROWS[1:]), "13"),
                                          ((ROWS[0], ("y", "6.5", "6"), ROWS[2]), "6.5")])
def test_a_wrong_cell_fails_on_its_row(layout, wrong, cell):
    text = LAYOUTS[layout](list(wrong))
    report = verify_text(text)
    failed = [c for c in report.claims if c.ok is False]
    assert report.exit_code == 1 and len(failed) == 1
    row = next(k for k, line in enumerate(text.split("\n"), 1) if f"${cell}$" in line or f">{cell}<" in line
               or f"x-tex\">{cell}<" in line)
    assert failed[0].line == row


def test_a_row_with_other_columns_than_its_directive_is_refused_at_that_row():
    text = markdown().replace("| $y$ | $6$ | $6$ |", "| $y$ | $6$ |")
    report = verify_text(text)
    assert report.exit_code == 2 and report.error.line == _line_of(text, "| $y$ | $6$ |")
    assert "names 3 columns and this row has 2" in report.error.message


def test_an_html_page_keeps_derives_directives_as_comments_the_reader_never_sees():
    page = html()
    assert "&lt;!--" not in page and "<!-- derive: columns" in page
    assert "<p><!--" not in page  # not wrapped into a paragraph of their own
