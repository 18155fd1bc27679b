"""Deciding a document's claims: classification, steps, counterexamples, likely slips, chain-rule structure.

See `derive.verify` for the rules a reader needs; this module implements them.
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field, fields, is_dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import ContextManager

import mpmath
import sympy

from .. import clock
from ..errors import Message, message
from ..notation import SIGNIFICANT_DIGITS, latex, matrix_latex, number_latex
from .directives import cut_at_scopes, read_directives
from .tables import table_equations
from .printed import align, as_printed, printed_entries, printed_number
from .document import (MAX_DOCUMENT_BYTES, ORDER, Chunk, DocumentProblem, Equation, Lines, check_text, equations,
                       find_maths)
from .own_tex import OWN_DOCUMENT_BYTES, Trusted, pass_over_own
from .point import PointValues, rational_point
from .model import (ABSENT, opaque_symbols, DEFAULT_LAYERS, PARAMETER_BASES, DSum, Definition, Model, ModelProblem, PartialSym,
                    Relu, Sigmoid, TooLarge, VName,
                    display, entries, free_index_letters, has_implicit_sum, instances, is_index_letter,
                    is_matrix, label_letters, layer_reach, overrides, pattern_parts, patterns_unify, reads_arrays,
                    scalar_layers, symbols_in, vector_bases, array_readings)
from .syntax import Sum as SumNode
from .syntax import Matrix as MatrixNode
from .syntax import (Add, Deriv, DerivOf, Func, Mul, Node, Num, Sym, SyntaxProblem, Transpose, Word, children,
                     has_derivative, has_integer_superscripts, is_numeric, layered_bases, parse_member, quote, walk)

SHAPE_ERRORS = (sympy.ShapeError, sympy.NonSquareMatrixError)

NUMERIC_POINTS = 4
DOCUMENT_BUDGET = 30
"""A whole document gets at most this many times the per-claim time limit; later claims are then undecided."""
MAX_POINT_TRIES = 40
SYMBOLIC_SIZE_LIMIT = 300
CANCEL_SIZE_LIMIT = 120


# --- the report ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counterexample:
    point: tuple[tuple[str, float], ...]
    lhs_value: float
    rhs_value: float


@dataclass(frozen=True)
class Slip:
    """A likely slip: ``kind`` is factor, sign, missing_factor, extra_factor, index_swap, layer_index,
    not_edge, missing_link, missing_path or duplicate_path; ``params`` fill the catalog sentence (LaTeX)."""
    kind: str
    params: tuple[tuple[str, str], ...] = ()
    corrected: str | None = None
    """The author's right side with the slip undone (LaTeX), when derive found the one change that makes the step
    hold: the correct right side in the author's own form."""

    def param(self, key: str) -> str:
        return dict(self.params)[key]

    @property
    def name(self) -> str:
        """The slip's name in the report's vocabulary (sign, factor, index_swap, transpose, missing_factor,
        extra_factor, missing_gate, wrong_sum, layer_index, grouping, …): variants of a sentence share a name."""
        return SLIP_NAMES.get(self.kind, self.kind)


SLIP_NAMES = {"sign_term": "sign", "factor_term": "factor", "extra_symbol": "extra_factor", "missing_symbol": "missing_factor",
              "missing_path": "wrong_sum", "duplicate_path": "wrong_sum"}


@dataclass(frozen=True)
class StepResult:
    index: int
    lhs: str
    rhs: str
    ok: bool | None
    counterexample: Counterexample | None = None
    expected: str | None = None
    slip: Slip | None = None
    method: str = "symbolic"  # symbolic numeric structure point definition timeout limit
    note: str | None = None
    relation: str = "="  # as written: "=" (the sides are equal), "neq" (they are not the same expression) or an
    # order "le", "ge", "lt", "gt" (a bound between their values)


@dataclass(frozen=True)
class ClaimResult:
    line: int
    claim: str
    ok: bool | None
    reading: str | None
    steps: tuple[StepResult, ...]
    members: tuple[str, ...]
    instances: int = 1
    free_indices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """Maths not checked: a piece that is no relation (``reason`` None), or a relation that could not be read
    (``reason`` says why; the document goes on, and the report cannot say everything holds: exit 4)."""
    line: int
    text: str
    reason: str | None = None


@dataclass(frozen=True)
class DefinitionRead:
    line: int
    latex: str


@dataclass(frozen=True)
class Reading:
    """A convention derive detected (or was told) and read the document by: ``kind`` names the catalog
    sentence (verify.convention.KIND), ``params`` fill it (LaTeX)."""
    kind: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReportError:
    line: int | None
    message: str  # English, as reports and JSON carry it
    localized: Message | None = None  # the same sentence in every language, when the catalogs hold it

    @classmethod
    def of(cls, line: int | None, sentence: Message) -> "ReportError":
        return cls(line, sentence.render("en"), sentence)

    def text(self, lang: str) -> str:
        return self.localized.render(lang) if self.localized is not None else self.message


