"""Network files (TOML) → a validated `Network`, or one `InputError` line naming the key and the problem.

The shape is the one in DESIGN.md. Layers are numbered as in the study material: the input layer is 1, the first
``[[layer]]`` table is layer 2, the last one is layer L (the output layer). ``W[j][i]`` (row j, column i, both
1-based in messages) connects unit i of layer l − 1 to unit j of layer l.

Numbers are read exactly: TOML floats are taken from their text (``0.1`` is 1/10), never through a binary float.

Limits (each violation is an input error naming the key):

- the file: at most ``MAX_TEXT_BYTES`` (1 MiB) of UTF-8;
- a layer: at most ``MAX_UNITS`` (100) units; a network: at most ``MAX_LAYERS`` (32) layers counted as L,
  at most ``MAX_PARAMETERS`` (10,000) weights and biases;
- a batch: at most ``MAX_SAMPLES`` (256) samples, and parameters × samples at most ``MAX_WORK`` (25,000, about
  five seconds of CPU);
- every number: finite, at most ``MAX_MAGNITUDE`` (10⁶) in magnitude and at most ``MAX_DECIMALS`` (30)
  decimal places.
"""
from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import sympy

from ..errors import InputError, shown
from ..files import decode, read_file
from ..notation import number_text
from ..rules import DEFAULT_LEAKY_SLOPE

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
LOSSES = ("sse", "mse", "cross_entropy")

MAX_TEXT_BYTES = 1024 * 1024
MAX_UNITS = 100
MAX_LAYERS = 32
MAX_PARAMETERS = 10_000
MAX_SAMPLES = 256
MAX_WORK = 25_000
MAX_MAGNITUDE = 10 ** 6
MAX_DECIMALS = 30

TOP_KEYS = ("activation", "leaky_slope", "loss", "learning_rate", "input", "target", "layer")
LAYER_KEYS = ("W", "b")

Number = sympy.Rational
Vector = tuple[sympy.Rational, ...]


@dataclass(frozen=True)
class Network:
    """A validated network: parameters, data and settings, every number an exact rational."""

    source: str  # the file name (or "<stdin>") used in messages and titles
    text: str  # the file as given
    activation: str  # of layers 2..L (the output layer is softmax when the loss is cross_entropy)
    leaky_slope: Number | None
    loss: str
    learning_rate: Number
    weights: tuple[tuple[Vector, ...], ...]  # weights[l - 2] is W^l, a tuple of rows
    biases: tuple[Vector, ...]  # biases[l - 2] is b^l
    inputs: tuple[Vector, ...]  # one vector per sample
    targets: tuple[Vector, ...]
    batched: bool  # input given as a list of samples (JSON then holds one vector per sample)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer, n_1 … n_L."""
        return (len(self.inputs[0]),) + tuple(len(b) for b in self.biases)

    @property
    def depth(self) -> int:
        """L, the number of layers counted as the material does (input layer included)."""
        return len(self.biases) + 1

    @property
    def samples(self) -> int:
        return len(self.inputs)

    @property
    def parameters(self) -> int:
        return sum(len(b) * (len(W[0]) + 1) for W, b in zip(self.weights, self.biases))

    def output_activation(self) -> str:
        return "softmax" if self.loss == "cross_entropy" else self.activation

    def activation_of(self, layer: int) -> str:
        return self.output_activation() if layer == self.depth else self.activation


def read_network_file(path: str | Path) -> Network:
    """Read and validate a network file; unreadable, oversized or non-UTF-8 files are input errors."""
    name = shown(path)
    data = read_file(path, MAX_TEXT_BYTES)
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(f"{name}: the file is too large (the limit is {MAX_TEXT_BYTES} bytes; "
                         f"a layer may have at most {MAX_UNITS} units)")
    text = decode(data, str(path))
    return load_network(text, name)


def load_network(text: str, source: str = "<network>") -> Network:
    """Parse and validate the TOML text of a network file."""
    try:
        return _Loader(text).load(source)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


