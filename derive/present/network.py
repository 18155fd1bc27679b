"""A checked `NetworkResult` → the walk-through's sections (plain data), its JSON, and rendered text.

Sections are `derive.walkthrough` blocks: prose by catalog key (``network.*`` in ``locales/<lang>/network.toml``),
maths as display nodes printed by `derive.notation`. Formulas come from the very `Term` trees that computed the
numbers (see `derive.networks.backprop`), once with the shape under every factor and once with the numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import sympy

from ..check import ABS_TOL, REL_TOL
from ..errors import CheckFailure
from ..locales import catalog
from ..networks import notation as nn
from ..networks.backprop import NetworkResult, Term
from ..notation import SIGNIFICANT_DIGITS, chain_latex, exact_latex, latex, number_latex, number_text
from ..walkthrough import Equation, Listing, Phrase, Section, Table, Text, size_given
from .bindings import NUMBERS, WALK, scope
from .context import section_context
from .prose import Math, say
from .figures import TIKZ_DEFINITIONS, TIKZ_PREAMBLE
from .formats import FIGURE_SENTINEL, Format, Kind, tex_engine
from .html import Picture
from .lecture import PLAIN, TexOptions
from .page_room import SlideRoom, slide_room
from .network_figure import Diagram, diagram, drawable as diagram_drawable, shrunk_to_line, to_svg, to_tikz
from .tex import (MATH_CHARS, SLIDES, TEXT_CHARS, align_rows, chain_members, chunks, document_head, escape_code,
                  escape_prose, slide_ems, slide_pages)

SCHEMA_VERSION = 1
MAX_INDEX_UNITS = 16
"""Index form with numbers is written unit by unit for layers up to this width (wider: the matrix form only)."""


def _math(item: object) -> Math:
    return Math(latex(item))


def _cell(item: nn.Display) -> str:
    return "$" + latex(item) + "$"


def _n(value) -> nn.Num:
    return nn.Num(sympy.sympify(value))


def _matrix(m) -> nn.NumMatrix:
    return nn.NumMatrix(m.data)


def _unit(result: NetworkResult, letter: str) -> str:
    """The subscript of a unit's quantity: ``j``, or ``j,n`` with a batch (unit j of sample n)."""
    return f"{letter},n" if result.network.batched else letter


def _batch_key(result: NetworkResult, key: str) -> str:
    """The sentence before an index form: its batch variant (which names the sample n) with a batch."""
    return key + "_batch" if result.network.batched else key


def _first_sample(result: NetworkResult, unit: int) -> str:
    """The subscript of unit ``unit`` (from 0) of the first sample: ``1``, or ``1,1`` with a batch."""
    return f"{unit + 1},1" if result.network.batched else str(unit + 1)


def _over_samples(result: NetworkResult, body: nn.Display) -> nn.Display:
    """A per-sample quantity summed over the batch (Σ_{n=1}^{N}; itself without one)."""
    return nn.SumOver("n", "N", body) if result.network.batched else body


def _chain(lhs: nn.Display, term: Term) -> Equation:
    """lhs = formula with shapes = formula with numbers = result."""
    return Equation(lhs, (term.show("shape"), term.show("number"), _matrix(term.value)))


# --- sections ---------------------------------------------------------------------------------------------------

def network_sections(result: NetworkResult) -> tuple[Section, ...]:
    if result.check is None:
        raise CheckFailure("a network derivation must be checked before it is rendered")
    sections = (_setting(result), _forward(result), _output_error(result), _recurrence(result), _gradients(result),
                _update(result), _after(result), _check(result))
    common = _symbols()
    scopes = _section_scopes(result)
    return tuple(Section(s.title_key, tuple(Text(b.key, common + b.params) if isinstance(b, Text) else b
                                            for b in s.blocks), *scopes.get(s.title_key, (WALK, ())))
                 for s in sections)


# --- bindings for `derive verify` (the truth loop) -----------------------------------------------------------------

def _binding(lhs: nn.Display, rhs) -> str:
    return chain_latex([latex(lhs), exact_latex(rhs) if isinstance(rhs, sympy.Expr) else latex(rhs)])


def _matrix_values(name: str, layer: int, m, samples: bool = False) -> list[str]:
    """Each entry of W^l (as w^l_{ji}), of a column (b^l_j, a^1_j, t_j) or, with ``samples``, of a batch whose
    columns are the samples (a^1_{j,n}, t_{j,n}) as a binding."""
    column = m.cols == 1 and not samples
    return [_binding(nn.Sym(name, layer, f"{j + 1}" if column else f"{j + 1},{i + 1}" if samples
                            else f"{j + 1}{i + 1}"), value)
            for j, row in enumerate(m.data) for i, value in enumerate(row)]


def _parameter_values(W: dict, b: dict, L: int) -> list[str]:
    return [v for l in range(2, L + 1) for v in _matrix_values("w", l, W[l]) + _matrix_values("b", l, b[l])]


def _data_values(result: NetworkResult) -> list[str]:
    batched = result.network.batched
    sizes = [_binding(nn.Sym("L"), sympy.Integer(result.L))]
    if batched:
        sizes.append(_binding(nn.Sym("N"), sympy.Integer(result.network.samples)))
    return (_matrix_values("a", 1, result.forward.a[1], batched) + _matrix_values("t", None, result.t, batched)
            + sizes)


