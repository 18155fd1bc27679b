"""Figure labels as maths: the LaTeX that derive's printer writes, read into runs of styled text (italic letters,
upright digits and function names, raised and lowered indices) and measured with a fixed table of advance widths.

No font is measured at run time, so an SVG figure is the same file on every machine. The table holds DejaVu Serif
(the first font a figure asks for, and the widest of the fonts it falls back to); ``scripts/font-widths.py``
prints it. Reading covers the LaTeX subset that `derive.notation.DerivePrinter` and the figures' own labels use;
``strict`` makes anything else an error (the tests read every label of every scenario so).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

SCRIPT = 0.7  # an index's size relative to its base
RISE = 0.38  # a superscript's baseline above its base's, in ems of the base
DROP = 0.22  # a subscript's baseline below its base's
ASCENT = 0.76  # ink above the baseline and below it, in ems (DejaVu Serif: ascenders and descenders)
DESCENT = 0.24
MINUS = "\u2212"

_CHARS = (" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
          "\u2212\u00b7\u00d7\u00f7\u2202\u221a\u2032\u2217\u2299\u2190\u221e"
          "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03c0\u03c1\u03c3"
          "\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9\u0393\u0394\u0398\u039b\u039e\u03a0\u03a3\u03a5\u03a6\u03a8\u03a9")
_WIDTHS = (318, 402, 460, 838, 636, 950, 890, 275, 390, 390, 500, 838, 318, 338, 318, 337, 636, 636, 636, 636, 636,
           636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 536, 1000, 722, 735, 765, 802, 730, 694, 799, 872, 395,
           401, 747, 664, 1024, 875, 820, 673, 820, 753, 685, 667, 843, 722, 1028, 712, 660, 695, 390, 337, 390, 838,
           500, 500, 596, 640, 560, 640, 592, 370, 640, 644, 320, 310, 606, 320, 948, 644, 602, 640, 640, 478, 513,
           402, 644, 565, 856, 564, 565, 527, 636, 337, 636, 838, 838, 318, 838, 838, 517, 637, 227, 680, 838, 838,
           833, 675, 578, 598, 602, 537, 542, 599, 602, 392, 656, 634, 650, 608, 551, 657, 588, 683, 553, 608, 700,
           606, 784, 815, 694, 722, 820, 722, 704, 872, 707, 660, 820, 877, 829)
_ADVANCE = dict(zip(_CHARS, _WIDTHS))
_UNKNOWN_WIDTH = 1000  # a character the table lacks counts as one em, wider than any it holds

_LOWER_GREEK = dict(zip("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
                        "upsilon phi chi psi omega varepsilon varphi".split(),
                        "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be"
                        "\u03c0\u03c1\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9\u03b5\u03c6"))
_UPPER_GREEK = dict(zip("Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split(),
                        "\u0393\u0394\u0398\u039b\u039e\u03a0\u03a3\u03a5\u03a6\u03a8\u03a9"))
_SYMBOLS = {"partial": "\u2202", "cdot": "\u00b7", "times": "\u00d7", "div": "\u00f7", "ast": "\u2217",
            "odot": "\u2299", "leftarrow": "\u2190", "infty": "\u221e", "surd": "\u221a", "prime": "\u2032",
            **_UPPER_GREEK}
_CHARACTERS = {"-": MINUS, "'": "\u2032", "*": "\u2217"}
_FUNCTIONS = frozenset("log exp ln sin cos tan tanh sinh cosh max min".split())
_UPRIGHT_GROUPS = frozenset("mathrm operatorname text mathsf mathbf".split())
_SPACES = frozenset(", ; : ! quad qquad left right big Big".split())  # nothing to draw (delimiters follow)
_OPERATORS = frozenset("+\u2212\u00b7\u00d7\u00f7/")
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)


@dataclass(frozen=True)
class Run:
    """A piece of a label drawn in one style. ``size`` is relative to the label's font size; ``rise`` (baseline
    upwards) and ``back`` (a move to the left before the run, to stack an index under another) are in ems of it."""

    text: str
    italic: bool = False
    size: float = 1.0
    rise: float = 0.0
    back: float = 0.0


@dataclass(frozen=True)
class _Style:
    italic_letters: bool = True
    size: float = 1.0
    rise: float = 0.0

    def script(self, up: bool) -> "_Style":
        shift = RISE if up else -DROP
        return replace(self, size=self.size * SCRIPT, rise=self.rise + shift * self.size)


@lru_cache(maxsize=4096)
def read(latex: str, strict: bool = False) -> tuple[Run, ...]:
    """The runs of a maths-mode LaTeX label; an unknown command is drawn as its name (``strict``: ValueError)."""
    reader = _Reader(_TOKEN.findall(latex), strict)
    return tuple(_merged(reader.sequence(_Style())))


def plain(runs: tuple[Run, ...]) -> str:
    """The characters of the runs, in drawing order (what a screen reader or a text search finds)."""
    return "".join(run.text for run in runs)


def advance(text: str) -> float:
    """The width of ``text`` in ems of its font."""
    return sum(0 if unicodedata.combining(c) else _ADVANCE.get(c, _UNKNOWN_WIDTH) for c in text) / 1000


def width(runs: tuple[Run, ...]) -> float:
    """How far the runs advance, in ems of the label's font."""
    return sum(advance(run.text) * run.size - run.back for run in runs)


