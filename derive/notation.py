"""The one place where maths becomes LaTeX: a `LatexPrinter` subclass with the project's notation.

Names are printed the way the study material writes them: ``y_`` as ``y'``, ``w1`` and ``x_1`` as ``w_{1}`` and
``x_{1}``, ``z^2_1`` as ``z^{2}_{1}``, Greek names as Greek letters, other long names upright.
"""
from __future__ import annotations

import decimal
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import sympy
from sympy.core.expr import AtomicExpr
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


class HeldGrad(Grad):
    """The local gradient ∂node/∂input with the node's other inputs ``held`` fixed, printed (∂node/∂input)_{held}:
    needed where the input also reaches the node through those inputs, so that ∂node/∂input alone would read as
    the gradient along every path."""

    def __new__(cls, output: str, node: str, held: tuple[str, ...] = ()) -> "HeldGrad":
        obj = sympy.Symbol.__new__(cls, f"(\u2202{output}/\u2202{node})_{','.join(held)}")
        obj.output, obj.node, obj.held = output, node, held
        return obj

    def __getnewargs_ex__(self):
        return (self.output, self.node, self.held), {}

    def _hashable_content(self):
        return (self.output, self.node, self.held)


def local_grad(graph, node: str, input_name: str) -> Grad:
    """∂node/∂input as a page prints a local gradient: with the node's other inputs that the input also reaches
    held fixed, (∂node/∂input)_{u, …}, where ∂node/∂input alone would read as the gradient along every path."""
    held = tuple(other for other in graph[node].inputs if other != input_name and graph.reaches(input_name, other))
    return HeldGrad(node, input_name, held) if held else Grad(node, input_name)


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
    if text in constant_latex():  # a variable e (or pi) must not read as Euler's e (or π)
        text = r"\mathit{" + base + "}"
    if primes:
        text = "{" + text + "}" + "'" * primes if ("_" in text or "^" in text) else text + "'" * primes
    return text


CONSTANTS = (sympy.E, sympy.pi)
"""The constants a walk-through can print: e (exp) and π. The walk is real-valued, so the imaginary unit never
appears (and ``i`` stays free for indices); SymPy's other special names (``I``, ``E``, ``oo``, ``S``) print here
as ordinary names, so they need no marking."""


@lru_cache(maxsize=1)
def constant_latex() -> frozenset[str]:
    """How the printer writes the constants; a variable whose name would print the same is set apart."""
    return frozenset(_PRINTER.doprint(c) for c in CONSTANTS)


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


TRANSPOSE = r"^{\mathsf{T}}"
"""The transpose sign of every document."""


def matrix_latex(rows: list[list[str]]) -> str:
    """A matrix of printed entries, in parentheses, its columns set flush right (numbers line up)."""
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return r"\left(\begin{array}{" + "r" * len(rows[0]) + "}" + body + r"\end{array}\right)"


