"""A verification `Report` as text, Markdown, LaTeX, HTML or JSON, in English or Japanese.

All maths was printed by `derive.notation` when the report was made; prose comes from the catalogs
(``locales/<lang>/verify.toml``); the templates (``templates/<format>/verify.*``) only place the strings.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..locales import catalog
from ..notation import number_latex, number_text
from ..verify.check import ClaimResult, Counterexample, Reading, Report, Slip, StepResult
from .formats import Format, Kind, formats_for
from .lecture import PLAIN, TexOptions
from .tex_prose import document_head, escape_code, escape_prose
from . import mathtext

FORMATS = formats_for("report")


# --- JSON ------------------------------------------------------------------------------------------------------

def _number(value: float) -> float | int:
    if float(value).is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return float(value)


def report_json_data(report: Report, lang: str = "en") -> dict[str, Any]:
    """The JSON report (schema ``derive/schema/verify.schema.json``)."""
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
                "slip_kind": None if step.ok is not False else (step.slip.name if step.slip else "unnamed"),
                "method": step.method,
            } for step in claim.steps],
        } for claim in report.claims],
        "skipped": [{"line": s.line, "text": s.text, **({"reason": s.reason} if s.reason else {})}
                    for s in report.skipped],
        "readings": [{"kind": r.kind, "text": reading_text(r, t, _dollars)} for r in report.readings],
    }


# --- sentences -------------------------------------------------------------------------------------------------

def _dollars(latex: str) -> str:
    return "$" + latex + "$"


_TEXT_MACROS = ((r"^{\top}", "^{T}"), (r"\top", "T"), (r"\sum", r"\Sigma"), (r"\mathcal", r"\mathit"),
                (r"\mathscr", r"\mathit"), (r"\mathbb{1}", "\U0001d7d9"), (r"\mathbf{1}", "\U0001d7d9"),
                (r"\neq", "\u2260"), (r"\approx", "\u2248"), (r"\to", "\u2192"), (r"\ell", "\u2113"),
                (r"\lvert", "|"), (r"\rvert", "|"), (r"\lVert", "\u2016"), (r"\rVert", "\u2016"), (r"\left[\begin{matrix}", "["), (r"\end{matrix}\right]", "]"),
                (r"\\", "; "), ("&", ", "))
_ARRAY = re.compile(r"\\begin\{array\}\{[lrc]*\}|\\end\{array\}")
_SUPERSCRIPTS = str.maketrans("0123456789+\u2212=()nijklLT", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
                              "\u207a\u207b\u207c\u207d\u207e\u207f\u2071\u02b2\u1d4f\u02e1\u1d38\u1d40")
_SUBSCRIPTS = str.maketrans("0123456789+\u2212=()aeijklmnoprstuvx", "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087"
                            "\u2088\u2089\u208a\u208b\u208c\u208d\u208e\u2090\u2091\u1d62\u2c7c\u2096\u2097\u2098\u2099"
                            "\u2092\u209a\u1d63\u209b\u209c\u1d64\u1d65\u2093")


_ARRAY = re.compile(r"\\begin\{array\}\{[lcr|]*\}|\\end\{array\}")
"""A column vector's frame (derive prints vectors as arrays in parentheses): the rows stay, ``;`` between them."""


def unicode_maths(latex: str) -> str:
    """derive's LaTeX as plain Unicode maths for the text report (∂C/∂w²ⱼₖ, σ′(z³₁), Σᵢ, (W³)ᵀ): indices as
    Unicode sub- and superscripts where every character has one, else written _(…) and ^(…)."""
    latex = _ARRAY.sub("", latex)  # a matrix's rows and entries are written with ; and , below
    for macro, text in _TEXT_MACROS:
        latex = latex.replace(macro, text)
    out = []
    for run in mathtext.read(latex):
        text = run.text
        if run.rise:
            table = _SUPERSCRIPTS if run.rise > 0 else _SUBSCRIPTS
            shifted = text.translate(table)
            if any(ord(c) < 128 and c.isalnum() for c in shifted):
                mark = "^" if run.rise > 0 else "_"
                shifted = mark + (text if len(text) == 1 else "(" + text + ")")
            text = shifted
        out.append(text)
    return _SPACED.sub(r" \1 ", " ".join("".join(out).split())).replace("  ", " ").strip()


_SPACED = re.compile("(?<=[^\\s(\\[=,;])([+\u2212=\u2260\u2248])")
"""A binary operator or relation gets spaces (a − b, j = 1); a sign after an opening bracket or = does not."""


def value_text(value: float, fmt: str) -> str:
    if fmt == "text":
        return number_text(value)
    return number_latex(value)


READING_MATHS = {"layers_from_1": (("first", "W^{(1)}"),), "layers_from_2": (("first", "w^{2}"),),
                 "powers": (("example", "z_{j}^{2}"),), "kronecker": (("delta", r"\delta_{ij}"),)}


