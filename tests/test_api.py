"""The Python API mirrors the CLI and returns objects that render themselves."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import pytest
import sympy

import derive
from conftest import ROOT


def test_explain_returns_exact_numbers():
    result = derive.explain("(x + y) * z", at={"x": -2, "y": 5, "z": -4})
    assert result.values["f"] == -12
    assert result.gradients["x"] == sympy.Integer(-4) and result.gradients["z"] == 3


def test_explain_with_string_options_and_steps():
    result = derive.explain("y = w*x; r = y - t; E = 1/2*r**2", at="x=2,t=4,w=1", wrt="w", step="lr=0.1")
    update = result.walkthrough.updates[0]
    assert update.derivation.point["w"] == sympy.Rational(7, 5)
    assert update.derivation.output_value == sympy.Rational(18, 25)


def test_scenario_renders_itself():
    result = derive.scenario("linear-model")
    assert result.to_markdown().startswith("# ")
    assert result._repr_markdown_() == result.to_markdown()
    assert json.loads(result.to_json())["gradients"]["w"] == 8
    assert "逆伝播" in result.to_markdown("ja")


# --- exceptions, repr, save --------------------------------------------------------------------------------------

NETWORK = ROOT / "examples" / "networks" / "design-example.toml"


def test_network_works_twice_in_one_process():
    """Importing the `derive.network` submodule used to replace the function: the second call raised TypeError."""
    first = derive.network(str(NETWORK))
    second = derive.network(NETWORK)
    assert callable(derive.network) and first.loss == second.loss
    assert json.loads(second.to_json())["loss"] == pytest.approx(float(first.loss))


def test_network_from_toml_text_and_from_dict_match_the_file():
    text = NETWORK.read_text()
    from_file = derive.network(NETWORK)
    from_text = derive.network(text)
    from_dict = derive.network(tomllib.loads(text))  # Python floats: read as the decimals Python prints
    assert from_text.grad_W == from_file.grad_W == from_dict.grad_W
    assert from_dict.loss_after == from_file.loss_after
    assert "<dict>" in repr(from_dict) and "units 2-2-2" in repr(from_dict)


@pytest.mark.parametrize("bad, fragment", [
    ({"activation": "sigmoid", "loss": "sse", "learning_rate": 0.1, "input": [1.0], "target": [0.5],
      "layer": [{"W": [[object()]], "b": [0.1]}]}, "layer 2: W: expected numbers"),
    ({"activation": "sigmoid", "loss": "sse", "learning_rate": 0.1, "input": [1.0], "target": [0.5],
      "layer": [{"W": [[0.5]], "b": [0.1], "c": [1]}]}, "unknown key"),
    ({"activation": "softmax"}, "missing key .loss."),
    ([1, 2], "expected a path, TOML text or a dict, got list"),
])
def test_network_dict_errors_are_input_errors(bad, fragment):
    with pytest.raises(derive.InputError, match=fragment):
        derive.network(bad)


def test_exceptions_at_the_top_level():
    assert issubclass(derive.InputError, ValueError) and issubclass(derive.InputError, derive.DeriveError)
    assert issubclass(derive.CheckFailure, derive.DeriveError)
    with pytest.raises(ValueError) as caught:
        derive.explain("x*y", at={"x": 1, "q": 2})
    assert type(caught.value) is derive.InputError


def test_dir_offers_the_lazy_api_for_tab_completion():
    code = "import derive, sys; print(set(derive.__all__) <= set(dir(derive)), 'sympy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False"], done.stderr  # listed, and still not loaded


@pytest.mark.parametrize("call, api_message, cli_argv", [
    (lambda: derive.explain("x*y", at={"x": 1, "q": 2}), "at: 'q' is not a leaf",
     ["explain", "x*y", "--at", "x=1,q=2"]),
    (lambda: derive.explain("x*y", at="x=1,y=abc"), "at y: 'abc' is not a number",
     ["explain", "x*y", "--at", "x=1,y=abc"]),
    (lambda: derive.explain("x*y", step="lr=0.1"), "step: needs a point: give every leaf a value with `at`",
     ["explain", "x*y", "--step", "lr=0.1"]),
    (lambda: derive.explain("x*y", at="x=1,y=2", wrt="z"), "wrt: 'z' is not a leaf",
     ["explain", "x*y", "--at", "x=1,y=2", "--wrt", "z"]),
    (lambda: derive.explain("x*y", at="x=1,y=2", step="lr=0.1,beta1=0.5"), "is a setting of `optimizer` adam",
     ["explain", "x*y", "--at", "x=1,y=2", "--step", "lr=0.1,beta1=0.5"]),
    (lambda: derive.explain("x*y", at="x=1,y=2", optimizer="adam", step="steps=2"),
     "step: `optimizer` adam needs the learning rate", None),
    (lambda: derive.scenario("activations", optimizer="adam"),
     "activations: `optimizer` and `step` apply only to toast, linear-model (use `explain` for",
     ["show", "activations", "--optimizer", "adam"]),
])
def test_api_messages_name_parameters_and_the_cli_its_options(call, api_message, cli_argv, capsys):
    with pytest.raises(derive.InputError) as caught:
        call()
    message = str(caught.value)
    assert api_message in message
    assert "--" not in message, message  # no command-line option in what the API says
    if cli_argv is not None:
        from derive.cli import main
        assert main(cli_argv) == 2
        err = capsys.readouterr().err
        flagged = message.replace("`at`", "--at").replace("`optimizer`", "--optimizer").replace("`step`", "--step")
        flagged = flagged.replace("`explain`", "'derive explain'")
        flagged = re.sub(r"^(at|step|wrt)\b", r"--\1", flagged)
        assert err == f"derive: error: {flagged}\n"


def test_repr_is_short_and_says_the_result():
    assert repr(derive.explain("(x + y) * z", at={"x": -2, "y": 5, "z": -4})) == \
        "<derive.Result '(x + y) * z': 5 nodes, f = -12, gradients x=-4, y=-4, z=3>"
    assert repr(derive.scenario("toast")).startswith("<derive.Result toast: ")
    assert repr(derive.explain("x*y")) == "<derive.Result 'x*y': 3 nodes, f = symbolic, gradients of x, y>"
    many = derive.explain(" + ".join(f"x{i}*y" for i in range(40)))
    assert len(repr(many)) < 200 and repr(many).endswith(", ...>")
    network = repr(derive.network(NETWORK))
    assert network.startswith("<derive.NetworkResult design-example.toml: units 2-2-2, sigmoid, sse, loss ")
    assert len(network) < 200
    assert repr(derive.verify_file(SLIP)) == "<derive.Result verify: 6 claims, 5 hold, 1 wrong (line 16), exit 1>"
    many = derive.verify_text("\n\n".join(f"$$\\frac{{\\partial E}}{{\\partial x}} = {k}$$\n\n$$E = x$$"
                                           for k in range(2, 12)))
    assert repr(many).endswith("10 wrong (line 1, 5, 9, 13, 17, ...), exit 1>") and len(repr(many)) < 200


def test_save_writes_the_document_and_its_graph(tmp_path):
    result = derive.explain("(x + y) * z", at={"x": -2, "y": 5, "z": -4})
    written = result.save(tmp_path / "notes.md")
    assert written == (tmp_path / "notes.md", tmp_path / "notes.svg") or written == (tmp_path / "notes.md",)
    assert (tmp_path / "notes.md").read_text() == result.render("markdown", figure_href="notes.svg")
    assert result.save(tmp_path / "walk.json") == (tmp_path / "walk.json",)
    assert json.loads((tmp_path / "walk.json").read_text())["gradients"]["z"] == 3
    assert result.save(tmp_path / "walk.tex", lang="ja")[0].read_text().startswith("% !TEX program = lualatex")
    assert derive.network(NETWORK).save(tmp_path / "net.html")[0].read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(derive.InputError, match="path: cannot tell the format"):
        result.save(tmp_path / "notes.txt")
    assert not (tmp_path / "notes.txt").exists()
    with pytest.raises(derive.InputError, match="path: .* is a folder"):
        result.save(tmp_path)


def test_lang_sets_the_notebook_display():
    result = derive.explain("x*y", at="x=2,y=3", lang="ja")
    assert result._repr_markdown_() == result.to_markdown() == derive.explain("x*y", at="x=2,y=3").to_markdown("ja")
    assert 'lang="ja"' in result._repr_html_()
    with pytest.raises(derive.InputError, match="lang: unknown language 'fr'"):
        derive.scenario("toast", lang="fr")


def test_repr_html_is_the_page_scoped_for_a_notebook():
    from derive.present.html import NOTEBOOK_CLASS
    result = derive.explain("(x + y) * z", at={"x": -2, "y": 5, "z": -4})
    fragment = result._repr_html_()
    page = result.to_html()
    assert fragment.startswith(f'<div class="{NOTEBOOK_CLASS}" lang="en">')
    assert "<html" not in fragment and "<body" not in fragment and "<title" not in fragment
    main = page[page.index("<main"):page.index("</main>") + len("</main>")]
    assert main in fragment  # the same walk-through: MathML and the inline SVG graph
    style = fragment[fragment.index("<style>") + len("<style>"):fragment.index("</style>")]
    for head in re.findall(r"([^{}]+)\{", style):
        if not head.strip().startswith("@"):
            assert all(f".{NOTEBOOK_CLASS}" in part for part in head.split(",")), head


def test_matplotlib_is_imported_only_where_plots_need_it():
    code = ("import sys, derive; derive.scenario('toast').to_markdown(); derive.explain('x*y', at='x=1,y=2')"
            ".to_html(); derive.network(%r).to_markdown(); print('matplotlib' in sys.modules)" % str(NETWORK))
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert plain.stdout.strip() == "False", plain.stderr
    # a plot is data until a document draws it: building the scenario does not import matplotlib, its HTML does
    plots = ("import sys, derive; r = derive.scenario('vanishing-gradients'); built = 'matplotlib' in sys.modules; "
             "r.to_html(); print(built, 'matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", plots], capture_output=True, text=True,
                          check=True).stdout.strip() == "False True"


# --- one registry, one dispatcher, one Result (issue 14) ---------------------------------------------------------

SLIP = ROOT / "examples" / "verify" / "sigmoid-sse-slip.md"


def test_every_registry_entry_has_its_templates_locales_and_engine():
    from derive.present.formats import FORMATS, KINDS, LANGUAGES, TEX_ENGINES, formats_for
    from derive.present.templating import templates_root
    for fmt in FORMATS.values():
        assert set(fmt.templates) <= set(KINDS), fmt.name
        for template in fmt.templates.values():
            assert (templates_root() / template).is_file(), (fmt.name, template)
    for lang in LANGUAGES.values():
        assert (ROOT / "derive" / "locales" / lang.code / "core.toml").is_file(), lang.code
        assert lang.tex_engine in TEX_ENGINES
    assert formats_for("walkthrough") == ("markdown", "latex", "beamer", "html", "json")
    assert formats_for("report") == ("text", "markdown", "latex", "html", "json")
    assert formats_for("exercise") == ("markdown", "latex")


@pytest.mark.parametrize("make", [lambda: derive.explain("x*y", at="x=2,y=3"), lambda: derive.network(NETWORK),
                                  lambda: derive.verify_file(SLIP)], ids=["walkthrough", "network", "report"])
def test_one_result_type_renders_every_kind_of_document(make, tmp_path):
    from derive.present.render import render
    result = make()
    assert type(result) is derive.Result
    for method in ("render", "save", "_repr_html_", "_repr_markdown_", "_repr_latex_", "to_markdown", "to_json"):
        assert not hasattr(type(result.document), method), method  # the models are plain data
    assert result.to_markdown() == render(result.document, "markdown", "en") == result._repr_markdown_()
    assert result.to_markdown("ja") == render(result.document, "markdown", "ja") != result.to_markdown()
    assert json.loads(result.to_json()) == result.to_json_data()
    assert result.to_html().startswith("<!DOCTYPE html>") and 'lang="en"' in result._repr_html_()
    assert result.to_latex().startswith("% !TEX program = pdflatex")
    assert result.save(tmp_path / "doc.md")[0].read_text(encoding="utf-8").startswith("# ")


def test_a_report_keeps_its_data_and_refuses_formats_it_has_no_template_for():
    result = derive.verify_file(SLIP, lang="ja")
    assert result.exit_code == 1 and result.ok is False and len(result.claims) >= 1
    assert result._repr_latex_() is None  # Jupyter shows the Markdown
    assert result.to_markdown() == result.render("markdown", "ja") != result.render("markdown", "en")  # lang="ja"
    with pytest.raises(derive.InputError, match="unknown format 'beamer' for verify .choose from text, markdown"):
        result.render("beamer")