class DerivePrinter(LatexPrinter):
    """SymPy's LaTeX printer with the project's notation: every class with a notation of its own has a
    ``_print_ClassName`` method here, found by its class name (so this module imports none of them).

    Setting ``grad_style``: ``"fraction"`` (∂f over ∂x, the default) or ``"slash"`` (∂f/∂x on one line, for
    figure labels). A SymPy function subclass is printed only by a method of its own name (SymPy's rule), so a
    subclass that prints as its parent names that method again (``_print_SoftmaxValue = _print_Softmax``)."""

    printmethod = "_derive_latex"  # networks/ and verify/ still print their own classes this way
    _default_settings = {**LatexPrinter._default_settings, "grad_style": "fraction"}

    def __init__(self, settings: dict | None = None) -> None:
        base = {"mul_symbol": "dot", "fold_short_frac": False, "order": "none"}
        base.update(settings or {})
        super().__init__(base)

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        return name_latex(expr.name)

    # SymPy's constants print themselves through ``_latex``, which the project's ``printmethod`` bypasses.
    def _print_NumberSymbol(self, expr: sympy.NumberSymbol) -> str:
        return expr._latex(self)

    _print_ImaginaryUnit = _print_Infinity = _print_NegativeInfinity = _print_ComplexInfinity = _print_NumberSymbol

    def _print_Grad(self, expr: Grad) -> str:
        return partial_latex(name_latex(expr.output), name_latex(expr.node), self._settings["grad_style"] == "slash")

    def _print_HeldGrad(self, expr: HeldGrad) -> str:
        held = ", ".join(name_latex(name) for name in expr.held)
        return r"\left(" + self._print_Grad(expr) + r"\right)_{" + held + "}"

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
        return number_latex(expr)

    def _print_HadamardProduct(self, expr) -> str:
        return r" \odot ".join(self.parenthesize(a, 50) for a in expr.args)

    def _print_Abs(self, expr: sympy.Abs, exp: str | None = None) -> str:
        # \lvert, not "|": a bar inside maths in a Markdown table would end the table cell (GFM)
        text = r"\left\lvert " + self._print(expr.args[0]) + r" \right\rvert"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Heaviside(self, expr: sympy.Heaviside, exp: str | None = None) -> str:
        text = r"\mathbf{1}\left[" + self._print(expr.args[0]) + r" > 0\right]"
        return f"{text}^{{{exp}}}" if exp else text

    def _applied(self, name: str, *args: sympy.Basic) -> str:
        """``name(a, b)`` with stretching parentheses."""
        return name + r"\left(" + ", ".join(self._print(a) for a in args) + r"\right)"

    # --- this module's display functions and numbers

    def _print_sigma(self, expr: "sigma", exp: str | None = None) -> str:
        text = self._applied(r"\sigma", expr.args[0])
        return rf"\left({text}\right)^{{{exp}}}" if exp else text  # σ(x)², not σ of (x)²

    _print_SigmaAt = _print_sigma  # vanishing-gradients: σ(0) as written

    def _print_ReLU(self, expr: "ReLU") -> str:
        return self._applied(r"\operatorname{ReLU}", expr.args[0])

    def _print_Softmax(self, expr: "Softmax") -> str:
        k, *zs = expr.args
        return self._applied(r"\operatorname{softmax}_{" + self._print(k) + "}", *zs)

    _print_SoftmaxValue = _print_Softmax  # derive.rules: the softmax that evaluates at numbers

    def _print_Shown(self, expr: "Shown") -> str:
        text = number_latex(expr.value)
        if not expr.bare and (text.startswith("-") or "^" in text):
            return r"\left(" + text + r"\right)"
        return text

    # --- derive.rules: activations and losses

    def _print_LeakyReLU(self, expr: sympy.Function) -> str:
        z, alpha = expr.args
        return self._applied(r"\operatorname{LeakyReLU}_{" + number_latex(alpha) + "}", z)

    def _print_LeakyStep(self, expr: sympy.Function) -> str:
        z, alpha = expr.args
        inner = self._print(z)
        return (r"\begin{cases} 1 & " + inner + r" > 0 \\ " + number_latex(alpha) + " & " + inner
                + r" \le 0 \end{cases}")

    def _print_Scaled(self, expr: sympy.Function) -> str:
        factor, total = expr.args
        inner = self._print(total)
        if isinstance(total, sympy.Add):
            inner = r"\left(" + inner + r"\right)"
        return ("- " if factor < 0 else "") + self._print(abs(factor)) + r" \cdot " + inner

    # --- derive.optimizers: update lines

    def _print_Assign(self, expr) -> str:
        return self._print(expr.target) + r" \leftarrow " + self._print(expr.rule)

    def _print_Defined(self, expr) -> str:
        return chain_latex([self._print(expr.target), self._print(expr.formula)])

    # --- derive.scenarios: the activations and vanishing-gradients scenarios' display functions

    def _print_Applied(self, expr: sympy.Function) -> str:
        name, z, primes = expr.args  # name: a symbol holding the LaTeX name
        return self._applied(name.name + "'" * int(primes), z)

    def _print_SigmaPrime(self, expr: sympy.Function) -> str:
        return self._applied(r"\sigma'", expr.args[0])

    def _print_ReLUPrime(self, expr: sympy.Function) -> str:
        return self._applied(r"\operatorname{ReLU}'", expr.args[0])

    def _print_BoundFunction(self, expr: sympy.Function) -> str:
        return self._applied("g", expr.args[0])

    def _print_Ordered(self, expr: sympy.Function) -> str:
        members, strict = expr.args[0::2], expr.args[1::2]
        out = [self._print(members[0])]
        for relation, member in zip(strict, members[1:]):
            out += ["<" if relation else r"\leq", self._print(member)]
        return " ".join(out)

    def _print_AtLayer(self, expr: sympy.Function) -> str:
        name, index = expr.args
        return self._print(name) + "^{" + self._print(index) + "}"

    def _print_GradAtNextLayer(self, expr: sympy.Function) -> str:
        return r"\frac{\partial C}{\partial w^{" + self._print(expr.args[0]) + "}}"
    # networks/notation.py: the display nodes of layered networks (plain dataclasses, dispatched by class name)
    def _print_Display(self, expr) -> str:
        raise TypeError(f"no printing rule for the display node {type(expr).__name__}")

    def _print_Sym(self, expr) -> str:
        text = name_latex(expr.base)
        if expr.layer is not None:
            text += "^{" + str(expr.layer) + "}"
        if expr.sub:
            text += "_{" + expr.sub + "}"
        return text

    def _print_Partial(self, expr) -> str:
        return r"\frac{\partial " + self._print(expr.of) + r"}{\partial " + self._print(expr.by) + "}"

    def _print_Nabla(self, expr) -> str:
        return r"\nabla_{" + self._print(expr.by) + "} " + self._print(expr.of)

    def _print_Num(self, expr) -> str:
        text = number_latex(expr.value)
        return r"\left(" + text + r"\right)" if text.startswith("-") else text

    # One bracket style and one transpose sign for every matrix: the network's NumMatrix and SymPy's matrices
    # (delta-recurrence, softmax-cross-entropy) alike.
    def _print_NumMatrix(self, expr) -> str:
        return matrix_latex([[number_latex(v) for v in row] for row in expr.rows])

    def _print_MatrixBase(self, expr: sympy.MatrixBase) -> str:
        return matrix_latex([[self._print(expr[i, j]) for j in range(expr.cols)] for i in range(expr.rows)])

    def _print_Ones(self, expr) -> str:
        return r"\mathbf{1}_{" + str(expr.n) + "}" + (TRANSPOSE if expr.row else "")

    def _print_Shaped(self, expr) -> str:
        return r"\underbrace{" + self._print(expr.item) + r"}_{" + f"{expr.rows} \\times {expr.cols}" + "}"

    def _print_Transposed(self, expr) -> str:
        return r"\left(" + self._print(expr.item) + r"\right)" + TRANSPOSE

    def _print_Transpose(self, expr: sympy.Transpose) -> str:
        inner = self._print(expr.arg)
        bare = isinstance(expr.arg, sympy.MatrixBase) or (expr.arg.is_symbol and "^" not in inner)  # no (( )), no (W)
        return (inner if bare else r"\left(" + inner + r"\right)") + TRANSPOSE

    def _print_MatrixProduct(self, expr) -> str:
        return self._print(expr.left) + r" \, " + self._print(expr.right)

    def _print_Hadamard(self, expr) -> str:
        # sums and matrix products as operands of ⊙ in parentheses: ((W)ᵀ δ) ⊙ σ'(z)
        return (self._grouped(expr.left, ("sum", "product")) + r" \odot "
                + self._grouped(expr.right, ("sum", "product")))

    def _print_Plus(self, expr) -> str:
        return " + ".join(self._print(t) for t in expr.terms)

    def _print_Minus(self, expr) -> str:
        return self._print(expr.left) + " - " + self._grouped(expr.right, ("sum",))

    def _print_Times(self, expr) -> str:
        return r" \cdot ".join(self._grouped(f, ("sum",)) for f in expr.factors)

    def _print_Frac(self, expr) -> str:
        return r"\frac{" + self._print(expr.num) + "}{" + self._print(expr.den) + "}"

    def _print_Paren(self, expr) -> str:
        return r"\left(" + self._print(expr.item) + r"\right)"

    def _print_Squared(self, expr) -> str:
        return r"\left(" + self._print(expr.item) + r"\right)^{2}"

    def _print_Neg(self, expr) -> str:
        return "-" + self._grouped(expr.item, ("sum",))

    def _print_SumOver(self, expr) -> str:
        return r"\sum_{" + expr.index + "=1}^{" + str(expr.upper) + "} " + self._grouped(expr.body, ("sum",))

    def _print_Apply(self, expr) -> str:
        name = {"sigma": r"\sigma", "softmax": r"\operatorname{softmax}", "log": r"\log", "exp": r"\exp",
                "tanh": r"\tanh", "max": r"\max"}[expr.fn]
        return name + ("'" if expr.prime else "") + r"\left(" + self._print(expr.arg) + r"\right)"

    def _print_Arguments(self, expr) -> str:
        return ", ".join(self._print(item) for item in expr.items)

    def _print_Cases(self, expr) -> str:
        rows = [self._print(value) + " & " + self._print(cond) for value, cond in expr.branches]
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"

    def _print_Relation(self, expr) -> str:
        return self._print(expr.left) + " " + expr.op + " " + self._print(expr.right)

    def _grouped(self, item, bindings: tuple[str, ...]) -> str:
        """A display node in parentheses when it binds looser than where it stands (its ``binding``)."""
        text = self._print(item)
        return r"\left(" + text + r"\right)" if getattr(item, "binding", "") in bindings else text


    # verify/model.py: the document's symbols and the members as written, dispatched by class name
    def _print_VName(self, expr) -> str:
        base, decor, primes, layer, subs = expr.parts
        text = symbol_base_latex(base) if decor != "mathit" else base
        if decor:
            text = "\\" + decor + "{" + text + "}"
        text += "'" * primes
        if layer is not None:
            if primes:
                text = "{" + text + "}"
            text += "^{" + str(layer) + "}"
        if subs:
            parts = [str(s) for s in subs]
            joined = "".join(parts) if all(len(p) == 1 for p in parts) else ",".join(parts)
            text += "_{" + joined + "}"
        return text

    def _print_PartialSym(self, expr) -> str:
        d = r"\partial " if expr.dkind == "partial" else "d "
        return r"\frac{" + d + self._print(expr.num) + "}{" + d + self._print(expr.den) + "}"

    def _print_DProd(self, expr) -> str:
        return self._print_DSum(expr, r"\prod")

    def _print_DSum(self, expr, head: str = r"\sum") -> str:
        body, index, lo, hi = expr.args
        if index is not sympy.S.NaN:  # NaN: a part the document does not write
            head += "_{" + self._print(index) + ("=" + self._print(lo) if lo is not sympy.S.NaN else "") + "}"
            if hi is not sympy.S.NaN:
                head += "^{" + self._print(hi) + "}"
        inner = self._print(body)
        if isinstance(body, sympy.Add) or (isinstance(body, sympy.Mul) and body.could_extract_minus_sign()):
            inner = r"\left(" + inner + r"\right)"
        return head + " " + inner

    def _print_DDerivOf(self, expr) -> str:
        body, den, kind = expr.args
        d = r"\partial" if kind == 1 else "d"
        inner = self._print(body)
        if isinstance(body, (sympy.Add, sympy.Mul)) or type(body).__name__ == "DSum":
            inner = r"\left(" + inner + r"\right)"
        return r"\frac{" + d + "}{" + d + " " + self._print(den) + "} " + inner

    def _print_DFunc(self, expr) -> str:
        arg, code = expr.args
        if int(code) == 3:
            return r"\mathbf{1}\left[" + self._print(arg) + r" > 0\right]"
        if int(code) == 4:
            return r"\lVert " + self._print(arg) + r" \rVert^{2}"
        name = {0: r"\sigma", 1: r"\sigma'", 2: r"\operatorname{ReLU}"}[int(code)]
        return name + r"\left(" + self._print(arg) + r"\right)"

    def _print_DTranspose(self, expr) -> str:
        arg = expr.args[0]
        inner = self._print(arg)
        inner = "{" + inner + "}" if type(arg).__name__ == "VName" else r"\left(" + inner + r"\right)"
        return inner + r"^{\top}"

    def _print_DHadamard(self, expr) -> str:
        parts = []
        for arg in expr.args:
            text = self._print(arg)
            if isinstance(arg, (sympy.Add, sympy.Mul)) or type(arg).__name__ in ("DHadamard", "DSum"):
                text = r"\left(" + text + r"\right)"
            parts.append(text)
        return r" \odot ".join(parts)

    def _print_DParen(self, expr) -> str:
        return r"\left(" + self._print(expr.args[0]) + r"\right)"

    def _print_Sigmoid(self, expr, exp: str | None = None) -> str:
        text = r"\sigma\left(" + self._print(expr.args[0]) + r"\right)"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Relu(self, expr, exp: str | None = None) -> str:
        text = r"\operatorname{ReLU}\left(" + self._print(expr.args[0]) + r"\right)"
        return f"{text}^{{{exp}}}" if exp else text


