"""The strings templates show for one optimiser step (`derive.optimizers`): its heading, introduction and labelled
lines, every formula printed by `derive.notation` and every sentence from the catalogs."""
from __future__ import annotations

from typing import Any

import sympy

from ..locales import catalog
from ..notation import assignment_latex, distinct_chain_latex, formula_latex, latex, name_latex, number_latex
from ..optimizers import Line, OptimizerStep, Update, settings_equations
from ..walkthrough import Listing
from .prose import Math, say


def line_latex(line: Line) -> str:
    """``target ← formula = numbers = value`` (or ``target = formula = …`` for a definition)."""
    lhs = formula_latex(line.target)  # the symbols of a line are the same at every step: printed once
    if line.assign:
        lhs = assignment_latex(lhs, line.formula)
    members = [lhs] + ([] if line.assign else [formula_latex(line.formula)])
    if line.numbers is not None:
        members.append(latex(line.numbers))
    members.append(number_latex(line.value))
    return distinct_chain_latex(members)


def step_context(update: Update, lang: str) -> dict[str, Any]:
    """The heading, introduction and labelled lines of one optimiser step, for `derive.present.context`."""
    info: OptimizerStep = update.optimizer
    name = catalog(lang)[f"optimizers.name.{info.settings.name}"]
    lines = []
    for line in info.lines:
        label = say(lang, line.key, leaf=Math(name_latex(line.leaf)), t=Math(latex(info.step_symbol)),
                    count=info.t)
        lines.append({"label": label, "latex": line_latex(line), "directives": []})  # one scope: read in order
    key = f"optimizers.intro.{info.settings.name}" if info.t == 1 else "optimizers.intro_again"
    intro = say(lang, key, settings=Listing(settings_equations(info.settings)),
                step=Math(latex(sympy.Eq(info.step_symbol, info.t, evaluate=False))))
    return {"heading": say(lang, "optimizers.heading.update", optimizer=name), "intro": intro, "lines": lines,
            "changes": [line["latex"] for line in lines]}
