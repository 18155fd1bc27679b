r"""Acceptance probes for `derive verify` (issue 16, items 1–5): one small document per construct or convention the
issue names, written for these tests (not taken from tests/textbooks/), in Markdown and in LaTeX, with weight layers
numbered from 1 and from 2. Each probe is a correct derivation, which must be accepted (exit 0), and the same text
with one slip, which must fail (exit 1) at the claim's line and step, named with the expected slip kind.

``python tests/test_verify_probes.py`` prints the table construct → accepted / caught / named.
"""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_textbooks import first_failure


@dataclass(frozen=True)
class Probe:
    name: str
    construct: str
    text: str  # the correct document
    old: str  # the slip: this text (once in the document) ...
    new: str  # ... replaced by this
    step: int  # first false step of the slipped claim
    slip: str  # the slip kind derive must name
    claim_line: int | None = None  # the claim's first line when it is not the line of the change
    suffix: str = "md"

    def slipped(self) -> str:
        assert self.text.count(self.old) == 1, (self.name, self.old)
        return self.text.replace(self.old, self.new)

    def line(self) -> int:
        if self.claim_line is not None:
            return self.claim_line
        return self.text[:self.text.index(self.old)].count("\n") + 1


def tex(body: str) -> str:
    """A LaTeX article around ``body`` (the body starts on line 4)."""
    return "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\n\\end{document}\n"


