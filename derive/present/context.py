"""A pure function from a checked `Walkthrough` and a language catalog to the strings templates show.

All maths is printed here by `derive.notation`; all prose comes from `locales/<lang>.toml`. Templates only place
these strings.
"""
from __future__ import annotations

from typing import Any

import sympy
from sympy import Expr

from ..backward import Derivation, Step
from ..graph import symbol
from ..locales import catalog
from ..notation import (Grad, HeldGrad, assignment_latex, chain_latex, descent_numbers_latex, distinct_chain_latex,
                        formula_latex, latex, local_grad, name_latex, number_latex, number_text, product_latex,
                        sum_latex, terms_and_values_latex)
from .bindings import (across, after_directives, columns, gradient_column, optimizer_after_directives,
                       optimizer_step_directives, part_directives, row_directives, scope,
                       section_directives, update_directives, value_column, walk_directives)
from .prose import Math, say
from .figure_limit import MAX_FIGURE_NODES, drawable
from .steps import step_context
from ..rules import RULES
from ..walkthrough import Claim, Equation, Image, Listing, Part, Section, Table, Text, Update, Walkthrough


RULE_CARD_KEY = "concept.rule_card.heading"
"""A page with this section (derive.scenarios.concepts.rule_card) states every rule once there, not in "Rules used"."""


def value_latex(value: Expr | None) -> str | None:
    return None if value is None else number_latex(value)


def shown_nodes(walk: Walkthrough) -> frozenset[str] | None:
    """The nodes the generic sections list one by one (None: all of them; see `derive.walkthrough.Fold`)."""
    return walk.fold.shown if walk.fold is not None else None


def build_context(walk: Walkthrough, lang: str) -> dict[str, Any]:
    d = walk.derivation
    out = d.output
    shown = shown_nodes(walk)
    folded = walk.fold is not None
    gradients = {name: _gradient(d, name, lang, folded) for name in reversed([n.name for n in d.graph.nodes])
                 if name != out and name not in d.constants and (shown is None or name in shown)}
    # A folded batch lists only the sums over the samples: every other gradient is the last number of its step.
    collected = [g for g in gradients.values() if g["fan_out"] or not folded]
    return {
        "lang": lang,
        "t": catalog(lang),
        "name": walk.name,
        "title": catalog(lang).get(f"scenario.{walk.name}.title", catalog(lang)["title.explain"]),
        "source": walk.source,
        "output_latex": name_latex(out),
        "has_values": d.values is not None,
        "point": [{"latex": name_latex(n), "value": number_latex(v)} for n, v in (d.point or {}).items()],
        "point_text": _point_text(d, lang, folded),
        "nodes": _nodes(d, shown),
        "output_text": say(lang, "text.output", value=Math(chain_latex([name_latex(out), number_latex(
            d.output_value)]))) if d.values is not None else None,
        **backward_context(walk, lang),
        "gradients": collected,
        "gradients_text": catalog(lang)["text.gradients_fan_out" if folded else "text.gradients"],
        # a folded page prints every gradient asked for in its own sections (sums, tables, the update): no table
        "wrt_table": d.values is not None and not folded,
        "wrt": [gradients[name] if name in gradients else _gradient(d, name, lang) for name in d.wrt],
        "check": _check_report(walk.report, lang),
        "updates": [_update(walk, update, lang) for update in walk.updates],
        "intro": [section_context(s, lang, f"intro-{k + 1}" if walk.reread else None) for k, s in enumerate(walk.intro)],
        "extra": [section_context(s, lang, f"extra-{k + 1}" if walk.reread else None) for k, s in enumerate(walk.extra)],
        "directives": walk_directives(d, walk.given, walk.layered) if walk.reread else [],
        "main_directives": scope("main") if walk.reread else [],
        "node_columns": columns(None, None, value_column()) if walk.reread and d.values is not None else [],
        "wrt_columns": columns(None, gradient_column(d)) if walk.reread else [],
        "wrt_rows": across(None, gradient_column(d)) if walk.reread else [],  # the slides' table on its side
        "rules_used": _rules_used(d, lang),
        "has_rule_card": any(s.title_key == RULE_CARD_KEY for s in walk.intro + walk.extra),
        "figure": None,
        "figure_note": figure_note(d, lang),
    }


