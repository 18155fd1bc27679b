"""Input students type (issue 13, part 4): powers with ^ and superscripts, implicit multiplication, ln, e^x, Unicode
operators, definitions f(x) = …, a leading minus, LaTeX; and rejections that say what to write, in en and ja.

Each accepted input is checked twice: its graph keeps the student's nodes (ops and operands, in order), and the
walk-through's value and gradients equal `sympy.diff` of the intended expression, built here with SymPy's
operators (never from the input text).
"""
from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stderr, redirect_stdout

import jsonschema
import pytest
import sympy

from derive.api import explain
from derive.cli import main
from derive.errors import InputError
from derive.present.jsonout import schema
from derive.parse import parse_program

R = sympy.Rational
b, e, p, t, w, x, y, z = sympy.symbols("b e p t w x y z", real=True)
w_1, w_2, x_1, x_2 = sympy.symbols("w_1 w_2 x_1 x_2", real=True)
E = sympy.E
POINT = {"x": R(1, 2), "y": R(3, 2), "z": R(-2), "w": R(2, 5), "b": R(1, 10), "t": R(3),
         "w_1": R(1, 4), "w_2": R(-1, 3), "x_1": R(2), "x_2": R(5, 4)}

# (input, the operation nodes (name, op, operands) in order, the intended expression)
ACCEPTED = [
    ("x^2", [("f", "pow", ("x", 2))], x**2),
    ("x**2", [("f", "pow", ("x", 2))], x**2),
    ("x²", [("f", "pow", ("x", 2))], x**2),
    ("x³ + 1", [("u1", "pow", ("x", 3)), ("f", "add", ("u1", 1))], x**3 + 1),
    ("x⁻¹", [("f", "pow", ("x", -1))], 1 / x),
    ("x^y^2", [("u1", "pow", ("y", 2)), ("f", "pow", ("x", "u1"))], x**(y**2)),
    ("2x", [("f", "mul", (2, "x"))], 2 * x),
    ("2 x y", [("u1", "mul", (2, "x")), ("f", "mul", ("u1", "y"))], 2 * x * y),
    ("3(x+1)", [("u1", "add", ("x", 1)), ("f", "mul", (3, "u1"))], 3 * (x + 1)),
    ("(x+y)z", [("u1", "add", ("x", "y")), ("f", "mul", ("u1", "z"))], (x + y) * z),
    ("(x+1)(x-1)", [("u1", "add", ("x", 1)), ("u2", "sub", ("x", 1)), ("f", "mul", ("u1", "u2"))],
     (x + 1) * (x - 1)),
    ("x(y+1)", [("u1", "add", ("y", 1)), ("f", "mul", ("x", "u1"))], x * (y + 1)),
    ("w_1(x+1)", [("u1", "add", ("x", 1)), ("f", "mul", ("w_1", "u1"))], w_1 * (x + 1)),
    ("2x^2", [("u1", "pow", ("x", 2)), ("f", "mul", (2, "u1"))], 2 * x**2),
    ("2(x+1)^2", [("u1", "add", ("x", 1)), ("u2", "pow", ("u1", 2)), ("f", "mul", (2, "u2"))], 2 * (x + 1)**2),
    ("sin(x)cos(x)", [("u1", "sin", ("x",)), ("u2", "cos", ("x",)), ("f", "mul", ("u1", "u2"))],
     sympy.sin(x) * sympy.cos(x)),
    ("-x*y", [("u1", "neg", ("x",)), ("f", "mul", ("u1", "y"))], -x * y),
    ("-x^2", [("u1", "pow", ("x", 2)), ("f", "neg", ("u1",))], -x**2),
    ("   x + y", [("f", "add", ("x", "y"))], x + y),
    ("e^x", [("f", "exp", ("x",))], sympy.exp(x)),
    ("e**x", [("f", "exp", ("x",))], sympy.exp(x)),
    ("e^(2x)", [("u1", "mul", (2, "x")), ("f", "exp", ("u1",))], sympy.exp(2 * x)),
    ("e^-x", [("u1", "neg", ("x",)), ("f", "exp", ("u1",))], sympy.exp(-x)),
    ("2e^x", [("u1", "exp", ("x",)), ("f", "mul", (2, "u1"))], 2 * sympy.exp(x)),
    ("e*x", [("f", "mul", (E, "x"))], E * x),
    ("1/(1 + e^-x)", [("u1", "neg", ("x",)), ("u2", "exp", ("u1",)), ("u3", "add", (1, "u2")),
                      ("f", "div", (1, "u3"))], 1 / (1 + sympy.exp(-x))),
    ("ln(x)", [("f", "log", ("x",))], sympy.log(x)),
    ("ln(x) + log(y)", [("u1", "log", ("x",)), ("u2", "log", ("y",)), ("f", "add", ("u1", "u2"))],
     sympy.log(x) + sympy.log(y)),
    ("x − y", [("f", "sub", ("x", "y"))], x - y),
    ("x × y", [("f", "mul", ("x", "y"))], x * y),
    ("x · y", [("f", "mul", ("x", "y"))], x * y),
    ("x ÷ y", [("f", "div", ("x", "y"))], x / y),
    ("√x", [("f", "sqrt", ("x",))], sympy.sqrt(x)),
    ("√(x+1)", [("u1", "add", ("x", 1)), ("f", "sqrt", ("u1",))], sympy.sqrt(x + 1)),
    ("2√x", [("u1", "sqrt", ("x",)), ("f", "mul", (2, "u1"))], 2 * sympy.sqrt(x)),
    ("f(x) = x^2 + 1", [("u1", "pow", ("x", 2)), ("f", "add", ("u1", 1))], x**2 + 1),
    ("g(x, y) = x y", [("g", "mul", ("x", "y"))], x * y),
    ("y = 2x + 1", [("u1", "mul", (2, "x")), ("y", "add", ("u1", 1))], 2 * x + 1),
    ("p = w x; f = p(1 - p)", [("p", "mul", ("w", "x")), ("u1", "sub", (1, "p")), ("f", "mul", ("p", "u1"))],
     w * x * (1 - w * x)),
    ("g(x) = x^2; f = g(x) + 1", [("g", "pow", ("x", 2)), ("f", "add", ("g", 1))], x**2 + 1),
    ("e = y - t; E = 0.5e^2", [("e", "sub", ("y", "t")), ("u1", "pow", ("e", 2)), ("E", "mul", (R(1, 2), "u1"))],
     (y - t)**2 / 2),
    # LaTeX, read by the grammar derive verify uses
    (r"\frac{1}{1+e^{-x}}", [("u1", "neg", ("x",)), ("u2", "exp", ("u1",)), ("u3", "add", (1, "u2")),
                             ("f", "div", (1, "u3"))], 1 / (1 + sympy.exp(-x))),
    (r"x^{2} + 3x", [("u1", "pow", ("x", 2)), ("u2", "mul", (3, "x")), ("f", "add", ("u1", "u2"))], x**2 + 3 * x),
    (r"\sigma(w x + b)", [("u1", "mul", ("w", "x")), ("u2", "add", ("u1", "b")), ("f", "sigmoid", ("u2",))],
     1 / (1 + sympy.exp(-(w * x + b)))),
    (r"\sqrt{x} \cdot \ln(y)", [("u1", "sqrt", ("x",)), ("u2", "log", ("y",)), ("f", "mul", ("u1", "u2"))],
     sympy.sqrt(x) * sympy.log(y)),
    (r"f(x) = \frac{x^2}{2}", [("u1", "pow", ("x", 2)), ("f", "div", ("u1", 2))], x**2 / 2),
    (r"w_1 x_1 + w_2 x_2", [("u1", "mul", ("w_1", "x_1")), ("u2", "mul", ("w_2", "x_2")), ("f", "add", ("u1", "u2"))],
     w_1 * x_1 + w_2 * x_2),
    (r"\exp(-x^2)", [("u1", "pow", ("x", 2)), ("u2", "neg", ("u1",)), ("f", "exp", ("u2",))], sympy.exp(-x**2)),
    (r"\left(x + y\right)^{2}", [("u1", "add", ("x", "y")), ("f", "pow", ("u1", 2))], (x + y)**2),
]


