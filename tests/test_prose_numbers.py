"""Issue 11, part 6: every number in prose comes from the derivation's data through a catalog placeholder, never
typed into a catalog. The catalogs may hold only the few constants below, each a constant of a definition."""
from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

CONSTANTS = {
    "0": "the identity of addition, the kink of ReLU at 0, a range 'between 0 and 1', step 0 = the start",
    "1": "the identity of multiplication, 1 − a in σ' = a(1 − a), layer 1 = the input layer (the material's "
         "numbering), sample 1 = the one walked through",
    "2": "the square and its derivative 2(a − t); layer 2 = the first layer with weights (the material's numbering)",
    "½": "the halved sum of squared errors, ½ Σ (a − t)², a constant of the loss's definition",
    "²": "the square in a definition (a², (a − t)²)",
    "1/2": "σ(0) = 1/2, derived in vanishing-gradients (checked there with sympy)",
    "1/4": "σ' ≤ 1/4, derived in vanishing-gradients (checked there with sympy)",
}
"""Digits that may appear in a catalog's prose, with the reason each is a constant and not data."""

NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?:e-?\d+)?(?:/\d+)?|[½¼¾⅓²³¹⁰⁴-⁹₀-₉０-９]")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


NOT_PROSE = {"errors.toml"}
"""Error lines quote the tool's own fixed limits and names (UTF-8, 1e300, 2**63 − 1), not a derivation's data."""


def prose(lang: str):
    """(file, key, text) for every string of a language's walk-through catalogs."""
    folder = resources.files("derive.locales").joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml") and entry.name not in NOT_PROSE:
            yield from _strings(entry.name, tomllib.loads(entry.read_text(encoding="utf-8")), "")


def _strings(file: str, tree: dict, prefix: str):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _strings(file, value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield file, prefix + key, value


def typed_numbers(text: str) -> list[str]:
    """The numbers of a catalog string outside its placeholders (a digit inside a word, float64 or w1, is a name)."""
    return NUMBER.findall(PLACEHOLDER.sub(" ", text))


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_catalogs_type_no_numbers(lang):
    found = [f"{file} {key}: {number!r}" for file, key, text in prose(lang)
             for number in typed_numbers(text) if number not in CONSTANTS]
    assert not found, "numbers typed into the catalog (use a placeholder filled from the data):\n" + "\n".join(found)


def test_the_scan_finds_typed_numbers():
    assert typed_numbers("E 2 → 0.72 and {value}, α = 0.1, 64 samples, float64, w1, 1e-9, 3 つ") == \
        ["2", "0.72", "0.1", "64", "1e-9", "3"]
    assert typed_numbers("{count} gradients, σ' ≤ 1/4, ½ Σ (a − t)²") == ["1/4", "½", "²"]


def test_every_allowed_constant_is_used():
    """The allow-list stays as small as the catalogs need."""
    used = {number for lang in ("en", "ja") for _, _, text in prose(lang) for number in typed_numbers(text)}
    assert set(CONSTANTS) <= used, set(CONSTANTS) - used
