"""Finding the maths of a Markdown or LaTeX document, with line numbers, and cutting it into equations.

Read: ``$$…$$``, ``\\[…\\]``, ``\\(…\\)``, inline ``$…$`` and the environments equation, align, gather, multline,
eqnarray, flalign, alignat, displaymath and math (starred or not). Not read: Markdown code (fenced blocks and
`inline spans`), HTML comments, LaTeX comments and verbatim. Rows of an alignment (``\\\\``) are equations of
their own, a row that starts with ``=`` continues the chain of the row before it, and one that starts with
``{}\\cdot`` (``{}+``, ``{}-``) its last member. Inside a row, equations are separated by a top-level ``,``, ``;``,
``\\quad``, ``\\qquad`` or ``\\text{…}``. A chain ends at its first relation
that is neither an equality, ``\\approx``, ``\\neq`` nor an order (``\\to``, ``\\in``, …); a ``\\neq`` claims that its
two sides are not the same expression, an order ``\\leq``, ``\\geq``, ``<``, ``>`` (≤, ≥) a bound between their values.

Refused anywhere in the document (fail closed, exit 2): macros that define macros or read or write files
(``\\input``, ``\\include``, ``\\def``, ``\\newcommand``, ``\\let``, ``\\write``, ``\\catcode``, …), unclosed display
maths, unbalanced braces inside maths, NUL and other control bytes. Setting a table's row spacing
(``\\renewcommand{\\arraystretch}{1.5}``) is allowed; derive's own definitions are passed over, and its macros read,
only on a page whose preamble carries them exactly (`derive.verify.own_tex`).
"""
from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass

from .own_tex import looks_like_latex, own_math
from .syntax import quote

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_BRACE_DEPTH = 40
MAX_CHUNK_CHARS = 64 * 1024


class DocumentProblem(Exception):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Chunk:
    """One piece of maths: its text and the line of each of its characters' offsets."""
    line: int
    text: str
    offset: int
    display: bool


@dataclass(frozen=True)
class Equation:
    line: int
    members: tuple[str, ...]
    relations: tuple[str, ...]  # "=", "def", "approx", "neq" or an `ORDER` ("le" …), one between each pair of members
    assigns: str | None = None  # ``w \leftarrow w - \eta g = …``: the symbol the chain's value is assigned to

    @property
    def text(self) -> str:
        parts = ([self.assigns.strip(), "\\leftarrow"] if self.assigns is not None else []) + [self.members[0].strip()]
        for relation, member in zip(self.relations, self.members[1:]):
            parts.append(RELATION_TEXT[relation] + " " + member.strip())
        return " ".join(" ".join(parts).split())


ORDER = {"le": "\\leq", "ge": "\\geq", "lt": "<", "gt": ">"}
"""The order relations, read as claims: a bound between the values of their sides."""
RELATION_TEXT = {"=": "=", "def": ":=", "approx": "\\approx", "neq": "\\neq", **ORDER}


@dataclass(frozen=True)
class Piece:
    r"""Maths that holds no equation: listed as skipped when it holds a relation derive does not check (``x \in
    \mathbb{R}^n``, ``a \leq b``); a formula without any relation makes no claim."""
    line: int
    text: str
    relation: bool = False


MATH_ENVIRONMENTS = ("equation", "align", "gather", "multline", "eqnarray", "flalign", "alignat", "displaymath",
                     "math")
_ENV = re.compile(r"\\begin\s*\{(" + "|".join(MATH_ENVIRONMENTS) + r")(\*?)\}(\{[0-9]*\})?")
_VERBATIM = re.compile(r"\\begin\s*\{(verbatim|lstlisting|minted|comment|Verbatim)(\*?)\}")

FORBIDDEN = re.compile(
    r"\\(input|include|includeonly|def|edef|gdef|xdef|let|futurelet|newcommand|renewcommand|providecommand|"
    r"DeclareMathOperator|DeclareRobustCommand|NewDocumentCommand|RenewDocumentCommand|newenvironment|"
    r"renewenvironment|catcode|csname|endcsname|write|immediate|openin|openout|read|readline|import|subimport|"
    r"InputIfFileExists|IfFileExists|special|directlua|luaexec|latelua|pdfprimitive|expandafter|makeatletter|"
    r"lstinputlisting|verbatiminput|usetikzlibrary|ShellEscape|shellescape)(?![A-Za-z])")

