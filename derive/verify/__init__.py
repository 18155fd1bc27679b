r"""``derive verify``: check the derivatives claimed in a Markdown or LaTeX document, step by step.

Only maths is read (``$…$``, ``$$…$$``, ``\[…\]``, ``\(…\)``, equation/align/gather/multline… environments; see
`derive.verify.document`). Each equation is one of

- a **definition**: one symbol on the left (``Z = w_1 x_1 + w_2 x_2 + b``, ``A = \sigma(Z)``,
  ``\delta^l_j := \frac{\partial C}{\partial z^l_j}``). Index letters on the left make it a template
  (``z^{2}_{j} = \sum_i w^{2}_{ji} a^{1}_{i} + b^{2}_{j}`` holds for every j; a layer letter ``l`` for l = 2…L).
  A symbol set to a number (``x = 2``) is a *value*: the document's point. A second equation for a symbol that
  is already defined is a claim (``\delta^L_j = (a^L_j - t_j)\sigma'(z^L_j)`` once δ is defined as a derivative;
  ``y = 2`` once ``y = wx`` is defined, checked at the document's values).
- a **claim**: a chain whose left side is a derivative — ``\frac{\partial E}{\partial A}``, ``\frac{dE}{dw}``,
  ``∂E/∂A``, ``\frac{d}{dx}\log x``, ``\sigma'(z)``. Each ``=`` is a step, numbered from 1: step k compares
  members k and k + 1.
- a **condition** ``\sum_k t_k = 1``: at every test point the last t_k is 1 minus the others (any number of
  classes); ``\sum_k t_{nk} = 1`` holds so for every n (each sample of a batch).
- an **assignment** ``x \leftarrow e = … = 2`` (also ``\gets``, ←): the chain after the arrow is a claim, read at the
  values before it; from the next line on, x has e's exact value (an optimiser's ``m_w \leftarrow \beta m_w + …``
  read line after line). A subscript that is a variable the scope's bindings give a number (``g_w`` beside
  ``given w = 1``) names that variable, it is not an index.
- a **difference** ``a \neq b``: holds when the two sides are not the same expression (a page quoting a slip).
- a **bound** ``a \leq b`` (``\geq``, ``<``, ``>``, ≤, ≥; in a chain with ``=``): at the document's values when it
  gives every leaf one, exactly, each printed number as printed (x = 1/3 ≤ 0.333333 does not hold); else at random
  points, where it must hold at every one (``\sigma'(z) \leq \frac{1}{4}``).
- a **size** ``N := 2``: a constant, not a variable of the point (1/N is ½; a sum up to N has N terms).
- anything else (``x \in \mathbb{R}^n``, ``f(x) = …``) is **skipped** and listed.

A relation that cannot be read is listed under skipped with its line and the reason, and the document goes on:
the exit code is 4 when nothing failed but something could not be read, never a silent pass. Only a document
that cannot be read at all (not UTF-8, unbalanced braces, ``\input``…) is an error (exit 2).

``\approx`` continues a chain like ``=``; a number written with decimals (after ``=`` or ``\approx``) holds when
it is the exact value rounded to the digits shown (−0.197 for −0.196612), so a sign slip after ≈ fails.

Reading the notation
--------------------
- Letters written side by side multiply (``wx`` is w·x); ``\cdot``, ``\times``, ``*`` too; ``\odot`` is the
  element-wise product.
- Subscripts are indices kept **in order**: ``w_{ji}`` and ``w_{ij}`` are different symbols; ``{ji}`` is j, i;
  ``{12}`` is 1, 2; ``{j,i}`` and ``{i+1}`` work; ``x_{\mathrm{in}}`` is a tag. Lower-case letters are index
  variables, upper-case letters (``C_T``) and words are fixed tags.
- Superscripts, in this order: ``T``, ``\top``, ``\intercal`` is a transpose; ``'``/``\prime`` a prime;
  a parenthesised or bracketed superscript ``^{(l)}``, ``^{[l]}`` a layer index; the letters ``l`` and ``L`` and
  ``l ± n``/``L ± n`` a layer index; an integer on w, W, a, z, b, δ, Δ a layer index when the document numbers
  layers (a layer letter on one of them, or two different integers: ``a^2_1`` is unit 1 of layer 2), else a power
  (Bishop's ``1 - z_j^2``); anything else a power. ``e^{x}`` is exp(x).
- Layers: weights numbered from 1 (``W^{(1)}``, ``b^{[1]}``) put the input at layer 0, else the input is layer 1
  and the first weights are w^2; ``% derive: layers-from=1`` (or an HTML comment, or a front-matter line
  ``layers-from: 1``) decides. The report states each convention it read in one line.
- ``\{…\}`` are parentheses; plain braces only group, as LaTeX typesets them: ``\sigma(z){1 - \sigma(z)}`` is
  σ(z)·1 − σ(z) (the report names such a slip "grouping"). ``\max(u, v)``/``\min``, ``\mathbb{1}[u > 0]`` (a unit
  step) and ``\mathbb{1}(i = j)``, a δ with two indices and no definition (Kronecker), ``\nabla_{X} J``
  (∂J/∂X), ``\tanh^2 x``, ``\frac{d\sigma(x)}{dx}``, ``\log\sum_j …`` (log of the whole sum), ``\mathcal{L}``,
  ``\ell``, ``\sum_{i,j}`` and ``\sum_{\substack{1 \leq n \leq N\\1 \leq k \leq K}}`` (Σ_n Σ_k) are read;
  ``\prod_{k=l}^{L-1}`` has its limits bound like Σ's (a letter superscript on a layered base, ``w^{k+1}``, is then a
  layer); ``|x|``, ``\lvert x \rvert`` is the absolute value; ``\frac{d^{2}}{d s^{2}} g(s)``,
  ``\frac{\partial^{2} f}{\partial x \partial y}`` are first derivatives taken twice. A bare y
  beside a vector is the vector of the y_j the definitions use. In a claim written in vector notation (∂E/∂z, a
  transpose, ⊙), a bare letter the definitions use only with index letters and no layer is the vector (z for the
  z_j, also ``\mathbf{z}``) or matrix (A for the A_{kj}); inside a norm ‖w‖² it always is; a number beside such a
  vector stands in every entry (1 − a). ``\operatorname{softmax}_{k}(z_1, …, z_K)`` and
  ``\mathrm{softmax}(z)_i`` are e^{z_i}/Σ_j e^{z_j}; a matrix written out (``array``, ``pmatrix``, ``bmatrix``)
  is compared entry by entry. A batch: a layered letter the definitions write with a unit and a sample index
  (``a^{l}_{j,n}``) is, bare, the matrix with one row per unit and one column per sample (as many as the
  definitions' Σ over n runs), a bare t they index twice is, beside a matrix, the matrix of the t_{j,n}, and
  ``\mathbf{1}_{N}`` is the column of N ones (transposed, the row that adds a bias to every column).
  ``f(z)``, ``g'(u)``, ``h(a)`` against their parenthesis are functions (defined by
  ``f(z) = …`` or left abstract, and the report says so), unless the letter is a quantity the document defines
  (g = σ(v) makes g(1 − g) a product).
- ``\log`` and ``\ln`` are the natural logarithm; functions: ``\log \ln \exp \sqrt \tanh \sin \cos \sigma``,
  ``\operatorname{ReLU}``, ``\max``, ``\min``; ``\sigma'(z)`` is the derivative of the sigmoid at z (computed, not assumed).
  ``\pi`` is π; a lone ``e`` is a variable.
- ``y'`` is the symbol y-prime (the material's target), ``\hat{y}`` y-hat. ``\color{…}``, ``\displaystyle``,
  ``\left``/``\right``, spacing and ``\label``/``\tag`` are ignored; ``\mathrm{d}`` is a differential,
  ``\mathrm{word}`` a name. Unknown macros, ``\input``, ``\def`` and ``\newcommand`` are refused.

Indices and sums
----------------
Claims and templates are checked on small concrete networks: an index ranges over 1…n where n is the sum's stated
bound (a number, or a symbol the document sets to a number), else the size of the layer it indexes (layer sizes
2, 3, 2, 3, … for layers 1, 2, 3, 4, …, so that a transposed weight is a different weight), else 2. L is the
document's value for L, else its largest layer number, else 3. A claim with free indices is checked for every
binding (at most 64) and the report says so ("componentwise").

A Σ whose summand does not use its index (``E = \frac12\sum_{i=1}^{n}(A - Y)^2`` with A, Y per sample), or a Σ
with no index at all, has an *implicit* index: derive reads such a sum per sample, the way the texts mean it.
When a claim keeps Σ on its right side, its derivative is read term by term inside the sum (∂/∂A Σ g = Σ ∂g/∂A);
the report calls this reading "termwise". Without Σ on the right the claim is read component by component.

Deciding a step
---------------
Members are turned into SymPy (``evaluate=False`` for display); derivatives stay opaque until they are resolved
against the definitions (∂N/∂V: N unrolled to the leaves with V kept as a variable, then differentiated). A step
holds if the difference expands (or cancels) to 0, else it is evaluated at random points (values of size 0.1…1.9
and either sign, so that every kink is crossed; counts N, K, M, n, m, B positive integers; seeded by the line, so
reports are reproducible; where those points leave one side of a kink unseen (ReLU, 𝟙[u > 0], |u| of any
argument, such as min(z, 1) = z − ReLU(z − 1)), a point on that side is added).
The document's values are not assumptions: an identity must hold everywhere, and one
that needs a condition (targets summing to 1) must state it (``\sum_k t_k = 1`` or ``t_2 = 1 - t_1``); a ∂-chain
that leaves out a link worth 1 (∂z/∂b for z = wx + b) holds when its values agree; the report says so when a step holds only at the document's values. A member written
without letters (``= -4``), or with some of the document's values put in (``(y - t) \cdot 2`` once x = 2), is
compared at the document's values. A member made only of ∂-factors is checked against the definitions'
dependency graph: each factor a real dependency (one edge or a chain of them, such as δ), each product a
connected chain from the output to the variable, and the sum must contain every path exactly once.

For a false step the report gives a point where the sides differ with both values, the correct right side computed
by derive (in the author's own form when one change to the author's member makes the step hold), and the likely
slip: a constant factor (constant ratio), a sign (ratio −1), swapped indices (also two index letters swapped
throughout), a transpose or a wrong layer (the change makes the step hold), a missing or extra chain-rule factor
(the ratio is a local derivative of the definitions), an extra factor anywhere (leaving it out makes the step
hold), or for ∂-chains the factor, link or path that is wrong.

Limits
------
Documents up to 256 KiB (a LaTeX page whose preamble is derive's own, 4 MiB: `derive.verify.own_tex`), 40 levels of nesting, 8000 characters per formula, sums of at most 100 terms and 20 000
in all, exponents up to 1000. Each claim gets ``time_limit`` seconds (SIGALRM when run in the main thread);
a claim that runs out is undecided (exit 4). Nothing in the document is evaluated as code, and no other file is
read.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import Message, message
from .check import (ClaimCache, ClaimResult, Counterexample, DefinitionRead, Report, ReportError, Skipped, Slip,
                           StepResult, analyse)
from ..errors import InputError
from ..files import read_file, shipped_folder
from .document import MAX_DOCUMENT_BYTES
from .own_tex import OWN_DOCUMENT_BYTES, Trusted

__all__ = ["verify_text", "ClaimCache", "verify_bytes", "verify_path", "Report", "example_documents",
           "ClaimResult", "StepResult", "Counterexample", "Slip", "Skipped", "DefinitionRead", "ReportError",
           "MAX_DOCUMENT_BYTES", "OWN_DOCUMENT_BYTES", "Trusted"]


def verify_text(text: str, *, time_limit: float = 10.0, trusted: Trusted | None = None,
                claims_checked: ClaimCache | None = None) -> Report:
    """Check every claim of a document given as text. Never raises for bad input: an unreadable document gives
    a `Report` with ``error`` set (``exit_code`` 2). ``trusted`` gives derive's own LaTeX definitions
    (`derive.verify.own_tex`): a page of derive's is then read with its macros. ``claims_checked`` holds claims
    checked before (`ClaimCache`: each distinct claim of a build is checked once)."""
    if not isinstance(text, str):
        raise TypeError("verify_text takes a str; use verify_bytes for bytes")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return Report(error=ReportError.of(None, message("verify.empty")))
    try:
        return analyse(text, time_limit, trusted, claims_checked)
    except RecursionError:
        return Report(error=ReportError.of(None, message("verify.too_deep")))


def verify_bytes(data: bytes, *, time_limit: float = 10.0, trusted: Trusted | None = None) -> Report:
    """As `verify_text`, from bytes: more than 256 KiB (a page carrying derive's definitions: 4 MiB) or anything
    but UTF-8 is an error report (exit 2)."""
    if len(data) > MAX_DOCUMENT_BYTES and (trusted is None or len(data) > OWN_DOCUMENT_BYTES):
        return Report(error=ReportError.of(None, message("verify.too_large", limit=MAX_DOCUMENT_BYTES // 1024)))
    if not data.strip():
        return Report(error=ReportError.of(None, message("verify.empty")))
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        return Report(error=ReportError.of(line, message("verify.nul")))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return Report(error=ReportError.of(line, message("verify.not_utf8")))
    return verify_text(text, time_limit=time_limit, trusted=trusted)


def verify_path(path: str | Path, *, time_limit: float = 10.0, trusted: Trusted | None = None) -> Report:
    """Read one file (at most 256 KiB + 1 bytes are read, with ``trusted`` 4 MiB + 1) and check it; problems
    reading it are error reports."""
    try:
        data = read_file(path, MAX_DOCUMENT_BYTES if trusted is None else OWN_DOCUMENT_BYTES)
    except InputError as exc:
        whole = exc.whole()
        return Report(error=ReportError.of(None, whole) if isinstance(whole, Message) else ReportError(None, whole))
    return verify_bytes(data, time_limit=time_limit, trusted=trusted)


def example_documents() -> list[tuple[str, str]]:
    """``(name, text)`` of every ``examples/verify/*.md``, by name (the gallery's verification examples)."""
    folder = shipped_folder("examples") / "verify"
    return [(path.stem, path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.md"))]