def to_toml(data: Mapping[str, object]) -> str:
    """A network given as a dict (`derive.network({...})`) written as the TOML text of a network file, so that it
    is validated, limited and shown exactly as a file is. Floats are written as Python prints them (``0.1``), and
    so read as those decimals; keys and values of other kinds are input errors naming the key."""
    tables = data.get("layer") if isinstance(data.get("layer"), (list, tuple)) else None
    lines = [f"{_toml_key(key)} = {_toml_value(value, str(key))}" for key, value in data.items()
             if not (key == "layer" and tables is not None)]
    for index, table in enumerate(tables or ()):
        if not isinstance(table, Mapping):
            raise InputError("expected [[layer]] tables, each with W and b", "layer")
        lines.append("[[layer]]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v, f'layer {index + 2}: {k}')}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def _toml_key(key: object) -> str:
    if not isinstance(key, str):
        raise InputError(f"keys must be strings, got {key!r}")
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: object, where: str) -> str:
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float, Fraction, sympy.Rational)):
        if isinstance(value, (Fraction, sympy.Rational)) and Fraction(str(value)).denominator != 1:
            raise InputError(f"{where}: {value} is a fraction; give its decimal (TOML has no fractions)")
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item, where) for item in value) + "]"
    raise InputError(f"{where}: expected numbers, lists of numbers or a string, got {type(value).__name__}")


class _Float(str):
    """A TOML float kept as its text, so that decimals are read exactly."""


class _Loader:
    def __init__(self, text: str) -> None:
        self.text = text

    def load(self, source: str) -> Network:
        text = self.text
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise InputError(f"{_longest_key(text)}the file is {size} bytes; the limit is {MAX_TEXT_BYTES} bytes "
                             f"(a layer may have at most {MAX_UNITS} units)")
        if "\x00" in text:
            raise InputError("the file contains a NUL byte; a network file is TOML text")
        if not text.strip():
            raise InputError("the network file is empty")
        try:
            data = tomllib.loads(text, parse_float=_Float)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not valid TOML: {exc}") from None
        except RecursionError:
            raise InputError("not valid TOML: nested too deeply") from None
        except ValueError as exc:  # tomllib lets Python's int() limit through: an integer of over 4,300 digits
            raise InputError(f"{_longest_key(text)}a number is too long to read ({str(exc).split(':')[0]})") from None
        _no_unknown_keys(data, TOP_KEYS, "")
        for key in ("activation", "loss", "learning_rate", "input", "target", "layer"):
            if key not in data:
                raise InputError(f"missing key '{key}'{_HINTS[key]}")

        activation = _choice(data["activation"], "activation", ACTIVATIONS)
        loss = _choice(data["loss"], "loss", LOSSES)
        if activation == "leaky_relu":
            slope = _number(data.get("leaky_slope", _Float(DEFAULT_LEAKY_SLOPE)), "leaky_slope")
        elif "leaky_slope" in data:
            raise InputError(f"leaky_slope: only used with activation = \"leaky_relu\" (activation is "
                             f"\"{activation}\")")
        else:
            slope = None
        learning_rate = _number(data["learning_rate"], "learning_rate")
        if learning_rate <= 0:
            raise InputError(f"learning_rate: must be positive, got {number_text(learning_rate)}")

        layers = data["layer"]
        if not isinstance(layers, list) or not all(isinstance(t, dict) for t in layers):
            raise InputError("layer: expected [[layer]] tables, each with W and b")
        if not layers:
            raise InputError("layer: the network needs at least one [[layer]] table")
        if len(layers) + 1 > MAX_LAYERS:
            raise InputError(f"layer: {len(layers)} [[layer]] tables make L = {len(layers) + 1} layers; "
                             f"the limit is L = {MAX_LAYERS}")

        inputs, batched = _samples(data["input"], "input")
        targets, target_batched = _samples(data["target"], "target")
        if batched != target_batched:
            raise InputError("target: " + ("is a batch (a list of samples) but input is a single sample"
                                           if target_batched else
                                           "is a single sample but input is a batch (a list of samples)"))
        if len(targets) != len(inputs):
            raise InputError(f"target: has {len(targets)} samples but input has {len(inputs)}")

        weights, biases = [], []
        previous = len(inputs[0])
        parameters = 0
        for index, table in enumerate(layers):
            layer = index + 2
            where = f"layer {layer}"
            _no_unknown_keys(table, LAYER_KEYS, where + ": ")
            for key in LAYER_KEYS:
                if key not in table:
                    raise InputError(f"{where}: missing key '{key}'")
            W = _matrix(table["W"], f"{where}: W")
            b = _vector(table["b"], f"{where}: b")
            if len(W[0]) != previous:
                before = "layer 1 (the input)" if layer == 2 else f"layer {layer - 1}"
                raise InputError(f"{where}: W has {len(W[0])} columns but {before} has {previous} "
                                 f"unit{'s' if previous != 1 else ''}")
            if len(b) != len(W):
                raise InputError(f"{where}: b has {len(b)} entries but W has {len(W)} rows "
                                 f"(one bias per unit of layer {layer})")
            parameters += len(W) * (len(W[0]) + 1)
            if parameters > MAX_PARAMETERS:
                raise InputError(f"{where}: the network has more than {MAX_PARAMETERS} weights and biases "
                                 f"(the limit)")
            weights.append(W)
            biases.append(b)
            previous = len(W)

        if len(targets[0]) != previous:
            raise InputError(f"target: has {len(targets[0])} values but the output layer (layer "
                             f"{len(layers) + 1}) has {previous} unit{'s' if previous != 1 else ''}")
        if parameters * len(inputs) > MAX_WORK:
            raise InputError(f"input: {len(inputs)} samples × {parameters} parameters is more than the limit of "
                             f"{MAX_WORK}")
        if loss == "cross_entropy":
            _probabilities(targets, batched)
        return Network(source, text, activation, slope, loss, learning_rate, tuple(weights), tuple(biases),
                       tuple(inputs), tuple(targets), batched)