HARMLESS = re.compile(r"\\renewcommand\s*\{?\\arraystretch\}?\s*\{[0-9]*\.?[0-9]+\}")
"""A table's row spacing: a redefinition that cannot change what any maths means."""

_FORBIDDEN_WHY = {
    "input": "it would read another file", "include": "it would read another file",
    "includeonly": "it would read other files", "import": "it would read another file",
    "subimport": "it would read another file", "InputIfFileExists": "it would read another file",
    "IfFileExists": "it would look for another file", "lstinputlisting": "it would read another file",
    "verbatiminput": "it would read another file", "read": "it would read a file",
    "readline": "it would read a file", "openin": "it would open a file", "openout": "it would write a file",
    "write": "it would write a file", "immediate": "it would write a file", "directlua": "it would run code",
    "luaexec": "it would run code", "latelua": "it would run code", "special": "it passes code to a driver",
    "ShellEscape": "it would run a command", "shellescape": "it would run a command",
}


def forbidden_message(name: str) -> str:
    why = _FORBIDDEN_WHY.get(name, "a macro definition changes what the maths means, and derive reads only "
                                   "standard notation")
    return f"{quote(chr(92) + name)} is not allowed: {why}"


class Lines:
    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


class OneLine(Lines):
    """Line numbers for maths that is not in the text as it stands (a directive's equations, a table row's
    claims): all on one line."""

    def __init__(self, line: int):
        self.line = line

    def at(self, offset: int) -> int:
        return self.line


def check_text(text: str, limit: int = MAX_DOCUMENT_BYTES) -> None:
    """Control bytes, size (``limit`` bytes)."""
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise DocumentProblem(None, f"the document is larger than {limit // 1024} KiB")
    match = re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]", text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise DocumentProblem(line, f"the document contains a control byte (U+{ord(match.group()):04X}); "
                                    "it does not look like a text file")


_HTML = re.compile(r"\s*<!DOCTYPE html|\s*<html[\s>]", re.IGNORECASE)
_MATHML = re.compile(r'<math\b[^>]*?display="(?P<display>block|inline)"[^>]*>.*?'
                     r'<annotation encoding="application/x-tex">(?P<tex>.*?)</annotation>', re.DOTALL)


def is_html(text: str) -> bool:
    return bool(_HTML.match(text))


def find_maths(text: str, own_macros: bool = False) -> list[Chunk]:
    """Every piece of maths, in order; raises `DocumentProblem` for forbidden macros and unclosed maths. In an HTML
    page, the maths is the TeX its MathML keeps in annotations (as derive's pages and most converters write). With
    ``own_macros`` (a page whose preamble is derive's own), derive's macros are read as the maths they stand for
    (`derive.verify.own_tex`)."""
    if is_html(text):
        return _html_maths(text)
    lines = Lines(text)
    latex = looks_like_latex(text)
    chunks: list[Chunk] = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and not latex:
            fence = re.match(r"[ ]{0,3}(`{3,}|~{3,})", text[i:i + 64])
            if fence:
                marker = fence.group(1)
                close = re.compile(r"^[ ]{0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*$",
                                   re.MULTILINE)
                end_of_line = text.find("\n", i)
                found = close.search(text, end_of_line + 1) if end_of_line >= 0 else None
                i = found.end() if found else n
                continue
        at_line_start = c == "\n"
        if not latex and c == "`":
            run = re.match(r"`+", text[i:]).group()
            close = text.find(run, i + len(run))
            if close >= 0 and "\n\n" not in text[i:close]:
                i = close + len(run)
            else:
                i += len(run)
            continue
        if not latex and text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
            continue
        if latex and c == "%":
            close = text.find("\n", i)
            i = n if close < 0 else close
            continue
        if c == "\\":
            if text.startswith("\\[", i):
                i = _take(text, i, 2, "\\]", chunks, lines, True)
                continue
            if text.startswith("\\(", i):
                i = _take(text, i, 2, "\\)", chunks, lines, False)
                continue
            env = _ENV.match(text, i)
            if env:
                name = env.group(1) + env.group(2)
                i = _take(text, i, env.end() - i, "\\end{" + name + "}", chunks, lines, True, env=name)
                continue
            verbatim = _VERBATIM.match(text, i) if latex else None
            if verbatim:
                close = text.find("\\end{" + verbatim.group(1) + verbatim.group(2) + "}", verbatim.end())
                i = n if close < 0 else close
                continue
            if latex and text.startswith("\\verb", i) and i + 5 < n and not text[i + 5].isalpha():
                delimiter = text[i + 5]
                close = text.find(delimiter, i + 6)
                i = n if close < 0 else close + 1
                continue
            own = own_math(text, i) if own_macros else None
            if own is not None:
                i, pieces = own
                for begin, body in pieces:
                    _add_body(body, begin, chunks, lines, True)
                continue
            harmless = HARMLESS.match(text, i)
            if harmless:
                i = harmless.end()
                continue
            forbidden = FORBIDDEN.match(text, i)
            if forbidden:
                raise DocumentProblem(lines.at(i), forbidden_message(forbidden.group(1)))
            i += 2
            continue
        if c == "$":
            if text.startswith("$$", i):
                i = _take(text, i, 2, "$$", chunks, lines, True)
                continue
            close = _inline_close(text, i + 1)
            if close is None:
                if latex:
                    raise DocumentProblem(lines.at(i), f"the maths opened with {quote('$')} here is never closed")
                i += 1
                continue
            _add_chunk(text, i + 1, close, chunks, lines, False)
            i = close + 1
            continue
        i += 1
    return chunks


