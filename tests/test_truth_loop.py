"""Issue 11: every printed equation checked as printed. derive re-reads its own pages with its own verifier (the
truth loop), and a page with a wrong or unreadable relation is never written.

The pages are the real ones (built-in scenarios and `derive explain`); the corruptions are made on their text, each
at a line the test finds, and each must be caught at that line."""
from __future__ import annotations

import re

import pytest

from conftest import ROOT, scenario_page, scenario_walk
from derive.cli import main
from derive.present.render import render
from derive.present.tex import own_definitions
from derive.scenarios import SCENARIOS
from derive.verify import verify_text
from derive.verify.own_tex import brace_group
from derive.verify.pages import PageDoesNotHold, check_page

REREAD = [name for name in SCENARIOS if scenario_walk(name).reread]
EXPLAINED = [
    ["(x + y) * z", "--at", "x=-2,y=5,z=-4"],
    ["g = exp(e)", "--at", "e=-1"],
    ["sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--step", "lr=0.1"],
    ["x**2 + 3*x"],
    ["log(x)*y", "--at", "x=2,y=3", "--step", "lr=0.5,steps=2"],
    ["tanh(a*b)", "--at", "a=1,b=0.5"],
    ["1/(1 + exp(-x))", "--at", "x=0.3"],
]


def test_the_first_lessons_are_read_back():
    """The pages the loop covers today; the others say they are not read back (Walkthrough.reread)."""
    assert {"toast", "linear-model"} <= set(REREAD)


