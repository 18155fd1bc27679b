"""The LaTeX expression grammar shared by `derive verify` and `derive explain`: a preprocessing pass and a small
LALR grammar (lark) that read into the neutral syntax tree of `derive.syntax_tree`.

Nothing here evaluates text. A formula is normalised by `normalise` (Unicode letters to macros, ``\\dfrac`` to
``\\frac``, ``\\left``/``\\right``/``\\color{…}``/``\\displaystyle`` and spacing dropped, ``\\mathrm{…}`` words
sorted into functions, differentials and names, one-character scripts braced), every remaining macro is checked
against a whitelist, and the grammar turns the result into the tree's dataclasses. Anything else is a
`SyntaxProblem` naming what could not be read.

What a symbol with scripts means is the caller's choice: `parse` takes a ``make_symbol(base, decor, scripts)``
(verify reads integer superscripts on w, a, z, b, δ as layers; explain reads every superscript as a power).
"""
from __future__ import annotations

import io
import re
from fractions import Fraction
from functools import lru_cache
from typing import Callable

from . import usercache
from .errors import Localized
# the tree is re-exported: `derive.verify` reads the grammar and its tree from here
from .syntax_tree import (Add, Const, Deriv, DerivOf, Div, Func, Matrix, Mul, Neg, Node, Num, Pow, Sum,  # noqa: F401
                          Sym, Transpose, Word, children, walk)

MAX_MEMBER_CHARS = 8000
MAX_DEPTH = 40
MAX_NUMBER_DIGITS = 30
MAX_EXPONENT = 1000
MAX_TREE_DEPTH = 120
MAX_CHAIN = 500


class SyntaxProblem(Localized):
    """Maths outside the grammar; the message is one line for the user (``verify`` shows it in English,
    ``explain`` in the language of ``--lang`` where the catalogs hold it)."""


def quote(text: str) -> str:
    """A piece of the user's text (or of LaTeX source) inside a message: «…», which every report format shows
    as code, never as maths. Guillemets and line breaks inside are replaced so that the quote stays one piece."""
    text = " ".join(str(text).replace("\u00ab", "<").replace("\u00bb", ">").split())
    return "\u00ab" + text + "\u00bb"


GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho "
         "varrho tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi "
         "Omega ell").split()
FUNCTIONS = ("log", "ln", "exp", "tanh", "sin", "cos", "relu", "step", "ident")
DECORATIONS = ("hat", "bar", "tilde", "widehat", "widetilde", "overline", "mathcal", "mathscr")
ITALIC = "mathit"  # the decoration of a variable named like a constant (``\\mathit{e}``): never the constant


# --- preprocessing ---------------------------------------------------------------------------------------------

_UNICODE = {
    "\u2202": r"\partial ", "\u03c3": r"\sigma ", "\u03b4": r"\delta ", "\u0394": r"\Delta ", "\u2211": r"\sum ", "\u220f": r"\prod ",
    "\u03a3": r"\sum ", "\u00b7": r"\cdot ", "\u22c5": r"\cdot ", "\u00d7": r"\times ", "\u2212": "-",
    "\u2013": "-", "\u2032": "'", "\u2033": "''", "\u03b7": r"\eta ", "\u03b1": r"\alpha ", "\u03b2": r"\beta ",
    "\u03b3": r"\gamma ", "\u03b5": r"\varepsilon ", "\u03b8": r"\theta ", "\u03bb": r"\lambda ",
    "\u03bc": r"\mu ", "\u03c0": r"\pi ", "\u03c4": r"\tau ", "\u03c6": r"\varphi ", "\u03c9": r"\omega ",
    "\u1d40": "^{T}", "\u00b2": "^{2}", "\u00b3": "^{3}", "\u2299": r"\odot ", "\u0177": r"\hat{y}",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u3000": " ", "\u2080": "_{0}", "\u2081": "_{1}",
    "\u2082": "_{2}", "\u2083": "_{3}", "\u1d62": "_{i}", "\u2c7c": "_{j}", "\u2096": "_{k}",
}

# Macros dropped without a trace (sizing, spacing, style).
_DROP = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits|left|right|middle|"
                   r"[bB]igg?[lrm]?|quad|qquad|mathstrut|strut|allowbreak)(?![A-Za-z])|\\[,;:!> ]|~")
_COLOR = re.compile(r"\\(?:color|textcolor)\s*(?:\[[A-Za-z]*\])?\s*\{[A-Za-z0-9!.,\s-]*\}")
_MARKED = re.compile(r"\\underset\s*\{[^{}]*\}|\\boxed(?![A-Za-z])")
_LEFT_RIGHT_DOT = re.compile(r"\\(?:left|right)\s*\.")
_ITALIC_NAME = re.compile(r"\\mathit\s*\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}")
"""``\\mathit{e}``: a variable named like a constant (derive prints a variable e so), never Euler's e or π."""
_BOLD = re.compile(r"\\(?:mathbf|boldsymbol|bm|vec|mathit|mathnormal|pmb)(?![A-Za-z])\s*")
_BOLD_LETTER = re.compile(r"\\(?:mathbf|boldsymbol|bm|vec|mathit|mathnormal|pmb)\s*\{\s*(\\[A-Za-z]+|[A-Za-z])\s*\}")
_WORD = re.compile(r"\\(?:mathrm|text|textrm|operatorname|mathsf|textsf|texttt|textit|mathtt)\s*\{\s*([^{}]*?)\s*\}")
_SCRIPT_SHORT = re.compile(r"(?<!\\)([_^])\s*(\\[A-Za-z]+|[A-Za-z0-9]|')")
_FRAC_SHORT = re.compile(r"\\frac\s*([0-9A-Za-z])\s*([0-9A-Za-z])")
_FRAC_HALF = re.compile(r"\\frac\s*([0-9A-Za-z])\s*(?=\{)")
_DECOR_SHORT = re.compile(r"\\(" + "|".join(DECORATIONS) + r")\s*(\\[A-Za-z]+|[A-Za-z])")
_D_SLASH = re.compile(r"(?<![A-Za-z\\])d\s*(?=(?:[A-Za-z]|\\[A-Za-z]+)(?:\s*[_^]\s*(?:\{[^{}]*\}|[A-Za-z0-9]))*"
                      r"\s*/\s*d\s*(?:[A-Za-z]|\\[A-Za-z]+))")
_D_SLASH_DEN = re.compile(r"/\s*d\s*(?=[A-Za-z]|\\[A-Za-z])")
_MACRO = re.compile(r"\\([A-Za-z]+|.)")

ALLOWED_MACROS = frozenset(
    GREEK + list(FUNCTIONS) + list(DECORATIONS)
    + ["frac", "partial", "sum", "prod", "abs", "sigma", "sqrt", "normsq", "cdot", "times", "ast", "odot", "circ", "top",
       "intercal", "prime", "DD", "name", "italic", "DLAYER", "max", "min", "applied", "softmax", "matrix", "rowbreak",
       "leaky", "cases", "held", "ones"])

