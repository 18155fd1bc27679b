"""`derive verify`: textbook identities hold, seeded mistakes are caught at the right step with the right slip,
hostile input is refused with one clear line, and every report renders in every format and language.

The documents are data: tests/corpus/verify/{identities,mistakes,hostile}.toml and examples/verify/*.md.
"""
from __future__ import annotations

import json
import math
import re
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, require_tool
import derive
from derive.api import run_verify as run
from derive.present.render import render as render_report
from derive.present.report import FORMATS, report_json_data
from derive.verify import MAX_DOCUMENT_BYTES, verify_bytes, verify_path, verify_text

CORPUS = ROOT / "tests" / "corpus" / "verify"
EXAMPLES = ROOT / "examples" / "verify"
LANGUAGES = ("en", "ja")


def _cases(name: str) -> list[dict]:
    return tomllib.loads((CORPUS / f"{name}.toml").read_text(encoding="utf-8"))["case"]


IDENTITIES = _cases("identities")
MISTAKES = _cases("mistakes")
HOSTILE = _cases("hostile")


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "derive" / "schema" / "verify.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_json(report, validator, lang: str = "en") -> dict:
    """The JSON report validates against the shipped schema and is exactly what render_report prints."""
    data = report_json_data(report, lang)
    validator.validate(data)
    assert json.loads(render_report(report, "json", lang)) == data
    return data


# --- the material's slip -------------------------------------------------------------------------------------

SLIP = EXAMPLES / "sigmoid-sse-slip.md"
CORRECTED = EXAMPLES / "sigmoid-sse-corrected.md"


def test_material_slip_is_step_2_with_correct_form_and_counterexample(validator):
    report = verify_path(SLIP)
    assert report.exit_code == 1
    wrong = [c for c in report.claims if c.ok is False]
    assert len(wrong) == 1
    claim = wrong[0]
    assert claim.reading == "termwise"
    first, second = claim.steps[:2]
    assert first.ok is True
    assert second.ok is False and second.index == 2
    assert second.expected.replace(" ", "") in (r"\sum\left(A-Y\right)", r"\sum\left(-Y+A\right)")
    point = dict(second.counterexample.point)
    a, y = point["A"], point["Y"]
    assert math.isclose(second.counterexample.lhs_value, a - y)
    assert math.isclose(second.counterexample.rhs_value, (a - y) / 2)
    assert second.slip.kind == "factor" and second.slip.param("missing") == "2"
    data = check_json(report, validator)
    step = data["claims"][[c["ok"] for c in data["claims"]].index(False)]["steps"][1]
    assert step["index"] == 2 and step["ok"] is False and step["counterexample"]["point"]


def test_corrected_chain_passes(validator):
    report = verify_path(CORRECTED)
    assert report.exit_code == 0, [(c.line, c.steps) for c in report.claims if not c.ok]
    assert report.claims and all(c.ok for c in report.claims)
    assert any(c.reading == "termwise" for c in report.claims)
    check_json(report, validator)


# --- the corpora ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", IDENTITIES, ids=[c["name"] for c in IDENTITIES])
def test_identity_holds(case, validator):
    report = verify_text(case["doc"])
    failing = [(c.line, s.index, s.ok, s.counterexample) for c in report.claims for s in c.steps if s.ok is not True]
    assert report.error is None, report.error
    assert report.claims, "the document has no claim"
    assert report.exit_code == 0, failing
    check_json(report, validator)


@pytest.mark.parametrize("case", MISTAKES, ids=[c["name"] for c in MISTAKES])
def test_mistake_is_caught_at_the_right_step(case, validator):
    report = verify_text(case["doc"])
    assert report.error is None, report.error
    assert report.exit_code == 1
    wrong = [c for c in report.claims if c.ok is False]
    assert len(wrong) == 1, [c.claim for c in wrong]
    claim = wrong[0]
    assert claim.line == case["line"]
    step = next(s for s in claim.steps if s.ok is False)
    assert step.index == case["step"]
    assert (step.slip.kind if step.slip else "") == case["slip"]
    assert step.expected, "no correct right side"
    if step.method != "shape":
        c = step.counterexample
        assert c is not None and (c.point or step.method == "point")
        assert not math.isclose(c.lhs_value, c.rhs_value, rel_tol=1e-9, abs_tol=1e-12)
    check_json(report, validator)


def _audit_events(function):
    """Run ``function`` and record file opens, code execution and process starts made meanwhile."""
    events: list[tuple] = []
    active = [True]

    def hook(event, args):
        if active[0] and (event in ("open", "exec", "compile", "subprocess.Popen", "os.system", "os.exec",
                                    "os.posix_spawn", "os.spawn", "socket.connect", "shutil.copyfile")
                          or event.startswith("os.exec")):
            events.append((event, args[:1]))

    sys.addaudithook(hook)  # hooks cannot be removed: this one switches itself off
    try:
        result = function()
    finally:
        active[0] = False
    return result, events


@pytest.mark.parametrize("case", HOSTILE, ids=[c["name"] for c in HOSTILE])
def test_hostile_input_is_refused_with_one_line(case, validator):
    """A document that cannot be read is refused (exit 2); a relation that cannot be read is listed as skipped
    with its line and reason while the document goes on (exit 4, issue 16)."""
    verify_text(case["doc"])  # warm up: imports and caches may open files the first time
    report, events = _audit_events(lambda: verify_text(case["doc"]))
    assert events == [], f"verify opened, ran or started something: {events[:3]}"
    data = check_json(report, validator)
    if report.error is None:
        assert report.exit_code == 4, [(c.line, c.ok) for c in report.claims]
        unread = [s for s in report.unread if case["message"] in s.reason]
        assert unread, report.skipped
        message, line = unread[0].reason, unread[0].line
        assert {"line": line, "text": unread[0].text, "reason": message} in data["skipped"]
    else:
        assert report.exit_code == 2, [(c.line, c.ok) for c in report.claims]
        message, line = report.error.message, report.error.line
        assert data["error"]["message"] == message
    assert case["message"] in message
    assert "\n" not in message and "Traceback" not in message
    if "line" in case:
        assert line == case["line"]
    lang = LANGUAGES[HOSTILE.index(case) % 2]
    for fmt in ("text", "markdown", "latex", "html"):
        assert render_report(report, fmt, lang).strip()  # the user's text never breaks a format


