"""From syntax trees to SymPy: what a document's maths means, and derivatives resolved against its definitions.

Two conversions of the same tree:

- `display` builds SymPy with ``evaluate=False`` for printing: the report shows each member as derive read it
  (layer indices, primes, hats and Σ as written), through `derive.notation.latex`.
- `Model.conc` builds the *checking* form: indices bound to numbers (``w^{l}_{ji}`` with l = 2, j = 1, i = 2 is
  the symbol ``w^{2}_{12}``), sums with an index expanded over a small range, a Σ without an index (or whose
  index the summand never uses) read per sample (its summand), derivatives left as opaque `PartialSym` atoms
  until `Model.full` resolves them against the definitions. Nothing here calls ``.doit()`` on a derivative of two
  free symbols: ∂N/∂V is computed by unrolling N's definitions down to the leaves *stopping at V* and
  differentiating with respect to V.
"""
from __future__ import annotations

import functools
import itertools
import operator
from dataclasses import dataclass
from fractions import Fraction

import sympy
from sympy.core.function import AppliedUndef
from sympy.printing.precedence import PRECEDENCE

from ..notation import latex, symbol_base_latex
from .syntax import (GREEK, ITALIC, Add, Const, Deriv, DerivOf, Div, Func, Matrix, Mul, Neg, Node, Num, Pow, Sum,
                     Sym, Transpose, Word, children, quote, symbols_in, walk)  # noqa: F401

DEFAULT_SIZE = 2
"""Range of an index with no stated bound and no layer to infer it from."""

DEFAULT_LAYERS = 3
"""L when the document neither sets it nor numbers its layers (input layer 1, two weight layers)."""

MAX_RANGE = 100
MAX_TERMS = 20000
MAX_INSTANCES = 64
MAX_PATHS = 512

PARAMETER_BASES = frozenset({"w", "W", "b", "z", "delta", "Delta"})


def layer_size(layer: int) -> int:
    """Units per layer when the document does not say: 2, 3, 2, 3, … (layer 1 has 2), so that a transposed
    weight matrix has the wrong shape and a swapped index names another weight."""
    return 3 if layer % 2 == 0 else 2


def units_per_layer(names, shift: int = 0, sampled: frozenset[tuple] = frozenset()) -> dict[int, int]:
    """Units per layer as the document's values give them: the largest unit index of a^{l}_{j}, z^{l}_{j}, b^{l}_{j}
    (layer l), of a^{l}_{j,n} for a letter in ``sampled`` (its second index is the sample, `sample_letters`) and the
    rows and columns of w^{l}_{ji} (layers l + shift and l + shift − 1, `weight_shift`); a layer they do not reach is
    absent."""
    sizes: dict[int, int] = {}
    for name in names:
        if not isinstance(name, VName) or not isinstance(name.layer, int) or not name.subs \
                or not all(isinstance(s, int) for s in name.subs):
            continue
        if name.base in ("w", "W") and len(name.subs) == 2:
            for layer, unit in ((name.layer + shift, name.subs[0]), (name.layer + shift - 1, name.subs[1])):
                sizes[layer] = max(sizes.get(layer, 0), unit)
        elif len(name.subs) == 1 or (len(name.subs) == 2 and name.parts[:3] in sampled):
            sizes[name.layer] = max(sizes.get(name.layer, 0), name.subs[0])
    return sizes


