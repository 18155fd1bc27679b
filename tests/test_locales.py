"""The Japanese catalog mirrors the English one, and no English prose reaches a Japanese walk-through.

(a) en and ja have the same keys and the same placeholders per key; (b) no ja string holds a run of three or more
English words once maths and code-ish tokens are taken out; (c) no English catalog sentence appears verbatim in
the ja catalog; (d) every scenario rendered in Japanese Markdown carries no English catalog sentence (and no
English run) in its prose; the Markdown templates hold no prose of their own. Nothing here is skipped: a scenario
that cannot be built fails its test.
"""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from derive.present.context import catalog
from derive.present.render import render, templates_root
from derive.scenarios import SCENARIOS, build
from conftest import DIRECTIVE_COMMENT

FILL = "\u25ca"  # what a placeholder becomes before prose is inspected: breaks any run of words

MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.S)
FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.S | re.M)
BACKTICKS = re.compile(r"`[^`\n]*`")
GLOSS = re.compile(r"（[a-z]+(?: [a-z]+)*）")  # a textbook term's English in full-width parentheses: 誤差逆伝播法（backpropagation）
CODEISH = re.compile(r"""
      --[A-Za-z][\w-]*                              # command-line options: --wrt
    | [A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?      # dotted identifiers: sympy.diff
    | \w*_\w*                                       # names with underscores: y_, y_k
    | [A-Za-z]+\d\w* | \d+[A-Za-z]\w*               # letters and digits: float64, u1
    | [A-Za-z]*[a-z][A-Z][A-Za-z]* | [A-Z][A-Z]+[a-z]*[A-Za-z]*   # mixed or upper case: PyTorch, ReLU, MSE
""", re.X)
WORD = r"[A-Za-z]+(?:'[a-z]+)?"
ENGLISH_RUN = re.compile(rf"(?<![\w\\]){WORD}(?:,? +{WORD}){{2,}}(?![\w])")
ENGLISH_WORD = re.compile(rf"(?<![\w\\]){WORD}(?![\w])")
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|[()\u2014]|" + FILL)

# Words that are names, not prose: functions (``tanh``) and formats or languages shown by their own names.
TECHNICAL = {"tanh", "sin", "cos", "exp", "log", "softmax", "sigmoid", "relu"}
PROPER_NAMES = {"English", "Markdown", "LaTeX", "HTML", "JSON", "PDF", "SVG", "MathML", "Beamer"}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def filled(text: str) -> str:
    """A catalog string with every placeholder replaced by FILL and ``{{``/``}}`` turned into braces."""
    return text.format(**{name: FILL for name in fields(text)})


def prose(text: str) -> str:
    """Text with code blocks, maths, backticks and code-ish tokens replaced by FILL (which breaks word runs)."""
    for pattern in (DIRECTIVE_COMMENT, FENCE, MATH, BACKTICKS, GLOSS, CODEISH):
        text = pattern.sub(f" {FILL} ", text)
    return text


def english_runs(text: str) -> list[str]:
    return ENGLISH_RUN.findall(prose(text))


PAIR = re.compile(rf"(?<![\w\\])({WORD}),? +(?=({WORD})(?![\w]))")


def is_prose(piece: str) -> bool:
    """Two English words in a row, separated by a space (not by an operator, as in ``y' − wx − b``), neither of
    them a one-letter variable or the name of a function (``sin x``, ``log a``)."""
    return any(all(len(w) > 1 and w.lower() not in TECHNICAL for w in pair) for pair in PAIR.findall(piece))


def en_sentences() -> set[str]:
    """Every sentence (or sentence piece between maths, placeholders and code) of the en catalog that is English
    prose; plain maths such as ``p = wx, y = p + b`` is not."""
    found = set()
    for value in catalog("en").values():
        for piece in SENTENCE_END.split(prose(filled(value))):
            piece = " ".join(piece.split()).strip(" .,:;!?")
            if is_prose(piece):
                found.add(piece)
    return found


def normalised(text: str) -> str:
    return " ".join(prose(text).split())


# (a) ------------------------------------------------------------------------------------------------------------

def test_same_keys():
    en, ja = catalog("en"), catalog("ja")
    missing, extra = sorted(en.keys() - ja.keys()), sorted(ja.keys() - en.keys())
    assert not missing, "keys missing from the ja catalog: " + ", ".join(missing)
    assert not extra, "keys in the ja catalog that en does not have: " + ", ".join(extra)


@pytest.mark.parametrize("key", sorted(catalog("en").keys() & catalog("ja").keys()))
def test_same_placeholders(key):
    """Keys missing on either side fail `test_same_keys`; here every shared key is compared."""
    en, ja = catalog("en"), catalog("ja")
    assert fields(ja[key]) == fields(en[key]), f"{key}: ja has {fields(ja[key])}, en has {fields(en[key])}"
    filled(ja[key])  # str.format accepts it: braces are balanced, literal braces doubled


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_has_title_and_summary(name, lang):
    """`derive list --lang ja` and the walk-through title need them for every scenario."""
    for part in ("title", "summary"):
        assert f"scenario.{name}.{part}" in catalog(lang), f"scenario.{name}.{part} missing from {lang}"


