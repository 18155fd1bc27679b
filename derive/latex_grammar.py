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
FUNCTIONS = ("log", "ln", "exp", "tanh", "sin", "cos", "relu", "step")
DECORATIONS = ("hat", "bar", "tilde", "widehat", "widetilde", "overline", "mathcal", "mathscr")
ITALIC = "mathit"  # the decoration of a variable named like a constant (``\\mathit{e}``): never the constant


# --- preprocessing ---------------------------------------------------------------------------------------------

_UNICODE = {
    "\u2202": r"\partial ", "\u03c3": r"\sigma ", "\u03b4": r"\delta ", "\u0394": r"\Delta ", "\u2211": r"\sum ",
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
_BOLD = re.compile(r"\\(?:mathbf|boldsymbol|bm|vec|mathit|mathnormal|pmb)\s*")
_WORD = re.compile(r"\\(?:mathrm|text|textrm|operatorname|mathsf|textsf|texttt|textit|mathtt)\s*\{\s*([^{}]*?)\s*\}")
_SCRIPT_SHORT = re.compile(r"([_^])\s*(\\[A-Za-z]+|[A-Za-z0-9]|')")
_FRAC_SHORT = re.compile(r"\\frac\s*([0-9A-Za-z])\s*([0-9A-Za-z])")
_FRAC_HALF = re.compile(r"\\frac\s*([0-9A-Za-z])\s*(?=\{)")
_DECOR_SHORT = re.compile(r"\\(" + "|".join(DECORATIONS) + r")\s*(\\[A-Za-z]+|[A-Za-z])")
_D_SLASH = re.compile(r"(?<![A-Za-z\\])d\s*(?=(?:[A-Za-z]|\\[A-Za-z]+)(?:\s*[_^]\s*(?:\{[^{}]*\}|[A-Za-z0-9]))*"
                      r"\s*/\s*d\s*(?:[A-Za-z]|\\[A-Za-z]+))")
_D_SLASH_DEN = re.compile(r"/\s*d\s*(?=[A-Za-z]|\\[A-Za-z])")
_MACRO = re.compile(r"\\([A-Za-z]+|.)")

ALLOWED_MACROS = frozenset(
    GREEK + list(FUNCTIONS) + list(DECORATIONS)
    + ["frac", "partial", "sum", "sigma", "sqrt", "cdot", "times", "ast", "odot", "circ", "top", "intercal",
       "prime", "DD", "name", "italic", "DLAYER", "max", "min", "applied", "MBEGIN", "MEND", "MROW"])

_WORDS = {"d": r"\DD ", "e": "e", "T": "T", "log": r"\log ", "ln": r"\ln ", "exp": r"\exp ", "tanh": r"\tanh ",
          "sigmoid": r"\sigma ", "ReLU": r"\relu ", "relu": r"\relu ", "Relu": r"\relu ", "sin": r"\sin ",
          "cos": r"\cos "}


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
    text = _arrays(text)
    text = _underbraces(text)
    text = _nabla(text)
    text = _indicators(text)
    text = text.replace("\\{", "(").replace("\\}", ")")
    text = _COLOR.sub(" ", text)
    text = _MARKED.sub(" ", text)  # an answer key's \underset{(3)}{\boxed{…}}: the boxed maths, as a group
    text = _LEFT_RIGHT_DOT.sub(" ", text)
    text = _DROP.sub(" ", text)
    text = re.sub(r"\\(?:dfrac|tfrac|cfrac)(?![A-Za-z])", r"\\frac", text)
    text = re.sub(r"\^\s*\{\s*\\prime\s*\}|\^\s*\\prime(?![A-Za-z])|\\prime(?![A-Za-z])", "'", text)
    text = re.sub(r"\\intercal(?![A-Za-z])", r"\\top", text)
    text = re.sub(r"\\ast(?![A-Za-z])", "*", text)
    text = _ITALIC_NAME.sub(r"\\italic{\1} ", text)
    text = _BOLD.sub("", text)
    text = _WORD.sub(_word, text)
    text = re.sub(r"\\(?:mathrm|text|textrm|operatorname|mathsf)(?![A-Za-z])", _nested_word, text)
    text = _DECOR_SHORT.sub(lambda m: "\\" + m.group(1) + "{" + m.group(2) + "}", text)
    text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
    text = _FRAC_HALF.sub(r"\\frac{\1}", text)
    text = _differentials(text)
    text = _SUM_TWO.sub(r"\\sum_{\1}\\sum_{\2}", text)
    text = re.sub(r"\^\s*\{\s*\(([^(){}]*)\)\s*\}|\^\s*\{\s*\[([^\[\]{}]*)\]\s*\}",
                  lambda m: r"^{\DLAYER{" + (m.group(1) if m.group(1) is not None else m.group(2)) + "}}", text)
    text = _log_of_sum(text)
    text = _SCRIPT_SHORT.sub(lambda m: m.group(1) + "{" + m.group(2) + "}", text)
    text = _function_powers(text)
    for match in _MACRO.finditer(text):
        name = match.group(1)
        if name not in ALLOWED_MACROS:
            if name == "nabla":
                raise SyntaxProblem(quote(r"\nabla") + " needs the variable below it, e.g. "
                                    + quote(r"\nabla_{W} J"))
            if name in ("prod", "int", "lim", "operatorname"):
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


_SUM_TWO = re.compile(r"\\sum\s*_\s*\{\s*([A-Za-z])\s*,\s*([A-Za-z])\s*\}")
_FUNCTION_POWER = re.compile(r"\\(tanh|sin|cos|log|ln|exp|sigma)\s*\^\s*\{\s*([0-9])\s*\}")
_SIMPLE_ARGUMENT = re.compile(r"\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:\s*_\s*\{[^{}]*\})?")
_INDICATOR = re.compile(r"\\(?:mathbb|mathbf|bm|mathds)\s*\{\s*[1I]\s*\}\s*(?:_\s*\{|[\[(]|\\\{)")
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


_ARRAY = re.compile(r"\\begin\s*\{(array|matrix|pmatrix|bmatrix)\}(?:\s*\{[lcr|\s]*\})?")
_ROW_BREAK = re.compile(r"\\\\(?:\s*\[[^\[\]]*\])?")
_BRACKETS = {"array": ("", ""), "matrix": ("", ""), "pmatrix": ("(", ")"), "bmatrix": ("[", "]")}


def _arrays(text: str) -> str:
    """A matrix written out (``\\begin{array}{rr}…\\end{array}``, ``matrix``, ``pmatrix``, ``bmatrix``): rows
    separated by ``\\\\``, entries by ``&``, read as one matrix (``\\MBEGIN … \\MROW … \\MEND``). Nested
    environments are left as they are (and refused)."""
    out, position = [], 0
    for match in _ARRAY.finditer(text):
        if match.start() < position:
            continue
        name = match.group(1)
        end = text.find("\\end{" + name + "}", match.end())
        body = text[match.end():end]
        if end < 0 or "\\begin" in body:
            continue
        rows = [row for row in _ROW_BREAK.split(body)]
        if len(rows) > 1 and not rows[-1].strip():
            rows.pop()  # a row break after the last row
        opener, closer = _BRACKETS[name]
        out += [text[position:match.start()], opener, r"\MBEGIN ", r" \MROW ".join(rows), r" \MEND", closer]
        position = end + len("\\end{" + name + "}")
    return "".join(out) + text[position:]


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
        elif op in (">", ">=", r"\ge", r"\geq", r"\gt"):
            replacement = r"\step(" + left + " - (" + right + "))"
        else:
            replacement = r"\step(" + right + " - (" + left + "))"
        out += [text[position:match.start()], replacement]
        position = end
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
        raise SyntaxProblem("softmax is not supported as a function: write it out, e.g. "
                            + quote(r"\frac{e^{z_k}}{\sum_j e^{z_j}}"))
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", word):
        return r"\name{" + word + "} " if len(word) > 1 else word
    if re.fullmatch(r"def|\\?def", word):
        return word
    raise SyntaxProblem(f"cannot read the text {quote(word)} in the maths")


def _nested_word(match: re.Match) -> str:
    raise SyntaxProblem(f"cannot read {quote(match.group(0))} with a nested argument")


def _differentials(text: str) -> str:
    r"""``\frac{d E}{d w}``, ``\frac{d}{dx}`` and ``dE/dw`` get the differential token ``\DD``."""
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
       | MBEGIN mrow (MROW mrow)* MEND -> matrix

mrow: expr ("&" expr)*

group: "(" expr ")"
     | "[" expr "]"
     | "{" expr "}"                -> brace_group

frac: FRAC "{" expr "}" "{" expr "}"

deriv: FRAC "{" PARTIAL symbol "}" "{" PARTIAL symbol "}"   -> partial_frac
     | FRAC "{" DIFF symbol "}" "{" DIFF symbol "}"         -> d_frac
     | PARTIAL symbol "/" PARTIAL symbol                    -> partial_frac
     | DIFF symbol "/" DIFF symbol                          -> d_frac

derivop: FRAC "{" PARTIAL "}" "{" PARTIAL symbol "}"        -> partial_op
       | FRAC "{" DIFF "}" "{" DIFF symbol "}"              -> d_op

funcapp: SIGMA PRIME* "(" expr ")"                 -> sigma_app
       | FUNC "(" expr ")"                         -> func_app
       | FUNC "{" expr "}"                         -> func_app
       | FUNC symbol                               -> func_app
       | FUNC NUMBER                               -> func_num
       | MAXMIN "(" expr "," expr ")"              -> maxmin_app
       | APPLIED PRIME* "(" expr ")"               -> applied_app

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
NAME: /\\name\{[A-Za-z][A-Za-z0-9]*\}/
ITALIC: /\\italic\{[A-Za-z][A-Za-z0-9]*\}/
DECOR: /\\(hat|bar|tilde|widehat|widetilde|overline|mathcal|mathscr)(?![A-Za-z])/
FUNC: /\\(log|ln|exp|tanh|sin|cos|relu|step)(?![A-Za-z])/
MAXMIN: /\\(max|min)(?![A-Za-z])/
APPLIED: /\\applied\{[A-Za-z]\}/
SIGMA: /\\sigma(?![A-Za-z])/
SUM: /\\sum(?![A-Za-z])/
FRAC: /\\frac(?![A-Za-z])/
SQRT: /\\sqrt(?![A-Za-z])/
PARTIAL: /\\partial(?![A-Za-z])/
DIFF: /\\DD(?![A-Za-z])/
MULOP: /\\cdot(?![A-Za-z])|\\times(?![A-Za-z])|\\odot(?![A-Za-z])|\\circ(?![A-Za-z])|\*/
TOP: /\\top(?![A-Za-z])/
PRIME: /'/
DLAYER: /\\DLAYER(?![A-Za-z])/
MBEGIN: /\\MBEGIN(?![A-Za-z])/
MEND: /\\MEND(?![A-Za-z])/
MROW: /\\MROW(?![A-Za-z])/

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

        def matrix(self, items):
            rows = tuple(tuple(row.children) for row in items if isinstance(row, lark.Tree))
            if len({len(row) for row in rows}) != 1:
                raise SyntaxProblem("the rows of a matrix have different numbers of entries")
            return Matrix(rows)

        def sqrt(self, items):
            return Func("sqrt", items[1])

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
