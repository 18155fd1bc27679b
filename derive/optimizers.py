"""The optimisers of ``torch.optim`` written out step by step: SGD, momentum, AdaGrad, RMSProp and Adam.

Each optimiser exists twice, on purpose:

- an *engine* (``_ENGINES``) that computes the new state and the new value of a leaf with plain exact arithmetic
  (decimals are rationals; a square root that is not rational becomes a 30-digit float through
  `derive.graph.exact`), following PyTorch's update rules, keys and defaults exactly;
- the *formulas* (``_formulas``) shown to the reader, as SymPy expressions built unevaluated, printed by
  `derive.notation` once with names and once with the numbers put in.

Every shown line is evaluated from its formula and compared with the engine's number before anything is
rendered (a disagreement is a bug: `CheckFailure`, exit 3), and the tests compare the engine with ``torch.optim``
in float64. After each step the forward pass and every gradient are computed and checked again, as for plain
gradient descent.

Rules (g is the gradient at step t, every variable keeps its own state, which starts at 0):

- ``sgd``: w ← w − η·g.
- ``momentum`` (SGD with momentum μ, default 0.9 as the issue fixes it, where torch.optim.SGD defaults to 0;
  no dampening): v ← g at t = 1, then v ← μ·v + g; w ← w − η·v.
- ``adagrad``: s ← s + g² (s starts at ``initial_accumulator_value``); w ← w − η_t·g/(√s + ε) with
  η_t = η/(1 + (t − 1)·lr_decay).
- ``rmsprop``: s ← α·s + (1 − α)·g²; w ← w − η·g/(√s + ε).
- ``adam``: m ← β₁·m + (1 − β₁)·g, v ← β₂·v + (1 − β₂)·g², m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ);
  w ← w − η·m̂/(√v̂ + ε).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import mpmath
import sympy
from sympy import Expr

from .backward import Derivation, derive
from .check import CheckReport, check
from .errors import CheckFailure, InputError, message, shown
from .graph import DIGITS, Graph, exact, symbol
from .input_syntax import number_of, parse_pairs
from .notation import Grad, Shown, number_text, terminating_decimal

NAMES = ("sgd", "momentum", "adagrad", "rmsprop", "adam")

LABELS = {"sgd": "SGD", "momentum": "Momentum", "adagrad": "AdaGrad", "rmsprop": "RMSProp", "adam": "Adam"}
"""Proper names, the same in every language: plot legends and table headers (prose uses the catalogs)."""

COMMON_KEYS = ("lr", "steps")

DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sgd": (),
    "momentum": (("momentum", "0.9"),),
    "adagrad": (("eps", "1e-10"), ("lr_decay", "0"), ("initial_accumulator_value", "0")),
    "rmsprop": (("alpha", "0.99"), ("eps", "1e-8")),
    "adam": (("beta1", "0.9"), ("beta2", "0.999"), ("eps", "1e-8")),
}
"""PyTorch's keyword names and defaults (Adam's ``betas`` pair is spelled ``beta1``, ``beta2``)."""

STATE_NAMES = {"sgd": (), "momentum": ("v",), "adagrad": ("s",), "rmsprop": ("s",),
               "adam": ("m", "v", "m_hat", "v_hat")}
"""The names of each leaf's state in JSON (``updates[k].state``), as the walk-through writes them."""

MAX_STEPS = 1000


# --- settings -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """An optimiser and its hyper-parameters, every one exact."""

    name: str
    lr: sympy.Rational
    steps: int
    hyper: tuple[tuple[str, sympy.Rational], ...]  # every key of DEFAULTS[name], given or default

    def __getitem__(self, key: str) -> sympy.Rational:
        return dict(self.hyper)[key]


def allowed_keys(name: str) -> tuple[str, ...]:
    return COMMON_KEYS + tuple(k for k, _ in DEFAULTS[name])