def network_directives(result: NetworkResult) -> list[str]:
    """The page's number rule, its output C and the ``walk`` scope: the forward definitions of every layer, the cost,
    the data, every weight and bias and η. With a batch the definitions and the data carry the sample n as a second
    index (a^{1}_{j,n}), so that a^{l} is read as the matrix with one column per sample."""
    j = _unit(result, "j")
    definitions = [*_activation_binding(result),
                   _binding(nn.Sym("z", "l", j), _weighted_sum(result)),
                   *_output_bindings(result),
                   _binding(nn.Sym("a", "l", j), nn.Apply("sigma", nn.Sym("z", "l", j))),
                   _binding(nn.Sym("C"), _loss_formula(result))]
    values = _data_values(result) + _parameter_values(result.W, result.b, result.L)
    values.append(_binding(nn.Sym("eta"), result.network.learning_rate))
    return [NUMBERS, f"output {latex(nn.Sym('C'))}", *scope(WALK, definitions + values, from_walk=False)]


SECTION_SCOPES = {"network.heading.setting": "setting", "network.heading.forward": "main",
                  "network.heading.after": "after"}
"""The sections that start a scope; the others continue the one before (the backward pass reads the forward
pass's δ definition and values)."""


def _section_scopes(result: NetworkResult) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Sections with a meaning of their own: the setting (σ as a function of z, a = σ(z); the data) and the
    forward pass after the step (the new weights and biases)."""
    setting = (*_activation_binding(result), _binding(_A, _S), *_output_bindings(result), *_data_values(result))
    after = tuple(_parameter_values(result.updated_W, result.updated_b, result.L))
    return {"network.heading.setting": ("own", setting), "network.heading.after": (WALK, after)}


@lru_cache(maxsize=1)
def _symbols() -> tuple[tuple[str, object], ...]:
    """Maths every network sentence may use by name ({dl} is δ^l, {Wl1} is W^{l+1}, …)."""
    S = nn.Sym
    table = {
        "C": S("C"), "L": S("L"), "N": S("N"), "m": S("m"), "t": S("t"), "eta": S("eta"), "sigma": S("sigma"),
        "dl": S("delta", "l"), "dL": S("delta", "L"), "dl1": S("delta", "l+1"), "dlj": S("delta", "l", "j"),
        "zl": S("z", "l"), "zL": S("z", "L"), "zlj": S("z", "l", "j"), "al": S("a", "l"), "aL": S("a", "L"),
        "al1": S("a", "l-1"), "a1": S("a", 1), "Wl": S("W", "l"), "Wl1": S("W", "l+1"),
        "WTl1": nn.Transposed(S("W", "l+1")),
        "bl": S("b", "l"), "wlji": S("w", "l", "ji"), "nl": S("n", None, "l"), "nl1": S("n", None, "l+1"),
        "nlm": S("n", None, "l-1"), "nL": S("n", None, "L"), "sp": nn.Apply("sigma", S("z", "l"), prime=True),
        "spL": nn.Apply("sigma", S("z", "L"), prime=True), "grad": nn.Nabla(S("C"), S("a", "L")),
        "ones": nn.Ones("N"), "onesT": nn.Ones("N", row=True),
        "dCdW": nn.Partial(S("C"), S("W", "l")), "dCdb": nn.Partial(S("C"), S("b", "l")),
        "dCdz": nn.Partial(S("C"), S("z", "l", "j")),
        "alj": S("a", "l", "j"), "wlji_sym": S("w", "l", "ji"),
        "i": S("i"), "j": S("j"), "l": S("l"), "l_minus": nn.Minus(S("l"), _ONE),
    }
    return tuple((key, _math(value)) for key, value in table.items())


def _layer_word(result: NetworkResult) -> str:
    return "batch" if result.network.batched else "single"


def _setting(result: NetworkResult) -> Section:
    net = result.network
    L, N, sizes = net.depth, net.samples, net.sizes
    blocks: list[Any] = [
        Text("network.text.layers", (("L", _math(nn.Relation(nn.Sym("L"), "=", _n(L)))), ("last", L),
                                     ("sizes", Listing(str(s) for s in sizes)))),
        Table(("network.table.layer", "network.table.units", "network.table.activation", "network.table.W",
               "network.table.b"),
              tuple([(str(1), str(sizes[0]), "—", "—", "—")] + [
                  (str(l), str(sizes[l - 1]), net.activation_of(l),
                   _cell(nn.Shaped(nn.Sym("W", l), sizes[l - 1], sizes[l - 2])),
                   _cell(nn.Shaped(nn.Sym("b", l), sizes[l - 1], 1)))
                  for l in range(2, L + 1)])),
        Text("network.text.convention", (("w", _math(nn.Sym("w", "l", "ji"))),
                                         ("W", _math(nn.Sym("W", "l"))))),
    ]
    blocks += _activation_blocks(result)
    if net.loss == "cross_entropy":
        blocks += [Text("network.text.softmax"), Equation(_softmax_output(result), (_softmax_formula(result),))]
    blocks += [Text(f"network.text.loss.{net.loss}"), Equation(nn.Sym("C"), (_loss_formula(result),))]
    if net.batched:
        blocks.append(Text("network.text.data_batch", (("N", _math(nn.Relation(nn.Sym("N"), "=", _n(N)))),)))
    else:
        blocks.append(Text("network.text.data_single"))
    blocks += [Equation(nn.Sym("a", 1), (_matrix(result.forward.a[1]),)),
               Equation(nn.Sym("t"), (_matrix(result.t),)),
               Text("network.text.learning_rate", (("eta", _math(nn.Relation(nn.Sym("eta"), "=",
                                                                              _n(net.learning_rate)))),))]
    return Section("network.heading.setting", tuple(blocks))


_Z, _A, _ONE, _ZERO = nn.Sym("z"), nn.Sym("a"), nn.Num(sympy.Integer(1)), nn.Num(sympy.Integer(0))
_S = nn.Apply("sigma", _Z)


ACTIVATION_BINDINGS = {"relu": nn.Apply("max", nn.Arguments((_ZERO, _Z)))}
"""What σ(z) is, for the activations the reader does not take σ to mean (it reads σ as the logistic sigmoid):
bound on the page as ``\\sigma(z) = …``, so that σ and σ' mean the page's activation and its derivative (ReLU's
is 0 at the kink, as the page says and PyTorch has it)."""


def _activation_binding(result: NetworkResult) -> tuple[str, ...]:
    """``\\sigma(z) = \\max(0, z)`` for a ReLU network; nothing for the sigmoid, which σ means by default."""
    definition = ACTIVATION_BINDINGS.get(result.network.activation)
    return () if definition is None else (_binding(_S, definition),)


def _by_sign(positive: nn.Display, other: nn.Display) -> nn.Cases:
    return nn.Cases(((positive, nn.Relation(_Z, ">", _ZERO)), (other, nn.Relation(_Z, r"\le", _ZERO))))


ACTIVATION_FORMULAS = {
    "sigmoid": lambda slope: ((nn.Frac(_ONE, nn.Plus((_ONE, sympy.exp(-sympy.Symbol("z"), evaluate=False)))),),
                              (nn.Times((_S, nn.Paren(nn.Minus(_ONE, _S)))),
                               nn.Times((_A, nn.Paren(nn.Minus(_ONE, _A)))))),
    "tanh": lambda slope: ((nn.Apply("tanh", _Z),), (nn.Minus(_ONE, nn.Sym("a", 2)),)),
    "relu": lambda slope: ((_by_sign(_Z, _ZERO),), (_by_sign(_ONE, _ZERO),)),
    "leaky_relu": lambda slope: ((_by_sign(_Z, nn.Times((_n(slope), _Z))),), (_by_sign(_ONE, _n(slope)),)),
    "identity": lambda slope: ((_Z,), (_ONE,)),
}
"""σ(z) and σ'(z) of each element-wise activation as the setting writes them (σ' also with a = σ(z))."""

SIGMA_PRIME_WITH_OUTPUT = {
    "sigmoid": lambda a: nn.Hadamard(a, nn.Paren(nn.Minus(_ONE, a))),
    "tanh": lambda a: nn.Minus(_ONE, nn.Hadamard(a, a)),
}
"""σ'(z^l) written with a^l, for the activations whose derivative textbooks write so (the others: numbers only)."""