def symbol_base_latex(base: str) -> str:
    r"""A symbol's letter or name as verify's documents write it: Greek names as macros (``delta`` → ``\delta``),
    one letter as itself, a word upright."""
    greek = translate(base)
    if greek != base or len(base) == 1:
        return greek
    return name_latex(base)


_PRINTER = DerivePrinter()


def latex(expr: sympy.Basic | int) -> str:
    """LaTeX for a SymPy expression in the project's notation."""
    return _PRINTER.doprint(sympy.sympify(expr) if isinstance(expr, (int, float)) else expr)


_LABEL_PRINTER = DerivePrinter({"fold_short_frac": True, "grad_style": "slash"})


def label_latex(expr: sympy.Basic) -> str:
    """LaTeX for a figure's label: the project's notation with ∂f/∂x and short fractions on one line, so that
    labels stay short."""
    return _LABEL_PRINTER.doprint(expr)


@lru_cache(maxsize=1 << 14)
def formula_latex(expr: sympy.Basic) -> str:
    """`latex` of an expression that holds no value of the point (a definition, a gradient written with symbols,
    an update rule): printed once, however many descent steps show it."""
    return latex(expr)


class sigma(sympy.Function):
    """σ(x), the logistic sigmoid, kept as a name for display."""


class ReLU(sympy.Function):
    """ReLU(x), kept as a name for display."""


