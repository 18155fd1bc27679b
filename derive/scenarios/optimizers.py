"""optimizers: SGD, Momentum, AdaGrad, RMSProp and Adam from the same start, on the toast problem and on a bowl.

Every number shown comes from `derive.optimizers` (each step's lines checked against the optimiser's engine) and
from the backward walk after every step (checked like any walk); the prose states only what the runs are
asserted to show (`_require`). The walk-through's own forward and backward pass is the toast problem at its start,
whose gradient is the first one every optimiser sees.
"""
from __future__ import annotations

import sympy

from ..backward import Derivation, derive
from ..errors import CheckFailure
from ..graph import symbol
from ..notation import Grad, Shown
from ..notation import chain_latex, exact_latex, latex
from ..optimizers import LABELS, NAMES, Settings, configure, hyper_symbol, initial_state, optimize, settings_equations
from ..parse import parse_number, parse_program
from ..walkthrough import (Claim, Image, Listing, Plot, QuadraticContours, Section, Series, Table, Text, Walkthrough,
                           make)
from . import toast
from .common import exact_point, maths

NAME = "optimizers"
KEY = f"scenario.{NAME}"

TOAST_STEPS = 10
TOAST_LR = toast.LEARNING_RATE  # the same η for all five, the toast scenario's own
SHOWN_STEPS = 2  # the steps written out in full for each optimiser

BOWL = "p = x**2; q = y**2; r = a*p; s = b*q; u = r + s; f = 1/2*u"
BOWL_POINT = {"x": "-7", "y": "2", "a": "0.1", "b": "2"}
BOWL_WRT = ("x", "y")
BOWL_STEPS = 20
BOWL_LR = {"sgd": "0.95", "momentum": "0.1", "adagrad": "1.5", "rmsprop": "0.1", "adam": "0.3"}
"""A learning rate for each optimiser that lets it make visible progress in 20 steps (every other setting is
PyTorch's default)."""

IMAGE = "optimizers-paths"
COLOURS = {"sgd": "#1f77b4", "momentum": "#ff7f0e", "adagrad": "#2ca02c", "rmsprop": "#d62728", "adam": "#9467bd"}
MARKERS = {"sgd": "o", "momentum": "s", "adagrad": "^", "rmsprop": "v", "adam": "D"}


def _key(rest: str) -> str:
    return f"{KEY}.{rest}"


def _eq(name: str | sympy.Basic, value) -> sympy.Eq:
    left = symbol(name) if isinstance(name, str) else name
    return sympy.Eq(left, value, evaluate=False)


def _rmsprop_share() -> tuple[tuple[str, object], ...]:
    """What RMSProp's average of squares holds after one step (1 − α of g²), and its square root."""
    share = 1 - _settings("rmsprop", TOAST_LR, 1)["alpha"]
    return (("share", share), ("root", sympy.sqrt(share)))


def _require(condition: bool, what: str) -> None:
    """A sentence of the prose that the runs must bear out; if they do not, the walk-through is wrong (exit 3)."""
    if not condition:
        raise CheckFailure(f"self-check failed: the {NAME} scenario says {what}, but its numbers disagree")


def _settings(name: str, lr: str, steps: int) -> Settings:
    return configure(name, {"lr": lr, "steps": str(steps)})


def _runs(derivation: Derivation, rates: dict[str, str], steps: int, shown: int = 0) -> dict[str, tuple]:
    return {name: optimize(derivation, _settings(name, rates[name], steps), shown) for name in NAMES}