def _activation_blocks(result: NetworkResult) -> list[Any]:
    net = result.network
    name = net.activation
    if net.loss == "cross_entropy" and net.depth == 2:
        return []  # no element-wise layer at all
    definition, derivative = ACTIVATION_FORMULAS[name](net.leaky_slope)
    layers = "hidden" if net.activation_of(net.depth) != name else "all"  # a softmax output has its own rule
    blocks: list[Any] = [Text(f"network.text.activation.{name}",
                              (("layers", Phrase(f"network.text.activation_layers.{layers}")),)),
                         Equation(_S, definition),
                         Equation(nn.Apply("sigma", _Z, prime=True), derivative)]
    if name in ("relu", "leaky_relu"):
        blocks.append(Text(f"network.text.kink.{name}"))
    return blocks


def _softmax_output(result: NetworkResult) -> nn.Sym:
    """a^L_k, or a^L_{k,n} with a batch (the softmax runs over the units of each sample apart)."""
    return nn.Sym("a", "L", _unit(result, "k"))


def _softmax_formula(result: NetworkResult) -> nn.Display:
    """a^L_k = exp(z^L_k) / Σ_{i=1}^{m} exp(z^L_i): its right side (each z^L_{·,n} of sample n with a batch)."""
    denominator = nn.SumOver("i", "m", nn.Apply("exp", nn.Sym("z", "L", _unit(result, "i"))))
    return nn.Frac(nn.Apply("exp", nn.Sym("z", "L", _unit(result, "k"))), denominator)


