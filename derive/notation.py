"""The one place where maths becomes LaTeX: a `LatexPrinter` subclass with the project's notation.

Names are printed the way the study material writes them: ``y_`` as ``y'``, ``w1`` and ``x_1`` as ``w_{1}`` and
``x_{1}``, ``z^2_1`` as ``z^{2}_{1}``, Greek names as Greek letters, other long names upright.
"""
from __future__ import annotations

import re
from functools import lru_cache

import sympy
from sympy.printing.latex import LatexPrinter, translate


class Grad(sympy.Symbol):
    """The gradient ∂output/∂node as an opaque symbol, so chains stay short and readable."""

    def __new__(cls, output: str, node: str) -> "Grad":
        obj = super().__new__(cls, f"\u2202{output}/\u2202{node}")
        obj.output = output
        obj.node = node
        return obj

    def __getnewargs_ex__(self):
        return (self.output, self.node), {}

    def _hashable_content(self):
        return (self.output, self.node)


_DIGITS = re.compile(r"^([A-Za-z]+?)_?(\d+)$")
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@lru_cache(maxsize=4096)
def name_latex(name: str) -> str:
    """LaTeX for a variable name, following the material's conventions."""
    primes = len(name) - len(name.rstrip("_"))
    base = name.rstrip("_") or name
    if "^" in base or ("_" in base and not _DIGITS.match(base)):
        head, sup, sub = _split_indices(base)
        text = _letters(head)
        if sup:
            text += "^{" + sup + "}"
        if sub:
            text += "_{" + sub + "}"
    else:
        match = _DIGITS.match(base)
        text = _letters(match.group(1)) + "_{" + match.group(2) + "}" if match else _letters(base)
    if primes:
        text = "{" + text + "}" + "'" * primes if ("_" in text or "^" in text) else text + "'" * primes
    return text


def _split_indices(name: str) -> tuple[str, str, str]:
    """``z^2_1`` -> (``z``, ``2``, ``1``); ``W^l+1`` -> (``W``, ``l+1``, ''); ``x_1,2`` -> (``x``, '', ``1,2``);
    ``apple_num`` -> (``apple_num``, '', '') when the tail is a word."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9]*)((?:[\^_][A-Za-z0-9,+\-]+)*)$", name)
    if not match:
        return name, "", ""
    head, tail = match.groups()
    parts = re.findall(r"([\^_])([A-Za-z0-9,+\-]+)", tail)
    sups = [p for mark, p in parts if mark == "^"]
    subs = [p for mark, p in parts if mark == "_"]
    if not sups and subs and any(re.search("[A-Za-z]{2,}", s) for s in subs):
        return name, "", ""  # a snake_case word such as apple_num
    return head, ",".join(sups), "".join(subs)


def _letters(word: str) -> str:
    if not _PLAIN.match(word):
        return r"\mathrm{" + word.replace("_", r"\_") + "}"
    greek = translate(word)
    if greek != word or len(word) == 1:
        return greek
    return r"\mathrm{" + word + "}"


class DerivePrinter(LatexPrinter):
    """SymPy's LaTeX printer with the project's notation."""

    printmethod = "_derive_latex"

    def __init__(self, settings: dict | None = None) -> None:
        base = {"mul_symbol": "dot", "fold_short_frac": False, "order": "none"}
        base.update(settings or {})
        super().__init__(base)

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        return name_latex(expr.name)

    def _print_Grad(self, expr: Grad) -> str:
        return r"\frac{\partial " + name_latex(expr.output) + r"}{\partial " + name_latex(expr.node) + "}"

    # Sums and products keep the order they were built in (as the user wrote them), except that a sum does not
    # start with a negative term when it has a positive one: "y - 1", not "-1 + y".
    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        terms = list(expr.args)
        if terms[0].could_extract_minus_sign():
            first_positive = next((i for i, t in enumerate(terms) if not t.could_extract_minus_sign()), 0)
            terms.insert(0, terms.pop(first_positive))
        return super()._print_Add(sympy.Add(*terms, evaluate=False), order="none")

    def _print_Mul(self, expr: sympy.Mul) -> str:
        first, rest = expr.args[0], expr.args[1:]
        if first.is_Rational and not first.is_Integer and rest and abs(first.p) == 1:
            # ½·q as the material writes it, not q/2
            rest_expr = sympy.Mul(*rest, evaluate=False) if len(rest) > 1 else rest[0]
            rest_text = self._print(rest_expr)
            if isinstance(rest_expr, sympy.Add):
                rest_text = r"\left(" + rest_text + r"\right)"
            text = self._print(abs(first)) + r" \cdot " + rest_text
            return "- " + text if first < 0 else text
        return super()._print_Mul(expr)

    def _print_Float(self, expr: sympy.Float) -> str:
        return float_text(float(expr))

    def _print_HadamardProduct(self, expr) -> str:
        return r" \odot ".join(self.parenthesize(a, 50) for a in expr.args)

    def _print_Abs(self, expr: sympy.Abs, exp: str | None = None) -> str:
        # \lvert, not "|": a bar inside maths in a Markdown table would end the table cell (GFM)
        text = r"\left\lvert " + self._print(expr.args[0]) + r" \right\rvert"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Heaviside(self, expr: sympy.Heaviside, exp: str | None = None) -> str:
        text = r"\mathbf{1}\left[" + self._print(expr.args[0]) + r" > 0\right]"
        return f"{text}^{{{exp}}}" if exp else text


_PRINTER = DerivePrinter()


def latex(expr: sympy.Basic | int) -> str:
    """LaTeX for a SymPy expression in the project's notation."""
    return _PRINTER.doprint(sympy.sympify(expr) if isinstance(expr, (int, float)) else expr)