_WORDS = {"d": r"\DD ", "e": "e", "T": "T", "log": r"\log ", "ln": r"\ln ", "exp": r"\exp ", "tanh": r"\tanh ",
          "sigmoid": r"\sigma ", "ReLU": r"\relu ", "relu": r"\relu ", "Relu": r"\relu ", "sin": r"\sin ",
          "cos": r"\cos ", "id": r"\ident "}


def normalise(text: str) -> str:
    """Normalise one formula so that the grammar sees a small, regular language (see the module docstring)."""
    if len(text) > MAX_MEMBER_CHARS:
        raise SyntaxProblem(f"this formula is {len(text)} characters long; the limit is {MAX_MEMBER_CHARS}")
    out = []
    for char in text:
        if char in _UNICODE:
            out.append(_UNICODE[char])
        elif ord(char) < 128:
            if ord(char) < 32 and char not in "\t\n\r":
                raise SyntaxProblem(f"control character U+{ord(char):04X} in the maths")
            out.append(char)
        else:
            raise SyntaxProblem.of("latex_problem.character", char=quote(char), code=f"{ord(char):04X}")
    text = "".join(out)
    text = _underbraces(text)
    text = _nabla(text)
    text = _cases(text)
    text = _indicators(text)
    text = _ONES.sub(lambda m: r"\ones{" + (m.group(1) or m.group(2)) + "}", text)
    text = text.replace("\\{", "(").replace("\\}", ")")
    text = _matrices(text)  # before the spacing macros go: a row break is not the space «\ »
    text = _substacked_sums(text)
    text = _COLOR.sub(" ", text)
    text = _MARKED.sub(" ", text)  # an answer key's \underset{(3)}{\boxed{…}}: the boxed maths, as a group
    text = _LEFT_RIGHT_DOT.sub(" ", text)
    text = _DROP.sub(" ", text)
    text = _held_partials(text)
    text = _norms(text)
    text = _absolute_values(text)
    text = re.sub(r"\\(?:dfrac|tfrac|cfrac)(?![A-Za-z])", r"\\frac", text)
    text = re.sub(r"\^\s*\{\s*\\prime\s*\}|\^\s*\\prime(?![A-Za-z])|\\prime(?![A-Za-z])", "'", text)
    text = re.sub(r"\\intercal(?![A-Za-z])", r"\\top", text)
    text = re.sub(r"\\ast(?![A-Za-z])", "*", text)
    text = _ITALIC_NAME.sub(r"\\italic{\1} ", text)
    text = _BOLD_LETTER.sub(r"\1 ", text)  # \mathbf{z} is the letter z, also after \partial
    text = _BOLD.sub("", text)
    text = _LEAKY.sub(r"\\leaky{\1} ", text)
    text = _WORD.sub(_word, text)
    text = re.sub(r"\\(?:mathrm|text|textrm|operatorname|mathsf)(?![A-Za-z])", _nested_word, text)
    text = _braced_bases(text)
    text = _DECOR_SHORT.sub(lambda m: "\\" + m.group(1) + "{" + m.group(2) + "}", text)
    text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
    text = _FRAC_HALF.sub(r"\\frac{\1}", text)
    text = _differentials(text)
    text = _SUM_TWO.sub(r"\\sum_{\1}\\sum_{\2}", text)
    text = re.sub(r"\^\s*\{\s*\(([^(){}]*)\)\s*\}|\^\s*\{\s*\[([^\[\]{}]*)\]\s*\}",
                  lambda m: r"^{\DLAYER{" + (m.group(1) if m.group(1) is not None else m.group(2)) + "}}", text)
    text = _log_of_sum(text)
    text = _softmax_components(text)
    if re.search(r"\\softmax(?![A-Za-z])(?!\s*_)(?!\s*\(\s*[A-Za-z]\s*\^\s*\{[^{}]*\}\s*\))", text):
        raise SyntaxProblem("softmax is not supported without its output index: write "
                            + quote(r"\operatorname{softmax}_{k}(z_1, \dots, z_K)") + ", the softmax of a layer "
                            + quote(r"\operatorname{softmax}(z^{L})") + " or write it out, e.g. "
                            + quote(r"\frac{e^{z_k}}{\sum_j e^{z_j}}"))
    text = _SCRIPT_SHORT.sub(lambda m: m.group(1) + "{" + m.group(2) + "}", text)
    text = _function_powers(text)
    names = [m.span() for m in _NAME_TOKEN.finditer(text)]
    for match in _MACRO.finditer(text):
        name = match.group(1)
        if name == "_" and any(start < match.start() < end for start, end in names):
            continue  # \_ inside a word (\mathrm{lr\_decay}): part of its name
        if name not in ALLOWED_MACROS:
            if name == "nabla":
                raise SyntaxProblem(quote(r"\nabla") + " needs the variable below it, e.g. "
                                    + quote(r"\nabla_{W} J"))
            if name in ("int", "lim", "operatorname"):
                raise SyntaxProblem(f"{quote(chr(92) + name)} is not supported")
            if name == "begin":
                env = re.match(r"\\begin\s*\{([^}]*)\}", text[match.start():])
                raise SyntaxProblem(f"the environment {quote(env.group(1) if env else '?')} is not supported in a "
                                    "formula")
            raise SyntaxProblem.of("latex_problem.unknown_macro" if name[0].isalpha() else "latex_problem.cannot_read",
                                   piece=quote(chr(92) + name))
    depth = max_depth(text)
    if depth > MAX_DEPTH:
        raise SyntaxProblem(f"the formula is nested {depth} levels deep; the limit is {MAX_DEPTH}")
    return text


_NAME_TOKEN = re.compile(r"\\name\{[A-Za-z][A-Za-z0-9]*(?:\\_[A-Za-z0-9]+)*\}")
_BRACED_BASE = re.compile(r"\{\s*((?:\\(?:" + "|".join(DECORATIONS) + r")\s*\{\s*(?:[A-Za-z]|\\[A-Za-z]+)\s*\})"
                          r"|\\(?:name|italic)\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z])\s*\}(?=\s*[_^])")
_BRACEABLE_MACRO = re.compile(r"\\(?:name|italic|" + "|".join(list(DECORATIONS) + GREEK) + r")(?![A-Za-z])")
_SCRIPT_OR_ARGUMENT_BEFORE = re.compile(r"[}_^\]]\s*$")
_MACRO_BEFORE = re.compile(r"\\([A-Za-z]+)\s*$")
_NO_ARGUMENT = frozenset(GREEK + ["cdot", "times", "odot", "circ", "ast", "pm", "mp", "sigma", "partial", "sum",
                                   "prod"])
"""Macros after which a braced group is not their argument (an operator, a letter)."""


def _braced_bases(text: str) -> str:
    """``{g}_{w}``, ``{\\hat{m}}_{w}``: one base in braces, then its scripts, is that base with the scripts (as TeX
    typesets it). Braces that are a macro's argument (``\\frac{a}{b}^{2}``, ``\\mathbb{R}^{n}``) or a script
    (``x^{2}_{i}``) stay."""
    out, position = [], 0
    for match in _BRACED_BASE.finditer(text):
        inner = match.group(1)
        if inner.startswith("\\") and not _BRACEABLE_MACRO.match(inner):
            continue
        macro = _MACRO_BEFORE.search(text, 0, match.start())
        if _SCRIPT_OR_ARGUMENT_BEFORE.search(text, 0, match.start()) or macro and macro.group(1) not in _NO_ARGUMENT:
            continue
        out += [text[position:match.start()], " " + inner]  # a space: \cdot{g} must not become \cdotg
        position = match.end()
    return "".join(out) + text[position:]