def _output_bindings(result: NetworkResult) -> tuple[str, ...]:
    """A softmax output's own rule (a^{L}_{k}, which the reader takes over a^{l}_{j} = σ(z^{l}_{j}) at l = L), the
    sizes its sums run to (m outputs, N samples) and the condition the δ^L shortcut needs (each sample's targets
    sum to 1, which loading the network checks); nothing for an element-wise output."""
    net = result.network
    if net.loss != "cross_entropy":
        return ()
    targets = nn.SumOver("j", net.sizes[-1], nn.Sym("t", None, _unit(result, "j")))
    return (_binding(_softmax_output(result), _softmax_formula(result)), size_given("m", net.sizes[-1]),
            size_given("N", net.samples), _binding(targets, _ONE))


def _loss_formula(result: NetworkResult) -> nn.Display:
    net = result.network
    N, m = net.samples, net.sizes[-1]
    sub = "j,n" if net.batched else "j"
    a, t = nn.Sym("a", "L", sub), nn.Sym("t", None, sub)
    if net.loss == "cross_entropy":
        inner = nn.SumOver("j", m, nn.Times((t, nn.Apply("log", a))))
    else:
        inner = nn.SumOver("j", m, nn.Squared(nn.Minus(a, t)))
    body = nn.SumOver("n", N, inner) if net.batched else inner
    return _with_factor(net.loss, N, m, body)


LOSS_FACTORS = {"sse": lambda N, m: sympy.Rational(1, 2), "mse": lambda N, m: sympy.Rational(1, N * m),
                "cross_entropy": lambda N, m: sympy.Rational(-1, N)}
"""The factor written before the loss's double sum over N samples of m outputs."""


def _with_factor(loss: str, N: int, m: int, body: nn.Display) -> nn.Display:
    """½ · body, 1/(N·m) · body or −1/N · body, the factor as a fraction (−body when N = 1)."""
    factor = LOSS_FACTORS[loss](N, m)
    if factor == -1:
        return nn.Neg(body)
    fraction = nn.Frac(_n(abs(factor.p)), _n(factor.q))
    return nn.Neg(nn.Times((fraction, body))) if factor < 0 else nn.Times((fraction, body))


def _weighted_sum(result: NetworkResult) -> nn.Display:
    """z^l_j = Σ_i w^l_ji a^(l−1)_i + b^l_j (with a batch, of sample n): its right side."""
    j_sum = nn.SumOver("i", "n_{l-1}", nn.Times((nn.Sym("w", "l", "ji"),
                                                 nn.Sym("a", "l-1", _unit(result, "i")))))
    return nn.Plus((j_sum, nn.Sym("b", "l", "j")))


def _forward(result: NetworkResult) -> Section:
    net = result.network
    fwd = result.forward
    L = net.depth
    j = _unit(result, "j")
    blocks: list[Any] = [
        Text(_batch_key(result, "network.text.forward_index")),
        Equation(nn.Sym("z", "l", j), (_weighted_sum(result),)),
        Equation(nn.Sym("a", "l", j), (nn.Apply("sigma", nn.Sym("z", "l", j)),)),
        Text(f"network.text.forward_matrix_{_layer_word(result)}"),
        Equation(nn.Shaped(nn.Sym("z", "l"), "n_{l}", "N" if net.batched else 1),
                 (_general_forward(net.batched),)),
    ]
    for l in range(2, L + 1):
        blocks.append(Text("network.text.forward_layer", (("layer", l),)))
        blocks.append(_chain(nn.Sym("z", l), fwd.z_terms[l]))
        fn = "softmax" if net.activation_of(l) == "softmax" else "sigma"
        blocks.append(Equation(nn.Sym("a", l), (nn.Apply(fn, nn.Sym("z", l)), _matrix(fwd.a[l]))))
    blocks.append(Text("network.text.loss_value"))
    blocks.append(Equation(nn.Sym("C"), (*_loss_members(result, fwd), sympy.sympify(fwd.loss))))
    return Section("network.heading.forward", tuple(blocks))


def _general_forward(batched: bool) -> nn.Display:
    W = nn.Shaped(nn.Sym("W", "l"), "n_{l}", "n_{l-1}")
    a = nn.Shaped(nn.Sym("a", "l-1"), "n_{l-1}", "N" if batched else 1)
    b = nn.Shaped(nn.Sym("b", "l"), "n_{l}", 1)
    bias = nn.MatrixProduct(b, nn.Shaped(nn.Ones("N", row=True), 1, "N")) if batched else b
    return nn.Plus((nn.MatrixProduct(W, a), bias))


def _loss_members(result: NetworkResult, fwd) -> tuple[nn.Display, ...]:
    """The cost term by term: written with the outputs and targets, then with their numbers (one list of pairs, so
    that the k-th numbers belong to the k-th term); cross-entropy with its numbers only (its zero targets' terms
    are left out)."""
    net = result.network
    N, m = net.samples, net.sizes[-1]
    L = net.depth
    out = fwd.a[L]
    pairs = []
    for n in range(N):
        for j in range(m):
            a, t = out.data[j][n], result.t.data[j][n]
            if net.loss == "cross_entropy":
                if t != 0:
                    pairs.append((None, nn.Times((_n(t), nn.Apply("log", _n(a))))))
            else:
                sub = f"{j + 1},{n + 1}" if net.batched else f"{j + 1}"
                pairs.append((nn.Squared(nn.Minus(nn.Sym("a", L, sub), nn.Sym("t", None, sub))),
                              nn.Squared(nn.Minus(_n(a), _n(t)))))
    symbols, numbers = (tuple(side) for side in zip(*pairs)) if pairs else ((), ())
    members = [numbers] if net.loss == "cross_entropy" else [symbols, numbers]
    return tuple(_with_factor(net.loss, N, m, _sum_of(terms)) for terms in members)


