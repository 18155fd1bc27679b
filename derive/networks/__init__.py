"""Layered networks from a TOML file: `derive explain --network FILE.toml` and `derive.network(path)`.

    network = load_network(text, "net.toml")      # validate (derive.errors.InputError: one line naming the key)
    result = explain_network(network)             # derive and check (derive.errors.CheckFailure on a bug)
    derive.present.render.render(result, "markdown", "ja")   # markdown, latex, beamer, html or json

The work is split in four modules: `load` (the file format, its validation and its limits), `backprop`
(shape-carrying matrices, the forward pass, δ^L, the δ recurrence, gradients, the step, the checks), `notation`
(the display nodes of matrices, shapes, ⊙ and transposes, which `derive.notation.DerivePrinter` prints). This module
is the public face of the model; import only from here. The walk-through's sections and JSON live a layer up, in
`derive.present.network`.
"""
from __future__ import annotations

from pathlib import Path

from .backprop import Mat, NetworkResult, ShapeError, explain_network
from .load import (MAX_DECIMALS, MAX_LAYERS, MAX_MAGNITUDE, MAX_PARAMETERS, MAX_SAMPLES, MAX_TEXT_BYTES, MAX_UNITS,
                   MAX_WORK, Network, load_network, read_network_file)

__all__ = [
    "MAX_DECIMALS", "MAX_LAYERS", "MAX_MAGNITUDE", "MAX_PARAMETERS", "MAX_SAMPLES", "MAX_TEXT_BYTES", "MAX_UNITS",
    "MAX_WORK", "Mat", "Network", "NetworkResult", "ShapeError", "explain_file", "explain_network", "explain_text",
    "load_network", "read_network_file",
]


def explain_file(path: str | Path) -> NetworkResult:
    """Read, validate, derive and check a network file (what `derive.network(path)` returns)."""
    return explain_network(read_network_file(path))


def explain_text(text: str, source: str = "<network>") -> NetworkResult:
    """The same for the text of a network file (stdin, a notebook cell)."""
    return explain_network(load_network(text, source))