_HINTS = {
    "activation": f" (one of {', '.join(ACTIVATIONS)})",
    "loss": f" (one of {', '.join(LOSSES)})",
    "learning_rate": " (a positive number such as 0.1)",
    "input": " (a list of numbers, or a list of samples)",
    "target": " (a list of numbers, or a list of samples)",
    "layer": " (one [[layer]] table with W and b per layer after the input)",
}


def _longest_key(text: str) -> str:
    """For an oversized file or number: the key on its longest line, as a hint ("layer 2: b: "), or nothing."""
    lines = text.splitlines() or [text]
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", lines[longest][:200])
    if not match:
        return ""
    layer = sum(1 for line in lines[:longest] if re.match(r"\s*\[\[\s*layer\s*\]\]", line))
    return (f"layer {layer + 1}: " if layer else "") + f"{match.group(1)} (line {longest + 1}): "


def _no_unknown_keys(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
            raise InputError(f"{where}unknown key '{shown(key)}'{hint}")


def _choice(value: object, key: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise InputError(f"{key}: expected a name in quotes (one of {', '.join(allowed)}), got {_kind(value)}")
    if value not in allowed:
        extra = ""
        if key == "activation" and value == "softmax":
            extra = "; softmax is the output of loss = \"cross_entropy\", not an activation of its own"
        raise InputError(f"{key}: unknown {key} '{shown(value, 40)}' (choose from {', '.join(allowed)}){extra}")
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str) and not isinstance(value, _Float):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (int, _Float)):
        return "a number"
    return "a date or time"