def _sum_of(terms: tuple[nn.Display, ...]) -> nn.Display:
    return nn.Paren(nn.Plus(terms)) if len(terms) > 1 else (terms[0] if terms else _n(0))


def _sigma_prime_formula(result: NetworkResult, layer: int) -> tuple[nn.Display, ...]:
    """σ'(z^l) written with a^l (sigmoid, tanh), then its numbers."""
    value = _matrix(result.sigma_prime[layer])
    with_output = SIGMA_PRIME_WITH_OUTPUT.get(result.network.activation_of(layer))
    return (with_output(nn.Sym("a", layer)), value) if with_output else (value,)


def _output_error(result: NetworkResult) -> Section:
    net = result.network
    L = net.depth
    j = _unit(result, "j")
    blocks: list[Any] = [
        Text(_batch_key(result, "network.text.delta_definition")),
        Equation(nn.Sym("delta", "l", j), (nn.Partial(nn.Sym("C"), nn.Sym("z", "l", j)),)),
    ]
    delta = result.delta_terms[L]
    if net.loss == "cross_entropy":
        blocks += [Text("network.text.delta_softmax"),
                   Equation(nn.Sym("delta", "L"), (nn.Times((nn.Frac(_n(1), nn.Sym("N")),
                                                             nn.Paren(nn.Minus(nn.Sym("a", "L"), nn.Sym("t"))))),)),
                   Text("network.text.delta_softmax_numbers"),
                   _chain(nn.Sym("delta", L), delta)]
    else:
        blocks += [
            Text("network.text.delta_output_index"),
            Equation(nn.Sym("delta", "L", j), (nn.Times((nn.Partial(nn.Sym("C"), nn.Sym("a", "L", j)),
                                                          nn.Apply("sigma", nn.Sym("z", "L", j), prime=True))),)),
            Text("network.text.delta_output_matrix"),
            Equation(nn.Sym("delta", "L"), (nn.Hadamard(nn.Nabla(nn.Sym("C"), nn.Sym("a", "L")),
                                                        nn.Apply("sigma", nn.Sym("z", "L"), prime=True)),)),
            Text(f"network.text.grad_a.{net.loss}"),
            Equation(nn.Nabla(nn.Sym("C"), nn.Sym("a", L)),
                     (result.grad_a.show("symbol"), result.grad_a.show("number"), _matrix(result.grad_a.value))),
            Text("network.text.sigma_prime_layer", (("layer", L),)),
            Equation(nn.Apply("sigma", nn.Sym("z", L), prime=True), _sigma_prime_formula(result, L)),
            Text("network.text.delta_output_numbers"),
            _chain(nn.Sym("delta", L), delta),
        ]
    blocks += _output_units(result)
    return Section("network.heading.output_error", tuple(blocks))


def _sample_text(result: NetworkResult) -> list[Any]:
    return [Text("network.text.first_sample")] if result.network.batched else [Text("network.text.unit_by_unit")]


def _output_units(result: NetworkResult) -> list[Any]:
    """δ^L_j unit by unit for the first sample."""
    net = result.network
    L, N, m = net.depth, net.samples, net.sizes[-1]
    if m > MAX_INDEX_UNITS:
        return []
    out, t, delta = result.forward.a[L], result.t, result.delta[L]
    blocks = _sample_text(result)
    for j in range(m):
        a_j, t_j = _n(out.data[j][0]), _n(t.data[j][0])
        lhs = nn.Sym("delta", L, _first_sample(result, j))
        if net.loss == "cross_entropy":
            numbers = nn.Frac(nn.Minus(a_j, t_j), _n(N))
            blocks.append(Equation(lhs, (numbers, sympy.sympify(delta.data[j][0]))))
            continue
        difference = nn.Paren(nn.Minus(a_j, t_j))
        if net.loss == "mse":
            difference = nn.Times((nn.Frac(_n(2), _n(N * m)), difference))
        symbolic = nn.Times((nn.Partial(nn.Sym("C"), nn.Sym("a", L, _first_sample(result, j))),
                             nn.Apply("sigma", nn.Sym("z", L, _first_sample(result, j)), prime=True)))
        numbers = nn.Times((difference, _n(result.sigma_prime[L].data[j][0])))
        blocks.append(Equation(lhs, (symbolic, numbers, sympy.sympify(delta.data[j][0]))))
    return blocks