def reading_text(reading: Reading, t, math: Callable[[str], str]) -> str:
    """One line saying how derive read a convention of the document."""
    params = {key: math(value) for key, value in READING_MATHS.get(reading.kind, ())}
    for key, value in reading.params:
        if key == "how":
            params[key] = t[f"verify.convention.{value}"]
        elif key in ("name", "variables", "vector", "component"):
            params[key] = math(value)
        elif key == "base":
            params[key] = math(value)
            params["condition"] = math(r"\sum_{k} " + value + " = " + dict(reading.params)["total"])
        else:
            params[key] = value
    return t[f"verify.convention.{reading.kind}"].format(**params)


def slip_text(slip: Slip, t, math: Callable[[str], str]) -> str:
    params = {}
    for key, value in slip.params:
        params[key] = value if key == "count" else math(value)
    return t[f"verify.slip.{slip.kind}"].format(**params)


def _point_text(counterexample: Counterexample, fmt: str, math, t) -> str:
    parts = [math(f"{name} = {value_text(value, fmt)}") for name, value in counterexample.point]
    return t["verify.list_separator"].join(parts)


def shown_relation(step: StepResult) -> str:
    """What holds between a step's sides: its own relation when it holds (or is undecided), the other one when it
    fails (a wrong ``=`` is shown as ``\\neq``, a wrong ``\\neq`` as ``=``)."""
    holds_as_written = step.ok is not False
    return "=" if (step.relation == "neq") != holds_as_written else r"\neq"


def step_context(step: StepResult, t, fmt: str, math) -> dict[str, Any]:
    status = {True: "ok", False: "wrong", None: "undecided"}[step.ok]
    out: dict[str, Any] = {
        "index": step.index, "lhs": step.lhs, "rhs": step.rhs, "ok": step.ok, "status": status,
        "lhs_text": unicode_maths(step.lhs), "rhs_text": unicode_maths(step.rhs),
        "status_word": t[f"verify.status.{status}"],
        "method": t["verify.paren"].format(text=t[f"verify.method.{step.method}"]) if step.ok is not None else "",
        "relation": shown_relation(step), "relation_text": unicode_maths(shown_relation(step)),
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
    elif step.ok is False:
        out["slip"] = t["verify.slip.unnamed"]
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
        chain += f" {shown_relation(step)} " + step.rhs
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
    math = unicode_maths if fmt == "text" else _dollars
    claims = [claim_context(c, t, fmt, math) for c in report.claims]
    wrong = sum(1 for c in report.claims if c.ok is False)
    undecided = sum(1 for c in report.claims if c.ok is None)
    if report.error is not None:
        summary = t["verify.summary.error"]
    elif not report.claims and not report.unread:
        summary = t["verify.summary.none"]
    elif wrong:
        summary = t[f"verify.summary.{wrong_key(wrong, len(report.claims))}"].format(wrong=wrong,
                                                                                   claims=len(report.claims))
    elif undecided:
        summary = t["verify.summary.undecided"].format(undecided=undecided, claims=len(report.claims))
    elif report.unread:
        summary = t["verify.summary.unread"].format(unread=len(report.unread), claims=len(report.claims))
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
        "definitions": [{"line": d.line, "latex": d.latex, "where": t["verify.at_line"].format(line=d.line),
                         "text": unicode_maths(d.latex)} for d in report.definitions],
        "skipped": [{"line": s.line, "text": s.text, "code": _code_span(s.text),
                     "where": t["verify.at_line"].format(line=s.line),
                     "reason": None if s.reason is None else t["verify.unread"].format(reason=s.reason)}
                    for s in report.skipped],
        "method_note": t["verify.how"],
        "readings": [reading_text(r, t, math) for r in report.readings],
        "has_skipped": bool(report.skipped),
    }
    if fmt == "latex":
        context.update(document_head(lang, fmt), esc=escape_prose, code=_breakable_code)
    return context


def wrong_key(wrong: int, claims: int) -> str:
    """The summary sentence for ``wrong`` wrong claims out of ``claims``: the verb agrees with a single claim
    ("1 of 5 claims does not hold"), and a document of one claim says so."""
    return "wrong_only" if claims == 1 else "wrong_one" if wrong == 1 else "wrong"


_QUOTED = re.compile("\u00ab([^\u00ab\u00bb]*)\u00bb")


def message_text(sentence: str, line: int | None, message: str, fmt: str) -> str:
    """An error line in a format: the document's own text, quoted «…» in the message, becomes code (Markdown,
    HTML, LaTeX) so that it is never read as maths or markup; everything else is escaped as prose."""
    if fmt == "markdown":
        return sentence.format(line=line, message=_QUOTED.sub(lambda m: _code_span(m.group(1)), message))
    if fmt == "latex":
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


def _context(report: Report, lang: str, fmt: Format, figure_href: str | None,
             options: TexOptions = PLAIN) -> dict[str, Any]:
    return report_context(report, lang, fmt.name)


# --- HTML ------------------------------------------------------------------------------------------------------


KIND = Kind("report", _context, report_json_data,
            lambda report, lang: (catalog(lang)["verify.title"], {"ok": report.ok, "exit_code": report.exit_code}),
            notebook_latex=lambda report, lang: None)