def _html_maths(text: str) -> list[Chunk]:
    lines = Lines(text)
    chunks: list[Chunk] = []
    for match in _MATHML.finditer(text):
        body = html.unescape(match.group("tex"))
        if len(body) > MAX_CHUNK_CHARS:
            raise DocumentProblem(lines.at(match.start()), f"a piece of maths longer than {MAX_CHUNK_CHARS // 1024} KiB")
        forbidden = FORBIDDEN.search(body)
        if forbidden:
            raise DocumentProblem(lines.at(match.start()), forbidden_message(forbidden.group(1)))
        chunks.append(Chunk(lines.at(match.start()), body, match.start("tex"), match.group("display") == "block"))
    return chunks


def _inline_close(text: str, start: int) -> int | None:
    j = start
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "$":
            return j if j > start else None
        if c == "\n" and text.startswith("\n", j + 1) or text.startswith("\n\r\n", j):
            return None
        j += 1
    return None


def _take(text: str, start: int, skip: int, closer: str, chunks: list[Chunk], lines: Lines, display: bool,
          env: str | None = None) -> int:
    begin = start + skip
    close = _find_unescaped(text, closer, begin)
    if close < 0:
        opener = text[start:begin].strip()
        raise DocumentProblem(lines.at(start), f"the maths opened with {quote(opener)} here is never closed")
    _add_chunk(text, begin, close, chunks, lines, display)
    return close + len(closer)


def _find_unescaped(text: str, needle: str, start: int) -> int:
    j = start
    while True:
        j = text.find(needle, j)
        if j < 0:
            return -1
        backslashes = len(text[:j]) - len(text[:j].rstrip("\\"))
        if needle.startswith("\\") or backslashes % 2 == 0:
            return j
        j += 1


def _add_chunk(text: str, begin: int, end: int, chunks: list[Chunk], lines: Lines, display: bool) -> None:
    _add_body(text[begin:end], begin, chunks, lines, display)


def _add_body(body: str, begin: int, chunks: list[Chunk], lines: Lines, display: bool) -> None:
    if len(body) > MAX_CHUNK_CHARS:
        raise DocumentProblem(lines.at(begin), f"a piece of maths longer than {MAX_CHUNK_CHARS // 1024} KiB")
    forbidden = FORBIDDEN.search(body)
    if forbidden:
        raise DocumentProblem(lines.at(begin + forbidden.start()), forbidden_message(forbidden.group(1)))
    chunks.append(Chunk(lines.at(begin), body, begin, display))


# --- equations -------------------------------------------------------------------------------------------------

_BLANKED = re.compile(r"(?<!\\)%[^\n]*|(?<=\\\\)\*?\s*\[\s*-?[0-9]*\.?[0-9]+\s*(?:ex|em|pt|mm|cm|in|bp|pc|sp|mu)\s*\]|\\(?:label|tag\*?|hspace\*?|vspace\*?|intertext|shortintertext)\s*"
                      r"\{(?:[^{}]|\{[^{}]*\})*\}|\\(?:nonumber|notag|displaybreak)(?![A-Za-z])(?:\[[0-9]\])?|"
                      r"\\(?:begin|end)\s*\{(?:aligned|split|gathered|alignedat|multlined)\*?\}(?:\{[0-9]*\})?")