PROBES: tuple[Probe, ...] = (
    # --- item 1: notation ---------------------------------------------------------------------------------------
    Probe("total-d", r"\frac{dy}{dx}, chain of d's", """# A logarithm of a quadratic

$$u = 3x^2 + 1$$

$$y = \\log u$$

$$\\frac{dy}{dx} = \\frac{dy}{du}\\frac{du}{dx} = \\frac{1}{u} \\cdot 6x = \\frac{6x}{3x^2 + 1}$$
""", r"\frac{1}{u} \cdot 6x", r"\frac{1}{u} \cdot 3x", 2, "factor"),
    Probe("mathrm-d", r"\mathrm{d}", tex(r"""Exponential decay, $s = e^{-2t}$:
\[ s = e^{-2t} \]
\[ \frac{\mathrm{d}s}{\mathrm{d}t} = -2 e^{-2t} = -2s \]"""), r"= -2 e^{-2t}", r"= 2 e^{-2t}", 1, "sign", suffix="tex"),
    Probe("nabla", r"\nabla_\theta J", """A one-parameter least-squares fit.

$$J = \\frac{1}{2}(\\theta x - y)^2$$

$$\\nabla_{\\theta} J = (\\theta x - y)\\, x$$
""", r"(\theta x - y)\, x$$", r"(y - \theta x)\, x$$", 1, "sign"),
    Probe("odot", r"\odot, vector t", """# Output error of a tanh layer

$$z_j = \\sum_k w_{jk} x_k + b_j$$

$$a_j = \\tanh(z_j)$$

$$E = \\frac{1}{2}\\sum_j (a_j - t_j)^2$$

$$\\frac{\\partial E}{\\partial z} = (a - t) \\odot (1 - a \\odot a)$$
""", r"(a - t) \odot (1 - a \odot a)", r"(a - t)", 1, "missing_gate"),
    Probe("circ", r"\circ (Hadamard)", tex(r"""Sigmoid output units, squared error.
\[ z_k = \sum_j v_{kj} h_j \]
\[ y_k = \sigma(z_k) \]
\[ E = \frac{1}{2} \sum_k (y_k - r_k)^2 \]
\[ \frac{\partial E}{\partial z} = (y - r) \circ \sigma'(z) \]"""), r"(y - r) \circ", r"(r - y) \circ", 1, "sign", suffix="tex"),
    Probe("top", r"^\top, W^{(1)} numbering", """# Gradient with respect to the hidden units

$$z^{(1)}_i = \\sum_j W^{(1)}_{ij} x_j + b^{(1)}_i$$

$$h_i = \\sigma(z^{(1)}_i)$$

$$z^{(2)}_k = \\sum_i W^{(2)}_{ki} h_i + b^{(2)}_k$$

$$J = \\frac{1}{2}\\sum_k (z^{(2)}_k - y_k)^2$$

$$\\frac{\\partial J}{\\partial h} = (W^{(2)})^\\top (z^{(2)} - y)$$
""", r"(W^{(2)})^\top (z^{(2)} - y)", r"W^{(2)} (z^{(2)} - y)", 1, "transpose"),
    Probe("T-nielsen", r"^T, w^2 numbering", tex(r"""The input is layer 1, the output layer 2.
\[ z^2_j = \sum_k w^2_{jk} a^1_k + b^2_j, \qquad a^2_j = \sigma(z^2_j) \]
\[ C = \frac{1}{2} \sum_j (a^2_j - y_j)^2, \qquad \delta^2_j \equiv \frac{\partial C}{\partial z^2_j} \]
\[ \frac{\partial C}{\partial a^1} = (w^2)^T \delta^2 \]"""), r"(w^2)^T \delta^2", r"w^2 \delta^2", 1, "transpose", suffix="tex"),
    Probe("mathsf-T", r"^{\mathsf{T}}", """A linear map and its adjoint.

$$y_k = \\sum_j A_{kj} x_j$$

$$E = \\frac{1}{2}\\sum_k (y_k - t_k)^2$$

$$\\frac{\\partial E}{\\partial x} = A^{\\mathsf{T}} (y - t)$$
""", r"A^{\mathsf{T}} (y - t)", r"A (y - t)", 1, "transpose"),
    Probe("outer-product", r"\mathbf{x}^\top, an outer product", """A linear layer's weight gradient.

$$z_i = \\sum_j W_{ij} x_j$$

$$L = \\frac{1}{2}\\sum_i (z_i - y_i)^2$$

$$\\frac{\\partial L}{\\partial \\mathbf{W}} = (\\mathbf{z} - \\mathbf{y})\\,\\mathbf{x}^\\top$$
""", r"\,\mathbf{x}^\top$$", r"\,\mathbf{x}$$", 1, "transpose"),
    Probe("norm", r"\|v\|^2", """Squared error written as a norm.

$$y_k = \\sum_j V_{kj} h_j$$

$$E = \\frac{1}{2}\\|y - t\\|^2$$

$$\\frac{\\partial E}{\\partial V_{kj}} = (y_k - t_k)\\, h_j$$
""", r"(y_k - t_k)\, h_j", r"(y_j - t_j)\, h_k", 1, "index_swap"),
    Probe("lVert-2-2", r"\lVert w \rVert_2^2", tex(r"""Weight decay.
\[ R = \frac{\lambda}{2} \lVert w \rVert_2^2 \]
\[ \frac{\partial R}{\partial w_i} = \lambda w_i \]"""), r"= \lambda w_i", r"= 2\lambda w_i", 1, "factor", suffix="tex"),
    Probe("max-relu", r"\max(0, z), \mathbb{1}[\cdot]", tex(r"""A hidden ReLU layer read out by a fixed vector $v$.
\[ z_j = \sum_i U_{ji} x_i \]
\[ h_j = \max(0, z_j) \]
\[ E = \sum_j v_j h_j \]
\[ \frac{\partial E}{\partial U_{ji}} = v_j \, \mathbb{1}[z_j > 0] \, x_i \]"""),
          r"v_j \, \mathbb{1}[z_j > 0] \, x_i", r"v_j \, x_i", 1, "missing_gate", suffix="tex"),
    Probe("min-clip", r"\min(z, 1)", """A unit clipped at 1.

$$z = w x$$

$$y = \\min(z, 1)$$

$$\\frac{\\partial y}{\\partial w} = \\mathbb{1}[z < 1]\\, x$$
""", r"\mathbb{1}[z < 1]\, x", r"x", 1, "missing_gate"),
    Probe("indicator-braces", r"\mathbf{1}\{z > 0\}", """Rectifier, indicator with braces.

$$r = \\max(0, s)$$

$$s = a u + c$$

$$\\frac{\\partial r}{\\partial a} = \\mathbf{1}\\{s > 0\\}\\, u$$
""", r"\mathbf{1}\{s > 0\}\, u", r"u", 1, "missing_gate"),
    Probe("operatorname-relu", r"\operatorname{ReLU}", tex(r"""\[ q = \operatorname{ReLU}(p) \]
\[ p = 2 u - 1 \]
\[ \frac{\partial q}{\partial u} = 2 \, \mathbb{1}[p > 0] \]"""), r"= 2 \, \mathbb{1}[p > 0]", r"= \mathbb{1}[p > 0]", 1, "factor", suffix="tex"),
    Probe("mathrm-relu", r"\mathrm{relu}", """$$g = \\mathrm{relu}(k)$$

$$k = c - d$$

$$\\frac{\\partial g}{\\partial d} = -\\mathbb{1}[k > 0]$$
""", r"= -\mathbb{1}[k > 0]", r"= \mathbb{1}[k > 0]", 1, "sign"),
    Probe("abstract-f", "abstract function f", """An activation $f$ left unspecified.

$$z = w x + b$$

$$a = f(z)$$

$$\\frac{\\partial a}{\\partial w} = f'(z)\\, x$$
""", r"f'(z)\, x", r"f'(z)", 1, "missing_factor"),
    Probe("softmax", r"\mathrm{softmax}(z)_i, \sum_k y_k = 1", """# Softmax and cross-entropy

$$p_i = \\mathrm{softmax}(z)_i$$

$$L = -\\sum_k y_k \\log p_k, \\qquad \\sum_k y_k = 1$$

$$\\frac{\\partial L}{\\partial z_i} = p_i - y_i$$
""", r"= p_i - y_i", r"= y_i - p_i", 1, "sign"),
    Probe("log-softmax", r"\log\sum_j e^{z_j}, \delta_{ik}", tex(r"""Log-softmax.
\[ s_i = z_i - \log \sum_j e^{z_j} \]
\[ \frac{\partial s_i}{\partial z_k} = \delta_{ik} - \frac{e^{z_k}}{\sum_j e^{z_j}} \]"""),
          r"\frac{e^{z_k}}", r"\frac{e^{z_i}}", 1, "index_swap", suffix="tex"),
    Probe("sum-limits", r"\sum_{n=1}^{N}", """Least squares over N samples.

$$E = \\sum_{n=1}^{N} (w x_n - t_n)^2$$

$$\\frac{\\partial E}{\\partial w} = 2\\sum_{n=1}^{N} (w x_n - t_n)\\, x_n$$
""", r"= 2\sum_{n=1}^{N}", r"= \sum_{n=1}^{N}", 1, "factor"),
    Probe("sum-bare", r"\sum_n without limits", tex(r"""\[ E = \frac{1}{2}\sum_n (b + w x_n - t_n)^2 \]
\[ \frac{\partial E}{\partial b} = \sum_n (b + w x_n - t_n) \]"""),
          r"= \sum_n (b + w x_n - t_n)", r"= \sum_n (b + w x_n - t_n)\, x_n", 1, "extra_factor", suffix="tex"),
    Probe("cdot-times", r"\cdot, \times, juxtaposition", """$$f = x y^2 + 3 x$$

$$\\frac{\\partial f}{\\partial y} = 2 \\times x \\cdot y = 2xy$$
""", r"= 2 \times x \cdot y", r"= 2 \times x \cdot x", 1, "unnamed"),
    Probe("tfrac-dfrac", r"\tfrac, \dfrac", tex(r"""\[ E = \tfrac{1}{2}(o - t)^2, \qquad o = \sigma(u) \]
\[ \dfrac{\partial E}{\partial u} = (o - t)\, o\,(1 - o) \]"""),
          r"= (o - t)\, o\,(1 - o)", r"= \tfrac{1}{2}(o - t)\, o\,(1 - o)", 1, "factor", suffix="tex"),
    Probe("align", "align, \\label, \\nonumber", tex(r"""\begin{equation}
  y = w x + b \label{eq:lin}
\end{equation}
\begin{equation}
  E = \frac{1}{2}(y - t)^2
\end{equation}
\begin{align}
  \frac{\partial E}{\partial w} &= \frac{\partial E}{\partial y}\frac{\partial y}{\partial w} \nonumber \\
  &= (y - t)\, x \label{eq:grad}
\end{align}"""), r"&= (y - t)\, x", r"&= (y - t)\, w", 2, "unnamed", claim_line=11, suffix="tex"),
    Probe("aligned", "aligned inside \\[ \\]", tex(r"""\[ h = \tanh(a), \qquad a = v g \]
\[
\begin{aligned}
\frac{\partial h}{\partial v} &= (1 - h^2)\, g \\
&= (1 - \tanh^2(v g))\, g
\end{aligned}
\]"""), r"&= (1 - \tanh^2(v g))\, g", r"&= (1 - \tanh^2(v g))\, v", 2, "unnamed", claim_line=7, suffix="tex"),
    Probe("eqnarray", "eqnarray", tex(r"""\begin{eqnarray}
  m & = & k^3 \\
  \frac{dm}{dk} & = & 3 k^2
\end{eqnarray}"""), r"& = & 3 k^2", r"& = & 3 k^3", 1, "extra_factor", suffix="tex"),
    Probe("tag", "numbered Markdown equations (\\tag)", """$$z = a + 2b \\tag{1}$$

$$E = z^2 \\tag{2}$$

$$\\frac{\\partial E}{\\partial b} = 4z \\tag{3}$$
""", r"= 4z \tag{3}", r"= 2z \tag{3}", 1, "factor"),
    Probe("text-where", r"\text{where } x = 2", """$$y = x^3$$

$$\\frac{dy}{dx} = 3x^2 = 12 \\quad \\text{where } x = 2$$
""", r"= 12 \quad", r"= 6 \quad", 2, "factor"),
    # --- the refused notation, in new documents ------------------------------------------------------
    Probe("d-sigma-over-dx", r"\frac{d\sigma(x)}{dx}", """$$\\frac{d\\sigma(x)}{dx} = \\sigma(x)\\,(1 - \\sigma(x))$$
""", r"(1 - \sigma(x))", r"(1 + \sigma(x))", 1, "sign"),
    Probe("tanh-squared", r"\tanh^2 x", tex(r"""\[ \frac{d}{dx} \tanh x = 1 - \tanh^2 x \]"""),
          r"1 - \tanh^2 x", r"1 + \tanh^2 x", 1, "sign", suffix="tex"),
    Probe("ell", r"\ell", """$$p = \\sigma(s)$$

$$\\ell = -\\log p$$

$$\\frac{\\partial \\ell}{\\partial s} = p - 1$$
""", r"= p - 1", r"= 1 - p", 1, "sign"),
    Probe("h-cdot-named", r"h(\cdot) only named", """The hidden units use an activation $h(\\cdot)$ that the text leaves open.

$$a_j = \\sum_i w_{ji} x_i, \\qquad z_j = h(a_j)$$

$$y = \\sum_j v_j z_j, \\qquad E = \\frac{1}{2}(y - t)^2$$

$$\\frac{\\partial E}{\\partial w_{ji}} = (y - t)\\, v_j\\, h'(a_j)\\, x_i$$
""", r"(y - t)\, v_j\, h'(a_j)\, x_i", r"(y - t)\, v_i\, h'(a_j)\, x_i", 1, "index_swap"),
    Probe("abstract-cost", r"J(w; X, y) only named", tex(r"""The regularised objective adds weight decay to a cost $J(w; X, y)$:
\[ \tilde{J}(w; X, y) = J(w; X, y) + \frac{\alpha}{2} w^2 \]
\[ \frac{\partial \tilde{J}}{\partial w} = \frac{\partial J}{\partial w} + \alpha w \]"""),
          r"+ \alpha w \]", r"+ 2\alpha w \]", 1, "factor", suffix="tex"),
    Probe("l-plus-1-left", r"\delta^{l+1}_k on the left", """$$z^l_j = \\sum_k w^l_{jk} a^{l-1}_k + b^l_j, \\qquad a^l_j = \\sigma(z^l_j)$$

$$C = \\frac{1}{2}\\sum_j (a^L_j - y_j)^2, \\qquad \\delta^l_j \\equiv \\frac{\\partial C}{\\partial z^l_j}$$

One layer further from the output:

$$\\delta^{l+1}_k = \\sum_j w^{l+2}_{jk} \\delta^{l+2}_j \\sigma'(z^{l+1}_k)$$
""", r"w^{l+2}_{jk} \delta", r"w^{l+2}_{kj} \delta", 1, "index_swap"),
    Probe("defined-twice", "a quantity defined twice", tex(r"""\[ z_j = \sum_k u_{jk} x_k + c_j \]
\[ s_j = \sigma(z_j) \]
\[ s_j = \sigma\Big(\sum_k u_{jk} x_k + c_j\Big) \]"""), r"x_k + c_j\Big)", r"x_k - c_j\Big)", 1, "sign", suffix="tex"),
    Probe("function-definition", "f(w, x) = …", """$$f(w, x) = \\sigma(w x)$$

$$\\frac{\\partial f}{\\partial w} = \\sigma(w x)\\,(1 - \\sigma(w x))\\, x$$
""", r"(1 - \sigma(w x))\, x", r"(1 - \sigma(w x))", 1, "missing_factor"),
    # --- item 2: conventions ------------------------------------------------------------------------------------
    Probe("layers-from-1-override", "% derive: layers-from=1, w^1", tex(r"""% derive: layers-from=1
\[ z^1_j = \sum_k w^1_{jk} x_k + b^1_j, \qquad a^1_j = \sigma(z^1_j) \]
\[ z^2_i = \sum_j w^2_{ij} a^1_j + b^2_i \]
\[ C = \frac{1}{2}\sum_i (z^2_i - y_i)^2 \]
\[ \frac{\partial C}{\partial w^1_{jk}} = \sum_i (z^2_i - y_i)\, w^2_{ij}\, \sigma'(z^1_j)\, x_k \]"""),
          r"\, w^2_{ij}\, \sigma'", r"\, w^2_{ji}\, \sigma'", 1, "index_swap", suffix="tex"),
    Probe("front-matter-layers", "front matter layers-from: 1", """---
title: Two layers
layers-from: 1
---

$$z^1 = w^1 x, \\qquad a^1 = \\tanh(z^1)$$

$$z^2 = w^2 a^1$$

$$E = \\frac{1}{2}(z^2 - y)^2$$

$$\\frac{\\partial E}{\\partial w^1} = (z^2 - y)\\, w^2 (1 - (a^1)^2)\\, x$$
""", r"(z^2 - y)\, w^2 (1", r"(z^2 - y)\, w^1 (1", 1, "layer_index"),
    Probe("bold-vector", r"\mathbf{y} a vector", """$$z_k = \\sum_j u_{kj} h_j$$

$$E = \\frac{1}{2}\\sum_k (z_k - y_k)^2$$

$$\\frac{\\partial E}{\\partial \\mathbf{z}} = \\mathbf{z} - \\mathbf{y}$$
""", r"= \mathbf{z} - \mathbf{y}", r"= \mathbf{y} - \mathbf{z}", 1, "sign"),
    Probe("kronecker", r"\delta_{ij} Kronecker", tex(r"""\[ p_i = \frac{e^{z_i}}{\sum_k e^{z_k}} \]
\[ \frac{\partial p_i}{\partial z_j} = p_i (\delta_{ij} - p_j) \]"""),
          r"= p_i (\delta_{ij} - p_j)", r"= p_i (\delta_{ij} + p_j)", 1, "sign", suffix="tex"),
    Probe("constraint-4", r"t_4 = 1 - t_1 - t_2 - t_3", """Four classes.

$$q_k = \\frac{\\exp(z_k)}{\\sum_{j=1}^{4} \\exp(z_j)}$$

$$E = -\\sum_{k=1}^{4} t_k \\ln q_k, \\qquad t_4 = 1 - t_1 - t_2 - t_3$$

$$\\frac{\\partial E}{\\partial z_k} = q_k - t_k$$
""", r"= q_k - t_k", r"= t_k - q_k", 1, "sign"),
    Probe("square-not-layer", r"z_j^2 a square", """$$E = \\frac{1}{2}\\sum_j z_j^2 + \\sum_j c_j z_j$$

$$\\frac{\\partial E}{\\partial z_j} = z_j + c_j$$
""", r"= z_j + c_j", r"= 2 z_j + c_j", 1, "factor"),
    # --- item 3: numbers ----------------------------------------------------------------------------------------
    Probe("equals-digits", "= to the digits shown", """$$y = \\tanh(w), \\qquad w = 0.5$$

$$\\frac{dy}{dw} = 1 - \\tanh^2(w) = 0.786$$
""", r"= 0.786", r"= -0.786", 2, "sign"),
    Probe("approx-sign", r"\approx with a sign slip", tex(r"""\[ g = \sigma(v), \qquad v = -1.5 \]
\[ \frac{dg}{dv} = g(1 - g) \approx 0.1491 \]"""), r"\approx 0.1491", r"\approx -0.1491", 2, "sign", suffix="tex"),
    Probe("count-N", "N a positive integer", """$$E = \\frac{1}{2N}\\sum_{n=1}^{N} (w x_n - t_n)^2$$

$$\\frac{\\partial E}{\\partial w} = \\frac{1}{N}\\sum_{n=1}^{N} (w x_n - t_n)\\, x_n$$
""", r"= \frac{1}{N}\sum", r"= \frac{2}{N}\sum", 1, "factor"),
    Probe("relu-hidden-gate", "dropped ReLU gate, W^{(1)}", tex(r"""\[ a^{(1)}_j = \sum_i W^{(1)}_{ji} x_i, \qquad h_j = \max(0, a^{(1)}_j) \]
\[ a^{(2)} = \sum_j W^{(2)}_{j} h_j, \qquad E = \frac{1}{2}(a^{(2)} - t)^2 \]
\[ \frac{\partial E}{\partial W^{(1)}_{ji}} = (a^{(2)} - t)\, W^{(2)}_{j}\, \mathbb{1}[a^{(1)}_j > 0]\, x_i \]"""),
          r"\, \mathbb{1}[a^{(1)}_j > 0]\, x_i", r"\, x_i", 1, "missing_gate", suffix="tex"),
    Probe("leaky-kink", r"leaky ReLU \max(0.1 z, z)", """A leaky rectifier.

$$z = w x$$

$$y = \\max(0.1 z, z)$$

$$\\frac{\\partial y}{\\partial w} = (\\mathbb{1}[z > 0] + 0.1\\,\\mathbb{1}[z < 0])\\, x$$
""", r"(\mathbb{1}[z > 0] + 0.1\,\mathbb{1}[z < 0])\, x", r"(\mathbb{1}[z > 0] + 0.1)\, x", 1, "unnamed"),
    # --- item 4: identities -------------------------------------------------------------------------------------
    Probe("identity-sigmoid", r"identity \sigma(-x) = 1 - \sigma(x)", """$$\\sigma(-x) = 1 - \\sigma(x)$$
""", r"= 1 - \sigma(x)", r"= \sigma(x) - 1", 1, "sign"),
    Probe("identity-tanh", r"identity \tanh x = 2\sigma(2x) - 1", tex(r"""\[ \tanh(x) = 2\sigma(2x) - 1 \]"""),
          r"2\sigma(2x) - 1", r"2\sigma(x) - 1", 1, "unnamed", suffix="tex"),
)


