"""The plain-text input language of `derive explain`: a tokenizer and a precedence-climbing parser of our own.

The result is the neutral syntax tree of `derive.syntax_tree` (Num, Sym, Add, Mul, Div, Neg, Pow, Func), one
`Statement` per assignment, and the source span of every tree node so that messages quote what the student wrote.
Nothing here evaluates text, and no message uses the words of Python's parser: each rejection says what to write.

Grammar, loosest first (``^`` and ``**`` are the same operator, ``×`` ``·`` are ``*``, ``−`` is ``-``)::

    program    statement ((";" | newline) statement)*        newlines inside parentheses are spaces
    statement  [NAME ["(" NAME ("," NAME)* ")"] "="] sum     f = …, or a definition f(x, y) = …
    sum        product (("+" | "-") product)*
    product    signed (("*" | "/") signed | power)*          a power right after a factor: 2x, 3(x+1), (x+y)z
    signed     ("-" | "+") signed | power
    power      atom SUPERSCRIPT* ["^" signed]                right-associative: x^-1, 2^3^2 = 2^9, x², x⁻¹
    atom       NUMBER | NAME | FUNCTION "(" sum ")" | "(" sum ")" | "√" power

A name followed by ``(`` is a call of a known function (``ln`` is ``log``), the value of a definition made above
(``g(x)`` after ``g(x) = …``), or a product when the name is a letter, maybe followed by digits or ``_…`` (``x``,
``w1``, ``x_1``), or a variable (``x(y+1)``, ``p(1-p)`` after ``p = …``); any other name followed by ``(`` is an
unknown function.
"""
from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Collection, Iterator, Mapping

import sympy

from .errors import InputError, Message, message, shown
from .rules import FUNCTIONS
from .syntax_tree import Add, Div, Func, Mul, Neg, Node, Num, Pow, Sym

MAX_DEPTH = 200
MAX_NAME_CHARS = 64
MAX_CONSTANT_BITS = 1000
MAX_NUMBER_DIGITS = 100
MAX_EXPONENT = 300
ALIASES = {"ln": "log"}
CALLABLE = tuple(FUNCTIONS) + tuple(ALIASES)
LATEX_MARK = re.compile(r"\\|\{")
"""A backslash or a brace: the input is LaTeX (`derive.latex_input`), not this language."""

_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
                 "⁻": "-"}
