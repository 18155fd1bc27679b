"""Issue 11: every printed equation checked as printed. derive re-reads its own pages with its own verifier (the
truth loop), and a page with a wrong or unreadable relation is never written.

The pages are the real ones (built-in scenarios and `derive explain`); the corruptions are made on their text, each
at a line the test finds, and each must be caught at that line."""
from __future__ import annotations

import re
from functools import lru_cache

import pytest

from conftest import ROOT, scenario_page, scenario_walk
from derive.cli import main
from derive.gallery import DIAGRAM, NETWORK_EXAMPLES
from derive.networks import explain_text
from derive.present.render import render
from derive.scenarios import SCENARIOS
from derive.verify import verify_text
from derive.verify.pages import PageDoesNotHold, check_page

REREAD = [name for name in SCENARIOS if scenario_walk(name).reread]


@lru_cache(maxsize=None)
def network(stem: str):
    """An example network of the gallery, explained once per test session."""
    return explain_text((ROOT / "examples" / "networks" / f"{stem}.toml").read_text(encoding="utf-8"), f"{stem}.toml")


@lru_cache(maxsize=None)
def network_page(stem: str, lang: str) -> str:
    return render(network(stem), "markdown", lang, figure_href=DIAGRAM)


NETWORKS = [stem for stem in NETWORK_EXAMPLES if network(stem).reread]
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


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", REREAD)
def test_every_relation_of_a_scenario_page_holds_as_printed(name, lang):
    text = scenario_page(name, lang)
    report = check_page(text, name)
    assert report.exit_code == 0 and not report.skipped
    assert len(report.claims) >= 30  # the whole page was read, not one scope of it
    assert "<!-- derive: numbers strict -->" in text


def test_the_single_sample_sigmoid_network_is_read_back():
    assert "design-example" in NETWORKS


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("stem", NETWORKS)
def test_every_relation_of_a_network_page_holds_as_printed(stem, lang):
    """The example networks' pages (`derive build`, `derive explain --network`): matrices written out, ⊙, ᵀ,
    layered names, the update and the forward pass after it, each in its scope."""
    text = network_page(stem, lang)
    report = check_page(text, stem)
    assert report.exit_code == 0 and not report.skipped
    assert len(report.claims) >= 30
    assert "<!-- derive: numbers strict -->" in text and "<!-- derive: scope after from walk -->" in text


THREE_UNITS = """activation = "sigmoid"
loss = "sse"
learning_rate = 0.25
input = [1.0, -2.0, 0.5]
target = [0.5]
[[layer]]
W = [[0.1, 0.2, 0.3], [0.3, -0.4, 0.5], [0.5, 0.6, -0.1]]
b = [0.0, 0.1, -0.2]
[[layer]]
W = [[0.1, 0.2, 0.3]]
b = [0.01]
"""


def test_a_network_page_with_three_hidden_units_holds_as_printed():
    """A 3-3-1 network: ∂C/∂W² = δ² (a¹)ᵀ written out has entries whose rounded factors multiply to one digit off
    the printed exact value; strict numbers judge a matrix of numbers at the end of a chain, like one number, by
    the exact value of the last member written with symbols."""
    result = explain_text(THREE_UNITS, "three.toml")
    assert result.reread
    for lang in ("en", "ja"):
        report = check_page(render(result, "markdown", lang, figure_href=DIAGRAM), "three.md")
        assert report.exit_code == 0 and not report.skipped and len(report.claims) >= 30


@pytest.mark.parametrize("change, why", [
    (("[[layer]]\nW = [[0.1, 0.2, 0.3], [0.3, -0.4, 0.5], [0.5, 0.6, -0.1]]\nb = [0.0, 0.1, -0.2]\n", ""),
     "no hidden layer"),
    (("[[layer]]\nW = [[0.1, 0.2, 0.3]]", "[[layer]]\nW = [[0.1, 0.2, 0.3], [0.2, 0.1, 0.4]]\nb = [0.0, 0.0]\n"
                                          "[[layer]]\nW = [[0.5, -0.5]]"), "two hidden layers"),
    (("input = [1.0, -2.0, 0.5]", "input = [1.0, -2.0, 0.5, 0.1, 0.2, 0.3]"), "more than 8 units"),
])
def test_network_pages_beyond_the_loops_reach_are_not_read_back(change, why, capsys, tmp_path):
    """What the loop does not cover is said by `NetworkResult.reread`, and explain still writes the page."""
    old, new = change
    text = THREE_UNITS.replace(old, new)
    if why == "more than 8 units":
        text = text.replace("[[0.1, 0.2, 0.3], [0.3, -0.4, 0.5], [0.5, 0.6, -0.1]]",
                            "[[0.1, 0.2, 0.3, 0, 0, 0], [0.3, -0.4, 0.5, 0, 0, 0], [0.5, 0.6, -0.1, 0, 0, 0]]")
    assert text != THREE_UNITS
    assert not explain_text(text, "net.toml").reread, why
    path = tmp_path / "net.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["explain", "--network", str(path), "-o", str(tmp_path / "net.md")]) == 0