def _operations(text: str, variables=()) -> list[tuple]:
    graph = parse_program(text, variables)
    return [(n.name, n.op, n.args) for n in graph.nodes if n.op != "leaf"]


def _check_against_sympy(text: str, intended: sympy.Expr, point: dict) -> None:
    result = explain(text, at={k: str(v) for k, v in point.items()})
    values = {sympy.Symbol(k, real=True): v for k, v in point.items()}
    output = result.walkthrough.derivation.graph.output
    assert abs(float(result.values[output]) - float(intended.subs(values))) < 1e-12
    for leaf in point:
        expected = sympy.diff(intended, sympy.Symbol(leaf, real=True)).subs(values)
        assert abs(float(result.gradients[leaf]) - float(expected)) < 1e-9 * (1 + abs(float(expected))), leaf


def test_table_covers_thirty_inputs():
    assert len(ACCEPTED) >= 30 and len({text for text, _, _ in ACCEPTED}) == len(ACCEPTED)


@pytest.mark.parametrize("text,operations,intended", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_student_input_gives_the_students_graph_and_the_right_gradients(text, operations, intended):
    assert _operations(text) == operations
    leaves = parse_program(text).leaves
    _check_against_sympy(text, intended, {leaf: POINT[leaf] for leaf in leaves})


def test_e_is_a_variable_when_given_in_at():
    """``e`` with a value in --at is a leaf: ``e^x`` is then a power with base e, not exp."""
    assert _operations("e^x", variables=("e", "x")) == [("f", "pow", ("e", "x"))]
    assert parse_program("e^x", variables=("e", "x")).leaves == ("e", "x")
    _check_against_sympy("e^x*y", e**x * y, {"e": R(3), "x": R(1, 2), "y": R(2)})


def test_e_is_eulers_number_otherwise_and_the_graph_says_which():
    graph = parse_program("e*x + e^x")
    assert graph.leaves == ("x",)
    assert graph["u1"].args == (sympy.E, "x") and graph["u2"].op == "exp"


def test_leading_minus_is_an_expression_not_an_option():
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["explain", "-x*y", "--at", "x=2,y=3", "--format", "json"])
    assert code == 0, err.getvalue()
    assert '"value": -6' in out.getvalue()