class ModelProblem(Exception):
    """The maths can be parsed but not given a meaning (an undefined layer, a self-referring definition…);
    ``line`` is the line of the definition at fault, when it is one."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class TooLarge(Exception):
    """Expanding the sums would exceed the limits: the claim is undecided (exit 4), never passed."""


# --- symbols ---------------------------------------------------------------------------------------------------

def _plain_int(value):
    """Indices are Python ints or strings: SymPy integers (from Matrix constructors) and digit strings (from the
    display) become ints, so that one name has one set of parts (SymPy caches symbols by name)."""
    if isinstance(value, sympy.Integer) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return value


class VName(sympy.Symbol):
    """A symbol of the document: ``(base, decoration, primes, layer, indices)``, printed as the material writes
    it (``w^{l}_{ji}``, ``\\hat{y}``, ``y'``). Layer and indices are strings (LaTeX) or numbers once bound."""

    def __new__(cls, base: str, decor: str | None = None, primes: int = 0, layer: object = None,
                subs: tuple = ()) -> "VName":
        subs = tuple(_plain_int(s) for s in subs)
        layer = _plain_int(layer)
        key = f"{decor or ''}:{base}:{primes}:{'' if layer is None else layer}:{','.join(map(str, subs))}"
        obj = super().__new__(cls, key)
        obj.parts = (base, decor, primes, layer, subs)
        return obj

    def __getnewargs_ex__(self):
        return self.parts, {}

    @property
    def base(self) -> str:
        return self.parts[0]

    @property
    def layer(self):
        return self.parts[3]

    @property
    def subs(self) -> tuple:
        return self.parts[4]

    def with_subs(self, subs: tuple) -> "VName":
        base, decor, primes, layer, _ = self.parts
        return VName(base, decor, primes, layer, subs)

    def plain(self) -> str:
        """A short plain-text name for messages and JSON keys (the same LaTeX)."""
        return latex(self)


class PartialSym(sympy.Symbol):
    """∂num/∂den as an opaque atom (kind "partial" or "d")."""

    def __new__(cls, kind: str, num: VName, den: VName) -> "PartialSym":
        obj = super().__new__(cls, f"{kind}|{num.name}|{den.name}")
        obj.dkind, obj.num, obj.den = kind, num, den
        return obj

    def __getnewargs_ex__(self):
        return (self.dkind, self.num, self.den), {}


def opaque_functions(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every value and slope of a function the document only names (f(z), f'(z) at z = x − y) as a
    free symbol: numbers like any other at a test point, the same object always the same symbol."""
    found = [a for a in expr.atoms(sympy.Subs, sympy.Derivative) if a.has(AppliedUndef)]
    found += list(expr.atoms(AppliedUndef))  # xreplace meets a slope before the values inside it
    if not found:
        return expr
    return expr.xreplace({a: Opaque("f" + "'" * len(a.atoms(sympy.Derivative)), None, 0, None, (str(a),))
                          for a in found})


class Opaque(VName):
    """A value or slope of a function the document only names, as a symbol (`opaque_functions`)."""


def opaque_symbols(*exprs) -> frozenset:
    return frozenset(s for e in exprs for x in entries(e) for s in x.free_symbols if isinstance(s, Opaque))


# --- display-only expressions ----------------------------------------------------------------------------------

ABSENT = sympy.S.NaN
"""A part of a Σ the document does not write (not 0: Σ_{j=0} writes its lower limit)."""


class DSum(sympy.Expr):
    """Σ as written: ``args = (body, index, lo, hi)`` with `ABSENT` standing for an absent part."""

    precedence = PRECEDENCE["Mul"]


class DProd(DSum):
    """∏ as written: ``args = (body, index, lo, hi)``."""


class DDerivOf(sympy.Expr):
    """``∂/∂x (body)``: ``args = (body, den, kind)`` with kind 1 for ∂ and 0 for d."""

    precedence = PRECEDENCE["Mul"]


class DFunc(sympy.Expr):
    """σ, σ', ReLU, the unit step, the squared norm as written: ``args = (argument, code)`` (0 σ, 1 σ', 2 ReLU,
    3 step, 4 ‖·‖²)."""


class DTranspose(sympy.Expr):
    """``x^{\\top}`` as written."""


class DHadamard(sympy.Expr):
    """``a \\odot b`` as written."""

    precedence = PRECEDENCE["Mul"]


class DParen(sympy.Expr):
    """Parentheses the reader wrote and the meaning needs: a Σ followed by more factors."""


def _index_latex(node: Node) -> str:
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Word):
        return r"\mathrm{" + node.text + "}"
    if isinstance(node, Sym):
        return symbol_base_latex(node.base)
    if isinstance(node, Add):
        text = ""
        for sign, term in node.terms:
            part = _index_latex(term)
            text += part if not text else (" + " if sign > 0 else " - ") + part
        return text
    return "?"


def display_name(sym: Sym) -> VName:
    layer = None if sym.layer is None else _index_latex(sym.layer)
    return VName(sym.base, sym.decor, sym.primes, layer, tuple(_index_latex(s) for s in sym.subs))


def _number_display(num: Num):
    if num.value.denominator == 1:
        return sympy.Integer(num.value.numerator)
    return sympy.Float(num.text, max(15, len(num.text)))


def _ones_display(size: sympy.Basic) -> sympy.Basic:
    """``\\mathbf{1}_{N}`` for the report: the column of ones when its size is a number (so that b 1ᵀ beside a
    matrix has a shape), else the name."""
    if isinstance(size, sympy.Integer) and 0 < size <= MAX_RANGE:
        return sympy.ImmutableMatrix.ones(int(size), 1)
    return sympy.Function("1")(size)


def display(node: Node) -> sympy.Basic:
    """SymPy for printing, built with ``evaluate=False`` so that the member keeps the shape it was written in."""
    if isinstance(node, Num):
        return _number_display(node)
    if isinstance(node, Const):
        return sympy.pi if node.name == "pi" else sympy.E
    if isinstance(node, Sym):
        if node.base == "pi" and node.decor is None and not node.subs and node.layer is None:
            return sympy.pi
        return display_name(node)
    if isinstance(node, Add):
        terms = []
        for sign, term in node.terms:
            shown = display(term)
            terms.append(shown if sign > 0 else sympy.Mul(sympy.S.NegativeOne, shown, evaluate=False))
        return sympy.Add(*terms, evaluate=False)
    if isinstance(node, Mul):
        factors = [display(f) for f in node.factors]
        if node.hadamard:
            return DHadamard(*factors)
        factors = [DParen(shown) if isinstance(f, (Sum, DerivOf)) and k < len(factors) - 1 else shown
                   for k, (f, shown) in enumerate(zip(node.factors, factors))]
        return sympy.Mul(*factors, evaluate=False)
    if isinstance(node, Div):
        if isinstance(node.num, Num) and isinstance(node.den, Num) and node.den.value != 0 \
                and node.num.value.denominator == 1 and node.den.value.denominator == 1:
            return sympy.Rational(node.num.value.numerator, node.den.value.numerator)
        return sympy.Mul(display(node.num), sympy.Pow(display(node.den), -1, evaluate=False), evaluate=False)
    if isinstance(node, Neg):
        return sympy.Mul(sympy.S.NegativeOne, display(node.arg), evaluate=False)
    if isinstance(node, Pow):
        return sympy.Pow(display(node.base), display(node.exp), evaluate=False)
    if isinstance(node, Transpose):
        shown = display(node.arg)
        return shown.T if is_matrix(shown) and isinstance(node.arg, Func) else DTranspose(shown)
    if isinstance(node, Matrix):
        return sympy.ImmutableMatrix([[display(e) for e in row] for row in node.rows])
    if isinstance(node, Func):
        arg = display(node.arg)
        if node.name == "sigma":
            return DFunc(arg, sympy.Integer(0))
        if node.name == "dsigma":
            return DFunc(arg, sympy.Integer(1))
        if node.name == "relu":
            return DFunc(arg, sympy.Integer(2))
        if node.name == "step":
            return DFunc(arg, sympy.Integer(3))
        if node.name == "sqrt":
            return sympy.Pow(arg, sympy.Rational(1, 2), evaluate=False)
        if node.name == "normsq":
            return DFunc(arg, sympy.Integer(4))
        if node.name == "ones":
            return _ones_display(arg)
        if node.name.startswith("applied:"):
            _, letter, primes = node.name.split(":")
            return sympy.Function(letter + "'" * int(primes))(arg)
        if node.name == "ident" or ":" in node.name:
            return sympy.Function(function_label(node.name))(arg)
        if node.name == "abs":
            return sympy.Abs(arg, evaluate=False)
        if node.name == "softmax":
            return sympy.Function("softmax")(arg)
        return getattr(sympy, node.name)(arg, evaluate=False)
    if isinstance(node, Sum):
        absent = ABSENT
        index = sympy.Symbol(node.index) if node.index else absent
        lo = display(node.lo) if node.lo is not None else absent
        hi = display(node.hi) if node.hi is not None else absent
        return (DProd if node.product else DSum)(display(node.body), index, lo, hi)
    if isinstance(node, Deriv):
        return PartialSym(node.kind, display_name(node.num), display_name(node.den))
    if isinstance(node, DerivOf):
        return DDerivOf(display(node.body), display_name(node.den), sympy.Integer(1 if node.kind == "partial" else 0))
    raise TypeError(f"cannot display {node!r}")


# --- checking functions ----------------------------------------------------------------------------------------

class Sigmoid(sympy.Function):
    """σ(x) = 1/(1 + e^{−x}) as one function, with the textbook rule σ' = σ(1 − σ) as its derivative."""

    def fdiff(self, argindex: int = 1):
        s = Sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_evalf(self, prec):
        # the argument first, as a number: built from the expression, e^{−x} would ask x's sign, evaluating a nest
        # of sigmoids again at every level (seconds for a 9-layer chain)
        x = self.args[0]._evalf(prec)
        if not x.is_Number:
            return None
        return (1 / (1 + sympy.exp(-x)))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class Relu(sympy.Function):
    """max(0, x), with relu'(0) = 0 as PyTorch has it."""

    @classmethod
    def eval(cls, x):
        """At a rational number, the number itself or 0 (exact): a chain of ReLUs at a point is then a rational
        computed bottom up, not a nest of Max that every sign test evaluates again from the leaves."""
        if x.is_Rational:
            return x if x > 0 else sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1):
        return sympy.Heaviside(self.args[0], 0)

    def _eval_evalf(self, prec):
        x = self.args[0]._evalf(prec)  # as for `Sigmoid`: the argument's number first
        if not x.is_Number:
            return None
        return sympy.Max(0, x)._eval_evalf(prec)


def unit_step(u: sympy.Expr) -> sympy.Expr:
    """The indicator 1[u > 0]: ReLU's derivative, 0 at the kink as PyTorch has it."""
    return sympy.Heaviside(u, 0)


def named_function(name: str):
    """The function a `Func` node names: ``sigma``, ``relu``, ``tanh``, ``ident`` (the identity), ``leaky:α``
    (Leaky ReLU with slope α), or ``prime:NAME:n``, the n-th derivative of NAME (``\\tanh'(z)``,
    ``\\operatorname{ReLU}'(z)``, 0 at the kink as PyTorch has it), computed by `sympy.diff`, never assumed."""
    if name.startswith("prime:"):
        base, primes = name[len("prime:"):].rsplit(":", 1)
        function = named_function(base)

        def derivative(u: sympy.Expr) -> sympy.Expr:
            x = sympy.Dummy("x", real=True)
            return sympy.diff(function(x), x, int(primes)).subs(x, u)
        return derivative
    if name.startswith("leaky:"):
        slope = sympy.Rational(name[len("leaky:"):])
        return lambda u: slope * u + (1 - slope) * Relu(u)
    return {"sigma": Sigmoid, "dsigma": sigma_prime, "relu": Relu, "step": unit_step, "sqrt": sympy.sqrt,
            "log": sympy.log, "exp": sympy.exp, "tanh": sympy.tanh, "sin": sympy.sin, "cos": sympy.cos,
            "ident": lambda u: u, "abs": sympy.Abs}[name]


def function_label(name: str) -> str:
    """How a report names a function the reader knows by a coded name (``prime:leaky:0.1:1``: LeakyReLU_0.1')."""
    if name.startswith("prime:"):
        base, primes = name[len("prime:"):].rsplit(":", 1)
        return function_label(base) + "'" * int(primes)
    if name.startswith("leaky:"):
        return "LeakyReLU_" + name[len("leaky:"):]
    return {"ident": "id", "relu": "ReLU"}.get(name, name)


def softmax_vector(v) -> sympy.Matrix:
    """softmax(v) of a column v: the column of e^{v_k} / Σ_i e^{v_i} (of each column, for a matrix of columns)."""
    if not is_matrix(v):
        raise ModelProblem("softmax applies to a vector (a layer such as z^{L}), not to a number")
    exps = v.applyfunc(sympy.exp)
    return sympy.Matrix(v.rows, v.cols, lambda k, n: exps[k, n] / sum(exps[i, n] for i in range(v.rows)))


def sigma_prime(u: sympy.Expr) -> sympy.Expr:
    """σ'(u) as written by a user: the derivative of 1/(1 + e^{−t}) at u, computed from the exponential form, so
    that a claim σ'(z) = σ(z)(1 − σ(z)) is checked rather than assumed."""
    return sympy.exp(-u) / (1 + sympy.exp(-u)) ** 2


# --- definitions -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Definition:
    line: int
    lhs: Sym
    rhs: Node
    text: str


def is_index_letter(node: Node) -> bool:
    return (isinstance(node, Sym) and len(node.base) == 1 and node.base.islower() and not node.subs
            and node.layer is None and node.decor is None and not node.primes)


def pattern_parts(sym: Sym) -> tuple:
    """A definition's left side as a pattern: literal parts and index letters (which bind)."""
    def part(node: Node | None, layer: bool):
        if node is None:
            return None
        if isinstance(node, Num):
            return int(node.value)
        if isinstance(node, Word):
            return node.text
        if isinstance(node, Sym) and node.base == "L" and layer:
            return ("L",)
        if is_index_letter(node):
            return ("?", node.base)
        if isinstance(node, Sym) and not node.subs and node.layer is None:
            return node.base
        raise ModelProblem("the left side of a definition may carry only numbers and index letters "
                           "(such as z^{l}_{j} or w^{2}_{12}), not expressions such as l+1")
    return (sym.base, sym.decor, sym.primes, part(sym.layer, True), tuple(part(s, False) for s in sym.subs))


def _unify_part(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return True
    return a == b


def patterns_unify(p: tuple, q: tuple, first: int | None = None) -> bool:
    """Whether two left sides can name the same symbol; with ``first`` (the first layer with weights), the layer
    letter l and the output layer L stand only for layers from ``first`` on (a^{l}_{j} = σ(z^{l}_{j}) and a^{L}_{k} =
    softmax do not name the input a^{1}_{j})."""
    if p[:3] != q[:3] or (p[3] is None) != (q[3] is None) or len(p[4]) != len(q[4]):
        return False
    if p[3] is not None and not _unify_part(p[3], q[3]):
        return False
    if first is not None and any(a in (("?", "l"), ("L",)) and isinstance(b, int) and b < first
                                 for a, b in ((p[3], q[3]), (q[3], p[3]))):
        return False
    return all(_unify_part(a, b) for a, b in zip(p[4], q[4]))


def is_output_layer(pattern: tuple) -> bool:
    """Whether a definition's left side names the output layer L itself (a^{L}_{k})."""
    return pattern[3] == ("L",)


def overrides(p: tuple, q: tuple) -> bool:
    """Whether one of two left sides names the output layer L and the other every layer l (a^{L}_{k} = softmax and
    a^{l}_{j} = σ(z^{l}_{j})): not one symbol defined twice, but the output layer's own rule and the hidden layers'
    (as textbooks write a softmax output)."""
    return is_output_layer(p) != is_output_layer(q) and isinstance(p[3], tuple) and isinstance(q[3], tuple)


def vector_bases(definitions: list[Definition]) -> frozenset[str]:
    """Bases the definitions use with a layer and indices (z^{l}_{j}, w^{2}_{ji}): in a claim, the same base with a
    layer and no index (z^{l}, W^{l+1}) is the vector or matrix of those components."""
    found = set()
    for definition in definitions:
        for sym in [definition.lhs] + symbols_in(definition.rhs):
            if sym.layer is not None and sym.subs:
                found.add("w" if sym.base == "W" else sym.base)
    if "w" in found:
        found.add("W")
    return frozenset(found)


def sample_letters(definitions: list[Definition]) -> dict[tuple, str]:
    """(base, decor, primes) → the letter of its second index, for a layered letter other than the weights that
    the definitions write with two index letters (a^{l}_{j,n}, z^{l}_{j,n} of a batch: unit j of sample n): bare,
    a^{l} is then the matrix with one row per unit and one column per value of that letter."""
    found: dict[tuple, set[str]] = {}
    for definition in definitions:
        for sym in [definition.lhs] + symbols_in(definition.rhs):
            if sym.layer is not None and sym.base not in ("w", "W") and len(sym.subs) == 2 \
                    and all(is_index_letter(i) for i in sym.subs):
                found.setdefault((sym.base, sym.decor, sym.primes), set()).add(sym.subs[1].base)
    return {key: letters.pop() for key, letters in found.items() if len(letters) == 1}


def unlayered_arrays(definitions: list[Definition]) -> dict[tuple, int]:
    """(base, decor, primes) → 1 or 2 for the letters the definitions write with that many index letters and no
    layer (z_j, A_{kj}), or bare inside a norm only (‖w‖²: a vector), and never bare elsewhere: a bare z in a
    claim is then the vector of the z_j."""
    counts: dict[tuple, set[int]] = {}
    bare: set[tuple] = set()
    for definition in definitions:
        in_norm = {id(s) for n in walk(definition.rhs) if isinstance(n, Func) and n.name == "normsq"
                   for s in symbols_in(n.arg)}
        for sym in [definition.lhs] + symbols_in(definition.rhs):
            key = (sym.base, sym.decor, sym.primes)
            if sym.layer is not None:
                continue
            if not sym.subs and id(sym) in in_norm:
                counts.setdefault(key, set()).add(1)
            elif not sym.subs:
                bare.add(key)
            elif len(sym.subs) <= 2 and all(is_index_letter(i) for i in sym.subs):
                counts.setdefault(key, set()).add(len(sym.subs))
            else:
                bare.add(key)
    return {key: n.pop() for key, n in counts.items() if len(n) == 1 and key not in bare}


def array_readings(claims: list[list[Node]], definitions: list[Definition]) -> list[tuple[Sym, Sym]]:
    """(bare letter, one of its components as the definitions write it) for each letter a claim in vector
    notation reads as a vector or matrix (`unlayered_arrays`), for the report's line on it (y as the y_j)."""
    arrays = unlayered_arrays(definitions)
    defined = {(d.lhs.base, d.lhs.decor, d.lhs.primes) for d in definitions if not d.lhs.subs}
    components = {}
    for definition in definitions:
        for sym in [definition.lhs] + symbols_in(definition.rhs):
            key = (sym.base, sym.decor, sym.primes)
            if sym.layer is None and sym.subs and key in arrays:
                components.setdefault(key, sym)
    found: dict[tuple, tuple[Sym, Sym]] = {}
    for members in claims:
        if not reads_arrays(members):
            continue
        for member in members:
            for node in walk(member):
                syms = [node] if isinstance(node, Sym) else [node.num, node.den] if isinstance(node, Deriv) else []
                for sym in syms:
                    key = (sym.base, sym.decor, sym.primes)
                    if not sym.subs and sym.layer is None and key in components and key not in defined:
                        found.setdefault(key, (sym, components[key]))
    return [found[key] for key in sorted(found)]


def reads_arrays(members: list[Node]) -> bool:
    """Whether a claim is written in vector notation (a derivative by or of a bare letter, a transpose, ⊙): only
    then is a bare letter the definitions index without a layer (z beside z_j) the vector of its components."""
    def bare(node: Node) -> bool:
        return isinstance(node, Sym) and not node.subs and node.layer is None
    return any(isinstance(n, Transpose) or (isinstance(n, Mul) and n.hadamard)
               or (isinstance(n, (Deriv, DerivOf)) and bare(n.den)) or (isinstance(n, Deriv) and bare(n.num))
               for member in members for n in walk(member))


def scalar_layers(definitions: list[Definition]) -> frozenset[tuple[str, Node]]:
    """(base, layer) of a one-unit layer: defined without an index (z^{[2]} = Σ_i W^{[2]}_i a^{[1]}_i + b^{[2]})
    and never written with one, so it is a number even where other layers of the same letter are vectors."""
    indexed = {(s.base, s.layer) for d in definitions for s in [d.lhs] + symbols_in(d.rhs) if s.subs}
    every_layer = {base for base, layer in indexed if layer is not None and not isinstance(layer, Num)}
    """Bases written with a layer letter and an index (a^{l}_{j} = σ(z^{l}_{j})): every layer of them has units."""
    return frozenset((d.lhs.base, d.lhs.layer) for d in definitions
                     if isinstance(d.lhs.layer, Num) and not d.lhs.subs and (d.lhs.base, d.lhs.layer) not in indexed
                     and d.lhs.base not in every_layer)


def _product(factors: list):
    return functools.reduce(operator.mul, factors)


def _matrix_sum(terms: list):
    shapes = {t.shape if is_matrix(t) else "number" for t in terms}
    if len(shapes) > 1:
        raise sympy.ShapeError("a sum of a vector or matrix and something of another shape")
    return functools.reduce(operator.add, terms)


def _numbers_as_columns(terms: list) -> list:
    """Beside one column vector, a number is that number in every entry: 1 − a for a vector a is the column of
    1 − a_j, as σ(z) ⊙ (1 − σ(z)) is written."""
    shapes = {t.shape for t in terms if is_matrix(t)}
    if len(shapes) != 1 or next(iter(shapes))[1] != 1:
        return terms
    rows = next(iter(shapes))[0]
    return [sympy.Matrix([t] * rows) if not is_matrix(t) and t.is_Number else t for t in terms]


def is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixBase)


def entries(value) -> list:
    return list(value) if is_matrix(value) else [value]


class Model:
    """The definitions and values visible to one claim, and its conversion to checking SymPy."""

    def __init__(self, definitions: list[Definition], values: dict[VName, Fraction], layers: int,
                 sizes: dict[str, int] | None = None, vectors: frozenset[str] = frozenset(), first_layer: int = 2,
                 scalars: frozenset = frozenset(), functions: dict | None = None, abstract: dict | None = None,
                 output: VName | None = None, labels: dict[str, int] | None = None):
        self.output = output
        self.labels = labels or {}
        self.names_functions = bool(abstract)
        """Whether an expression of this model can hold a function the document only names (f(z), C_0(w)): only
        then are the values and slopes of such functions looked for (`opaque_functions` walks the whole tree)."""
        """Values of the document's labels (`label_letters`: y in L = −log p_y) under which definitions are read."""
        """With an ``output`` directive (derive's own pages): ∂output/∂v is the gradient along every path, and any
        other ∂N/∂V whose N's definition reads V directly is N's local gradient, its other inputs held fixed."""
        self.functions = functions or {}
        self.abstract = {name: sympy.Function(latex(name))(*args) for name, args in (abstract or {}).items()}
        """Quantities the document differentiates but never defines (C_0 in C = C_0 + λ/(2n) w², ∂C_0/∂w): an
        abstract function of the variables it is differentiated by."""
        """The document's function definitions: letter → (parameter letter, body), from f(z) = …"""
        self.vectors = vectors
        self.scalars = scalars
        self.first_layer = first_layer
        """The first layer with weights: 2 when the input is layer 1 (w^2 first), 1 when weights are numbered from
        1 (W^{(1)} first, the input x is layer 0)."""
        self.indexed = frozenset(s.base for d in definitions for s in [d.lhs] + symbols_in(d.rhs)
                                 if len(s.subs) == 1 and s.layer is None)
        """Bases the definitions use with one index and no layer (y_j): a bare y beside a vector is the vector."""
        self.unlayered = unlayered_arrays(definitions)
        self.samples = sample_letters(definitions)
        """(base, decor, primes) → the letter of the second index of a layered letter the definitions write with two
        (a^{l}_{j,n}): bare, a^{l} is a matrix, one column per value of that letter."""
        self.indexed_twice = frozenset(s.base for d in definitions for s in [d.lhs] + symbols_in(d.rhs)
                                       if len(s.subs) == 2 and s.layer is None)
        """Bases the definitions use with two indices and no layer (t_{j,n}): a bare t beside a matrix is the
        matrix of them."""
        """(base, decor, primes) → number of indices, for a letter the definitions use only with index letters and
        no layer (z_j, A_{kj}, or bare inside a norm ‖w‖²): bare in a claim, it is the vector or matrix of them."""
        self.arrays = False
        """Whether the current claim reads such letters as arrays (`reads_arrays`); inside a norm they always are."""
        self._in_norm = 0
        self.weight_letter = "W" if any(s.base == "W" and len(s.subs) == 2 for d in definitions
                                        for s in [d.lhs] + symbols_in(d.rhs)) else "w"
        """The letter of the weights' components (w^{l}_{ji} in Nielsen, W^{(1)}_{ij} in most books)."""
        self.weight_shift = weight_shift(definitions)
        """How many layers past its own number a weight matrix's rows sit: 0 when z^{l} = W^{l} a^{l−1} (Nielsen,
        deeplearning.ai), 1 when z^{(l+1)} = W^{(l)} a^{(l)} (UFLDL: W^{(l)} maps layer l to layer l + 1)."""
        self.definitions = definitions
        self.patterns = sorted(((pattern_parts(d.lhs), d) for d in definitions),
                               key=lambda pair: not is_output_layer(pair[0]))
        """An output layer's own definition (a^{L}_{k} = softmax) first: at l = L it is the rule, not a^{l}_{j}'s."""
        self.values = values
        self.units = units_per_layer(values, self.weight_shift, frozenset(self.samples))
        """Units per layer where the document's values say (derive's pages give every leaf), else `layer_size`."""
        self.L = layers
        self.sizes = sizes or {}
        self.terms = 0
        self.touched: set[VName] = set()
        self._written: dict | None = None
        """The names the current claim wrote or reached (`start_claim` empties it): a model serves every claim of a
        scope that sees the same values, its caches shared, so what one claim used is recorded apart."""
        self._reading_implicit = False
        self._implicit_names: set[VName] = set()
        self._rhs: dict[VName, sympy.Expr | None] = {}
        self._full: dict[tuple, sympy.Expr] = {}
        self._partial: dict[tuple, sympy.Expr] = {}
        self._depends: dict[VName, dict[VName, bool]] = {}
        self._adjoints: dict[VName, dict[VName, sympy.Expr]] = {}
        self._sums_implicitly = any(isinstance(n, Sum) and is_implicit_sum(n) for d in definitions for n in walk(d.rhs))
        self._edges: dict[VName, list[VName]] = {}
        self._busy: set = set()
        self._named_bounds: dict[str, int] = {}

    # --- names -------------------------------------------------------------------------------------------------
    def index_value(self, node: Node, binds: dict[str, int], layer: bool = False):
        if isinstance(node, Num):
            return int(node.value)
        if isinstance(node, Word):
            return node.text
        if isinstance(node, Sym) and not node.subs and node.layer is None:
            if node.base in binds:
                return binds[node.base]
            if layer and node.base == "L":
                return self.L
            return node.base
        if isinstance(node, Add):
            total = 0
            for sign, term in node.terms:
                value = self.index_value(term, binds, layer)
                if not isinstance(value, int):
                    return _index_latex(node)
                total += sign * value
            return total
        return _index_latex(node)

    def name(self, sym: Sym, binds: dict[str, int]) -> VName:
        layer = None if sym.layer is None else self.index_value(sym.layer, binds, layer=True)
        subs = tuple(self.index_value(s, binds) for s in sym.subs)
        return VName(sym.base, sym.decor, sym.primes, layer, subs)

    def writes(self, num: VName, den: VName) -> bool:
        """Whether ``den`` is written in num's definition or, through the names written there, in theirs: num is
        written in terms of den even where the value does not depend on it (f = x − x)."""
        if self._written is None:
            written: dict[VName, set[VName]] = {}
            for d in self.definitions:
                try:
                    names = written.setdefault(self.name(d.lhs, {}), set())
                    names.update(self.name(sym, {}) for sym in symbols_in(d.rhs))
                except ModelProblem:
                    pass  # a definition with index letters: not one quantity
            self._written = written
        seen, stack = {num}, [num]
        while stack:
            for name in self._written.get(stack.pop(), ()):
                if name == den:
                    return True
                if name not in seen:
                    seen.add(name)
                    stack.append(name)
        return False

    def is_kronecker(self, name: VName) -> bool:
        """δ with two bound indices, no layer and no definition of its own is the Kronecker delta δ_{ij}."""
        base, decor, primes, layer, subs = name.parts
        return (base == "delta" and decor is None and not primes and layer is None and len(subs) == 2
                and all(isinstance(s, int) for s in subs) and self.rhs_of(name) is None)

    # --- conversion --------------------------------------------------------------------------------------------
    def conc(self, node: Node, binds: dict[str, int], definition: bool = False) -> sympy.Expr:
        """The checking form of a syntax tree under index bindings (see the module docstring)."""
        if isinstance(node, Num):
            return sympy.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, Const):
            return sympy.pi if node.name == "pi" else sympy.E
        if isinstance(node, Sym):
            if node.base == "pi" and node.decor is None and not node.subs and node.layer is None:
                return sympy.pi
            if not definition and self.is_vector(node):
                components = self.vector(node, binds)
                self.touched.update(components)
                return components
            name = self.name(node, binds)
            self.touched.add(name)
            if name in self.abstract:
                return self.abstract[name]
            if self.is_kronecker(name):
                return sympy.Integer(1 if name.subs[0] == name.subs[1] else 0)
            return name
        if isinstance(node, Add):
            terms = self.as_vectors([self.conc(t, binds, definition) for _, t in node.terms])
            signed = [t if sign > 0 else -t for (sign, _), t in zip(node.terms, terms)]
            if any(is_matrix(t) for t in signed):
                return _matrix_sum(_numbers_as_columns(signed))
            return sympy.Add(*signed)
        if isinstance(node, Mul):
            if node.hadamard:
                factors = self.as_vectors([self._hadamard_factor(f, binds, definition) for f in node.factors])
            else:
                factors = [self.conc(f, binds, definition) for f in node.factors]
            if node.hadamard and len(factors) == 2 and all(is_matrix(f) for f in factors):
                if factors[0].shape != factors[1].shape:
                    raise sympy.ShapeError(f"⊙ of shapes {factors[0].shape} and {factors[1].shape}")
                return factors[0].multiply_elementwise(factors[1])
            try:
                return _product(factors)
            except TypeError as exc:
                raise sympy.ShapeError(str(exc)) from None
        if isinstance(node, Div):
            den = self.conc(node.den, binds, definition)
            if is_matrix(den):
                raise ModelProblem("division by a vector or matrix")
            if den == 0:
                raise ModelProblem("division by zero")
            return self.conc(node.num, binds, definition) / den
        if isinstance(node, Neg):
            return -self.conc(node.arg, binds, definition)
        if isinstance(node, Pow):
            base = self.conc(node.base, binds, definition)
            exponent = self.conc(node.exp, binds, definition)
            if is_matrix(base) or is_matrix(exponent):
                raise ModelProblem("powers of vectors and matrices are not supported (write ⊙ for element-wise "
                                   "products)")
            return base ** exponent
        if isinstance(node, Transpose):
            value = self.conc(node.arg, binds, definition)
            return value.T if is_matrix(value) else value
        if isinstance(node, Func) and node.name == "normsq":
            return self._squared_norm(node.arg, binds)
        if isinstance(node, Func) and node.name == "ones":
            size = self.size(node.arg, binds)
            if size is None or not 0 < size <= MAX_RANGE:
                raise ModelProblem(f"cannot read the size {_index_latex(node.arg)} of a vector of ones")
            return sympy.ones(size, 1)
        if isinstance(node, Func) and node.name.startswith("applied:"):
            return self._applied(node, self.conc(node.arg, binds, definition))
        if isinstance(node, Func) and node.name == "softmax":
            return softmax_vector(self.conc(node.arg, binds, definition))
        if isinstance(node, Func) and node.name in ("sigma", "dsigma") and "sigma" in self.functions:
            primes = int(node.name == "dsigma")  # σ as the document's binding defines it (`given \sigma(z) = …`)
            return self._applied(Func(f"applied:sigma:{primes}", node.arg), self.conc(node.arg, binds, definition))
        if isinstance(node, Func):
            arg = self.conc(node.arg, binds, definition)
            function = named_function(node.name)
            return arg.applyfunc(function) if is_matrix(arg) else function(arg)
        if isinstance(node, Sum):
            return self._sum(node, binds, definition)
        if isinstance(node, Matrix):
            entries_ = [[self.conc(e, binds, definition) for e in row] for row in node.rows]
            if any(is_matrix(e) for row in entries_ for e in row):
                raise ModelProblem("a matrix whose entries are vectors or matrices is not supported")
            return sympy.Matrix(entries_)
        if isinstance(node, Deriv) and node.held:
            num, den = self.name(node.num, binds), self.name(node.den, binds)
            self.touched.add(num)
            return self.held_partial(num, den, frozenset(self.name(h, binds) for h in node.held))
        if isinstance(node, Deriv):
            num = self.name(node.num, binds)
            self.touched.add(num)
            if self.is_vector(node.num):
                raise ModelProblem("derivatives of a vector (Jacobians) are not supported")
            if definition and self.is_vector(node.den):
                raise ModelProblem("a definition names one component: write the index, e.g. "
                                   + quote(r"\frac{\partial C}{\partial z^{l}_{j}}"))
            if self.is_vector(node.den):
                den = self.vector(node.den, binds)
                return den.applyfunc(lambda v: PartialSym(node.kind, num, v))
            return PartialSym(node.kind, num, self.name(node.den, binds))
        if isinstance(node, DerivOf):
            body = self.conc(node.body, binds, definition)
            if is_matrix(body) or self.is_vector(node.den):
                raise ModelProblem("∂/∂x of a vector expression is not supported")
            return self.derive_expr(body, self.name(node.den, binds))
        raise ModelProblem(f"cannot use {type(node).__name__} here")

    def abstract_leaves(self, expr):
        """``expr`` with the abstract quantities' values and derivatives as free symbols (C_0 and ∂C_0/∂w), so
        that a step can be evaluated at test points: the derivatives of an abstract quantity are numbers like
        any other."""
        if is_matrix(expr):
            return expr
        if self.abstract:
            replace = {}
            for name, applied in self.abstract.items():
                for variable in applied.args:
                    replace[sympy.Derivative(applied, variable)] = PartialSym("partial", name, variable)
            expr = expr.xreplace(replace)
            expr = expr.xreplace({applied: name for name, applied in self.abstract.items()})
        return opaque_functions(expr) if self.names_functions else expr

    def _squared_norm(self, node: Node, binds: dict[str, int]) -> sympy.Expr:
        """‖u‖² = Σ_j u_j²: u read as vectors wherever it names a layer (also inside a definition, where C = ½‖y −
        a^{L}‖² means the sum over the output units)."""
        self._in_norm += 1
        try:
            value = self.conc(node, binds)
        finally:
            self._in_norm -= 1
        return sympy.Add(*(entry ** 2 for entry in entries(value)))

    def _applied(self, node: Func, arg) -> sympy.Expr:
        """f(u) or f'(u): the document's definition f(x) = … at u (differentiated once per prime), or an abstract
        function of u whose derivatives stay symbolic (chain-rule structure and linearity can still be checked)."""
        _, letter, primes = node.name.split(":")
        quantity = VName(letter)
        if letter not in self.functions and not int(primes) and (quantity in self.values
                                                                   or self.rhs_of(quantity) is not None):
            self.touched.add(quantity)  # g(1 − g) where g = σ(v) is a quantity: a product, as in h(1 − h)
            return quantity * arg
        if is_matrix(arg):
            return arg.applyfunc(lambda entry: self._applied(node, entry))
        variable = sympy.Dummy(letter)
        if letter in self.functions:
            parameter, body = self.functions[letter]
            value = self.conc(body, {}).xreplace({VName(parameter): variable})
        else:
            self.names_functions = True
            value = sympy.Function(letter)(variable)
        if int(primes):
            value = sympy.diff(value, variable, int(primes))
        return value.subs(variable, arg)

    def _sum(self, node: Sum, binds: dict[str, int], definition: bool) -> sympy.Expr:
        if node.product:
            return self._product(node, binds, definition)
        if is_implicit_sum(node):
            if definition:
                self._reading_implicit = True
            return self.conc(node.body, binds, definition)
        lo = 1 if node.lo is None else self._bound(node.lo, binds)
        hi = self._upper(node, binds)
        count = hi - lo + 1
        if count > MAX_RANGE:
            raise TooLarge(f"a sum over {count} terms (the limit is {MAX_RANGE})")
        self.terms += max(count, 0)
        if self.terms > MAX_TERMS:
            raise TooLarge(f"the sums expand to more than {MAX_TERMS} terms")
        terms = [self.conc(node.body, {**binds, node.index: v}, definition) for v in range(lo, hi + 1)]
        if any(is_matrix(t) for t in terms):
            return _matrix_sum(terms)
        return sympy.Add(*terms)

    def _product(self, node: Sum, binds: dict[str, int], definition: bool) -> sympy.Expr:
        """∏_{k=lo}^{hi} body: its limits bound like a Σ's (a layer letter, a size the document sets), its factors
        written out; an empty range is 1."""
        lo, hi = self._bound(node.lo, binds), self._upper(node, binds)
        count = hi - lo + 1
        if count > MAX_RANGE:
            raise TooLarge(f"a product over {count} factors (the limit is {MAX_RANGE})")
        self.terms += max(count, 0)
        if self.terms > MAX_TERMS:
            raise TooLarge(f"the sums and products expand to more than {MAX_TERMS} terms")
        factors = [self.conc(node.body, {**binds, node.index: v}, definition) for v in range(lo, hi + 1)]
        if any(is_matrix(f) for f in factors):
            raise ModelProblem("a product ∏ of vectors or matrices is not supported")
        return sympy.Mul(*factors)

    # --- vectors and matrices ----------------------------------------------------------------------------------
    def _hadamard_factor(self, node: Node, binds: dict[str, int], definition: bool):
        """A factor of ⊙: a number added to a vector there is added to every entry (a ⊙ (1 − a) is σ'(z) written
        with a). Only a number written as such, the 1 of 1 − a; a symbol beside a vector keeps its shape check."""
        if not (isinstance(node, Add) and any(isinstance(t, Num) for _, t in node.terms)):
            return self.conc(node, binds, definition)
        terms = [(sign, term, self.conc(term, binds, definition)) for sign, term in node.terms]
        shapes = {value.shape for _, _, value in terms if is_matrix(value)}
        if len(shapes) != 1 or any(not is_matrix(value) and not isinstance(term, Num) for _, term, value in terms):
            return self.conc(node, binds, definition)
        (shape,) = shapes
        return _matrix_sum([sign * (value if is_matrix(value) else sympy.ones(*shape) * value)
                            for sign, _, value in terms])

    def as_vectors(self, values: list) -> list:
        """Beside a column vector, a bare symbol the definitions use with one index (y beside a^{L}, where
        C = ½ Σ_j (y_j − a^{L}_j)²) is the column of its components: read y as a vector of outputs."""
        wide = [v for v in values if is_matrix(v) and v.shape[1] > 1]
        if wide:
            rows, cols = wide[0].shape
            return [sympy.Matrix(rows, cols, lambda j, n: v.with_subs((j + 1, n + 1)))
                    if self._bare_vector(v) and v.base in self.indexed_twice else v for v in values]
        columns = [v for v in values if is_matrix(v) and v.shape[1] == 1]
        if not columns:
            return values
        rows = columns[0].shape[0]
        return [sympy.Matrix(rows, 1, lambda j, _: v.with_subs((j + 1,))) if self._bare_vector(v) else v
                for v in values]

    def _bare_vector(self, value) -> bool:
        """A bare symbol beside a column vector is a vector too when the definitions index it (y_j) or when
        nothing makes it a number (no definition, no value): a number beside a vector would be a shape error."""
        if not (isinstance(value, VName) and not value.subs and value.layer is None) or isinstance(value, Opaque):
            return False
        return value.base in self.indexed or (value not in self.values and self.rhs_of(value) is None
                                              and value not in self.abstract)

    def is_vector(self, sym: Sym) -> bool:
        if not sym.subs and sym.layer is None:
            return bool(self.arrays or self._in_norm) and self._unlayered_array(sym)
        return (not sym.subs and sym.layer is not None and sym.base in self.vectors
                and (sym.base, sym.layer) not in self.scalars)

    def _unlayered_array(self, sym: Sym) -> bool:
        bare = VName(sym.base, sym.decor, sym.primes)
        return ((sym.base, sym.decor, sym.primes) in self.unlayered and bare not in self.values
                and bare not in self.abstract and sym.base not in self.functions and self.rhs_of(bare) is None)

    def vector(self, sym: Sym, binds: dict[str, int]) -> sympy.Matrix:
        """z^{l} as the column of z^{l}_{j}; W^{l} as the matrix of w^{l}_{ji} (shape n_l × n_{l−1}); an unlayered
        z or A as the column of z_j or the matrix of A_{kj}, each index over the range the definitions give it."""
        if sym.layer is None:
            key = (sym.base, sym.decor, sym.primes)
            shape = [self.unlayered_size(key, position) for position in range(self.unlayered[key])]
            return sympy.Matrix(shape[0], shape[1] if len(shape) > 1 else 1,
                                lambda *at: VName(sym.base, sym.decor, sym.primes, None,
                                                  tuple(k + 1 for k in at[:len(shape)])))
        layer = self.index_value(sym.layer, binds, layer=True)
        if not isinstance(layer, int):
            raise ModelProblem(f"cannot read the layer of ${latex(display_name(sym))}$")
        if sym.base in ("w", "W"):
            rows = self.layer_units(layer + self.weight_shift)
            cols = self.layer_units(layer + self.weight_shift - 1)
            return sympy.Matrix(rows, cols, lambda j, i: VName(self.weight_letter, sym.decor, sym.primes, layer,
                                                               (j + 1, i + 1)))
        letter = self.samples.get((sym.base, sym.decor, sym.primes))
        if letter is not None:
            return sympy.Matrix(self.layer_units(layer), self.letter_range(letter),
                                lambda j, n: VName(sym.base, sym.decor, sym.primes, layer, (j + 1, n + 1)))
        return sympy.Matrix(self.layer_units(layer), 1,
                            lambda j, _: VName(sym.base, sym.decor, sym.primes, layer, (j + 1,)))

    def letter_range(self, letter: str) -> int:
        """How many values an index letter takes: the range of a definitions' Σ over it (Σ_{n=1}^{N}), else the
        size the document sets for it, else `DEFAULT_SIZE`."""
        for definition in self.definitions:
            for node in walk(definition.rhs):
                if isinstance(node, Sum) and not node.product and node.index == letter and node.hi is not None:
                    try:
                        lo = 1 if node.lo is None else self._bound(node.lo, {})
                        return self._upper(node, {}) - lo + 1
                    except ModelProblem:
                        continue
        return self.sizes.get(letter, DEFAULT_SIZE)

    def layer_units(self, layer: int) -> int:
        return self.units.get(layer) or layer_size(layer)

    def _bound(self, node: Node, binds: dict[str, int]) -> int:
        value = self.index_value(node, binds, layer=True)
        if isinstance(value, int):
            return value
        if isinstance(node, Sym):
            known = self.values.get(VName(node.base, node.decor, node.primes, None, ()))
            if known is not None and known.denominator == 1:
                return int(known)
        raise ModelProblem(f"cannot read the limit {_index_latex(node)} of a sum")

    def size(self, node: Node, binds: dict[str, int]) -> int | None:
        """A count the document writes: a number, a layer letter, or a size it sets or defines (N := 2); None when
        it does not say."""
        value = self.index_value(node, binds, layer=True)
        if isinstance(value, int):
            return value
        if isinstance(node, Sym) and not node.subs:
            name = VName(node.base, node.decor, node.primes, None, ())
            defined = self.rhs_of(name)  # a size the document defines (N := 2)
            known = self.values.get(name) if not (defined is not None and defined.is_Rational) \
                else Fraction(int(defined.p), int(defined.q))
            if known is not None:
                if known.denominator != 1 or known < 0:
                    raise ModelProblem(f"the size {node.base} is not a whole number")
                return int(known)
        return None

    def _upper(self, node: Sum, binds: dict[str, int]) -> int:
        if node.hi is not None:
            value = self.size(node.hi, binds)
            if value is not None:
                return value
            if isinstance(node.hi, Sym) and not node.hi.subs:
                lo = 1 if node.lo is None else self._bound(node.lo, binds)
                return lo - 1 + self.named_bound_size(node.hi.base)
        lo = 1 if node.lo is None else self._bound(node.lo, binds)
        return lo - 1 + self.infer_size(node.index, node.body, binds)

    def unlayered_size(self, key: tuple, position: int) -> int:
        """How many components an unlayered array has along one index: the range of a definitions' Σ over that
        index (Σ_{j=1}^{4} e^{z_j}), else of the index where the definitions use it (y_j beside a^{L}_j), else the
        size the document sets for the letter, else `DEFAULT_SIZE`."""
        def letter_of(sym: Sym) -> str | None:
            if (sym.base, sym.decor, sym.primes) != key or sym.layer is not None or len(sym.subs) <= position \
                    or not is_index_letter(sym.subs[position]):
                return None
            return sym.subs[position].base
        for definition in self.definitions:
            for node in walk(definition.rhs):
                if isinstance(node, Sum) and node.index and node.hi is not None \
                        and any(letter_of(sym) == node.index for sym in symbols_in(node.body)):
                    try:
                        lo = 1 if node.lo is None else self._bound(node.lo, {})
                        return self._upper(node, {}) - lo + 1
                    except ModelProblem:
                        continue
        for definition in self.definitions:
            whole = Mul((definition.lhs, definition.rhs))
            for sym in symbols_in(whole):
                letter = letter_of(sym)
                if letter is not None:
                    return self.infer_size(letter, whole, {})
        return DEFAULT_SIZE

    def named_bound_size(self, name: str) -> int:
        """How many terms a limit the document names but does not set (K in Σ_{k=1}^{K}) stands for: one number
        for the whole document, so that a claim's Σ_k and the definitions' run over the same classes; from the
        layers the definitions' sums with that limit index, else `DEFAULT_SIZE`."""
        if name not in self._named_bounds:
            sizes = [self.infer_size(n.index, n.body, {}) for d in self.definitions for n in walk(d.rhs)
                     if isinstance(n, Sum) and isinstance(n.hi, Sym) and n.hi.base == name and n.index
                     and _indexes_a_layer(n)]
            self._named_bounds[name] = min(sizes) if sizes else DEFAULT_SIZE
        return self._named_bounds[name]

    def index_start(self, letter: str, nodes: list[Node]) -> int:
        """Where a claim's free index starts: where the definitions' sums over the same symbols start (θ_j beside
        h = Σ_{j=0}^{n} θ_j x_j runs from 0), else 1."""
        indexed = {(sym.base, sym.decor, position) for node in nodes for sym in symbols_in(node)
                   for position, index in enumerate(sym.subs)
                   if isinstance(index, Sym) and index.base == letter and not index.subs}
        starts = set()
        for definition in self.definitions:
            for sum_node in walk(definition.rhs):
                if not (isinstance(sum_node, Sum) and isinstance(sum_node.lo, Num)
                        and sum_node.lo.value.denominator == 1):
                    continue
                if any((sym.base, sym.decor, position) in indexed for sym in symbols_in(sum_node.body)
                       for position, index in enumerate(sym.subs)
                       if isinstance(index, Sym) and index.base == sum_node.index and not index.subs):
                    starts.add(int(sum_node.lo.value))
        return starts.pop() if len(starts) == 1 else 1

    def infer_size(self, letter: str, node: Node, binds: dict[str, int]) -> int:
        """The range of an index: from the layer of the symbols it indexes (w^{l}_{ji}: j has the units of layer
        l, i those of layer l − 1; the sample n of z^{l}_{j,n}, `letter_range`), else a size the document set for the letter, else `DEFAULT_SIZE`."""
        sizes = []
        for sym in symbols_in(node) + _derivative_symbols(node):
            for position, index in enumerate(sym.subs):
                if not (isinstance(index, Sym) and index.base == letter and not index.subs):
                    continue
                if sym.layer is None:
                    continue
                layer = self.index_value(sym.layer, binds, layer=True)
                if not isinstance(layer, int):
                    continue
                if sym.base in ("w", "W"):
                    layer += self.weight_shift - (position == 1)
                elif position == 1 and (sym.base, sym.decor, sym.primes) in self.samples:
                    sizes.append(self.letter_range(self.samples[(sym.base, sym.decor, sym.primes)]))
                    continue  # z^{l}_{j,n}: n counts samples, not units
                sizes.append(self.layer_units(layer))
        if sizes:
            return min(sizes)
        return self.sizes.get(letter, DEFAULT_SIZE)

    # --- definitions -------------------------------------------------------------------------------------------
    def has_output_rule(self, head: Sym) -> bool:
        """Whether ``head`` (a^{l}_{j}, with a layer letter) has a rule of its own for the layers before L: the
        definitions hold one for every layer l and one for the output layer L (`overrides`). A claim that states it
        is then checked at l < L, where it is the rule; at L the output layer's definition is checked instead."""
        if head.layer is None or not is_index_letter(head.layer):
            return False
        try:
            mine = pattern_parts(head)
        except ModelProblem:
            return False
        same = [p for p, _ in self.patterns if p[:3] == mine[:3] and len(p[4]) == len(mine[4])]
        return any(is_output_layer(p) for p in same) and any(not is_output_layer(p) and isinstance(p[3], tuple)
                                                              for p in same)

    def lookup(self, name: VName) -> tuple[Definition, dict[str, int]] | None:
        base, decor, primes, layer, subs = name.parts
        for pattern, definition in self.patterns:
            if pattern[:3] != (base, decor, primes) or len(pattern[4]) != len(subs):
                continue
            if (pattern[3] is None) != (layer is None):
                continue
            binds: dict[str, int] = {}
            if not _match(pattern[3], layer, binds, self.L, is_layer=True, first=self.first_layer):
                continue
            if all(_match(p, s, binds, self.L) for p, s in zip(pattern[4], subs)):
                return definition, binds
        return None

    def rhs_of(self, name: VName) -> sympy.Expr | None:
        if name not in self._rhs:
            found = self.lookup(name)
            if found is None:
                self._rhs[name] = None
            else:
                definition, binds = found
                outer, self._reading_implicit = self._reading_implicit, False
                try:
                    self._rhs[name] = self.conc(definition.rhs, {**self.labels, **binds}, definition=True)
                except ModelProblem as exc:
                    if exc.line is None:
                        exc.line = definition.line
                    raise
                finally:
                    if self._reading_implicit:
                        self._implicit_names.add(name)
                    self._reading_implicit = outer
        return self._rhs[name]

    def start_claim(self) -> None:
        """A new claim: its own count of expanded terms and of the names it reaches."""
        self.terms = 0
        self.touched = set()

    @property
    def implicit_in_definitions(self) -> bool:
        """Whether a definition the current claim reaches sums over an implicit index (E = ½ Σ (A − Y)² read per
        sample)."""
        if not self._sums_implicitly:
            return False
        seen: set[VName] = set()
        stack = list(self.touched)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            self.rhs_of(name)
            if name in self._implicit_names:
                return True
            stack.extend(self.edges(name))
        return False

    def is_defined(self, name: VName) -> bool:
        return self.lookup(name) is not None

    def full(self, expr: sympy.Expr, stop: VName | None = None) -> sympy.Expr:
        """``expr`` written in the leaves: every defined symbol (except ``stop``) replaced by its definition,
        every derivative resolved."""
        if is_matrix(expr):
            return expr.applyfunc(lambda e: self.full(e, stop))
        replace = {}
        for symbol in expr.free_symbols:
            if isinstance(symbol, PartialSym):
                replace[symbol] = self.partial(symbol.num, symbol.den)
            elif isinstance(symbol, VName) and symbol != stop:
                value = self.full_symbol(symbol, stop)
                if value is not symbol:
                    replace[symbol] = value
        if not replace:
            return expr
        if expr.has(sympy.Derivative):  # f'(z) with z replaced: a Subs, which xreplace cannot build
            return expr.subs(replace, simultaneous=True)
        return expr.xreplace(replace)

    def held_partial(self, num: VName, den: VName, held: frozenset) -> sympy.Expr:
        """(∂num/∂den)_{held}: num's definition unrolled down to den, the ``held`` symbols and the leaves,
        differentiated by den, then written in the leaves."""
        if self.rhs_of(num) is None:
            raise ModelProblem(f"${latex(num)}$ has no definition in the document, so its derivative cannot be "
                               "computed")
        keep = held | {den}
        expr = self.rhs_of(num)
        while True:
            unroll = {s: self.rhs_of(s) for s in expr.free_symbols
                      if isinstance(s, VName) and s not in keep and self.rhs_of(s) is not None}
            if not unroll:
                break
            expr = expr.xreplace(unroll)
        return self.full(sympy.diff(expr, den))

    def full_symbol(self, name: VName, stop: VName | None = None) -> sympy.Expr:
        key = (name, stop)
        if key in self._full:
            return self._full[key]
        rhs = self.rhs_of(name)
        if rhs is None:
            self._full[key] = name
            return name
        if ("full",) + key in self._busy:
            raise ModelProblem(f"the definition of ${latex(name)}$ refers to itself")
        self._busy.add(("full",) + key)
        try:
            value = self.full(rhs, stop)
        finally:
            self._busy.discard(("full",) + key)
        self._full[key] = value
        return value

    def depends(self, num: VName, den: VName) -> bool:
        """Whether num's definitions reach den (along the dependency graph). Every node met on the way keeps its
        own answer, so asking for each node of a graph costs one walk of it, not one walk per node."""
        known = self._depends.setdefault(den, {den: True})
        if num in known:
            return known[num]
        answered: list[VName] = []
        stack: list[tuple[VName, bool]] = [(num, False)]
        opened: set[VName] = set()  # waiting for their inputs
        while stack:
            node, expanded = stack.pop()
            if node in known:
                continue
            if node in opened and not expanded:  # a cycle: the answers on it are not final, walk plainly
                for name in answered:
                    del known[name]
                return self._reaches(num, den)
            rhs = self.rhs_of(node)
            if rhs is None:
                known[node] = False
            elif _has_partial_atoms(rhs):
                known[node] = den in self.full_symbol(node, den).free_symbols
            elif expanded:
                known[node] = any(known.get(nxt, False) for nxt in self.edges(node))
            else:
                opened.add(node)
                stack.append((node, True))  # answered once its inputs are
                stack.extend((nxt, False) for nxt in self.edges(node) if nxt not in known)
                continue
            answered.append(node)
        return known[num]

    def _reaches(self, num: VName, den: VName) -> bool:
        """`depends` by a plain walk, for definitions that refer to themselves (reported elsewhere)."""
        seen: set[VName] = set()
        stack = [num]
        while stack:
            node = stack.pop()
            if node == den:
                return True
            if node in seen:
                continue
            seen.add(node)
            rhs = self.rhs_of(node)
            if rhs is not None and _has_partial_atoms(rhs):
                if den in self.full_symbol(node, den).free_symbols:
                    return True
                continue
            stack.extend(self.edges(node))
        return False

    def partial(self, num: VName, den: VName) -> sympy.Expr:
        """∂num/∂den: num unrolled to the leaves with den kept as a variable, differentiated, then den unrolled."""
        key = (num, den)
        if key in self._partial:
            return self._partial[key]
        if ("partial",) + key in self._busy:
            raise ModelProblem(f"the derivative of ${latex(num)}$ refers to itself")
        self._busy.add(("partial",) + key)
        try:
            if num == den:
                value = sympy.S.One
            elif num in self.abstract:
                value = sympy.diff(self.abstract[num], den)
            else:
                if self.rhs_of(num) is None:
                    raise ModelProblem(f"${latex(num)}$ has no definition in the document, so its "
                                       "derivative cannot be computed")
                rhs = self.rhs_of(num)
                if self.output is not None and num != self.output and den in rhs.free_symbols:
                    value = self.full(sympy.diff(rhs, den))  # a local gradient: the other inputs held fixed
                else:
                    value = self._reverse(num, den)
                if value is None:  # definitions that use derivatives themselves: unroll and differentiate
                    value = sympy.diff(self.full_symbol(num, den), den)
                    if self.rhs_of(den) is not None:
                        value = value.xreplace({den: self.full_symbol(den)})
        finally:
            self._busy.discard(("partial",) + key)
        self._partial[key] = value
        return value

    def _reverse(self, num: VName, den: VName) -> sympy.Expr | None:
        """∂num/∂den by the chain rule over the definitions' graph, in reverse: the gradient of a node is the sum,
        over the nodes that read it, of their gradient times the local derivative (SymPy's diff of one
        definition). Written in the leaves. None when a definition on the way contains a derivative."""
        nodes: list[VName] = []
        seen: set[VName] = set()
        stack = [num]
        while stack:
            node = stack.pop()
            if node in seen or node == den or not self.depends(node, den):
                continue
            seen.add(node)
            nodes.append(node)
            rhs = self.rhs_of(node)
            if rhs is None:
                continue
            if _has_partial_atoms(rhs):
                return None
            stack.extend(self.edges(node))
        readers: dict[VName, list[VName]] = {}
        for node in nodes:
            for nxt in self.edges(node):
                if nxt == den or nxt in seen:
                    readers.setdefault(nxt, []).append(node)
        memo = self._adjoints.setdefault(num, {})
        """∂num/∂node in the names of the definitions: the readers of a node that depends on den are all the
        nodes reached from num that read it, whatever den is, so the gradients found for one variable serve the
        next (a page asks for ∂E/∂v of every v of the graph)."""

        def grad(node: VName) -> sympy.Expr:
            if node == num:
                return sympy.S.One
            if node not in memo:
                memo[node] = sympy.Add(*[grad(u) * local_derivative(self.rhs_of(u), node)
                                         for u in readers.get(node, ())])
            return memo[node]

        order = _topological(nodes, self.edges)
        for node in order:  # fill the memo from the output down, so that recursion stays shallow
            if node != num:
                grad(node)
        return self.full(grad(den))

    def derive_expr(self, expr: sympy.Expr, den: VName) -> sympy.Expr:
        unrolled = self.full(expr, den)
        value = sympy.diff(unrolled, den)
        if self.rhs_of(den) is not None:
            value = value.xreplace({den: self.full_symbol(den)})
        return value

    # --- the shallow derivative, for the "correct right side" -------------------------------------------------
    def shallow_partial(self, num: VName, den: VName) -> sympy.Expr:
        """∂num/∂den written with the document's own intermediate names where possible (A rather than σ(Z))."""
        seen: list[VName] = []

        def unroll(expr: sympy.Expr) -> sympy.Expr:
            replace = {}
            for symbol in expr.free_symbols:
                if isinstance(symbol, VName) and symbol != den and self.rhs_of(symbol) is not None \
                        and self.depends(symbol, den):
                    seen.append(symbol)
                    replace[symbol] = unroll(self.rhs_of(symbol))
                elif isinstance(symbol, PartialSym):
                    replace[symbol] = self.partial(symbol.num, symbol.den)
            return expr.xreplace(replace) if replace else expr

        if num == den:
            return sympy.S.One
        result = sympy.diff(unroll(self.rhs_of(num)), den)
        return self.refold(result, seen + [den])

    def refold(self, expr: sympy.Expr, names: list[VName]) -> sympy.Expr:
        """Write definitions back as their names (σ(Z) → A), innermost first, until nothing changes."""
        names = list(dict.fromkeys(names))
        for _ in range(len(names) + 1):
            before = expr
            for name in reversed(names):
                rhs = self.rhs_of(name)
                if rhs is not None and not is_matrix(rhs) and not rhs.is_Atom and name not in rhs.free_symbols:
                    expr = expr.xreplace({rhs: name})
            if expr == before:
                break
        return expr

    def local(self, node: VName, var: VName) -> sympy.Expr:
        """The local derivative of one definition, ∂node/∂var with node's other inputs held fixed, written with
        the document's names (∂a/∂z = a(1 − a))."""
        rhs = self.rhs_of(node)
        if rhs is None:
            return sympy.S.One if node == var else sympy.S.Zero
        inputs = [s for s in rhs.free_symbols if isinstance(s, VName) and self.rhs_of(s) is not None]
        return self.refold(sympy.diff(rhs, var), [node] + sorted(inputs, key=lambda s: s.name))

    def named_gradient(self, out: VName, node: VName) -> VName | None:
        """A symbol the document defines as ∂out/∂node (δ^{l}_{j} := ∂C/∂z^{l}_{j}), if any."""
        for _, definition in self.patterns:
            if not isinstance(definition.rhs, Deriv):
                continue
            try:
                den = pattern_parts(definition.rhs.den)
            except ModelProblem:
                continue
            base, decor, primes, layer, subs = node.parts
            if den[:3] != (base, decor, primes) or len(den[4]) != len(subs) or (den[3] is None) != (layer is None):
                continue
            binds: dict[str, int] = {}
            if not _match(den[3], layer, binds, self.L, is_layer=True, first=self.first_layer):
                continue
            if not all(_match(p, v, binds, self.L) for p, v in zip(den[4], subs)):
                continue
            try:
                name = self.name(definition.lhs, binds)
            except ModelProblem:
                continue
            rhs = self.rhs_of(name)
            if isinstance(rhs, PartialSym) and rhs.num == out and rhs.den == node:
                return name
        return None

    def gradient_form(self, out: VName, var: VName, avoid: VName | None = None) -> sympy.Expr:
        """∂out/∂var the way backpropagation writes it: the sum over var's readers of (their gradient) × (local
        derivative), using the document's own names for gradients (δ) and values (a = σ(z))."""
        if out == var:
            return sympy.S.One
        paths = self.paths(out, var)
        readers: dict[VName, set[VName]] = {}
        for path in paths:
            for u, v in zip(path, path[1:]):
                readers.setdefault(v, set()).add(u)
        memo: dict[VName, sympy.Expr] = {}

        def grad(node: VName) -> sympy.Expr:
            if node == out:
                return sympy.S.One
            if node in memo:
                return memo[node]
            named = self.named_gradient(out, node) if node != avoid else None
            if named is not None:
                memo[node] = named
                return named
            total = sympy.Add(*[grad(u) * self.local(u, node)
                                for u in sorted(readers.get(node, ()), key=lambda s: s.name)])
            memo[node] = total
            return total

        return grad(var)

    # --- the dependency graph ----------------------------------------------------------------------------------
    def edges(self, name: VName) -> list[VName]:
        if name not in self._edges:
            rhs = self.rhs_of(name)
            self._edges[name] = [] if rhs is None else sorted(
                (s for s in rhs.free_symbols if isinstance(s, VName)), key=lambda s: s.name)
        return self._edges[name]

    def paths(self, start: VName, end: VName) -> list[tuple[VName, ...]]:
        """Every path start → … → end along definitions (at most `MAX_PATHS`)."""
        found: list[tuple[VName, ...]] = []
        stack: list[tuple[VName, tuple[VName, ...]]] = [(start, (start,))]
        while stack:
            node, path = stack.pop()
            if node == end:
                found.append(path)
                if len(found) > MAX_PATHS:
                    raise TooLarge(f"more than {MAX_PATHS} paths from the output to the variable")
                continue
            for nxt in reversed(self.edges(node)):
                if nxt == end or self.depends(nxt, end):
                    stack.append((nxt, path + (nxt,)))
        return found