def _recurrence(result: NetworkResult) -> Section:
    net = result.network
    L = net.depth
    n_cols = "N" if net.batched else 1
    j = _unit(result, "j")
    k_sum = nn.SumOver("k", "n_{l+1}", nn.Times((nn.Sym("w", "l+1", "kj"),
                                                 nn.Sym("delta", "l+1", _unit(result, "k")))))
    general = nn.Hadamard(
        nn.MatrixProduct(nn.Shaped(nn.Transposed(nn.Sym("W", "l+1")), "n_{l}", "n_{l+1}"),
                  nn.Shaped(nn.Sym("delta", "l+1"), "n_{l+1}", n_cols)),
        nn.Shaped(nn.Apply("sigma", nn.Sym("z", "l"), prime=True), "n_{l}", n_cols))
    blocks: list[Any] = [
        Text("network.text.recurrence_index"),
        Equation(nn.Sym("delta", "l", j), (nn.Times((nn.Paren(k_sum),
                                                     nn.Apply("sigma", nn.Sym("z", "l", j), prime=True))),)),
        Text("network.text.recurrence_matrix"),
        Equation(nn.Shaped(nn.Sym("delta", "l"), "n_{l}", n_cols), (general,)),
        Text("network.text.recurrence_shapes"),
    ]
    if L == 2:
        blocks.append(Text("network.text.no_hidden"))
    for l in range(L - 1, 1, -1):
        blocks += [
            Text("network.text.recurrence_layer", (("layer", l), ("next", l + 1))),
            Equation(nn.Apply("sigma", nn.Sym("z", l), prime=True), _sigma_prime_formula(result, l)),
            _chain(nn.Sym("delta", l), result.delta_terms[l]),
        ]
        blocks += _recurrence_units(result, l)
    return Section("network.heading.recurrence", tuple(blocks))


def _recurrence_units(result: NetworkResult, l: int) -> list[Any]:
    """δ^l_j = (Σ_k w^{l+1}_{kj} δ^{l+1}_k) σ'(z^l_j) with numbers, unit by unit, for the first sample."""
    W, nxt, sp, delta = result.W[l + 1], result.delta[l + 1], result.sigma_prime[l], result.delta[l]
    if delta.rows > MAX_INDEX_UNITS or W.rows > MAX_INDEX_UNITS:
        return []
    blocks = _sample_text(result)
    for j in range(delta.rows):
        # one list of (term, its numbers), so the k-th numbers belong to the k-th term
        pairs = [(nn.Times((nn.Sym("w", l + 1, f"{k + 1}{j + 1}"),
                            nn.Sym("delta", l + 1, _first_sample(result, k)))),
                  nn.Times((_n(W.data[k][j]), _n(nxt.data[k][0])))) for k in range(W.rows)]
        symbolic_terms, number_terms = (tuple(side) for side in zip(*pairs))
        sp_symbol = nn.Apply("sigma", nn.Sym("z", l, _first_sample(result, j)), prime=True)
        blocks.append(Equation(nn.Sym("delta", l, _first_sample(result, j)), (
            nn.Times((nn.Plus(symbolic_terms), sp_symbol)),
            nn.Times((nn.Plus(number_terms), _n(sp.data[j][0]))),
            sympy.sympify(delta.data[j][0]))))
    return blocks


def _gradients(result: NetworkResult) -> Section:
    net = result.network
    L = net.depth
    batched = net.batched
    n_cols = "N" if batched else 1
    blocks: list[Any] = [
        Text(_batch_key(result, "network.text.gradients_index")),
        Equation(nn.Partial(nn.Sym("C"), nn.Sym("w", "l", "ji")),
                 (_over_samples(result, nn.Times((nn.Sym("delta", "l", _unit(result, "j")),
                                                  nn.Sym("a", "l-1", _unit(result, "i"))))),)),
        Equation(nn.Partial(nn.Sym("C"), nn.Sym("b", "l", "j")),
                 (_over_samples(result, nn.Sym("delta", "l", _unit(result, "j"))),)),
        Text(f"network.text.gradients_matrix_{_layer_word(result)}"),
        Equation(nn.Partial(nn.Sym("C"), nn.Sym("W", "l")),
                 (nn.MatrixProduct(nn.Shaped(nn.Sym("delta", "l"), "n_{l}", n_cols),
                            nn.Shaped(nn.Transposed(nn.Sym("a", "l-1")), n_cols, "n_{l-1}")),)),
        Equation(nn.Partial(nn.Sym("C"), nn.Sym("b", "l")),
                 (nn.MatrixProduct(nn.Shaped(nn.Sym("delta", "l"), "n_{l}", "N"), nn.Shaped(nn.Ones("N"), "N", 1))
                  if batched else nn.Sym("delta", "l"),)),
    ]
    for l in range(L, 1, -1):
        blocks += [
            Text("network.text.gradients_layer", (("layer", l),)),
            _chain(nn.Partial(nn.Sym("C"), nn.Sym("W", l)), result.grad_W_terms[l]),
            _chain(nn.Partial(nn.Sym("C"), nn.Sym("b", l)), result.grad_b_terms[l]) if batched else
            Equation(nn.Partial(nn.Sym("C"), nn.Sym("b", l)), (nn.Sym("delta", l), _matrix(result.grad_b[l]))),
        ]
    return Section("network.heading.gradients", tuple(blocks))