# (input, what the English message says to write, what the Japanese one says)
REJECTED = [
    ("2 3", "write 2*3", "2*3 と書いてください"),
    ("(x+1)2", "write (x+1)*2", "(x+1)*2 と書いてください"),
    ("a/2b", "write a/(2*b) or a/2*b", "a/(2*b) または a/2*b と書いてください"),
    ("ln x", "write ln(…)", "ln(…) と書いてください"),
    ("tan(x)", "for a product write tan*(…)", "tan*(…) と書いてください"),
    ("x == y", "write f = … to name the result", "f = … と書いてください"),
    ("x // y", "write / for division", "割り算は / で書いてください"),
    ("x +", "write what comes next", "続きを書いてください"),
    ("(x + y", "add ')'", "')' を補ってください"),
    ("3 = x", "write f = … or f(x) = …", "f = … または f(x) = … と書いてください"),
    ("α*x", "write its name, alpha", "名前で alpha と書いてください"),
    ("ｘ + 1", "write x instead", "代わりに x と書いてください"),
    ("x and y", "write the formula with + - * / ^", "+ - * / ^ と括弧で式を書いてください"),
    ("exp(x, y)", "write exp(x)", "exp(x) と書いてください"),
    ("sin", "write sin(…)", "sin(…) と書いてください"),
    ("[x + 1]", "write ( and ) for brackets", "括弧は ( と ) で書いてください"),
    ("x.y", "write * for a product", "積は x*y のように * で書いてください"),
    ("f(x, x) = x", "must be different names", "異なる名前にしてください"),
    ("g(x) = x^2; f = g(y)", "write g or g(x)", "g または g(x) と書いてください"),
    ("'x + 1'", "write the formula without quotes", "引用符を付けずに式を書いてください"),
    ("x = y = z", "one assignment per statement", "1 文に 1 つの代入を書いてください"),
    (r"\sum_{i} x_i", "write it with + - * / ^", "+ - * / ^、関数"),
    ("2^3 + 1", "write a formula with a name in it, as in 2*x", "2*x のように、変数名を含む式を書いてください"),
    (r"\frac{1}{2}", "nothing to differentiate", "微分するものがありません"),
    (r"x \bmod y", r"unknown macro «\bmod»; write it with + - * / ^", r"«\bmod» は知らないマクロです。+ - * / ^"),
]
PYTHON_WORDS = ("BitXor", "decimal literal", "indent", "==", "invalid syntax", "SyntaxError", "Traceback", "EOF",
                "Maybe you meant", "unexpected token", "Perhaps you forgot")


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("text,english,japanese", REJECTED, ids=[r[0] for r in REJECTED])
def test_rejection_is_one_line_saying_what_to_write(text, english, japanese, lang):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["explain", text, "--lang", lang])
    lines = err.getvalue().splitlines()
    assert code == 2 and out.getvalue() == "" and len(lines) == 1, err.getvalue()
    assert lines[0].startswith("derive: error: ")
    assert (english if lang == "en" else japanese) in lines[0], lines[0]
    residue = lines[0].replace(text, "")
    assert not [word for word in PYTHON_WORDS if word in residue], lines[0]