def _layer_offset(node: Node | None) -> tuple[str | None, int] | None:
    """A layer as (letter, offset): 2 is (None, 2), l+1 is ("l", 1), l is ("l", 0); None for anything else."""
    if isinstance(node, Num) and node.value.denominator == 1:
        return None, int(node.value)
    if isinstance(node, Sym) and not node.subs and node.layer is None:
        return node.base, 0
    if isinstance(node, Add) and len(node.terms) == 2:
        (s1, a), (s2, b) = node.terms
        if s1 > 0 and isinstance(a, Sym) and not a.subs and isinstance(b, Num) and b.value.denominator == 1:
            return a.base, s2 * int(b.value)
    return None


def layer_reach(nodes: list[Node]) -> int:
    """How far past the layer letter the nodes reach (2 for δ^{l+2}): a network whose size the document does not
    give needs that many layers after its first, so that some l makes every layer exist."""
    offsets = [found[1] for node in nodes for sym in symbols_in(node) + _derivative_symbols(node)
               if (found := _layer_offset(sym.layer)) is not None and found[0] == "l"]
    return max(offsets, default=0)


def weight_shift(definitions: list[Definition]) -> int:
    """1 when the definitions give z^{(l+1)} through W^{(l)} (the layer of the weights one below the layer they
    compute), else 0."""
    for definition in definitions:
        target = _layer_offset(definition.lhs.layer)
        if target is None:
            continue
        for sym in symbols_in(definition.rhs):
            weights = _layer_offset(sym.layer) if sym.base in ("w", "W") else None
            if weights is not None and weights[0] == target[0]:
                return 1 if target[1] - weights[1] == 1 else 0
    return 0