class Softmax(sympy.Function):
    """softmax_k(z_1, …, z_K); the first argument is k (1-based)."""


class Ordered(sympy.Function):
    """A chain of bounds ``a < b \\leq c``: members and, between each two, 1 for ``<`` or 0 for ``\\leq``."""

    @classmethod
    def of(cls, members: list[sympy.Basic], strict: list[bool]) -> "Ordered":
        args: list[sympy.Basic] = [members[0]]
        for relation, member in zip(strict, members[1:]):
            args += [sympy.Integer(int(relation)), member]
        return cls(*args)


# --- numbers -------------------------------------------------------------------------------------------------
# One rule for every number the project prints (documents, tables, figures, messages): an integer or a terminating
# decimal is printed as its exact value; any other number is its exact value rounded half-even to six significant
# digits, trailing zeros dropped. "Terminating" is bounded so that a page never prints a 40-digit decimal: at most
# MAX_EXACT_DIGITS significant digits; longer ones are rounded like any other number.

SIGNIFICANT_DIGITS = 6
MAX_EXACT_DIGITS = 12
MAX_PLACES = 12  # an exact decimal with more places (or an integer with more digits) is written with a power of ten
MIN_POSITIONAL_EXPONENT = -4  # a number below 10⁻⁴ (0.0001) is written with a power of ten, exact or not: ε = 10⁻¹⁰,
# not 0.0000000001, whose zeros a reader must count


