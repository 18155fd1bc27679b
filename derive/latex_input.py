"""LaTeX input to `derive explain` (``\\frac{1}{1+e^{-x}}``): statements split at ``;`` and line breaks, the right
sides read by the shared grammar of `derive.latex_grammar`. `derive.parse` loads this module by name, only for
input holding a backslash or a brace, so that plain text never loads the grammar."""
from __future__ import annotations

import re

from .errors import InputError, message
from .input_syntax import LATEX_MARK, Source, Statement, Token, quote, read_target, tokenize
from .latex_grammar import Script, SyntaxProblem, exponent, parse, split_indices
from .syntax_tree import Node, Num, Pow, Sym, Word

WRITABLE_FUNCTIONS = r"\log, \ln, \exp, \tanh, \sin, \cos, \sigma, \operatorname{ReLU}"  # named when a macro is unknown

_COMMENT = re.compile(r"(?<!\\)[#%][^\r\n]*")  # comments of the input (#) and of LaTeX (%)


def latex_statements(source: Source) -> tuple[list[Statement], dict]:
    """LaTeX: statements split at ``;`` and line breaks outside braces; the left side of an ``=`` outside braces
    and parentheses is read as plain text (``f`` or ``f(x)``), the right side by the shared LaTeX grammar."""
    text = _COMMENT.sub(lambda m: " " * len(m.group()), source.text)
    statements = []
    for start, end in _pieces(text, 0, ";\n\r"):
        if not text[start:end].strip():
            continue
        equals = [piece_end for _, piece_end in _pieces(text, start, "=", end)[:-1]]
        target = params = None
        right = start
        if equals:
            if len(equals) > 1:
                raise source.error((start, end), equals[1], message("problem.two_equals"))
            left = tokenize(source, start, equals[0])[:-1]
            if not left or LATEX_MARK.search(text, start, equals[0]):
                raise source.error((start, end), start, message("problem.target"))
            target, params, _ = read_target(left + [Token("op", "=", equals[0], equals[0] + 1),
                                                    Token("end", "", end, end)], source)
            right = equals[0] + 1
        try:
            tree = parse(text[right:end], _plain_symbol)
        except SyntaxProblem as problem:
            unknown = problem.message is not None and problem.message.key == "latex_problem.unknown_macro"
            raise InputError.of("latex_unknown" if unknown else "latex", quote=quote(text[start:end]),
                                problem=problem.as_message(), functions=WRITABLE_FUNCTIONS) from None
        statements.append(Statement(target, params, tree, start, end))
    return statements, {}


def _pieces(text: str, start: int, separators: str, end: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) of each piece of ``text[start:end]`` between separators outside braces and parentheses."""
    end = len(text) if end is None else end
    spans, depth, piece = [], 0, start
    for i in range(start, end):
        char = text[i]
        depth += {"{": 1, "}": -1, "(": 1, ")": -1}.get(char, 0)
        if char in separators and depth <= 0:
            spans.append((piece, i))
            piece = i + 1
    spans.append((piece, end))
    return spans


def _plain_symbol(base: str, decor: str | None, scripts: list[Script]) -> Node:
    """explain's reading of a LaTeX symbol: subscripts join the name (``w_{1}`` is w_1, ``x_{ij}`` x_ij), every
    superscript is a power (the caller makes ``e^{…}`` exp unless e is a variable)."""
    name = base
    power = None
    for script in scripts:
        if script.kind == "sub" and name == base:
            indices = [i for part in script.value for i in split_indices(part)]
            if not all(isinstance(i, (Num, Sym, Word)) for i in indices):
                raise SyntaxProblem("only letters and digits can be subscripts of a name")
            name += "_" + "".join(i.text if isinstance(i, (Num, Word)) else i.base for i in indices)
        elif script.kind == "sup" and power is None and not isinstance(script.value, Script):
            power = exponent(script.value)
        else:
            raise SyntaxProblem("primes, transposes, layer indices and double scripts are not part of an expression")
    if decor is not None:
        raise SyntaxProblem(f"a decorated letter such as \\{decor}{{{base}}}: write a plain name, e.g. {base}{decor}")
    symbol = Sym(name)
    return symbol if power is None else Pow(symbol, power)