def explained(args, lang="en") -> str:
    from derive.api import explain
    at = dict(zip(args[1::2], args[2::2]))
    result = explain(args[0], at=at.get("--at"), step=at.get("--step"))
    return render(result.document, "markdown", lang)


@pytest.mark.parametrize("args", EXPLAINED, ids=lambda a: a[0])
def test_every_explain_page_holds_as_printed(args, capsys):
    assert main(["explain", *args]) == 0
    page = capsys.readouterr().out
    report = verify_text(page)
    assert report.exit_code == 0 and not report.skipped and report.claims


# --- seeded corruptions: each must be caught, at its line ------------------------------------------------------

_SUBSTITUTION = re.compile(r"^\$\$.* = (?P<numbers>[^=]*\\cdot[^=]*) = (?P<result>-?[\d.]+)\$\$$", re.M)
_NUMBER = re.compile(r"(?<![\w.{])-?\d+(?:\.\d+)?(?![\w.}])")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def flip_result(text: str) -> tuple[str, int]:
    """The printed value of a chain, off by one in its last digit."""
    match = next(m for m in _SUBSTITUTION.finditer(text) if m.group("result") not in ("0", "1"))
    start, end = match.span("result")
    result = match.group("result")
    flipped = result[:-1] + str((int(result[-1]) + 1) % 10)
    return text[:start] + flipped + text[end:], _line_of(text, start)


def swap_terms(text: str) -> tuple[str, int]:
    """Two different numbers of a substitution in the other order (the products still agree)."""
    for match in _SUBSTITUTION.finditer(text):
        numbers = _NUMBER.findall(match.group("numbers").replace(r"\left(", "").replace(r"\right)", ""))
        if len(set(numbers)) >= 2:
            member = match.group("numbers")
            a, b = numbers[0], next(n for n in numbers if n != numbers[0])
            swapped = member.replace(a, "\0").replace(b, a, 1).replace("\0", b, 1)
            start, end = match.span("numbers")
            return text[:start] + swapped + text[end:], _line_of(text, start)
    raise AssertionError("no substitution with two different numbers")


def drop_factor(text: str) -> tuple[str, int]:
    r"""A chain-rule factor lost: ``∂E/∂y · ∂y/∂w`` written ``∂E/∂y`` (on a network page, where no chain starts
    with a partial: ``δ^{3}_{1} = ∂C/∂a^{3}_{1} · σ'(z^{3}_{1}) = …`` written without its σ')."""
    name = r"(?:[^{}]|\{[^{}]*\})+"
    partial = rf"\\frac\{{\\partial {name}\}}\{{\\partial {name}\}}"
    patterns = (rf"^\$\$()({partial}) \\cdot {partial}( = .*)\$\$$",
                rf"^\$\$([^=$]* = )({partial}) \\cdot \\sigma'\\left\({name}\\right\)( = .*)\$\$$")
    match = next((m for pattern in patterns for m in re.finditer(pattern, text, re.M)
                  if "\\cdot 1 =" not in m.group()), None)  # a link worth 1 may be left out: no slip
    assert match, "no chain-rule product"
    start, end = match.span()
    return text[:start] + "$$" + "".join(match.groups()) + "$$" + text[end:], _line_of(text, start)


def misround(text: str) -> tuple[str, int]:
    """The longest decimal of a displayed chain with its last digit one more: a value rounded (or copied) wrongly."""
    found = [(len(m.group()), m.start(), m.group()) for line in re.finditer(r"^\$\$.*\$\$$", text, re.M)
             for m in re.finditer(r"(?<![\d.])\d+\.\d+", line.group())]
    if not found:
        pytest.skip("this page prints no decimal in a displayed chain (linear-model's numbers are integers)")
    _, _, number = max(found)
    start = max((line.start() + m.start() for line in re.finditer(r"^\$\$.*\$\$$", text, re.M)
                 for m in re.finditer(r"(?<![\d.])" + re.escape(number) + r"(?![\d])", line.group())))
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    return text[:start] + wrong + text[start + len(number):], _line_of(text, start)