@dataclass(frozen=True)
class Report:
    """What `derive verify` found. ``exit_code``: 0 every claim holds, 1 a claim is wrong, 2 the input cannot be
    read (``error``), 4 a claim could not be decided within the limits and none is wrong."""
    claims: tuple[ClaimResult, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    definitions: tuple[DefinitionRead, ...] = ()
    error: ReportError | None = None
    readings: tuple[Reading, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok is True for c in self.claims)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return 2
        if any(c.ok is False for c in self.claims):
            return 1
        if any(c.ok is None for c in self.claims) or self.unread:
            return 4
        return 0

    @property
    def unread(self) -> tuple[Skipped, ...]:
        """The relations that could not be read."""
        return tuple(s for s in self.skipped if s.reason is not None)


class Problem(Exception):
    """Input that cannot be read: exit 2 with the line."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line, self.message = line, message


# --- time limits -----------------------------------------------------------------------------------------------

class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` inside SymPy swallows it."""


def time_limit(seconds: float | None) -> ContextManager[None]:
    """Interrupt the block after ``seconds`` with `_Timeout` (`derive.clock.time_limit`)."""
    return clock.time_limit(seconds, _Timeout)


# --- classification --------------------------------------------------------------------------------------------

_DERIVATIVE_MARK = re.compile(
    r"\\partial(?![A-Za-z])|\u2202|\\[dtc]?frac\s*\{\s*(?:d|\\(?:mathrm|operatorname|text)\s*\{\s*d\s*\})"
    r"(?=\s*[A-Za-z\\}])|(?<![A-Za-z\\])d[A-Za-z]\s*/\s*d[A-Za-z]|\\sigma\s*'|\\sigma\s*\^\s*\{?\s*\\prime|\\nabla")
_BASE_LIKE = r"(?:\\[A-Za-z]+\s*(?:\{[^{}]*\})?|[A-Za-z])"
_SYMBOL_LIKE = re.compile(r"^\s*(?:" + _BASE_LIKE + r"|\{\s*" + _BASE_LIKE + r"\s*\})"
                          r"\s*(?:(?:[_^]\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}"
                          r"|\\[A-Za-z]+|[A-Za-z0-9]))|'|\s)*$")


@dataclass
class _Eq:
    source: Equation
    members: list[Node]
    kind: str  # claim, candidate, value
    given: bool = False  # a binding of a `given` directive: defines, never a claim


def _parse(equation: Equation, index: int, layered: frozenset[str], tags: frozenset[Sym] = frozenset()) -> Node:
    try:
        return parse_member(equation.members[index], layered, tags)
    except SyntaxProblem as exc:
        raise Problem(equation.line, str(exc)) from None
    except RecursionError:
        raise Problem(equation.line, "the formula is nested too deeply") from None


def classify(equation: Equation, layered: frozenset[str], tags: frozenset[Sym] = frozenset()) -> _Eq | None:
    """A definition candidate or a value (left side one symbol), else a claim (a derivative, an identity, a
    computation with numbers, the chain after an assignment's arrow)."""
    first = equation.members[0]
    if equation.assigns is not None:
        return _Eq(equation, [_parse(equation, k, tags=tags, layered=layered) for k in range(len(equation.members))],
                   "claim")
    if "neq" in equation.relations or not ORDER.keys().isdisjoint(equation.relations):
        # a ≠ or a bound defines nothing: the sides are compared, whatever stands on the left
        return _Eq(equation, [_parse(equation, k, layered, tags) for k in range(len(equation.members))], "claim")
    if _DERIVATIVE_MARK.search(first):
        members = [_parse(equation, k, layered, tags) for k in range(len(equation.members))]
        if not has_derivative(members[0]):
            raise Problem(equation.line, "the left side looks like a derivative but cannot be read as one")
        return _Eq(equation, members, "claim")
    if _SYMBOL_LIKE.match(first):
        lhs = _parse(equation, 0, layered, tags)
        if isinstance(lhs, Sym):
            members = [lhs] + [_parse(equation, k, layered, tags) for k in range(1, len(equation.members))]
            if len(members) == 2 and is_numeric(members[1]) and not _has_index_letters(lhs) \
                    and equation.relations[0] != "def":  # N := 2 defines a constant (a size), never a variable
                return _Eq(equation, members, "value")
            return _Eq(equation, members, "candidate")
    # an expression on the left (an identity, a product of numbers): a claim about the sides' values
    return _Eq(equation, [_parse(equation, k, layered, tags) for k in range(len(equation.members))], "claim")


def _has_index_letters(sym: Sym) -> bool:
    nodes = list(sym.subs) + ([sym.layer] if sym.layer is not None else [])
    return any(is_index_letter(n) for node in nodes for n in walk(node))


@dataclass
class Document:
    claims: list[_Eq]
    definitions: list[Definition]
    values: list[tuple[int, Sym, Fraction]]
    skipped: list[Skipped]
    layers: int
    vectors: frozenset = frozenset()
    first_layer: int = 2
    constraints: tuple[tuple[str, str | None, Fraction, tuple[str, ...], int], ...] = ()
    readings: tuple[Reading, ...] = ()
    scalars: frozenset = frozenset()
    functions: dict = field(default_factory=dict)
    function_definitions: tuple = ()
    abstract: dict = field(default_factory=dict)
    strict_numbers: bool = False
    output: VName | None = None  # the `output` directive: its partials are gradients, other partials local
    assignments: list[tuple[int, Sym, Node]] = field(default_factory=list)  # x ← e: (line, x, e), in order
    assigned: list[tuple[int, VName, Fraction]] = field(default_factory=list)  # their values, from the line after
    labels: frozenset = frozenset()  # index letters the definitions use freely (`label_letters`)
    timeline: list | None = None  # values and assignments by when they are seen, made once
    visible: dict = field(default_factory=dict)  # `visible_values` by which values a line sees
    retired: list = field(default_factory=list)
    """Every dict `visible_values` gave out before `forget_visible`, kept alive for the document's life: the models
    and the claims' keys are keyed by such a dict's id(), which a new dict could take over once the old one is freed."""
    models: dict = field(default_factory=dict)
    """The claims' models, one per set of visible values and labels: claims that see the same values share one,
    and with it its caches (a page of a long chain has hundreds of claims on one graph)."""
    point_values: dict = field(default_factory=dict)
    """Each model's `PointValues`: the numbers its names have at its point, worked out once for all its claims."""


_LAYERS_FROM = re.compile(r"(?m)(?:^[ \t]*%+[ \t]*derive:|<!--[ \t]*derive:|^)[ \t]*layers-from[ \t]*[=:][ \t]*([12])\b")


def layer_numbering(text: str, definitions: list[Definition], layered: frozenset[str]) -> tuple[int, Reading | None]:
    """Where weights start: a ``layers-from=N`` comment (``% derive: layers-from=1``, ``<!-- derive: … -->`` or a
    front-matter line) decides; else weights numbered 1 (W^{(1)}, b^{[1]}) mean the input is layer 0."""
    first, powers = _page_numbering(text)
    if first is not None:
        return first, Reading(f"layers_from_{first}", (("how", "set"),))
    weights_at_one = any(isinstance(s.layer, Num) and s.layer.value == 1 and s.base in PARAMETER_BASES
                         for d in definitions for s in [d.lhs] + symbols_in(d.rhs))
    if weights_at_one:
        return 1, Reading("layers_from_1", (("how", "detected"),))
    if layered:
        return 2, Reading("layers_from_2", (("how", "detected"),))
    return 2, Reading("powers") if powers else None


@lru_cache(maxsize=4)
def _page_numbering(text: str) -> tuple[int | None, bool]:
    """A page's ``layers-from`` setting, and whether it writes integer superscripts: searched once per page, not
    once per scope."""
    override = _LAYERS_FROM.search(text)
    return (int(override.group(1)) if override else None), has_integer_superscripts(text)


page_lines = lru_cache(maxsize=4)(Lines)
"""`Lines` of a page, made once for all its scopes (read only)."""


_FUNCTION_DEFINITION = re.compile(r"^\s*([fgh])\s*(?:\\left\s*)?\(\s*([A-Za-z])\s*(?:\\right\s*)?\)\s*$")
"""``f(z) = …``: a function of one variable the document defines (f(w, x) with two is not read)."""
_FUNCTION_ALIAS = re.compile(r"^\s*([fgh])\s*$")
_GIVEN_ACTIVATION = re.compile(r"^\s*\\(sigma)\s*(?:\\left\s*)?\(\s*([A-Za-z])\s*(?:\\right\s*)?\)\s*$")
"""``\\sigma(z) = …`` in a `given` directive: the activation σ the page means (ReLU, tanh, …), which σ and σ' then
stand for in the scope (σ' differentiated from it, never assumed); σ is the logistic sigmoid otherwise. Printed
maths never redefines σ: a printed σ(z) = … is a claim."""
_BARE_FUNCTION = re.compile(r"^\s*\\(?:[A-Za-z]+|(?:operatorname|mathrm)\s*\{[A-Za-z]+\})\s*$")


_ARGUMENT = r"(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\[A-Za-z]+(?:\{[A-Za-z]\})?)"
_ARGUMENT_LIST = re.compile(r"(?<![\\A-Za-z_^{}])((?:\\(?:tilde|hat|bar|mathcal)\s*\{\s*[A-Za-z]\s*\})|[A-Za-z])"
                            r"\s*\(\s*" + _ARGUMENT + r"(?:\s*[,;]\s*" + _ARGUMENT + r")+\s*\)")


def without_argument_lists(equation: Equation) -> Equation:
    """``f(w, x) = σ(wx)`` and ``\\tilde{J}(w; X, y) = J(w; X, y) + …``: a name with a list of its arguments is
    the quantity itself (f, J̃, and J a cost the document only names, an abstract quantity)."""
    members = tuple(_ARGUMENT_LIST.sub(lambda m: m.group(1), member) for member in equation.members)
    return equation if members == equation.members else replace(equation, members=members)


def _function_definition(equation: Equation, given: bool = False) -> tuple[str, str, str] | None:
    """(name, variable, body as written) of ``f(z) = …``, or of ``h = \\tanh`` (a function named by another
    one's name, read as h(u) = tanh(u)), or, ``given`` (a binding), of ``\\sigma(z) = …`` (`_GIVEN_ACTIVATION`);
    None for any other equation."""
    if len(equation.members) != 2 or equation.relations[0] == "approx":
        return None
    left, right = equation.members
    activation = _GIVEN_ACTIVATION.match(left) if given else None
    if activation:
        return activation.group(1), activation.group(2), right
    named = _FUNCTION_DEFINITION.match(left)
    if named:
        return named.group(1), named.group(2), right
    alias = _FUNCTION_ALIAS.match(left)
    if alias and _BARE_FUNCTION.match(right):
        return alias.group(1), "u", right.strip() + "(u)"
    return None


def constraint_of(equation: Equation, layered: frozenset[str], tags: frozenset[Sym] = frozenset()
                  ) -> tuple[str, str | None, Fraction, tuple[str, ...], int] | None:
    """``\\sum_k t_k = 1`` (a condition on all the t_k): (base, decoration, total, index letters as written, position of
    the summed one), else None. ``\\sum_k t_{nk} = 1`` holds for every n: the other letters are free."""
    if len(equation.members) != 2 or equation.relations[0] != "=" or "sum" not in equation.members[0]:
        return None
    try:
        lhs, rhs = (parse_member(m, layered, tags) for m in equation.members)
    except SyntaxProblem:
        return None
    body = lhs.body if isinstance(lhs, SumNode) else None
    if not (isinstance(body, Sym) and body.layer is None and body.subs and isinstance(rhs, Num)
            and all(isinstance(i, Sym) and not i.subs and i.layer is None for i in body.subs)):
        return None
    letters = tuple(i.base for i in body.subs)
    if letters.count(lhs.index) != 1 or len(set(letters)) != len(letters):
        return None
    return body.base, body.decor, rhs.value, letters, letters.index(lhs.index)


def read_scope(text: str, chunks: list[Chunk], given: tuple[Equation, ...],
               layered: frozenset[str] | None = None, rows: tuple[Equation, ...] = ()) -> Document:
    """The claims, definitions and values of one scope: its maths ``chunks``, its ``given`` bindings (see
    `derive.verify.directives`) and the claims of its tables' ``rows`` (`derive.verify.tables`)."""
    lines = page_lines(text)
    found: list[Equation] = list(rows)
    skipped: list[Skipped] = []
    try:
        for chunk in chunks:
            eqs, pieces = equations(chunk, lines)
            found.extend(eqs)
            skipped.extend(Skipped(p.line, p.text) for p in pieces if p.relation)  # no relation: no claim
    except DocumentProblem as exc:
        raise Problem(exc.line, exc.message) from None
    found = [without_argument_lists(equation) for equation in found]

    classified: list[_Eq] = []
    if layered is None:
        layered = layered_bases(" ".join(chunk.text for chunk in chunks))
    tags = value_letters(given, layered)
    # a `given` condition on the data (Σ_k t_{nk} = 1) is honoured like a stated one; every other binding defines
    given_constraints = [constraint_of(equation, layered, tags) for equation in given]
    # … or names a function (g(s) = s(1 − s)), which the scope's maths may apply
    bindings = [_given(equation, layered, tags) for equation, c in zip(given, given_constraints)
                if c is None and _function_definition(equation, given=True) is None]
    assignments: list[tuple[int, Sym, Node]] = []
    constraints: list[tuple[str, str | None, Fraction, tuple[str, ...], int]] = [c for c in given_constraints if c]
    functions: dict[str, tuple[str, Node]] = {}
    stated: dict[tuple[str, str], int] = {}  # each assignment's text, by the line it is first printed on
    function_lines: list[DefinitionRead] = []
    for equation in given:
        function = _function_definition(equation, given=True)
        if function is not None:
            name, variable, body_text = function
            try:
                functions[name] = (variable, parse_member(body_text, layered, tags))
            except SyntaxProblem as exc:
                raise Problem(equation.line, str(exc)) from None
    for equation in found:
        if equation.assigns is not None:
            if stated.setdefault(("".join(equation.assigns.split()), equation.text), equation.line) != equation.line:
                continue  # the same assignment printed again (a TeX page's chain in another layout): one statement

            try:
                target = parse_member(equation.assigns, layered, tags)
                value = _parse(equation, 0, layered, tags)
            except (SyntaxProblem, Problem) as exc:
                skipped.append(Skipped(equation.line, equation.text, str(exc)))
                continue
            if not isinstance(target, Sym):
                skipped.append(Skipped(equation.line, equation.text, "the left side of ← is not one symbol"))
                continue
            assignments.append((equation.line, target, value))
            if len(equation.members) < 2:
                continue
        constraint = constraint_of(equation, layered, tags)
        if constraint is not None:
            constraints.append(constraint)
            continue
        function = _function_definition(equation)
        if function is not None:
            name, variable, body_text = function
            try:
                body = parse_member(body_text, layered, tags)
            except SyntaxProblem as exc:
                skipped.append(Skipped(equation.line, equation.text, str(exc)))
                continue
            functions[name] = (variable, body)
            function_lines.append(DefinitionRead(equation.line, f"{name}({variable}) = " + latex(display(body))))
            continue
        try:
            item = classify(equation, layered, tags)
        except Problem as exc:
            skipped.append(Skipped(equation.line, equation.text, exc.message))
            continue
        if item is None:
            skipped.append(Skipped(equation.line, equation.text))
        else:
            classified.append(item)

    classified = bindings + classified
    approximate = [e for e in classified if e.kind in ("candidate", "value") and e.source.relations[0] == "approx"]
    classified = [e for e in classified if e not in approximate]  # y ≈ 0.73 never defines y
    candidates = [e for e in classified if e.kind == "candidate"]
    componentwise = _componentwise_definitions(candidates, classified)
    indexed = [Definition(e.source.line, e.members[0], m, "") for e in candidates for m in e.members[1:]]
    vectors = vector_bases(indexed)
    scalars = scalar_layers(indexed)
    for item in candidates:
        lhs = item.members[0]
        if lhs.layer is not None and not lhs.subs and lhs.base in vectors and (lhs.base, lhs.layer) not in scalars:
            item.kind = "claim"  # z^{l} = … in matrix form, about the components the definitions define
    candidates = [e for e in candidates if e.kind == "candidate"]
    first = [e for e in candidates if e.given] + [
        e for e in candidates if not e.given and (e.source.relations[0] == "def" or isinstance(e.members[1], Deriv))]
    ordered = first + [e for e in candidates if e not in first]
    definitions: list[Definition] = []
    patterns: list[tuple] = []
    claims: list[_Eq] = [e for e in classified if e.kind == "claim"]
    vectors = vector_bases([Definition(e.source.line, e.members[0], e.members[1], "") for e in candidates])
    for item in ordered:
        try:
            pattern = pattern_parts(item.members[0])
        except ModelProblem as exc:
            if restates(item.members[0], definitions):  # δ^{l+1}_k = … once δ^{l}_j is defined: a claim about it
                claims.append(item)
            else:
                skipped.append(Skipped(item.source.line, item.source.text, str(exc)))
            continue
        if any(patterns_unify(pattern, p) and not (item.given and overrides(pattern, p)) for p in patterns):
            if item.given:
                raise Problem(item.source.line, f"«{item.source.text}» is given twice in one scope")
            claims.append(item)
            continue
        patterns.append(pattern)
        definitions.append(Definition(item.source.line, item.members[0], item.members[1], item.source.text))
        if len(item.members) > 2:
            claims.append(item)
    values: list[tuple[int, Sym, Fraction]] = []
    given_values: list[tuple] = []
    first_layer, numbering = layer_numbering(text, definitions, layered)
    for item in classified:
        if item.kind != "value":
            continue
        lhs = item.members[0]
        components = [pattern_parts(sym) for sym, _ in _components(lhs, item.members[1])]
        if given_values and any(patterns_unify(c, p) for c in components for p in given_values):
            item.kind = "forward"  # a printed value of a given symbol: checked against the binding
            claims.append(item)
            continue
        if item.given:
            given_values.append(pattern_parts(lhs))
        defined = any(patterns_unify(c, p, first_layer) for c in components for p in patterns)
        if lhs.layer is not None and not lhs.subs and lhs.base in vectors and (lhs.base, lhs.layer) not in scalars \
                and (defined or not isinstance(item.members[1], MatrixNode)):
            item.kind = "claim"  # a vector the definitions compute (a vector written out of one they do not: values)
            claims.append(item)
            continue
        if defined:
            item.kind = "forward"
            claims.append(item)
            continue
        try:
            values += _values(item.source.line, item.members[0], item.members[1])
        except Problem as exc:
            skipped.append(Skipped(item.source.line, item.source.text, exc.message))
    for item in approximate:
        if any(patterns_unify(pattern_parts(item.members[0]), p) for p in patterns):
            item.kind = "forward"
            claims.append(item)
            classified.append(item)
        else:
            skipped.append(Skipped(item.source.line, item.source.text))
    order = {id(e): k for k, e in enumerate(classified)}
    claims.sort(key=lambda e: (e.source.line, order[id(e)]))
    skipped.sort(key=lambda s: s.line)
    readings = [numbering] * (numbering is not None) + [Reading("constraint", (("base", latex(display(Sym(base, decor, 0, None, tuple(Sym(i) for i in letters))))),
                                                      ("total", str(total))))
                              for base, decor, total, letters, _ in constraints]
    readings += [Reading("componentwise", (("vector", vector), ("component", component)))
                 for vector, component in componentwise]
    claimed_letters = {letter for item in claims for letter in free_index_letters(item.members)[1]}
    labels = label_letters(definitions)
    readings += [Reading("label", (("name", letter),)) for letter in sorted(labels & claimed_letters)]
    if _uses_kronecker(claims, definitions):
        readings.append(Reading("kronecker"))
    layers = _layers(definitions, values, first_layer + layer_reach([m for item in claims for m in item.members]))
    abstract = abstract_quantities(claims, patterns, layers)
    readings += [Reading("abstract", (("name", latex(name)),
                                      ("variables", ", ".join(latex(v) for v in variables))))
                 for name, variables in abstract.items()]
    readings += [Reading("vector", (("vector", latex(display(bare))), ("component", latex(display(component)))))
                 for bare, component in array_readings([item.members for item in claims], definitions)]
    readings += [Reading("function", (("name", letter),))
                 for letter in abstract_functions(classified, functions, definitions)]
    return Document(claims, sorted(definitions, key=lambda d: d.line), values, skipped,
                    layers, vector_bases(definitions), first_layer, tuple(constraints),
                    tuple(readings), scalars, functions, tuple(function_lines), abstract, assignments=assignments,
                    labels=labels)


def _componentwise_definitions(candidates: list[_Eq], classified: list[_Eq]) -> list[tuple[str, str]]:
    """Read ``a^{(1)} = x`` component by component (a^{(1)}_j = x_j) when the document writes both sides with one
    index elsewhere (a^{(1)}_j, x_j): a layer given as a vector by name. Rewrites those candidates in place and
    returns (as written, as read) for each, in LaTeX."""
    one_index = {(s.base, s.decor, s.primes, s.layer) for e in classified for m in e.members for s in symbols_in(m)
                 if len(s.subs) == 1}
    done = []
    for item in candidates:
        lhs, rhs = item.members[0], item.members[-1]
        if not (len(item.members) == 2 and not item.given and lhs.layer is not None and not lhs.subs
                and isinstance(rhs, Sym) and rhs.layer is None and not rhs.subs
                and (lhs.base, lhs.decor, lhs.primes, lhs.layer) in one_index
                and (rhs.base, rhs.decor, rhs.primes, None) in one_index):
            continue
        index = (Sym("j"),)
        item.members = [replace(lhs, subs=index), replace(rhs, subs=index)]
        done.append((f"{latex(display(lhs))} = {latex(display(rhs))}",
                     f"{latex(display(item.members[0]))} = {latex(display(item.members[1]))}"))
    return done


def value_letters(given: tuple[Equation, ...], layered: frozenset[str]) -> frozenset[Sym]:
    """The symbols a scope's `given` bindings set to a number (w = 1, y' = 5): as a subscript (g_w, g_{y'}) such a
    symbol names that variable, not an index."""
    found = set()
    for equation in given:
        if len(equation.members) != 2:
            continue
        try:
            lhs, value = (parse_member(member, layered) for member in equation.members)
        except SyntaxProblem:
            continue
        if isinstance(lhs, Sym) and lhs.layer is None and lhs.decor is None and is_numeric(value) \
                and all(isinstance(s, (Num, Word)) for s in lhs.subs):
            found.add(lhs)
    return frozenset(found)


def _given(equation: Equation, layered: frozenset[str], tags: frozenset[Sym] = frozenset()) -> _Eq:
    """A binding of a `given` directive: a definition or a value, never a claim."""
    item = classify(equation, layered, tags)
    if item is None or item.kind == "claim" or len(item.members) != 2 or equation.relations[0] == "approx":
        raise Problem(equation.line, f"a `given` binding defines one symbol, «{equation.text}» does not")
    item.given = True
    return item


def abstract_quantities(claims: list[_Eq], patterns: list[tuple], layers: int) -> dict[VName, tuple[VName, ...]]:
    """Symbols a claim differentiates (∂C_0/∂w) that no definition gives: each an abstract function of the
    variables it is differentiated by. Only symbols without index letters (C_0, J, not E_j)."""
    naming = Model([], {}, layers)
    found: dict[VName, set[VName]] = {}
    for item in claims:
        for member in item.members:
            for node in walk(member):
                if not isinstance(node, Deriv) or _has_index_letters(node.num) or _has_index_letters(node.den):
                    continue
                try:
                    if any(patterns_unify(pattern_parts(node.num), p) for p in patterns):
                        continue
                    found.setdefault(naming.name(node.num, {}), set()).add(naming.name(node.den, {}))
                except ModelProblem:
                    continue
    return {name: tuple(sorted(variables, key=lambda v: v.name)) for name, variables in found.items()}


def restates(lhs: Sym, definitions: list[Definition]) -> bool:
    """Whether a left side that cannot define (a layer l + 1, an index j + 1) names a quantity already defined
    with as many indices and a layer: the equation is then a claim about that quantity."""
    return any(d.lhs.base == lhs.base and d.lhs.decor == lhs.decor and d.lhs.primes == lhs.primes
               and len(d.lhs.subs) == len(lhs.subs) and (d.lhs.layer is None) == (lhs.layer is None)
               for d in definitions)


def abstract_functions(items: list[_Eq], functions: dict, definitions: list[Definition]) -> list[str]:
    """The letters written as functions (f(z), g'(u)) that the document neither defines as a function nor as a
    quantity (g = σ(v) makes g(1 − g) a product): read as abstract functions."""
    quantities = {d.lhs.base for d in definitions if not d.lhs.subs and d.lhs.layer is None}
    found = {n.name.split(":")[1] for item in items for member in item.members for n in walk(member)
             if isinstance(n, Func) and n.name.startswith("applied:")}
    found |= {n.name.split(":")[1] for d in definitions for n in walk(d.rhs)
              if isinstance(n, Func) and n.name.startswith("applied:")}
    return sorted(found - set(functions) - quantities)


def _uses_kronecker(claims: list[_Eq], definitions: list[Definition]) -> bool:
    defined = any(d.lhs.base == "delta" and len(d.lhs.subs) == 2 for d in definitions)
    return not defined and any(isinstance(n, Sym) and n.base == "delta" and len(n.subs) == 2 and n.layer is None
                               for item in claims for member in item.members for n in walk(member))


def _components(lhs: Sym, rhs: Node) -> list[tuple[Sym, Node]]:
    """(symbol, written value) for each value a line gives: one, or one per entry of a vector or matrix written out
    (a^{1} = (1, 0.5)ᵀ gives a^{1}_{1} and a^{1}_{2}; W^{2} gives w^{2}_{ji} by row j and column i)."""
    if not isinstance(rhs, MatrixNode) or lhs.subs:
        return [(lhs, rhs)]
    base = "w" if lhs.base == "W" and lhs.layer is not None else lhs.base
    column = len(rhs.rows[0]) == 1
    return [(Sym(base, lhs.decor, lhs.primes, lhs.layer, (_index(j),) if column else (_index(j), _index(i))), entry)
            for j, row in enumerate(rhs.rows, 1) for i, entry in enumerate(row, 1)]


def _values(line: int, lhs: Sym, rhs: Node) -> list[tuple[int, Sym, Fraction]]:
    return [(line, sym, _numeric_value(value, line)) for sym, value in _components(lhs, rhs)]


def _index(k: int) -> Num:
    return Num(Fraction(k), str(k))


def _numeric_value(node: Node, line: int) -> Fraction:
    model = Model([], {}, DEFAULT_LAYERS)
    try:
        value = model.conc(node, {})
    except ModelProblem as exc:
        raise Problem(line, str(exc)) from None
    if is_matrix(value):
        raise Problem(line, "a vector or matrix here needs a name of its own")
    if not value.is_Rational:
        value = sympy.nsimplify(value.evalf(30), rational=True) if value.is_real else None
    if value is None or not value.is_Rational:
        raise Problem(line, "cannot read this value")
    return Fraction(int(value.p), int(value.q))


def _layers(definitions: list[Definition], values: list[tuple[int, Sym, Fraction]], least: int = 0) -> int:
    """L: the document's value, else its largest numbered layer, else `DEFAULT_LAYERS` or ``least`` if more (the
    claims reach δ^{l+2})."""
    for _, sym, value in values:
        if sym.base == "L" and not sym.subs and sym.layer is None and value.denominator == 1 and 2 <= value <= 50:
            return int(value)
    numbered = [int(d.lhs.layer.value) for d in definitions if isinstance(d.lhs.layer, Num)]
    return max(numbered) if numbered and max(numbered) >= 2 else max(DEFAULT_LAYERS, least)


def visible_values(document: Document, line: int) -> dict[VName, Fraction]:
    """For each symbol, its latest value at or before ``line`` (an assignment ``x ← e`` from the line after its
    own), else its first value after it (one dict for every line that sees the same values: the claims that share it
    share a model too)."""
    if document.timeline is None:
        model = Model([], {}, document.layers)
        document.timeline = sorted(
            [((value_line, 0), model.name(sym, {}), value) for value_line, sym, value in document.values]
            + [((value_line, 1), name, value) for value_line, name, value in document.assigned],
            key=lambda entry: entry[0])
    key = tuple(value_line < line or value_line == line and not late
                for (value_line, late), _, _ in document.timeline)
    if key not in document.visible:
        before: dict[VName, Fraction] = {}
        after: dict[VName, Fraction] = {}
        for seen, (_, name, value) in zip(key, document.timeline):
            if seen:
                before[name] = value
            elif name not in after:
                after[name] = value
        document.visible[key] = {**after, **before}
    return document.visible[key]


def inherit_assignments(document: Document, values: dict[VName, Fraction], own: tuple[Equation, ...],
                        layered: frozenset[str], tags: frozenset[Sym], line: int) -> None:
    """A scope ``from EARLIER`` goes on with the values EARLIER's assignments left (after its `given` line, so that
    they replace EARLIER's bindings of the same symbols), except for symbols it binds itself."""
    model = Model([], {}, document.layers)
    mine = set()
    for equation in own:
        try:
            mine.add(model.name(parse_member(equation.members[0], layered, tags), {}))
        except (SyntaxProblem, ModelProblem, AttributeError):
            continue
    document.assigned[:0] = [(line, name, value) for name, value in values.items() if name not in mine]
    forget_visible(document)


def settle_assignments(document: Document, known: "ClaimCache | None" = None,
                       scope: "ScopeKey | None" = None) -> None:
    """The value of each assignment ``x ← e``, in order: e at the values visible on its line (earlier assignments
    included), exact, or to 40 digits when irrational. An assignment whose value cannot be computed (a symbol
    without a value) leaves x as it was. ``known``: values worked out before in a scope with the same bindings
    (``scope``: this one's `ClaimCache.scope_key`)."""
    for line, target, value_node in document.assignments:
        values = visible_values(document, line)
        key = None if known is None or scope is None else known.assignment_key(scope, values, target, value_node)
        if key is not None and key in known.assigned:
            settled = known.assigned[key]
        else:
            settled = _assignment_value(document, values, target, value_node)
            if key is not None:
                known.assigned[key] = settled
        if settled is not None:
            document.assigned.append((line, *settled))
            forget_visible(document)


def _assignment_value(document: Document, values: dict[VName, Fraction], target: Sym,
                      value_node: Node) -> tuple[VName, Fraction] | None:
    model = Model(document.definitions, values, document.layers, vectors=document.vectors,
                  scalars=document.scalars, functions=document.functions, abstract=document.abstract,
                  first_layer=document.first_layer, output=document.output)
    try:
        name = model.name(target, {})
        concrete = model.conc(value_node, {})
        if is_matrix(concrete):
            return None  # a whole matrix assigned (W ← W − η ∂C/∂W) sets no one symbol's value
        value = PointValues(model, EXACT_DIGITS).number(concrete)
        if value is None:
            point = rational_point(values)
            value = model.full(concrete).xreplace(point)
    except (ModelProblem, TooLarge) + SHAPE_ERRORS:
        return None
    if value.free_symbols or is_matrix(value) or not value.is_number or value.is_real is False:
        return None
    exact = value if value.is_Rational else sympy.Rational(str(sympy.N(value, 40)))
    return name, Fraction(int(exact.p), int(exact.q))


def forget_visible(document: Document) -> None:
    """The values each line sees change with each assignment settled: `visible_values` works them out again."""
    document.timeline = None
    document.retired.extend(document.visible.values())
    document.visible.clear()


# --- evaluation ------------------------------------------------------------------------------------------------

def evaluate(expr: sympy.Expr, point: dict) -> float | None:
    """``expr`` at a point, with 30-digit arithmetic; None where it is not a finite real number."""
    return evaluate_all([expr], point)[0]


def evaluate_all(exprs: list[sympy.Expr], point: dict) -> list[float | None]:
    """Each of ``exprs`` at one point (as `evaluate`), sharing the values of common subexpressions: both sides of
    a step unroll to the same definitions."""
    out: list[float | None] = []
    with mpmath.workdps(30):
        numbers = {k: _mpf(v) for k, v in point.items()}
        memo: dict = {}
        for expr in exprs:
            try:
                value = _fast(expr, numbers, memo)
            except (_NotReal, ZeroDivisionError, OverflowError, ValueError, TypeError):
                value = None
            number = None if value is None else float(value)
            out.append(None if number is None or number != number or abs(number) == float("inf") else number)
    return out


class _NotReal(Exception):
    pass


def _mpf(value):
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    if isinstance(value, sympy.Rational):
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(value)


def _fast(expr, point: dict, memo: dict):
    """A tree walk with mpmath numbers: much faster than rebuilding SymPy expressions to evaluate them."""
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        if expr not in point:
            raise _NotReal()
        value = point[expr]
    elif expr.is_Number:
        if expr.is_Rational:
            value = mpmath.mpf(int(expr.p)) / int(expr.q)
        elif expr.is_Float:
            value = mpmath.mpf(expr)
        else:
            raise _NotReal()
    elif expr is sympy.pi:
        value = mpmath.pi
    elif expr is sympy.E:
        value = mpmath.e
    elif expr.is_Add:
        value = mpmath.fsum(_fast(a, point, memo) for a in expr.args)
    elif expr.is_Mul:
        value = mpmath.mpf(1)
        for a in expr.args:
            value *= _fast(a, point, memo)
    elif expr.is_Pow:
        base = _fast(expr.base, point, memo)
        exponent = expr.exp
        if exponent.is_Integer:
            value = base ** int(exponent)
        else:
            e = _fast(exponent, point, memo)
            if base < 0:
                raise _NotReal()
            value = base ** e
    elif isinstance(expr, sympy.exp):
        value = mpmath.exp(_fast(expr.args[0], point, memo))
    elif isinstance(expr, sympy.log):
        arg = _fast(expr.args[0], point, memo)
        if arg <= 0:
            raise _NotReal()
        value = mpmath.log(arg)
    elif isinstance(expr, Sigmoid):
        value = 1 / (1 + mpmath.exp(-_fast(expr.args[0], point, memo)))
    elif isinstance(expr, sympy.tanh):
        value = mpmath.tanh(_fast(expr.args[0], point, memo))
    elif isinstance(expr, sympy.sin):
        value = mpmath.sin(_fast(expr.args[0], point, memo))
    elif isinstance(expr, sympy.cos):
        value = mpmath.cos(_fast(expr.args[0], point, memo))
    elif isinstance(expr, Relu):
        value = max(mpmath.mpf(0), _fast(expr.args[0], point, memo))
    elif isinstance(expr, sympy.Abs):
        value = abs(_fast(expr.args[0], point, memo))
    elif isinstance(expr, sympy.Heaviside):
        arg = _fast(expr.args[0], point, memo)
        value = mpmath.mpf(1) if arg > 0 else mpmath.mpf(0)
    else:
        substituted = expr.xreplace({k: sympy.Float(v, 30) for k, v in point.items()}).evalf(30)
        if substituted.free_symbols:
            raise _NotReal()
        number = complex(substituted)
        if abs(number.imag) > 1e-20 * max(1.0, abs(number.real)):
            raise _NotReal()
        value = mpmath.mpf(number.real)
    if isinstance(value, mpmath.mpc):
        raise _NotReal()
    memo[expr] = value
    return value


NUMERIC_TOLERANCE = 1e-9
"""Relative difference under which two values at a random test point count as equal: far above the 30-digit
evaluation's error, far below any slip (the walk-throughs' own number rule is exact)."""


def _sign(difference: sympy.Expr) -> int | None:
    """The sign of an exact number (1, 0 or −1), exactly for a rational and to `EXACT_DIGITS` digits otherwise
    (a value that close to 0 counts as 0); None when it is not a finite real number."""
    if difference.is_Rational:
        return (difference.p > 0) - (difference.p < 0)
    number = shared_evaluation(difference)
    if number is None:
        return None
    if abs(number) < sympy.Float(10) ** (-EXACT_DIGITS + 5):
        return 0
    return 1 if number > 0 else -1


def _in_order(relation: str, sign: int) -> bool:
    """Whether ``a RELATION b`` holds when b − a has ``sign``."""
    return {"le": sign >= 0, "ge": sign <= 0, "lt": sign > 0, "gt": sign < 0}[relation]


def agree_at_test_point(a: float, b: float) -> bool:
    return abs(a - b) <= NUMERIC_TOLERANCE * max(1.0, abs(a), abs(b))


def _value_latex(value) -> str | None:
    """A number as the report prints it: exact when rational, else evaluated once per distinct subexpression."""
    if value.is_Rational:
        return number_latex(value)
    number = shared_evaluation(value)
    return None if number is None else number_latex(number)


def _entry_nodes(node: Node, shape: tuple[int, int]) -> list:
    """The written entries of a matrix written out (row by row, as the value's entries run), else the whole node
    for every entry."""
    if isinstance(node, MatrixNode) and (len(node.rows), len(node.rows[0])) == shape:
        return [entry for row in node.rows for entry in row]
    return [node] * (shape[0] * shape[1])


def rounding(node: Node) -> float:
    """Half a unit of the last digit of the decimals written in ``node`` (0 when it has none): the error a
    correctly rounded value may carry (−0.197 for −0.196612)."""
    decimals = [len(n.text.split(".")[1]) for n in walk(node) if isinstance(n, Num) and "." in n.text]
    return 0.5 * 10.0 ** -max(decimals) if decimals else 0.0


MAX_EXACT_EXPONENT = 1000
"""A power with a larger exponent is evaluated to 40 digits, not exactly (1.000001^(10^6) has millions of digits)."""


def at_point(expr: sympy.Expr, point: dict) -> sympy.Expr:
    """``expr`` at ``point``: exact, unless a power's exponent there is beyond `MAX_EXACT_EXPONENT`."""
    with sympy.evaluate(False):
        held = expr.xreplace(point)
    large = any(p.exp.is_number and abs(p.exp.evalf(15)) > MAX_EXACT_EXPONENT for p in held.atoms(sympy.Pow))
    return held.evalf(40) if large else held.doit()


def leaves(*exprs: sympy.Expr) -> list[VName]:
    found = set()
    for expr in exprs:
        found |= {s for s in expr.free_symbols if isinstance(s, VName)}
    return sorted(found, key=lambda s: s.name)


# --- claims ----------------------------------------------------------------------------------------------------

class ClaimChecker:
    def __init__(self, document: Document, item: _Eq, definitions: list[Definition]):
        self.document = document
        self.item = item
        self.line = item.source.line
        self.members = item.members
        self.values = visible_values(document, self.line)
        self.definitions = definitions
        self.labels = document.labels
        self._values_key = id(self.values)  # one dict per set of visible values (`visible_values`)
        self._started: set[int] = set()
        self.arrays = reads_arrays(self.members)
        self.model = self._model_for(())
        self.shown = [member_latex(m) for m in self.members]

    def _model_for(self, labels: tuple) -> Model:
        """The scope's model for this claim's values and these labels, made on first use, started for this claim."""
        document = self.document
        key = (self._values_key, labels)
        model = document.models.get(key)
        if model is None:
            model = document.models[key] = Model(
                self.definitions, self.values, document.layers, vectors=document.vectors, scalars=document.scalars,
                functions=document.functions, abstract=document.abstract, first_layer=document.first_layer,
                output=document.output, labels=dict(labels))
        if id(model) not in self._started:
            self._started.add(id(model))
            model.start_claim()
        model.arrays = self.arrays
        return model

    def _use_model_for(self, binds: dict[str, int]) -> None:
        """The model that reads the definitions at this instance's labels (y in L = −log p_y)."""
        self.model = self._model_for(tuple(sorted((letter, value) for letter, value in binds.items()
                                                  if letter in self.labels)))

    # which derivative is claimed
    def target(self, binds: dict[str, int]):
        first = self.members[0]
        if isinstance(first, Deriv) and self.model.is_vector(first.num):
            raise Problem(self.line, "derivatives of a vector (Jacobians) are not supported: write one component, "
                                     "e.g. " + quote(r"\frac{\partial z^{l}_{j}}{\partial a^{l-1}_{i}}"))
        if isinstance(first, Deriv) and self.model.is_vector(first.den):
            return "matrix", self.model.name(first.num, binds), self.model.vector(first.den, binds)
        if isinstance(first, Sym) and self.model.is_vector(first):
            return "vector", self.model.vector(first, binds), None
        if isinstance(first, Deriv):
            return "partial", self.model.name(first.num, binds), self.model.name(first.den, binds)
        if isinstance(first, DerivOf):
            return "expr", first, self.model.name(first.den, binds)
        if isinstance(first, Sym):
            name = self.model.name(first, binds)
            rhs = self.model.rhs_of(name)
            if isinstance(rhs, PartialSym):
                return "partial", rhs.num, rhs.den
            return "symbol", name, None
        return "other", first, None

    def expected(self, binds: dict[str, int], wrap_sum: bool) -> str | None:
        kind, a, b = self.target(binds)
        try:
            if kind == "partial":
                expr = self._gradient_form(a, b)
            elif kind == "matrix":
                expr = b.applyfunc(lambda v: self._gradient_form(a, v))
            elif kind == "vector":
                expr = a.applyfunc(lambda v: self._shallow_symbol(v))
            elif kind == "symbol":
                expr = self.model.rhs_of(a)
            else:
                expr = self.model.conc(self.members[0], binds)
                if isinstance(self.members[0], Func) and self.members[0].name == "dsigma" \
                        and "sigma" not in self.model.functions:
                    u = self.model.conc(self.members[0].arg, binds)
                    expr = Sigmoid(u) * (1 - Sigmoid(u))
        except (ModelProblem, TooLarge):
            return None
        if expr is None:
            return None
        if wrap_sum:
            expr = DSum(expr, ABSENT, ABSENT, ABSENT)
        return latex(expr)

    def _gradient_form(self, out: VName, var: VName) -> sympy.Expr:
        try:
            return self.model.gradient_form(out, var, avoid=var)
        except TooLarge:
            return self.model.shallow_partial(out, var)

    def _shallow_symbol(self, name: VName) -> sympy.Expr:
        rhs = self.model.rhs_of(name)
        if isinstance(rhs, PartialSym):
            return self._gradient_form(rhs.num, rhs.den)
        return rhs if rhs is not None else name

    def _check_target(self, binds: dict[str, int]) -> Problem | None:
        """The claimed derivative must make sense: its output is defined (else this raises). An output that does
        not depend on a variable its definitions write (f = x − x) is returned as the problem to report if the
        claim does not hold: a slope of 0 is right there; a variable they do not write raises at once (most likely
        a name, index or layer written wrong, or a scope missing)."""
        kind, out, var = self.target(binds)
        if kind not in ("partial", "matrix"):
            return None
        if self.model.rhs_of(out) is None:
            raise Problem(self.line, f"${latex(out)}$ has no definition in the document, so its derivative "
                                     "cannot be computed")
        for v in entries(var):
            if not self.model.depends(out, v):
                problem = Problem(self.line, f"${latex(out)}$ does not depend on ${latex(v)}$ "
                                             "(check the names, indices and layers)")
                if not self.model.writes(out, v):
                    raise problem
                return problem
        return None

    def check(self) -> ClaimResult:
        binds_list = instances(self.model, self.members)
        independent = None
        for binds in binds_list:
            self._use_model_for(binds)
            independent = independent or self._check_target(binds)
        layer_letters, unit_letters = free_index_letters(self.members)
        steps: list[StepResult] = []
        keeps_sum = any(has_implicit_sum(m) for m in self.members[1:])
        for k in range(1, len(self.members)):
            steps.append(self.step(k, binds_list))
        if independent is not None and any(s.ok is not True for s in steps):
            raise independent
        reading = None
        if keeps_sum:
            if not self.model.implicit_in_definitions and not has_implicit_sum(self.members[0]):
                raise Problem(self.line, "a Σ in this claim has no index, and no definition it uses sums over an "
                                         "implicit index: write the index, e.g. " + quote(r"\sum_{i=1}^{n}"))
            reading = "termwise"
        elif self.model.implicit_in_definitions or unit_letters or layer_letters:
            reading = "componentwise"
        if any(s.ok is False for s in steps):
            ok = False
        elif any(s.ok is None for s in steps):
            ok = None
        else:
            ok = True
        return ClaimResult(self.line, self.item.source.text, ok, reading, tuple(steps), tuple(self.shown),
                           len(binds_list), tuple(layer_letters + unit_letters))

    def step(self, k: int, binds_list: list[dict[str, int]]) -> StepResult:
        lhs, rhs = self.shown[k - 1], self.shown[k]
        a_node, b_node = self.members[k - 1], self.members[k]
        if k == 1 and self.item.kind == "candidate" and self.item.source.relations[0] == "def" \
                or (k == 1 and isinstance(a_node, Sym) and self._is_own_definition()):
            return StepResult(k, lhs, rhs, True, method="definition")
        if self.item.source.relations[k - 1] == "neq":
            return self._differ(k, lhs, rhs, a_node, b_node, binds_list)
        if self.item.source.relations[k - 1] in ORDER:
            return self._bound(k, lhs, rhs, a_node, b_node, binds_list)
        method = "symbolic"
        undecided = None
        for binds in binds_list:
            self._use_model_for(binds)
            outcome = self._as_printed(k, binds) if self.document.strict_numbers else None
            if outcome is None:
                outcome = self.decide(k, a_node, b_node, binds)
            if outcome[0] is False:
                _, counterexample, slip, how = outcome
                if how == "point":
                    expected = self._expected_value(binds)
                else:
                    wrap = has_implicit_sum(b_node) and self.model.implicit_in_definitions
                    expected = slip.corrected if slip is not None and slip.corrected else self.expected(binds, wrap)
                return StepResult(k, lhs, rhs, False, counterexample, expected, slip, how)
            if outcome[0] is None:
                undecided = StepResult(k, lhs, rhs, None, method="limit",
                                       note="no point was found where both sides have a finite value")
                continue
            method = _stronger(method, outcome[-1])
        return undecided or StepResult(k, lhs, rhs, True, method=method)

    def _differ(self, k: int, lhs: str, rhs: str, a_node: Node, b_node: Node,
                binds_list: list[dict[str, int]]) -> StepResult:
        """``a \\neq b``: holds when the equality ``a = b`` does not hold for some instance (a counterexample is
        found); fails when the two sides are the same expression."""
        undecided = False
        for binds in binds_list:
            outcome = self.decide(k, a_node, b_node, binds)
            if outcome[0] is False:
                return StepResult(k, lhs, rhs, True, method=outcome[-1], relation="neq")
            undecided = undecided or outcome[0] is None
        if undecided:
            return StepResult(k, lhs, rhs, None, method="limit", relation="neq",
                              note="no point was found where both sides have a finite value")
        return StepResult(k, lhs, rhs, False, method="symbolic", relation="neq")

    def _bound(self, k: int, lhs: str, rhs: str, a_node: Node, b_node: Node,
               binds_list: list[dict[str, int]]) -> StepResult:
        """``a \\leq b`` (``\\geq``, ``<``, ``>``): at the document's values when it gives every leaf one (exactly; a
        number holds as printed, so a bound printed rounded the wrong way fails), else at random points, where it
        must hold at every one (σ'(z) ≤ 1/4 for every z)."""
        relation = self.item.source.relations[k - 1]
        undecided = sampled = False
        for binds in binds_list:
            self._use_model_for(binds)
            a, b = self.model.conc(a_node, binds), self.model.conc(b_node, binds)
            if is_matrix(a) or is_matrix(b):
                raise Problem(self.line, "a bound between vectors or matrices is not supported")
            deep_a, deep_b = self._scalar_sides(a, b)
            names = leaves(deep_a, deep_b)
            if all(s in self.values for s in names):
                point = {s: self.values[s] for s in names}
                rational = rational_point(point)
                sign = _sign(at_point(deep_b, rational) - at_point(deep_a, rational))
                if sign is None:
                    raise Problem(self.line, f"step {k}: a side has no finite value at the document's point")
                if not _in_order(relation, sign):
                    shown = {s: float(v) for s, v in point.items()}
                    values = [evaluate(at_point(x, rational), {}) for x in (deep_a, deep_b)]
                    return StepResult(k, lhs, rhs, False, Counterexample(_point_items(shown, binds), *values),
                                      method="point", relation=relation)
                continue
            points = self._points(k, binds, deep_a, deep_b)
            sampled = True
            for point, va, vb in points:
                tie = agree_at_test_point(va, vb)
                if not (tie and relation in ("le", "ge") or not tie and _in_order(relation, 1 if vb > va else -1)):
                    shown = self._involved_values(a, b, point)
                    return StepResult(k, lhs, rhs, False, Counterexample(_point_items(shown, binds), va, vb),
                                      method="numeric", relation=relation)
            undecided = undecided or not points
        if undecided:
            return StepResult(k, lhs, rhs, None, method="limit", relation=relation,
                              note="no point was found where both sides have a finite value")
        return StepResult(k, lhs, rhs, True, method="numeric" if sampled else "point", relation=relation)

    def _expected_value(self, binds) -> str | None:
        try:
            deep = self.model.full(self.model.conc(self.members[0], binds))
        except (ModelProblem, TooLarge):
            return None
        point = rational_point(self.values)
        value = deep.xreplace(point)
        if value.free_symbols:
            return None
        if not is_matrix(value):
            return _value_latex(value)
        texts = [[_value_latex(value[r, c]) for c in range(value.shape[1])] for r in range(value.shape[0])]
        return None if any(text is None for row in texts for text in row) else matrix_latex(texts)

    def _as_printed(self, k: int, binds: dict[str, int]):
        """``numbers strict``: a number holds when it is what the number rule prints for the exact value of the
        last member written with symbols; a substitution right after it, number by number (see
        `derive.verify.printed`). None: not a number member, or not a substitution (the other rules decide)."""
        numeric = self.members[k]
        if not is_numeric(numeric):
            return None
        j = max((i for i in range(k) if not is_numeric(self.members[i])), default=None)
        if j is None:
            return None
        single = printed_number(numeric)
        if single is not None or printed_entries(numeric) is not None:  # a number, or a matrix of numbers
            pairs = [((self.members[j],), numeric)]
        elif j == k - 1:
            pairs = align(self.members[j], numeric)
        else:
            pairs = None
        if pairs is None:
            return None
        for terms, number in pairs:
            if isinstance(number, MatrixNode):
                outcome = self._matrix_as_printed(terms, number, binds)
                if outcome is None or outcome[0] is False:
                    return outcome
                continue
            value = self._exact_product(terms, binds)
            if value is None:
                return None
            try:
                shown_value = as_printed(value)
            except (TypeError, ValueError, ZeroDivisionError):  # no finite real value here: the other rules decide
                return None
            if shown_value != printed_number(number):
                shown = {s: float(v) for s, v in self.values.items() if s in self._leaves_of(terms, binds)}
                counterexample = Counterexample(_point_items(shown, binds), float(value), float(printed_number(number)))
                if len(pairs) == 1:
                    slip = Slip("printed", (("printed", latex(display(number))), ("value", number_latex(value)),
                                            ("digits", str(SIGNIFICANT_DIGITS))))
                else:
                    slip = Slip("substitution", (("printed", latex(display(number))),
                                                 ("term", latex(display(_product_node(terms)))),
                                                 ("value", number_latex(value))))
                return False, counterexample, slip, "point"
        return True, "point"

    def _matrix_as_printed(self, terms: tuple[Node, ...], number: MatrixNode, binds: dict[str, int]):
        """A matrix written out with numbers: each entry is what the number rule prints for the same entry of the
        exact value of ``terms`` (one member or term that is a vector or matrix). None: the other rules decide."""
        printed = printed_entries(number)
        if printed is None or len(terms) != 1:
            return None
        shape = (len(number.rows), len(number.rows[0]))
        try:
            value = self.model.as_vectors([self.model.conc(terms[0], binds), sympy.zeros(*shape)])[0]
            if not is_matrix(value) or value.shape != shape:
                return None
            numbers = self._point_values().entries(value)
            if numbers is None:
                value = at_point(self.model.full(value), self._rational_point())
                if value.free_symbols:
                    return None
                numbers = [exact_number(entry) for entry in value]
        except (ModelProblem, TooLarge) + SHAPE_ERRORS:
            return None
        entries = [entry for row in number.rows for entry in row]
        for position, (exact, shown, node) in enumerate(zip(numbers, printed, entries)):
            if exact is None:
                return None
            try:
                rule = as_printed(exact)
            except (TypeError, ValueError, ZeroDivisionError):
                return None
            if rule != shown:
                row, column = divmod(position, value.shape[1])
                where = {"row": row + 1, "column": column + 1} if value.shape[1] > 1 else {"row": row + 1}
                counterexample = Counterexample(_point_items({}, {**binds, **where}), float(exact), float(shown))
                slip = Slip("printed", (("printed", latex(display(node))), ("value", number_latex(exact)),
                                        ("digits", str(SIGNIFICANT_DIGITS))))
                return False, counterexample, slip, "point"
        return True, "point"

    def _exact_product(self, terms: tuple[Node, ...], binds: dict[str, int]):
        """The exact value of a product of members' terms at the scope's point, or None without one."""
        value = sympy.Integer(1)
        for term in terms:
            try:
                concrete = self.model.conc(term, binds)
                number = self._point_values().number(concrete)
                # an abstract quantity's derivative is a leaf with no value here (∂C_1/∂w stays a symbol)
                value *= number if number is not None else at_point(
                    self.model.abstract_leaves(self.model.full(concrete)), self._rational_point())
            except (ModelProblem, TooLarge) + SHAPE_ERRORS:
                return None
        return None if is_matrix(value) else exact_number(value)

    def _point_values(self) -> PointValues:
        """The current model's values at its point (`derive.verify.point`), shared by every claim it serves."""
        found = self.document.point_values.get(self.model)
        if found is None:
            found = self.document.point_values[self.model] = PointValues(self.model, EXACT_DIGITS)
        return found

    def _rational_point(self) -> dict:
        return rational_point(self.values)

    def _leaves_of(self, terms: tuple[Node, ...], binds: dict[str, int]) -> set:
        return set(leaves(*(self.model.full(self.model.conc(t, binds)) for t in terms)))

    def _is_own_definition(self) -> bool:
        first = self.members[0]
        return any(d.line == self.line and d.lhs == first and d.rhs == self.members[1]
                   for d in self.model.definitions)

    def decide(self, k: int, a_node: Node, b_node: Node, binds: dict[str, int]):
        model = self.model
        try:
            a = model.conc(a_node, binds)
        except SHAPE_ERRORS:
            return False, None, Slip("shape_left"), "shape"
        try:
            b = model.conc(b_node, binds)
        except SHAPE_ERRORS:
            return False, None, self._shape_slip(b_node, binds, a), "shape"
        a, b = model.as_vectors([a, b])  # t = (0, 1)ᵀ: the vector of the t_j
        if is_matrix(a) or is_matrix(b):
            if (is_numeric(a_node) or is_numeric(b_node)) and not (is_matrix(a) and is_matrix(b)):
                raise Problem(self.line, "a vector or matrix cannot be compared with a number")
            if is_numeric(a_node) or is_numeric(b_node):
                return self._entries_at_point(k, a, b, a_node, b_node, binds)
            return self._decide_entries(k, a, b, a_node, b_node, binds)
        if is_numeric(a_node) or is_numeric(b_node):
            return self._at_point(k, a, b, binds, rounding(a_node) + rounding(b_node))
        structural = self._structure(b, binds)
        if structural is not None and structural[0] is not False:
            return True, "structure"

        if not _has_partials(a) and not _has_partials(b) and _cheap_zero(a - b):
            return True, "symbolic"
        deep_a, deep_b = model.abstract_leaves(model.full(a)), model.abstract_leaves(model.full(b))
        if _cheap_zero(deep_a - deep_b):
            return True, "symbolic"
        points = self._points(k, binds, deep_a, deep_b)
        if structural is not None:  # the chain misses a link or a path: wrong unless its values agree anyway
            if points and all(agree_at_test_point(va, vb) for _, va, vb in points):
                return True, "numeric"  # a link worth 1 (∂z/∂b for z = wx + b) may be left out
            return structural + ("structure",)
        if model.names_functions and opaque_symbols(deep_a) != opaque_symbols(deep_b):
            return None, "limit"  # a function only named on one side: no test point can decide
        for point, va, vb in points:
            if not agree_at_test_point(va, vb):
                if self._substituted_at_point(a, b, deep_a, deep_b):
                    return True, "point"
                counterexample = self._counterexample(k, binds, a, b, deep_a, deep_b, point, va, vb)
                if self._holds_at_document_values(deep_a, deep_b):
                    return False, counterexample, Slip("conditional"), "numeric"
                slip = self.slip(k, a_node, b_node, binds, deep_a, deep_b, points)
                return False, counterexample, slip, "numeric"
        if not points:
            return None, "limit"
        return True, "numeric"

    def _entries_at_point(self, k, a, b, b_node, binds):
        """A matrix written with numbers: entry by entry at the document's values, each to the digits shown."""
        for ea, eb, node in zip(a, b, (e for row in b_node.rows for e in row)):
            outcome = self._at_point(k, ea, eb, binds, rounding(node))
            if outcome[0] is not True:
                return outcome
        return True, "point"

    def _decide_entries(self, k, a, b, a_node, b_node, binds):
        """Vectors and matrices: same shape, then entry by entry."""
        if not (is_matrix(a) and is_matrix(b)) or a.shape != b.shape:
            return False, None, self._shape_slip(b_node, binds, a), "shape"
        if all(not _has_partials(x) and not _has_partials(y) and _cheap_zero(x - y) for x, y in zip(a, b)):
            return True, "symbolic"
        deep_a, deep_b = self.model.full(a), self.model.full(b)
        if all(_cheap_zero(x - y) for x, y in zip(deep_a, deep_b)):
            return True, "symbolic"
        points = self._points(k, binds, deep_a, deep_b)
        columns = a.shape[1]
        for point, vas, vbs in points:
            for position, (va, vb) in enumerate(zip(vas, vbs)):
                if not agree_at_test_point(va, vb):
                    row, column = divmod(position, columns)
                    shown = self._involved_values(a[position], b[position], point)
                    where = {"row": row + 1, "column": column + 1} if columns > 1 else {"row": row + 1}
                    counterexample = Counterexample(_point_items(shown, {**binds, **where}), va, vb)
                    slip = (self._ratio(points) or self._mutations(b_node, binds, deep_a, points)
                            or self._entry_factor_slip(a, points))
                    return False, counterexample, slip, "numeric"
        if not points:
            return None, "limit"
        return True, "numeric"

    def _entries_at_point(self, k, a, b, a_node, b_node, binds):
        """A vector or matrix compared with one written out in numbers: same shape, then entry by entry at the
        document's values, each written entry holding to its own digits."""
        if a.shape != b.shape:
            return False, None, self._shape_slip(b_node, binds, a), "shape"
        tolerances = [rounding(x) + rounding(y) for x, y in zip(_entry_nodes(a_node, a.shape),
                                                               _entry_nodes(b_node, b.shape))]
        for position, (x, y, tolerance) in enumerate(zip(a, b, tolerances)):
            outcome = self._at_point(k, x, y, binds, tolerance)
            if outcome[0] is False:
                row, column = divmod(position, a.shape[1])
                where = {"row": row + 1, "column": column + 1} if a.shape[1] > 1 else {"row": row + 1}
                _, counterexample, slip, how = outcome
                counterexample = Counterexample(_point_items({}, {**binds, **where}), counterexample.lhs_value,
                                                counterexample.rhs_value)
                return False, counterexample, slip, how
            if outcome[0] is not True:
                return outcome  # one entry undecided: the whole is
        return True, "point"

    def _entry_factor_slip(self, a, points) -> Slip | None:
        """A vector claim whose entries are named derivatives (δ^{L} with δ^{L}_j = ∂C/∂z^{L}_j): a chain-rule
        factor of one entry, such as the activation's gate σ'(z^{L}_j), left out or put in twice."""
        for position, name in enumerate(a):
            target = name if isinstance(name, PartialSym) else self.model.rhs_of(name) if isinstance(name, VName) \
                else None  # ∂E/∂z read entry by entry, or δ^{L} whose entries are defined as derivatives
            if not isinstance(target, PartialSym):
                continue
            slip = _factor_slip(self._path_factors(target.num, target.den),
                                [(point, vas[position], vbs[position]) for point, vas, vbs in points])
            if slip is not None:
                return slip
        return None

    def _shape_slip(self, b_node, binds, a) -> Slip:
        for wrong, right, mutated in _mutants(b_node):
            try:
                b = self.model.conc(mutated, binds)
            except SHAPE_ERRORS + (ModelProblem,):
                continue
            if is_matrix(a) and is_matrix(b) and a.shape == b.shape:
                return Slip("transpose", (("wrong", latex(display(wrong))), ("right", latex(display(right)))),
                            latex(display(mutated)))
        shape = "\\times".join(map(str, a.shape)) if is_matrix(a) else "1"
        return Slip("shape", (("shape", shape),))

    # --- numbers at the document's point -----------------------------------------------------------------------
    def _agree_at_point(self, a, b, tolerance: float) -> bool:
        """Whether both sides' numbers at the document's values (`PointValues`, no side unrolled into its leaves)
        agree as `_at_point` requires. False: `_at_point` decides, and explains a failure."""
        values = self._point_values()
        exact_a, exact_b = values.number(a), values.number(b)
        if exact_a is None or exact_b is None or not (values.reads_point(a) or values.reads_point(b)):
            return False  # a side without the point's values is compared symbolically
        if exact_a.is_Rational and exact_b.is_Rational and exact_a == exact_b:
            return True
        va, vb = float(exact_a), float(exact_b)
        return agree_at_test_point(va, vb) or abs(va - vb) <= tolerance * (1 + NUMERIC_TOLERANCE)

    def _scalar_sides(self, a, b) -> tuple:
        """Two sides read as numbers, their names replaced by their definitions. A name defined as a vector or
        matrix used as a number (``2 \\cdot v``, ``v^{T} v`` with v a named column) cannot be read here."""
        try:
            sides = tuple(self.model.abstract_leaves(self.model.full(side)) for side in (a, b))
        except SHAPE_ERRORS:  # v·v: a power of a column
            sides = None
        if sides is None or any(is_matrix(side) for side in sides):
            raise Problem(self.line, "a name defined as a vector or matrix is used here as a number")
        return sides

    def _at_point(self, k: int, a, b, binds, tolerance: float = 0.0):
        """Both sides at the document's values; a side written as a decimal holds to the digits shown
        (``tolerance``: half a unit of its last digit, for ``=`` and ``\\approx`` alike). An abstract quantity's
        derivatives are leaves here too (they have no value unless the document gives one)."""
        if self._agree_at_point(a, b, tolerance):
            return True, "point"
        deep_a, deep_b = self._scalar_sides(a, b)
        missing = [s for s in leaves(deep_a, deep_b) if s not in self.values]
        missing += sorted(_partial_atoms(deep_a, deep_b), key=lambda s: s.name)  # an abstract quantity's slope
        if missing:
            if self.item.kind == "forward":
                raise _Unchecked()
            names = ", ".join("$" + latex(s) + "$" for s in missing[:4])
            raise Problem(self.line, f"step {k} compares with a number, but the document gives no value for {names}")
        point = {s: self.values[s] for s in leaves(deep_a, deep_b)}
        if not point and _cheap_zero(deep_a - deep_b):
            return True, "symbolic"
        rational = rational_point(point)
        exact_a, exact_b = at_point(deep_a, rational), at_point(deep_b, rational)
        va, vb = evaluate(exact_a, {}), evaluate(exact_b, {})
        if va is None or vb is None:
            raise Problem(self.line, f"step {k}: a side has no finite value at the document's point")
        if (exact_a - exact_b).is_Rational and exact_a - exact_b == 0 or agree_at_test_point(va, vb) \
                or abs(va - vb) <= tolerance * (1 + NUMERIC_TOLERANCE):
            return True, "point"
        shown = {s: float(v) for s, v in point.items()}
        counterexample = Counterexample(_point_items(shown, binds), va, vb)
        slip = None
        if tolerance and abs(va + vb) <= tolerance * (1 + NUMERIC_TOLERANCE):
            slip = Slip("sign")
        elif va == 0:
            slip = _missing_gate(self._local_factors(binds), [(point, va, vb)])
        elif vb != 0 and va != 0:
            ratio = Fraction(vb / va).limit_denominator(12)
            if abs(float(ratio) - vb / va) < 1e-9:
                slip = _ratio_slip(ratio)
        return False, counterexample, slip, "point"

    # --- numeric points ----------------------------------------------------------------------------------------
    def _points(self, k: int, binds: dict[str, int], deep_a, deep_b, count: int = NUMERIC_POINTS,
                fixed: dict | None = None):
        """Random points where both sides are finite: (point, a, b), with lists of entries for vectors and
        matrices. The document's own values are not used: an identity must hold everywhere (a condition such as
        t_1 + t_2 = 1 is written as a definition, t_2 = 1 - t_1)."""
        names = leaves(*entries(deep_a), *entries(deep_b))
        names += sorted(_partial_atoms(deep_a, deep_b), key=lambda s: s.name)  # an abstract quantity's slopes
        rng = random.Random(f"{self.line}:{k}:{sorted(binds.items())}")
        out = []
        fixed = fixed or {}
        for attempt in range(MAX_POINT_TRIES):
            signed = attempt < MAX_POINT_TRIES // 2  # both signs first, so kinks are crossed; then positive
            point = {s: fixed.get(s, _test_value(s, rng, signed)) for s in names}
            self._honour_constraints(point, fixed)
            valued = _valued(point, deep_a, deep_b)
            if valued is None:
                continue
            out.append(valued)
            if len(out) >= count or (len(fixed) == len(names) and out):
                break
        if len(fixed) < len(names):
            out += self._kink_points(rng, names, fixed, deep_a, deep_b, [p for p, _, _ in out])
        return out

    def _kink_points(self, rng: random.Random, names: list, fixed: dict, deep_a, deep_b, drawn: list[dict]):
        """More points, one for each side of a kink (ReLU, 𝟙[u > 0], |u|) that the drawn points left unseen:
        min(z, 1) = z − ReLU(z − 1) must be tried above 1 too, or a dropped gate passes."""
        kinks = {f.args[0] for e in entries(deep_a) + entries(deep_b)
                 for f in e.atoms(Relu, sympy.Heaviside, sympy.Abs, sympy.sign) if f.args[0].free_symbols}
        out = []
        for kink in sorted(kinks, key=sympy.default_sort_key):
            seen = {_sign_of(evaluate(kink, point)) for point in drawn}
            for wanted in (1, -1):
                if wanted in seen:
                    continue
                for _ in range(MAX_POINT_TRIES):
                    point = {s: fixed.get(s, _test_value(s, rng, True)) for s in names}
                    self._honour_constraints(point, fixed)
                    valued = _valued(point, deep_a, deep_b) if _sign_of(evaluate(kink, point)) == wanted else None
                    if valued is None:
                        continue
                    out.append(valued)
                    drawn = drawn + [point]
                    seen.add(wanted)
                    break
            # the side a kink takes is a convention, checked on the kink only where the page binds its activation
            # and says which side it uses (derive's network pages: ReLU'(0) = 0); elsewhere the derivative does not
            # exist there, and a textbook's 𝟙[z < 1] for min(z, 1) holds on both sides of it
            at = self._at_kink(kink, rng, names, fixed) if "sigma" in self.model.functions else None
            valued = _valued(at, deep_a, deep_b) if at is not None else None
            if valued is not None:
                out.append(valued)
        return out

    def _at_kink(self, kink: sympy.Expr, rng: random.Random, names: list, fixed: dict) -> dict | None:
        """A point on the kink itself (its argument exactly 0), where the value a step or ReLU' takes there (0 or
        1: which side the document uses) decides: 𝟙[z ≥ 0] is not 𝟙[z > 0], though they agree everywhere else.
        The kink's first leaf that it holds linearly and that is not fixed is solved for; None if there is none."""
        for leaf in sorted(kink.free_symbols & set(names), key=sympy.default_sort_key):
            if leaf in fixed:
                continue
            slope = sympy.diff(kink, leaf)
            if slope.has(leaf) or slope == 0:
                continue
            point = {s: fixed.get(s, _test_value(s, rng, True)) for s in names}
            self._honour_constraints(point, fixed)
            rest = rational_point({s: v for s, v in point.items() if s != leaf})
            root = (-kink.xreplace({leaf: sympy.S.Zero}) / slope).xreplace(rest)
            if not root.is_Rational:
                continue
            point[leaf] = Fraction(int(root.p), int(root.q))
            return point
        return None

    def _honour_constraints(self, point: dict, fixed: dict) -> None:
        """Σ_k t_k = 1 stated in the document: the last t_k of the point is 1 − the others, for any number of
        components."""
        for base, decor, total, letters, position in self.document.constraints:
            groups: dict[tuple, list[VName]] = {}  # Σ_k t_{nk} = 1: one condition per n
            for s in point:
                if isinstance(s, VName) and s.base == base and s.parts[1] == decor and s.layer is None \
                        and len(s.subs) == len(letters) and all(isinstance(i, int) for i in s.subs):
                    groups.setdefault(s.subs[:position] + s.subs[position + 1:], []).append(s)
            for group in groups.values():
                parts = sorted(group, key=lambda s: s.subs[position])
                if len(parts) >= 2 and parts[-1] not in fixed:
                    point[parts[-1]] = total - sum((point[s] for s in parts[:-1]), Fraction(0))

    def _holds_at_document_values(self, deep_a, deep_b) -> bool:
        """The step fails in general but holds wherever the leaves the document gives values for take them."""
        names = leaves(deep_a, deep_b)
        if not any(s in self.values for s in names):
            return False
        points = self._points(-1, {}, deep_a, deep_b, fixed={s: self.values[s] for s in names if s in self.values})
        return bool(points) and all(agree_at_test_point(va, vb) for _, va, vb in points)

    def _substituted_at_point(self, a, b, deep_a, deep_b) -> bool:
        """A member with some of the document's values put in (``(y - t) \\cdot 2`` once x = 2): it is not an
        identity, but it holds at the document's point, where every leaf has a value and the right side names
        fewer symbols than the left."""
        names = leaves(deep_a, deep_b)
        if not names or any(s not in self.values for s in names):
            return False
        if len(leaves(b)) >= len(leaves(a)) or not (set(leaves(b)) <= set(leaves(a)) | set(names)):
            return False
        point = rational_point({s: v for s, v in self.values.items() if s in names})
        va, vb = evaluate(deep_a, point), evaluate(deep_b, point)
        return va is not None and vb is not None and agree_at_test_point(va, vb)

    def _counterexample(self, k, binds, a, b, deep_a, deep_b, point, va, vb) -> Counterexample:
        # members written without derivatives that already differ in their own symbols: show those symbols
        if not _has_partials(a) and not _has_partials(b):
            own = leaves(a, b)
            if own and set(own) != set(point):
                rng = random.Random(f"own:{self.line}:{k}")
                for _ in range(MAX_POINT_TRIES):
                    mine = {s: self.values.get(s, Fraction(rng.randint(1, 19), 10)) for s in own}
                    xa, xb = evaluate(a, mine), evaluate(b, mine)
                    if xa is not None and xb is not None and not agree_at_test_point(xa, xb):
                        return Counterexample(_point_items({s: float(v) for s, v in mine.items()}, binds), xa, xb)
        return Counterexample(_point_items(self._involved_values(a, b, point), binds), va, vb)

    def _involved_values(self, a, b, point: dict) -> dict:
        """The values of the symbols a step writes (and the variables it differentiates by) at ``point``, not the
        whole network's leaves: the failing link is about those."""
        involved = leaves(a, b) + sorted({s.den for s in _partial_atoms(a, b)}, key=lambda s: s.name)
        involved += sorted((s for s in point if isinstance(s, PartialSym)), key=lambda s: s.name)
        shown: dict = {}
        for symbol in involved:
            value = float(point[symbol]) if symbol in point else (
                evaluate(self.model.full_symbol(symbol), point) if self.model.rhs_of(symbol) is not None else None)
            if value is not None:
                shown[symbol] = value
        return shown or {s: float(v) for s, v in point.items()}

    # --- slips -------------------------------------------------------------------------------------------------
    def _ratio(self, points) -> Slip | None:
        pairs = []
        for _, va, vb in points:
            pairs.extend(zip(va, vb) if isinstance(va, list) else [(va, vb)])
        usable = [(va, vb) for va, vb in pairs if abs(va) > 1e-12]
        # where the left side is 0 (a gate closed) the right side must be 0 too; two points in all suffice then
        zeros_agree = all(abs(vb) <= 1e-12 for va, vb in pairs if abs(va) <= 1e-12)
        if len(usable) >= 2 or (usable and len(pairs) >= 2 and len(usable) < len(pairs) and zeros_agree):
            ratios = [vb / va for va, vb in usable]
            if all(agree_at_test_point(r, ratios[0]) for r in ratios):
                ratio = Fraction(ratios[0]).limit_denominator(1000)
                if abs(float(ratio) - ratios[0]) < 1e-9 and ratio != 1:
                    return _ratio_slip(ratio)
        return None

    def _symbol_ratio(self, points, visible: list[VName]) -> Slip | None:
        """The right side is a symbol (or 1/symbol) times the correct value: a factor 1/N lost, an extra x."""
        usable = [(p, va, vb) for p, va, vb in points
                  if not isinstance(va, list) and abs(va) > 1e-12 and abs(vb) > 1e-12]
        if len(usable) < 3:
            return None
        candidates = sorted(set(usable[0][0]) | set(visible), key=lambda s: s.name)
        for name in candidates:
            values = [float(p[name]) if name in p else evaluate(self.model.full_symbol(name), p)
                      for p, _, _ in usable]
            if any(v is None or abs(v) < 1e-12 for v in values):
                continue
            if all(agree_at_test_point(vb / va, v) for (_, va, vb), v in zip(usable, values)):
                return Slip("extra_symbol", (("factor", latex(name)),))
            if all(agree_at_test_point(va / vb, v) for (_, va, vb), v in zip(usable, values)):
                return Slip("missing_symbol", (("factor", latex(name)),))
        return None

    def slip(self, k, a_node, b_node, binds, deep_a, deep_b, points) -> Slip | None:
        braced = next((n for n in walk(b_node) if isinstance(n, Add) and n.braced is True), None)
        if braced is not None:
            written = self.item.source.members[k].strip()
            return Slip("grouping", (("written", written), ("read", latex(display(braced)))))
        ratio = self._ratio(points)
        if ratio is not None:
            return ratio
        swap = self._mutations(b_node, binds, deep_a, points)
        if swap is not None:
            return swap
        term = self._term_factor(b_node, binds, points)
        if term is not None:
            return term
        factor = _factor_slip(self._local_factors(binds), points)
        if factor is not None:
            return factor
        try:
            visible = leaves(self.model.conc(b_node, binds), self.model.conc(a_node, binds))
        except (ModelProblem, TooLarge) + SHAPE_ERRORS:
            visible = []
        return self._symbol_ratio(points, visible) or self._dropped_factor(b_node, binds, deep_a, points)

    def _term_factor(self, b_node: Node, binds, points) -> Slip | None:
        """One term of a sum off by a constant factor (2λw for λw): the right side minus that term, plus the term
        times a fixed ratio, is the left side at every point."""
        for node in _outside_derivatives(b_node):
            if not isinstance(node, Add) or len(node.terms) < 2 or is_matrix(self.model.conc(node, binds)):
                continue
            for sign, term in node.terms:
                try:
                    deep = self.model.abstract_leaves(self.model.full(self.model.conc(term, binds)))
                except (ModelProblem, TooLarge) + SHAPE_ERRORS:
                    continue
                corrections = []  # correct value / written value of the term, at each point
                for point, va, vb in points:
                    value = evaluate(deep, point)
                    if value is None or abs(value) < 1e-12:
                        break
                    corrections.append(1 - (vb - va) / (sign * value))
                if len(corrections) < 2 or len(corrections) < len(points):
                    continue
                correction = Fraction(corrections[0]).limit_denominator(12)
                if correction not in (0, 1) and all(abs(float(correction) - c) < 1e-9 for c in corrections):
                    written = sympy.Rational(correction.denominator, correction.numerator)
                    return Slip("factor_term", (("term", latex(display(term))), ("ratio", latex(written))))
        return None

    def _mutations(self, b_node: Node, binds, deep_a, points) -> Slip | None:
        letters = sorted(set(free_index_letters(list(self.members))[1]))
        for wrong, right, mutated in _mutants(b_node, letters):
            if self._mutant_holds(mutated, binds, deep_a, points):
                corrected = latex(display(mutated))
                if isinstance(wrong, Add) and isinstance(right, Add):
                    return Slip("sign_term", (("wrong", latex(display(wrong))), ("right", latex(display(right)))),
                                corrected)
                if isinstance(wrong, Transpose) or isinstance(right, Transpose):
                    kind = "transpose"
                elif wrong.layer != right.layer:
                    kind = "layer_index"
                else:
                    kind = "index_swap"
                return Slip(kind, (("wrong", latex(display(wrong))), ("right", latex(display(right)))), corrected)
        return None

    def _mutant_holds(self, mutated: Node, binds, deep_a, points) -> bool:
        """Whether a changed right side takes the left side's value at every test point."""
        try:
            deep = self.model.abstract_leaves(self.model.full(self.model.conc(mutated, binds)))
        except (ModelProblem, TooLarge, ValueError, TypeError) + SHAPE_ERRORS:
            return False
        if is_matrix(deep) != is_matrix(deep_a) or (is_matrix(deep) and deep.shape != deep_a.shape):
            return False
        for p, va, _ in points:
            values = [evaluate(e, p) for e in entries(deep)]
            expected = va if isinstance(va, list) else [va]
            if any(v is None or not agree_at_test_point(v, e) for v, e in zip(values, expected)):
                return False
        return bool(points)

    def _dropped_factor(self, b_node: Node, binds, deep_a, points) -> Slip | None:
        """A factor written where it does not belong, anywhere in the right side (inside a Σ too: Σ_n r_n x_n for
        Σ_n r_n): leaving it out makes the step hold."""
        for node in _outside_derivatives(b_node):
            if not isinstance(node, Mul) or node.hadamard or len(node.factors) < 2:
                continue
            for position, factor in enumerate(node.factors):
                rest = node.factors[:position] + node.factors[position + 1:]
                mutated = _replace_node(b_node, node, rest[0] if len(rest) == 1 else replace(node, factors=rest))
                if self._mutant_holds(mutated, binds, deep_a, points):
                    return Slip("extra_factor", (("factor", latex(display(factor))),), latex(display(mutated)))
        return None

    def _path_factors(self, out: VName, var: VName) -> list[tuple[str, sympy.Expr, bool]]:
        """The local derivatives along the paths from ``var`` to ``out``: (label, value, whether it is an
        activation's derivative, a gate), each edge once."""
        try:
            paths = self.model.paths(out, var)
        except TooLarge:
            return []
        found, seen = [], set()
        for path in paths:
            for u, v in zip(path, path[1:]):
                if (u, v) in seen:
                    continue
                seen.add((u, v))
                label = latex(PartialSym("partial", u, v)) + " = " + latex(self.model.local(u, v))
                found.append((label, self.model.abstract_leaves(self.model.partial(u, v)),
                              _is_activation(self.model.rhs_of(u))))
        return found

    def _local_factors(self, binds) -> list[tuple[str, sympy.Expr, bool]]:
        """The chain-rule factors of the claimed derivative: (label, value, whether it is an activation's
        derivative, a gate)."""
        kind, a, b = self.target(binds)
        out: list[tuple[str, sympy.Expr, bool]] = []
        if kind == "partial":
            return self._path_factors(a, b)
        if kind == "expr":
            body = self.model.conc(a.body, binds)
            for sub in sympy.preorder_traversal(body):
                if isinstance(sub, sympy.Function) or isinstance(sub, sympy.Pow):
                    inner = sub.args[0]
                    if not inner.is_Atom:
                        derivative = sympy.diff(self.model.full(inner, b), b)
                        if derivative.free_symbols or derivative not in (0, 1):
                            out.append((latex(derivative), self.model.full(derivative),
                                        isinstance(sub, sympy.Function)))
        return out

    # --- chain-rule structure ----------------------------------------------------------------------------------
    def _structure(self, b: sympy.Expr, binds: dict[str, int]):
        """For a member made of ∂-factors only: every factor an edge of the definitions' graph, each product a
        path output → variable, the sum every path exactly once. None when it does not apply."""
        kind, out, var = self.target(binds)
        if kind != "partial":
            return None
        products = _partial_products(b)
        if products is None:
            return None
        model = self.model
        all_paths = model.paths(out, var)
        covered: dict[tuple, int] = {}
        for factors in products:
            for factor in factors:
                if factor.num == factor.den or not model.depends(factor.num, factor.den):
                    return False, self._structure_counterexample(b, binds), Slip(
                        "not_edge", (("factor", latex(factor)), ("num", latex(factor.num)),
                                     ("den", latex(factor.den))))
            chain, problem = _order_chain(factors, out, var)
            if problem is not None and not problem[0] == var and chain and len(chain) == len(factors) \
                    and not model.depends(problem[0], var):
                return False, self._structure_counterexample(b, binds), Slip(
                    "wrong_end", (("end", latex(problem[0])), ("var", latex(var))))
            if problem is not None:
                a, z = problem
                link = latex(PartialSym("partial", a, z))
                return False, self._structure_counterexample(b, binds), Slip(
                    "missing_link", (("link", link), ("from", latex(a)), ("to", latex(z))))
            hops = [model.paths(f.num, f.den) for f in chain]
            for pieces in _product(hops):
                path = pieces[0]
                for piece in pieces[1:]:
                    path = path + piece[1:]
                covered[path] = covered.get(path, 0) + 1
        for path in all_paths:
            if covered.get(path, 0) == 0:
                return False, self._structure_counterexample(b, binds), Slip(
                    "missing_path", (("path", _path_latex(path)),))
            if covered[path] > 1:
                return False, self._structure_counterexample(b, binds), Slip(
                    "duplicate_path", (("path", _path_latex(path)), ("count", str(covered[path]))))
        return (True,)

    def _structure_counterexample(self, b, binds) -> Counterexample | None:
        kind, out, var = self.target(binds)
        try:
            correct = self.model.abstract_leaves(self.model.partial(out, var))
            written = self.model.abstract_leaves(self.model.full(b))
        except (ModelProblem, TooLarge):
            return None
        for point, va, vb in self._points(0, binds, correct, written):
            if not agree_at_test_point(va, vb):
                return Counterexample(_point_items({s: float(v) for s, v in point.items()}, binds), va, vb)
        return None


class _Unchecked(Exception):
    """A forward value (``y = 2``) that the document gives no point for: listed as skipped."""


COUNT_NAMES = frozenset({"N", "K", "M", "n", "m", "B"})
"""Bare symbols that count things (samples, classes, batch size): positive integers at every test point."""


def _test_value(symbol, rng: random.Random, signed: bool) -> Fraction:
    """A test value: a count 1…6; else 0.1…1.9 in size, of either sign when ``signed`` (every point draws the
    signs afresh, so a ReLU or indicator is seen on both sides of its kink)."""
    if isinstance(symbol, VName) and symbol.base in COUNT_NAMES and not symbol.subs and symbol.layer is None:
        return Fraction(rng.randint(1, 6))
    value = Fraction(rng.randint(1, 19), 10)
    return -value if signed and rng.random() < 0.5 else value


def _valued(point: dict, deep_a, deep_b) -> tuple | None:
    """(point, a, b) with both sides' values there (lists of entries for vectors and matrices), or None where a
    side has no finite value."""
    values = evaluate_all(entries(deep_a) + entries(deep_b), point)
    if any(v is None for v in values):
        return None
    vas, vbs = values[:len(entries(deep_a))], values[len(entries(deep_a)):]
    return (point, vas, vbs) if is_matrix(deep_a) else (point, vas[0], vbs[0])


def _sign_of(value: float | None) -> int | None:
    return None if value is None or value == 0 else (1 if value > 0 else -1)


def _missing_gate(factors, points) -> Slip | None:
    """A kink's gate (𝟙[z > 0], the max's switch) left out: the right side times the gate is the left side at
    every point, and the gate is closed at some point where the right side is not 0. A closed gate is what the
    slip changes, so the points where it is closed are the ones that count (the left side is 0 there)."""
    for label, expr, _ in factors:
        if not expr.has(sympy.Heaviside):
            continue
        values = [evaluate(expr, p) for p, _, _ in points]
        if any(v is None for v in values) or isinstance(points[0][1], list):
            continue
        closed = any(abs(v) < 1e-12 and abs(vb) > 1e-12 for v, (_, _, vb) in zip(values, points))
        if closed and all(agree_at_test_point(vb * v, va) for (_, va, vb), v in zip(points, values)):
            return Slip("missing_gate", (("factor", label),))
    return None


def _factor_slip(factors, points) -> Slip | None:
    """One chain-rule factor (``factors`` as `ClaimChecker._local_factors` gives them) missing from the right side
    or there twice: the right side times (or over) the factor is the left side at every point."""
    gate = _missing_gate(factors, points)
    if gate is not None:
        return gate
    usable = [(p, va, vb) for p, va, vb in points if abs(va) > 1e-12]
    for label, expr, is_gate in factors:
        values = [evaluate(expr, p) for p, _, _ in usable]
        if len(usable) < 2 or any(v is None for v in values):
            continue
        if all(agree_at_test_point(vb * v, va) for (_, va, vb), v in zip(usable, values)):
            return Slip("missing_gate" if is_gate else "missing_factor", (("factor", label),))
        if any(abs(v) < 1e-12 for v in values):
            continue
        if all(agree_at_test_point(vb, va * v) for (_, va, vb), v in zip(usable, values)):
            return Slip("extra_factor", (("factor", label),))
    return None


def _is_activation(rhs) -> bool:
    """A definition that applies a nonlinearity to one input (a = σ(z), h = tanh(a), h = max(0, z)): its local
    derivative is the gate a backward pass multiplies by."""
    return isinstance(rhs, (Sigmoid, Relu, sympy.tanh, sympy.exp)) or (
        isinstance(rhs, sympy.Mul) and any(isinstance(f, sympy.Pow) and isinstance(f.base, sympy.Add)
                                           and any(isinstance(t, sympy.exp) for t in f.base.args)
                                           for f in rhs.args))


def _stronger(current: str, new: str) -> str:
    order = ["definition", "symbolic", "structure", "point", "numeric"]
    return new if order.index(new) > order.index(current) else current


def _ratio_slip(ratio: Fraction) -> Slip:
    if ratio == -1:
        return Slip("sign")
    text = latex(sympy.Rational(ratio.numerator, ratio.denominator))
    missing = latex(sympy.Rational(ratio.denominator, ratio.numerator))
    return Slip("factor", (("ratio", text), ("missing", missing)))


def _point_items(values: dict, binds: dict[str, int]) -> tuple[tuple[str, float], ...]:
    items = [(letter, float(v)) for letter, v in sorted(binds.items())]
    items += sorted(((latex(s) if isinstance(s, (VName, PartialSym)) else str(s), float(v)) for s, v in values.items()))
    return tuple(items)


def _partial_atoms(*exprs) -> set:
    return {s for expr in exprs for e in entries(expr) for s in e.free_symbols if isinstance(s, PartialSym)}


def _has_partials(expr: sympy.Expr) -> bool:
    return any(isinstance(s, PartialSym) for s in expr.free_symbols)


def _size(expr: sympy.Expr, limit: int) -> int:
    """Number of nodes of ``expr``, counting no further than ``limit``."""
    count = 0
    for _ in sympy.preorder_traversal(expr):
        count += 1
        if count > limit:
            break
    return count


EXACT_DIGITS = 40
"""Digits of `shared_evaluation`: far beyond the 6 a page prints, so that rounding the result rounds the exact value."""


def exact_number(value: sympy.Expr) -> sympy.Expr | None:
    """A number at the document's point as strict numbers judge it: exact when rational (or an exact zero written
    with powers of e), else `shared_evaluation`; None when it is not a finite real number."""
    if value.free_symbols or not value.is_number:
        return None
    if value.is_Rational:
        return value
    if exp_rational_zero(value):
        return sympy.Integer(0)
    return shared_evaluation(value)


def shared_evaluation(value: sympy.Expr, digits: int = EXACT_DIGITS) -> sympy.Float | None:
    """A number given exactly as an expression, evaluated to ``digits`` digits with each distinct subexpression
    evaluated once. The gradient of a long chain of sigmoids repeats σ(z⁸) inside σ(z⁹) and everywhere after it;
    SymPy's evalf evaluates every repetition again (11 s for one claim of a 9-layer chain, 0.4 s so). None when
    the value is not a finite real number."""
    cache: dict[sympy.Expr, object] = {}

    def evaluate(expr: sympy.Expr):
        if expr in cache:
            return cache[expr]
        if expr.is_Rational:
            result = mpmath.mpf(expr.p) / expr.q
        elif expr.is_Float:
            result = mpmath.mpf(expr._mpf_)
        elif expr.is_Add:
            result = mpmath.fsum(evaluate(a) for a in expr.args)
        elif expr.is_Mul:
            result = mpmath.fprod(evaluate(a) for a in expr.args)
        elif expr.is_Pow:
            result = mpmath.power(evaluate(expr.base), evaluate(expr.exp))
        elif isinstance(expr, sympy.exp):
            result = mpmath.exp(evaluate(expr.args[0]))
        elif isinstance(expr, Sigmoid):
            result = 1 / (1 + mpmath.exp(-evaluate(expr.args[0])))
        else:  # anything else (log, tanh, a step, π) as SymPy evaluates it
            number = expr.evalf(digits + 10)
            try:
                result = mpmath.mpf(number._mpf_) if number.is_Float else mpmath.mpmathify(complex(number))
            except (TypeError, ValueError):
                result = mpmath.nan
        cache[expr] = result
        return result

    with mpmath.workdps(digits + 10):
        try:
            result = evaluate(value)
        except ZeroDivisionError:
            return None
        if not isinstance(result, mpmath.mpf) or not mpmath.isfinite(result):
            return None
        return sympy.Float(result, digits)


def exp_rational_zero(value: sympy.Expr) -> bool:
    """Whether a number built from rationals and powers of e with rational exponents (softmax at rational scores)
    is exactly 0. Each e^{p/q} is written T^{p·D/q} with D the common denominator: e^{1/D} is transcendental
    (Lindemann–Weierstrass), so the number is 0 exactly when that rational function of T is 0. Tried only for a
    number that is tiny at 30 digits; False when it holds anything else (the printed rule then decides)."""
    if value.is_Rational or not value.is_number:
        return False
    powers = value.atoms(sympy.exp)
    if not powers or any(not p.exp.is_Rational for p in powers) \
            or value.atoms(sympy.Function) - powers or value.atoms(sympy.NumberSymbol) - {sympy.E}:
        return False  # before any evaluation: a long chain of sigmoids is costly to evaluate
    if abs(value.evalf(30)) > sympy.Float("1e-20"):
        return False
    common = sympy.ilcm(1, *[p.exp.q for p in powers])
    t = sympy.Dummy("t", positive=True)
    polynomial = value.xreplace({sympy.E: t ** common, **{p: t ** (p.exp * common) for p in powers}})
    if polynomial.atoms(sympy.exp):  # an exponential inside a power that the replacement did not reach
        return False
    return sympy.cancel(sympy.together(polynomial)) == 0


def _cheap_zero(expr: sympy.Expr) -> bool:
    """True when ``expr`` is 0 by expansion (and, for small rational expressions, cancellation); False means
    "not shown", and the numeric check decides."""
    if expr == 0:
        return True
    expr = _sigmoid_form(expr)
    if _size(expr, SYMBOLIC_SIZE_LIMIT) > SYMBOLIC_SIZE_LIMIT:
        return False
    expanded = sympy.expand(expr)
    if expanded == 0:
        return True
    if _size(expanded, CANCEL_SIZE_LIMIT) <= CANCEL_SIZE_LIMIT and any(
            p.exp.is_negative for p in expanded.atoms(sympy.Pow)):
        return sympy.cancel(sympy.together(expanded)) == 0
    return False


def _sigmoid_form(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with each e^{−u}/(1 + e^{−u})² (σ'(u) as a user writes it, in exponential form) written
    σ(u)(1 − σ(u)), the same function: beside the definitions' σ, the expansion then shows a zero that the
    exponential form hides (and costs far less than expanding fractions of exponentials)."""
    if not expr.has(sympy.exp):
        return expr
    return _products_rewritten(expr, _sigmoid_factors)


def _products_rewritten(expr: sympy.Expr, rewrite) -> sympy.Expr:
    """``expr.replace(lambda e: e.is_Mul, rewrite)``, each distinct subexpression rewritten once: an expression
    of a deep network written in its leaves repeats σ(z²) inside every later layer's terms, and `replace` walks
    every repetition (millions of nodes for a 5-layer page)."""
    done: dict[sympy.Basic, sympy.Basic] = {}

    def walk(node: sympy.Basic) -> sympy.Basic:
        found = done.get(node)
        if found is not None:
            return found
        result = node
        if node.args:
            args = tuple(walk(a) for a in node.args)
            if args != node.args:
                result = node.func(*args)
            # as `replace` (simultaneous): a node that the rewriting of one of its arguments made equal to that
            # argument is not rewritten again
            if result is node or not any(result == old and old != new for old, new in zip(node.args, args)):
                result = rewrite(result) if result.is_Mul else result
        done[node] = result
        return result

    return walk(expr)


def _sigmoid_factors(product: sympy.Expr) -> sympy.Expr:
    factors = list(product.args)
    found = []
    for factor in product.args:
        if factor.is_Pow and factor.exp == -2 and factor.base.is_Add and len(factor.base.args) == 2 \
                and sympy.S.One in factor.base.args:
            tail = next(a for a in factor.base.args if a is not sympy.S.One)
            if isinstance(tail, sympy.exp) and tail in factors:
                factors.remove(factor)
                factors.remove(tail)
                found.append(Sigmoid(-tail.args[0]))
    if not found:
        return product
    return sympy.Mul(*factors, *(s * (1 - s) for s in found))


def _partial_products(expr: sympy.Expr) -> list[list[PartialSym]] | None:
    if not expr.free_symbols or not all(isinstance(s, PartialSym) for s in expr.free_symbols):
        return None
    products = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coeff, factors = term.as_coeff_mul()
        if not (coeff.is_Integer and coeff > 0):
            return None
        flat: list[PartialSym] = []
        for factor in factors:
            base, exponent = factor.as_base_exp()
            if not isinstance(base, PartialSym) or not (exponent.is_Integer and exponent > 0):
                return None
            flat.extend([base] * int(exponent))
        for _ in range(int(coeff)):
            products.append(flat)
    return products


def _order_chain(factors: list[PartialSym], out: VName, var: VName):
    """Order the factors into out → … → var; (from, to) of the missing link when they do not connect."""
    left = list(factors)
    chain = []
    node = out
    while left:
        nxt = next((f for f in left if f.num == node), None)
        if nxt is None:
            return chain, (node, left[0].num if left else var)
        chain.append(nxt)
        left.remove(nxt)
        node = nxt.den
    if node != var:
        return chain, (node, var)
    return chain, None


def _product(lists):
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for tail in _product(lists[1:]):
            yield (head,) + tail


def _product_node(terms: tuple[Node, ...]) -> Node:
    return terms[0] if len(terms) == 1 else Mul(tuple(terms))


def _path_latex(path: tuple[VName, ...]) -> str:
    return r" \to ".join(latex(p) for p in path)


def _mutants(node: Node, letters: list[str] = ()):
    """Copies of ``node`` with one change: a transpose added or removed (W^{l} ↔ (W^{l})^T), a symbol's indices
    swapped (w^{3}_{jk} → w^{3}_{kj}) or one index letter replaced by another of the claim's (z_k → z_j), its
    layer moved by one, or the sign of one term of a sum flipped. Yields (old, new, mutated copy)."""
    yield from _structural_mutants(node, letters)
    for n in _outside_derivatives(node):
        if isinstance(n, Add) and len(n.terms) > 1:
            for position, (sign, term) in enumerate(n.terms):
                flipped = Add(n.terms[:position] + ((-sign, term),) + n.terms[position + 1:])
                yield n, flipped, _replace_node(node, n, flipped)


def _structural_mutants(node: Node, letters: list[str]):
    seen = set()
    mutable = list(_outside_derivatives(node))
    for n in mutable:
        if isinstance(n, Transpose):
            yield n, n.arg, _replace_node(node, n, n.arg)
    for n in mutable:  # a layer's matrix, or a letter the claim reads as a vector or matrix (A, x beside A_{kj}, x_j)
        if isinstance(n, Sym) and not n.subs:
            yield n, Transpose(n), _replace_node(node, n, Transpose(n))
    occurrences = [n for n in mutable if isinstance(n, Sym) and (n.subs or n.layer is not None)]
    for sym in occurrences:
        variants = []
        if len(sym.subs) >= 2:
            subs = list(sym.subs)
            for i in range(len(subs)):
                for j in range(i + 1, len(subs)):
                    swapped = subs[:]
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    if swapped != subs:
                        variants.append(replace(sym, subs=tuple(swapped)))
        if len(sym.subs) == 1 and isinstance(sym.subs[0], Sym) and sym.subs[0].base in letters:
            variants += [replace(sym, subs=(replace(sym.subs[0], base=other),))
                         for other in letters if other != sym.subs[0].base]
        if sym.layer is not None:
            for delta in (1, -1):
                shifted = _shift_layer(sym.layer, delta)
                if shifted is not None:
                    variants.append(replace(sym, layer=shifted))
        for variant in variants:
            if (sym, variant) in seen:
                continue
            seen.add((sym, variant))
            yield sym, variant, _replace_node(node, sym, variant)
    yield from _swapped_letters(node, mutable, letters)


def _swapped_letters(node: Node, mutable: list[Node], letters: list[str]):
    """Copies of ``node`` with two of the claim's index letters swapped everywhere (h_j (y_k − t_k) written
    h_k (y_j − t_j)): an index swap that no single symbol's change undoes."""
    found = sorted({s for n in mutable if isinstance(n, Sym) for s in n.subs
                    if is_index_letter(s) and s.base in letters}, key=lambda s: s.base)
    for position, one in enumerate(found):
        for other in found[position + 1:]:
            placeholder = replace(one, base="?")
            swapped = _replace_node(_replace_node(node, one, placeholder), other, one)
            yield one, other, _replace_node(swapped, placeholder, other)


def _outside_derivatives(node: Node):
    """The nodes of a tree, not entering the symbols a derivative names (nor index positions)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, (Deriv, Sym)):
            continue
        if isinstance(current, DerivOf):
            stack.append(current.body)
            continue
        stack.extend(reversed(children(current)))


def _shift_layer(layer: Node, delta: int) -> Node | None:
    """l → l ± 1, l + 1 → l, 3 → 2 or 4: a layer index moved by one, written simply."""
    if isinstance(layer, Num):
        value = int(layer.value) + delta
        return Num(Fraction(value), str(value)) if value >= 1 else None
    if isinstance(layer, Sym):
        return Add(((1, layer), (delta, Num(Fraction(1), "1"))))
    if isinstance(layer, Add) and len(layer.terms) == 2 and isinstance(layer.terms[1][1], Num):
        (_, letter), (sign, number) = layer.terms
        offset = sign * int(number.value) + delta
        if offset == 0:
            return letter
        return Add(((1, letter), (1 if offset > 0 else -1, Num(Fraction(abs(offset)), str(abs(offset))))))
    return None


def _replace_node(node: Node, old: Sym, new: Sym) -> Node:
    if node == old:
        return new
    if not is_dataclass(node) or isinstance(node, Deriv):
        return node  # the derivative a member names is never mutated
    changes = {}
    for attribute in fields(node):
        value = getattr(node, attribute.name)
        if is_dataclass(value):
            changes[attribute.name] = _replace_node(value, old, new)
        elif isinstance(value, tuple):
            items = []
            for item in value:
                if isinstance(item, tuple):
                    items.append(tuple(_replace_node(x, old, new) if is_dataclass(x) else x for x in item))
                elif is_dataclass(item):
                    items.append(_replace_node(item, old, new))
                else:
                    items.append(item)
            changes[attribute.name] = tuple(items)
    return replace(node, **changes) if changes else node


# --- the whole document ----------------------------------------------------------------------------------------

class ClaimCache:
    """Claims already checked, by what decides them: the scope's bindings (definitions, values visible at the claim,
    number rule, conventions) and the claim's own text. A page's article, slides and Markdown share most of their
    equations, and a page repeats a chain (on one line and in rows): each distinct one is checked once. Only the
    seed of the random test points depends on a claim's line; a result taken from here is given the line and the
    text it is asked for."""

    def __init__(self) -> None:
        self.results: dict[str, ClaimResult] = {}
        self.hits = 0
        self.assigned: dict[str, tuple[VName, Fraction] | None] = {}  # `settle_assignments`' values

    @staticmethod
    def scope_key(document: "Document") -> "ScopeKey":
        """What every claim of the scope ``document`` is decided by (written out once per scope, not per claim)."""
        return ScopeKey(document, repr((
            document.strict_numbers, document.output, document.layers, document.first_layer,
            sorted(map(repr, document.vectors)), sorted(map(repr, document.scalars)), document.constraints,
            sorted(document.functions.items()), sorted(map(repr, document.abstract.items())),
            [(d.lhs, d.rhs) for d in document.definitions])))

    def key(self, scope: "ScopeKey", item: _Eq) -> str:
        line = item.source.line
        document = scope.document
        values = visible_values(document, line)  # one dict for every line that sees the same values
        shown = scope.values.get(id(values))
        if shown is None:
            shown = scope.values[id(values)] = repr(sorted(map(repr, values.items())))
        own = tuple(k for k, d in enumerate(document.definitions) if d.line == line)
        return repr((scope.text, own, shown, item.kind, item.members, item.source.relations))

    @staticmethod
    def assignment_key(scope: "ScopeKey", values: dict[VName, Fraction], target: Sym, value_node: Node) -> str:
        """What the value of an assignment ``target ← value_node`` is decided by (its values are written out each
        time: they change with every assignment settled)."""
        return repr((scope.text, sorted(map(repr, values.items())), target, value_node))

    def get(self, key: str, item: _Eq) -> ClaimResult | None:
        found = self.results.get(key)
        if found is None:
            return None
        self.hits += 1
        return replace(found, line=item.source.line, claim=item.source.text)


@dataclass
class ScopeKey:
    """`ClaimCache.scope_key`: the scope's part of its claims' keys, and each set of visible values written out
    (by the identity of the scope's dict for it, filled only once the assignments are settled: the scope is held
    here, and its dicts are not freed meanwhile)."""
    document: "Document"
    text: str
    values: dict[int, str] = field(default_factory=dict)


def analyse(text: str, time_limit_seconds: float | None, trusted: Trusted | None = None,
            claims_checked: ClaimCache | None = None) -> Report:
    """Check a document scope by scope (see `derive.verify.directives`); ``trusted``: derive's own definition blocks
    (`derive.verify.own_tex`); ``claims_checked``: claims checked before, in this document or others."""
    text, own = pass_over_own(text, trusted)
    try:
        check_text(text, OWN_DOCUMENT_BYTES if own else MAX_DOCUMENT_BYTES)
        directives = read_directives(text)
        chunks = cut_at_scopes(find_maths(text, own_macros=own), directives, text)
        output = _output_name(directives.output) if directives.output is not None else None
        rows = table_equations(text, directives.tables)
    except DocumentProblem as exc:
        return Report(error=ReportError(exc.line, exc.message))
    grouped: list[list[Chunk]] = [[] for _ in directives.scopes]
    for chunk in chunks:
        grouped[directives.scope_at(chunk.line)].append(chunk)
    grouped_rows: list[list[Equation]] = [[] for _ in directives.scopes]
    for row in rows:
        grouped_rows[directives.scope_at(row.line)].append(row)
    layered = layered_bases(" ".join(chunk.text for chunk in chunks)) | directives.layered
    deadline = None if not time_limit_seconds else time.monotonic() + DOCUMENT_BUDGET * time_limit_seconds
    claims: list[ClaimResult] = []
    skipped: list[Skipped] = []
    definitions: list[DefinitionRead] = []
    readings: list[Reading] = []
    left: dict[str, dict[VName, Fraction]] = {}  # each scope's values after its assignments, for `from` scopes
    for scope, scope_chunks, scope_rows in zip(directives.scopes, grouped, grouped_rows):
        if not scope_chunks and not scope.given:
            continue
        try:
            document = read_scope(text, scope_chunks, scope.given, layered, tuple(scope_rows))
        except Problem as exc:
            return Report(error=ReportError(exc.line, exc.message))
        except RecursionError:
            return Report(error=ReportError.of(None, message("verify.too_deep")))
        document.strict_numbers = directives.strict_numbers
        document.output = output
        parent = next((s for s in directives.scopes if s.name == scope.parent), None) if scope.parent else None
        if parent is not None and left.get(parent.name):
            inherit_assignments(document, left[parent.name], scope.own(parent), layered,
                                value_letters(scope.given, layered), max([e.line for e in scope.given],
                                                                         default=scope.first_line))
        keyed = claims_checked.scope_key(document) if claims_checked is not None else None
        settle_assignments(document, claims_checked, keyed)
        left[scope.name] = {name: value for _, name, value in document.assigned}
        found, unread = _check_claims(document, time_limit_seconds, deadline, claims_checked, keyed)
        claims += found
        skipped += list(document.skipped) + unread
        definitions += list(document.function_definitions) + [
            DefinitionRead(d.line, member_latex(d.lhs) + " = " + member_latex(d.rhs)) for d in document.definitions]
        readings += [r for r in document.readings if r not in readings]
    skipped.sort(key=lambda s: s.line)
    claims.sort(key=lambda c: c.line)
    return Report(tuple(claims), tuple(skipped), tuple(sorted(definitions, key=lambda d: d.line)),
                  readings=tuple(readings))


@lru_cache(maxsize=8192)
def member_latex(node: Node) -> str:
    """A member as the report prints it back (`display`, then LaTeX), worked out once per distinct member (the
    tree is frozen, and equal trees print alike)."""
    return latex(display(node))


def _output_name(text: str) -> VName:
    try:
        node = parse_member(text)
    except SyntaxProblem:
        node = None
    if not isinstance(node, Sym):
        raise DocumentProblem(None, f"the `output` directive names one symbol, not «{text}»")
    return Model([], {}, DEFAULT_LAYERS).name(node, {})


def _check_claims(document: Document, time_limit_seconds: float | None, deadline: float | None,
                  checked: ClaimCache | None = None, scope: ScopeKey | None = None
                  ) -> tuple[list[ClaimResult], list[Skipped]]:
    claims: list[ClaimResult] = []
    skipped: list[Skipped] = []
    if checked is not None and scope is None:
        scope = checked.scope_key(document)
    for item in document.claims:
        checker = None
        key = checked.key(scope, item) if checked is not None else None
        known = checked.get(key, item) if checked is not None else None
        if known is not None:
            claims.append(known)
            continue
        try:
            checker = ClaimChecker(document, item, document.definitions)
            seconds = time_limit_seconds
            if deadline is not None:
                seconds = min(time_limit_seconds, deadline - time.monotonic())
                if seconds <= 0:
                    raise _Timeout()
            with time_limit(seconds):
                result = checker.check()
            claims.append(result)
            if checked is not None:
                checked.results[key] = result
        except _Unchecked:
            skipped.append(Skipped(item.source.line, item.source.text))
        except (Problem, ModelProblem, SyntaxProblem) as exc:
            skipped.append(_unread(item, exc))
        except (_Timeout, TooLarge, RecursionError) as exc:
            note = str(exc) if isinstance(exc, TooLarge) else (
                "the time limit was reached" if isinstance(exc, _Timeout) else "too deeply nested")
            shown = checker.shown if checker is not None else [item.source.text]
            claims.append(_undecided(item, shown, note))
    return claims, skipped


def _unread(item: _Eq, problem: Exception) -> Skipped:
    """A claim that cannot be checked, listed with why, at the line of the fault (a definition it needs, or
    itself)."""
    reason = problem.message if isinstance(problem, Problem) else str(problem)
    line = getattr(problem, "line", None) or item.source.line
    if line != item.source.line:
        reason += f" (needed by the claim on line {item.source.line})"
    return Skipped(line, item.source.text, reason)


def _undecided(item: _Eq, shown: list[str], note: str) -> ClaimResult:
    steps = tuple(StepResult(k, shown[k - 1] if k - 1 < len(shown) else "", shown[k] if k < len(shown) else "",
                             None, method="timeout", note=note) for k in range(1, len(item.members)))
    return ClaimResult(item.source.line, item.source.text, None, None, steps, tuple(shown))