_MATRIX = re.compile(r"\\begin\s*\{(array|matrix|pmatrix|bmatrix|vmatrix|Bmatrix)\}(\s*\{[lrc|\s]*\})?")
_MATRIX_FENCES = {"matrix": ("", ""), "array": ("", ""), "pmatrix": ("(", ")"), "bmatrix": ("(", ")")}


def _matrices(text: str) -> str:
    r"""A matrix written out, ``\begin{array}{rr} a & b \\ c & d \end{array}`` (inside its own parentheses) or
    ``pmatrix``/``bmatrix``, as the grammar's ``\matrix{a & b \\ c & d}``; a determinant (vmatrix) is not read."""
    out, position = [], 0
    for match in _MATRIX.finditer(text):
        if match.start() < position:
            continue
        kind = match.group(1)
        if kind not in _MATRIX_FENCES:
            raise SyntaxProblem(f"the environment {quote(kind)} is not supported in a formula")
        end = text.find(r"\end{" + kind + "}", match.end())
        if end < 0:
            raise SyntaxProblem(f"the environment {quote(kind)} is not closed")
        opening, closing = _MATRIX_FENCES[kind]
        body = text[match.end():end].strip()
        body = re.sub(r"(\\\\\s*)+$", "", body)  # a trailing row break ends no row
        out += [text[position:match.start()], opening, r"\matrix{", body.replace("\\\\", r" \rowbreak "), "}", closing]
        position = end + len(r"\end{" + kind + "}")
    return "".join(out) + text[position:]


_SUBSTACK = re.compile(r"\\sum\s*_\s*\{\s*\\substack\s*\{")
_RANGE_LINE = re.compile(r"^\s*([A-Za-z0-9]+)\s*\\leq?(?![A-Za-z])\s*([A-Za-z])\s*\\leq?(?![A-Za-z])\s*([A-Za-z0-9]+)\s*$")


def _substacked_sums(text: str) -> str:
    r"""``\sum_{\substack{1 \leq n \leq N\\1 \leq k \leq K}}`` is ``\sum_{n=1}^{N}\sum_{k=1}^{K}``: one sum per line
    of the stack, each line a range ``lo \leq i \leq hi``."""
    out, position = [], 0
    for match in _SUBSTACK.finditer(text):
        if match.start() < position:
            continue
        inner_end = _closing(text, match.end() - 1)
        outer_end = _closing(text, text.index("{", match.start()))
        if inner_end is None or outer_end is None or text[inner_end + 1:outer_end].strip():
            raise SyntaxProblem(quote(r"\substack") + " under a sum holds only ranges, e.g. "
                                + quote(r"\sum_{\substack{1 \leq n \leq N\\1 \leq k \leq K}}"))
        sums = []
        for line in re.split(r"\\\\", text[match.end():inner_end]):
            found = _RANGE_LINE.match(line)
            if found is None:
                raise SyntaxProblem(quote(r"\substack") + " under a sum holds one range per line, e.g. "
                                    + quote(r"1 \leq n \leq N"))
            lo, index, hi = found.groups()
            sums.append(f"\\sum_{{{index}={lo}}}^{{{hi}}}")
        out += [text[position:match.start()], "".join(sums), " "]
        position = outer_end + 1
    return "".join(out) + text[position:]


_LEAKY = re.compile(r"\\(?:operatorname|mathrm)\s*\{\s*LeakyReLU\s*\}\s*_\s*\{\s*(\d+(?:\.\d+)?)\s*\}")
"""``\\operatorname{LeakyReLU}_{0.1}``: Leaky ReLU with the slope α = 0.1 on the negative side."""
_SUM_TWO = re.compile(r"\\sum\s*_\s*\{\s*([A-Za-z])\s*,\s*([A-Za-z])\s*\}")
_FUNCTION_POWER = re.compile(r"\\(tanh|sin|cos|log|ln|exp|sigma)\s*\^\s*\{\s*([0-9])\s*\}")
_SIMPLE_ARGUMENT = re.compile(r"\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:\s*_\s*\{[^{}]*\})?")
_INDICATOR = re.compile(r"\\(?:mathbb|mathbf|bm|mathds)\s*\{\s*[1I]\s*\}\s*(?:_\s*\{|(?:\\left\s*)?[\[(]|\\\{)")
_ONES = re.compile(r"\\(?:mathbf|boldsymbol|bm)\s*\{\s*1\s*\}\s*_\s*(?:\{\s*([A-Za-z0-9]+)\s*\}|([A-Za-z0-9]))")
"""``\\mathbf{1}_{N}``: the column of N ones (transposed, the row that adds a bias to every column of a batch);
not an indicator, whose subscript is a condition (``\\mathbf{1}_{\\{y = k\\}}``)."""
_COMPARISON = re.compile(r"\\geq?(?![A-Za-z])|\\leq?(?![A-Za-z])|\\[gl]t(?![A-Za-z])|>=?|<=?|=")


def _balanced(text: str, start: int) -> int | None:
    """The index just after the bracket that closes the one at ``start`` (any of ( [ { and \\{ \\})."""
    depth = 0
    k = start
    while k < len(text):
        if text.startswith("\\{", k) or text.startswith("\\}", k):
            depth += 1 if text[k + 1] == "{" else -1
            k += 2
        elif text[k] == "\\":
            k += 2
            continue
        else:
            if text[k] in "([{":
                depth += 1
            elif text[k] in ")]}":
                depth -= 1
            k += 1
        if depth == 0:
            return k
    return None


def _underbraces(text: str) -> str:
    """``\\underbrace{X}_{note}`` is X (in parentheses): the note under the brace (a shape such as
    ``n_{l} \\times 1``) is a label, not maths of the equation."""
    while True:
        match = re.search(r"\\underbrace\s*(?=\{)", text)
        if match is None:
            return text
        close = _balanced(text, match.end())
        if close is None:
            return text  # refused by the macro check
        end = close
        note = re.match(r"\s*_\s*", text[close:])
        if note:
            start = close + note.end()
            end = _balanced(text, start) if text[start:start + 1] == "{" else start + 1
            if end is None:
                return text
        text = text[:match.start()] + "(" + text[match.end() + 1:close - 1] + ")" + text[end:]


def _nabla(text: str) -> str:
    """``\\nabla_{X} J`` (a gradient with its variable below) is ``\\frac{\\partial J}{\\partial X}``."""
    out, position = [], 0
    for match in re.finditer(r"\\nabla\s*_\s*(?=\{)", text):
        if match.start() < position:
            continue
        end = _balanced(text, match.end())
        target = re.match(r"\s*(\\(?:mathcal|mathscr)\s*\{[A-Za-z]\}|\\[A-Za-z]+|[A-Za-z])(\s*_\s*\{[^{}]*\}|_[A-Za-z0-9])?",
                          text[end:]) if end else None
        if target is None:
            continue
        out += [text[position:match.start()], r"\frac{\partial ", target.group(0), r"}{\partial ",
                text[match.end() + 1:end - 1], "}"]
        position = end + target.end()
    return "".join(out) + text[position:]