def _point_text(d: Derivation, lang: str, folded: bool) -> str | None:
    """Where the walk is evaluated: every leaf's value, or on a folded batch page (whose setting tables the batch)
    a pointer to the setting."""
    if not d.point:
        return None
    if folded:
        return catalog(lang)["text.point_folded"]
    return say(lang, "text.point", point=Listing(
        Math(chain_latex([name_latex(n), number_latex(v)])) for n, v in d.point.items()))


def backward_context(walk: Walkthrough, lang: str) -> dict[str, Any]:
    """The backward pass's opening (``backward_intro``) and its steps (``steps``): the part of the context that the
    HTML page's step-through shows again."""
    d = walk.derivation
    out = d.output
    backward_intro = say(lang, "text.backward", start=Math(chain_latex([latex(Grad(out, out)), "1"])))
    if walk.fold is not None:
        note = walk.fold.note
        backward_intro += catalog(lang)["punct.sentence_space"] + say(lang, note.key, **dict(note.params))
    return {"backward_intro": backward_intro, "steps": _steps(d, lang, shown_nodes(walk))}


def figure_note(d: Derivation, lang: str) -> str | None:
    """What stands in for the graph's figure when it is too large to draw (None: it is drawn)."""
    return None if drawable(d) else say(lang, "figure.omitted", nodes=len(d.graph.nodes), limit=MAX_FIGURE_NODES)