def configure(name: str, step: Mapping[str, object] | str | None, *, option: str = "step",
              default_lr: sympy.Rational | None = None, default_steps: int = 1) -> Settings:
    """Read ``--optimizer NAME --step KEY=VALUE,...``: unknown keys, a missing ``lr`` and values outside the
    ranges PyTorch accepts are input errors (exit 2); decimals are read exactly."""
    if name not in NAMES:
        raise InputError(message("optimizer.unknown", name=shown(name), choices=", ".join(NAMES)), "optimizer")
    pairs = parse_pairs(step, option) if step is not None else {}
    allowed = allowed_keys(name)
    unknown = [k for k in pairs if k not in allowed]
    if unknown:
        raise InputError(message("optimizer.unknown_key", setting=shown(unknown[0]), optimizer=name,
                                 allowed=", ".join(allowed)), option)
    if "lr" in pairs:
        lr = number_of(pairs["lr"], f"{option} lr")
    elif default_lr is not None:
        lr = default_lr
    else:
        raise InputError(message("optimizer.needs_lr", optimizer=name), option)
    if lr <= 0:
        raise InputError(message("step.lr_positive", value=shown(pairs.get("lr"))), option)
    steps_text = pairs.get("steps", str(default_steps))
    if not steps_text.isdigit() or not 1 <= int(steps_text) <= MAX_STEPS:
        raise InputError(message("step.steps", limit=MAX_STEPS, value=shown(steps_text)), option)
    hyper = tuple((key, number_of(pairs.get(key, default), f"{option} {key}")) for key, default in DEFAULTS[name])
    settings = Settings(name, lr, int(steps_text), hyper)
    _check_ranges(settings, option)
    return settings


_RANGES = {  # key: (lowest, highest, highest included), as torch.optim checks them (alpha ≤ 1 and β < 1 too)
    "momentum": (0, None, False), "eps": (0, None, False), "lr_decay": (0, None, False),
    "initial_accumulator_value": (0, None, False), "alpha": (0, 1, True), "beta1": (0, 1, False),
    "beta2": (0, 1, False),
}


def _check_ranges(settings: Settings, option: str) -> None:
    for key, value in settings.hyper:
        low, high, high_included = _RANGES[key]
        if value < low or (high is not None and (value > high or (value == high and not high_included))):
            kind = "at_least" if high is None else "at_most" if high_included else "below"
            raise InputError(message(f"optimizer.range_{kind}", setting=key, low=low, high=high,
                                     value=number_text(value)), option)


# --- symbols and display nodes ------------------------------------------------------------------------------------

class Assign:
    """``target ← rule``: an update of a leaf or of a state (the right side uses the values before the step)."""

    is_number = False

    def __init__(self, target: Expr, rule: Expr) -> None:
        self.target, self.rule = target, rule


class Defined:
    """``target = formula`` as the left part of a longer chain (``= numbers = value`` follows)."""

    is_number = False

    def __init__(self, target: Expr, formula: Expr) -> None:
        self.target, self.formula = target, formula


ETA, MU, EPSILON, ALPHA = (sympy.Symbol(n) for n in ("eta", "mu", "epsilon", "alpha"))
BETA1, BETA2, LR_DECAY = (sympy.Symbol(n) for n in ("beta1", "beta2", "lr_decay"))
HYPER_SYMBOLS = {"momentum": MU, "eps": EPSILON, "alpha": ALPHA, "beta1": BETA1, "beta2": BETA2,
                 "lr_decay": LR_DECAY}
_STATE_BASES = {"v": "v", "s": "s", "m": "m", "m_hat": "mhat", "v_hat": "vhat", "g": "g"}


def state_symbol(kind: str, leaf: str) -> Expr:
    """``g_w``, ``v_w``, ``\\hat{m}_w``: a per-variable quantity, indexed by the variable's own name."""
    return sympy.IndexedBase(sympy.Symbol(_STATE_BASES[kind]))[symbol(leaf)]


def hyper_symbol(key: str) -> Expr:
    if key == "initial_accumulator_value":
        return sympy.IndexedBase(sympy.Symbol("s"))[0]
    return HYPER_SYMBOLS[key]


def step_symbol(taken: set[str]) -> sympy.Symbol:
    """The step counter t of the bias correction, or another letter when the graph already uses t."""
    return sympy.Symbol(next(n for n in ("t", "k", "n", "tau") if n not in taken))