_HELD = re.compile(r"\(\s*\\frac\s*\{\s*\\partial(?![A-Za-z])")


def _held_partials(text: str) -> str:
    r"""``(\frac{\partial f}{\partial x})_{u, v}`` (the brackets' \left and \right gone), the derivative of f
    by x with u and v held fixed, is ``\held{f}{x}{u, v}``."""
    out, position = [], 0
    for match in _HELD.finditer(text):
        if match.start() < position:
            continue
        num_end = _closing(text, text.index("{", match.start()))
        rest = text[num_end + 1:] if num_end is not None else ""
        den = re.match(r"\s*\{\s*\\partial(?![A-Za-z])", rest)
        if den is None:
            continue
        den_end = _closing(text, num_end + 1 + rest.index("{"))
        after = re.match(r"\s*\)\s*_\s*\{", text[den_end + 1:]) if den_end is not None else None
        if after is None:
            continue
        held_start = den_end + after.end()
        held_end = _closing(text, held_start)
        if held_end is None:
            continue
        out += [text[position:match.start()], r"\held{", text[match.end():num_end], "}{",
                text[num_end + 1 + den.end():den_end], "}{", text[held_start + 1:held_end], "}"]
        position = held_end + 1
    return "".join(out) + text[position:]


def _indicators(text: str) -> str:
    """``\\mathbb{1}[u > v]`` (also ``(…)``, ``\\{…\\}``, ``_{…}``, ``\\geq``, ``<``) is the unit step of u − v; ``\\mathbb{1}(i = j)`` with
    two letters is the Kronecker delta ``\\delta_{ij}``."""
    out, position = [], 0
    for match in _INDICATOR.finditer(text):
        if match.start() < position:
            continue
        opener = match.end() - (2 if text[match.end() - 2:match.end()] == "\\{" else 1)
        end = _balanced(text, opener)
        if end is None:
            continue
        inner = text[match.end():end - (2 if text[end - 2:end] == "\\}" else 1)]
        relation = _COMPARISON.search(inner)
        if relation is None:
            continue
        left, right, op = inner[:relation.start()].strip(), inner[relation.end():].strip(), relation.group()
        if op == "=":
            if not (re.fullmatch(r"[A-Za-z]", left) and re.fullmatch(r"[A-Za-z]", right)):
                continue
            replacement = r"\delta_{" + left + right + "}"
        else:  # 𝟙[u > v] is the step of u − v; 𝟙[u ≥ v] = 1 − 𝟙[v > u] (1 at the boundary, where the step is 0)
            high, low = (left, right) if op in (">", ">=", r"\ge", r"\geq", r"\gt") else (right, left)
            strict = op in (">", "<", r"\gt", r"\lt")
            first, second = (high, low) if strict else (low, high)
            replacement = r"\step(" + (first if second == "0" else first + " - (" + second + ")") + ")"
            if not strict:
                replacement = "(1 - " + replacement + ")"
        out += [text[position:match.start()], replacement]
        position = end
    return "".join(out) + text[position:]


_CASES = re.compile(r"\\cases\s*\{")
_CASES_FORM = ("the environment «cases» is not supported in this form: it is read with two rows «value & condition» "
               "whose conditions split the line at one point, such as «z > 0» and «z \\le 0» (or «\\text{otherwise}»)")
_OTHERWISE = re.compile(r"^\s*(?:\\(?:text|mathrm)\s*\{\s*(?:otherwise|else)\s*\}|otherwise|else)\s*$")


def _cases(text: str) -> str:
    r"""``\cases{A}{u > v}{B}{u \le v}`` (a ``cases`` environment as `derive.verify.document` folds it): two
    branches whose conditions are complementary comparisons of the same two sides (or ``otherwise``), read as
    ``A·𝟏[u > v] + B·(1 − 𝟏[u > v])`` with the unit step; the boundary belongs to the branch that says so."""
    out, position = [], 0
    for match in _CASES.finditer(text):
        if match.start() < position:
            continue
        groups, end = [], match.end() - 1
        while end < len(text) and text[end] == "{":
            close = _balanced(text, end)
            if close is None:
                raise SyntaxProblem("an unclosed brace in a cases environment")
            groups.append(text[end + 1:close - 1])
            end = close
            while end < len(text) and text[end] == " ":
                end += 1
        if len(groups) != 4:
            raise SyntaxProblem(_CASES_FORM)
        otherwise = _OTHERWISE.match(groups[3]) is not None
        first, second = _condition(groups[1]), None if otherwise else _condition(groups[3])
        if first is None or not otherwise and (second is None or second[1:] != first[1:] or second[0] == first[0]):
            raise SyntaxProblem(_CASES_FORM)
        kind, u, v = first
        step = r"\step(" + u + " - (" + v + "))"
        held = step if kind == "step" else "(1 - " + step + ")"
        other = "(1 - " + step + ")" if kind == "step" else step
        out += [text[position:match.start()], "((", groups[0], ") ", held, " + (", groups[2], ") ", other, ")"]
        position = end
    return "".join(out) + text[position:]


def _condition(text: str) -> tuple[str, str, str] | None:
    """A branch's condition as (kind, u, v): ``step`` for 𝟏[u > v], ``not`` for 1 − 𝟏[u > v]; None when it is not
    one comparison."""
    relations = list(_COMPARISON.finditer(text))
    if len(relations) != 1 or relations[0].group() == "=":
        return None
    left, right, op = text[:relations[0].start()].strip(), text[relations[0].end():].strip(), relations[0].group()
    if not left or not right:
        return None
    if op in (">", r"\gt"):
        return "step", left, right
    if op in ("<", r"\lt"):
        return "step", right, left
    if op in (">=", r"\ge", r"\geq"):
        return "not", right, left
    return "not", left, right


_NORM_BAR = re.compile(r"\\\||\\[lr]?Vert(?![A-Za-z])")
_NORM_SCRIPTS = re.compile(r"(?:\s*_\s*(?:\{\s*2\s*\}|2))?\s*\^\s*(?:\{\s*2\s*\}|2)(?:\s*_\s*(?:\{\s*2\s*\}|2))?")


def _norms(text: str) -> str:
    """``\\|u\\|^2`` (also ``\\lVert u \\rVert_2^2``, ``\\Vert``) is the squared Euclidean norm ``\\normsq{u}`` (the sum
    of the squares of u's components); ``\\|u\\|`` without the square is its square root."""
    bars = list(_NORM_BAR.finditer(text))
    if len(bars) < 2:
        return text
    out, position = [], 0
    for opening, closing in zip(bars[0::2], bars[1::2]):
        squared = _NORM_SCRIPTS.match(text, closing.end())
        inner = text[opening.end():closing.start()]
        if squared:
            out += [text[position:opening.start()], r"\normsq{", inner, "}"]
            position = squared.end()
        else:
            out += [text[position:opening.start()], r"\sqrt{\normsq{", inner, "}}"]
            position = closing.end()
    return "".join(out) + text[position:]