@dataclass(frozen=True)
class Digits:
    """A number as printed: ``-`` sign, significant ``digits`` (no leading or trailing zeros), the power of ten of
    the first digit, and whether it is the exact value."""

    negative: bool
    digits: str
    exponent: int
    exact: bool


def number_digits(value: "sympy.Basic | int | float | Fraction") -> Digits:
    """The printed digits of a value, by the one rule above (the exact value, or rounded half-even to six)."""
    fraction = _fraction(value)
    if fraction == 0:
        return Digits(False, "0", 0, True)
    negative, magnitude = fraction < 0, abs(fraction)
    exponent = _leading_exponent(magnitude)
    exact = _exact_digits(magnitude, exponent)
    if exact is not None:
        return Digits(negative, exact, exponent, True)
    scaled = round(magnitude * Fraction(10) ** (SIGNIFICANT_DIGITS - 1 - exponent))  # round() on Fraction: half-even
    if scaled == 10 ** SIGNIFICANT_DIGITS:
        scaled, exponent = 10 ** (SIGNIFICANT_DIGITS - 1), exponent + 1
    return Digits(negative, str(scaled).rstrip("0"), exponent, False)


def number_text(value: "sympy.Basic | int | float | Fraction") -> str:
    """A value as plain text (``-4``, ``0.72``, ``0.333333``, ``1.5e-05``): for SVG labels, program listings and
    messages."""
    d = number_digits(value)
    sign = "-" if d.negative else ""
    if _positional(d):
        return sign + _positional_text(d)
    mantissa = d.digits[0] + ("." + d.digits[1:] if len(d.digits) > 1 else "")
    return f"{sign}{mantissa}e{'-' if d.exponent < 0 else '+'}{abs(d.exponent):02d}"