def run_verify(text: str, suffix: str, tmp_path: Path, fmt: str = "json", name: str = "probe") -> tuple[int, str]:
    from derive.cli import main
    path = tmp_path / f"{name}.{suffix}"
    path.write_text(text, encoding="utf-8")
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(["verify", str(path), "--format", fmt, "-q"])
    return code, buffer.getvalue()


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_correct_probe_is_accepted(probe, tmp_path):
    code, out = run_verify(probe.text, probe.suffix, tmp_path)
    data = json.loads(out)
    assert code == 0, (data.get("error"), first_failure(data), data.get("skipped"))


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_slipped_probe_is_caught_at_its_step_and_named(probe, tmp_path):
    code, out = run_verify(probe.slipped(), probe.suffix, tmp_path)
    data = json.loads(out)
    assert code == 1, (data.get("error"), data.get("skipped"))
    assert first_failure(data) == (probe.line(), probe.step, probe.slip)


PROBE = {probe.name: probe for probe in PROBES}


def verify_json(text: str, suffix: str, tmp_path: Path) -> tuple[int, dict]:
    code, out = run_verify(text, suffix, tmp_path)
    return code, json.loads(out)


def failing_step(data: dict) -> dict:
    return next(step for claim in data["claims"] for step in claim["steps"] if step["ok"] is False)