def test_python_api_speaks_english_and_the_error_renders_in_japanese():
    with pytest.raises(InputError) as info:
        parse_program("2 3")
    assert "write 2*3" in str(info.value)
    assert "2*3 と書いてください" in info.value.render("ja")


@pytest.mark.parametrize("lang,fragment", [("en", "ends too early"), ("ja", "途中で終わっています")])
def test_latex_errors_speak_the_language_of_lang(lang, fragment):
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(["explain", r"\frac{1}{1+e^{-x}", "--lang", lang])
    assert code == 2 and fragment in err.getvalue() and len(err.getvalue().splitlines()) == 1, err.getvalue()


def test_token_soup_is_a_graph_or_one_line_input_error():
    """Random runs of the input language's pieces (plain, Unicode and LaTeX): never an exception other than
    InputError, never a message of more than one line."""
    pieces = ["x", "y", "e", "2", "0.5", "1e3", "ln", "exp", "f", "g", "(", ")", "+", "-", "*", "/", "^", "**",
              "²", "⁻", "√", "−", "×", "·", " ", "=", ",", ";", "\n", r"\frac", "{", "}", r"\sigma", "_", "'",
              "x_1", "w1", ".", "0x1f", "#", "%", r"\left(", r"\right)", "^{", r"\sqrt"]
    rng = random.Random(7)
    accepted = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        try:
            parse_program(text)
            accepted += 1
        except InputError as exc:
            assert "\n" not in str(exc) and "\n" not in exc.render("ja"), (text, str(exc))
    assert accepted > 100  # the soup is not all rejections


@pytest.mark.parametrize("text,at", [("e*x + e^x", "x=0.5"), ("e^x", "x=1,e=2"), ("2x^2 + √x", "x=4"),
                                     (r"\frac{1}{1+e^{-x}}", "x=0")])
def test_json_of_student_input_matches_the_schema(text, at):
    """Euler's number as a constant operand and e as a leaf both reach every output format; JSON as an example."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main(["explain", text, "--at", at, "--format", "json"]) == 0
    jsonschema.validate(json.loads(out.getvalue()), schema())
