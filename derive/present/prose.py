"""Catalog sentences with their placeholders filled: every expression becomes inline maths printed by
`derive.notation`, a `Listing` becomes a list in the language's own separator, a `Phrase` the language's words."""
from __future__ import annotations

import sympy

from ..locales import catalog
from ..notation import chain_latex, latex, number_latex
from ..walkthrough import Listing, Phrase


class Math(str):
    """LaTeX already printed by `derive.notation`, to be shown inline."""


def say(lang: str, key: str, **params: object) -> str:
    """A catalog sentence with its placeholders filled; expressions become inline maths ``$…$``."""
    filled = {k: inline(v, lang) for k, v in params.items()}
    return catalog(lang)[key].format(**filled)


def inline(value: object, lang: str) -> str:
    """One placeholder value as the sentence shows it."""
    if isinstance(value, Listing):
        return catalog(lang)["punct.list_separator"].join(inline(v, lang) for v in value)
    if isinstance(value, Phrase):
        return catalog(lang)[value.key]
    if isinstance(value, Math):
        return "$" + value + "$"
    if isinstance(value, sympy.Eq) and value.rhs.is_number:  # a name and its value: "x = 0.1", not "x = 1/10"
        return "$" + chain_latex([latex(value.lhs), number_latex(value.rhs)]) + "$"
    if isinstance(value, sympy.Basic):
        return "$" + (number_latex(value) if value.is_number else latex(value)) + "$"
    return str(value)