_RELATION = re.compile(
    r":=|=:|\\coloneqq(?![A-Za-z])|\\eqqcolon(?![A-Za-z])|\\(?:stackrel|overset)\s*\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}"
    r"\s*\{\s*=\s*\}|\\triangleq(?![A-Za-z])|\\equiv(?![A-Za-z])|\\doteq(?![A-Za-z])|\u225d|\u2254|="
    r"|(?P<approx>\\(?:approx|simeq)(?![A-Za-z])|\u2248)"
    r"|(?P<assign>\\(?:leftarrow|gets)(?![A-Za-z])|\u2190)"
    r"|(?P<neq>\\(?:neq|ne)(?![A-Za-z])|\u2260)"
    r"|(?P<le>\\(?:leq|leqslant|le)(?![A-Za-z])|\u2264)|(?P<ge>\\(?:geq|geqslant|ge)(?![A-Za-z])|\u2265)"
    r"|(?P<lt>\\lt(?![A-Za-z])|<)|(?P<gt>\\gt(?![A-Za-z])|>)"
    r"|(?P<other>\\(?:sim|cong|ll|gg|to|rightarrow|"
    r"longrightarrow|longleftarrow|mapsto|in|notin|subset|subseteq|propto|Rightarrow|Leftarrow|implies|iff|"
    r"Leftrightarrow|leftrightarrow|perp|parallel)(?![A-Za-z])|[\u2192\u2208"
    r"\u221d\u21d2])")

_SEPARATOR = re.compile(r",|;|\\q?quad(?![A-Za-z])|\\(?:text|mbox|textrm|textnormal)\s*\{(?:[^{}]|\{[^{}]*\})*\}"
                        r"|\\(?:hspace|hskip)\s*\{[^{}]*\}|\\(?:iff|implies|Rightarrow|text|forall)(?![A-Za-z])")


def _blank(match: re.Match) -> str:
    return "".join("\n" if ch == "\n" else " " for ch in match.group())


def depth_profile(text: str, line_of) -> list[int]:
    """The brace/paren depth before each character; raises for unbalanced braces and too deep nesting. ``\\{…\\}``
    nest like parentheses (𝟙\\{s > 0\\} is one formula), without counting as braces."""
    depth = 0
    braces = 0
    profile = []
    escaped = False
    for k, ch in enumerate(text):
        profile.append(depth)
        if escaped:
            escaped = False
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth = max(depth - 1, 0)
            continue
        if ch == "\\":
            escaped = True
            continue
        if ch in "{([":
            depth += 1
            if ch == "{":
                braces += 1
            if depth > MAX_BRACE_DEPTH:
                raise DocumentProblem(line_of(k), f"the maths is nested more than {MAX_BRACE_DEPTH} levels deep")
        elif ch in "})]":
            depth -= 1
            if ch == "}":
                braces -= 1
                if braces < 0:
                    raise DocumentProblem(line_of(k), "a closing brace } without an opening one")
            depth = max(depth, 0)
    if braces != 0:
        raise DocumentProblem(line_of(len(text) - 1 if text else 0), "unbalanced braces: a { is never closed")
    return profile


_MATRIX_ENV = re.compile(r"\\begin\s*\{(array|[pbvBV]?matrix)\}.*?\\end\s*\{\1\}", re.DOTALL)
_CASES = re.compile(r"\\begin\s*\{cases\}(?P<body>(?:(?!\\(?:begin|end)\s*\{cases\}).)*?)\\end\s*\{cases\}", re.S)


def _fold_cases(match: re.Match) -> str:
    """A ``cases`` environment as one formula ``\\cases{value}{condition}{value}{condition}``, so that its rows and
    ``&`` are not cut apart (`derive.latex_grammar` reads it); as long as the environment, for the line numbers."""
    body = re.sub(r"\\\\\s*$", "", match.group("body").strip())
    folded = r"\cases{" + body.replace("\\\\", "}{").replace("&", "}{") + "}"
    return folded + " " * max(len(match.group()) - len(folded), 0)


