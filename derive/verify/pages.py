"""The truth loop: a page derive has rendered is read back by derive's own verifier before anyone sees it.

A walk-through page declares its number rule and its scopes (`derive.present.bindings`); every relation printed on
it must hold as printed, and every relation must be readable. A page that fails is never written: the command exits
3 naming the document, the line and the link.
"""
from __future__ import annotations

from ..errors import CheckFailure
from . import verify_text
from .check import ClaimCache, ClaimResult, Report
from .own_tex import Trusted

PAGE_TIME_LIMIT = 20.0
"""Seconds per claim: far above what a page of derive needs (a slow claim is a defect to report, not to wait for)."""


class PageDoesNotHold(CheckFailure):
    """A printed relation of a rendered page does not hold, or cannot be read (exit 3)."""


def check_page(text: str, document: str, trusted: Trusted | None = None,
               claims_checked: ClaimCache | None = None) -> Report:
    """Read ``text`` back (Markdown, or LaTeX whose preamble holds the ``trusted`` definitions: derive's); raise
    `PageDoesNotHold` at its first wrong or unreadable relation. ``claims_checked``: claims of the same build
    checked before (each distinct claim is checked once)."""
    report = verify_text(text, time_limit=PAGE_TIME_LIMIT, trusted=trusted, claims_checked=claims_checked)
    problem = first_problem(report)
    if problem is not None:
        raise PageDoesNotHold(f"{document}, {problem}")
    return report


def first_problem(report: Report) -> str | None:
    """``line N: …`` for the first relation that fails or cannot be read, else None."""
    if report.error is not None:
        return f"line {report.error.line}: the page cannot be read: {report.error.message}"
    found: list[tuple[int, str]] = []
    for claim in report.claims:
        step = next((s for s in claim.steps if s.ok is not True), None)
        if step is not None:
            found.append((claim.line, _link(claim, step)))
    found += [(s.line, f"«{s.text}» cannot be read" + (f" ({s.reason})" if s.reason else ""))
              for s in report.skipped]
    if not found:
        return None
    line, what = min(found, key=lambda f: f[0])
    return f"line {line}: {what}"


def _link(claim: ClaimResult, step) -> str:
    verdict = "does not hold" if step.ok is False else "could not be decided"
    relation = r"\neq" if step.relation == "neq" else "="
    return f"the link «{step.lhs} {relation} {step.rhs}» (step {step.index} of «{claim.claim}») {verdict}"