_ABS_BAR = re.compile(r"\\[lr]vert(?![A-Za-z])|\\vert(?![A-Za-z])|(?<!\\)\|")


def _absolute_values(text: str) -> str:
    r"""``\lvert x \rvert``, ``\vert x \vert`` and ``|x|`` are the absolute value ``\abs{x}``: an opening bar
    pairs with the next closing one (``\rvert``), bars that do not say which they are pair in order."""
    bars = list(_ABS_BAR.finditer(text))
    if not bars:
        return text
    out, position, opened = [], 0, []
    for bar in bars:
        kind = bar.group()
        closes = kind == r"\rvert" or (kind != r"\lvert" and opened and opened[-1][1] != r"\lvert")
        if closes and opened:
            start, _ = opened.pop()
            if not opened:
                out += [text[position:start.start()], r"\abs{", _absolute_values(text[start.end():bar.start()]), "}"]
                position = bar.end()
        else:
            opened.append((bar, kind))
    if opened:
        raise SyntaxProblem("an absolute value |…| is not closed")
    return "".join(out) + text[position:]


def _log_of_sum(text: str) -> str:
    """``\\log\\sum_j \\exp(z_j)`` without parentheses: the logarithm of the whole sum, up to the next ``+`` or
    ``-`` outside brackets (log-sum-exp as the textbooks write it)."""
    match = re.search(r"\\(log|ln)\s*(?=\\sum(?![A-Za-z]))", text)
    if match is None:
        return text
    depth, k = 0, match.end()
    while k < len(text):
        char = text[k]
        if char == "\\":
            k += 2
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char in "+-" and depth == 0 and k > match.end() + 4:
            break
        k += 1
    inner = _log_of_sum(text[match.end():k])
    return text[:match.end()] + "(" + inner + ")" + _log_of_sum(text[k:])


_SOFTMAX_COMPONENT = re.compile(
    r"\\softmax\s*\(\s*(?P<vector>[A-Za-z](?:\s*\^\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|[A-Za-z0-9]))?)\s*\)"
    r"\s*_\s*(?:\{\s*(?P<braced>[A-Za-z0-9]+)\s*\}|(?P<index>[A-Za-z0-9]))")


def _softmax_components(text: str) -> str:
    """``\\mathrm{softmax}(z)_i`` (also of ``\\mathbf{z}`` or ``z^{L}``): component i of the softmax of the vector
    z, written out as ``\\frac{e^{z_{i}}}{\\sum_{j} e^{z_{j}}}`` with a summation letter the formula does not use (the
    Σ then runs over the components the document gives z)."""
    def component(match: re.Match) -> str:
        vector, index = match.group("vector"), match.group("braced") or match.group("index")
        free = next((c for c in "jkmnrsuvpqabcdefgh" if c != index and not re.search(
            rf"(?<![A-Za-z\\]){c}(?![A-Za-z])", text)), None)
        if free is None:
            return match.group(0)
        return rf"\frac{{e^{{{vector}_{{{index}}}}}}}{{\sum_{{{free}}} e^{{{vector}_{{{free}}}}}}}"
    return _SOFTMAX_COMPONENT.sub(component, text)


def _function_powers(text: str) -> str:
    """``\\tanh^{2} x`` and ``\\tanh^{2}(x)`` are ``(\\tanh x)^{2}``, as every textbook means them."""
    out, position = [], 0
    for match in _FUNCTION_POWER.finditer(text):
        rest = match.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] in "({":
            end = _balanced(text, rest)
        else:
            simple = _SIMPLE_ARGUMENT.match(text, rest)
            end = simple.end() if simple else None
        if end is None:
            continue
        out += [text[position:match.start()], "(\\" + match.group(1) + " ", text[rest:end], ")^{", match.group(2), "}"]
        position = end
    return "".join(out) + text[position:]


def _word(match: re.Match) -> str:
    word = match.group(1).replace(" ", "")
    if word in _WORDS:
        return _WORDS[word]
    if word == "softmax":
        return r"\softmax "
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", word):
        return r"\name{" + word + "} " if len(word) > 1 else word
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:\\_[A-Za-z0-9]+)+", word):  # lr\_decay: one name, underscores kept
        return r"\name{" + word + "} "
    if re.fullmatch(r"def|\\?def", word):
        return word
    raise SyntaxProblem(f"cannot read the text {quote(word)} in the maths")


def _nested_word(match: re.Match) -> str:
    raise SyntaxProblem(f"cannot read {quote(match.group(0))} with a nested argument")


_VARIABLE = r"(?:[A-Za-z]|\\[A-Za-z]+)(?:\s*_\s*(?:\{[^{}]*\}|[A-Za-z0-9]))?"
_SECOND = re.compile(r"\\frac\s*\{\s*(?P<d>d|\\partial)\s*\^\s*(?:\{\s*2\s*\}|2)(?P<body>[^{}]*(?:\{[^{}]*\}[^{}]*)*)\}"
                     r"\s*\{\s*(?:(?P=d)\s*(?P<x>" + _VARIABLE + r")\s*\^\s*(?:\{\s*2\s*\}|2)"
                     r"|(?P=d)\s*(?P<x1>" + _VARIABLE + r")\s*(?P=d)\s*(?P<x2>" + _VARIABLE + r"))\s*\}")


def _second_derivatives(text: str) -> str:
    r"""``\frac{d^{2}}{d s^{2}}``, ``\frac{d^{2} f}{d s^{2}}``, ``\frac{\partial^{2} f}{\partial x^{2}}`` and
    ``\frac{\partial^{2} f}{\partial x \partial y}`` as the first derivative taken twice (``\frac{d}{d s}\frac{d f}{d s}``,
    the outer one by the first variable of the denominator)."""
    def once_more(match: re.Match) -> str:
        d, body = match.group("d"), match.group("body").strip()
        outer, inner = (match.group("x"), match.group("x")) if match.group("x") else (match.group("x1"),
                                                                                     match.group("x2"))
        return rf"\frac{{{d}}}{{{d} {outer}}}\frac{{{d} {body}}}{{{d} {inner}}}"
    return _SECOND.sub(once_more, text)