# --- item 2: each reading is stated in one line, and a comment or front matter overrides the layer numbering --

@pytest.mark.parametrize("name, kind, sentence", [
    ("top", "layers_from_1", "Read W⁽¹⁾ as the first weight layer: layers are numbered from 1 and the input x is "
                             "layer 0 (detected;"),
    ("T-nielsen", "layers_from_2", "the input is layer 1 and the first weights are w² (detected;"),
    ("layers-from-1-override", "layers_from_1", "(as the document's layers-from comment says)"),
    ("front-matter-layers", "layers_from_1", "(as the document's layers-from comment says)"),
    ("odot", "vector", "Read t as the vector (or matrix) of the tⱼ that the definitions use."),
    ("mathsf-T", "vector", "Read A as the vector (or matrix) of the Aₖⱼ that the definitions use."),
    ("kronecker", "kronecker", "Read δᵢⱼ with two indices as the Kronecker delta"),
    ("softmax", "constraint", "Read Σₖyₖ = 1 as a condition"),
    ("square-not-layer", "powers", "Read integer superscripts as powers"),
    ("abstract-f", "function", "Read f as a function that the document does not define"),
])
def test_each_reading_is_stated(name, kind, sentence, tmp_path):
    probe = PROBE[name]
    _, data = verify_json(probe.text, probe.suffix, tmp_path)
    assert kind in [reading["kind"] for reading in data["readings"]]
    _, text = run_verify(probe.text, probe.suffix, tmp_path, fmt="text")
    lines = [line.strip() for line in text.splitlines() if sentence in line]
    assert len(lines) == 1, text