def number_latex(value: "sympy.Basic | int | float | Fraction") -> str:
    """The same number in LaTeX (``1.5 \\times 10^{-5}`` for ``1.5e-05``)."""
    return text_latex(number_text(value))


def exact_latex(value: sympy.Expr) -> str:
    """A value as an exact binding for `derive verify`: a terminating decimal as derive prints it, any other
    rational as a fraction, a float (or a fraction too long to read) to 20 significant digits, anything else in the
    notation (√2, e^{-1}); never rounded to what a page prints."""
    if value.is_Rational and number_digits(value).exact:
        return number_latex(value)
    if value.is_Float or value.is_Rational and max(len(str(abs(value.p))), len(str(value.q))) > 25:
        return _twenty_digits(value)
    if value.is_Rational:
        fraction = r"\frac{" + str(abs(value.p)) + "}{" + str(value.q) + "}"
        return "-" + fraction if value < 0 else fraction
    return latex(value)


def _twenty_digits(value: sympy.Expr) -> str:
    """20 significant digits: positional from 10⁻⁴ to 10¹⁰, else with a power of ten (a reader of a binding does
    not count 300 zeros)."""
    number = decimal.Decimal(str(value.evalf(20)))
    exponent = number.adjusted()
    if MIN_POSITIONAL_EXPONENT <= exponent <= 10:
        return format(number, "f")
    mantissa = format(number.scaleb(-exponent), "f")
    return mantissa + r" \times 10^{" + str(exponent) + "}"


def text_latex(text: str) -> str:
    """`number_text`'s output in maths-mode LaTeX."""
    match = re.fullmatch(r"(-?[\d.]+)e([+-])(\d+)", text)
    if not match:
        return text
    mantissa, sign, exponent = match.groups()
    power = r"10^{" + ("-" if sign == "-" else "") + str(int(exponent)) + "}"
    if mantissa in ("1", "-1"):  # 10^{-10}, not 1 \times 10^{-10}
        return mantissa[:-1] + power
    return mantissa + r" \times " + power


def _fraction(value) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, float)):
        return Fraction(value)
    value = sympy.sympify(value)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    if not value.is_Float:
        value = value.evalf(30)
    if not value.is_Float:
        raise TypeError(f"not a real number: {value}")
    exact = sympy.Rational(value)  # the float's exact binary value
    return Fraction(int(exact.p), int(exact.q))


def _leading_exponent(magnitude: Fraction) -> int:
    """The power of ten of the first significant digit of a positive number (in integers: Fraction arithmetic
    costs start-up time on every page)."""
    p, q = magnitude.numerator, magnitude.denominator
    exponent = len(str(p)) - len(str(q))
    while not _at_least_power_of_ten(p, q, exponent):
        exponent -= 1
    while _at_least_power_of_ten(p, q, exponent + 1):
        exponent += 1
    return exponent


def _at_least_power_of_ten(p: int, q: int, exponent: int) -> bool:
    """p/q ≥ 10^exponent, for positive p and q."""
    return p >= q * 10 ** exponent if exponent >= 0 else p * 10 ** -exponent >= q