CARRIED = {"sgd": (), "momentum": ("v",), "adagrad": ("s",), "rmsprop": ("s",), "adam": ("m", "v")}
"""The states a step's formulas read from the step before (Adam's bias-corrected moments are made afresh)."""


def initial_state(settings: Settings, leaf: str) -> tuple[tuple[Expr, Expr], ...]:
    """The state the first step's formulas read for ``leaf``: AdaGrad's sum starts at ``initial_accumulator_value``,
    RMSProp's average and Adam's moments at 0 (momentum's first velocity is the gradient itself and reads none)."""
    if settings.name == "momentum":
        return ()
    start = settings["initial_accumulator_value"] if settings.name == "adagrad" else sympy.S.Zero
    return tuple((state_symbol(kind, leaf), start) for kind in CARRIED[settings.name])


# --- the engines: PyTorch's rules in plain exact arithmetic -------------------------------------------------------

SIMPLE_DENOMINATOR = 1000


def readable(value: Expr) -> Expr:
    """`exact`, and a rational that neither is a short decimal nor has a small denominator (``440000001/400000001``,
    which ε brings in) becomes a 30-digit float: shown to six digits, still far more precise than float64."""
    value = exact(value)
    if value.is_Rational and value.q > SIMPLE_DENOMINATOR and terminating_decimal(value) is None:
        return sympy.Float(value, DIGITS)
    return value


def _sqrt(value: Expr) -> Expr:
    return exact(sympy.sqrt(value))


def _divide(numerator: Expr, denominator: Expr, leaf: str) -> Expr:
    if denominator == 0:
        raise InputError.of("optimizer.divides_by_zero", leaf=leaf)
    return exact(numerator / denominator)


def _sgd(s: Settings, t: int, leaf: str, w: Expr, g: Expr, old: Mapping[str, Expr]):
    return {}, exact(w - s.lr * g)


def _momentum(s: Settings, t: int, leaf: str, w: Expr, g: Expr, old: Mapping[str, Expr]):
    v = g if t == 1 else exact(s["momentum"] * old["v"] + g)
    return {"v": v}, exact(w - s.lr * v)


def _adagrad(s: Settings, t: int, leaf: str, w: Expr, g: Expr, old: Mapping[str, Expr]):
    previous = old["s"] if t > 1 else s["initial_accumulator_value"]
    total = exact(previous + g * g)
    clr = exact(s.lr / (1 + (t - 1) * s["lr_decay"]))
    return {"s": total}, exact(w - clr * _divide(g, _sqrt(total) + s["eps"], leaf))


def _rmsprop(s: Settings, t: int, leaf: str, w: Expr, g: Expr, old: Mapping[str, Expr]):
    previous = old["s"] if t > 1 else sympy.S.Zero
    average = exact(s["alpha"] * previous + (1 - s["alpha"]) * g * g)
    return {"s": average}, exact(w - s.lr * _divide(g, _sqrt(average) + s["eps"], leaf))


def _adam(s: Settings, t: int, leaf: str, w: Expr, g: Expr, old: Mapping[str, Expr]):
    m_old, v_old = (old["m"], old["v"]) if t > 1 else (sympy.S.Zero, sympy.S.Zero)
    m = exact(s["beta1"] * m_old + (1 - s["beta1"]) * g)
    v = exact(s["beta2"] * v_old + (1 - s["beta2"]) * g * g)
    m_hat = exact(m / exact(1 - s["beta1"] ** t))
    v_hat = exact(v / exact(1 - s["beta2"] ** t))
    return {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat}, exact(
        w - s.lr * _divide(m_hat, _sqrt(v_hat) + s["eps"], leaf))


_ENGINES: dict[str, Callable[..., tuple[dict[str, Expr], Expr]]] = {
    "sgd": _sgd, "momentum": _momentum, "adagrad": _adagrad, "rmsprop": _rmsprop, "adam": _adam}