class sigma(sympy.Function):
    """σ(x), the logistic sigmoid, kept as a name for display."""

    def _derive_latex(self, printer: LatexPrinter) -> str:
        return r"\sigma\left(" + printer._print(self.args[0]) + r"\right)"


class ReLU(sympy.Function):
    def _derive_latex(self, printer: LatexPrinter) -> str:
        return r"\operatorname{ReLU}\left(" + printer._print(self.args[0]) + r"\right)"


class Softmax(sympy.Function):
    """softmax_k(z_1, …, z_K); the first argument is k (1-based)."""

    def _derive_latex(self, printer: LatexPrinter) -> str:
        k, *zs = self.args
        inner = ", ".join(printer._print(z) for z in zs)
        return r"\operatorname{softmax}_{" + printer._print(k) + r"}\left(" + inner + r"\right)"


def number_latex(value: sympy.Basic) -> str:
    """A value as the material writes it: integers and terminating decimals exactly, other rationals as
    fractions, irrational values to six significant digits."""
    value = sympy.sympify(value)
    if value.is_Integer:
        return str(value)
    if value.is_Rational:
        decimal = terminating_decimal(value)
        if decimal is not None:
            return decimal
        sign = "-" if value < 0 else ""
        return sign + r"\frac{" + str(abs(value.p)) + "}{" + str(value.q) + "}"
    return float_text(float(value))


def number_text(value: sympy.Basic) -> str:
    """The same number as plain text (for SVG labels, tables and messages)."""
    value = sympy.sympify(value)
    if not value.is_Rational:
        return f"{float(value):.6g}"
    if not value.is_Integer and terminating_decimal(value) is None:
        return f"{value.p}/{value.q}"
    return number_latex(value)


def terminating_decimal(value: sympy.Rational) -> str | None:
    q = int(value.q)
    twos = fives = 0
    while q % 2 == 0:
        q //= 2
        twos += 1
    while q % 5 == 0:
        q //= 5
        fives += 1
    if q != 1:
        return None
    places = max(twos, fives)
    if places > 12:
        return None
    scaled = abs(int(value.p)) * 10 ** places // int(value.q)
    digits = str(scaled).rjust(places + 1, "0")
    text = digits[:-places] + "." + digits[-places:]
    return ("-" if value < 0 else "") + text


def float_text(x: float) -> str:
    text = f"{x:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return mantissa + r" \times 10^{" + str(int(exponent)) + "}"
    return text


def product_latex(factors: list[sympy.Basic]) -> str:
    """``a · b · c`` with negative numbers (and sums) in parentheses, for chains such as ``(−4) · 2``."""
    parts = []
    for factor in factors:
        text = number_latex(factor) if sympy.sympify(factor).is_number else latex(factor)
        needs_parentheses = text.startswith("-") or (
            not sympy.sympify(factor).is_number and isinstance(factor, sympy.Add))
        if needs_parentheses and len(factors) > 1:
            text = r"\left(" + text + r"\right)"
        parts.append(text)
    return r" \cdot ".join(parts)


def chain_latex(members: list[str], relation: str = "=") -> str:
    """Join already-printed members into one chain ``a = b = c``."""
    return f" {relation} ".join(members)
