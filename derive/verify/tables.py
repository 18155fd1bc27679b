r"""A table's claims: the rows of the Markdown table or ``tabular`` right after a ``columns`` directive, each cell
put into its column's template (see `derive.verify.directives`).

``| $w$ | $1$ | $-4$ |`` under ``columns -; #1 = #; \frac{\partial E}{\partial #1} = #`` claims ``w = 1`` and
``\frac{\partial E}{\partial w} = -4`` on the row's line. A cell is its maths (``$…$``), or its text when that is
a number or a name; an empty cell or a dash states nothing. A ``rows`` directive reads a table lying on its side
(a Markdown table or ``tabular`` whose first column heads the rows) the same way, down each column.
"""
from __future__ import annotations

import html
import re

from .directives import Columns
from .document import Chunk, DocumentProblem, Equation, Lines, OneLine, equations, is_html
from .own_tex import looks_like_latex

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MATHS_CELL = re.compile(r"^\$([^$]+)\$$")
_PLAIN_CELL = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$|^[A-Za-z]$")
_PLACEHOLDER = re.compile(r"#([1-9]?)")
_TABULAR = re.compile(r"\\begin\{(tabular|longtable)\}(?:\[[^\]]*\])?\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}")
r"""The opening of a table, with its column specification (groups nested two deep: ``@{\hspace{2em}}``)."""
_RULE = re.compile(r"\\(?:hline|toprule|midrule|bottomrule|endhead|endfirsthead|endfoot|endlastfoot"
                   r"|cmidrule(?:\([^)]*\))?\{[^}]*\})")
_EMPTY = {"", "—", "–", "-", "---"}


def table_equations(text: str, tables: tuple[Columns, ...]) -> list[Equation]:
    """Every claim the tables under ``columns`` directives make, each on the line of its cell."""
    lines = text.split("\n")
    starts = Lines(text)
    found: list[Equation] = []
    for spec in tables:
        if is_html(text):
            if spec.across:
                raise DocumentProblem(spec.line, "a `rows` directive is read before a Markdown or LaTeX table")
            rows = _html_rows(text, spec.line, starts)
        elif looks_like_latex(text):
            rows = _tabular_rows(text, spec.line, starts, header=not spec.across)
        else:
            rows = _markdown_rows(lines, spec.line, header=not spec.across)
        if spec.across:
            rows = _down_columns(rows)
        for line, cells in rows:
            if len(cells) != len(spec.templates):
                raise DocumentProblem(line, f"the `columns` directive on line {spec.line} names "
                                            f"{len(spec.templates)} columns and this row has {len(cells)}")
            values = [_cell_maths(cell) for _, cell in cells]
            for template, value, (cell_line, _) in zip(spec.templates, values, cells):
                if template is None or value is None:
                    continue
                claim = _fill(template, value, values, cell_line)
                if claim is not None:
                    found.extend(_one_line_equations(claim, cell_line))
    return found


def _markdown_rows(lines: list[str], after: int, header: bool = True) -> list[tuple[int, list[tuple[int, str]]]]:
    """The body rows (line, cells) of the first Markdown table after line ``after`` (the rule skipped, and the
    header unless ``header`` is False)."""
    k = after  # 0-based index of the line after the directive
    while k < len(lines) and not lines[k].lstrip().startswith("|"):
        if lines[k].strip() and not _COMMENT.fullmatch(lines[k].strip()):
            return []  # something else comes first: no table follows
        k += 1
    rows = [] if header or k >= len(lines) else [_on_line(k + 1, _split_row(lines[k].strip().strip("|"), "|"))]
    k += 2  # the header and the |---| rule
    while k < len(lines) and lines[k].lstrip().startswith("|"):
        rows.append(_on_line(k + 1, _split_row(_COMMENT.sub("", lines[k]).strip().strip("|"), "|")))
        k += 1
    return rows