# --- the formulas shown to the reader -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One shown line: ``target ← formula = numbers = value`` (or ``=`` for a definition such as m̂)."""

    key: str  # catalog key of its label: optimizers.line.<kind>
    leaf: str
    target: Expr
    assign: bool
    formula: Expr
    numbers: Expr | None  # the formula with every symbol replaced by its number (None: nothing to put in)
    value: Expr
    subs: tuple[tuple[Shown, Expr], ...] = ()

    @property
    def lhs(self) -> object:
        return Assign(self.target, self.formula) if self.assign else self.target

    @property
    def claim_lhs(self) -> object:
        """Everything before the numbers: ``m ← β₁·m + (1 − β₁)·g`` or ``m̂ = m/(1 − β₁ᵗ)``."""
        return Assign(self.target, self.formula) if self.assign else Defined(self.target, self.formula)

    @property
    def members(self) -> tuple[Expr, ...]:
        """What follows the left side: the formula (for a definition), the numbers, the value."""
        members = () if self.assign else (self.formula,)
        return members + ((self.numbers,) if self.numbers is not None else ()) + (self.value,)


@dataclass(frozen=True)
class OptimizerStep:
    """What the walk-through shows for one step: the settings, the step number and every line, checked."""

    settings: Settings
    t: int
    step_symbol: sympy.Symbol
    lines: tuple[Line, ...]


def _line(key: str, leaf: str, target: Expr, formula: Expr, values: Mapping[Expr, Expr], value: Expr,
          assign: bool = True) -> Line:
    """Put the numbers into the formula (unevaluated, so it reads as written) and check that it gives
    ``value``."""
    if formula in values:  # v ← g: nothing to put in, the value is the other quantity's
        if values[formula] != value:
            raise CheckFailure(f"self-check failed: {target} should equal {formula} = {values[formula]}, "
                               f"the optimiser computed {value}")
        return Line(key, leaf, target, assign, formula, None, value)
    shown = {sym: Shown(v) for sym, v in values.items()}
    with sympy.evaluate(False):
        numbers = formula.xreplace(shown)
    subs = tuple((shown[sym], v) for sym, v in values.items())
    line = Line(key, leaf, target, assign, formula, numbers, value, subs)
    verify_line(line)
    return line


def verify_line(line: Line) -> None:
    """The shown numbers, evaluated as the formula says, must give the engine's value (else: a bug, exit 3).
    Evaluated with mpmath at 50 digits, operation by operation: SymPy's own evaluation of the five lines of an
    Adam step cost more than the step itself."""
    if line.numbers is None:
        return
    with mpmath.workdps(50):
        got = _evaluate(line.numbers)
        scale = 1 + abs(_mp(line.value)) + mpmath.fsum(abs(_mp(v)) for _, v in line.subs)
        holds = got is not None and abs(got - _mp(line.value)) <= mpmath.mpf("1e-20") * scale
    if not holds:
        raise CheckFailure(f"self-check failed: {line.formula} with the numbers put in gives "
                           f"{got if got is not None else line.numbers}, the optimiser computed {line.value}")


def _mp(value: Expr) -> mpmath.mpf:
    return value._to_mpmath(mpmath.mp.prec)


def _evaluate(expr: Expr) -> mpmath.mpf | None:
    """A formula whose symbols are all `Shown` numbers, evaluated; None if anything else is left in it."""
    if isinstance(expr, Shown):
        return _mp(expr.value)
    if expr.is_Number:
        return _mp(expr)
    args = [_evaluate(arg) for arg in expr.args]
    if any(arg is None for arg in args):
        return None
    if expr.is_Add:
        return mpmath.fsum(args)
    if expr.is_Mul:
        return mpmath.fprod(args)
    if expr.is_Pow:
        return mpmath.power(*args)
    return None