def build() -> Walkthrough:
    graph = parse_program(toast.PROGRAM)
    point = exact_point(toast.POINT)
    start = derive(graph, point, ("w",))
    eta = parse_number(TOAST_LR, "lr")
    toast_runs = _runs(start, {n: TOAST_LR for n in NAMES}, TOAST_STEPS, SHOWN_STEPS)
    bowl_graph = parse_program(BOWL)
    bowl_point = exact_point(BOWL_POINT)
    bowl = derive(bowl_graph, bowl_point, BOWL_WRT)
    bowl_runs = _runs(bowl, BOWL_LR, BOWL_STEPS)

    intro = (Section(_key("heading.setting"), (
        Text(_key("text.setting"), (
            ("model", sympy.Eq(symbol("y"), symbol("w") * symbol("x"))),
            ("error", sympy.Eq(symbol("E"), toast.graph_definition(start))),
            ("point", Listing(_eq(n, point[n]) for n in ("x", "t"))),
            ("w", _eq("w", point["w"])),
            ("eta", _eq(sympy.Symbol("eta"), eta)),
            ("steps", TOAST_STEPS), ("count", len(NAMES)),
        )),
        Text(_key("text.same_gradient"), (("gradient", _eq(Grad("E", "w"), start.gradients["w"].value)),)),
    )),)
    extra = (tuple(_rule_section(name, toast_runs[name], start) for name in NAMES)
             + (_toast_section(start, toast_runs, eta), _bowl_section(bowl, bowl_runs)))
    return make(NAME, toast.PROGRAM, start, intro=intro, extra=extra)


# --- the rules, written out on the toast problem ------------------------------------------------------------------

def _rule_section(name: str, updates, start: Derivation) -> Section:
    """Steps 1 and 2 on the toast problem, every line from the optimiser and checked again as a claim."""
    blocks: list = []
    for update in updates[:SHOWN_STEPS]:
        info = update.optimizer
        step = _eq(info.step_symbol, info.t)
        if info.t == 1:
            blocks.append(Text(f"optimizers.intro.{name}", (("settings", Listing(settings_equations(info.settings))),
                                                            ("step", step))))
        else:
            blocks.append(Text("optimizers.intro_again", (("settings", Listing(settings_equations(info.settings))),
                                                          ("step", step))))
        for line in info.lines:
            if info.t == 1:
                blocks.append(Text(line.key, (("leaf", symbol(line.leaf)), ("t", info.step_symbol),
                                              ("count", info.t))))
            if line.key == "optimizers.line.gradient":  # the walk's own gradient at this step
                blocks.append(Claim(line.lhs, (line.value,), line.value))
            elif line.numbers is None:  # v ← g at the first step: the value itself
                blocks.append(Claim(line.lhs, (line.value,), line.value))
            else:
                blocks.append(Claim(line.claim_lhs, (line.numbers,), line.value, line.subs))
    after = updates[SHOWN_STEPS - 1].derivation
    blocks.append(Text(_key("text.after_shown"), (
        ("w", _eq("w", after.point["w"])), ("error", _eq("E", after.output_value)),
        ("before", start.output_value))))  # a bare number: in this scope E is the error after the steps
    # the walk's point, and the state the first step's formulas read; every ← of the section updates it in turn
    state = tuple(chain_latex([latex(sym), exact_latex(value)]) for leaf in start.wrt
                  for sym, value in initial_state(updates[0].optimizer.settings, leaf))
    return Section(f"optimizers.name.{name}", tuple(blocks), given=state)


# --- ten steps on the toast problem -------------------------------------------------------------------------------