FORMATS = ["markdown", "latex", "beamer"]
STRICT = {"markdown": "<!-- derive: numbers strict -->", "latex": "\n% derive: numbers strict\n",
          "beamer": "\n% derive: numbers strict\n"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", REREAD)
def test_every_relation_of_a_scenario_page_holds_as_printed(name, lang, fmt):
    text = scenario_page(name, lang, fmt)
    report = check_page(text, name, own_definitions)
    assert report.exit_code == 0 and not report.skipped
    assert len(report.claims) >= 30  # the whole page was read, not one scope of it
    assert STRICT[fmt] in text
    scopes = re.findall(r"derive: scope (\S+)", text)
    assert scopes == re.findall(r"derive: scope (\S+)", scenario_page(name, lang))  # the Markdown's bindings


def explained(args, lang="en", fmt="markdown") -> str:
    from derive.api import explain
    at = dict(zip(args[1::2], args[2::2]))
    result = explain(args[0], at=at.get("--at"), step=at.get("--step"))
    return render(result.document, fmt, lang)


@pytest.mark.parametrize("args", EXPLAINED, ids=lambda a: a[0])
def test_every_explain_page_holds_as_printed(args, capsys):
    assert main(["explain", *args]) == 0
    page = capsys.readouterr().out
    report = verify_text(page)
    assert report.exit_code == 0 and not report.skipped and report.claims


# --- seeded corruptions: each must be caught, at its line ------------------------------------------------------

_SEP = r"\s*&?=\s*"  # a link of a chain: " = ", or "&= " in a row of an alignment
_SUBSTITUTION = re.compile(rf"{_SEP}(?P<numbers>[^=&]*\\cdot[^=&]*?){_SEP}(?P<result>-?[\d.]+)\s*$")
_NUMBER = re.compile(r"(?<![\w.{])-?\d+(?:\.\d+)?(?![\w.}])")
_ROW_END = re.compile(r"\s*\\\\(?:\[[^\]]*\])?\s*$")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def displayed_chains(text: str) -> list[tuple[int, int]]:
    r"""(start, end) of each displayed chain written on one line: a Markdown ``$$…$$`` line; in LaTeX the first
    argument of derive's ``\dchain``, a row of an alignment that holds a whole chain (``lhs &= … = …``) and a
    slide's table cell in display style."""
    spans = [m.span(1) for m in re.finditer(r"^\$\$(.*)\$\$$", text, re.M)]
    for m in re.finditer(r"^\\dchain\{", text, re.M):
        end = brace_group(text, m.end() - 1)
        if end is not None and "\n" not in text[m.end():end - 1]:
            spans.append((m.end(), end - 1))
    for m in re.finditer(r"^(?!\\dchain|\\dv)([^&%\n$ ][^&\n$]*?&=[^\n$]*)$", text, re.M):
        row_end = _ROW_END.search(m.group(1))
        spans.append((m.start(1), m.start(1) + (row_end.start() if row_end else len(m.group(1)))))
    spans += [m.span(1) for m in re.finditer(r"\$\\displaystyle ([^$\n]*)\$", text)]  # a slide's table cell
    return sorted(spans)


def _substitutions(text: str):
    for start, end in displayed_chains(text):
        match = _SUBSTITUTION.search(text, start, end)
        if match is not None:
            yield match


def flip_result(text: str) -> tuple[str, int]:
    """The printed value of a chain, off by one in its last digit."""
    match = next(m for m in _substitutions(text) if m.group("result") not in ("0", "1"))
    start, end = match.span("result")
    result = match.group("result")
    flipped = result[:-1] + str((int(result[-1]) + 1) % 10)
    return text[:start] + flipped + text[end:], _line_of(text, start)


def swap_terms(text: str) -> tuple[str, int]:
    """Two different numbers of a substitution in the other order (the products still agree)."""
    for match in _substitutions(text):
        numbers = _NUMBER.findall(match.group("numbers").replace(r"\left(", "").replace(r"\right)", ""))
        if len(set(numbers)) >= 2:
            member = match.group("numbers")
            a, b = numbers[0], next(n for n in numbers if n != numbers[0])
            swapped = member.replace(a, "\0").replace(b, a, 1).replace("\0", b, 1)
            start, end = match.span("numbers")
            return text[:start] + swapped + text[end:], _line_of(text, start)
    raise AssertionError("no substitution with two different numbers")


def drop_factor(text: str) -> tuple[str, int]:
    r"""A chain-rule factor lost: ``∂E/∂y · ∂y/∂w`` written ``∂E/∂y``."""
    name = r"(?:[^{}]|\{[^{}]*\})+"
    product = re.compile(rf"(\\frac\{{\\partial {name}\}}\{{\\partial {name}\}}) \\cdot "
                         rf"\\frac\{{\\partial {name}\}}\{{\\partial {name}\}}(?={_SEP})")
    for start, end in displayed_chains(text):
        match = product.match(text, start, end)
        if match and not re.search(r"\\cdot 1(?![\d.])", text[start:end]):  # a link worth 1 may be left out
            return text[:match.start()] + match.group(1) + text[match.end():], _line_of(text, start)
    raise AssertionError("no chain-rule product")


def misround(text: str) -> tuple[str, int]:
    """The longest decimal of a displayed chain with its last digit one more: a value rounded (or copied) wrongly."""
    found = [(len(m.group()), start + m.start(), m.group()) for start, end in displayed_chains(text)
             for m in re.finditer(r"(?<![\d.])\d+\.\d+(?![\d])", text[start:end])]
    if not found:
        pytest.skip("this page prints no decimal in a displayed chain (linear-model's numbers are integers)")
    _, start, number = max(found)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    return text[:start] + wrong + text[start + len(number):], _line_of(text, start)


def merge_scopes(text: str) -> tuple[str, int]:
    """A scope directive removed: a symbol of one part of the page is then reused with another meaning."""
    match = re.search(r"^<!-- derive: scope (?:intro-1|extra-\d+\.1) -->$|<!-- derive: scope extra-\d+\.1 --> "
                      r"|^% derive: scope extra-\d+\.1\n", text, re.M)
    assert match, "no scope to remove"
    start, end = match.span()
    return text[:start] + text[end:], _line_of(text, start)


CORRUPTIONS = [flip_result, swap_terms, drop_factor, misround, merge_scopes]


def pages():
    for name in REREAD:
        for lang in ("en", "ja"):
            for fmt in FORMATS:
                yield pytest.param(lambda name=name, lang=lang, fmt=fmt: scenario_page(name, lang, fmt),
                                   id=f"{name}-{lang}-{fmt}")
    for fmt in FORMATS:
        yield pytest.param(lambda fmt=fmt: explained(["sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--step",
                                                      "lr=0.1"], fmt=fmt), id=f"explain-sigmoid-{fmt}")


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("page", pages())
def test_a_seeded_corruption_is_caught_at_its_line(page, corrupt):
    text = page()
    if corrupt is merge_scopes and "scope intro-1" not in text and "scope extra-" not in text:
        pytest.skip("a page with one scope has no scope to remove")  # the explain page: one graph, one point
    corrupted, line = corrupt(text)
    assert corrupted != text
    assert check_page(text, "page", own_definitions).exit_code == 0
    with pytest.raises(PageDoesNotHold) as caught:
        check_page(corrupted, "page.md", own_definitions)
    found = int(re.search(r"line (\d+)", str(caught.value)).group(1))
    assert str(caught.value).startswith("page.md, line ")
    if corrupt is merge_scopes:  # caught in the scope that absorbed the removed one (its definitions hold scope-wide)
        absorbing = max(_line_of(text, m.start()) for m in re.finditer(r"derive: scope ", text)
                        if _line_of(text, m.start()) < line)
        assert found >= absorbing
    else:
        assert found == line


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
def test_explain_writes_nothing_when_its_page_does_not_hold(monkeypatch, tmp_path, capsys, fmt):
    """A page that does not hold is an internal error (exit 3): nothing on stdout, no file; an article or a deck is
    read back as it is (a --body-only fragment in its whole document)."""
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, fmt="markdown", lang="en", **kw):
        text = real(document, fmt, lang, **kw)
        assert "f = -12$" in text
        return text.replace("f = -12$", "f = -13$")  # the forward pass's output, misprinted

    monkeypatch.setattr(rendering, "render", wrong)
    out = tmp_path / ("walk.md" if fmt == "markdown" else "walk.tex")
    args = ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--format", fmt]
    code = main(args + ["-o", str(out)] + (["--body-only"] if fmt == "beamer" else []))
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and captured.out == ""
    assert "the walk-through, line" in captured.err and "does not hold" in captured.err
    monkeypatch.setattr(rendering, "render", real)
    assert main(args + ["-o", str(out)]) == 0 and out.exists()


