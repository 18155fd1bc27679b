"""derive exercise: worksheets with numbered blanks and their answer keys (derive/present/exercise.py).

For every scenario and both languages, the worksheet filled with the answers read back from its rendered key
gives the walk-through's own equations exactly, in order; one seed gives one sheet, byte for byte, in any process;
another seed gives other blanks; no blank is ever a chain's left side, and no chain has two. The LaTeX sheet and
key of toast and linear-model compile with the engine their first line names (CI: the engine must be there).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import ROOT, require_tool
from derive.cli import main
from derive.present.context import build_context, catalog
from derive.errors import InputError
from derive.present.exercise import (DEFAULT_BLANKS, Place, chain_text, exercise, key_path, make_sheet, render_exercise,
                             walk_chains)
from derive.present.render import render
from derive.scenarios import SCENARIOS, build

LANGS = ("en", "ja")
ALL = 10 ** 6  # more blanks than any walk-through has chains: one blank in every chain

MD_BLANK = re.compile(r"\\underset\{\((\d+)\)\}\{\\boxed\{\\phantom\{(0+)\}\}\}")
MD_ANSWER = re.compile(r"\\underset\{\((\d+)\)\}\{\\boxed\{")
TEX_BLANK = re.compile(r"\\dvblank\{(\d+)\}\{(\d+)\}")
DISPLAY = re.compile(r"\$\$(.*?)\$\$", re.S)


@lru_cache(maxsize=None)
def walk(name: str):
    return build(name)


def closing(text: str, start: int) -> int:
    """The index of the brace that closes the group opened just before ``start``."""
    depth = 1
    i = start
    while depth:
        if text[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return i - 1


def key_answers(key: str, opener: re.Pattern, extra_closing: int) -> dict[int, str]:
    """Blank number → answer, read from a rendered key (the answer is the group the opener opens)."""
    answers: dict[int, str] = {}
    for match in opener.finditer(key):
        end = closing(key, match.end())
        answer = answers.setdefault(int(match.group(1)), key[match.end():end])
        assert answer == key[match.end():end], f"blank {match.group(1)} has two answers in the key"
        assert key[end + 1:end + 1 + extra_closing] == "}" * extra_closing
    return answers


def unwrap_answers(key: str) -> str:
    """The key's displays with each boxed answer taken out of its box: the walk-through's chains again."""
    out, position = [], 0
    for match in MD_ANSWER.finditer(key):
        end = closing(key, match.end())
        out += [key[position:match.start()], key[match.end():end]]
        position = end + 2  # the box's brace and the \underset's
    return "".join(out) + key[position:]


def is_subsequence(items: list[str], of: list[str]) -> bool:
    rest = iter(of)
    return all(any(item == other for other in rest) for item in items)


# --- the sheet as data --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCENARIOS)
def test_chains_are_the_same_in_both_languages_and_split_back_exactly(name):
    """make_sheet reads the chains of one language's context: the maths must not depend on the language, and
    every chain must split into members that join back into the very same string."""
    contexts = {lang: build_context(walk(name), lang) for lang in LANGS}
    chains = {lang: list(walk_chains(c)) for lang, c in contexts.items()}
    assert chains["en"] == chains["ja"]
    assert chains["en"], f"{name}: no chains"
    for chain in chains["en"]:
        assert chain.latex == chain_text(contexts["en"], chain.place)
    assert make_sheet(walk(name), ALL, 0).available == sum(len(c.members) > 1 for c in chains["en"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_blanks_are_never_a_left_side_and_never_two_in_a_chain(name):
    for seed in (0, 1, 7):
        for count in (1, DEFAULT_BLANKS, ALL):
            sheet = make_sheet(walk(name), count, seed)
            assert len(sheet.blanks) == min(count, sheet.available)
            assert [b.number for b in sheet.blanks] == list(range(1, len(sheet.blanks) + 1))
            assert all(1 <= b.member < len(b.chain.members) for b in sheet.blanks)
            places = [b.chain.place for b in sheet.blanks]
            assert len(set(places)) == len(places), "two blanks in one chain"
            assert places == sorted(places, key=_reading_order(name)), "blanks not numbered in reading order"


def _reading_order(name: str):
    order = {c.place: i for i, c in enumerate(walk_chains(build_context(walk(name), "en")))}
    return lambda place: order[place]


@pytest.mark.parametrize("name", SCENARIOS)
def test_another_seed_gives_other_blanks(name):
    def positions(seed: int) -> list[tuple[Place, int]]:
        return [(b.chain.place, b.member) for b in make_sheet(walk(name), DEFAULT_BLANKS, seed).blanks]
    assert positions(1) == positions(1)
    assert positions(1) != positions(2)
    assert len({tuple(positions(seed)) for seed in range(10)}) >= 8


def test_make_sheet_uses_no_global_random_state():
    import random
    random.seed(123)
    first = make_sheet(walk("toast"), 5, 4)
    random.seed(456)
    random.random()
    assert make_sheet(walk("toast"), 5, 4) == first


@pytest.mark.parametrize("count", [0, -1, "x", "2.5", "", None, 1.5, True])
def test_bad_counts_are_input_errors(count):
    with pytest.raises(InputError, match="--blanks"):
        make_sheet(walk("toast"), count, 1)


@pytest.mark.parametrize("seed", [-1, "x", "1e3", 2 ** 63, None])
def test_bad_seeds_are_input_errors(seed):
    with pytest.raises(InputError, match="--seed"):
        make_sheet(walk("toast"), 5, seed)


# --- filling the blanks with the key gives the walk-through back --------------------------------------------------

@pytest.mark.parametrize("count", [DEFAULT_BLANKS, ALL], ids=["default", "every-chain"])
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_markdown_sheet_filled_from_its_key_is_the_walkthrough(name, lang, count):
    w = walk(name)
    sheet = make_sheet(w, count, 11)
    worksheet = render_exercise(w, sheet, "markdown", lang)
    key = render_exercise(w, sheet, "markdown", lang, key=True)
    full = DISPLAY.findall(render(w, "markdown", lang))

    numbers = [int(m.group(1)) for m in MD_BLANK.finditer(worksheet)]
    assert numbers == list(range(1, len(sheet.blanks) + 1)), "blanks missing, repeated or out of order"
    assert "\\underset{(" not in MD_BLANK.sub("", worksheet), "a blank marker the pattern does not see"
    answers = key_answers(key, MD_ANSWER, extra_closing=1)
    assert sorted(answers) == numbers
    assert answers == {b.number: b.answer for b in sheet.blanks}

    filled = MD_BLANK.sub(lambda m: answers[int(m.group(1))], worksheet)
    sheet_displays = DISPLAY.findall(filled)
    assert is_subsequence(sheet_displays, full), "the filled worksheet's equations are not the walk-through's"
    blanked = [d for d in DISPLAY.findall(worksheet) if MD_BLANK.search(d)]
    assert len(blanked) == len(sheet.blanks)
    for display in DISPLAY.findall(unwrap_answers(key)):
        assert display in full, f"the key's equation is not in the walk-through: {display}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_latex_sheet_and_key_hold_every_blank_and_answer(name, lang):
    w = walk(name)
    sheet = make_sheet(w, 8, 5)
    worksheet = render_exercise(w, sheet, "latex", lang)
    key = render_exercise(w, sheet, "latex", lang, key=True)
    seen = [int(m.group(1)) for m in TEX_BLANK.finditer(worksheet)]  # a chain is written out more than once
    assert list(dict.fromkeys(seen)) == [b.number for b in sheet.blanks]  # (measured, one line, rows)
    assert key_answers(key, MD_ANSWER, extra_closing=1) == {b.number: b.answer for b in sheet.blanks}
    engine = {"en": "pdflatex", "ja": "lualatex"}[lang]
    for text in (worksheet, key):
        assert text.splitlines()[0] == f"% !TEX program = {engine}"


def test_no_answer_is_written_into_the_worksheet_source():
    """A student who gets the .md or .tex file sees boxes, not the answers hidden in them (no phantom answers)."""
    w = walk("linear-model")
    sheet = make_sheet(w, ALL, 3)
    for fmt in ("markdown", "latex"):
        worksheet = render_exercise(w, sheet, fmt, "en")
        for blank in sheet.blanks:
            assert blank.chain.latex not in worksheet


def test_markdown_maths_converts_to_mathml():
    """The Markdown boxes are plain amsmath (\\underset, \\boxed, \\phantom): every formula of a sheet and its key
    goes through latex2mathml as the HTML pages' maths does."""
    from derive.present.html import latex_to_mathml
    w = walk("toast")
    sheet = make_sheet(w, ALL, 1)
    for key in (False, True):
        text = render_exercise(w, sheet, "markdown", "en", key=key)
        for display in DISPLAY.findall(text):
            assert "<math" in latex_to_mathml(display, display=True)