def _differentials(text: str) -> str:
    r"""``\frac{d E}{d w}``, ``\frac{d}{dx}`` and ``dE/dw`` get the differential token ``\DD``."""
    text = _second_derivatives(text)
    out, position = [], 0
    for match in re.finditer(r"\\frac\s*\{", text):
        if match.start() < position:
            continue
        num_end = _closing(text, match.end() - 1)
        if num_end is None or num_end + 1 >= len(text) or text[num_end + 1:].lstrip()[:1] != "{":
            continue
        den_start = text.index("{", num_end + 1)
        den_end = _closing(text, den_start)
        if den_end is None:
            continue
        num = text[match.end():num_end]
        den = text[den_start + 1:den_end]
        num_d = re.match(r"\s*(?:\\DD\s*|d(?=\s*(?:$|[A-Za-z\\'])))", num)
        den_d = re.match(r"\s*(?:\\DD\s*|d(?=\s*(?:[A-Za-z]|\\[A-Za-z])))", den)
        partial = re.match(r"\s*\\partial(?![A-Za-z])", num) and re.match(r"\s*\\partial(?![A-Za-z])", den)
        if partial and "(" in num:  # \frac{\partial f(x)}{\partial x}: the operator applied to f(x)
            out += [text[position:match.start()], r"\frac{\partial}{" + den + "}(" + num[partial.end():] + ")"]
            position = den_end + 1
        elif num_d and den_d and not re.search(r"[-+/]|\\cdot|\\frac", den):
            out.append(text[position:match.start()])
            body = num[num_d.end():]
            if "(" in body:  # \frac{d\sigma(x)}{dx}: d/dx applied to σ(x)
                out.append(r"\frac{\DD}{\DD " + den[den_d.end():] + "}(" + body + ")")
            else:
                out.append(r"\frac{\DD " + body + r"}{\DD " + den[den_d.end():] + "}")
            position = den_end + 1
    out.append(text[position:])
    text = "".join(out)
    if _D_SLASH.search(text):
        text = _D_SLASH.sub(r"\\DD ", text, count=1)
        text = _D_SLASH_DEN.sub(r"/\\DD ", text, count=1)
    return text


def _closing(text: str, start: int) -> int | None:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i
    return None


def max_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    return deepest


# --- the grammar -----------------------------------------------------------------------------------------------

GRAMMAR = r"""
?start: expr

?expr: term
     | expr "+" term                -> add
     | expr "-" term                -> sub

?term: product
     | "-" term                     -> neg
     | "+" term

?product: chain
        | chain opapp               -> mul
        | chain MULOP opapp         -> mulop
        | opapp

?chain: factor
      | chain factor                -> mul
      | chain MULOP factor          -> mulop
      | chain "/" factor            -> div

?opapp: SUM sumlimits product       -> sum
      | SUM sumlimits "-" product   -> sum_neg
      | PROD sumlimits product      -> prod
      | derivop product             -> derivof

sumlimits: sumsub? sumsup?
         | sumsup sumsub
sumsub: "_" "{" LETTER "=" expr "}"  -> sub_range
      | "_" "{" LETTER "}"           -> sub_index
sumsup: "^" "{" expr "}"

?factor: symbol
       | nonsym
       | nonsym "^" "{" supcontent "}"  -> power

?nonsym: NUMBER                     -> number
       | group
       | funcapp
       | deriv
       | frac
       | SQRT "{" expr "}"          -> sqrt
       | MATRIX "{" mrow (ROWBREAK mrow)* "}" -> matrix
       | NORMSQ "{" expr "}"        -> normsq
       | ONES "{" expr "}"          -> ones

mrow: expr ("&" expr)*

group: "(" expr ")"
     | "[" expr "]"
     | "{" expr "}"                -> brace_group

frac: FRAC "{" expr "}" "{" expr "}"

deriv: FRAC "{" PARTIAL symbol "}" "{" PARTIAL symbol "}"   -> partial_frac
     | HELD "{" symbol "}" "{" symbol "}" "{" symbol ("," symbol)* "}" -> held_partial
     | FRAC "{" DIFF symbol "}" "{" DIFF symbol "}"         -> d_frac
     | PARTIAL symbol "/" PARTIAL symbol                    -> partial_frac
     | DIFF symbol "/" DIFF symbol                          -> d_frac

derivop: FRAC "{" PARTIAL "}" "{" PARTIAL symbol "}"        -> partial_op
       | FRAC "{" DIFF "}" "{" DIFF symbol "}"              -> d_op

funcapp: SIGMA PRIME* "(" expr ")"                 -> sigma_app
       | FUNC "(" expr ")"                         -> func_app
       | FUNC PRIME+ "(" expr ")"                  -> func_prime_app
       | LEAKY PRIME* "(" expr ")"                 -> leaky_app
       | FUNC "{" expr "}"                         -> func_app
       | FUNC symbol                               -> func_app
       | FUNC NUMBER                               -> func_num
       | MAXMIN "(" expr "," expr ")"              -> maxmin_app
       | APPLIED PRIME* "(" expr ")"               -> applied_app
       | SOFTMAX "_" "{" NUMBER "}" "(" expr ("," expr)* ")" -> softmax_app
       | SOFTMAX "(" expr ")"                      -> softmax_vector

symbol: base script*
?base: LETTER                       -> letter
     | GREEK                        -> greek
     | NAME                         -> name
     | ITALIC                       -> italic
     | DECOR "{" (LETTER | GREEK) "}" -> decorated

script: "_" "{" sublist "}"         -> subscript
      | "^" "{" supcontent "}"      -> superscript
      | PRIME                       -> prime

sublist: expr ("," expr)*
supcontent: expr
          | TOP                     -> sup_top
          | DLAYER "{" expr "}"     -> sup_layer
          | PRIME+                  -> sup_prime

NUMBER: /\d+(\.\d+)?/
LETTER: /[A-Za-z]/
GREEK: /\\(GREEKS)(?![A-Za-z])/
NAME: /\\name\{[A-Za-z][A-Za-z0-9]*(?:\\_[A-Za-z0-9]+)*\}/
ITALIC: /\\italic\{[A-Za-z][A-Za-z0-9]*\}/
DECOR: /\\(hat|bar|tilde|widehat|widetilde|overline|mathcal|mathscr)(?![A-Za-z])/
FUNC: /\\(log|ln|exp|tanh|sin|cos|relu|step|ident|abs)(?![A-Za-z])/
LEAKY: /\\leaky\{\d+(\.\d+)?\}/
MAXMIN: /\\(max|min)(?![A-Za-z])/
APPLIED: /\\applied\{[A-Za-z]\}/
SIGMA: /\\sigma(?![A-Za-z])/
SUM: /\\sum(?![A-Za-z])/
PROD: /\\prod(?![A-Za-z])/
SOFTMAX: /\\softmax(?![A-Za-z])/
MATRIX: /\\matrix(?![A-Za-z])/
ROWBREAK: /\\rowbreak(?![A-Za-z])/
FRAC: /\\frac(?![A-Za-z])/
SQRT: /\\sqrt(?![A-Za-z])/
NORMSQ: /\\normsq(?![A-Za-z])/
ONES: /\\ones(?![A-Za-z])/
PARTIAL: /\\partial(?![A-Za-z])/
HELD: /\\held(?![A-Za-z])/
DIFF: /\\DD(?![A-Za-z])/
MULOP: /\\cdot(?![A-Za-z])|\\times(?![A-Za-z])|\\odot(?![A-Za-z])|\\circ(?![A-Za-z])|\*/
TOP: /\\top(?![A-Za-z])/
PRIME: /'/
DLAYER: /\\DLAYER(?![A-Za-z])/

%import common.WS
%ignore WS
""".replace("GREEKS", "|".join(g for g in GREEK if g != "sigma"))


@lru_cache(maxsize=1)
def _parser():
    """The LALR parser; its tables (0.3 s to build) are kept in the per-user cache, keyed by the grammar and lark's
    version."""
    import lark
    key = usercache.digest(GRAMMAR, lark.__version__)
    cached = usercache.read("lark", key)
    if cached is not None:
        try:
            return lark.Lark.load(io.BytesIO(cached))
        except Exception:  # a damaged entry: made again below
            pass
    parser = lark.Lark(GRAMMAR, parser="lalr", maybe_placeholders=False, propagate_positions=False)
    saved = io.BytesIO()
    parser.save(saved)
    usercache.write("lark", key, saved.getvalue())
    return parser


