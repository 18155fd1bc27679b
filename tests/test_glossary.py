"""Issue 17, part 7: one word per concept in the Japanese catalogs, as docs/glossary.md lists it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_prose_numbers import prose

GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"


def rows() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(concept, English, Japanese, avoided patterns) for every row of the glossary's table."""
    found = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("Concept", "") or set(cells[0]) <= set("-"):
            continue
        avoided = tuple(p.strip() for p in cells[3].split(",") if p.strip())
        found.append((cells[0], cells[1], cells[2], avoided))
    return found


def japanese() -> list[tuple[str, str, str]]:
    return list(prose("ja"))


def test_glossary_has_the_textbook_terms():
    words = {ja for _, _, ja, _ in rows()}
    assert {"誤差逆伝播法", "二乗和誤差", "交差エントロピー誤差", "エッジ", "損失", "教材"} <= words


@pytest.mark.parametrize("row", rows(), ids=lambda r: r[1])
def test_catalogs_use_the_glossary_word(row):
    _, english, word, avoided = row
    strings = japanese()
    assert any(word in text for _, _, text in strings), f"{word} ({english}) is never used"
    for pattern in avoided:
        hits = [f"{file} {key}" for file, key, text in strings if re.search(pattern, text)]
        assert not hits, f"{english}: use {word}, not /{pattern}/, in: " + ", ".join(hits)


def test_the_check_sees_a_variant():
    edge = dict((r[1], r[3]) for r in rows())["edge"]
    assert any(re.search(p, "各辺の上に順伝播の値") for p in edge)
    assert not any(re.search(p, "左辺と右辺、数だけで書かれた辺") for p in edge)
    assert re.search("交差エントロピー(?!誤差)", "交差エントロピーを") and not re.search(
        "交差エントロピー(?!誤差)", "交差エントロピー誤差を")