def _number(value: object, where: str) -> Number:
    """An exact rational from a TOML integer or float; rejects NaN, inf, non-numbers and extreme values."""
    if isinstance(value, bool) or not isinstance(value, (int, _Float)):
        raise InputError(f"{where}: expected a number, got {_kind(value)}")
    if isinstance(value, _Float):
        text = value.replace("_", "")
        if text.lstrip("+-") in ("nan", "inf"):
            raise InputError(f"{where}: {text} is not a finite number")
        if len(text) > 100:
            raise InputError(f"{where}: the number has more than 100 characters")
        exact = Fraction(text)
        if exact.denominator > 10 ** MAX_DECIMALS:
            raise InputError(f"{where}: {text} has more than {MAX_DECIMALS} decimal places")
    else:
        exact = Fraction(value)
    if abs(exact) > MAX_MAGNITUDE:
        raise InputError(f"{where}: {shown(value, 30)} is too large (the limit is 10^6 in magnitude)")
    return sympy.Rational(exact.numerator, exact.denominator)


def _vector(value: object, where: str) -> Vector:
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of numbers, got {_kind(value)}")
    if not value:
        raise InputError(f"{where}: is empty")
    if len(value) > MAX_UNITS:
        raise InputError(f"{where}: has {len(value)} entries; the limit is {MAX_UNITS} units per layer")
    return tuple(_number(v, f"{where} entry {k}") for k, v in enumerate(value, 1))


def _matrix(value: object, where: str) -> tuple[Vector, ...]:
    if not isinstance(value, list) or (value and not all(isinstance(r, list) for r in value)):
        raise InputError(f"{where}: expected a list of rows (a list of lists of numbers), got "
                         f"{_kind(value) if not isinstance(value, list) else 'a list of numbers'}")
    if not value:
        raise InputError(f"{where}: is empty")
    if len(value) > MAX_UNITS:
        raise InputError(f"{where}: has {len(value)} rows; the limit is {MAX_UNITS} units per layer")
    rows = []
    for j, row in enumerate(value, 1):
        if not row:
            raise InputError(f"{where}: row {j} is empty")
        if len(row) > MAX_UNITS:
            raise InputError(f"{where}: row {j} has {len(row)} entries; the limit is {MAX_UNITS} units per layer")
        if j > 1 and len(row) != len(value[0]):
            raise InputError(f"{where}: row {j} has {len(row)} entries but row 1 has {len(value[0])} "
                             "(every row needs one weight per unit of the previous layer)")
        rows.append(tuple(_number(v, f"{where} row {j}, column {i}") for i, v in enumerate(row, 1)))
    return tuple(rows)


def _samples(value: object, key: str) -> tuple[list[Vector], bool]:
    """One sample (a list of numbers) or a batch (a non-empty list of lists of the same length)."""
    if not isinstance(value, list):
        raise InputError(f"{key}: expected a list of numbers or a list of samples, got {_kind(value)}")
    if not value:
        raise InputError(f"{key}: is empty")
    if all(isinstance(v, list) for v in value):
        if len(value) > MAX_SAMPLES:
            raise InputError(f"{key}: has {len(value)} samples; the limit is {MAX_SAMPLES}")
        samples = []
        for n, sample in enumerate(value, 1):
            vec = _vector(sample, f"{key}: sample {n}")
            if samples and len(vec) != len(samples[0]):
                raise InputError(f"{key}: sample {n} has {len(vec)} values but sample 1 has {len(samples[0])}")
            samples.append(vec)
        return samples, True
    if any(isinstance(v, list) for v in value):
        raise InputError(f"{key}: mixes numbers and lists; give one sample [x, y, …] or a batch [[…], […]]")
    return [_vector(value, key)], False


def _probabilities(targets: list[Vector], batched: bool) -> None:
    """Cross-entropy with a softmax output needs each sample's targets to be a probability vector."""
    for n, sample in enumerate(targets, 1):
        where = f"target: sample {n}" if batched else "target:"
        for k, t in enumerate(sample, 1):
            if t < 0:
                raise InputError(f"{where} unit {k} is {number_text(t)}, a negative number; cross_entropy targets are "
                                 "probabilities")
        total = sum(sample, sympy.Integer(0))
        if total != 1:
            raise InputError(f"{where} sums to {number_text(total)}; with cross_entropy each sample's targets must "
                             "sum to 1 (one-hot labels or probabilities)")
