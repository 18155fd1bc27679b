"""One notation (issue 15, part 4): variables and formulas in running text are maths ($l + 1$, $z$, $\\sigma'$), in
both languages, never upright letters ("layer l + 1", "第 l − 1 層", "ユニット i") or ASCII maths ("n·a^(n−1)",
"y_k(1 − y_k)", "σ(1 − σ)"). The scan reads every catalog sentence and every Markdown document of the gallery (the
HTML pages are made from it; the TeX documents print the same sentences).

Not scanned: errors.toml (lines on stderr), verify.toml (its sentences also make the plain-text report, where maths
cannot be typeset), and titles, summaries, headings and rule names (plain text in HTML titles, the gallery index and
PDF bookmarks)."""
from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from conftest import DIRECTIVE_COMMENT, ROOT

MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.S)
FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
LETTER = r"[A-Za-zα-ωΑ-Ω]"
OPERATOR = r"[−+=/×≤≥<>∘⊙]"
ENGLISH_WORDS = "a|A|I"  # one-letter words of English prose, not variables

PATTERNS = {
    "ASCII power": re.compile(r"[A-Za-z0-9)σ]\^"),
    "ASCII index": re.compile(r"(?<![A-Za-z0-9])[A-Za-zσδ]_[A-Za-z0-9{(]"),
    "dot for a product": re.compile(r"·"),
    "sigma as text": re.compile(r"σ\s?\(|σ['′]"),
    "partial as text": re.compile(r"∂"),
    "formula as text": re.compile(rf"(?<![\w.\-/]){LETTER}['′²]*\s?{OPERATOR}\s?(?:{LETTER}|[0-9(])(?![a-zA-Z]{{2}})"
                                  rf"|(?<![\w.\-/])[0-9]+\s?{OPERATOR}\s?{LETTER}(?![a-zA-Z])"),
}
LONE_LETTER = {
    "en": re.compile(rf"(?<![A-Za-z0-9_.'’\-])(?!(?:{ENGLISH_WORDS})(?![A-Za-z]))[A-Za-z](?![A-Za-z0-9_'’])"),
    "ja": re.compile(r"(?<![A-Za-z0-9_.'’\-])[A-Za-z](?![A-Za-z0-9_'’])"),
}
NOT_SCANNED_FILES = {"errors.toml", "verify.toml"}
NOT_SCANNED_KEYS = re.compile(r"(^|\.)(title|summary|name)$|(^|\.)heading\.")




def prose(text: str) -> str:
    """The running text: no comments, no code, no maths, no placeholders, no Markdown headings."""
    for pattern in (DIRECTIVE_COMMENT, FENCE, MATH, CODE, PLACEHOLDER):
        text = pattern.sub(" ", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def findings(text: str, lang: str) -> list[str]:
    """What the running text of ``text`` sets as text that should be maths, each with some context."""
    running = prose(text)
    out = []
    for name, pattern in [*PATTERNS.items(), ("variable as text", LONE_LETTER[lang])]:
        out += [f"{name}: …{running[max(0, m.start() - 25):m.end() + 15]}…" for m in pattern.finditer(running)]
    return out


def _strings(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _strings(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield prefix + key, value


def catalog_sentences(lang: str):
    folder = resources.files("derive.locales").joinpath(lang)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml") and entry.name not in NOT_SCANNED_FILES:
            for key, text in _strings(tomllib.loads(entry.read_text(encoding="utf-8"))):
                if not NOT_SCANNED_KEYS.search(key):
                    yield f"{entry.name} {key}", text


def test_the_scan_finds_what_the_issue_names():
    assert findings("layer l + 1, with x and y' included", "en")
    assert findings("第 l − 1 層のユニット i", "ja")
    for ascii_maths in ("n·a^(n−1)", "y_k(1 − y_k)", "σ(1 − σ)", "∂C/∂w"):
        assert findings(f"The local gradient is {ascii_maths}.", "en"), ascii_maths
    assert findings("The weight w moves.", "en") and findings("重み w が動きます。", "ja")
    # maths, code, placeholders and one-letter words are not findings
    assert not findings("A step of $l + 1$ with `t_2 = 1 - t_1` and {w}: a weight, I think.", "en")
    assert not findings("第 $l - 1$ 層のユニット $i$ と {w}", "ja")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_catalog_sentences_set_variables_as_maths(lang):
    found = [f"{where}: {finding}" for where, text in catalog_sentences(lang) for finding in findings(text, lang)]
    assert not found, "\n".join(found[:30])


GALLERY_MARKDOWN = sorted(path for path in (ROOT / "output").rglob("*.md") if "verify" not in path.parts)


@pytest.mark.parametrize("path", GALLERY_MARKDOWN, ids=[str(p.relative_to(ROOT / "output")) for p in GALLERY_MARKDOWN])
def test_gallery_documents_set_variables_as_maths(path):
    lang = path.stem.split("-")[0]
    found = findings(path.read_text(encoding="utf-8"), lang)
    assert not found, "\n".join(found[:30])


# --- plots in the documents' font ----------------------------------------------------------------------------------

def _fonts(pdf: bytes) -> set[str]:
    """The fonts a PDF embeds, without their subset prefixes."""
    return {name.decode().split("+")[-1] for name in re.findall(rb"/BaseFont /([A-Za-z0-9+\-]+)", pdf)}


def test_plots_are_set_in_computer_modern():
    """Text and ticks in Computer Modern (cmr10, the cm maths fonts), as the documents around them; the minus of a
    negative tick is the maths minus (cmsy10), not a hyphen; no DejaVu Sans left."""
    from derive.present.plots import draw
    from derive.scenarios import build
    for name in ("optimizers", "vanishing-gradients"):
        for image in build(name).images:
            svg, pdf = draw(image.plot)
            fonts = _fonts(pdf)
            assert {"Cmr10", "Cmmi10"} <= fonts, (name, fonts)
            assert not any("DejaVu" in font for font in fonts), (name, fonts)
            assert draw(image.plot) == (svg, pdf)  # still the same bytes on every call


def test_japanese_text_in_a_plot_falls_back_to_a_noto_cjk_font_and_stderr_stays_quiet(tmp_path):
    """Plots hold no prose, but a Japanese label would be drawn with the Noto CJK font (when installed) instead of
    empty boxes; drawing with the Computer Modern fonts prints nothing on stderr (fontTools' notices are quieted)."""
    import subprocess
    import sys
    script = ("import re, sys\n"
              "from derive.present.plots import new_figure, plot_svg_pdf, style, _japanese_fonts\n"
              "with style():\n"
              "    f = new_figure(3, 2)\n"
              "    ax = f.add_subplot(); ax.plot([0, 1], [1, -1]); ax.set_xlabel('ステップ')\n"
              "svg, pdf = plot_svg_pdf(f)\n"
              "print(_japanese_fonts(), sorted(set(re.findall(rb'/BaseFont /[A-Z]+\\+([A-Za-z0-9\\-]+)', pdf))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLCONFIGDIR": str(tmp_path / "mpl")})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    if "Noto" not in done.stdout.split("]")[0]:
        pytest.skip("no Noto CJK font installed")
    assert "NotoSerifCJKjp" in done.stdout or "NotoSansCJKjp" in done.stdout, done.stdout