@pytest.mark.parametrize("front, kind, how", [
    ("layers-from: 1\n", "layers_from_1", "comment says"),
    ("", "layers_from_1", "detected"),  # w^1 beside the input x: detected
    ("layers-from: 2\n", "layers_from_2", "comment says"),
])
def test_front_matter_overrides_the_detected_numbering(front, kind, how, tmp_path):
    text = PROBE["front-matter-layers"].text.replace("layers-from: 1\n", front)
    _, data = verify_json(text, "md", tmp_path)
    readings = [r for r in data["readings"] if r["kind"].startswith("layers")]
    assert [r["kind"] for r in readings] == [kind] and how in readings[0]["text"]


# --- item 3: numbers -----------------------------------------------------------------------------------------

EXACT = 1 - 0.4621171572600098 ** 2  # 1 − tanh²(0.5) = 0.786448…


@pytest.mark.parametrize("written, relation, holds", [
    ("0.786", "=", True), ("0.7864", "=", True), ("0.79", "=", True), ("0.786448", "=", True),
    ("0.787", "=", False), ("0.7865", "=", False), ("-0.786", "=", False),
    ("0.786", r"\approx", True), ("0.8", r"\approx", True), ("-0.786", r"\approx", False),
    ("0.78", r"\approx", False),
])
def test_a_number_holds_to_the_digits_shown(written, relation, holds, tmp_path):
    assert round(EXACT, 3) == 0.786 and round(EXACT, 2) == 0.79  # the oracle for the table above
    text = f"$$y = \\tanh(w), \\qquad w = 0.5$$\n\n$$\\frac{{dy}}{{dw}} = 1 - \\tanh^2(w) {relation} {written}$$\n"
    code, data = verify_json(text, "md", tmp_path)
    assert code == (0 if holds else 1), data
    if not holds and written.startswith("-"):
        assert failing_step(data)["slip_kind"] == "sign"