MakeSymbol = Callable[[str, "str | None", list], "Node"]
"""``make_symbol(base, decor, scripts)``: a base letter or name, its decoration and its `Script` list → a node."""


def parse(text: str, make_symbol: MakeSymbol, normal: str | None = None) -> Node:
    """One formula as a syntax tree; `SyntaxProblem` if it is outside the grammar. ``normal`` is ``text`` already
    normalised, when the caller checked it on the way."""
    import lark

    normal = normalise(text) if normal is None else normal
    if not normal.strip():
        raise SyntaxProblem("an empty side of an equation")
    try:
        tree = _parser().parse(normal)
    except lark.exceptions.UnexpectedEOF:
        raise SyntaxProblem.of("latex_problem.ends", formula=quote(_short(text))) from None
    except lark.exceptions.UnexpectedCharacters as exc:
        raise SyntaxProblem.of("latex_problem.cannot_read_in", formula=quote(_short(text)),
                               piece=quote(normal[exc.pos_in_stream:exc.pos_in_stream + 12].strip())) from None
    except lark.exceptions.UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise SyntaxProblem.of("latex_problem.ends", formula=quote(_short(text))) from None
        raise SyntaxProblem.of("latex_problem.unexpected", formula=quote(_short(text)),
                               piece=quote(str(exc.token))) from None
    except lark.exceptions.LarkError as exc:  # any other refusal of the parser
        raise SyntaxProblem(f"cannot read {quote(_short(text))}") from exc
    raw, nested = _tree_depth(tree)
    if nested > MAX_TREE_DEPTH:
        raise SyntaxProblem(f"the formula {quote(_short(text))} is nested too deeply (more than {MAX_TREE_DEPTH} "
                            "levels of operators)")
    if raw > MAX_CHAIN:
        raise SyntaxProblem(f"the formula {quote(_short(text))} has more than {MAX_CHAIN} terms or factors in a row")
    try:
        return _builder_class()(make_symbol).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, SyntaxProblem):
            raise exc.orig_exc from None
        raise


def _tree_depth(tree) -> tuple[int, int]:
    """(depth of the parse tree, depth of its nesting) measured without recursion: a long run of unary minus signs
    or of Σ nests; a long flat sum only makes the parse tree deep."""
    import lark
    family = {"add": "+chain", "sub": "+chain", "mul": "*chain", "mulop": "*chain"}
    deepest = raw_deepest = 0
    stack = [(tree, 1, 1, None)]
    while stack:
        node, raw, depth, parent = stack.pop()
        if isinstance(node, lark.Tree):
            kind = family.get(node.data, node.data)
            if kind != parent or kind not in ("+chain", "*chain"):
                depth += 1  # a flat chain a + b + … or a b c … does not nest
            deepest = max(deepest, depth)
            raw_deepest = max(raw_deepest, raw)
            stack.extend((child, raw + 1, depth, kind) for child in node.children)
    return raw_deepest, deepest


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."

# --- building the tree -----------------------------------------------------------------------------------------

def _number(text: str) -> Num:
    if len(text.replace(".", "")) > MAX_NUMBER_DIGITS:
        raise SyntaxProblem(f"the number {text[:20]}... has more than {MAX_NUMBER_DIGITS} digits")
    return Num(Fraction(text), text)


class Script:
    """A script of a symbol as written: kind "sub" (value: the list of index expressions), "sup" (an expression,
    or a `Script` of kind "T", "layer" or "prime" for the special superscripts) or "prime" (value: how many)."""

    def __init__(self, kind: str, value):
        self.kind, self.value = kind, value