def merge_scopes(text: str) -> tuple[str, int]:
    """A scope directive removed: a symbol of one part of the page is then reused with another meaning (a network
    page's forward pass after the update, with the new weights)."""
    match = re.search(r"^<!-- derive: scope (?:intro-1|extra-\d+\.1) -->$|<!-- derive: scope extra-\d+\.1 --> ",
                      text, re.M) or re.search(r"^<!-- derive: scope after from walk -->$", text, re.M)
    assert match, "no scope to remove"
    start, end = match.span()
    return text[:start] + text[end:], _line_of(text, start)


CORRUPTIONS = [flip_result, swap_terms, drop_factor, misround, merge_scopes]


def pages():
    for name in REREAD:
        for lang in ("en", "ja"):
            yield pytest.param(lambda name=name, lang=lang: scenario_page(name, lang), id=f"{name}-{lang}")
    for stem in NETWORKS:
        for lang in ("en", "ja"):
            yield pytest.param(lambda stem=stem, lang=lang: network_page(stem, lang), id=f"network-{stem}-{lang}")
    yield pytest.param(lambda: explained(["sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--step", "lr=0.1"]),
                       id="explain-sigmoid")


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("page", pages())
def test_a_seeded_corruption_is_caught_at_its_line(page, corrupt):
    text = page()
    if corrupt is merge_scopes and not re.search(r"scope (?:intro-1|extra-|after from)", text):
        pytest.skip("a page with one scope has no scope to remove")  # the explain page: one graph, one point
    corrupted, line = corrupt(text)
    assert corrupted != text
    with pytest.raises(PageDoesNotHold) as caught:
        check_page(corrupted, "page.md")
    found = int(re.search(r"line (\d+)", str(caught.value)).group(1))
    assert str(caught.value).startswith("page.md, line ")
    if corrupt is merge_scopes:  # caught in the scope that absorbed the removed one (its definitions hold scope-wide)
        absorbing = max(_line_of(text, m.start()) for m in re.finditer(r"derive: scope ", text)
                        if _line_of(text, m.start()) < line)
        assert found >= absorbing
    else:
        assert found == line


def test_explain_writes_nothing_when_its_page_does_not_hold(monkeypatch, tmp_path, capsys):
    """A page that does not hold is an internal error (exit 3): nothing on stdout, no file."""
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, fmt="markdown", lang="en", **kw):
        text = real(document, fmt, lang, **kw)
        assert "f = -12$" in text
        return text.replace("f = -12$", "f = -13$")  # the forward pass's output, misprinted

    monkeypatch.setattr(rendering, "render", wrong)
    out = tmp_path / "walk.md"
    code = main(["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and captured.out == ""
    assert "the walk-through, line" in captured.err and "does not hold" in captured.err


def test_explain_of_a_network_writes_nothing_when_its_page_does_not_hold(monkeypatch, tmp_path, capsys):
    """`derive explain --network` runs the loop too: a misprinted entry of a matrix is exit 3, no file."""
    import derive.present.render as rendering
    real = rendering.render

    def wrong(document, fmt="markdown", lang="en", **kw):
        text = real(document, fmt, lang, **kw)
        assert r"0.3 & 0.4\end{array}" in text
        return text.replace(r"0.3 & 0.4\end{array}", r"0.3 & 0.5\end{array}")  # W^{2} misprinted

    monkeypatch.setattr(rendering, "render", wrong)
    out = tmp_path / "net.md"
    code = main(["explain", "--network", str(ROOT / "examples" / "networks" / "design-example.toml"), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 3 and not out.exists() and captured.out == ""
    assert "the walk-through, line" in captured.err and "does not hold" in captured.err


def test_build_leaves_a_failing_page_untouched(monkeypatch, tmp_path):
    """End to end: a corrupted page stops the build with exit 3 naming it, and its previous file stays."""
    import derive.gallery as gallery
    real = gallery.render

    def wrong(document, fmt="markdown", lang="en", **kw):
        text = real(document, fmt, lang, **kw)
        return text.replace("1.4$$", "1.5$$") if getattr(document, "name", "") == "toast" else text

    out = tmp_path / "output"
    (out / "toast").mkdir(parents=True)
    (out / "toast" / "en.md").write_text("previous\n", encoding="utf-8")
    monkeypatch.setattr(gallery, "render", wrong)
    with pytest.raises(PageDoesNotHold) as caught:
        gallery.build_gallery(out, pdf=False, jobs=1)
    assert str(caught.value).startswith("toast/en.md, line ")
    assert (out / "toast" / "en.md").read_text(encoding="utf-8") == "previous\n"
    # nor is its HTML page, made from the same Markdown; every other document is written
    assert not (out / "toast" / "en.html").exists() and not (out / "toast" / "ja.md").exists()
    committed = ROOT / "output" / "linear-model" / "en.md"
    assert (out / "linear-model" / "en.md").read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    assert (out / "toast" / "en.tex").exists() and (out / "index.html").exists()


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