def test_counts_are_positive_integers_at_the_counterexample(tmp_path):
    probe = PROBE["count-N"]
    _, data = verify_json(probe.slipped(), "md", tmp_path)
    point = failing_step(data)["counterexample"]["point"]
    assert isinstance(point["N"], int) and point["N"] >= 1


@pytest.mark.parametrize("name", ["max-relu", "min-clip", "relu-hidden-gate", "indicator-braces", "mathrm-relu"])
def test_test_points_cross_every_kink(name, tmp_path):
    """A gate dropped from the slip is seen on both sides of its kink: the correct side is 0 somewhere."""
    probe = PROBE[name]
    _, data = verify_json(probe.slipped(), probe.suffix, tmp_path)
    assert data["ok"] is False
    _, data = verify_json(probe.text, probe.suffix, tmp_path)
    assert data["ok"] is True


# --- item 4: every equation is a claim; what cannot be read is skipped with its line ---------------------------

UNREADABLE = r"""$$u = w x + b, \qquad y = \sigma(u)$$

$$E = \frac{1}{2}(y - t)^2$$

$$\lim_{h \to 0} \frac{E(w + h) - E(w)}{h} = \frac{\partial E}{\partial w}$$

$$\frac{\partial E}{\partial w} = (y - t)\, y (1 - y)\, x$$
"""