def _make_builder():
    import lark

    class Builder(lark.Transformer):
        def __init__(self, make_symbol: MakeSymbol) -> None:
            super().__init__()
            self.make_symbol = make_symbol

        def number(self, items):
            return _number(str(items[0]))

        def add(self, items):
            return _add(items[0], 1, items[1])

        def sub(self, items):
            return _add(items[0], -1, items[1])

        def neg(self, items):
            return Neg(items[0])

        def mul(self, items):
            return _mul(items[0], items[1])

        def mulop(self, items):
            left, op, right = items
            if str(op) in (r"\odot", r"\circ"):
                return Mul((left, right), hadamard=True)
            return _mul(left, right)

        def div(self, items):
            return Div(items[0], items[1])

        def group(self, items):
            inner = items[0]
            return Add(inner.terms, braced=None) if isinstance(inner, Add) else inner

        def brace_group(self, items):
            inner = items[0]
            return Add(inner.terms, braced=True) if isinstance(inner, Add) and inner.braced is False else inner

        def frac(self, items):
            return Div(items[1], items[2])

        def sqrt(self, items):
            return Func("sqrt", items[1])

        def normsq(self, items):
            return Func("normsq", items[1])

        def ones(self, items):
            return Func("ones", items[1])

        def power(self, items):
            base, content = items
            if isinstance(content, Script):
                if content.kind == "T":
                    return Transpose(base)
                raise SyntaxProblem("a prime or a layer index after a parenthesis or a function is not supported")
            if isinstance(content, Sym) and content.base == "T" and not content.subs and content.layer is None:
                return Transpose(base)
            return Pow(base, exponent(content))

        def sum(self, items):
            _, limits, body = items
            index, lo, hi = limits
            return Sum(index, lo, hi, body)

        def prod(self, items):
            _, (index, lo, hi), body = items
            if index is None or lo is None or hi is None:
                raise SyntaxProblem(quote(r"\prod") + " needs its index and both limits, e.g. "
                                    + quote(r"\prod_{k=l}^{L-1}"))
            return Sum(index, lo, hi, body, product=True)

        def sum_neg(self, items):
            _, (index, lo, hi), body = items
            return Sum(index, lo, hi, Neg(body))

        def sumlimits(self, items):
            index = lo = hi = None
            for item in items:
                if item[0] == "sub":
                    index, lo = item[1], item[2]
                else:
                    hi = item[1]
            if hi is not None and index is None:
                raise SyntaxProblem(quote(r"\sum") + " with an upper limit needs an index below it, e.g. "
                                    + quote(r"\sum_{i=1}^{n}"))
            return index, lo, hi

        def sub_range(self, items):
            return ("sub", str(items[0]), items[1])

        def sub_index(self, items):
            return ("sub", str(items[0]), None)

        def sumsup(self, items):
            return ("sup", items[0])

        def partial_frac(self, items):
            syms = [i for i in items if not isinstance(i, lark.Token)]
            return Deriv("partial", _plain_symbol(syms[0]), _plain_symbol(syms[1]))

        def held_partial(self, items):
            syms = [_plain_symbol(i) for i in items if not isinstance(i, lark.Token)]
            return Deriv("partial", syms[0], syms[1], tuple(syms[2:]))

        def d_frac(self, items):
            syms = [i for i in items if not isinstance(i, lark.Token)]
            return Deriv("d", _plain_symbol(syms[0]), _plain_symbol(syms[1]))

        def partial_op(self, items):
            return ("partial", _plain_symbol(items[-1]))

        def d_op(self, items):
            return ("d", _plain_symbol(items[-1]))

        def derivof(self, items):
            (kind, den), body = items
            return DerivOf(kind, den, body)

        def sigma_app(self, items):
            primes = sum(1 for i in items if getattr(i, "type", None) == "PRIME")
            arg = items[-1]
            if primes > 1:
                raise SyntaxProblem("higher derivatives of σ are not supported")
            return Func("dsigma" if primes else "sigma", arg)

        def func_app(self, items):
            name = str(items[0])[1:]
            return Func("log" if name == "ln" else name, items[1])

        def func_prime_app(self, items):
            """``\\tanh'(z)``, ``\\operatorname{ReLU}'(z)``: the derivative of a named function at z (``prime:NAME:n``)."""
            name = str(items[0])[1:]
            primes = sum(1 for i in items if getattr(i, "type", None) == "PRIME")
            return Func(f"prime:{'log' if name == 'ln' else name}:{primes}", items[-1])

        def leaky_app(self, items):
            """``LeakyReLU_α(z)`` (``leaky:α``) and its derivative ``LeakyReLU_α'(z)`` (``prime:leaky:α:n``)."""
            slope = str(items[0])[len(r"\leaky{"):-1]
            primes = sum(1 for i in items if getattr(i, "type", None) == "PRIME")
            return Func(f"prime:leaky:{slope}:{primes}" if primes else f"leaky:{slope}", items[-1])

        def maxmin_app(self, items):
            """max(u, v) = v + ReLU(u − v) and min(u, v) = u − ReLU(u − v): exact, and kinks where they are."""
            name, u, v = str(items[0])[1:], items[1], items[2]
            if name == "max" and _is_zero(v):
                return Func("relu", u)
            if name == "max" and _is_zero(u):
                return Func("relu", v)
            difference = Func("relu", Add(((1, u), (-1, v))))
            return Add(((1, v), (1, difference))) if name == "max" else Add(((1, u), (-1, difference)))

        def applied_app(self, items):
            """f(x), f'(x): a function the document names (``applied:f:primes``), defined or left abstract."""
            primes = sum(1 for i in items if getattr(i, "type", None) == "PRIME")
            return Func(f"applied:{str(items[0])[len(chr(92) + 'applied{'):-1]}:{primes}", items[-1])

        def matrix(self, items):
            rows = tuple(tuple(row.children) for row in items if isinstance(row, lark.Tree))
            if len({len(row) for row in rows}) != 1:
                raise SyntaxProblem("the rows of a matrix have different numbers of entries")
            return Matrix(rows)

        def softmax_app(self, items):
            """softmax_k(z_1, …, z_K) = e^{z_k} / (e^{z_1} + … + e^{z_K}), written out (k a number from 1 to K)."""
            k, args = _number(str(items[1])).value, items[2:]
            if k.denominator != 1 or not 1 <= k <= len(args):
                raise SyntaxProblem(quote(r"\operatorname{softmax}_{k}") + f" needs k from 1 to {len(args)}, the "
                                    "number of its arguments")
            return Div(Func("exp", args[int(k) - 1]), Add(tuple((1, Func("exp", a)) for a in args), braced=None))

        def softmax_vector(self, items):
            """softmax(z^{L}) of a vector: the vector of its components (`derive.verify.model` applies it)."""
            return Func("softmax", items[1])

        def func_num(self, items):
            name = str(items[0])[1:]
            return Func("log" if name == "ln" else name, _number(str(items[1])))

        # symbols
        def letter(self, items):
            return ("letter", str(items[0]), None)

        def greek(self, items):
            return ("letter", str(items[0])[1:], None)

        def name(self, items):
            return ("letter", str(items[0])[len(r"\name{"):-1], None)

        def italic(self, items):
            return ("letter", str(items[0])[len(r"\italic{"):-1], ITALIC)

        def decorated(self, items):
            decor = str(items[0])[1:].replace("wide", "").replace("overline", "bar")
            base = str(items[1])
            return ("letter", base[1:] if base.startswith("\\") else base, decor)

        def subscript(self, items):
            return Script("sub", items[0])

        def superscript(self, items):
            return Script("sup", items[0])

        def prime(self, items):
            return Script("prime", 1)

        def sublist(self, items):
            return list(items)

        def supcontent(self, items):
            return items[0]

        def sup_top(self, items):
            return Script("T", None)

        def sup_layer(self, items):
            return Script("layer", items[1])

        def sup_prime(self, items):
            return Script("prime", len(items))

        def symbol(self, items):
            (_, base, decor), scripts = items[0], items[1:]
            return self.make_symbol(base, decor, scripts)

    return Builder


@lru_cache(maxsize=1)
def _builder_class():
    return _make_builder()


def _is_zero(node: Node) -> bool:
    return isinstance(node, Num) and node.value == 0


def _add(left: Node, sign: int, right: Node) -> Add:
    terms = left.terms if isinstance(left, Add) else ((1, left),)
    return Add(terms + ((sign, right),))


def _mul(left: Node, right: Node) -> Node:
    if isinstance(right, Add) and right.braced is True:  # a{b + c} is typeset "ab + c": braces do not parenthesise
        (sign, first), rest = right.terms[0], right.terms[1:]
        return Add(((sign, _mul(left, first)),) + rest, braced=True)
    if isinstance(left, Mul) and not left.hadamard:
        return Mul(left.factors + (right,))
    return Mul((left, right))


def exponent(node: Node) -> Node:
    if isinstance(node, Num) and abs(node.value) > MAX_EXPONENT:
        raise SyntaxProblem(f"the exponent {node.text} is larger than {MAX_EXPONENT}")
    return node


def _plain_symbol(node) -> Sym:
    if isinstance(node, Sym):
        return node
    raise SyntaxProblem("a derivative must be taken of a symbol with respect to a symbol (such as "
                        + quote(r"\frac{\partial E}{\partial w_{1}}") + ")")


def split_indices(part: Node) -> list[Node]:
    """``{ji}`` → j, i; ``{12}`` → 1, 2; ``{1i}`` → 1, i; ``{i+1}`` stays one index; ``{\\mathrm{in}}`` a tag."""
    if isinstance(part, Num):
        if "." in part.text:
            raise SyntaxProblem(f"a decimal number {part.text} as an index")
        return [Num(Fraction(int(c)), c) for c in part.text]
    if isinstance(part, Sym) and not part.subs and part.layer is None and part.decor is None and not part.primes:
        if len(part.base) > 1 and part.base not in GREEK:
            return [Word(part.base)]
        return [part]
    if isinstance(part, Mul) and not part.hadamard:
        out: list[Node] = []
        for factor in part.factors:
            if isinstance(factor, (Num, Sym)):
                out.extend(split_indices(factor))
            else:
                raise SyntaxProblem("cannot read this subscript")
        return out
    if isinstance(part, Add) and all(isinstance(t, (Num, Sym)) for _, t in part.terms):
        return [part]
    raise SyntaxProblem("cannot read this subscript")
