"""LaTeX text that every TeX document of derive needs, whatever its kind: catalog prose made safe for LaTeX
(`escape_prose`), program text for ``\\texttt`` (`escape_code`), and the head of a document in a language
(`document_head`). Apart from `derive.present.tex` so that a verification report's LaTeX does not load the
walk-through's figures and context."""
from __future__ import annotations

import re

from .formats import tex_engine

# --- prose ----------------------------------------------------------------------------------------------------------

_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "%": r"\%", "&": r"\&", "_": r"\_",
    "^": r"\^{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    '"': r"\textquotedbl{}", "$": r"\$",
}

# Characters that are maths in prose ("(y − y)²", "σ(1 − σ)", "η"): typeset in maths mode so that both engines
# and every font have them. Adjacent ones share one $…$.
MATH_CHARS = {
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
TEXT_CHARS = {"\u00a0": "~", "\u2009": r"\,", "\u202f": r"\,", "\u2713": r"$\checkmark$", "\u2026": r"\dots{}"}

# Inline spans that become maths or code rather than escaped text.
_SPAN = re.compile(
    r"(?P<math>(?<!\\)\$(?:[^$\\]|\\.)+?\$)"  # $…$, already LaTeX: left untouched
    r"|(?P<flag>(?<![\w-])--[A-Za-z][\w-]*)"  # a command-line flag such as --wrt
    r"|(?P<code>(?<![\w\\])[A-Za-z]\w*?_(?![\w{]))"  # a program name with a trailing underscore such as y_
    r"|(?P<sub>(?<![\w\\])[A-Za-z]_(?:\{[A-Za-z0-9,]+\}|[A-Za-z0-9]+)(?![\w]))",  # an indexed name such as y_k
)


def escape_prose(text: str) -> str:
    """Catalog prose as LaTeX text: special characters escaped, ``$…$`` maths left as it is, maths characters
    in the prose (``−``, ``²``, ``σ``, ``η``, …) typeset as maths, ``y_k`` as ``$y_{k}$``, flags and program
    names such as ``--wrt`` and ``y_`` in typewriter type."""
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
            out.append(r"\texttt{" + escape_code(span, breaks=False) + "}")
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
        if char in MATH_CHARS:
            math.append(MATH_CHARS[char])
            continue
        flush()
        if char in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[char])
        elif char in TEXT_CHARS:
            out.append(TEXT_CHARS[char])
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


_CODE_ESCAPES = {**_TEXT_ESCAPES, "-": "-{}", "'": r"\textquotesingle{}", "`": r"\textasciigrave{}",
                 " ": r"\ ", "*": r"{*}"}
_BREAK_AFTER = frozenset("+-*/")


def escape_code(text: str, breaks: bool = True) -> str:
    """Program text for ``\\texttt``: every character as typed (no ligatures, no curly quotes); with ``breaks``, a
    long line may break after an operator."""
    return "".join(_CODE_ESCAPES.get(char, char) + (r"\allowbreak{}" if breaks and char in _BREAK_AFTER else "")
                   for char in text)


def preamble(lang: str, fmt: str) -> str:
    """Engine-specific preamble lines (fonts, Japanese) for a document in ``lang`` and ``fmt``; the Japanese
    article's class, ``ltjsarticle``, loads luatexja itself."""
    if tex_engine(lang) == "lualatex":
        lines = [] if fmt == "latex" else [r"\usepackage{luatexja}"]
        if fmt == "beamer":
            lines.append(r"\renewcommand{\kanjifamilydefault}{\gtdefault}")
        return "\n".join(lines)
    return "\n".join([r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}", r"\usepackage{textcomp}"])


def article_class(lang: str) -> str:
    """The class of an article in ``lang``: ``ltjsarticle`` (it loads luatexja itself) for the LuaLaTeX languages."""
    return "ltjsarticle" if tex_engine(lang) == "lualatex" else "article"


def document_head(lang: str, fmt: str) -> dict[str, str]:
    """What every TeX template of any document kind (walk-through, network, verify report) puts before its own
    packages: the engine and its first line, the article's class and the language's preamble lines, so that a
    Japanese document always gets luatexja."""
    engine = tex_engine(lang)
    return {"engine": engine, "engine_line": f"% !TEX program = {engine}", "preamble": preamble(lang, fmt),
            "article_class": article_class(lang)}
