"""Questions that test understanding, for exercise sheets: which rule applies to a node and why, which edges add,
the sign of a gradient, and what changes when the target moves.

Every answer is computed from the checked walk: the rule and local gradients from its steps, the edges from its
graph (their contributions must sum to the walk's gradient), the sign from the gradient and a nudge of the leaf
(the output recomputed exactly), the changed target from a second walk at the changed point, checked like the
first. Questions are plain data (catalog keys and maths); `derive.present.exercise` renders them in a language.
Choices are drawn from ``random.Random`` seeded by the sheet's seed, so a seed gives the same questions.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import sympy
from sympy import Expr, Integer, Rational

from ..backward import Derivation, derive
from ..check import check, close
from ..errors import CheckFailure
from ..graph import exact, forward, operand_exprs, substitute, symbol
from ..notation import (Grad, chain_latex, distinct_chain_latex, latex, local_grad, name_latex, number_latex,
                        terms_and_values_latex, values_sum_latex)
from ..rules import RULES
from ..walkthrough import Listing, Walkthrough, point_given
from .prose import Math

KINDS = ("rule", "edges", "sign", "target")
NEW_TARGET = Integer(3)
TARGET_LEAVES = {"toast": "t", "linear-model": "y_", "sigmoid-sse": "Y_1", "delta-recurrence": "t_1"}
"""The leaf each scenario calls its target (the value the output is pulled towards); scenarios without a single
numeric target (probability vectors, optimiser races) get no target question."""
NUDGE = Rational(1, 1000)
"""The small step h of the sign question's check: the output is recomputed at leaf + h."""


class Words(str):
    """A catalog key whose sentence, in the sheet's language, fills a placeholder."""


Params = tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class Question:
    """One question and its answer: ``exercise.question.<kind>`` and ``exercise.answer.<kind><variant>``."""

    kind: str
    ask: Params
    answer: Params
    variant: str = ""  # a second wording of the answer ("_none", "_up", "_down")
    given: tuple[str, ...] = ()  # the answer's bindings for `derive verify` where it is about another point


def questions(walk: Walkthrough, seed: int) -> tuple[Question, ...]:
    """The sheet's questions, one of each kind the walk allows, drawn with a generator seeded by ``seed``."""
    d = walk.derivation
    if d.values is None:
        return ()
    rng = random.Random(f"questions:{seed}")
    made = (rule_question(d, rng), edges_question(d, rng), sign_question(d, rng),
            target_question(d, TARGET_LEAVES.get(walk.name)))
    return tuple(q for q in made if q is not None)


def _n(name: str) -> Math:
    return Math(name_latex(name))


def rule_question(d: Derivation, rng: random.Random) -> Question | None:
    """Node n = definition: which rule gives its local gradients, and why; the answer gives them at the point."""
    steps = [s for s in d.steps if s.terms]
    if not steps:
        return None
    step = rng.choice(steps)
    rule = RULES[step.op]
    locals_ = Listing(Math(distinct_chain_latex([latex(local_grad(d.graph, step.node, t.input)), latex(t.local),
                                                 number_latex(t.local_value)])) for t in step.terms)
    return Question("rule", (("node", _n(step.node)),
                             ("definition", Math(chain_latex([name_latex(step.node), latex(step.definition)])))),
                    (("rule", Words(f"rule.{rule.explain}.name")), ("why", Words(f"rule.{rule.explain}.text")),
                     ("locals", locals_)))


def edges(d: Derivation) -> dict[str, list[tuple[str, int]]]:
    """Each differentiated value → the edges leaving it (`Graph.edges`; constants are not differentiated)."""
    return {name: list(out) for name, out in d.graph.edges().items() if name not in d.constants}


def edge_contributions(d: Derivation, name: str) -> list[Expr]:
    """What each edge leaving ``name`` carries back: the reader's gradient times that position's local gradient.
    Their sum must be the walk's gradient of ``name`` (else `CheckFailure`)."""
    at = {symbol(n): v for n, v in d.values.items()}
    carried = []
    for reader, position in edges(d)[name]:
        node = d.graph[reader]
        partial = RULES[node.op].partials(operand_exprs(node), symbol(reader), node.params)[position]
        upstream = sympy.S.One if reader == d.output else d.gradients[reader].value
        carried.append(exact(upstream * substitute(partial, at)))
    total = d.gradients[name].value
    if not close(float(sum(carried)), float(total)):
        raise CheckFailure(f"self-check failed: the edges leaving {name} carry {sum(carried)}, the walk has {total}")
    return carried