def test_an_unreadable_relation_is_skipped_with_its_line_and_the_rest_is_checked(tmp_path):
    code, data = verify_json(UNREADABLE, "md", tmp_path)
    assert code == 4
    assert [(s["line"], "lim" in s["reason"]) for s in data["skipped"]] == [(5, True)]
    assert [(c["line"], c["ok"]) for c in data["claims"]] == [(7, True)]
    code, data = verify_json(UNREADABLE.replace(r"y (1 - y)\, x", r"y (1 - y)"), "md", tmp_path)
    assert code == 1 and [s["line"] for s in data["skipped"]] == [5]
    assert failing_step(data)["slip_kind"] == "missing_factor"


# --- item 5: reports ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, claim_mark, step_mark", [
    ("text", "Line 8: does not hold", "[FAIL] Step 1 does not hold"),
    ("markdown", "### \u2717 Line 8: does not hold", "- \u2717 **Step 1 does not hold**"),
    ("html", "<h3>\u2717 Line 8: does not hold</h3>", "<p>\u2717 <strong>Step 1 does not hold</strong>"),
    ("latex", r"\subsection*{$\times$ Line 8: does not hold}", r"\item $\times$ \textbf{Step 1 does not hold}"),
])
def test_the_failing_claim_and_step_are_marked_in_every_format(fmt, claim_mark, step_mark, tmp_path):
    probe = PROBE["circ"]
    code, out = run_verify(probe.slipped(), probe.suffix, tmp_path, fmt=fmt)
    assert code == 1 and claim_mark in out and step_mark in out
    code, out = run_verify(probe.text, probe.suffix, tmp_path, fmt=fmt)
    assert code == 0 and "\u2717" not in out and "$\\times$" not in out and "[FAIL]" not in out


