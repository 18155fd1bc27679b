"""What the LaTeX article and the Beamer slides need beyond the common context.

`tex_context` adds: the engine (first line of the document), the preamble pieces of that engine, the TikZ
figures of the computational graph (from `derive.figures`), the overlay plan of the backward walk for Beamer, and
two helpers the templates call: ``esc`` (`escape_prose`: catalog prose made safe for LaTeX, ``$…$`` maths left
untouched) and ``rows`` (`align_rows`: a printed chain ``a = b = c`` as the rows of an ``align*``).

Nothing here builds maths: every formula still comes from `derive.notation` through `derive.context`; this module
only splits printed chains at their top-level ``=`` and escapes prose.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from .context import catalog

if TYPE_CHECKING:
    from .backward import Derivation
    from .walkthrough import Walkthrough

ENGINES = {"en": "pdflatex", "ja": "lualatex"}
"""The TeX engine of each language: Japanese needs LuaTeX for ``luatexja``."""

STEPS_PER_FRAME = 6
"""Backward steps on one Beamer frame (each step is one overlay); more steps continue on the next frame."""

TERMS_PER_SLIDE = 3
"""Inputs of one step shown on one overlay; a step with more inputs takes several overlays."""

ROWS_PER_TABLE_FRAME = 10
"""Rows of the node table on one slide (two columns of tables when it has more than half as many)."""

GRADIENTS_PER_FRAME = 4
"""Gradient equations on one slide of the 'gradients collected' frames."""

# --- prose ------------------------------------------------------------------------------------------------------

_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "%": r"\%", "&": r"\&", "_": r"\_",
    "^": r"\^{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    '"': r"\textquotedbl{}", "$": r"\$",
}

# Characters that are maths in prose ("(y − y)²", "σ(1 − σ)", "η"): typeset in maths mode so that both engines
# and every font have them. Adjacent ones share one $…$.
_MATH_CHARS = {
    "\u2212": "-", "\u00d7": r"\times", "\u00f7": r"\div", "\u00b7": r"\cdot", "\u22c5": r"\cdot",
    "\u00b1": r"\pm", "\u2213": r"\mp",
    "\u00b2": "^{2}", "\u00b3": "^{3}", "\u00b9": "^{1}", "\u2070": "^{0}", "\u207f": "^{n}", "\u1d40": "^{\\top}",
    "\u207b": "^{-}", "\u207a": "^{+}", "\u2032": "'", "\u2033": "''",
    "\u2080": "_{0}", "\u2081": "_{1}", "\u2082": "_{2}", "\u2083": "_{3}", "\u1d62": "_{i}", "\u2c7c": "_{j}",
    "\u2096": "_{k}", "\u2099": "_{n}", "\u2097": "_{l}", "\u2098": "_{m}",
    "\u00bd": r"\tfrac{1}{2}", "\u221a": r"\surd", "\u2202": r"\partial", "\u2207": r"\nabla",
    "\u2211": r"\sum", "\u220f": r"\prod", "\u221e": r"\infty", "\u2208": r"\in", "\u2209": r"\notin",
    "\u2192": r"\to", "\u2190": r"\leftarrow", "\u21d2": r"\Rightarrow", "\u21d0": r"\Leftarrow",
    "\u2194": r"\leftrightarrow", "\u21d4": r"\Leftrightarrow", "\u2264": r"\le", "\u2265": r"\ge",
    "\u2260": r"\ne", "\u2248": r"\approx", "\u2261": r"\equiv", "\u225d": r"\stackrel{\mathrm{def}}{=}",
    "\u2254": r"\coloneqq", "\u2299": r"\odot", "\u2297": r"\otimes", "\u2218": r"\circ", "\u2225": r"\parallel",
    "\u2016": r"\|", "\u27e8": r"\langle", "\u27e9": r"\rangle",
    "\u03b1": r"\alpha", "\u03b2": r"\beta", "\u03b3": r"\gamma", "\u03b4": r"\delta", "\u03b5": r"\varepsilon",
    "\u03f5": r"\epsilon", "\u03b6": r"\zeta", "\u03b7": r"\eta", "\u03b8": r"\theta", "\u03b9": r"\iota",
    "\u03ba": r"\kappa", "\u03bb": r"\lambda", "\u03bc": r"\mu", "\u03bd": r"\nu", "\u03be": r"\xi",
    "\u03c0": r"\pi", "\u03c1": r"\rho", "\u03c3": r"\sigma", "\u03c4": r"\tau", "\u03c6": r"\varphi",
    "\u03d5": r"\phi", "\u03c7": r"\chi", "\u03c8": r"\psi", "\u03c9": r"\omega",
    "\u0393": r"\Gamma", "\u0394": r"\Delta", "\u0398": r"\Theta", "\u039b": r"\Lambda", "\u039e": r"\Xi",
    "\u03a0": r"\Pi", "\u03a3": r"\Sigma", "\u03a6": r"\Phi", "\u03a8": r"\Psi", "\u03a9": r"\Omega",
}

# Text characters pdfLaTeX's utf8 input does not know, mapped to text commands (LuaLaTeX would take them as they
# are, but one spelling for both engines keeps the sources alike).
_TEXT_CHARS = {"\u00a0": "~", "\u2009": r"\,", "\u202f": r"\,", "\u2713": r"$\checkmark$", "\u2026": r"\dots{}"}

# Inline spans that become maths or code rather than escaped text.
_SPAN = re.compile(
    r"(?P<math>(?<!\\)\$(?:[^$\\]|\\.)+?\$)"  # $…$, already LaTeX: left untouched
    r"|(?P<flag>(?<![\w-])--[A-Za-z][\w-]*)"  # a command-line flag such as --wrt
    r"|(?P<code>(?<![\w\\])[A-Za-z]\w*?_(?![\w]))"  # a program name with a trailing underscore such as y_
    r"|(?P<sub>(?<![\w\\])[A-Za-z]_(?:\{[A-Za-z0-9,]+\}|[A-Za-z0-9]+)(?![\w]))",  # an indexed name such as y_k
)


def escape_prose(text: str) -> str:
    """Catalog prose as LaTeX text: special characters escaped, ``$…$`` maths left as it is, maths characters
    in the prose (``−``, ``²``, ``σ``, ``η``, …) typeset as maths, ``y_k`` as `$y_{k}$`, flags and program names
    such as ``--wrt`` and ``y_`` in typewriter type."""
    out: list[str] = []
    position = 0
    for match in _SPAN.finditer(text):
        out.append(_escape_text(text[position:match.start()]))
        kind, span = match.lastgroup, match.group()
        if kind == "math":
            out.append(span)
        elif kind == "sub":
            name, index = span.split("_", 1)
            out.append("$" + name + "_{" + index.strip("{}") + "}$")
        else:
            out.append(r"\texttt{" + escape_code(span) + "}")
        position = match.end()
    out.append(_escape_text(text[position:]))
    return "".join(out)


def _escape_text(text: str) -> str:
    out: list[str] = []
    math: list[str] = []

    def flush() -> None:
        if math:
            out.append("$" + _join_math(math) + "$")
            math.clear()

    for char in text:
        if char in _MATH_CHARS:
            math.append(_MATH_CHARS[char])
            continue
        flush()
        if char in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[char])
        elif char in _TEXT_CHARS:
            out.append(_TEXT_CHARS[char])
        else:
            out.append(char)
    flush()
    # "--" would become an en dash, "``" and "''" quotes: keep what the catalog wrote
    return "".join(out).replace("--", "-{}-").replace("``", "`{}`")


def _join_math(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if text and text[-1].isalpha() and part[:1].isalpha():
            text += " "
        text += part
    return text


# --- chains -----------------------------------------------------------------------------------------------------

_OPEN = re.compile(r"\\left(?![a-zA-Z])|\{")
_CLOSE = re.compile(r"\\right(?![a-zA-Z])|\}")


def chain_members(chain: str) -> list[str]:
    """A printed chain ``a = b = c`` split at its top-level ``=`` (outside braces and ``\\left…\\right``)."""
    members, depth, start, i = [], 0, 0, 0
    while i < len(chain):
        if chain.startswith("\\left", i) and not chain[i + 5:i + 6].isalpha():
            depth, i = depth + 1, i + 5
        elif chain.startswith("\\right", i) and not chain[i + 6:i + 7].isalpha():
            depth, i = depth - 1, i + 6
        elif chain[i] == "\\":
            i += 2  # an escaped character or the first letter of a command; "\{" must not count
        elif chain[i] == "{":
            depth, i = depth + 1, i + 1
        elif chain[i] == "}":
            depth, i = depth - 1, i + 1
        elif chain[i] == "=" and depth == 0:
            members.append(chain[start:i].strip())
            start = i = i + 1
        else:
            i += 1
    members.append(chain[start:].strip())
    return members


def align_rows(chain: str) -> str:
    """The rows of an ``align*`` (or ``aligned``) for a chain: ``a &= b \\\\ &= c``; one member per row."""
    members = chain_members(chain)
    if len(members) == 1:
        return "&" + members[0]
    first, *rest = members
    return (first + " &= " + " \\\\\n  &= ".join(rest))


# --- figures ----------------------------------------------------------------------------------------------------

def _tikz(derivation: "Derivation", highlight: str | None = None, shown: Iterable[str] | None = None) -> str:
    from .figures import layout, to_tikz
    return to_tikz(layout(derivation, highlight=highlight,
                          shown_gradients=None if shown is None else set(shown))).rstrip("\n")


def _figures(walk: "Walkthrough") -> dict[str, Any]:
    d = walk.derivation
    return {
        "forward": _tikz(d, shown=()),
        "start": _tikz(d, shown=(d.output,)),
        "full": _tikz(d),
        "updates": [_tikz(u.derivation) for u in walk.updates],
    }


def overlay_plan(derivation: "Derivation") -> list[dict[str, Any]]:
    """The Beamer slides of the backward walk, in order, grouped into frames.

    Each frame is ``{"slides": [...], "start": bool}``; the first frame opens with the start slide (overlay 1, only
    ∂f/∂f = 1 in red). Backward step k (``context["steps"][k-1]``) is overlay k + 1 of its frame when the frames
    hold every step; a step with more than `TERMS_PER_SLIDE` inputs spreads over several overlays. Each slide is
    ``{"overlay", "step" (0-based index into context["steps"]), "terms" (indices into its terms), "part",
    "parts", "figure"}``: the graph with the step's node highlighted and, in red, every gradient known once the
    step is done (a gradient is known when every node that reads the value has been processed).
    """
    out = derivation.output
    readers = derivation.graph.consumers()
    processed: set[str] = set()
    frames: list[dict[str, Any]] = [{"start": True, "slides": []}]
    overlay = 1
    for k, step in enumerate(derivation.steps):
        if k and k % STEPS_PER_FRAME == 0:
            frames.append({"start": False, "slides": []})
            overlay = 0
        processed.add(step.node)
        known = {out} | {name for name, rs in readers.items() if rs and all(r in processed for r in rs)}
        figure = _tikz(derivation, highlight=step.node, shown=known)
        chunks = [list(range(i, min(i + TERMS_PER_SLIDE, len(step.terms))))
                  for i in range(0, max(len(step.terms), 1), TERMS_PER_SLIDE)]
        for part, terms in enumerate(chunks, 1):
            overlay += 1
            frames[-1]["slides"].append({"overlay": overlay, "step": k, "terms": terms, "part": part,
                                         "parts": len(chunks), "figure": figure})
    for number, frame in enumerate(frames, 1):
        frame["number"], frame["of"] = number, len(frames)
    return frames


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


# --- the context ------------------------------------------------------------------------------------------------

def preamble(lang: str, fmt: str) -> str:
    """Engine-specific preamble lines (fonts, Japanese) for a document in ``lang`` and ``fmt``."""
    if ENGINES[lang] == "lualatex":
        lines = [r"\usepackage{luatexja}"]
        if fmt == "beamer":
            lines.append(r"\renewcommand{\kanjifamilydefault}{\gtdefault}")
        return "\n".join(lines)
    return "\n".join([r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}", r"\usepackage{textcomp}"])


def tex_context(walk: "Walkthrough", lang: str, fmt: str) -> dict[str, Any]:
    """Extra context for the ``latex`` and ``beamer`` templates (see the module's docstring)."""
    from .figures import TIKZ_PREAMBLE
    engine = ENGINES[lang]
    d = walk.derivation
    nodes = list(range(len(d.graph.nodes)))
    t = catalog(lang)
    context: dict[str, Any] = {
        "engine": engine,
        "engine_line": f"% !TEX program = {engine}",
        "preamble": preamble(lang, fmt),
        "tikz_preamble": TIKZ_PREAMBLE.rstrip("\n"),
        "esc": escape_prose,
        "code": escape_code,
        "rows": align_rows,
        "members": chain_members,
        "chunks": _chunks,
        "figures": _figures(walk),
        "source_lines": [line.strip() for line in re.split(r"[;\n]", walk.source) if line.strip()],
        "tex_title": escape_prose(t.get(f"scenario.{walk.name}.title", t["title.explain"])),
    }
    if fmt == "beamer":
        context["backward_frames"] = overlay_plan(d)
        half = (len(nodes) + 1) // 2
        context["node_table_split"] = len(nodes) > ROWS_PER_TABLE_FRAME // 2 and half <= ROWS_PER_TABLE_FRAME
        context["rows_per_table_frame"] = ROWS_PER_TABLE_FRAME
        context["gradients_per_frame"] = GRADIENTS_PER_FRAME
    return context


_CODE_ESCAPES = {**_TEXT_ESCAPES, "-": "-{}", "'": r"\textquotesingle{}", "`": r"\textasciigrave{}",
                 " ": r"\ ", "*": r"{*}"}


def escape_code(text: str) -> str:
    """Program text for ``\\texttt``: every character as typed (no ligatures, no curly quotes)."""
    return "".join(_CODE_ESCAPES.get(char, char) for char in text)