def _update(result: NetworkResult) -> Section:
    net = result.network
    L = net.depth
    blocks: list[Any] = [Text("network.text.update", (("eta", _math(nn.Relation(nn.Sym("eta"), "=",
                                                                                _n(net.learning_rate)))),))]
    for l in range(2, L + 1):
        for name, terms in (("W", result.update_W_terms), ("b", result.update_b_terms)):
            term = terms[l]
            blocks.append(Equation(nn.Relation(nn.Sym(name, l), r"\leftarrow", term.show("symbol")),
                                   (term.show("number"), _matrix(term.value))))
    return Section("network.heading.update", tuple(blocks))


def _after(result: NetworkResult) -> Section:
    net = result.network
    L = net.depth
    after = result.after
    before, now = result.loss, result.loss_after
    trend = "fell" if now < before else "rose" if now > before else "same"
    blocks: list[Any] = [
        Text("network.text.after"),
        Equation(nn.Sym("a", L), (_matrix(after.a[L]),)),
        Equation(nn.Sym("C"), (*_loss_members(result, after), sympy.sympify(now))),
        Text(f"network.text.trend.{trend}", (("before", sympy.sympify(before)), ("after", sympy.sympify(now)))),
    ]
    return Section("network.heading.after", tuple(blocks))


def _check(result: NetworkResult) -> Section:
    report = result.check
    blocks: list[Any] = [Text("network.text.check_shapes")]
    if report.oracle == "symbolic":
        blocks.append(Text("network.check.symbolic", (("count", report.compared), ("ops", report.symbolic_ops))))
    elif report.oracle == "numeric":
        blocks.append(Text("network.check.numeric", (("count", report.compared),
                                                       ("directions", report.directions))))
    else:
        batched = result.network.batched
        where = Listing(_math(nn.Sym("z", k.layer, f"{k.unit},{k.sample}" if batched else str(k.unit)))
                        for k in report.kinks[:5])
        blocks.append(Text("network.check.kink", (("count", report.compared), ("where", where))))
    blocks.append(Text("network.check.tolerance", (("absolute", Math(number_latex(ABS_TOL))),
                                                   ("relative", Math(number_latex(REL_TOL))),
                                                   ("digits", SIGNIFICANT_DIGITS))))
    return Section("network.heading.check", tuple(blocks))


# --- JSON ---------------------------------------------------------------------------------------------------------

def _number(value) -> int | float:
    return int(value) if value.is_Integer else float(value)


def _per_sample(result: NetworkResult, m) -> list:
    columns = [[_number(v) for v in m.column(n)] for n in range(m.cols)]
    return columns if result.network.batched else columns[0]


def network_json(result: NetworkResult) -> dict[str, Any]:
    """The JSON of DESIGN.md: keys are the material's layer numbers as strings, arrays count from 0."""
    L = result.L
    rows = lambda m: [[_number(v) for v in row] for row in m.data]  # noqa: E731
    column = lambda m: [_number(v) for v in m.column(0)]  # noqa: E731
    return {
        "schema_version": SCHEMA_VERSION,
        "loss": _number(result.loss),
        "loss_after": _number(result.loss_after),
        "z": {str(l): _per_sample(result, result.forward.z[l]) for l in range(2, L + 1)},
        "a": {str(l): _per_sample(result, result.forward.a[l]) for l in range(1, L + 1)},
        "delta": {str(l): _per_sample(result, result.delta[l]) for l in range(2, L + 1)},
        "grad_W": {str(l): rows(result.grad_W[l]) for l in range(2, L + 1)},
        "grad_b": {str(l): column(result.grad_b[l]) for l in range(2, L + 1)},
        "updated_W": {str(l): rows(result.updated_W[l]) for l in range(2, L + 1)},
        "updated_b": {str(l): column(result.updated_b[l]) for l in range(2, L + 1)},
    }


def schema() -> dict[str, Any]:
    """The JSON Schema of a network's JSON (shipped in the package)."""
    return json.loads(resources.files("derive").joinpath("schema/network.schema.json").read_text("utf-8"))


# --- rendering ----------------------------------------------------------------------------------------------------

def network_context(result: NetworkResult, lang: str) -> dict[str, Any]:
    t = catalog(lang)
    net = result.network
    source = net.text.strip("\n")
    fence = "```"
    while fence in source:
        fence += "`"
    return {
        "lang": lang,
        "t": t,
        "title": t["network.title"],
        "intro": say(lang, "network.text.intro", source=net.source.rsplit("/", 1)[-1]),
        "source": source,
        "source_lines": source.splitlines(),
        "fence": fence,
        "fence_open": fence + "toml",
        "sections": [section_context(s, lang, SECTION_SCOPES.get(s.title_key) if result.reread else None)
                     for s in network_sections(result)],
        "directives": network_directives(result) if result.reread else [],
    }


def network_summary(result: NetworkResult) -> str:
    net = result.network
    return (f"<derive.NetworkResult {net.source.rsplit('/', 1)[-1]}: units {'-'.join(map(str, net.sizes))}, "
            f"{net.activation}, {net.loss}, loss {number_text(result.loss)} -> {number_text(result.loss_after)} "
            "after one step>")


