"""A verification `Report` as text, Markdown, LaTeX, HTML or JSON, in English or Japanese.

All maths was printed by `derive.notation` when the report was made; prose comes from the catalogs
(``locales/<lang>/verify.toml``); the templates (``templates/<format>/verify.*``) only place the strings.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from .context import catalog
from ..errors import InputError, shown
from ..notation import number_latex, number_text
from ..verify.check import ClaimResult, Counterexample, Report, Slip, StepResult

FORMATS = ("text", "markdown", "latex", "html", "json")
LANGUAGES = ("en", "ja")
TEMPLATES = {"text": "text/verify.txt.j2", "markdown": "markdown/verify.md.j2", "latex": "latex/verify.tex.j2",
             "html": "html/verify.html.j2"}
ENGINES = {"en": "pdflatex", "ja": "lualatex"}


def render(report: Report, fmt: str, lang: str, *, user_templates: str | None = None) -> str:
    if fmt not in FORMATS:
        raise InputError.of("choice.verify_format", name=shown(fmt), choices=", ".join(FORMATS))
    if lang not in LANGUAGES:
        raise InputError.of("choice.language", name=shown(lang), choices=", ".join(LANGUAGES))
    if fmt == "json":
        return json.dumps(json_data(report, lang), ensure_ascii=False, indent=2) + "\n"
    if fmt == "html":
        return _html(report, lang, user_templates)
    from .render import fill, tidy
    context = report_context(report, lang, fmt)
    return tidy(fill(TEMPLATES[fmt], context, user_templates, fmt == "latex"))


# --- JSON ------------------------------------------------------------------------------------------------------

def _number(value: float) -> float | int:
    if float(value).is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return float(value)


def json_data(report: Report, lang: str = "en") -> dict[str, Any]:
    if report.error is not None:
        return {"schema_version": 1, "ok": False,
                "error": {"line": report.error.line, "message": report.error.message}}
    t = catalog(lang)
    return {
        "schema_version": 1,
        "ok": report.ok,
        "claims": [{
            "line": claim.line,
            "claim": claim.claim,
            "ok": claim.ok,
            "reading": claim.reading,
            "steps": [{
                "index": step.index,
                "lhs": step.lhs,
                "rhs": step.rhs,
                "ok": step.ok,
                "counterexample": None if step.counterexample is None else {
                    "point": {name: _number(value) for name, value in step.counterexample.point},
                    "lhs_value": _number(step.counterexample.lhs_value),
                    "rhs_value": _number(step.counterexample.rhs_value)},
                "expected": step.expected,
                "slip": None if step.slip is None else slip_text(step.slip, t, _dollars),
            } for step in claim.steps],
        } for claim in report.claims],
        "skipped": [{"line": s.line, "text": s.text} for s in report.skipped],
    }


# --- sentences -------------------------------------------------------------------------------------------------

def _dollars(latex: str) -> str:
    return "$" + latex + "$"


def _bare(latex: str) -> str:
    return latex


def value_text(value: float, fmt: str) -> str:
    if fmt == "text":
        return number_text(value)
    return number_latex(value)


def slip_text(slip: Slip, t, math: Callable[[str], str]) -> str:
    params = {}
    for key, value in slip.params:
        params[key] = value if key == "count" else math(value)
    return t[f"verify.slip.{slip.kind}"].format(**params)


def _point_text(counterexample: Counterexample, fmt: str, math, t) -> str:
    parts = [math(f"{name} = {value_text(value, fmt)}") for name, value in counterexample.point]
    return t["verify.list_separator"].join(parts)


def step_context(step: StepResult, t, fmt: str, math) -> dict[str, Any]:
    status = {True: "ok", False: "wrong", None: "undecided"}[step.ok]
    out: dict[str, Any] = {
        "index": step.index, "lhs": step.lhs, "rhs": step.rhs, "ok": step.ok, "status": status,
        "status_word": t[f"verify.status.{status}"],
        "method": t["verify.paren"].format(text=t[f"verify.method.{step.method}"]) if step.ok is not None else "",
        "relation": "=" if step.ok is not False else r"\neq",
        "sentence": t[f"verify.step.{status}"].format(index=step.index, note=step.note or ""),
        "counterexample": None, "expected": None, "slip": None,
    }
    if step.counterexample is not None:
        c = step.counterexample
        key = "verify.counterexample" if c.point else "verify.values_differ"
        out["counterexample"] = t[key].format(
            point=_point_text(c, fmt, math, t), lhs=math(value_text(c.lhs_value, fmt)),
            rhs=math(value_text(c.rhs_value, fmt)))
    if step.expected is not None:
        out["expected"] = t["verify.expected"].format(expected=math(step.expected))
        out["expected_latex"] = step.expected
    if step.slip is not None:
        out["slip"] = slip_text(step.slip, t, math)
    return out


def claim_context(claim: ClaimResult, t, fmt: str, math) -> dict[str, Any]:
    status = {True: "ok", False: "wrong", None: "undecided"}[claim.ok]
    reading = None
    if claim.reading == "termwise":
        reading = t["verify.reading.termwise"]
    elif claim.reading == "componentwise":
        if claim.free_indices:
            indices = t["verify.list_separator"].join(math(i) for i in claim.free_indices)
            key = "verify.reading.indices" if claim.instances > 1 else "verify.reading.indices_one"
            reading = t[key].format(indices=indices, count=claim.instances)
        else:
            reading = t["verify.reading.componentwise"]
    chain = claim.members[0]
    for step in claim.steps:
        chain += (r" \neq " if step.ok is False else " = ") + step.rhs
    return {
        "line": claim.line,
        "source": claim.claim,
        "source_code": _code_span(claim.claim),
        "heading": t["verify.claim_heading"].format(line=claim.line, status=t[f"verify.status.{status}"]),
        "ok": claim.ok,
        "status": status,
        "chain": chain,
        "members": list(claim.members),
        "reading": reading,
        "steps": [step_context(s, t, fmt, math) for s in claim.steps],
    }


def report_context(report: Report, lang: str, fmt: str) -> dict[str, Any]:
    t = catalog(lang)
    math = _bare if fmt == "text" else _dollars
    claims = [claim_context(c, t, fmt, math) for c in report.claims]
    wrong = sum(1 for c in report.claims if c.ok is False)
    undecided = sum(1 for c in report.claims if c.ok is None)
    if report.error is not None:
        summary = t["verify.summary.error"]
    elif not report.claims:
        summary = t["verify.summary.none"]
    elif wrong:
        summary = t["verify.summary.wrong"].format(wrong=wrong, claims=len(report.claims))
    elif undecided:
        summary = t["verify.summary.undecided"].format(undecided=undecided, claims=len(report.claims))
    else:
        summary = t["verify.summary.ok"].format(claims=len(report.claims))
    error = None
    if report.error is not None:
        key = "verify.error.line" if report.error.line is not None else "verify.error.noline"
        error = message_text(t[key], report.error.line, report.error.message, fmt)
    context: dict[str, Any] = {
        "lang": lang, "t": t, "fmt": fmt,
        "title": t["verify.title"],
        "ok": report.ok,
        "exit_code": report.exit_code,
        "summary": summary,
        "error": error,
        "claims": claims,
        "definitions": [{"line": d.line, "latex": d.latex, "where": t["verify.at_line"].format(line=d.line)}
                        for d in report.definitions],
        "skipped": [{"line": s.line, "text": s.text, "code": _code_span(s.text),
                     "where": t["verify.at_line"].format(line=s.line)} for s in report.skipped],
        "method_note": t["verify.how"],
        "has_skipped": bool(report.skipped),
    }
    if fmt == "latex":
        from .tex import escape_prose
        context.update(engine_line=f"% !TEX program = {ENGINES[lang]}", preamble=_tex_preamble(lang),
                       esc=escape_prose, code=_breakable_code)
    return context


_QUOTED = re.compile("\u00ab([^\u00ab\u00bb]*)\u00bb")


def message_text(sentence: str, line: int | None, message: str, fmt: str) -> str:
    """An error line in a format: the document's own text, quoted «…» in the message, becomes code (Markdown,
    HTML, LaTeX) so that it is never read as maths or markup; everything else is escaped as prose."""
    if fmt == "markdown":
        return sentence.format(line=line, message=_QUOTED.sub(lambda m: _code_span(m.group(1)), message))
    if fmt == "latex":
        from .tex import escape_code, escape_prose
        marker = "\u0000"
        parts = []
        position = 0
        for match in _QUOTED.finditer(message):
            parts.append(escape_prose(message[position:match.start()]))
            parts.append(r"\texttt{" + escape_code(match.group(1)) + "}")
            position = match.end()
        parts.append(escape_prose(message[position:]))
        return escape_prose(sentence.format(line=line, message=marker)).replace(marker, "".join(parts))
    return sentence.format(line=line, message=message)


def _breakable_code(text: str) -> str:
    """The document's text for ``\\texttt``: escaped, with line breaks allowed after spaces and closing braces."""
    from .tex import escape_code
    return escape_code(text).replace("\\ ", "\\ \\allowbreak{}").replace("\\}", "\\}\\allowbreak{}")


def _code_span(text: str) -> str:
    """Markdown inline code that holds any text (backticks inside get a longer fence)."""
    text = " ".join(text.split())
    run = 1
    while "`" * run in text:
        run += 1
    fence = "`" * run
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return fence + pad + text + pad + fence


def _tex_preamble(lang: str) -> str:
    if lang == "ja":
        return r"\usepackage{luatexja}"
    return "\n".join([r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}", r"\usepackage{textcomp}"])


# --- HTML ------------------------------------------------------------------------------------------------------

def _html(report: Report, lang: str, user_templates: str | None) -> str:
    """The Markdown report, converted like the walk-throughs (MathML, no script), in the verify page shell."""
    from .html import markdown_to_html, page

    body = markdown_to_html(render(report, "markdown", lang, user_templates=user_templates))
    return page(TEMPLATES["html"], body, lang, catalog(lang)["verify.title"], user_templates, ok=report.ok,
                exit_code=report.exit_code)