def _toast_section(start: Derivation, runs, eta) -> Section:
    header = (_key("table.step"),) + tuple(LABELS[n] for n in NAMES)
    w_rows, e_rows = [], []
    for k in range(TOAST_STEPS + 1):
        ds = {n: (start if k == 0 else runs[n][k - 1].derivation) for n in NAMES}
        w_rows.append((sympy.Integer(k),) + tuple(ds[n].point["w"] for n in NAMES))
        e_rows.append((sympy.Integer(k),) + tuple(ds[n].output_value for n in NAMES))

    w = {n: [start.point["w"]] + [u.derivation.point["w"] for u in runs[n]] for n in NAMES}
    first = {n: w[n][1] - w[n][0] for n in NAMES}
    g = start.gradients["w"].value
    # SGD and Momentum move by η·|g|; AdaGrad and Adam by about η; RMSProp by about η/√(1 − α) = 10η.
    _require(first["sgd"] == first["momentum"] == -eta * g, "SGD and Momentum move w by η·|g| at first")
    _require(all(abs(first[n] - eta) < 1e-6 for n in ("adagrad", "adam")), "AdaGrad and Adam move w by about η")
    _require(abs(first["rmsprop"] - 10 * eta) < 1e-6, "RMSProp moves w by about 10η at first")
    target = start.values["t"] / start.values["x"]  # w = t/x makes the error 0
    peak = max(w["momentum"])
    _require(w["momentum"][2] == target and peak > target and w["momentum"][-1] < peak,
             "Momentum reaches the best w at step 2, shoots past it and swings back")
    adagrad_steps = [b - a for a, b in zip(w["adagrad"], w["adagrad"][1:])]
    _require(all(b < a for a, b in zip(adagrad_steps, adagrad_steps[1:])), "AdaGrad's steps keep shrinking")
    adam_steps = [b - a for a, b in zip(w["adam"], w["adam"][1:])]
    _require(all(0.5 * eta < s <= eta * 1.000001 for s in adam_steps), "Adam keeps a pace close to η")
    _require(all(abs(v - target) < 1e-6 for v in w["rmsprop"][1:]), "RMSProp lands next to the best w and stays")
    return Section(_key("heading.toast"), (
        Text(_key("text.toast_table"), (("steps", TOAST_STEPS),)),
        Table(header, tuple(w_rows)),
        Text(_key("text.toast_losses")),
        Table(header, tuple(e_rows)),
        Text(_key("text.toast_first"), (
            ("gradient", _eq(Grad("E", "w"), g)), ("eta", _eq(sympy.Symbol("eta"), eta)),
            ("sgd", first["sgd"]), ("adagrad", first["adagrad"]), ("adam", first["adam"]),
            ("rmsprop", first["rmsprop"]), ("count", len(NAMES)), *_rmsprop_share())),
        Text(_key("text.toast_momentum"), (("best", target), ("peak", peak))),  # weights at other steps: numbers
        Text(_key("text.toast_adaptive")),
    ))


# --- the bowl -----------------------------------------------------------------------------------------------------