def _hostile_bytes() -> list[tuple[str, bytes, str]]:
    nest = 50_000
    return [
        ("nul-bytes", b"$$E = x$$\n\x00\x00\x00", "NUL"),
        ("binary-png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "NUL"),
        ("latin-1", "$$E = x$$ caf\u00e9 na\u00efve".encode("latin-1"), "not UTF-8"),
        ("utf-16", "$$E = x^2$$".encode("utf-16"), "NUL"),
        ("overlong-utf-8", b"$$E = x$$ \xc0\xaf", "not UTF-8"),
        ("surrogate-utf-8", b"$$E = x$$ \xed\xa0\x80", "not UTF-8"),
        ("too-large", b"$$E = x$$\n" + b"a" * (MAX_DOCUMENT_BYTES + 1), "larger than"),
        ("empty", b"", "empty"),
        ("blank", b" \n\t\n", "empty"),
        ("braces-100k", b"$$E = " + b"{" * nest + b"x" + b"}" * nest + b"$$", "longer than 64 KiB"),
        ("braces-60k", b"$$E = " + b"{" * 30_000 + b"x" + b"}" * 30_000 + b"$$", "nested"),
        ("parens-60k", b"$$E = " + b"(" * 30_000 + b"x" + b")" * 30_000 + b"$$", "nested"),
        ("brackets-60k", b"$$E = " + b"[" * 30_000 + b"x" + b"]" * 30_000 + b"$$", "nested"),
        ("braces-100k-inline", b"text $" + b"{" * nest + b"$ text", "nested"),
        ("nesting-in-text-is-fine-but-maths-is-not", b"{" * nest + b"\n$$E = " + b"(" * 42 + b"x" + b")" * 42 + b"$$",
         "nested"),
        ("fractions-deep", b"$$E = " + b"\\frac{1}{" * 2000 + b"x" + b"}" * 2000 + b"$$", "nested"),
        ("formula-too-long", b"$$E = x" + b" + x" * 3000 + b"$$", "characters long"),
        ("unclosed-brace-flood", b"$$E = " + b"{" * 30 + b"x$$", "never closed"),
        ("chunk-too-long", b"$$" + b"x " * 40_000 + b"$$", "longer than"),
        ("unary-minus-chain", b"$$E = " + b"-" * 400 + b"x$$", "nested too deeply"),
        ("sum-operator-chain", b"$$E = " + b"\\sum " * 300 + b"x$$", "nested too deeply"),
        ("flat-sum-too-long", b"$$E = x" + b" + x" * 1500 + b"$$", "terms or factors in a row"),
        ("input-after-bom", "\ufeff\\input{/etc/passwd}".encode("utf-8"), "«\\input» is not allowed"),
    ]


@pytest.mark.parametrize("name,data,message", _hostile_bytes(), ids=[c[0] for c in _hostile_bytes()])
def test_hostile_bytes_are_refused(name, data, message, validator):
    report = verify_bytes(data)
    reasons = [report.error.message] if report.error else [s.reason for s in report.unread]
    assert report.exit_code == (2 if report.error else 4)
    assert any(message in reason and "\n" not in reason for reason in reasons), reasons
    check_json(report, validator)


def test_ordinary_notes_are_skipped_not_failed(validator):
    text = ("# Notes\n\nLet $x \\in \\mathbb{R}^n$ and $W \\in \\mathbb{R}^{m \\times n}$; the map "
            "$x \\mapsto Wx$ is linear, $f(x) = x^2$ is a function and $\\|x\\|$ a norm.\n\n"
            "$$E = \\frac{1}{2}(y - t)^2$$\n$$\\frac{\\partial E}{\\partial y} = y - t$$\n"
            "A notebook costs $5 (a dollar sign in Markdown prose is not maths).\n")
    report = verify_text(text)
    assert report.exit_code == 0
    skipped = [s.text for s in report.skipped]
    assert any("mathbb{R}^n" in s for s in skipped)
    assert any(d.latex == "f(x) = x^{2}" for d in report.definitions)  # a function definition is read (issue 16)
    data = check_json(report, validator)
    assert {"line": 3, "text": "x \\in \\mathbb{R}^n"} in data["skipped"]


def test_document_without_claims_is_ok():
    report = verify_text("Only words here, and $\\alpha$.\n")
    assert report.exit_code == 0 and not report.claims
    assert "no claim" in render_report(report, "text", "en")


def test_sum_from_zero_keeps_its_lower_limit_and_indexes_from_it():
    """Σ_{j=0}^{n} is shown with its j = 0, and a claim's free θ_j runs over the same 0, 1, … (before, j = 2 was
    outside the sum and the claim was unreadable)."""
    text = ("$$h = \\sum_{j=0}^{n} \\theta_j x_j$$\n\n$$J = \\frac{1}{2}(h - y)^2$$\n\n"
            "$$\\frac{\\partial J}{\\partial \\theta_j} = (h - y) x_{JJ}$$\n")
    assert verify_text(text.replace("JJ", "j")).exit_code == 0
    slipped = verify_text(text.replace("JJ", "0"))
    assert slipped.exit_code == 1
    shown = render_report(slipped, "text", "en")
    assert "Σⁿⱼ₌₀θⱼ·xⱼ" in shown and "j = 1" in shown  # θ_1 is where x_0 ≠ x_j shows


@pytest.mark.parametrize("written, holds", [
    (r"(a^3_j - y_j)\sigma'(z^3_j)", True),
    (r"(a^3_j - y_j)\sigma'(z^3_j) a^3_j", False),
])
def test_sigma_prime_in_exponential_form_is_compared_symbolically(written, holds):
    """σ'(u) as written (e^{−u}/(1 + e^{−u})²) beside the definitions' σ: the expansion shows the zero (before,
    the exponential form hid it and only random points decided); a slip still fails."""
    text = ("$$z^2_j = \\sum_k w^2_{jk} a^1_k + b^2_j, \\qquad a^2_j = \\sigma(z^2_j)$$\n\n"
            "$$z^3_j = \\sum_k w^3_{jk} a^2_k + b^3_j, \\qquad a^3_j = \\sigma(z^3_j)$$\n\n"
            "$$C = \\frac{1}{2}\\sum_j (a^3_j - y_j)^2$$\n\n"
            f"$$\\frac{{\\partial C}}{{\\partial z^3_j}} = {written}$$\n")
    report = verify_text(text)
    step = report.claims[0].steps[0]
    assert step.ok is holds
    if holds:
        assert step.method == "symbolic"


@pytest.mark.parametrize("alias", [r"\tanh", r"\sigma", r"\operatorname{tanh}"])
def test_a_function_named_by_another_ones_name_is_a_definition(alias):
    text = (f"$$z = \\tanh(a)$$\n\nUsing $h = {alias}$:\n\n$$\\frac{{\\partial z}}{{\\partial a}} = 1 - z^2$$\n")
    report = verify_text(text)
    assert report.exit_code == 0, render_report(report, "text", "en")
    assert "h(u) = " in render_report(report, "text", "en")


TOKENS = [r"\frac", "{", "}", "(", ")", "_", "^", "'", "=", "+", "-", r"\cdot", r"\sum", r"\sigma", r"\log", "e",
          r"\partial", "E", "A", "w", "x", "z", "a", "t", "l", "j", "k", "T", r"\top", r"\odot", ",", r"\\", "&",
          "1", "2", "0.5", r"\delta", "d", "/", r"\hat", r"\left(", r"\right)", r"\quad", "$", "$$", "\n", " ",
          ":=", r"\approx", r"\input", r"\color{red}", r"\mathrm{d}", r"\sqrt", "%", "`", "\u00ab", "\u00bb"]


def test_arbitrary_token_soup_never_raises():
    """Whatever the text, verify_text returns a report (never a traceback) and every format renders it."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    @hypothesis.settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @hypothesis.given(st.lists(st.sampled_from(TOKENS), max_size=40), st.booleans())
    def check(tokens, display):
        body = "".join(tokens)
        report = verify_text("$$" + body + "$$" if display else body, time_limit=2)
        assert report.exit_code in (0, 1, 2, 4)
        for fmt in ("text", "markdown", "json"):
            render_report(report, fmt, "ja" if display else "en")

    check()


# --- reading the notation ------------------------------------------------------------------------------------

def test_index_order_is_kept():
    """w_{12} and w_{21} are different symbols: a claim that mixes them up is wrong."""
    doc = "$$E = w_{12} x_1 + w_{21} x_2$$\n$$\\frac{\\partial E}{\\partial w_{12}} = x_1$$\n" \
          "$$\\frac{\\partial E}{\\partial w_{21}} = x_1$$\n"
    report = verify_text(doc)
    assert [c.ok for c in report.claims] == [True, False]


@pytest.mark.parametrize("text,expected", [
    (r"w^{l}_{ji}", "w^{l}_{ji}"),
    (r"w_{ji}^{l}", "w^{l}_{ji}"),
    (r"\delta_j^l", r"\delta^{l}_{j}"),
    (r"a_i^{l-1}", "a^{l - 1}_{i}"),
    (r"z^{(2)}_1", "z^{2}_{1}"),
    (r"W^T", r"{W}^{\top}"),
    (r"a^\top", r"{a}^{\top}"),
    (r"x^2", "x^{2}"),
    (r"(a)^2", "a^{2}"),
    (r"\hat{y}", r"\hat{y}"),
    (r"y'", "y'"),
    (r"e^{-z}", "e^{- z}"),
    (r"\log x", r"\log{\left(x \right)}"),
])
def test_scripts_are_read_by_the_documented_rule(text, expected):
    from derive.notation import latex
    from derive.verify.model import display
    from derive.verify.syntax import parse_member
    assert latex(display(parse_member(text))) == expected


def test_layer_superscript_is_not_a_power():
    from derive.verify.syntax import Pow, Sym, parse_member
    assert isinstance(parse_member(r"a^2_1"), Sym)
    assert isinstance(parse_member(r"x^2"), Pow)
    assert isinstance(parse_member(r"\delta^{3}"), Sym)


def test_log_is_natural_and_color_is_ignored():
    report = verify_text("$$E = \\log x + \\ln x$$\n$$\\frac{dE}{dx} = {\\color{red}{\\frac{2}{x}}}$$\n")
    assert report.exit_code == 0


def test_document_values_are_not_assumptions():
    """An identity must hold everywhere: x = 1 does not make d/dx x^3 = 3x true, and one-hot targets given as
    values do not make the softmax gradient hold in general (the report says how to state the condition)."""
    assert verify_text("$$x = 1$$\n$$\\frac{d}{dx} x^3 = 3x$$\n").exit_code == 1
    doc = ("$$y_k = \\frac{e^{z_k}}{\\sum_{j=1}^{2} e^{z_j}}, \\qquad L = -\\sum_{k=1}^{2} t_k \\log y_k$$\n"
           "with $t_1 = 1$ and $t_2 = 0$:\n$$\\frac{\\partial L}{\\partial z_k} = y_k - t_k$$\n")
    report = verify_text(doc)
    assert report.exit_code == 1 and report.claims[0].steps[0].slip.kind == "conditional"
    fixed = doc.replace("$t_2 = 0$", "$t_2 = 1 - t_1$")
    assert verify_text(fixed).exit_code == 0


def test_values_put_into_a_member_hold_at_the_documents_point():
    doc = ("The model $y = wx$, $E = \\frac{1}{2}(y - t)^2$ with $x = 2$, $t = 4$, $w = 1$.\n"
           "$$\\frac{\\partial E}{\\partial w} = (y - t)x = (y - t) \\cdot 2 = -4$$\n")
    report = verify_text(doc)
    assert report.exit_code == 0 and [s.method for s in report.claims[0].steps] == ["symbolic", "point", "point"]
    assert verify_text(doc.replace("(y - t) \\cdot 2 = -4", "(y - t) \\cdot 3")).exit_code == 1


def test_derivative_of_two_free_symbols_is_not_zero():
    """∂E/∂A resolved against the definitions: a wrong claim such as 7 ∂E/∂Z must not verify."""
    report = verify_text("$$A = \\sigma(Z), \\quad E = \\frac{1}{2}(A - Y)^2$$\n"
                         "$$\\frac{\\partial E}{\\partial A} = 7\\frac{\\partial E}{\\partial Z}$$\n")
    assert report.exit_code == 1


def test_sigmoid_rule_matches_finite_differences():
    import sympy

    from derive.verify.model import Sigmoid
    z = sympy.Symbol("z")
    derivative = sympy.diff(Sigmoid(z), z)
    for x in (-2.0, 0.0, 0.7, 3.0):
        h = 1e-6
        numeric = (float(Sigmoid(x + h).evalf()) - float(Sigmoid(x - h).evalf())) / (2 * h)
        assert math.isclose(float(derivative.subs(z, x).evalf()), numeric, rel_tol=1e-6)


def test_crlf_and_bom_are_read():
    report = verify_bytes(b"\xef\xbb\xbf$$E = x^3$$\r\n$$\\frac{dE}{dx} = 3x^2$$\r\n")
    assert report.exit_code == 0 and report.claims[0].line == 2


# --- limits --------------------------------------------------------------------------------------------------

def test_time_limit_gives_exit_4(validator):
    doc = ("$$E = \\sum_{i=1}^{60}\\sum_{j=1}^{60} (x_{ij} + y_{ij})^4$$\n"
           "$$\\frac{\\partial E}{\\partial x_{11}} = 4(x_{11} + y_{11})^3$$\n")
    report = verify_text(doc, time_limit=0.02)
    assert report.exit_code == 4
    assert report.claims[0].ok is None and report.claims[0].steps[0].ok is None
    check_json(report, validator)
    assert verify_text(doc).exit_code == 0


def test_sums_too_large_are_undecided_not_passed():
    doc = "$$E = \\sum_{i=1}^{100000} x_i^2$$\n$$\\frac{\\partial E}{\\partial x_1} = 2x_1$$\n"
    report = verify_text(doc)
    assert report.exit_code == 4


def test_wrong_claim_wins_over_undecided():
    doc = ("$$E = \\sum_{i=1}^{100000} x_i^2, \\quad F = y^2$$\n$$\\frac{\\partial E}{\\partial x_1} = 2x_1$$\n"
           "$$\\frac{\\partial F}{\\partial y} = y$$\n")
    assert verify_text(doc).exit_code == 1


# --- rendering -----------------------------------------------------------------------------------------------

def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.md"))


@pytest.mark.parametrize("path", _examples(), ids=[p.stem for p in _examples()])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_format_renders(path, lang, validator):
    report = verify_path(path)
    for fmt in FORMATS:
        text = render_report(report, fmt, lang)
        assert text.endswith("\n") and text.strip()
        if fmt == "json":
            validator.validate(json.loads(text))
        elif fmt == "latex":
            engine = "lualatex" if lang == "ja" else "pdflatex"
            assert text.startswith(f"% !TEX program = {engine}\n")
            assert "\\begin{document}" in text and text.rstrip().endswith("\\end{document}")
        elif fmt == "html":
            assert text.startswith("<!DOCTYPE html>") and "<math" in text
            assert "$" not in re.sub(r"<annotation[^>]*>.*?</annotation>", "", text, flags=re.DOTALL)
            assert f'lang="{lang}"' in text
        if lang == "ja" and fmt != "json":
            assert re.search("[\u3040-\u30ff]", text), "the Japanese report has no kana"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_error_report_renders(fmt, lang, validator):
    report = verify_text("\\input{/etc/passwd}\n")
    text = render_report(report, fmt, lang)
    if fmt == "json":
        validator.validate(json.loads(text))
    else:
        assert "input" in text


def test_catalogs_have_the_same_keys_and_every_kind():
    from derive.present.context import catalog
    en = {k for k in catalog("en") if k.startswith("verify.")}
    ja = {k for k in catalog("ja") if k.startswith("verify.")}
    assert en == ja
    kinds = ("factor sign missing_factor extra_factor extra_symbol missing_symbol index_swap layer_index transpose "
             "shape shape_left not_edge missing_link wrong_end missing_path duplicate_path conditional").split()
    methods = "symbolic numeric structure point definition timeout limit shape".split()
    assert {f"verify.slip.{k}" for k in kinds} <= en
    assert {f"verify.method.{m}" for m in methods} <= en


def test_report_renders_itself():
    report = derive.verify_file(SLIP)
    assert report.to_markdown().startswith("# ") and report._repr_markdown_() == report.to_markdown()
    assert json.loads(report.to_json())["ok"] is False
    assert report.to_latex().startswith("% !TEX program = pdflatex")


def test_rendering_is_deterministic():
    first = render_report(verify_path(SLIP), "json")
    assert render_report(verify_path(SLIP), "json") == first


def test_gallery_outputs_are_the_same_under_any_hash_seed():
    """The gallery must be byte-identical on every run: no set or dict order may leak into a report."""
    import os
    import subprocess
    script = ("import hashlib, derive.gallery as g\n"
              "files = {d.path: d.render()[0] for d in g.verify_documents() if d.fmt in ('markdown', 'latex', 'json')}\n"
              "print(hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest(), len(files))")
    digests = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        digests.add(result.stdout.strip())
    assert len(digests) == 1, digests
    assert int(next(iter(digests)).split()[1]) == len(_examples()) * 5


def test_unknown_format_or_language_is_an_input_error():
    from derive.errors import InputError
    report = verify_path(SLIP)
    with pytest.raises(InputError):
        render_report(report, "beamer", "en")
    with pytest.raises(InputError):
        render_report(report, "markdown", "fr")


@pytest.mark.parametrize("path", [SLIP, EXAMPLES / "delta-recurrence.md"], ids=["slip", "delta"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_latex_report_compiles(lang, path, tmp_path):
    import subprocess
    engine = require_tool("lualatex" if lang == "ja" else "pdflatex")
    (tmp_path / "report.tex").write_text(render_report(verify_path(path), "latex", lang), encoding="utf-8")
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "report.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]


# --- what the CLI runs ---------------------------------------------------------------------------------------

def test_run_gives_output_exit_code_and_error_line(tmp_path, validator):
    output, code, message = run(str(SLIP), "markdown", "en")
    assert code == 1 and message is None and "Step 2" in output
    output, code, message = run(str(CORRECTED), "text", "ja")
    assert code == 0 and message is None and output
    bad = tmp_path / "bad.md"
    bad.write_text("ok\n\\input{/etc/passwd}\n", encoding="utf-8")
    output, code, message = run(str(bad), "markdown", "en")
    assert (output, code) == (None, 2)
    assert message.endswith("line 2: «\\input» is not allowed: it would read another file")
    output, code, message = run(str(bad), "json", "en")
    assert code == 2 and json.loads(output)["error"]["line"] == 2
    validator.validate(json.loads(output))
    output, code, message = run(str(tmp_path / "missing.md"), "text", "en")
    assert code == 2 and "no such file" in message
    output, code, message = run(str(tmp_path), "text", "en")
    assert code == 2 and "folder" in message


def _cli_has_verify() -> bool:
    from derive.cli import build_parser
    try:
        build_parser().parse_args(["verify", str(SLIP)])
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _cli_has_verify(), reason="`derive verify` is not wired into derive/cli.py yet")
@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_verify(fmt, capsys, tmp_path, validator):
    from derive.cli import main
    assert main(["verify", str(SLIP), "--format", fmt]) == 1
    out = capsys.readouterr().out
    assert out.strip()
    if fmt == "json":
        validator.validate(json.loads(out))
    assert main(["verify", str(CORRECTED), "--format", fmt, "--lang", "ja", "-o", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().err == f"derive: {tmp_path / 'r'} を書き出しました\n"  # in the language asked for
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe$$E$$")
    assert main(["verify", str(bad), "--format", fmt, "-o", str(tmp_path / "never")]) == 2
    assert not (tmp_path / "never").exists()
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "UTF-8" in err


def test_unreadable_relation_is_skipped_with_its_line_and_the_document_goes_on(validator):
    """Issue 16: one construct derive cannot read no longer aborts the document."""
    text = ("$$E = \\frac{1}{2}(y - t)^2$$\n"
            "$$\\frac{\\partial E}{\\partial y} = \\mathfrak{Q}$$\n"
            "$$\\frac{\\partial E}{\\partial t} = t - y$$\n")
    report = verify_text(text)
    assert report.exit_code == 4
    assert [(c.line, c.ok) for c in report.claims] == [(3, True)]
    assert [(s.line, s.reason) for s in report.unread] == [(2, "unknown macro «\\mathfrak»")]
    data = check_json(report, validator)
    assert {"line": 2, "text": report.unread[0].text, "reason": "unknown macro «\\mathfrak»"} in data["skipped"]
    assert "not read: unknown macro" in render_report(report, "text", "en")
    wrong = verify_text(text.replace("= t - y", "= y - t"))
    assert wrong.exit_code == 1 and [(c.line, c.ok) for c in wrong.claims] == [(3, False)]


@pytest.mark.parametrize("written,holds", [
    ("= -0.197", True),            # correctly rounded, written with =
    ("\\approx -0.20", True),      # within the rounding of the digits shown
    ("\\approx 0.20", False),      # a sign slip after ≈ fails
    ("= -0.19", False),            # -0.1966 is not -0.19 to two digits
    ("\\approx -0.1966", True),
    ("\\approx -0.1967", False),
])
def test_numbers_hold_to_the_digits_shown(written, holds):
    """Issue 16: ∂f/∂w_0 = x_0 (1 - f) f at the CS231n point is -0.196612 (oracle: the closed form)."""
    f = 1 / (1 + math.exp(-1.0))
    assert math.isclose(-1 * (1 - f) * f, -0.196612, abs_tol=1e-6)
    text = ("$$w_0 = 2, \\quad x_0 = -1, \\quad w_1 = -3, \\quad x_1 = -2, \\quad w_2 = -3$$\n"
            "$$d = w_0 x_0 + w_1 x_1 + w_2, \\qquad f = \\sigma(d)$$\n"
            f"$$\\frac{{\\partial f}}{{\\partial w_0}} = x_0 (1 - f) f {written}$$\n")
    report = verify_text(text)
    assert report.exit_code == (0 if holds else 1), [(c.line, [(s.index, s.ok) for s in c.steps]) for c in report.claims]
    step = report.claims[-1].steps[-1]
    assert step.index == 2 and step.ok is holds
    if written == "\\approx 0.20":
        assert step.slip.name == "sign"


def test_approximate_value_of_a_defined_symbol_is_checked_not_defined():
    text = "$$x = 1, \\qquad f = \\sigma(x)$$\nSo $f \\approx 0.73$ and $f \\approx 0.75$.\n"
    report = verify_text(text)
    assert [(c.line, c.ok) for c in report.claims] == [(2, True), (2, False)]


def test_a_link_worth_one_may_be_left_out_of_a_chain():
    """Issue 16: ∂f/∂x = 1.0 · ∂f/∂q with q = x + y, and ∂L/∂b = ∂L/∂z with z = wx + b, are right."""
    text = ("$$q = x + y, \\qquad f = qz$$\n"
            "$$\\frac{\\partial f}{\\partial x} = \\frac{\\partial f}{\\partial q}\\frac{\\partial q}{\\partial x}"
            " = 1.0 \\cdot \\frac{\\partial f}{\\partial q}$$\n"
            "$$u = wx + b, \\qquad L = \\frac{1}{2}(\\sigma(u) - t)^2$$\n"
            "$$\\frac{\\partial L}{\\partial b} = \\frac{\\partial L}{\\partial u}$$\n"
            "$$\\frac{\\partial L}{\\partial w} = \\frac{\\partial L}{\\partial u}$$\n")
    report = verify_text(text)
    assert [(c.line, c.ok) for c in report.claims] == [(2, True), (4, True), (5, False)]
    assert report.claims[2].steps[0].slip.kind == "missing_link"


def test_a_bare_target_beside_a_vector_is_the_vector_of_its_components():
    """Issue 16: y in (a^L - y) ⊙ σ'(z^L) is the vector of the y_j the cost uses."""
    text = ("$$z^l_j = \\sum_k w^l_{jk} a^{l-1}_k + b^l_j, \\qquad a^l_j = \\sigma(z^l_j)$$\n"
            "$$C = \\frac{1}{2}\\sum_j (y_j - a^L_j)^2, \\qquad \\delta^l_j \\equiv \\frac{\\partial C}{\\partial z^l_j}$$\n"
            "$$\\delta^L = (a^L - y) \\odot \\sigma'(z^L)$$\n")
    assert verify_text(text).exit_code == 0
    assert verify_text(text.replace("(a^L - y)", "(y - a^L)")).exit_code == 1


LAYERS_FROM_ONE = """<!-- derive: layers-from=1 -->
$$L = 2$$
$$z^l_j = \\sum_k w^l_{jk} a^{l-1}_k + b^l_j, \\qquad a^l_j = \\sigma(z^l_j)$$
$$C = \\frac{1}{2}\\sum_j (a^L_j - y_j)^2$$
$$\\frac{\\partial C}{\\partial b^1_j} = \\sum_k (a^2_k - y_k)\\sigma'(z^2_k) w^2_{kj} \\sigma'(z^1_j)$$
"""


def test_layer_numbering_is_detected_stated_and_overridable(validator):
    """Issue 16: W^{(1)} is the first weight layer in most books; a comment sets the numbering."""
    report = verify_text(LAYERS_FROM_ONE)
    assert report.exit_code == 0
    assert [(r.kind, dict(r.params)) for r in report.readings] == [("layers_from_1", {"how": "set"})]
    data = check_json(report, validator)
    assert data["readings"][0]["text"].startswith("Read $W^{(1)}$ as the first weight layer")
    for front in ("% derive: layers-from=1", "---\nlayers-from: 1\n---"):
        assert verify_text(LAYERS_FROM_ONE.replace("<!-- derive: layers-from=1 -->", front)).exit_code == 0
    default = verify_text(LAYERS_FROM_ONE.split("\n", 1)[1])  # layer 1 is the input: b^1 does not exist
    assert default.exit_code == 4 and default.readings[0].kind == "layers_from_2"
    detected = verify_text("$$a^{(1)} = \\sigma(W^{(1)} x), \\qquad J = (a^{(1)} - y)^2$$\n"
                           "$$\\frac{\\partial J}{\\partial W^{(1)}} = 2(a^{(1)} - y)\\sigma'(W^{(1)} x) x$$\n")
    assert detected.exit_code == 0 and detected.readings[0].kind == "layers_from_1"
    squares = verify_text("$$E = \\frac{1}{2} w^2$$\n$$\\frac{dE}{dw} = w$$\n")
    assert squares.exit_code == 0 and [r.kind for r in squares.readings] == ["powers"]


def test_a_stated_condition_on_the_targets_is_honoured_for_any_number_of_classes():
    """Issue 16: with Σ_k t_k = 1 stated, softmax + cross-entropy gives y_k − t_k (3 classes too)."""
    text = ("$$y_k = \\frac{\\exp(a_k)}{\\sum_{j=1}^{3} \\exp(a_j)}, \\qquad E = -\\sum_{k=1}^{3} t_k \\ln y_k$$\n"
            "The targets sum to one, $\\sum_k t_k = 1$.\n"
            "$$\\frac{\\partial E}{\\partial a_k} = y_k - t_k$$\n")
    report = verify_text(text)
    assert report.exit_code == 0, [(c.line, c.ok) for c in report.claims]
    assert "constraint" in [r.kind for r in report.readings]
    assert verify_text(text.replace("The targets sum to one, $\\sum_k t_k = 1$.\n", "")).exit_code == 1


def test_text_report_writes_maths_in_unicode_and_lists_only_the_values_of_the_failing_link():
    """Issue 16: no raw LaTeX in the text report (the document's own line is quoted as written), and the
    counterexample names the values the step involves, not the whole network's."""
    report = verify_path(ROOT / "tests" / "textbooks" / "two-layer-sigmoid-layers-from-2.slip.md")
    text = render_report(report, "text", "en")
    derived = [line for line in text.splitlines() if not line.strip().startswith("As written:")]
    assert not [line for line in derived if re.search(r"\\(frac|left|right|cdot|sigma|partial)\b", line)]
    assert "∂C/∂w²ⱼₖ  ≠  Σᵢ(aᵢ³ − yᵢ)·σ′(zᵢ³)·wⱼᵢ³·σ′(zⱼ²)·aₖ¹" in text
    failing = next(s for c in report.claims for s in c.steps if s.ok is False)
    names = {name for name, _ in failing.counterexample.point}
    assert "b^{2}_{1}" not in names and "w^{2}_{11}" in names and "a^{3}_{1}" in names


def test_a_named_limit_means_one_number_of_terms_in_claims_and_definitions():
    """Issue 16: Σ_{k=1}^{K} in a claim and in the definitions run over the same K classes, even where the claim's
    summand names a layer (w^{(2)}_{kj}) and the definition's does not (y_k, t_k)."""
    text = ("$$y_k = \\sum_{j=1}^{M} w^{(2)}_{kj} z_j, \\qquad E = \\frac{1}{2}\\sum_{k=1}^{K}(y_k - t_k)^2$$\n"
            "$$\\frac{\\partial E}{\\partial z_j} = \\sum_{k=1}^{K} (y_k - t_k) w^{(2)}_{kj}$$\n")
    assert verify_text(text).exit_code == 0
    assert verify_text(text.replace("(y_k - t_k) w", "(t_k - y_k) w")).exit_code == 1


def test_named_functions_are_read_defined_or_abstract():
    """Issue 16: f(z) = … defines f (and f' is its derivative); an f that is only named stays abstract, so the
    chain rule's structure is checked and what needs its values is undecided, never refused."""
    defined = ("$$f(z) = \\frac{1}{1 + \\exp(-z)}$$\n$$a = f(w x)$$\n"
               "$$\\frac{\\partial a}{\\partial w} = f'(w x) x = a(1 - a) x$$\n")
    assert verify_text(defined).exit_code == 0
    assert verify_text(defined.replace("= a(1 - a) x", "= a(1 + a) x")).exit_code == 1
    chain = "Let $y = g(x)$ and $z = f(y)$.\n$$\\frac{dz}{dx} = \\frac{dz}{dy}\\frac{dy}{dx}$$\n"
    assert verify_text(chain).exit_code == 0
    missing = verify_text(chain.replace("\\frac{dz}{dy}\\frac{dy}{dx}", "\\frac{dz}{dy}"))
    assert missing.exit_code == 1 and missing.claims[0].steps[0].slip.kind == "missing_link"
    abstract = verify_text("$$\\frac{d}{dx} f(x) = 2x$$\n")
    assert abstract.exit_code == 4 and abstract.error is None


def test_an_undefined_quantity_that_is_differentiated_is_abstract():
    """Issue 16 (Nielsen's L2 regularisation): C_0 is never defined; ∂C/∂w = ∂C_0/∂w + λw/n holds for any C_0,
    and a slip in the penalty's factor fails at a point that gives ∂C_0/∂w a value."""
    text = "$$C = C_0 + \\frac{\\lambda}{2n} w^2$$\n$$\\frac{\\partial C}{\\partial w} = \\frac{\\partial C_0}{\\partial w} + \\frac{\\lambda}{n} w$$\n"
    report = verify_text(text)
    assert report.exit_code == 0 and "abstract" in [r.kind for r in report.readings]
    wrong = verify_text(text.replace("+ \\frac{\\lambda}{n} w$$", "+ \\frac{\\lambda}{2n} w$$"))
    assert wrong.exit_code == 1
    point = dict(wrong.claims[0].steps[0].counterexample.point)
    assert "\\frac{\\partial C_{0}}{\\partial w}" in point
    lam, n, w = point["\\lambda"], point["n"], point["w"]
    assert n == int(n) and n >= 1  # a count is a positive integer
    step = wrong.claims[0].steps[0].counterexample
    assert math.isclose(step.lhs_value - step.rhs_value, lam * w / n - lam * w / (2 * n), rel_tol=1e-9)


_F = "$$f = x \\cdot x$$\n\n"
_RIGHT, _WRONG = "$$\\frac{\\partial f}{\\partial x} = 2x$$\n\n", "$$\\frac{\\partial f}{\\partial x} = 3x$$\n\n"


@pytest.mark.parametrize("claims, summary", [
    ((_WRONG, _RIGHT, _RIGHT), {"en": "1 of 3 claims does not hold.", "ja": "3 件の主張のうち 1 件が成り立ちません。"}),
    ((_WRONG, _WRONG, _RIGHT), {"en": "2 of 3 claims do not hold.", "ja": "3 件の主張のうち 2 件が成り立ちません。"}),
    ((_WRONG,), {"en": "The one claim does not hold.", "ja": "ただ 1 つの主張が成り立ちません。"}),
])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_summary_agrees_with_the_number_of_wrong_claims(claims, summary, lang):
    report = verify_text(_F + "".join(claims))
    assert [c.ok for c in report.claims] == [c == _RIGHT for c in claims]
    assert summary[lang] in render_report(report, "markdown", lang)


# --- matrices written out (issue 11: derive's network pages) ----------------------------------------------------

LAYERED_NUMBERS = r"""<!-- derive: numbers strict -->
<!-- derive: given L = 3; a^{1}_{1} = 1; a^{1}_{2} = 0.5; w^{2}_{11} = 0.1; w^{2}_{12} = -0.2; w^{2}_{21} = 0.3; w^{2}_{22} = 0.4; b^{2}_{1} = 0.05; b^{2}_{2} = 0.1; w^{3}_{11} = 1; w^{3}_{12} = 1; b^{3}_{1} = 0; t_{1} = 1 -->
$$z^{l}_{j} = \sum_{i=1}^{n_{l-1}} w^{l}_{ji} \cdot a^{l-1}_{i} + b^{l}_{j}, \qquad a^{l}_{j} = \sigma\left(z^{l}_{j}\right)$$
$$C = \frac{1}{2} \cdot \sum_{j=1}^{1} \left(a^{L}_{j} - t_{j}\right)^{2}$$
$$z^{2} = \underbrace{W^{2}}_{2 \times 2} \, \underbrace{a^{1}}_{2 \times 1} + \underbrace{b^{2}}_{2 \times 1} = \left(\begin{array}{rr}0.1 & -0.2 \\ 0.3 & 0.4\end{array}\right) \, \left(\begin{array}{r}1 \\ 0.5\end{array}\right) + \left(\begin{array}{r}0.05 \\ 0.1\end{array}\right) = \left(\begin{array}{r}0.05 \\ 0.6\end{array}\right)$$
$$a^{2} = \sigma\left(z^{2}\right) = \left(\begin{array}{r}0.512497 \\ 0.645656\end{array}\right)$$
$$\sigma'\left(z^{2}\right) = a^{2} \odot \left(1 - a^{2}\right) = \left(\begin{array}{r}0.249844 \\ 0.228784\end{array}\right)$$
"""


def test_the_layered_numbers_page_agrees_with_an_independent_oracle():
    """The printed numbers of LAYERED_NUMBERS are the forward pass computed here in floats."""
    z = [0.1 * 1 - 0.2 * 0.5 + 0.05, 0.3 * 1 + 0.4 * 0.5 + 0.1]
    a = [1 / (1 + math.exp(-v)) for v in z]
    assert [round(v, 6) for v in z] == [0.05, 0.6]
    assert [f"{v:.6g}" for v in a] == ["0.512497", "0.645656"]
    assert [f"{v * (1 - v):.6g}" for v in a] == ["0.249844", "0.228784"]


@pytest.mark.parametrize("wrong, right, line", [
    (None, None, None),
    ("0.05 \\\\ 0.6\\end", "0.05 \\\\ 0.7\\end", 5),        # a wrong entry of the result
    ("0.3 & 0.4", "0.3 & 0.5", 5),                          # a weight put in that is not the page's
    ("0.3 & 0.4", "0.4 & 0.3", 5),                          # two entries swapped
    ("0.512497", "0.5125", 6),                              # an entry rounded to fewer digits than the rule prints
    ("\\left(1 - a^{2}\\right)", "\\left(2 - a^{2}\\right)", 7),  # not σ'(z) any more
])
def test_a_matrix_written_out_is_read_entry_by_entry(wrong, right, line):
    """Matrices written out (``array``), shapes under ``\\underbrace``, ``&`` between entries, ½ · Σ, a number
    added to a vector inside ⊙, layer sizes from the page's values, the input a^{1} given beside a^{l}_{j} =
    σ(z^{l}_{j}), and a^{2} the vector of a^{2}_{j}: all read, and each corruption caught on its line."""
    text = LAYERED_NUMBERS if wrong is None else LAYERED_NUMBERS.replace(wrong, right, 1)
    report = verify_text(text)
    assert not report.skipped, report.skipped
    failed = [c.line for c in report.claims if c.ok is False]
    assert failed == ([] if wrong is None else [line]), [(c.line, [(s.index, s.ok, s.slip) for s in c.steps])
                                                         for c in report.claims]
    assert report.exit_code == (0 if wrong is None else 1)


def test_a_vector_written_out_as_a_value_gives_its_components():
    """a^{1} = (1, 0.5)ᵀ as a value is a^{1}_{1} = 1 and a^{1}_{2} = 0.5; W^{2} written out gives w^{2}_{ji}."""
    text = (r"$$a^{1} = \left(\begin{array}{r}1 \\ 0.5\end{array}\right), \qquad "
            r"W^{2} = \left(\begin{array}{rr}0.1 & -0.2 \\ 0.3 & 0.4\end{array}\right), \qquad b^{2}_{1} = 0, "
            r"\qquad b^{2}_{2} = 0$$" "\n"
            r"$$z^{l}_{j} = \sum_{i} w^{l}_{ji} a^{l-1}_{i} + b^{l}_{j}$$" "\n"
            r"$$z^{2}_{2} = w^{2}_{21} a^{1}_{1} + w^{2}_{22} a^{1}_{2} + b^{2}_{2} = 0.5$$" "\n")
    assert verify_text(text).exit_code == 0
    assert verify_text(text.replace("0.3 & 0.4", "0.3 & 0.6")).exit_code == 1


def test_a_number_for_an_abstract_quantitys_slope_is_undecided_not_an_internal_error():
    """∂C_T/∂w = ∂C_1/∂w + ∂C_2/∂w = 0.3 with C_1, C_2 never defined (delta-recurrence's batch sum): the slopes
    have no value at the document's point, so the step is unread (exit 4), naming them; it used to put w = 0.1
    inside the derivative and stop with an internal error."""
    text = ("$$w = 0.1$$\n$$C_{T} = C_{1} + C_{2}$$\n"
            "$$\\frac{\\partial C_{T}}{\\partial w} = \\frac{\\partial C_{1}}{\\partial w} + "
            "\\frac{\\partial C_{2}}{\\partial w} = 0.3$$\n")
    report = verify_text(text)
    assert report.exit_code == 4 and [s.line for s in report.skipped] == [3]
    assert "gives no value for" in report.skipped[0].reason and "C_{1}" in report.skipped[0].reason
