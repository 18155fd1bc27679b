r"""What a document tells `derive verify` in comments: ``<!-- derive: … -->`` (Markdown, HTML) or a line
``% derive: …`` (LaTeX). derive writes them into its own pages; an author may write them too.

- ``scope NAME``: from this line on, a new scope. Definitions and values of earlier scopes are forgotten, so the
  same symbol can mean something else (a story's E = ½(y − t)², the graph's E = ½·q; one optimiser step's w,
  then the next one's). A document without scopes is one scope. ``scope NAME from EARLIER`` starts with the
  bindings given in the scope EARLIER and the values its assignments (``x \\leftarrow …``) left; a binding given
  again replaces the inherited one (the next step's counter t).
- ``given EQUATION; EQUATION; …``: definitions and values of the current scope, in the document's notation
  (``given y = w \cdot x; x = 2``). They are bindings, not claims: the maths printed in the scope is checked
  against them, and a printed definition that disagrees with a given one does not hold. ``N := 2`` defines a
  constant (a size), and a condition on data, ``\sum_{k=1}^{K} t_{nk} = 1``, is honoured as if stated.
- ``numbers strict``: the document prints every number by one rule: an integer or a terminating decimal is the
  exact value, any other number is the exact value rounded half-even to 6 significant digits, trailing zeros
  dropped. A number then holds only if it is exactly what the rule prints; and a member written with numbers
  right after one written with symbols (a substitution) must match it term by term: the k-th number is the value
  of the k-th term. Without it, a number holds to the digits shown.
- ``output E``: ``\\frac{\\partial E}{\\partial v}`` is the gradient of the output E (along every path), and any other
  ``\\frac{\\partial N}{\\partial V}`` whose N is defined by an expression that reads V is N's *local* gradient, its
  other inputs held fixed (a walk-through's ∂u/∂x for u = a·x, even where a depends on x too).
- ``layers-from=1`` or ``layers-from=2``: where the weight layers are numbered from (see `derive.verify`).
- ``columns T1; T2; …`` right before a table (Markdown or ``tabular``): what each column states, so that a table's
  numbers are claims too. In a column's template ``#`` stands for that column's cell and ``#k`` for the row's k-th
  cell; ``-`` states nothing. ``columns -; #1 = #; \\frac{\\partial E}{\\partial #1} = #`` makes the row
  ``| $w$ | $1$ | $-4$ |`` claim w = 1 and ∂E/∂w = −4 (see `derive.verify.tables`).
- ``rows T1; T2; …`` right before a table lying on its side (Markdown or ``tabular``: its first column heads the
  rows, each further column is one item): the same templates, read down each column instead of along each row
  (``#k`` is then the column's k-th cell).
- ``layered u r``: the letters u and r carry layer numbers as superscripts too (``u^{2}`` is u in layer 2, not u
  squared), as w, a, z, b and δ do on a page that numbers its layers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .document import Chunk, DocumentProblem, Equation, Lines, OneLine, equations

_DIRECTIVE = re.compile(r"<!--[ \t]*derive:[ \t]*(?P<md>.*?)[ \t]*-->|(?m:^[ \t]*%+[ \t]*derive:[ \t]*(?P<tex>.*?)[ \t]*$)",
                        re.DOTALL)
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.:-]*"
_SCOPE = re.compile(rf"scope[ \t]+({_NAME})(?:[ \t]+from[ \t]+({_NAME}))?$")
_LAYERS = re.compile(r"layers-from[ \t]*[=:][ \t]*[12]$")
_LAYERED = re.compile(r"layered((?:[ \t]+[A-Za-z])+)$")


@dataclass(frozen=True)
class Scope:
    name: str
    first_line: int
    given: tuple[Equation, ...] = ()
    parent: str | None = None  # ``from EARLIER``: EARLIER's name

    def own(self, parent: "Scope | None") -> tuple[Equation, ...]:
        """The bindings this scope gives itself (not inherited from ``parent``)."""
        return tuple(e for e in self.given if parent is None or e not in parent.given)


@dataclass(frozen=True)
class Columns:
    """A ``columns`` directive: the line it is on, and per column its template (None: the column states nothing);
    ``across`` for a ``rows`` directive (the templates are read down the table's columns)."""
    line: int
    templates: tuple[str | None, ...]
    across: bool = False


@dataclass(frozen=True)
class Directives:
    scopes: tuple[Scope, ...]
    strict_numbers: bool = False
    output: str | None = None  # LaTeX of the page's output (the `output` directive)
    tables: tuple[Columns, ...] = ()
    layered: frozenset[str] = frozenset()  # letters the `layered` directive gives layer superscripts

    def scope_at(self, line: int) -> int:
        """The index of the scope a line belongs to."""
        index = 0
        for k, scope in enumerate(self.scopes):
            if scope.first_line <= line:
                index = k
        return index


def read_directives(text: str) -> Directives:
    """Every directive of a document, in order; raises `DocumentProblem` for one it does not know."""
    lines = Lines(text)
    scopes: list[Scope] = [Scope("", 1)]
    strict = False
    output = None
    tables: list[Columns] = []
    layered: set[str] = set()
    for match in _DIRECTIVE.finditer(text):
        body = " ".join((match.group("md") if match.group("md") is not None else match.group("tex")).split())
        offset = match.start("md") if match.group("md") is not None else match.start("tex")
        line = lines.at(match.start())
        scope = _SCOPE.match(body)
        if scope:
            if scopes[-1].first_line == line and not scopes[-1].given and scopes[-1].name == "":
                scopes.pop()
            inherited: tuple[Equation, ...] = ()
            if scope.group(2):
                parent = next((s for s in reversed(scopes) if s.name == scope.group(2)), None)
                if parent is None:
                    raise DocumentProblem(line, f"scope «{scope.group(2)}» is not defined before this line")
                inherited = parent.given
            scopes.append(Scope(scope.group(1), line, inherited, scope.group(2)))
        elif body.startswith("given ") or body.startswith("given\t"):
            start = body.index(" ") + 1
            chunk = Chunk(line, body[start:], offset + start, False)
            found, pieces = equations(chunk, OneLine(line))
            if pieces or not found:
                raise DocumentProblem(line, "a `given` directive holds equations separated by `;`, "
                                            "e.g. `given y = w \\cdot x; x = 2`")
            last = scopes[-1]
            replaced = {_left(e) for e in found}
            scopes[-1] = Scope(last.name, last.first_line,
                               tuple(e for e in last.given if _left(e) not in replaced) + tuple(found), last.parent)
        elif body == "numbers strict":
            strict = True
        elif body.startswith("output "):
            output = body[len("output "):].strip()
        elif body.startswith("columns ") or body.startswith("rows "):
            kind, templates = body.split(" ", 1)
            tables.append(Columns(line, tuple(None if t.strip() == "-" else t.strip() for t in templates.split(";")),
                                  across=kind == "rows"))
        elif _LAYERED.match(body):
            layered |= set(_LAYERED.match(body).group(1).split())
        elif not _LAYERS.match(body):
            raise DocumentProblem(line, f"unknown derive directive «{body[:40]}»: derive knows `scope NAME`, "
                                        "`given …`, `numbers strict`, `output NAME`, `columns …`, `rows …`, "
                                        "`layered LETTERS` "
                                        "and `layers-from=N`")
    return Directives(tuple(scopes), strict, output, tuple(tables), frozenset(layered))


def _left(equation: Equation) -> str:
    return "".join(equation.members[0].split())


def cut_at_scopes(chunks: list[Chunk], directives: Directives, text: str) -> list[Chunk]:
    """Each piece of maths that a scope's first line falls inside (the rows of one display, with a ``% derive:
    scope …`` comment line between two of them) cut at that line, so that each part is read in its own scope."""
    lines = Lines(text)
    firsts = [scope.first_line for scope in directives.scopes]
    cut_chunks: list[Chunk] = []
    for chunk in chunks:
        last = lines.at(chunk.offset + len(chunk.text))
        cuts = [lines.starts[line - 1] - chunk.offset for line in firsts if chunk.line < line <= last]
        cuts = [cut for cut in cuts if 0 < cut < len(chunk.text) and _COMMENT_LINE.match(chunk.text, cut)]
        for begin, end in zip([0] + cuts, cuts + [len(chunk.text)]):
            cut_chunks.append(Chunk(lines.at(chunk.offset + begin), chunk.text[begin:end], chunk.offset + begin,
                                    chunk.display))
    return cut_chunks


_COMMENT_LINE = re.compile(r"[ \t]*%")