@pytest.mark.parametrize("name", SCENARIOS)
def test_japanese_sheet_and_key_have_no_english_prose(name):
    from test_locales import en_sentences, english_runs, normalised
    sheet = make_sheet(walk(name), DEFAULT_BLANKS, 1)
    for key in (False, True):
        text = render_exercise(walk(name), sheet, "markdown", "ja", key=key)
        body = normalised(text)
        assert sorted(s for s in en_sentences() if s in body) == []
        assert english_runs(text) == []


# --- the command line ---------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_in_separate_processes(tmp_path):
    """Two processes with different hash seeds write identical files (no hash-order dependence)."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        out.mkdir()
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
        for fmt, ext in (("markdown", "md"), ("latex", "tex")):
            result = subprocess.run([sys.executable, "-m", "derive", "exercise", "toast", "--seed", "5", "--blanks",
                                     "6", "--format", fmt, "--lang", "ja", "-o", str(out / f"sheet.{ext}")],
                                    env=env, capture_output=True, text=True, timeout=300, check=False)
            assert result.returncode == 0, result.stderr
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert sorted(outputs[0]) == ["sheet-key.md", "sheet-key.tex", "sheet.md", "sheet.tex"]
    assert outputs[0] == outputs[1]


def test_same_seed_same_sheet_and_another_seed_another(capsys):
    texts = []
    for seed in ("3", "3", "4"):
        assert main(["exercise", "linear-model", "--seed", seed]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_output_writes_sheet_and_key_and_key_flag_writes_the_key(tmp_path, capsys):
    sheet_path = tmp_path / "sheet.md"
    assert main(["exercise", "toast", "--blanks", "4", "--seed", "2", "-o", str(sheet_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet-key.md", "sheet.md"]
    assert key_path(str(sheet_path)) == str(tmp_path / "sheet-key.md")
    assert main(["exercise", "toast", "--blanks", "4", "--seed", "2", "--key"]) == 0
    assert capsys.readouterr().out == (tmp_path / "sheet-key.md").read_text(encoding="utf-8")
    assert main(["exercise", "toast", "--blanks", "4", "--seed", "2"]) == 0
    assert capsys.readouterr().out == sheet_path.read_text(encoding="utf-8")
    only_key = tmp_path / "answers.md"
    assert main(["exercise", "toast", "--blanks", "4", "--seed", "2", "--key", "-o", str(only_key)]) == 0
    assert only_key.read_text(encoding="utf-8") == (tmp_path / "sheet-key.md").read_text(encoding="utf-8")
    assert not (tmp_path / "answers-key.md").exists()
    key = only_key.read_text(encoding="utf-8")
    assert "derive exercise toast --blanks 4 --seed 2" in key  # the key says how to make both again


def test_blanks_are_capped_at_the_number_of_chains(capsys):
    assert main(["exercise", "toast", "--blanks", "999"]) == 0
    out = capsys.readouterr().out
    available = make_sheet(walk("toast"), 1, 1).available
    assert len(MD_BLANK.findall(out)) == available < 999


@pytest.mark.parametrize("argv, fragment", [
    (["--blanks", "0"], "--blanks"), (["--blanks", "-2"], "--blanks"), (["--blanks", "x"], "--blanks"),
    (["--blanks", "2.5"], "--blanks"), (["--blanks="], "--blanks"), (["--seed", "x"], "--seed"),
    (["--seed", "-1"], "--seed"), (["--seed", "1.5"], "--seed"), (["--seed", "9" * 30], "--seed"),
    (["--format", "html"], "--format"), (["--lang", "fr"], "--lang"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, fragment):
    assert main(["exercise", "toast", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derive: error:") and fragment in lines[0], captured.err


def test_unknown_scenario_exit_2(capsys):
    assert main(["exercise", "no-such-scenario"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_help_documents_the_key_file(capsys):
    assert main(["exercise", "--help"]) == 0
    out = capsys.readouterr().out
    assert "sheet-key.md" in out and "--key" in out and "--seed" in out and "--blanks" in out


def test_exercise_helper_checks_numbers_before_building():
    with pytest.raises(InputError, match="--blanks"):
        exercise("no-such-scenario", "0", "1")


# --- LaTeX: compile a few with the real engines -------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", ["toast", "linear-model"])
def test_latex_sheet_and_key_compile(name, lang, tmp_path):
    from derive.present.pdf import compile_tex, engine_for, overfull_boxes
    sheet_path = tmp_path / f"{name}-{lang}.tex"
    assert main(["exercise", name, "--blanks", "6", "--seed", "9", "--format", "latex", "--lang", lang,
                 "-o", str(sheet_path)]) == 0
    for path in (sheet_path, Path(key_path(str(sheet_path)))):
        engine = engine_for(path.read_text(encoding="utf-8"))
        assert engine == {"en": "pdflatex", "ja": "lualatex"}[lang]
        require_tool(engine)  # a failure under CI, a skip elsewhere
        result = compile_tex(path)
        assert overfull_boxes(result.log, 20) == []
        assert "Missing character" not in result.log, "a glyph the fonts do not have (Japanese without luatexja?)"
        text = subprocess.run([require_tool("pdftotext"), "-layout", str(result.pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        words = catalog(lang)["exercise.name" if path == sheet_path else "exercise.answers"]
        assert words in text, f"{path.name}: the PDF does not show {words!r}"
        assert "(1)" in text and "(6)" in text
