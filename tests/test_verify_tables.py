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


def test_a_column_specification_nested_two_deep_is_read_as_the_tables_opening():
    """derive's node tables space their columns with ``@{\\hspace{2em}}``: that table, not a later one, is read."""
    text = latex().replace("{lrr}", r"{@{}l@{\hspace{2em}}r@{\hspace{2em}}r@{}}")
    report = verify_text(text)
    assert report.exit_code == 0 and "w = 3" in {c.claim for c in report.claims}
    wrong = verify_text(text.replace("$w$ & $3$", "$w$ & $4$"))
    assert wrong.exit_code == 1 and [c.line for c in wrong.claims if c.ok is False] == [_line_of(text, "$w$ & $3$")]


# A table lying on its side (derive's slides list the gradients asked for this way): names in the first row, the
# claims below, the first column heading the rows; a `rows` directive reads the templates down each column.
SIDEWAYS = r"rows -; #1 = #; \frac{\partial E}{\partial #1} = #"


def sideways_markdown(rows=ROWS) -> str:
    head, values, gradients = (" | ".join(f"${cell}$" if cell else "—" for cell in column) for column in zip(*rows))
    return (f"<!-- derive: numbers strict -->\n<!-- derive: output E -->\n<!-- derive: {GIVEN} -->\n\n"
            f"<!-- derive: {SIDEWAYS} -->\n\n| Node | {head} |\n|---|---|---|---|\n| Value | {values} |\n"
            f"| Gradient | {gradients} |\n")


def sideways_latex(rows=ROWS) -> str:
    head, values, gradients = (" & ".join(f"${cell}$" if cell else "---" for cell in column) for column in zip(*rows))
    return ("\\documentclass{article}\n\\begin{document}\n% derive: numbers strict\n% derive: output E\n"
            f"% derive: {GIVEN}\n% derive: {SIDEWAYS}\n\\begin{{tabular}}{{@{{}}l*{{3}}{{c}}@{{}}}}\n\\toprule\n"
            f"Node & {head} \\\\\n\\midrule\nValue & {values} \\\\\nGradient & {gradients} \\\\\n\\bottomrule\n"
            "\\end{tabular}\n\\end{document}\n")


SIDEWAYS_LAYOUTS = {"markdown": sideways_markdown, "tabular": sideways_latex}


@pytest.mark.parametrize("layout", SIDEWAYS_LAYOUTS)
def test_every_cell_of_a_table_on_its_side_is_a_claim_that_holds(layout):
    report = verify_text(SIDEWAYS_LAYOUTS[layout]())
    assert report.exit_code == 0 and not report.skipped
    assert {"w = 3", "y = 6", "E = 18", r"\frac{\partial E}{\partial w} = 12",
            r"\frac{\partial E}{\partial y} = 6"} <= {c.claim for c in report.claims}


@pytest.mark.parametrize("layout", SIDEWAYS_LAYOUTS)
@pytest.mark.parametrize("wrong, row", [((("w", "3", "13"),) + tuple(ROWS[1:]), "Gradient"),
                                         ((ROWS[0], ("y", "6.5", "6"), ROWS[2]), "Value")])
def test_a_wrong_cell_of_a_table_on_its_side_fails_on_its_line(layout, wrong, row):
    text = SIDEWAYS_LAYOUTS[layout](list(wrong))
    report = verify_text(text)
    failed = [c for c in report.claims if c.ok is False]
    assert report.exit_code == 1 and len(failed) == 1
    assert failed[0].line == next(k for k, line in enumerate(text.split("\n"), 1) if line.lstrip("| ").startswith(row))


def test_a_table_on_its_side_is_not_read_from_an_html_page():
    page = "<!DOCTYPE html>\n<html><body>\n" + markdown_to_html(sideways_markdown()) + "</body></html>\n"
    report = verify_text(page)
    assert report.exit_code == 2 and "`rows` directive" in report.error.message


def test_a_scope_between_the_rows_of_one_display_starts_there():
    """derive's article prints plain descent's update lines as one alignment, each line read at the values before
    the step: a `% derive: scope` comment line between two rows starts the next row's scope (without it, the second
    row would see the first one's assignment, w = -5)."""
    given = "% derive: given f = w \\cdot x; w = 3; x = 2; \\eta = 1\n"
    rows = ("w &\\leftarrow w - \\eta \\cdot \\frac{\\partial f}{\\partial w} &&= 3 - 1 \\cdot 2 = 1 \\\\[1ex]\n"
            "% derive: scope two\n" + given +
            "x &\\leftarrow x - \\eta \\cdot \\frac{\\partial f}{\\partial x} &&= 2 - 1 \\cdot 3 = -1\n")
    text = ("\\documentclass{article}\n\\begin{document}\n% derive: numbers strict\n% derive: output f\n"
            f"% derive: scope one\n{given}\\begin{{alignat*}}{{2}}\n{rows}\\end{{alignat*}}\n\\end{{document}}\n")
    report = verify_text(text)
    assert report.exit_code == 0 and len(report.claims) == 2
    assert [c.line for c in report.claims] == [_line_of(text, "w &"), _line_of(text, "x &")]
    one_scope = text.replace("% derive: scope two\n" + given, "")
    merged = verify_text(one_scope)
    assert merged.exit_code == 1 and [c.line for c in merged.claims if c.ok is False] == [_line_of(one_scope, "x &")]