def _bowl_section(bowl: Derivation, runs) -> Section:
    x, y, a, b = (symbol(n) for n in ("x", "y", "a", "b"))
    values = bowl.point
    subs = tuple((symbol(n), v) for n, v in values.items())
    with sympy.evaluate(False):
        closed_x, closed_y = a * x, b * y
        bowl_expr = sympy.Rational(1, 2) * (a * x ** 2 + b * y ** 2)  # ½·(a x² + b y²), as the program's f
    header = (_key("table.step"),) + tuple(LABELS[n] for n in NAMES)
    paths = {n: [bowl] + [u.derivation for u in runs[n]] for n in NAMES}
    xy_rows = tuple((sympy.Integer(k),) + tuple(sympy.Tuple(*(Shown(paths[n][k].point[c], bare=True) for c in "xy"))
                                                 for n in NAMES) for k in range(BOWL_STEPS + 1))
    f_rows = tuple((sympy.Integer(k),) + tuple(paths[n][k].output_value for n in NAMES)
                   for k in range(BOWL_STEPS + 1))
    settings_rows = tuple((LABELS[n], parse_number(BOWL_LR[n], "lr"),
                           ", ".join(maths(_eq(hyper_symbol(k), Shown(v, bare=True)))
                                     for k, v in _settings(n, BOWL_LR[n], 1).hyper) or "—") for n in NAMES)

    # What the text says about the paths, asserted.
    ys = {n: [float(d.point["y"]) for d in paths[n]] for n in NAMES}
    xs = {n: [float(d.point["x"]) for d in paths[n]] for n in NAMES}
    flips = {n: sum(1 for p, q in zip(ys[n], ys[n][1:]) if p * q < 0) for n in NAMES}
    _require(flips["sgd"] >= BOWL_STEPS // 2, "SGD zig-zags across the steep direction")
    _require(flips["momentum"] >= 2, "Momentum overshoots in y and swings back")
    for n in ("adagrad", "rmsprop", "adam"):
        dx, dy = abs(xs[n][1] - xs[n][0]), abs(ys[n][1] - ys[n][0])
        _require(abs(dx - dy) <= 1e-6 * dy, f"{n} moves x and y by the same distance at its first step")
    _require(abs(xs["sgd"][1] - xs["sgd"][0]) < abs(ys["sgd"][1] - ys["sgd"][0]) / 5,
             "SGD's first step is mostly along y")
    _require(all(paths[n][-1].output_value < bowl.output_value for n in NAMES), "every optimiser lowers f")
    _require(values["b"] / values["a"] == 20, "the bowl is twenty times as steep along y as along x")
    sgd_y = [abs(v) for v in ys["sgd"]]
    _require(all(q < p for p, q in zip(sgd_y, sgd_y[1:])), "SGD's zig-zag across the valley narrows")
    x_steps = [q - p for p, q in zip(xs["momentum"], xs["momentum"][1:])]
    _require(all(0 < p < q for p, q in zip(x_steps[:8], x_steps[1:8])), "Momentum gathers speed along x")

    return Section(_key("heading.bowl"), (
        Text(_key("text.bowl"), (("bowl", sympy.Eq(symbol("f"), bowl_expr)),
                                 ("constants", Listing(_eq(n, values[n]) for n in ("a", "b"))),
                                 ("start", Listing(_eq(n, values[n]) for n in ("x", "y"))),
                                 ("steps", BOWL_STEPS), ("value", _eq("f", bowl.output_value)),
                                 ("ratio", values["b"] / values["a"]), ("count", len(NAMES)))),
        Text(_key("text.bowl_gradient")),
        Claim(Grad("f", "x"), (closed_x,), bowl.gradients["x"].value, subs),
        Claim(Grad("f", "y"), (closed_y,), bowl.gradients["y"].value, subs),
        Text(_key("text.bowl_settings")),
        Table((_key("table.optimizer"), _key("table.lr"), _key("table.other")), settings_rows),
        Text(_key("text.bowl_paths")),
        Image(IMAGE, _key("figure.paths"), _plot(bowl, paths)),
        Text(_key("text.bowl_table")),
        Table(header, xy_rows),
        Text(_key("text.bowl_losses")),
        Table(header, f_rows),
        Text(_key("text.bowl_summary")),
    ), scope="own")  # another graph and point: f, x, y of the bowl


def _plot(bowl: Derivation, paths) -> Plot:
    """The five paths on the contours of f (language-neutral: the caption comes from the catalog)."""
    a, b = (float(bowl.point[n]) for n in ("a", "b"))
    start = paths["sgd"][0].point
    lines = tuple(Series(tuple(float(d.point["x"]) for d in path), tuple(float(d.point["y"]) for d in path),
                         label=LABELS[name], options=(("color", COLOURS[name]), ("marker", MARKERS[name]),
                                                      ("markersize", 3), ("linewidth", 1.1)))
                  for name, path in paths.items())
    black = (("color", "black"), ("linestyle", ""))
    marks = (Series((float(start["x"]),), (float(start["y"]),), options=(("marker", "o"), ("markersize", 6)) + black),
             Series((0.0,), (0.0,), options=(("marker", "+"), ("markersize", 9)) + black))
    bowl_lines = QuadraticContours(a, b, (-8.0, 2.0), (-2.5, 2.5), 201, tuple(0.0625 * 2 ** k for k in range(11)),
                                   (("colors", "#b0b0b0"), ("linewidths", 0.6)))
    return Plot(6.4, 3.6, lines + marks, (bowl_lines,), x_limits=(-8.0, 2.0), y_limits=(-2.5, 2.5),
                equal_aspect=True, x_label="$x$", y_label="$y$",
                legend=(("loc", "lower right"), ("fontsize", 8), ("framealpha", 0.9)))
