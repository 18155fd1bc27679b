"""The maths `derive verify` reads: the shared LaTeX grammar (`derive.latex_grammar`) with verify's reading of
scripts, and the questions verify asks of a syntax tree.

How scripts are read is documented in `derive.verify`; `make_symbol` implements it.
"""
from __future__ import annotations

import functools
import re

from ..latex_grammar import (DECORATIONS, FUNCTIONS, GREEK, ITALIC, MAX_CHAIN, MAX_DEPTH, MAX_EXPONENT,  # noqa: F401
                            MAX_MEMBER_CHARS, MAX_NUMBER_DIGITS, MAX_TREE_DEPTH, Add, Const, Deriv, DerivOf, Div,
                            Func, Matrix, Mul, Neg, Node, Num, Pow, Script, Sum, Sym, SyntaxProblem, Transpose, Word,
                            children, exponent, max_depth, normalise, parse, quote, split_indices, walk)

LAYERED_BASES = frozenset({"w", "W", "a", "z", "b", "delta", "Delta"})
"""Bases whose integer superscript is a layer number (``w^2_{11}``, ``\\delta^3``), not a power."""

_BASE = r"(?<![A-Za-z\\])(w|W|a|z|b|\\delta|\\Delta)"
_SUBSCRIPT = r"(?:\s*_\s*(?:\{[^{}]*\}|[A-Za-z0-9]))?"
_LETTER_LAYER = re.compile(_BASE + _SUBSCRIPT + r"\s*\^\s*\{?\s*[lL](?![A-Za-z])")
_NUMBER_LAYER = re.compile(_BASE + _SUBSCRIPT + r"\s*\^\s*(?:\{\s*([0-9]+)\s*\}|([0-9]))")


def has_integer_superscripts(maths: str) -> bool:
    """Whether w, W, a, z, b, δ or Δ carries an integer superscript anywhere (a layer or a power)."""
    return bool(_NUMBER_LAYER.search(maths))


def layered_bases(maths: str) -> frozenset[str]:
    """The bases whose integer superscripts are layers in this document: all of w, W, a, z, b, δ, Δ when the
    document writes a layer letter on one of them (``z^l``, ``w^{l+1}``, ``a^L``) or two different integer
    superscripts (``z^2`` and ``a^1``); else none, and ``1 - z_j^2`` or ``\\lambda w^2`` are squares."""
    if _LETTER_LAYER.search(maths):
        return LAYERED_BASES
    numbers = {match.group(2) or match.group(3) for match in _NUMBER_LAYER.finditer(maths)}
    return LAYERED_BASES if len(numbers) > 1 else frozenset()


_NAMED_FUNCTION = re.compile(r"(?<![A-Za-z\\])([fgh])('*)\(")


def preprocess(text: str) -> str:
    """`normalise`, and read ``f(…)``, ``g'(…)``, ``h(…)`` written against their parenthesis as a named function
    (defined by ``f(z) = …`` in the document, else abstract); ``h (1 - h)`` with a space is a product."""
    return _NAMED_FUNCTION.sub(lambda m: r"\applied{" + m.group(1) + "}" + m.group(2) + "(", normalise(text))


def parse_member(text: str, layered: frozenset[str] = LAYERED_BASES, tags: frozenset[Sym] = frozenset()) -> Node:
    """One member of an equation as a syntax tree; `SyntaxProblem` if it is outside the grammar. ``layered``: the
    bases whose integer superscripts are layers (`layered_bases` of the document); ``tags``: symbols that, as a
    subscript, name a variable rather than an index (`make_symbol`)."""
    return parse(text, _symbol_maker(layered, tags), preprocess(text))


@functools.lru_cache(maxsize=8)
def _symbol_maker(layered: frozenset[str], tags: frozenset[Sym] = frozenset()):
    return functools.partial(make_symbol, layered=layered, tags=tags)


def tag_text(sym: Sym) -> str:
    """A variable used as a subscript tag, as one word: ``w``, ``y'``, ``w_1``."""
    subs = "".join(s.text if isinstance(s, (Num, Word)) else s.base if isinstance(s, Sym) else "?" for s in sym.subs)
    return sym.base + "'" * sym.primes + ("_" + subs if subs else "")


_LAYER_LETTER = re.compile(r"^[lL]$")


def make_symbol(base: str, decor: str | None, scripts: list, layered: frozenset[str] = LAYERED_BASES,
                tags: frozenset[Sym] = frozenset()) -> Node:
    """Apply the script rule (see `derive.verify`): subscripts are indices kept in order; a superscript is a
    transpose (``T``, ``\\top``), a prime, a layer index (in parentheses; the letters ``l``/``L`` and ``l ± n``;
    an integer on w, W, a, z, b, δ, Δ) or else a power; ``e^{x}`` is exp. A subscript that is one of the ``tags``
    (a variable the scope gives a value, as in g_w, the gradient of w, or g_{y'}) is a fixed tag, not an index."""
    subs: tuple[Node, ...] | None = None
    sups: list = []
    primes = 0
    for script in scripts:
        if script.kind == "sub":
            if subs is not None:
                raise SyntaxProblem(f"two subscripts on {base}")
            subs = tuple(Word(tag_text(i)) if i in tags else i for part in script.value
                         for i in ([part] if part in tags else split_indices(part)))
        elif script.kind == "prime":
            primes += script.value
        else:
            sups.append(script.value)
    if len(sups) > 1:
        raise SyntaxProblem(f"two superscripts on {base}")
    symbol = Sym(base, decor, primes, None, subs or ())
    if not sups:
        return symbol
    sup = sups[0]
    if isinstance(sup, Script):
        if sup.kind == "T":
            return Transpose(symbol)
        if sup.kind == "layer":
            return Sym(base, decor, primes, sup.value, subs or ())
        return Sym(base, decor, primes + sup.value, None, subs or ())
    if isinstance(sup, Sym) and sup.base == "T" and not sup.subs and sup.layer is None and not sup.primes:
        return Transpose(symbol)
    if base == "e" and decor is None and not primes and not subs:
        return Func("exp", sup)
    if _is_layer(sup, base, layered):
        return Sym(base, decor, primes, sup, subs or ())
    return Pow(symbol, exponent(sup))


def _is_layer(sup: Node, base: str, layered: frozenset[str]) -> bool:
    if isinstance(sup, Sym) and _LAYER_LETTER.match(sup.base) and not sup.subs and sup.decor is None:
        return True
    if isinstance(sup, Add) and len(sup.terms) == 2:
        (s1, first), (_, second) = sup.terms
        return (s1 == 1 and isinstance(first, Sym) and bool(_LAYER_LETTER.match(first.base)) and not first.subs
                and isinstance(second, Num) and second.value.denominator == 1)
    if isinstance(sup, Num) and sup.value.denominator == 1 and sup.value >= 0 and "." not in sup.text:
        return base in layered
    return False


def symbols_in(node: Node) -> list[Sym]:
    """Every symbol occurrence that is a quantity (not an index or a layer)."""
    out: list[Sym] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Sym):
            out.append(current)
            continue  # indices are not quantities
        if isinstance(current, Sum):
            stack.append(current.body)
            continue
        stack.extend(children(current))
    return out


def is_numeric(node: Node) -> bool:
    """No letters at all: a value (evaluated at the document's point when compared)."""
    return not any(isinstance(n, (Sym, Deriv, DerivOf, Sum)) for n in walk(node))


def has_derivative(node: Node) -> bool:
    return any(isinstance(n, (Deriv, DerivOf)) or (isinstance(n, Func) and n.name == "dsigma") for n in walk(node))