def _code_line(line: str, engine: str) -> str:
    """A line of the network file for ``\\ttfamily``: ASCII as typed, maths characters (Σ, −, ², η) as maths;
    other characters as they are for LuaLaTeX, as ``?`` for pdfLaTeX (whose fonts do not have them)."""
    out = []
    for char in line:
        if ord(char) < 128:
            out.append(escape_code(char))
        elif char in MATH_CHARS:
            out.append("$" + MATH_CHARS[char] + "$")
        elif char in TEXT_CHARS:
            out.append(TEXT_CHARS[char])
        else:
            out.append(char if engine == "lualatex" else "?")
    return "".join(out)


def network_tex_context(result: NetworkResult, lang: str, fmt: str, options: TexOptions = PLAIN) -> dict[str, Any]:
    """Extra context for the network's LaTeX and Beamer templates (the slides' formulas fitted to their width)."""
    engine = tex_engine(lang)
    beamer = {}
    if fmt == "beamer":
        beamer = {"tikz_preamble": TIKZ_PREAMBLE.rstrip("\n"), "tikz_definitions": TIKZ_DEFINITIONS.rstrip("\n"),
                  "label_prefix": "network-", "slide_em": slide_ems(slide_room(options.aspect))[0], "chunks": chunks,
                  "pages": lambda blocks: slide_pages(list(blocks), lang), "graph_height": 0.3}
    return {**beamer,
        "tikz_preamble": TIKZ_PREAMBLE.rstrip("\n"),
        **document_head(lang, fmt),
        "esc": escape_prose,
        "code": lambda line: _code_line(line, engine),
        "rows": align_rows,
        "members": chain_members,
        "tex_title": escape_prose(catalog(lang)["network.title"]),
    }


def _drawn(result: NetworkResult) -> bool:
    return diagram_drawable(result.network.sizes)


CAPTION_LEAST_CM = 3.0  # the narrowest column the caption is set in beside the diagram
CAPTION_SMALL_CM = 5.0  # a narrower caption column is set in \footnotesize
COLUMN_SEP_CM = 0.4


@dataclass(frozen=True)
class SlidePlace:
    """The diagram's place on a slide: a column ``figure_cm`` wide (it is printed at its own size, its weight labels
    at 8 pt) beside the caption's column (``caption_cm``, set in ``caption_size``), or, when ``caption_cm`` is None,
    a slide of its own with the caption on the next."""

    figure_cm: float
    caption_cm: float | None
    caption_size: str


def slide_diagram(d: Diagram, room: SlideRoom = SLIDES) -> SlidePlace | None:
    """Where the diagram goes on the slides of ``room``; None when it is too big for such a slide at its own size
    (the slides leave it out; the article and the HTML page keep it)."""
    width, height = round(d.width + 0.05, 2), d.height
    if width > room.width or height > room.height:
        return None
    caption = round(room.width - width - COLUMN_SEP_CM, 2)
    if caption < CAPTION_LEAST_CM:
        return SlidePlace(width, None, "\\small")
    return SlidePlace(width, caption, "\\small" if caption >= CAPTION_SMALL_CM else "\\footnotesize")


def diagram_context(result: NetworkResult, lang: str, fmt: Format, figure_href: str | None,
                    options: TexOptions = PLAIN) -> dict[str, Any]:
    """The network diagram where the document shows it: ``diagram`` (an image file for Markdown and HTML, TikZ for
    LaTeX and Beamer; None: no diagram), its place on a slide of ``options.aspect`` (`slide_diagram`), its heading
    and its caption."""
    drawn = _drawn(result) and (fmt.tex or figure_href is not None)
    picture, place = (figure_href if drawn else None), None
    if drawn and fmt.name == "beamer":
        place = slide_diagram(diagram(result), slide_room(options.aspect))
        picture = to_tikz(diagram(result)).rstrip("\n") if place else None
    elif drawn and fmt.tex:
        picture = shrunk_to_line(to_tikz(diagram(result))).rstrip("\n")
    return {"diagram": picture, "diagram_slide": place, "diagram_heading": catalog(lang)["network.heading.diagram"],
            "diagram_caption": say(lang, "network.text.diagram", **dict(_symbols()))}


def _context(result: NetworkResult, lang: str, fmt: Format, figure_href: str | None,
             options: TexOptions = PLAIN) -> dict[str, Any]:
    context = network_context(result, lang)
    context.update(diagram_context(result, lang, fmt, figure_href, options))
    if fmt.tex:
        context.update(network_tex_context(result, lang, fmt.name, options))
    return context


def network_svg(result: NetworkResult) -> str:
    """The network diagram as an SVG file."""
    return to_svg(diagram(result))


def _files(result: NetworkResult, pictures: str, figure_name: str | None) -> dict[str, bytes]:
    """Markdown's diagram as SVG beside it (TeX draws it itself)."""
    if pictures == "svg" and figure_name and _drawn(result):
        return {figure_name: network_svg(result).encode("utf-8")}
    return {}


def _images(result: NetworkResult, lang: str):
    """The HTML page draws the diagram inline, with its caption."""
    def source(src: str) -> tuple[str, bool] | None:
        return Picture(network_svg(result), True) if src == FIGURE_SENTINEL and _drawn(result) else None
    return source


KIND = Kind("network", _context, lambda result, lang: network_json(result),
            lambda result, lang: (catalog(lang)["network.title"], {"name": "network"}), images=_images,
            figure_href=FIGURE_SENTINEL, files=_files, summary=network_summary)