def _exact_digits(magnitude: Fraction, exponent: int) -> str | None:
    """The significant digits of a terminating decimal with at most MAX_EXACT_DIGITS of them, else None."""
    shift = MAX_EXACT_DIGITS - 1 - exponent
    p, q = magnitude.numerator, magnitude.denominator
    if shift >= 0:
        p *= 10 ** shift
    else:
        q *= 10 ** -shift
    if p % q:
        return None
    return str(p // q).rstrip("0")


def _positional(d: Digits) -> bool:
    if d.exponent < MIN_POSITIONAL_EXPONENT:
        return False
    if d.exact:
        places = max(len(d.digits) - 1 - d.exponent, 0)
        return places <= MAX_PLACES and d.exponent < MAX_PLACES
    return d.exponent < SIGNIFICANT_DIGITS


def _positional_text(d: Digits) -> str:
    if d.exponent < 0:
        return "0." + "0" * (-d.exponent - 1) + d.digits
    whole = d.digits[:d.exponent + 1].ljust(d.exponent + 1, "0")
    rest = d.digits[d.exponent + 1:]
    return whole + ("." + rest if rest else "")


def terminating_decimal(value: sympy.Rational) -> str | None:
    """The exact decimal text of a rational, when the one rule prints it exactly; else None."""
    return number_text(value) if number_digits(value).exact else None


class Shown(AtomicExpr):
    """A number put into a formula or a matrix for display, kept as an atom so that the formula is neither evaluated
    nor reordered, and printed by the one rule (its ``value`` stays exact: never compute with the printed text).
    In parentheses (``(−4)``, ``(1.5 × 10^{-5})``) when it is negative or written with a power of ten, unless
    ``bare`` (a number alone in a table cell, a matrix entry or a pair)."""

    is_commutative = True
    is_number = False  # a placeholder: printed by the notation printer, never evaluated as a value

    def __new__(cls, value: sympy.Expr, bare: bool = False) -> "Shown":
        obj = AtomicExpr.__new__(cls)
        obj.value = sympy.sympify(value)
        obj.bare = bare
        return obj

    def __getnewargs__(self):
        return (self.value, self.bare)

    def _hashable_content(self):
        return (self.value, self.bare)

    def __float__(self) -> float:
        return float(self.value)


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


def sum_latex(terms: "list[sympy.Expr] | tuple[sympy.Expr, ...]") -> str:
    """``t₁ + t₂ − t₃`` with the terms in exactly the given order (even a negative one first), so that a list of
    their values printed beside it reads term by term."""
    if len(terms) == 1:
        return latex(terms[0])
    return LatexPrinter._print_Add(_PRINTER, sympy.Add(*terms, evaluate=False), order="none")


def partial_latex(of: str, by: str, slash: bool = False) -> str:
    """∂of/∂by from the LaTeX of both, as a fraction or (``slash``) inline."""
    if slash:
        return r"\partial " + of + r"/\partial " + by
    return r"\frac{\partial " + of + r"}{\partial " + by + "}"


def chain_latex(members: list[str], relation: str = "=") -> str:
    """Join already-printed members into one chain ``a = b = c``."""
    return f" {relation} ".join(members)


def distinct_chain_latex(members: list[str], relation: str = "=") -> str:
    """`chain_latex` without a member equal to the one before it (``x = x`` says nothing)."""
    kept: list[str] = []
    for member in members:
        if not kept or kept[-1] != member:
            kept.append(member)
    return chain_latex(kept, relation)


def assignment_latex(target: str, rule: sympy.Basic) -> str:
    """``target ← rule``: an update, ``target`` already printed, ``rule`` printed once (`formula_latex`)."""
    return target + r" \leftarrow " + formula_latex(rule)


def descent_numbers_latex(old: sympy.Basic, rate: sympy.Basic, gradient: sympy.Basic) -> str:
    """``old − η · g`` with the numbers of one gradient-descent step put in (``(−4)`` in parentheses)."""
    return number_latex(old) + " - " + product_latex([rate, gradient])


def values_sum_latex(values: "list[sympy.Basic] | tuple[sympy.Basic, ...]") -> str:
    """``v₁ + (−v₂) + …``: the values of a sum's terms in order, a negative one in parentheses."""
    texts = [number_latex(v) for v in values]
    return " + ".join(r"\left(" + t + r"\right)" if t.startswith("-") else t for t in texts)


def terms_and_values_latex(pairs: "list[tuple[sympy.Expr, sympy.Basic]]") -> tuple[str, str]:
    """A sum ``t₁ + t₂ − t₃`` and its numbers ``v₁ + (−v₂) + v₃``, both printed from one list of (term, value)
    pairs in its order: the k-th number printed is the k-th printed term's value."""
    return sum_latex([term for term, _ in pairs]), values_sum_latex([value for _, value in pairs])


def aligned_latex(chains: list[str]) -> str:
    """Chains ``a = b = c`` as one displayed ``aligned`` block, each aligned at its first ``=``."""
    rows = [chain.replace(" = ", " &= ", 1) for chain in chains]
    return "$$\\begin{aligned}\n" + " \\\\[2pt]\n".join(rows) + "\n\\end{aligned}$$"