@functools.lru_cache(maxsize=4096)
def local_derivative(expr: sympy.Expr, variable: VName) -> sympy.Expr:
    """∂expr/∂variable of one definition's right side: the same for every claim of a document (each claim has a
    model of its own), so it is differentiated once, by `_derivative`."""
    return _derivative(expr, variable)


def _derivative(expr: sympy.Expr, variable: sympy.Symbol) -> sympy.Expr:
    """``sympy.diff(expr, variable)`` by the sum, product, power and chain rules written out (the same canonical
    result: SymPy's own rules multiply the same factors), without building a `sympy.Derivative` at every node,
    which costs most of a diff of a small definition. Anything else (a function the document only names) is
    left to `sympy.diff`."""
    if expr == variable:
        return sympy.S.One
    if expr.is_Atom or variable not in expr.free_symbols:
        return sympy.S.Zero
    if expr.is_Add:
        return sympy.Add(*(_derivative(term, variable) for term in expr.args))
    if expr.is_Mul:
        factors = expr.args
        terms = []
        for k, factor in enumerate(factors):
            slope = _derivative(factor, variable)
            if slope != 0:
                terms.append(sympy.Mul(*factors[:k], slope, *factors[k + 1:]))
        return sympy.Add(*terms)
    if expr.is_Pow and variable not in expr.exp.free_symbols:
        return expr.exp * expr.base ** (expr.exp - 1) * _derivative(expr.base, variable)
    if isinstance(expr, (Sigmoid, Relu, sympy.exp, sympy.log, sympy.tanh, sympy.sin, sympy.cos)):
        return expr.fdiff(1) * _derivative(expr.args[0], variable)
    return sympy.diff(expr, variable)