def _tabular_rows(text: str, after: int, starts: Lines, header: bool = True) -> list[tuple[int, list[tuple[int, str]]]]:
    """The body rows of the first ``tabular`` or ``longtable`` after line ``after``: rows end at ``\\``, cells at
    ``&``; the first row is the header (left out unless ``header`` is False)."""
    offset = starts.starts[after] if after < len(starts.starts) else len(text)
    begin = _TABULAR.search(text, offset)
    if begin is None:
        return []
    end = text.find(r"\end{" + begin.group(1) + "}", begin.end())
    body = text[begin.end(): end if end >= 0 else len(text)]
    rows, position = [], begin.end()
    for raw in re.split(r"\\\\", body):
        content = [(position + m.start(), _RULE.sub("", re.sub(r"%.*$", "", m.group()))) for m in
                   re.finditer(r"[^\n]+", raw)]
        position += len(raw) + 2
        cells_text = " ".join(text for _, text in content).strip()
        if cells_text:
            line = starts.at(next(offset for offset, text in content if text.strip()))
            rows.append(_on_line(line, _split_row(cells_text, "&")))
    return rows[1:] if header else rows


def _down_columns(rows: list[tuple[int, list[tuple[int, str]]]]) -> list[tuple[int, list[tuple[int, str]]]]:
    """A table lying on its side read as if upright: each column after the first (which heads the rows) becomes a
    row, each cell keeping its line; a row shorter than the first leaves its column's cell empty."""
    width = max((len(cells) for _, cells in rows), default=0)
    columns = [[cells[k] if k < len(cells) else (line, "") for line, cells in rows] for k in range(1, width)]
    return [(column[0][0], column) for column in columns]


def _html_rows(text: str, after: int, starts: Lines) -> list[tuple[int, list[tuple[int, str]]]]:
    """The body rows of the first HTML table after line ``after``; a cell's maths is its MathML's TeX annotation."""
    offset = starts.starts[after] if after < len(starts.starts) else len(text)
    body = re.search(r"<tbody>(.*?)</tbody>", text[offset:], re.DOTALL)
    if body is None:
        return []
    rows = []
    start = offset + body.start(1)
    for row in re.finditer(r"<tr>(.*?)</tr>", body.group(1), re.DOTALL):
        cells = []
        for match in re.finditer(r"<td[^>]*>(.*?)</td>", row.group(1), re.DOTALL):
            cell = match.group(1)
            tex = re.search(r'<annotation encoding="application/x-tex">(.*?)</annotation>', cell, re.DOTALL)
            plain = html.unescape(re.sub(r"<[^>]*>", "", _COMMENT.sub("", cell))).strip()
            cells.append((starts.at(start + row.start(1) + match.start()),
                          "$" + html.unescape(tex.group(1)) + "$" if tex and _one_maths(cell) else plain))
        rows.append((starts.at(start + row.start()), cells))
    return rows


def _one_maths(cell: str) -> bool:
    """A cell that is one piece of maths and nothing else (no text around it)."""
    return not re.sub(r"<math\b.*?</math>", "", _COMMENT.sub("", cell), flags=re.DOTALL).strip()


def _on_line(line: int, cells: list[str]) -> tuple[int, list[tuple[int, str]]]:
    return line, [(line, cell) for cell in cells]


def _split_row(row: str, separator: str) -> list[str]:
    """Cells split at ``separator`` outside maths."""
    cells, current, in_maths = [], [], False
    k = 0
    while k < len(row):
        c = row[k]
        if c == "\\" and k + 1 < len(row):
            current.append(row[k:k + 2])
            k += 2
            continue
        if c == "$":
            in_maths = not in_maths
        if c == separator and not in_maths:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        k += 1
    cells.append("".join(current).strip())
    return cells


def _cell_maths(cell: str) -> str | None:
    if cell in _EMPTY:
        return None
    maths = _MATHS_CELL.match(cell)
    if maths:
        return maths.group(1).strip()
    return cell if _PLAIN_CELL.match(cell) else None


def _fill(template: str, value: str, values: list[str | None], line: int) -> str | None:
    missing = False

    def put(match: re.Match) -> str:
        nonlocal missing
        if not match.group(1):
            return value
        k = int(match.group(1))
        if k > len(values):
            raise DocumentProblem(line, f"a `columns` template names cell {k} and the row has {len(values)}")
        cell = values[k - 1]
        if cell is None:
            missing = True
            return ""
        return cell

    filled = _PLACEHOLDER.sub(put, template)
    return None if missing else filled


def _one_line_equations(claim: str, line: int) -> list[Equation]:
    found, _ = equations(Chunk(line, claim, 0, False), OneLine(line))
    return found