# (b) ------------------------------------------------------------------------------------------------------------

def test_detector_sees_english():
    """The checks below are not vacuous: they find English where there is English, and skip code and maths."""
    assert english_runs("The output is now $f = 4$.") == ["The output is now"]
    assert english_runs("sympy.diff と PyTorch と ReLU、float64、--wrt w,b、`derive show toast` です。") == []
    assert english_runs("sin x の微分は cos x です。y = (ax + b)² とおきます。") == []
    assert len(en_sentences()) > 50


@pytest.mark.parametrize("key", sorted(catalog("ja")))
def test_ja_string_has_no_english_prose(key):
    text = catalog("ja")[key]
    assert english_runs(filled(text)) == [], f"{key}: English prose in {text!r}"


# (c) ------------------------------------------------------------------------------------------------------------

def test_no_en_sentence_in_ja_catalog():
    ja = {key: normalised(filled(value)) for key, value in catalog("ja").items()}
    leaks = sorted((key, sentence) for sentence in en_sentences() for key, text in ja.items() if sentence in text)
    assert leaks == [], f"English catalog sentences copied into ja: {leaks}"


@pytest.mark.parametrize("key", sorted(catalog("en").keys() & catalog("ja").keys()))
def test_ja_value_is_translated(key):
    """A value may stay as in en only when its words are all names: ``tanh``, ``Markdown``, ``English``."""
    en, ja = catalog("en")[key], catalog("ja")[key]
    words = set(ENGLISH_WORD.findall(prose(filled(en))))
    if {w for w in words if w.lower() not in TECHNICAL} - PROPER_NAMES:
        assert ja != en, f"{key} is not translated: {ja!r}"


# です・ます調 ----------------------------------------------------------------------------------------------------

POLITE = re.compile(r"(です|ます|ました|ません|でした|ましょう|ください)[）」』)]*$")
AFTERTHOUGHT = re.compile(r"（[^（）]*）$")  # "…0 とします（PyTorch の慣例）。": the verb before it counts


@pytest.mark.parametrize("key", sorted(catalog("ja")))
def test_ja_sentences_are_polite(key):
    """Every sentence that ends with 。 ends in です・ます form; after a ： comes a list or a label, not a sentence."""
    for sentence in filled(catalog("ja")[key]).split("。")[:-1]:
        sentence = sentence.strip()
        if "：" in sentence or not sentence.strip("（）()「」"):
            continue
        assert POLITE.search(AFTERTHOUGHT.sub("", sentence)), f"{key}: not in です・ます form: {sentence!r}"


# (d) ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCENARIOS)
def test_rendered_ja_has_no_english_prose(name):
    text = render(build(name), "markdown", "ja")  # a scenario that cannot be built fails here, never skips
    body = normalised(text)
    leaks = sorted(sentence for sentence in en_sentences() if sentence in body)
    assert leaks == [], f"{name}: English catalog sentences in the ja walk-through: {leaks}"
    runs = english_runs(text)
    assert runs == [], f"{name}: English prose in the ja walk-through: {runs}"


def test_rendered_en_is_seen_as_english():
    """Sanity check of the test above: the English walk-through is full of en catalog sentences."""
    body = normalised(render(build("toast"), "markdown", "en"))
    assert sum(sentence in body for sentence in en_sentences()) > 10


MARKDOWN_TEMPLATES = sorted((templates_root() / "markdown").glob("*.j2"))
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
OUTPUT = re.compile(r"\{\{(.*?)\}\}", re.S)
LITERAL = re.compile(r"\"([^\"]*)\"|'([^']*)'")
CATALOG_KEY = re.compile(r"\bt\[\s*(\"[^\"]*\"|'[^']*')\s*\]")


def test_markdown_templates_exist():
    assert MARKDOWN_TEMPLATES, f"no Markdown templates under {templates_root()}"


@pytest.mark.parametrize("path", MARKDOWN_TEMPLATES, ids=lambda p: p.name)
def test_markdown_template_has_no_prose(path: Path):
    """Templates only place strings: every word a reader sees comes from the catalog (``t[...]``) or context."""
    source = path.read_text(encoding="utf-8")
    static = re.sub(r"^(\s*)```[A-Za-z]*", r"\1```", JINJA.sub(" ", source), flags=re.M)
    static = static.replace("<!-- derive:", "<!-- ")  # the directives' marker for derive verify: no one reads it
    words = [(n, w) for n, line in enumerate(static.splitlines(), 1) for w in re.findall(r"[A-Za-z]+", line)]
    assert words == [], f"{path.name}: text outside Jinja tags (line, word): {words}"
    for expression in OUTPUT.findall(source):
        literals = [a or b for a, b in LITERAL.findall(CATALOG_KEY.sub("", expression))]
        wordy = [s for s in literals if re.search(r"[A-Za-z]{2,}", s)]
        assert wordy == [], f"{path.name}: string literals printed by {{{{{expression}}}}}: {wordy}"