def extent(runs: tuple[Run, ...]) -> tuple[float, float]:
    """Ink above and below the label's baseline, in ems of its font."""
    up = max((run.rise + ASCENT * run.size for run in runs), default=0.0)
    down = max((DESCENT * run.size - run.rise for run in runs), default=0.0)
    return up, down


class _Reader:
    def __init__(self, tokens: list[str], strict: bool) -> None:
        self.tokens, self.at, self.strict = tokens, 0, strict

    def next(self) -> str | None:
        while self.at < len(self.tokens) and self.tokens[self.at].isspace():
            self.at += 1
        if self.at == len(self.tokens):
            return None
        self.at += 1
        return self.tokens[self.at - 1]

    def peek(self) -> str | None:
        at = self.at
        token = self.next()
        self.at = at
        return token

    def sequence(self, style: _Style) -> list[Run]:
        """Atoms up to the closing brace of the current group (or the end), each with its indices."""
        runs: list[Run] = []
        while (token := self.next()) is not None and token != "}":
            runs += self.atom(token, style)
            runs += self.scripts(style)
        return runs

    def scripts(self, style: _Style) -> list[Run]:
        """``^{…}`` and ``_{…}`` after an atom; both: stacked, the narrower first, the wider drawn over it."""
        found: list[list[Run]] = []
        while self.peek() in ("^", "_") and len(found) < 2:
            up = self.next() == "^"
            token = self.next()
            found.append(self.atom(token, style.script(up)) if token is not None else [])
        if len(found) < 2:
            return found[0] if found else []
        first, second = sorted(found, key=lambda runs: width(tuple(runs)))
        return first + [replace(second[0], back=width(tuple(first)))] + second[1:] if second else first

    def argument(self, style: _Style) -> list[Run]:
        token = self.next()
        return self.atom(token, style) if token is not None else []

    def atom(self, token: str, style: _Style) -> list[Run]:
        if token == "{":
            return self.sequence(style)
        if not token.startswith("\\"):
            italic = token.isascii() and token.isalpha() and style.italic_letters
            return [Run(_CHARACTERS.get(token, token), italic, style.size, style.rise)]
        name = token[1:]
        if len(name) == 1 and not name.isalpha():  # \_ \{ \} \% and the spacing commands \, \; \!
            return [] if name in _SPACES or name.isspace() else [Run(name, False, style.size, style.rise)]
        if name in _SPACES:
            if self.peek() == ".":
                self.next()  # \left. draws nothing
            return []
        if name in _LOWER_GREEK:
            return [Run(_LOWER_GREEK[name], True, style.size, style.rise)]
        if name in _SYMBOLS:
            return [Run(_SYMBOLS[name], False, style.size, style.rise)]
        if name in _FUNCTIONS:
            return [Run(name, False, style.size, style.rise)]
        if name in _UPRIGHT_GROUPS:
            return self.argument(replace(style, italic_letters=False))
        if name == "mathit":
            return self.argument(replace(style, italic_letters=True))
        if name == "hat":
            inner = self.argument(style)
            return inner[:-1] + [replace(inner[-1], text=inner[-1].text + "\u0302")] if inner else []
        if name == "frac":  # on one line, as a figure's labels are: a/b
            numerator, denominator = self.argument(style), self.argument(style)
            return _grouped(numerator, style) + [Run("/", False, style.size, style.rise)] + \
                _grouped(denominator, style)
        if name == "sqrt":
            return [Run("\u221a", False, style.size, style.rise)] + _grouped(self.argument(style), style)
        if self.strict:
            raise ValueError(f"figure labels cannot draw the LaTeX command {token}")
        return [Run(name, False, style.size, style.rise)]


def _grouped(runs: list[Run], style: _Style) -> list[Run]:
    """Runs in parentheses when they hold an operator, as a fraction's parts written on one line need."""
    if not any(c in _OPERATORS for c in plain(tuple(runs))):
        return runs
    return [Run("(", False, style.size, style.rise), *runs, Run(")", False, style.size, style.rise)]


def _merged(runs: list[Run]) -> list[Run]:
    """Neighbouring runs of one style joined (fewer ``tspan`` elements)."""
    merged: list[Run] = []
    for run in runs:
        last = merged[-1] if merged else None
        if last is not None and run.back == 0 and (last.italic, last.size, last.rise) == (run.italic, run.size,
                                                                                          run.rise):
            merged[-1] = replace(last, text=last.text + run.text)
        else:
            merged.append(run)
    return merged