def test_the_json_report_carries_kind_method_readings_and_skipped(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parent.parent / "derive" / "schema" / "verify.schema.json")
                        .read_text(encoding="utf-8"))
    code, data = verify_json(UNREADABLE.replace(r"y (1 - y)\, x", r"y (1 - y)"), "md", tmp_path)
    jsonschema.validate(data, schema)
    assert data["schema_version"] == 1
    step = failing_step(data)
    assert (step["slip_kind"], step["method"]) == ("missing_factor", "numeric")
    assert [s["line"] for s in data["skipped"]] == [5]
    _, data = verify_json(PROBE["top"].text, "md", tmp_path)
    jsonschema.validate(data, schema)
    assert [r["kind"] for r in data["readings"]] == ["layers_from_1", "vector", "vector"]


def test_the_counterexample_lists_only_what_the_failing_step_involves(tmp_path):
    """The slipped member ∂E/∂U_{ji} = v_j x_i: the point names the step's own symbols and its index values, none
    of the network's other units."""
    probe = PROBE["max-relu"]
    _, data = verify_json(probe.slipped(), "tex", tmp_path)
    point = failing_step(data)["counterexample"]["point"]
    assert set(point) <= {"i", "j", "U_{11}", "U_{12}", "U_{21}", "U_{22}", "v_{1}", "v_{2}", "x_{1}", "x_{2}",
                          "z_{1}", "z_{2}", "h_{1}", "h_{2}"}
    assert {"i", "j"} <= set(point)


@pytest.mark.parametrize("name, expected", [
    ("mathsf-T", r"{A}^{\top} \cdot \left(y - t\right)"),
    ("norm", r"\left(y_{k} - t_{k}\right) \cdot h_{j}"),
    ("kronecker", r"p_{i} \cdot \left(\delta_{ij} - p_{j}\right)"),
])
def test_the_correct_right_side_is_in_the_authors_form(name, expected, tmp_path):
    probe = PROBE[name]
    _, data = verify_json(probe.slipped(), probe.suffix, tmp_path)
    assert failing_step(data)["expected"] == expected


def test_a_later_step_is_judged_against_the_authors_previous_line(tmp_path):
    """Step 1 drops x; step 2 rewrites the wrong member correctly (σ' = σ(1 − σ)): only step 1 is wrong."""
    text = UNREADABLE.replace(r"(y - t)\, y (1 - y)\, x$$", r"(y - t)\,\sigma'(u) = (y - t)\, y (1 - y)$$")
    _, data = verify_json(text, "md", tmp_path)
    claim = next(c for c in data["claims"] if c["line"] == 7)
    assert [(s["index"], s["ok"]) for s in claim["steps"]] == [(1, False), (2, True)]
    assert claim["steps"][0]["slip_kind"] == "missing_factor"


def test_the_text_report_writes_maths_in_unicode(tmp_path):
    """Every line derive writes itself (all but the author's own text, quoted after «As written:» and under the
    skipped maths) is free of LaTeX."""
    probe = PROBE["top"]
    _, out = run_verify(probe.slipped(), "md", tmp_path, fmt="text")
    written = [line for line in out.splitlines() if "As written:" not in line]
    assert not [line for line in written if "\\" in line], out
    assert "∂J/∂h" in out and "W²ᵀ" in out


def table(tmp_path: Path) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for probe in PROBES:
        code, out = run_verify(probe.text, probe.suffix, tmp_path)
        data = json.loads(out)
        accepted = "yes" if code == 0 else f"NO (exit {code}: {first_failure(data) or data.get('error') or data.get('skipped')})"
        code, out = run_verify(probe.slipped(), probe.suffix, tmp_path)
        data = json.loads(out)
        failure = first_failure(data)
        caught = "yes" if code == 1 and failure and failure[:2] == (probe.line(), probe.step) else \
            f"NO (exit {code}: {failure or data.get('error') or data.get('skipped')})"
        named = "yes" if failure and failure[2] == probe.slip else f"NO ({failure[2] if failure else '-'} ≠ {probe.slip})"
        rows.append((probe.name, probe.construct, accepted, caught, named))
    return rows


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        for row in table(Path(folder)):
            print(" | ".join(row))
