"""The JSON shape of DESIGN.md (``schema_version`` 1), built from the checked walk-through."""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

import sympy

from ..backward import Derivation
from ..notation import Grad, chain_latex, latex, name_latex, sum_latex
from ..walkthrough import Walkthrough

SCHEMA_VERSION = 1


def schema() -> dict[str, Any]:
    """The JSON Schema every ``show``/``explain`` JSON output follows (shipped in the package)."""
    return json.loads(resources.files("derive").joinpath("schema/walkthrough.schema.json").read_text("utf-8"))


def number(value: sympy.Basic | None) -> int | float | None:
    """A JSON number: integers stay integers, everything else becomes the nearest float."""
    if value is None:
        return None
    if value.is_Integer:
        return int(value)
    return float(value)


def to_json_data(walk: Walkthrough) -> dict[str, Any]:
    d = walk.derivation
    data = {
        "schema_version": SCHEMA_VERSION,
        "scenario": walk.name,
        "output": d.output,
        "value": number(d.output_value),
        "wrt": list(d.wrt),
        "nodes": [{
            "name": node.name,
            "op": node.op,
            "inputs": list(node.inputs),
            "latex": name_latex(node.name) if node.op == "leaf" else chain_latex(
                [name_latex(node.name), latex(d.definitions[node.name])]),
            "value": number(d.values[node.name]) if d.values is not None else None,
        } for node in d.graph.nodes],
        **_gradients(d),
        "constants": list(d.constants),
        "steps": [{
            "node": step.node,
            "op": step.op,
            "rule": step.op,
            "upstream": {"latex": latex(Grad(d.output, step.node)), "value": number(step.upstream_value)},
            "local": {t.input: {"latex": latex(t.local), "value": number(t.local_value)} for t in step.terms},
            "contribution": {t.input: {"latex": latex(t.contribution), "value": number(t.contribution_value)}
                             for t in step.terms},
        } for step in d.steps],
        "updates": [{
            "step": u.step,
            "learning_rate": number(u.learning_rate),
            "values": {leaf: number(u.derivation.point[leaf]) for leaf in u.derivation.graph.leaves},
            "output_value": number(u.derivation.output_value),
            **_gradients(u.derivation),
            "state": {leaf: {k: number(v) for k, v in s.items()} for leaf, s in u.state.items()} if u.state else None,
        } for u in walk.updates],
        "check": {
            "local_gradients": walk.report.locals_checked,
            "gradients": walk.report.gradients_checked,
            "oracle": walk.report.oracle,
            "notes": [n.key for n in walk.report.notes],
        },
    }
    return data


def _gradients(d: Derivation) -> dict[str, Any]:
    names = [n.name for n in d.graph.nodes]
    return {
        "gradients": {n: number(d.gradients[n].value) for n in names},
        "gradient_latex": {n: sum_latex(d.gradients[n].terms) if n not in d.constants else None for n in names},
    }