def edges_question(d: Derivation, rng: random.Random) -> Question:
    """Which values have more than one edge (their gradients add); one of them worked as a sum."""
    many = [name for name, out in edges(d).items() if len(out) > 1]
    ask = (("output", _n(d.output)),)
    if not many:
        return Question("edges", ask, (), "_none")
    name = rng.choice(many)
    carried = edge_contributions(d, name)
    parts = d.gradients[name].parts
    if len(parts) == len(carried):  # one term per edge: the sum as the page writes it, terms then their numbers
        readers = Listing(_n(p.reader) for p in parts)
        sums = list(terms_and_values_latex([(p.term, p.value) for p in parts]))
    else:  # a reader that reads the value twice (t·t) has one term for both edges: each edge's number
        readers = Listing(_n(reader) for reader, _ in edges(d)[name])
        sums = [values_sum_latex(carried)]
    total = chain_latex([latex(Grad(d.output, name)), *sums, number_latex(d.gradients[name].value)])
    return Question("edges", ask, (("names", Listing(_n(n) for n in many)), ("name", _n(name)),
                                   ("count", len(carried)), ("readers", readers), ("sum", Math(total))))


def sign_question(d: Derivation, rng: random.Random) -> Question | None:
    """Raise a leaf a little: does the output go up or down? Answered by the gradient's sign and checked by
    recomputing the output at leaf + h."""
    leaves = [leaf for leaf in d.wrt if d.gradients[leaf].value != 0]
    if not leaves:
        return None
    leaf = rng.choice(leaves)
    gradient = d.gradients[leaf].value
    moved = forward(d.graph, {**d.point, leaf: d.point[leaf] + NUDGE})[d.output]
    change = exact(moved - d.output_value)
    if (change > 0) != (gradient > 0):
        raise CheckFailure(f"self-check failed: nudging {leaf} moves {d.output} against the sign of its gradient")
    return Question("sign", (("leaf", _n(leaf)), ("output", _n(d.output))), (
        ("gradient", Math(chain_latex([latex(Grad(d.output, leaf)), number_latex(gradient)]))),
        ("leaf", _n(leaf)), ("output", _n(d.output)), ("h", Math(chain_latex(["h", number_latex(NUDGE)]))),
        ("predicted", Math(number_latex(exact(gradient * NUDGE)))), ("measured", Math(number_latex(change)))),
        "_down" if gradient < 0 else "_up")


def target_question(d: Derivation, target: str | None) -> Question | None:
    """The target set to 3: a second walk at that point, checked like the first; which values change, the new
    output and the new gradients of the leaves that are updated."""
    if target is None or target not in d.graph or d.point[target] == NEW_TARGET:
        return None
    again = derive(d.graph, {**d.point, target: NEW_TARGET}, d.wrt, d.constants)
    check(again)  # raises CheckFailure on any disagreement with the oracles
    changed = [n.name for n in d.graph.nodes if n.op != "leaf" and again.values[n.name] != d.values[n.name]]
    gradients = Listing(Math(number_latex(d.gradients[leaf].value)) for leaf in d.wrt)  # the old point's: numbers
    new_gradients = Listing(Math(chain_latex([latex(Grad(d.output, leaf)), number_latex(again.gradients[leaf].value)]))
                            for leaf in d.wrt)
    old_value = Math(chain_latex([name_latex(target), number_latex(d.point[target])]))
    return Question("target", (("target", old_value), ("new", Math(number_latex(NEW_TARGET))),
                               ("name", _n(target)), ("output", _n(d.output))), (
        ("name", _n(target)), ("new", Math(number_latex(NEW_TARGET))),
        ("changed", Listing(_n(n) for n in changed)),
        ("before", Math(number_latex(d.output_value))),
        ("after", Math(chain_latex([name_latex(d.output), number_latex(again.output_value)]))),
        ("gradients", gradients), ("new_gradients", new_gradients)), given=point_given({target: NEW_TARGET}))