_SYMBOLS = {"\u2212": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u2219": "*", "\u00f7": "/", "\u221a": "√"}
_TOKEN = re.compile(r"""
    (?P<space>[ \t\f]+|\#[^\r\n]*)
  | (?P<newline>\r\n|\r|\n)
  | (?P<number>0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+
      |(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|//|<<|>>|<=|>=|==|!=|:=|->|[-+*/^()=,;.:<>!%&|~@'"\[\]?$`])
""", re.X)
_LETTER_NAME = re.compile(r"[A-Za-z](?:[0-9]+|_\w*)?")  # x, w1, x_1, y_: before "(" a factor, not a function
_COMPARISONS = {"<", ">", "<=", ">=", "==", "!="}
_OTHER_OPERATORS = {"%", "&", "|", "~", "<<", ">>", "@", "!", "?", "$", "`", "->", ":="}
_INVISIBLE = {"Cf", "Zs", "Zl", "Zp"}


@dataclass(frozen=True)
class Token:
    """One token of plain-text input, with its span in the source."""
    kind: str  # number, name, op (text normalised: "^" for ** and ^, "*" for × and ·, "-" for −), sup, end
    text: str  # normalised text; for "sup" the exponent's digits ("2", "-1")
    start: int
    end: int


@dataclass(frozen=True)
class Statement:
    """``target = tree`` (target None for a bare expression); ``params`` for a definition ``f(x, y) = …``."""
    target: str | None
    params: tuple[str, ...] | None
    tree: Node
    start: int
    end: int


@dataclass(frozen=True)
class Source:
    """The text being read, for positions and quotations in messages."""
    text: str

    def position(self, offset: int) -> tuple[int, int]:
        before = self.text[:offset]
        line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
        return len(re.findall(r"\r\n|\r|\n", before)) + 1, offset - line_start + 1

    def quote(self, start: int, end: int) -> str:
        return quote(self.text[start:end])

    def error(self, statement: tuple[int, int], offset: int, problem: Message) -> InputError:
        line, column = self.position(offset)
        return InputError.of("syntax", quote=self.quote(*statement), line=line, column=column, problem=problem)


def quote(text: str) -> str:
    """A piece of the student's text on one line, at most 60 characters, in single quotes."""
    text = " ".join("".join(c if c.isprintable() or c in " \t\n\r" else "\ufffd" for c in text).split())
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"


def tokenize(source: Source, start: int = 0, end: int | None = None) -> list[Token]:
    """Every token of ``source.text[start:end]``, with newlines inside parentheses dropped, and a final ``end``
    token; a character outside the language is refused here."""
    text = source.text[:end]
    tokens: list[Token] = []
    depth, position = 0, start
    while position < len(text):
        char = text[position]
        if char in _SUPERSCRIPTS:
            run = position
            while run < len(text) and text[run] in _SUPERSCRIPTS:
                run += 1
            tokens.append(Token("sup", "".join(_SUPERSCRIPTS[c] for c in text[position:run]), position, run))
            position = run
            continue
        if char in _SYMBOLS:
            tokens.append(Token("op", _SYMBOLS[char], position, position + 1))
            position += 1
            continue
        match = _TOKEN.match(text, position)
        if match is None:
            raise source.error(_line_around(source.text, position), position, _character_problem(char))
        kind, value = match.lastgroup, match.group()
        if kind == "op":
            depth += {"(": 1, ")": -1}.get(value, 0)
            value = {"**": "^"}.get(value, value)
        if kind == "newline" and depth <= 0:
            tokens.append(Token("op", ";", match.start(), match.end()))
        elif kind not in ("space", "newline"):
            tokens.append(Token(kind, value, match.start(), match.end()))
        position = match.end()
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


def _line_around(text: str, position: int) -> tuple[int, int]:
    start = max(text.rfind(c, 0, position) for c in "\n\r;") + 1
    ends = [i for i in (text.find(c, position) for c in "\n\r;") if i >= 0]
    return start, min(ends, default=len(text))


def _character_problem(char: str) -> Message:
    code = f"{ord(char):04X}"
    name = unicodedata.name(char, "")
    folded = unicodedata.normalize("NFKC", char)
    if ord(char) < 32 or ord(char) == 127:
        hint = message("hint.control", name="null" if char == "\0" else f"U+{code}")
    elif unicodedata.category(char) in _INVISIBLE:
        hint = message("hint.invisible")
    elif folded.isascii() and folded.isprintable() and folded.strip():
        hint = message("hint.ascii", ascii=folded)
    elif name.startswith("GREEK ") and " LETTER " in name:
        hint = message("hint.greek", ascii=name.split(" LETTER ")[-1].split()[0].lower())
    else:
        hint = message("hint.other")
    return message("problem.character", char=char + " " if char.isprintable() else "", code=code, hint=hint)


def split_statements(tokens: list[Token]) -> Iterator[list[Token]]:
    """The tokens of each non-empty statement, each ending with an ``end`` token."""
    current: list[Token] = []
    for token in tokens:
        if token.kind == "end" or (token.kind == "op" and token.text == ";"):
            if current:
                yield current + [Token("end", "", token.start, token.start)]
            current = []
        else:
            current.append(token)


def read_target(tokens: list[Token], source: Source) -> tuple[str | None, tuple[str, ...] | None, int]:
    """(target, parameters, index of the first token of the right side) of one statement's tokens."""
    span = (tokens[0].start, tokens[-1].start)
    equals, depth = [], 0
    for i, token in enumerate(tokens):
        if token.kind == "op":
            depth += {"(": 1, ")": -1}.get(token.text, 0)
            if token.text == "=" and depth == 0:
                equals.append(i)
    if not equals:
        return None, None, 0
    if len(equals) > 1:
        raise source.error(span, tokens[equals[1]].start, message("problem.two_equals"))
    left = tokens[:equals[0]]
    if len(left) == 1 and left[0].kind == "name":
        _check_name(left[0], source, span)
        return left[0].text, None, equals[0] + 1
    if (len(left) >= 4 and left[0].kind == "name" and left[1].text == "(" and left[-1].text == ")"
            and left[0].text not in CALLABLE):
        inner = left[2:-1]
        names = inner[0::2]
        commas_ok = all(t.kind == "op" and t.text == "," for t in inner[1::2])
        if commas_ok and len(inner) % 2 == 1 and all(t.kind == "name" for t in names):
            params = tuple(t.text for t in names)
            if len(set(params)) != len(params):
                raise source.error(span, left[0].start, message("problem.parameters", name=left[0].text))
            for token in [left[0], *names]:
                _check_name(token, source, span)
            return left[0].text, params, equals[0] + 1
    raise source.error(span, tokens[0].start, message("problem.target"))


def _check_name(token: Token, source: Source, span: tuple[int, int]) -> None:
    name = token.text
    if keyword.iskeyword(name):
        raise source.error(span, token.start, message("problem.keyword", word=name))
    if not name[0].isalpha():
        raise source.error(span, token.start, message("problem.underscore", name=name))
    if len(name) > MAX_NAME_CHARS:
        raise source.error(span, token.start, message("name.too_long", name=name[:20], limit=MAX_NAME_CHARS))


class Reader:
    """One statement's right side → a tree; ``spans`` maps ``id(node)`` to its (start, end) in the source."""

    def __init__(self, tokens: list[Token], source: Source, variables: Collection[str],
                 definitions: dict[str, tuple[str, ...]], spans: dict[int, tuple[int, int]]) -> None:
        self.tokens, self.source, self.index = tokens, source, 0
        self.variables, self.definitions, self.spans = variables, definitions, spans
        self.span = (tokens[0].start, tokens[-1].start)
        self.depth = 0

    # --- helpers ---
    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_op(self, *texts: str) -> bool:
        return self.peek.kind == "op" and self.peek.text in texts

    def mark(self, node: Node, start: int) -> Node:
        self.spans[id(node)] = (start, self.tokens[self.index - 1].end)
        return node

    def text(self, start: int, end: int) -> str:
        return " ".join(self.source.text[start:end].split())

    def fail(self, token: Token, problem: Message) -> InputError:
        return self.source.error(self.span, token.start, problem)

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InputError.of("too_deep", limit=MAX_DEPTH)

    # --- grammar ---
    def statement(self, start: int) -> Node:
        self.index = start
        if self.peek.kind == "end":
            raise self.fail(self.peek, message("problem.ends", token=self.written(self.tokens[start - 1])))
        tree = self.sum()
        if self.peek.kind != "end":
            raise self.fail(self.peek, self.unexpected(self.peek))
        return tree

    def sum(self) -> Node:
        start = self.peek.start
        terms = [(1, self.product())]
        while self.is_op("+", "-"):
            sign = 1 if self.take().text == "+" else -1
            terms.append((sign, self.product()))
        return terms[0][1] if len(terms) == 1 else self.mark(Add(tuple(terms)), start)

    def product(self) -> Node:
        start = self.peek.start
        factors = [self.signed()]  # the factors of the product being read; a division closes it
        divisor: tuple[int, int] | None = None  # the span of the divisor just read, as in a/2
        while True:
            if self.is_op("*", "/"):
                op = self.take().text
                right_start = self.peek.start
                right = self.signed()
                if op == "/":
                    factors = [self.mark(Div(self.closed(factors, start), right), start)]
                    divisor = (right_start, self.tokens[self.index - 1].end)
                else:
                    factors.append(right)
                    divisor = None
            elif self.starts_atom(self.peek):
                left_end = self.tokens[self.index - 1].end
                if self.peek.kind == "number":
                    raise self.fail(self.peek, message("problem.number_after", left=self.text(start, left_end),
                                                       right=self.peek.text))
                right_start = self.peek.start
                factors.append(self.power())
                if divisor is not None:
                    end = self.tokens[self.index - 1].end
                    raise self.fail(self.tokens[self.index - 1], message(
                        "problem.ambiguous_division", text=self.text(start, end),
                        numerator=self.text(start, divisor[0] - 1).rstrip(" /"), divisor=self.text(*divisor),
                        factor=self.text(right_start, end)))
            else:
                return self.closed(factors, start)

    def closed(self, factors: list[Node], start: int) -> Node:
        return factors[0] if len(factors) == 1 else self.mark(Mul(tuple(factors)), start)

    def signed(self) -> Node:
        if self.is_op("-", "+"):
            start = self.peek.start
            sign = self.take().text
            self.deeper()
            operand = self.signed()
            self.depth -= 1
            return self.mark(Neg(operand), start) if sign == "-" else operand
        return self.power()

    def power(self) -> Node:
        start = self.peek.start
        node = self.atom()
        while self.peek.kind == "sup":
            token = self.take()
            digits = token.text.lstrip("-")
            if not digits.isdigit() or token.text.count("-") > 1:
                raise self.fail(token, message("problem.unexpected", token=quote(self.source.text[token.start:
                                                                                                  token.end])))
            exponent = Num(Fraction(int(parse_number(digits, message("what.number")))), digits)
            if token.text.startswith("-"):
                exponent = self.mark(Neg(exponent), token.start)
            node = self.mark(Pow(node, exponent), start)
        if self.is_op("^"):
            self.take()
            self.deeper()
            exponent = self.signed()
            self.depth -= 1
            node = self.mark(Pow(node, exponent), start)
        return node

    def atom(self) -> Node:
        token = self.peek
        if token.kind == "number":
            self.take()
            return self.mark(_number(token, self), token.start)
        if token.kind == "name":
            return self.name()
        if self.is_op("("):
            return self.group()
        if self.is_op("√"):
            self.take()
            self.deeper()
            operand = self.power() if self.starts_atom(self.peek) else None
            self.depth -= 1
            if operand is None:
                raise self.fail(self.peek, self.unexpected(self.peek))
            return self.mark(Func("sqrt", operand), token.start)
        raise self.fail(token, self.unexpected(token))

    def group(self) -> Node:
        opening = self.take()
        self.deeper()
        if self.is_op(")"):
            raise self.fail(self.peek, message("problem.empty_parens"))
        inner = self.sum()
        if not self.is_op(")"):
            problem = message("problem.unclosed") if self.peek.kind == "end" else self.unexpected(self.peek)
            raise self.fail(opening if self.peek.kind == "end" else self.peek, problem)
        self.take()
        self.depth -= 1
        return inner

    def name(self) -> Node:
        token = self.take()
        _check_name(token, self.source, self.span)
        name, called = token.text, self.is_op("(")
        if name in CALLABLE:
            if not called:
                raise self.fail(token, message("problem.function_value", name=name))
            return self.call(token)
        if called and name in self.definitions:
            return self.definition_value(token)
        if called and not _LETTER_NAME.fullmatch(name) and name not in self.variables:
            raise self.fail(token, message("problem.unknown_function", name=name, functions=", ".join(CALLABLE)))
        return self.mark(Sym(name), token.start)

    def call(self, token: Token) -> Node:
        self.take()
        self.deeper()
        if self.is_op(")"):
            raise self.fail(self.peek, message("problem.arguments", name=token.text))
        argument = self.sum()
        if self.is_op(","):
            raise self.fail(self.peek, message("problem.arguments", name=token.text))
        if not self.is_op(")"):
            raise self.fail(token if self.peek.kind == "end" else self.peek,
                            message("problem.unclosed") if self.peek.kind == "end" else self.unexpected(self.peek))
        self.take()
        self.depth -= 1
        return self.mark(Func(ALIASES.get(token.text, token.text), argument), token.start)

    def definition_value(self, token: Token) -> Node:
        """``g(x)`` after ``g(x) = …`` is the value g; with other arguments it would be a call of g."""
        params = self.definitions[token.text]
        written: list[str] = []
        self.take()
        while self.peek.kind == "name" and len(written) < len(params):
            written.append(self.take().text)
            if not self.is_op(","):
                break
            self.take()
        if tuple(written) != params or not self.is_op(")"):
            raise self.fail(token, message("problem.definition_use", name=token.text, params=", ".join(params)))
        self.take()
        return self.mark(Sym(token.text), token.start)

    @staticmethod
    def starts_atom(token: Token) -> bool:
        return token.kind in ("number", "name") or (token.kind == "op" and token.text in ("(", "√"))

    def unexpected(self, token: Token) -> Message:
        text = token.text
        if token.kind == "end":
            return message("problem.ends", token=self.written(self.tokens[self.index - 1]))
        if token.kind == "sup":
            return message("problem.unexpected", token=self.written(token))
        if text == ")":
            return message("problem.unopened")
        if text in _COMPARISONS:
            return message("problem.comparison", token=text)
        hints = {"//": "problem.floor_division", "'": "problem.quotes", '"': "problem.quotes",
                 "[": "problem.brackets", "]": "problem.brackets", ".": "problem.dot", ",": "problem.comma",
                 "=": "problem.equals_inside", ":": "problem.colon"}
        if text in hints:
            return message(hints[text], token=text)
        if text in _OTHER_OPERATORS:
            return message("problem.operator", token=text)
        if token.kind == "op" and text in "*/^":
            return message("problem.operand", token=self.written(token))
        return message("problem.unexpected", token=self.written(token))

    def written(self, token: Token) -> str:
        return quote(self.source.text[token.start:token.end])


def _number(token: Token, reader: Reader) -> Num:
    text = token.text.replace("_", "")
    if text[:2].lower() in ("0x", "0o", "0b"):
        value = int(text, 0)
        if value.bit_length() > MAX_CONSTANT_BITS:
            raise reader.fail(token, message("problem.number_too_large", number=quote(token.text)))
        return Num(Fraction(value), token.text)
    value = parse_number(text, message("what.number"))
    return Num(Fraction(int(value.p), int(value.q)), token.text)


_LARGEST = Fraction(10) ** 300
_SMALLEST = 1 / _LARGEST


def parse_number(text: str, what: str | Message) -> sympy.Rational:
    """A decimal or integer, read exactly (``0.1`` is 1/10); rejects NaN, inf and anything else. ``what`` names
    where the number was given (``--at x``) in messages."""
    cleaned = text.strip()
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?", cleaned) and not re.fullmatch(
            r"[+-]?[0-9]+/[0-9]+", cleaned):
        raise InputError(message("number.not_a_number", text=repr(text)), what)
    if re.fullmatch(r"[+-]?[0-9]+/0+", cleaned):
        raise InputError(message("number.divides_by_zero", text=repr(text)), what)
    mantissa, _, exponent = cleaned.lower().partition("e")
    if len(mantissa) > MAX_NUMBER_DIGITS or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        raise InputError(message("number.outside", text=quote(text), digits=MAX_NUMBER_DIGITS,
                                 exponent=MAX_EXPONENT), what)
    value = Fraction(cleaned)
    if value and not _SMALLEST <= abs(value) <= _LARGEST:  # exactly: the float 1e-300 is larger than 10^-300
        raise InputError(message("number.range", text=quote(text), smallest="1e-300", largest="1e300"), what)
    return sympy.Rational(value.numerator, value.denominator)


def parse_pairs(spec: Mapping[object, object] | str, parameter: str) -> dict[str, str]:
    """``NAME=VALUE,NAME=VALUE`` (or a mapping, its keys and values as text) as a dict of texts; a malformed or
    repeated entry is an input error about ``parameter``."""
    if not isinstance(spec, str):
        return {str(k): str(v) for k, v in spec.items()}
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(message("point.not_pair", item=shown(item)), parameter)
        if name.strip() in pairs:
            raise InputError(message("point.given_twice", name=shown(name.strip())), parameter)
        pairs[name.strip()] = value.strip()
    if not pairs:
        raise InputError(message("point.no_pairs"), parameter)
    return pairs


def number_of(text: str, parameter: str) -> sympy.Rational:
    """`parse_number` for one entry of a parameter (``"at x"``), its message naming that entry."""
    try:
        return parse_number(text, "number")
    except InputError as exc:
        raise InputError(exc.as_message(), parameter) from None