BUILD_SLIPS = {"markdown": ("1.4$$", "1.5$$", "en.md", ("en.html", "ja.md"), "en.tex"),
               "latex": ("= 1.4}", "= 1.5}", "en.tex", ("ja.tex",), "en.md"),
               "beamer": ("= 1.4}", "= 1.5}", "en-slides.tex", ("ja-slides.tex",), "en.tex")}


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer"])
def test_build_leaves_a_failing_page_untouched(monkeypatch, tmp_path, fmt):
    """End to end: a corrupted page stops the build with exit 3 naming it, and its previous file stays."""
    import derive.gallery as gallery
    real = gallery.render
    good, bad, page, also_failing, written = BUILD_SLIPS[fmt]

    def wrong(document, chosen="markdown", lang="en", **kw):
        text = real(document, chosen, lang, **kw)
        return text.replace(good, bad) if getattr(document, "name", "") == "toast" and chosen == fmt else text

    out = tmp_path / "output"
    (out / "toast").mkdir(parents=True)
    (out / "toast" / page).write_text("previous\n", encoding="utf-8")
    monkeypatch.setattr(gallery, "render", wrong)
    with pytest.raises(PageDoesNotHold) as caught:
        gallery.build_gallery(out, pdf=False, jobs=1)
    assert str(caught.value).startswith(f"toast/{page}, line ")
    assert (out / "toast" / page).read_text(encoding="utf-8") == "previous\n"
    # nor is the Markdown's HTML page, made from it; every other document is written
    assert not any((out / "toast" / name).exists() for name in also_failing)
    committed = ROOT / "output" / "linear-model" / page
    assert (out / "linear-model" / page).read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    assert (out / "toast" / written).exists() and (out / "index.html").exists()


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", REREAD)
def test_every_answer_of_an_exercise_key_holds_as_printed(name, lang, capsys):
    """`derive exercise NAME --key` re-reads its key (the loop runs in the command) and so does this test."""
    assert main(["exercise", name, "--key", "--blanks", "5", "--seed", "3", "--lang", lang]) == 0
    key = capsys.readouterr().out
    report = verify_text(key)
    assert report.exit_code == 0 and not report.skipped and len(report.claims) >= 5
    corrupted, line = flip_result(key)
    with pytest.raises(PageDoesNotHold, match=rf"^key\.md, line {line}:"):
        check_page(corrupted, "key.md")


@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_show_reads_back_a_tex_file_it_writes(monkeypatch, tmp_path, capsys, fmt):
    """`show -o x.tex` writes a lecturer's handout: it is read back first (the Markdown on stdout relies on the tests)."""
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, chosen="markdown", lang="en", **kw):
        return real(document, chosen, lang, **kw).replace("= 1.4}", "= 1.5}")

    monkeypatch.setattr(rendering, "render", wrong)
    out = tmp_path / "toast.tex"
    code = main(["show", "toast", "--format", fmt, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and "the walk-through, line" in captured.err
    monkeypatch.setattr(rendering, "render", real)
    assert main(["show", "toast", "--format", fmt, "-o", str(out)]) == 0 and out.exists()