def _formulas(s: Settings, t: int, tsym: sympy.Symbol, leaf: str, w: Expr, g: Expr,
              old: Mapping[str, Expr], new: Mapping[str, Expr], new_w: Expr) -> list[Line]:
    """The lines of one step for one leaf, after the gradient line: states, then the update."""
    x = symbol(leaf)
    st = {k: state_symbol(k, leaf) for k in ("g", "v", "s", "m", "m_hat", "v_hat")}
    gs = st["g"]
    lines: list[Line] = []
    with sympy.evaluate(False):
        if s.name == "sgd":
            lines.append(_line("optimizers.line.update", leaf, x, x - ETA * gs, {x: w, ETA: s.lr, gs: g}, new_w))
        elif s.name == "momentum":
            if t == 1:
                lines.append(_line("optimizers.line.velocity_first", leaf, st["v"], gs, {gs: g}, new["v"]))
            else:
                lines.append(_line("optimizers.line.velocity", leaf, st["v"], MU * st["v"] + gs,
                                   {MU: s["momentum"], st["v"]: old["v"], gs: g}, new["v"]))
            lines.append(_line("optimizers.line.update", leaf, x, x - ETA * st["v"],
                               {x: w, ETA: s.lr, st["v"]: new["v"]}, new_w))
        elif s.name == "adagrad":
            previous = old["s"] if t > 1 else s["initial_accumulator_value"]
            lines.append(_line("optimizers.line.squares_sum", leaf, st["s"], st["s"] + gs ** 2,
                               {st["s"]: previous, gs: g}, new["s"]))
            rate = ETA
            if s["lr_decay"] != 0:
                rate = sympy.IndexedBase(ETA)[tsym]
                clr = exact(s.lr / (1 + (t - 1) * s["lr_decay"]))
                lines.append(_line("optimizers.line.decayed_rate", leaf, rate, ETA / (1 + (tsym - 1) * LR_DECAY),
                                   {ETA: s.lr, tsym: sympy.Integer(t), LR_DECAY: s["lr_decay"]}, clr,
                                   assign=False))
            else:
                clr = s.lr
            lines.append(_line("optimizers.line.update", leaf, x, x - rate * gs / (sympy.sqrt(st["s"]) + EPSILON),
                               {x: w, rate: clr, gs: g, st["s"]: new["s"], EPSILON: s["eps"]}, new_w))
        elif s.name == "rmsprop":
            previous = old["s"] if t > 1 else sympy.S.Zero
            lines.append(_line("optimizers.line.squares_average", leaf, st["s"],
                               ALPHA * st["s"] + (1 - ALPHA) * gs ** 2,
                               {ALPHA: s["alpha"], st["s"]: previous, gs: g}, new["s"]))
            lines.append(_line("optimizers.line.update", leaf, x, x - ETA * gs / (sympy.sqrt(st["s"]) + EPSILON),
                               {x: w, ETA: s.lr, gs: g, st["s"]: new["s"], EPSILON: s["eps"]}, new_w))
        elif s.name == "adam":
            m_old, v_old = (old["m"], old["v"]) if t > 1 else (sympy.S.Zero, sympy.S.Zero)
            lines.append(_line("optimizers.line.first_moment", leaf, st["m"], BETA1 * st["m"] + (1 - BETA1) * gs,
                               {BETA1: s["beta1"], st["m"]: m_old, gs: g}, new["m"]))
            lines.append(_line("optimizers.line.second_moment", leaf, st["v"],
                               BETA2 * st["v"] + (1 - BETA2) * gs ** 2,
                               {BETA2: s["beta2"], st["v"]: v_old, gs: g}, new["v"]))
            lines.append(_line("optimizers.line.first_corrected", leaf, st["m_hat"], st["m"] / (1 - BETA1 ** tsym),
                               {st["m"]: new["m"], BETA1: s["beta1"], tsym: sympy.Integer(t)}, new["m_hat"],
                               assign=False))
            lines.append(_line("optimizers.line.second_corrected", leaf, st["v_hat"],
                               st["v"] / (1 - BETA2 ** tsym),
                               {st["v"]: new["v"], BETA2: s["beta2"], tsym: sympy.Integer(t)}, new["v_hat"],
                               assign=False))
            lines.append(_line("optimizers.line.update", leaf, x,
                               x - ETA * st["m_hat"] / (sympy.sqrt(st["v_hat"]) + EPSILON),
                               {x: w, ETA: s.lr, st["m_hat"]: new["m_hat"], st["v_hat"]: new["v_hat"],
                                EPSILON: s["eps"]}, new_w))
    return lines


def gradient_line(output: str, leaf: str, g: Expr) -> Line:
    """``g_w ← ∂f/∂w = −4``: the gradient at the point before this step (as PyTorch's pseudo-code writes it),
    from the (checked) backward walk; an assignment, so that updating w afterwards leaves this step's g_w as it was."""
    return Line("optimizers.line.gradient", leaf, state_symbol("g", leaf), True, Grad(output, leaf), None, g)


