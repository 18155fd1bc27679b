"""notation.DerivePrinter, the one LaTeX printer: every display class printed by a ``_print_ClassName`` method,
figure labels by a setting of the same printer, and the small LaTeX helpers the presentation uses."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import sympy
from sympy import Integer, Rational, Symbol
from sympy.printing.latex import LatexPrinter

import derive
from derive import notation
from derive.notation import (DerivePrinter, Grad, ReLU, Shown, Softmax, aligned_latex, distinct_chain_latex,
                             label_latex, latex, sigma, values_sum_latex)
from derive.optimizers import Assign, Defined
from derive.rules import LeakyReLU, LeakyStep, Scaled, SoftmaxValue
from derive.scenarios import activations, vanishing_gradients as vg

z, s = Symbol("z"), Symbol("s")

CASES = [
    (sigma(z), r"\sigma\left(z\right)"),
    (vg.SigmaAt(Integer(0)), r"\sigma\left(0\right)"),
    (ReLU(z), r"\operatorname{ReLU}\left(z\right)"),
    (Softmax(2, z, s), r"\operatorname{softmax}_{2}\left(z, s\right)"),
    (SoftmaxValue(1, z, s), r"\operatorname{softmax}_{1}\left(z, s\right)"),
    (Shown(Integer(-4)), r"\left(-4\right)"),
    (Shown(Integer(-4), bare=True), "-4"),
    (Shown(Rational(1, 30000000)), r"\left(3.33333 \times 10^{-8}\right)"),
    (LeakyReLU(z, Rational(1, 100)), r"\operatorname{LeakyReLU}_{0.01}\left(z\right)"),
    (LeakyStep(z, Rational(1, 10)), r"\begin{cases} 1 & z > 0 \\ 0.1 & z \le 0 \end{cases}"),
    (Scaled(Rational(-1, 2), s + z), r"- \frac{1}{2} \cdot \left(s + z\right)"),
    (Assign(z, z - s), r"z \leftarrow z - s"),
    (Defined(z, 2 * s), r"z = 2 \cdot s"),
    (activations.Applied(Symbol(r"\tanh"), z, Integer(1)), r"\tanh'\left(z\right)"),
    (vg.SigmaPrime(z), r"\sigma'\left(z\right)"),
    (vg.ReLUPrime(z), r"\operatorname{ReLU}'\left(z\right)"),
    (vg.BoundFunction(s), r"g\left(s\right)"),
    (vg.AtLayer(Symbol("w"), Symbol("l") - 1), "w^{l - 1}"),
    (vg.GradAtNextLayer(Symbol("l") - 1), r"\frac{\partial C}{\partial w^{l - 1}}"),
]


@pytest.mark.parametrize("expr,expected", CASES, ids=[type(e).__name__ + str(i) for i, (e, _) in enumerate(CASES)])
def test_each_display_class_prints_by_its_class_name(expr, expected):
    assert latex(expr) == expected


def test_the_printers_own_methods_each_name_a_class_of_the_project():
    """A ``_print_X`` that SymPy's printer does not have must print a class that exists (no dead method), and no
    class of the engine, the scenarios or the presentation prints itself (``_derive_latex``)."""
    classes = {}
    for module in _project_modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                classes[name] = value
    own = {name[len("_print_"):] for name in vars(DerivePrinter) if name.startswith("_print_")
           and not hasattr(LatexPrinter, name) and not hasattr(sympy.core.numbers, name[len("_print_"):])}
    assert {"Grad", "Shown", "LeakyStep", "Assign", "AtLayer"} <= own <= classes.keys(), own - classes.keys()
    printing_itself = [name for name, cls in classes.items() if "_derive_latex" in vars(cls)
                       and not cls.__module__.startswith(("derive.networks", "derive.verify"))]
    assert printing_itself == []


def _project_modules():
    for info in pkgutil.walk_packages(derive.__path__, "derive."):
        if info.name.endswith(("__main__", "magic")):
            continue
        yield importlib.import_module(info.name)


def test_figure_labels_use_the_same_printer_with_the_slash_setting():
    gradient = Grad("E", "w") * Rational(1, 2)
    assert latex(Grad("E", "w")) == r"\frac{\partial E}{\partial w}"
    assert label_latex(Grad("E", "w")) == r"\partial E/\partial w"
    assert label_latex(gradient) == r"1 / 2 \cdot \partial E/\partial w"
    assert label_latex(z / s) == "z / s"  # short fractions on one line
    assert latex(z / s) == r"\frac{z}{s}"
    assert isinstance(notation._LABEL_PRINTER, DerivePrinter)


def test_the_latex_helpers():
    assert distinct_chain_latex(["x", "x", "1", "1", "x"]) == "x = 1 = x"
    assert values_sum_latex([Integer(2), Integer(-3), Rational(1, 2)]) == r"2 + \left(-3\right) + 0.5"
    assert aligned_latex(["a = b = c", "d = e"]) == "$$\\begin{aligned}\na &= b = c \\\\[2pt]\nd &= e\n\\end{aligned}$$"


def test_an_unknown_setting_is_refused():
    with pytest.raises(TypeError):
        DerivePrinter({"grad_stile": "slash"})


def test_a_power_of_sigma_is_the_power_of_its_value_and_verify_reads_it_so():
    """σ(z)² (a sample's cost written out, delta-recurrence's batch bindings) printed with σ(z) in parentheses:
    the printer raised on the exponent before; verify must read the square of σ(z), not σ of z²."""
    from derive.verify import verify_text
    text = latex(sympy.Pow(sigma(z), 2, evaluate=False))
    assert text == r"\left(\sigma\left(z\right)\right)^{2}"
    page = f"<!-- derive: given z = 0 -->\n\n$${text} = 0.25$$\n"
    assert verify_text(page).exit_code == 0
    assert verify_text(page.replace("0.25", "0.5")).exit_code == 1