def _indexes_a_layer(node: Sum) -> bool:
    """Whether the sum's index appears on a symbol with a layer (w^{2}_{kj}), which fixes its range."""
    return any(sym.layer is not None and any(isinstance(i, Sym) and i.base == node.index for i in sym.subs)
               for sym in symbols_in(node.body))


def _has_partial_atoms(expr) -> bool:
    return any(isinstance(a, PartialSym) for a in (expr.free_symbols if not is_matrix(expr) else ()))


def _topological(nodes: list[VName], edges) -> list[VName]:
    """``nodes`` with every node before the nodes it reads (outputs first)."""
    inside = set(nodes)
    order: list[VName] = []
    state: dict[VName, int] = {}
    for start in nodes:
        if start in state:
            continue
        stack = [(start, iter(edges(start)))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                if child in inside and state.get(child) == 1:
                    raise ModelProblem(f"the definition of ${latex(child)}$ refers to itself")
                if child in inside and child not in state:
                    state[child] = 1
                    stack.append((child, iter(edges(child))))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                state[node] = 2
                order.append(node)
    return list(reversed(order))


def _match(pattern, value, binds: dict[str, int], layers: int, is_layer: bool = False, first: int = 2) -> bool:
    if pattern is None:
        return value is None
    if isinstance(pattern, tuple):
        if pattern == ("L",):
            return value == layers
        letter = pattern[1]
        if not isinstance(value, int):
            return False
        if is_layer and letter == "l" and value < first:
            return False  # a definition written with the layer letter l holds for l = first, …, L
        if letter in binds:
            return binds[letter] == value
        binds[letter] = value
        return True
    return pattern == value


def _derivative_symbols(node: Node) -> list[Sym]:
    out = []
    for n in walk(node):
        if isinstance(n, Deriv):
            out.extend([n.num, n.den])
        elif isinstance(n, DerivOf):
            out.append(n.den)
    return out


def uses_letter(node: Node, letter: str) -> bool:
    for n in walk(node):
        if isinstance(n, Sym) and n.base == letter and not n.subs and n.layer is None:
            # only as an index or a layer: walk reaches index nodes through Sym.subs and Sym.layer
            return True
    return False


def _index_positions(node: Node) -> list[Node]:
    """Every index and layer node (not quantities) in a tree."""
    out: list[Node] = []
    for n in walk(node):
        if isinstance(n, Sym):
            out.extend(n.subs)
            if n.layer is not None:
                out.append(n.layer)
    return out


def is_implicit_sum(node: Sum) -> bool:
    """A Σ without an index, or whose summand never uses its index: the index is implicit (per sample)."""
    if node.index is None:
        return True
    for index in _index_positions(node.body):
        for n in walk(index):
            if isinstance(n, Sym) and n.base == node.index:
                return False
    return True


def has_implicit_sum(node: Node) -> bool:
    return any(isinstance(n, Sum) and is_implicit_sum(n) for n in walk(node))


def free_index_letters(nodes: list[Node]) -> tuple[list[str], list[str]]:
    """The free index letters of a claim: (layer letters, unit letters), each in order of appearance."""
    layer_letters: list[str] = []
    unit_letters: list[str] = []

    def visit(node: Node, bound: frozenset) -> None:
        if isinstance(node, Sum):
            inner = bound | ({node.index} if node.index else set())
            visit(node.body, inner)
            return
        if isinstance(node, Sym):
            for index in node.subs:
                for n in walk(index):
                    if is_index_letter(n) and n.base not in bound and n.base not in unit_letters:
                        unit_letters.append(n.base)
            if node.layer is not None:
                for n in walk(node.layer):
                    if is_index_letter(n) and n.base not in bound:
                        target = layer_letters if n.base == "l" else unit_letters
                        if n.base not in target:
                            target.append(n.base)
            return
        for child in _quantity_children(node):
            visit(child, bound)

    for node in nodes:
        visit(node, frozenset())
    unit_letters = [u for u in unit_letters if u not in layer_letters]
    return layer_letters, unit_letters


def label_letters(definitions: list[Definition]) -> frozenset[str]:
    """Index letters a definition's right side uses freely, bound neither by its left side nor by a Σ: a label
    such as the correct class y in L = −log p_y. A claim that binds the letter (p_k − 𝟙(y = k)) is checked
    for each of its values, the definition read at that value."""
    found = set()
    for definition in definitions:
        own = set(sum(free_index_letters([definition.lhs]), []))
        found.update(letter for letter in free_index_letters([definition.rhs])[1] if letter not in own)
    return frozenset(found)


def _quantity_children(node: Node) -> tuple[Node, ...]:
    """The operands of a node, but not a sum's bounds and body or a symbol's subscripts."""
    return () if isinstance(node, (Sum, Sym)) else children(node)


def layer_nodes(nodes: list[Node]) -> list[tuple[str, Node]]:
    out = []
    for node in nodes:
        for n in walk(node):
            if isinstance(n, Sym) and n.layer is not None:
                out.append((n.base, n.layer))
    return out


def instances(model: Model, nodes: list[Node]) -> list[dict[str, int]]:
    """Index bindings under which a claim is checked: layer letters over 2…L where every layer the claim names
    exists, then unit letters over their inferred ranges; at most `MAX_INSTANCES`, in order."""
    layer_letters, unit_letters = free_index_letters(nodes)
    layered = layer_nodes(nodes)
    layer_choices = []
    for combo in itertools.product(range(model.first_layer, model.L + 1), repeat=len(layer_letters)):
        binds = dict(zip(layer_letters, combo))
        ok = True
        for base, layer in layered:
            value = model.index_value(layer, binds, layer=True)
            if not isinstance(value, int):
                continue
            if value < model.first_layer - 1 or value > model.L or (base in PARAMETER_BASES
                                                                   and value < model.first_layer):
                ok = False
                break
        if ok:
            layer_choices.append(binds)
    head = nodes[0] if nodes and isinstance(nodes[0], Sym) else None
    if head is not None and model.has_output_rule(head):
        layer_choices = [b for b in layer_choices if model.index_value(head.layer, b, layer=True) != model.L]
    if layer_letters and not layer_choices:
        raise ModelProblem(f"no layer l = 2, …, L = {model.L} makes every layer of this claim exist")
    out: list[dict[str, int]] = []
    for binds in layer_choices or [{}]:
        ranges = []
        for letter in unit_letters:
            size = min(model.infer_size(letter, node, binds) for node in nodes
                       if uses_letter(node, letter)) if any(uses_letter(n, letter) for n in nodes) else DEFAULT_SIZE
            start = model.index_start(letter, nodes)
            ranges.append(range(start, start + size))
        for combo in itertools.product(*ranges):
            out.append({**binds, **dict(zip(unit_letters, combo))})
            if len(out) >= MAX_INSTANCES:
                return out
    return out