# --- running an optimiser -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Update:
    """One descent step on the ``wrt`` leaves, then the forward pass and all gradients again."""

    step: int
    learning_rate: Expr
    changes: tuple[tuple[str, Expr, Expr, Expr], ...]  # (leaf, old value, gradient, new value)
    derivation: Derivation
    report: CheckReport
    state: Mapping[str, Mapping[str, Expr]] | None = None
    optimizer: OptimizerStep | None = None  # --optimizer: settings and the shown lines


MAX_STEP_WORK = 4000
"""steps × operations: each step is a forward pass, a walk, a check and a rendered section over the whole graph
(1000 steps of a four-operation loss take about 5 s)."""


def check_step_budget(graph: Graph, steps: int) -> None:
    """Refuse, before any of them is taken, more descent steps than the graph's size allows."""
    operations = sum(1 for node in graph.nodes if node.op != "leaf")
    if steps * operations > MAX_STEP_WORK:
        allowed = MAX_STEP_WORK // operations
        hint = message("step.budget_hint", allowed=allowed) if allowed else message("step.budget_none")
        raise InputError(message("step.budget", limit=MAX_STEP_WORK, steps=steps, operations=operations,
                                 work=steps * operations, hint=hint), "step")


def step(settings: Settings, t: int, derivation: Derivation, state: Mapping[str, Mapping[str, Expr]],
         tsym: sympy.Symbol | None = None, show: bool = True):
    """One step on the ``wrt`` leaves of ``derivation`` (which holds the gradients at the current point):
    ``(changes, new point, new state, lines)``; without ``show`` no lines are written (numbers only)."""
    if derivation.point is None:
        raise InputError(message("step.needs_point"), "step")
    tsym = tsym or step_symbol({n.name for n in derivation.graph.nodes})
    point = dict(derivation.point)
    changes, new_state, lines = [], {}, []
    # every gradient first: all of them are taken at the point before the step, then each leaf moves
    gradients = [gradient_line(derivation.output, leaf, derivation.gradients[leaf].value) for leaf in derivation.wrt]
    for leaf in derivation.wrt:
        w, g = derivation.point[leaf], derivation.gradients[leaf].value
        old = state.get(leaf, {})
        new, new_w = _ENGINES[settings.name](settings, t, leaf, w, g, old)
        new, new_w = {k: readable(v) for k, v in new.items()}, readable(new_w)
        if show:
            lines.extend(_formulas(settings, t, tsym, leaf, w, g, old, new, new_w))
        point[leaf] = new_w
        changes.append((leaf, w, g, new_w))
        new_state[leaf] = new
    return tuple(changes), point, new_state, (tuple(gradients) + tuple(lines) if show else ())


def optimize(derivation: Derivation, settings: Settings, shown_steps: int | None = None) -> tuple[Update, ...]:
    """``settings.steps`` steps from the derivation's point; after each, the forward pass and every gradient again,
    checked like the first. Only the first ``shown_steps`` (default: all) get their lines written out; the others
    carry numbers only (for tables and plots)."""
    check_step_budget(derivation.graph, settings.steps)
    tsym = step_symbol({n.name for n in derivation.graph.nodes})
    updates = []
    current, state = derivation, {}
    for t in range(1, settings.steps + 1):
        show = shown_steps is None or t <= shown_steps
        changes, point, state, lines = step(settings, t, current, state, tsym, show)
        current = derive(current.graph, point, current.wrt, current.constants)
        shown_state = {leaf: dict(s) for leaf, s in state.items()} if STATE_NAMES[settings.name] else None
        updates.append(Update(t, settings.lr, changes, current, check(current), shown_state,
                              OptimizerStep(settings, t, tsym, lines)))
    return tuple(updates)


def settings_equations(settings: Settings) -> tuple[sympy.Eq, ...]:
    """``η = 0.1``, ``β₁ = 0.9``, …: the learning rate and every hyper-parameter, each a symbol and its value."""
    items = [(ETA, settings.lr)] + [(hyper_symbol(k), v) for k, v in settings.hyper]
    return tuple(sympy.Eq(sym, value, evaluate=False) for sym, value in items)