def equations(chunk: Chunk, lines: Lines) -> tuple[list[Equation], list[Piece]]:
    """Cut one chunk into equations (see the module docstring); the rest is listed as skipped."""
    text = _CASES.sub(_fold_cases, _BLANKED.sub(_blank, chunk.text))

    def line_of(k: int) -> int:
        return lines.at(chunk.offset + k)

    profile = depth_profile(text, line_of)
    for matrix in _MATRIX_ENV.finditer(text):  # a matrix's row breaks and & are its own, not the alignment's
        profile[matrix.start():matrix.end()] = [depth + 1 for depth in profile[matrix.start():matrix.end()]]
    rows: list[tuple[int, int]] = []
    start = 0
    k = 0
    while k < len(text):
        if text.startswith("\\\\", k) and profile[k] == 0:
            rows.append((start, k))
            k += 2
            start = k
            continue
        if text[k] == "\\":
            k += 2
            continue
        k += 1
    rows.append((start, len(text)))

    found: list[Equation] = []
    skipped: list[Piece] = []
    for row_start, row_end in rows:
        row = "".join(" " if ch == "&" and depth == 0 else ch  # an alignment's & (a matrix keeps its own)
                      for ch, depth in zip(text[row_start:row_end], profile[row_start:row_end]))
        if not row.strip():
            continue
        for piece_start, piece_end in _split(row, profile[row_start:row_end], _SEPARATOR):
            piece = row[piece_start:piece_end]
            stripped = piece.strip().rstrip(".").strip()
            if not stripped:
                continue
            line = line_of(row_start + piece_start + (len(piece) - len(piece.lstrip())))
            members, relations, cut, target = _members(piece, profile[row_start + piece_start:row_start + piece_end])
            if target is not None and members and members[0].strip() and not cut:
                found.append(Equation(line, tuple(members), tuple(relations), target))
                continue
            continued = _CONTINUED.match(piece) if found else None
            if continued and ("{" in continued.group(1) and not found[-1].assigns
                              or len(members) == 1 and not cut):  # a long member broken over rows
                previous = found.pop()
                members[0] = previous.members[-1].rstrip() + " " + _CONTINUED.sub("", members[0], count=1).strip()
                found.append(Equation(previous.line, previous.members[:-1] + tuple(members),
                                      previous.relations + tuple(relations), previous.assigns))
                continue
            if members and not members[0].strip() and found and relations:
                previous = found.pop()
                found.append(Equation(previous.line, previous.members + tuple(members[1:]),
                                      previous.relations + tuple(relations), previous.assigns))
                continue
            if len(members) < 2 or not members[0].strip():
                skipped.append(Piece(line, " ".join(stripped.split()), cut))
                continue
            found.append(Equation(line, tuple(members), tuple(relations)))
            if cut:
                skipped.append(Piece(line, " ".join(stripped.split()), True))
    return found, skipped


_CONTINUED = re.compile(r"^\s*((?:\{\s*\}\s*)*)(?=[-+]|\\(?:cdot|times|odot)(?![A-Za-z]))")
r"""A row that goes on with the last member of the row before it: TeX's ``{}\cdot …`` (an empty group, so that the
operator stays binary), or a row of one member that starts with an operator (``&\quad + b``); group 1 is the
empty groups left out."""


def _split(text: str, profile: list[int], pattern: re.Pattern) -> list[tuple[int, int]]:
    spans, start, k = [], 0, 0
    while k < len(text):
        if profile[k] == 0:
            match = pattern.match(text, k)
            if match and match.end() > k:
                spans.append((start, k))
                k = match.end()
                start = k
                continue
        k += 2 if text[k] == "\\" else 1
    spans.append((start, len(text)))
    return spans


def _members(piece: str, profile: list[int]) -> tuple[list[str], list[str], bool, str | None]:
    """The members and relations of a chain, whether it was cut at a relation that is not checked, and the target
    of an assignment (``w ← w − η g = …``: the chain after the arrow, and w) or None."""
    members, relations, start, k = [], [], 0, 0
    target = None
    while k < len(piece):
        if profile[k] == 0:
            match = _RELATION.match(piece, k)
            if match:
                if match.group("assign") and not relations and target is None:
                    target = piece[start:k]
                    members = []
                    k = match.end()
                    start = k
                    continue
                if match.group("other") or match.group("assign"):
                    members.append(piece[start:k])
                    return _finish(members), relations, True, target
                members.append(piece[start:k])
                order = next((name for name in ORDER if match.group(name)), None)
                relations.append(order or ("approx" if match.group("approx") else "neq" if match.group("neq") else
                                           "=" if match.group() in ("=", "=:") else "def"))
                k = match.end()
                start = k
                continue
        k += 2 if piece[k] == "\\" else 1
    members.append(piece[start:])
    return _finish(members), relations, False, target


def _finish(members: list[str]) -> list[str]:
    out = list(members)
    if out:
        out[-1] = re.sub(r"[.,;\s]+$", "", out[-1])
    return out
