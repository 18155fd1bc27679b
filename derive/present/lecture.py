"""The controls a lecturer sets on a LaTeX article or Beamer deck (plain data: the command line imports it at start-up).

`TexOptions` holds them: a fragment to ``\\input`` instead of a whole document (``body_only``), which backward
steps are shown in full (``steps``, 1-based; the others are summarised in a table), the Beamer theme and aspect
ratio, the article's paper. `tex_options` checks values given as text (the command line's, the Python API's);
`check_applies` refuses an option the chosen format has no use for; `template_fields` is what every TeX template
reads. Messages come from the ``error.lecture`` catalogs, in the language asked for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, message, shown

ASPECTS = {"16:9": "169", "4:3": "43"}
"""``--aspect`` → Beamer's ``aspectratio`` class option."""

PAPERS = {"a4": "a4paper", "letter": "letterpaper"}
"""``--paper`` → the article class's paper option (geometry takes it from there)."""

THEMES = ("default", "AnnArbor", "Antibes", "Bergen", "Berkeley", "Berlin", "Boadilla", "CambridgeUS",
          "Copenhagen", "Darmstadt", "Dresden", "Frankfurt", "Goettingen", "Hannover", "Ilmenau", "JuanLesPins",
          "Luebeck", "Madrid", "Malmoe", "Marburg", "Montpellier", "PaloAlto", "Pittsburgh", "Rochester",
          "Singapore", "Szeged", "Warsaw", "boxes")
"""The Beamer themes ``--theme`` accepts: those shipped with Beamer itself (``beamertheme<NAME>.sty``, installed
wherever Beamer is; tests/test_lecture.py checks each with kpsewhich). A theme keeps its own footline."""

FRAGMENT_PACKAGES = (r"\usepackage{amsmath,amssymb,mathtools,array,booktabs,longtable,graphicx,xcolor,tikz}",
                     r"\usepackage{pdflscape,afterpage}", r"\usetikzlibrary{arrows.meta}")
"""What the preamble of a document that ``\\input``s a ``--body-only`` fragment needs besides its language's lines
(`fragment_preamble`); Beamer slides go into a ``beamer`` document."""

JAPANESE_PACKAGE = r"\usepackage{luatexja}"

STEP_LIMIT = 10_000
_STEPS = re.compile(r"^\s*\d{1,5}(?:\s*-\s*\d{1,5})?(?:\s*,\s*\d{1,5}(?:\s*-\s*\d{1,5})?)*\s*$")

_SLIDES_ONLY = ("theme", "aspect")
_ARTICLE_ONLY = ("paper",)


@dataclass(frozen=True)
class TexOptions:
    """A lecturer's settings of a TeX document; the defaults give the gallery's documents."""

    body_only: bool = False  # a fragment to \input: no preamble, no \begin{document}, no title
    steps: tuple[int, ...] | None = None  # the backward steps shown in full (1-based, ascending); None: all
    theme: str | None = None  # a Beamer theme of THEMES; None: derive's own plain look
    aspect: str | None = None  # a key of ASPECTS; None: 16:9
    paper: str | None = None  # a key of PAPERS; None: a4

    def given(self) -> tuple[str, ...]:
        """The names of the options set to something other than their default."""
        return tuple(name for name, value in (("body_only", self.body_only), ("steps", self.steps),
                                              ("theme", self.theme), ("aspect", self.aspect),
                                              ("paper", self.paper)) if value not in (None, False))


PLAIN = TexOptions()


def parse_steps(text: str) -> tuple[int, ...]:
    """``"1-3,5"`` → ``(1, 2, 3, 5)``: step numbers and upward ranges, separated by commas."""
    if not isinstance(text, str) or not _STEPS.match(text):
        raise InputError(message("lecture.steps_syntax", value=shown(text)), "steps")
    chosen: set[int] = set()
    for part in text.split(","):
        first, _, last = (piece.strip() for piece in part.partition("-"))
        low, high = int(first), int(last or first)
        if low < 1 or high < low:
            raise InputError(message("lecture.steps_range_order", value=shown(part.strip())), "steps")
        if high > STEP_LIMIT:
            raise InputError(message("lecture.steps_syntax", value=shown(text)), "steps")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))


def _choice(value: str | None, choices: Any, key: str, parameter: str) -> str | None:
    if value is not None and value not in choices:
        raise InputError(message(f"lecture.{key}", name=shown(value), choices=", ".join(choices)), parameter)
    return value


def tex_options(*, body_only: bool = False, steps: str | tuple[int, ...] | None = None, theme: str | None = None,
                aspect: str | None = None, paper: str | None = None) -> TexOptions:
    """Checked `TexOptions` from the command line's text or the API's values (``steps`` as ``"1-3,5"`` or numbers)."""
    if steps is not None and not isinstance(steps, str):
        steps = ",".join(map(str, steps)) if all(isinstance(s, int) and not isinstance(s, bool) for s in steps) \
            else repr(steps)
    return TexOptions(bool(body_only), None if steps is None else parse_steps(steps),
                      _choice(theme, THEMES, "theme", "theme"), _choice(aspect, ASPECTS, "aspect", "aspect"),
                      _choice(paper, PAPERS, "paper", "paper"))


def check_applies(options: TexOptions, fmt: str, tex: bool, kind: str) -> None:
    """An input error naming the first option set that a document of ``kind`` in ``fmt`` has no use for."""
    for name in options.given():
        if not tex:
            raise InputError(message("lecture.tex_only"), name)
        if name in _SLIDES_ONLY and fmt != "beamer":
            raise InputError(message("lecture.slides_only"), name)
        if name in _ARTICLE_ONLY and fmt != "latex":
            raise InputError(message("lecture.article_only"), name)
        if name == "steps" and kind != "walkthrough":
            raise InputError(message("lecture.steps_walkthrough"), name)


def check_step_numbers(options: TexOptions, count: int) -> frozenset[int] | None:
    """The 0-based indices of the steps shown in full, of ``count`` backward steps (None: all)."""
    if options.steps is None:
        return None
    beyond = [k for k in options.steps if k > count]
    if beyond:
        raise InputError(message("lecture.steps_beyond", step=beyond[0], count=count), "steps")
    return frozenset(k - 1 for k in options.steps)


def fragment_preamble(language_preamble: str, engine: str) -> tuple[str, ...]:
    """The preamble lines a document needs to ``\\input`` a fragment: its language's (the fonts and encoding of
    pdfLaTeX, whose T1 encoding the escaped prose needs; luatexja for LuaLaTeX, which the Japanese article's class
    loads itself), then `FRAGMENT_PACKAGES`."""
    own = [line for line in language_preamble.splitlines() if line.strip()]
    if engine == "lualatex" and JAPANESE_PACKAGE not in own:
        own.insert(0, JAPANESE_PACKAGE)
    return (*own, *FRAGMENT_PACKAGES)


def template_fields(options: TexOptions, language_preamble: str = "", engine: str = "") -> dict[str, Any]:
    """What the TeX templates read: ``body_only``, ``theme``, ``aspect_ratio`` and ``paper`` (class options) and the
    preamble lines a fragment's document needs (``fragment_packages``)."""
    return {"body_only": options.body_only, "theme": options.theme,
            "aspect_ratio": ASPECTS[options.aspect or "16:9"], "paper": PAPERS[options.paper or "a4"],
            "fragment_packages": fragment_preamble(language_preamble, engine)}