def _nodes(d: Derivation, shown: frozenset[str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for node in d.graph.nodes:
        if shown is not None and node.name not in shown:
            continue
        is_leaf = node.op == "leaf"
        rows.append({
            "name": node.name,
            "latex": name_latex(node.name),
            "op": node.op,
            "symbol": "" if is_leaf else RULES[node.op].symbol,
            "definition": None if is_leaf else chain_latex([name_latex(node.name),
                                                            formula_latex(d.definitions[node.name])]),
            "value": value_latex(d.values[node.name]) if d.values is not None else None,
            "value_text": number_text(d.values[node.name]) if d.values is not None else None,
            "is_leaf": is_leaf,
        })
    return rows


def _steps(d: Derivation, lang: str, shown: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Every backward step (of the ``shown`` nodes); a rule's explanation is given in full the first time the rule
    is used."""
    seen: set[str] = set()
    steps = []
    for step in d.steps:
        if shown is not None and step.node not in shown:
            continue
        context = _step(d, step, lang, shown)
        context["rule_first"] = step.op not in seen
        seen.add(step.op)
        steps.append(context)
    return steps


def _step(d: Derivation, step: Step, lang: str, shown: frozenset[str] | None = None) -> dict[str, Any]:
    rule = RULES[step.op]
    out = d.output
    terms, held_notes = [], []
    for term in step.terms:
        if shown is not None and term.input not in shown:
            continue
        local_symbol = local_grad(d.graph, step.node, term.input)
        if isinstance(local_symbol, HeldGrad):
            held_notes.append(say(lang, "text.held", input=symbol(term.input), node=symbol(step.node),
                                  held=Listing(tuple(symbol(h) for h in local_symbol.held)),
                                  symbol=Math(latex(local_symbol))))
        local_chain = [latex(local_symbol), latex(term.local)]
        product_chain = [product_latex([step.upstream, local_symbol]), product_latex([step.upstream, term.local])]
        if term.local_value is not None:
            local_chain.append(number_latex(term.local_value))
            product_chain += [product_latex([step.upstream_value, term.local_value]),
                              number_latex(term.contribution_value)]
        terms.append({
            "input": term.input,
            "input_latex": name_latex(term.input),
            "local": distinct_chain_latex(local_chain),
            "product": distinct_chain_latex(product_chain),
            "local_value": value_latex(term.local_value),
            "contribution_value": value_latex(term.contribution_value),
        })
    return {
        "node": step.node,
        "node_latex": name_latex(step.node),
        "op": step.op,
        "rule_name": catalog(lang)[f"rule.{rule.explain}.name"],
        "rule_text": catalog(lang)["punct.sentence_space"].join([catalog(lang)[f"rule.{rule.explain}.text"],
                                                                  *held_notes]),
        "definition": chain_latex([name_latex(step.node), latex(step.definition)]),
        "upstream": chain_latex([latex(Grad(out, step.node))] + (
            [number_latex(step.upstream_value)] if step.upstream_value is not None else [])),
        "is_output": step.node == out,
        "terms": terms,
    }


def _gradient(d: Derivation, name: str, lang: str, folded: bool = False) -> dict[str, Any]:
    """One line of 'Gradients collected'; on a ``folded`` page (only fan-out sums listed, under one sentence that
    says so) without the sentence of its own."""
    g = d.gradients[name]
    fan_out = len(g.parts) > 1
    if fan_out and g.value is not None:  # one list of (term, value): the k-th number is the k-th term's value
        expr, numbers = terms_and_values_latex([(p.term, p.value) for p in g.parts])
        members = [formula_latex(Grad(d.output, name)), expr, numbers]
    else:
        expr = sum_latex(g.terms)
        members = [formula_latex(Grad(d.output, name)), expr]
    if g.value is not None:
        members.append(number_latex(g.value))
    return {
        "name": name,
        "latex": name_latex(name),
        "equation": distinct_chain_latex(members),
        "expr": expr,
        "value": value_latex(g.value),
        "value_text": number_text(g.value) if g.value is not None else None,
        "fan_out": fan_out,
        "fan_out_text": say(lang, "text.fan_out", name=Math(name_latex(name))) if fan_out and not folded else None,
        "readers": [name_latex(p.reader) for p in g.parts],
    }


def _update(walk: Walkthrough, update: Update, lang: str) -> dict[str, Any]:
    eta = sympy.Symbol("eta")
    d = update.derivation
    shown = shown_nodes(walk)
    changes = []
    for leaf, old, gradient, new in update.changes:
        with sympy.evaluate(False):
            rule = symbol(leaf) - eta * Grad(d.output, leaf)
        changes.append(chain_latex([
            assignment_latex(name_latex(leaf), rule),
            descent_numbers_latex(old, update.learning_rate, gradient),
            number_latex(new)]))
    before = {leaf: old for leaf, old, _, _ in update.changes}
    # an optimiser's step scope starts above its introduction (its settings and step counter t hold there); plain
    # descent's after it
    lead, directives, after = ((optimizer_step_directives(update, before), [], optimizer_after_directives(update.step))
                               if update.optimizer is not None else
                               ([], update_directives(update.step, before, update.learning_rate),
                                after_directives(update.step, d)))
    context = {
        "lead_directives": lead if walk.reread else [],
        "directives": directives if walk.reread else [],
        "after_directives": after if walk.reread else [],
        "after_columns": columns(None, value_column(), gradient_column(d)) if walk.reread else [],
        # the article's two tables after the step: values (with the definitions), then gradients
        "node_columns": columns(None, None, value_column()) if walk.reread else [],
        "gradient_columns": columns(None, gradient_column(d)) if walk.reread else [],
        "step": update.step,
        "learning_rate": number_latex(update.learning_rate),
        "heading": catalog(lang)["heading.update"],
        "changes": changes,
        # plain descent moves every leaf at once: each line is read at the point before the step, in a scope of its own
        "lines": [{"label": None, "latex": c, "directives": update_directives(update.step, before, update.learning_rate,
                                                                              part=k + 1) if walk.reread and k else []}
                  for k, c in enumerate(changes)],
        "nodes": _nodes(d, shown),
        "gradients": [_gradient(d, n.name, lang) for n in reversed(d.graph.nodes)
                      if n.name not in d.constants and (shown is None or n.name in shown)],
        "output_value": number_latex(d.output_value),
        "after": _after_rows(d, shown),
        "intro": say(lang, "text.update", eta=Math(chain_latex([latex(eta), number_latex(update.learning_rate)]))),
        "output_text": say(lang, "text.output_after",
                           value=Math(chain_latex([name_latex(d.output), number_latex(d.output_value)]))),
        "check": _check_report(update.report, lang),
    }
    if update.optimizer is not None:  # --optimizer: heading, intro and labelled lines (gradient, state, update)
        context.update(step_context(update, lang))
    return context


def _after_rows(d: Derivation, shown: frozenset[str] | None) -> list[dict[str, str | None]]:
    """The table after an update: each node's new value and gradient, without the definitions the forward table
    already gave, and without the leaves the update left as they were (data, held constant)."""
    return [{"latex": name_latex(n.name), "value": number_latex(d.values[n.name]),
             "gradient": value_latex(d.gradients[n.name].value) if n.name in d.gradients else None}
            for n in d.graph.nodes
            if (shown is None or n.name in shown) and not (n.op == "leaf" and n.name in d.constants)]


def _check_report(report, lang: str) -> dict[str, Any]:
    summary = say(lang, f"check.summary.{report.oracle}", locals=report.locals_checked,
                  gradients=report.gradients_checked)
    where = catalog(lang)["check.at_point" if report.at_given_point else "check.at_random_point"]
    return {
        "summary": summary if report.oracle == "none" else summary + catalog(lang)["punct.sentence_space"] + where,
        "notes": [say(lang, f"check.note.{note.key}", **{k: Listing(Math(name_latex(n)) for n in v)
                                                          if isinstance(v, tuple) else v
                                                          for k, v in note.params}) for note in report.notes],
    }


def _rules_used(d: Derivation, lang: str) -> list[dict[str, str]]:
    keys = dict.fromkeys(RULES[step.op].explain for step in reversed(d.steps))
    return [{"name": catalog(lang)[f"rule.{k}.name"], "text": catalog(lang)[f"rule.{k}.text"]} for k in keys]


def section_context(section: Section, lang: str, scope: str | None = None) -> dict[str, Any]:
    """A section for the templates; ``scope`` names its scope on a page that is read back (None: no directives)."""
    blocks: list[dict[str, Any]] = []
    sources: list[Any] = []
    directives: list[str] = []  # a Part's scope, written before the block that follows it
    parts = 0
    for b in section.blocks:
        if isinstance(b, Part):
            parts += 1
            directives = part_directives(b, f"{scope}.{parts}") if scope else []
            continue
        blocks.append({**_block(b, lang), "directives": directives})
        sources.append(b)
        directives = []
    for block, source in zip(blocks, sources):
        if block["kind"] == "table":
            block["row_directives"] = row_directives(section, scope, block["rows"]) if scope else [[]] * len(
                block["rows"])
            block["columns"] = columns(*source.claims) if scope and source.claims else []
    return {"title": catalog(lang)[section.title_key], "label": section_label(section.title_key), "blocks": blocks,
            "directives": section_directives(section, scope) if scope and not _opens_with_part(section) else []}


def _opens_with_part(section: Section) -> bool:
    """A section whose first block is a `Part`: that part's scope is the section's first, no other before it."""
    return bool(section.blocks) and isinstance(section.blocks[0], Part)


def section_label(title_key: str) -> str:
    """A name for a section's slides (Beamer's ``label=``) that stays when its wording or language changes: the
    last word of its title's key other than ``heading`` (``scenario.toast.heading.chain``: ``chain``,
    ``concept.rule_card.heading``: ``rule-card``)."""
    return [part for part in title_key.split(".") if part != "heading"][-1].replace("_", "-")


def _block(block, lang: str) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"kind": "text", "text": say(lang, block.key, **dict(block.params))}
    if isinstance(block, (Equation, Claim)):
        members = [latex(block.lhs)] + [number_latex(m) if m.is_number else latex(m) for m in block.rhs]
        if isinstance(block, Claim) and block.value is not None and not block.rhs[-1].is_number:
            members.append(number_latex(block.value))
        return {"kind": "equation", "latex": distinct_chain_latex(members)}
    if isinstance(block, Image):
        svg_file, pdf_file = block.files
        return {"kind": "image", "name": block.name, "svg_file": svg_file, "pdf_file": pdf_file,
                "caption": catalog(lang)[block.caption_key]}
    if isinstance(block, Table):
        return {"kind": "table", "header": [catalog(lang).get(k, k) for k in block.header_keys],
                "rows": [[_cell(c) for c in row] for row in block.rows]}
    raise TypeError(f"unknown block {block!r}")


def _cell(cell: object) -> str:
    if isinstance(cell, sympy.Basic):
        return "$" + (number_latex(cell) if cell.is_number else latex(cell)) + "$"
    return str(cell)
