"""The HTML page's step-through of the backward pass, as plain data: which node each step processes and which
gradients are written on the graph by then (the page's script only shows what this says, it computes nothing).

State 0 is the start: only ∂f/∂f = 1 is known. State k is the k-th backward step the page prints (a folded
walk-through prints some nodes only, see `derive.walkthrough.Fold`; the steps it leaves out between two printed
ones are done all the same). A node's gradient is written once every node that reads its value has been
processed, so a value that fans out turns red when its sum is complete, as on the slides.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backward import Derivation
from ..locales import catalog


@dataclass(frozen=True)
class StepState:
    node: str | None  # the node processed in this step (None: the start)
    known: tuple[str, ...]  # the nodes whose gradients are written on the graph, in graph order
    fresh: tuple[str, ...]  # those written in this step


def step_states(derivation: Derivation, shown: frozenset[str] | None = None) -> tuple[StepState, ...]:
    """The start and one state per printed backward step (every step when ``shown`` is None)."""
    out = derivation.output
    readers = derivation.graph.consumers()
    order = [node.name for node in derivation.graph.nodes if node.name not in derivation.constants]
    processed: set[str] = set()
    states = [StepState(None, (out,), (out,))]
    for step in derivation.steps:
        processed.add(step.node)
        if shown is not None and step.node not in shown:
            continue
        known = {out} | {name for name in order if readers[name] and all(r in processed for r in readers[name])}
        before = set(states[-1].known)
        states.append(StepState(step.node, tuple(n for n in order if n in known),
                                tuple(n for n in order if n in known and n not in before)))
    return tuple(states)


def step_data(derivation: Derivation, lang: str, shown: frozenset[str] | None = None) -> dict:
    """What the page's script reads (as a JSON island): the output's name and, per state, its node, the gradients
    written and those new in it, and the words that open the state's announcement ("Step 2 of 5:")."""
    t = catalog(lang)
    states = step_states(derivation, shown)
    count = len(states) - 1
    return {"output": derivation.output,
            "steps": [{"node": s.node, "known": list(s.known), "fresh": list(s.fresh),
                       "status": t["html.steps.start"] if s.node is None else
                       t["html.steps.status"].format(step=k, steps=count)}
                      for k, s in enumerate(states)]}
