r"""derive's own LaTeX pages, read as derive wrote them.

A document from elsewhere may not define macros: a definition changes what the maths means (see
`derive.verify.document`). derive's own article and slides define their layout macros in the preamble, from derive's
templates; the caller (the front end, which knows the templates) passes those blocks of definitions as
``trusted`` texts. Where one appears in a document *exactly*, it is passed over, the document may be larger
(`OWN_DOCUMENT_BYTES`: a deck of a big network), and derive's macros that carry maths are read as the notation
they stand for:

- ``\dchain{one line}{rows}``, ``\dvbest{…}{…}``, ``\dvrows{…}{…}`` and a network's ``\dnchain{…}{…}``: the
  chain, once on one line and once in rows (both are read; the rows repeat the line and hold or fail with it);
- ``\dvmeasure{lhs}{rhs}``: the row ``lhs = rhs`` of the group of chains that follows;
- ``\dvfit{maths}``: display maths.

Every other macro of derive's typesets text, tables or pictures; their maths is found as anywhere else.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

OWN_DOCUMENT_BYTES = 4 * 1024 * 1024
"""The size limit of a document that carries derive's own definitions (a big network's deck is above 256 KiB)."""

Trusted = Callable[[], Sequence[str]]
"""The definition blocks derive's templates write, computed only when a document is LaTeX."""

CHAIN_MACROS = ("dchain", "dvbest", "dvrows", "dnchain")  # {one line}{the same chain in rows}
ROW_MACRO = "dvmeasure"  # {lhs}{rhs}
DISPLAY_MACRO = "dvfit"  # {maths}
OWN_MATH = re.compile(r"\\(" + "|".join(CHAIN_MACROS + (ROW_MACRO, DISPLAY_MACRO)) + r")(?![A-Za-z])")


def looks_like_latex(text: str) -> bool:
    return bool(re.search(r"\\documentclass|\\begin\s*\{document\}", text))


def pass_over_own(text: str, trusted: Trusted | None) -> tuple[str, bool]:
    """``text`` with every exact occurrence of a trusted block blanked (its line breaks kept, so that line numbers
    stay), and whether there was one."""
    if trusted is None or not looks_like_latex(text):
        return text, False
    found = False
    for block in sorted(set(trusted()), key=len, reverse=True):  # a longer block first: it may hold a shorter one
        if block and block in text:
            found = True
            text = text.replace(block, "".join("\n" if ch == "\n" else " " for ch in block))
    return text, found


def brace_group(text: str, start: int) -> int | None:
    """The index just after the group ``{…}`` opening at ``start`` (spaces before it are skipped), or None."""
    j = start
    while j < len(text) and text[j] in " \t":
        j += 1
    if j >= len(text) or text[j] != "{":
        return None
    depth = 0
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


def own_math(text: str, i: int) -> tuple[int, list[tuple[int, str]]] | None:
    r"""At a macro of derive's that carries maths: where it ends, and its maths as (offset, text) pieces, each the
    same length as the text it stands for (``\dvmeasure{a}{b}`` gives ``a= b``: the offsets keep their lines)."""
    match = OWN_MATH.match(text, i)
    if match is None:
        return None
    groups: list[tuple[int, int]] = []  # (start inside the braces, end inside)
    end = match.end()
    for _ in range(1 if match.group(1) == DISPLAY_MACRO else 2):
        after = brace_group(text, end)
        if after is None:
            return None
        opening = text.index("{", end)
        groups.append((opening + 1, after - 1))
        end = after
    if match.group(1) == ROW_MACRO:
        (a0, a1), (b0, b1) = groups
        return end, [(a0, text[a0:a1] + "=" + " " * (b0 - a1 - 1) + text[b0:b1])]
    return end, [(begin, text[begin:close]) for begin, close in groups]
