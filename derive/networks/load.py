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

from ..errors import InputError, Message, message, shown
from ..files import decode, read_file
from ..locales import catalog
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
        raise InputError(message("network.file_too_large", limit=MAX_TEXT_BYTES, units=MAX_UNITS), name)
    text = decode(data, str(path))
    return load_network(text, name)


def load_network(text: str, source: str = "<network>") -> Network:
    """Parse and validate the TOML text of a network file."""
    try:
        return _Loader(text).load(source)
    except InputError as exc:
        raise InputError.within(source, exc) from None


def to_toml(data: Mapping[str, object]) -> str:
    """A network given as a dict (`derive.network({...})`) written as the TOML text of a network file, so that it
    is validated, limited and shown exactly as a file is. Floats are written as Python prints them (``0.1``), and
    so read as those decimals; keys and values of other kinds are input errors naming the key."""
    tables = data.get("layer") if isinstance(data.get("layer"), (list, tuple)) else None
    lines = [f"{_toml_key(key)} = {_toml_value(value, str(key))}" for key, value in data.items()
             if not (key == "layer" and tables is not None)]
    for index, table in enumerate(tables or ()):
        if not isinstance(table, Mapping):
            raise InputError(message("network.layer_tables"), "layer")
        lines.append("[[layer]]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v, _in_layer(index + 2, k))}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def _toml_key(key: object) -> str:
    if not isinstance(key, str):
        raise InputError.of("network.key_not_string", key=shown(repr(key), 40))
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: object, where: str | Message) -> str:
    if isinstance(value, bool):
        raise InputError(message("network.expected_number", kind=repr(value)), where)
    if isinstance(value, (int, float, Fraction, sympy.Rational)):
        if isinstance(value, (Fraction, sympy.Rational)) and Fraction(str(value)).denominator != 1:
            raise InputError(message("network.fraction", value=shown(value, 40)), where)
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item, where) for item in value) + "]"
    raise InputError(message("network.value_kind", kind=type(value).__name__), where)


class _Float(str):
    """A TOML float kept as its text, so that decimals are read exactly."""


class _Loader:
    def __init__(self, text: str) -> None:
        self.text = text

    def load(self, source: str) -> Network:
        text = self.text
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise InputError(message("network.text_too_large", size=size, limit=MAX_TEXT_BYTES, units=MAX_UNITS),
                             _longest_key(text))
        if "\x00" in text:
            raise InputError.of("network.nul")
        if not text.strip():
            raise InputError.of("network.empty")
        try:
            data = tomllib.loads(text, parse_float=_Float)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(toml_problem(str(exc))) from None
        except RecursionError:
            raise InputError.of("network.toml_deep") from None
        except ValueError as exc:  # tomllib lets Python's int() limit through: an integer of over 4,300 digits
            raise InputError(message("network.number_too_long", problem=str(exc).split(":")[0]),
                             _longest_key(text)) from None
        _no_unknown_keys(data, TOP_KEYS, None)
        for key in ("activation", "loss", "learning_rate", "input", "target", "layer"):
            if key not in data:
                raise InputError.of("network.missing_key_hint", key=key, hint=message(f"network.hint.{key}",
                                                                                      choices=_HINT_CHOICES.get(key)))

        activation = _choice(data["activation"], "activation", ACTIVATIONS)
        loss = _choice(data["loss"], "loss", LOSSES)
        if activation == "leaky_relu":
            slope = _number(data.get("leaky_slope", _Float(DEFAULT_LEAKY_SLOPE)), "leaky_slope")
        elif "leaky_slope" in data:
            raise InputError(message("network.leaky_slope", activation=activation), "leaky_slope")
        else:
            slope = None
        learning_rate = _number(data["learning_rate"], "learning_rate")
        if learning_rate <= 0:
            raise InputError(message("network.rate_positive", value=number_text(learning_rate)), "learning_rate")

        layers = data["layer"]
        if not isinstance(layers, list) or not all(isinstance(t, dict) for t in layers):
            raise InputError(message("network.layer_tables"), "layer")
        if not layers:
            raise InputError(message("network.no_layer"), "layer")
        if len(layers) + 1 > MAX_LAYERS:
            raise InputError(message("network.too_many_layers", tables=len(layers), depth=len(layers) + 1,
                                     limit=MAX_LAYERS), "layer")

        inputs, batched = _samples(data["input"], "input")
        targets, target_batched = _samples(data["target"], "target")
        if batched != target_batched:
            raise InputError(message("network.target_batch" if target_batched else "network.target_single"),
                             "target")
        if len(targets) != len(inputs):
            raise InputError(message("network.target_samples", targets=len(targets), inputs=len(inputs)), "target")

        weights, biases = [], []
        previous = len(inputs[0])
        parameters = 0
        for index, table in enumerate(layers):
            layer = index + 2
            where = message("network.where.layer", layer=layer)
            _no_unknown_keys(table, LAYER_KEYS, where)
            for key in LAYER_KEYS:
                if key not in table:
                    raise InputError(message("network.missing_key", key=key), where)
            W = _matrix(table["W"], _in_layer(layer, "W"))
            b = _vector(table["b"], _in_layer(layer, "b"))
            if len(W[0]) != previous:
                before = (message("network.where.input_layer") if layer == 2
                          else message("network.where.layer", layer=layer - 1))
                raise InputError(message("network.columns", columns=len(W[0]), before=before, units=_units(previous)), where)
            if len(b) != len(W):
                raise InputError(message("network.biases", entries=len(b), rows=len(W), layer=layer), where)
            parameters += len(W) * (len(W[0]) + 1)
            if parameters > MAX_PARAMETERS:
                raise InputError(message("network.too_many_parameters", limit=MAX_PARAMETERS), where)
            weights.append(W)
            biases.append(b)
            previous = len(W)

        if len(targets[0]) != previous:
            raise InputError(message("network.target_values", values=len(targets[0]), layer=len(layers) + 1,
                                     units=_units(previous)), "target")
        if parameters * len(inputs) > MAX_WORK:
            raise InputError(message("network.too_much_work", samples=len(inputs), parameters=parameters,
                                     limit=MAX_WORK), "input")
        if loss == "cross_entropy":
            _probabilities(targets, batched)
        return Network(source, text, activation, slope, loss, learning_rate, tuple(weights), tuple(biases),
                       tuple(inputs), tuple(targets), batched)


_HINT_CHOICES = {"activation": ", ".join(ACTIVATIONS), "loss": ", ".join(LOSSES)}
"""The choices a missing key's hint lists (``network.hint.<key>``)."""

Where = str | Message
"""Where in the file a problem is: a top-level key as written (``input``) or a `Message` (``layer 2: W row 1``)."""


def _in_layer(layer: int, key: object) -> Message:
    return message("network.where.in_layer", layer=layer, key=key)


_TOML_PLACE = re.compile(r"(?P<problem>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)", re.S)


def toml_problem(text: str) -> Message:
    """tomllib's error (``Invalid value (at line 7, column 17)``) as a catalog sentence: tomllib's descriptions are
    the English entries of ``error.network.toml_problem`` (a ``{detail}`` stands for what it quotes); one it does
    not list is kept in tomllib's words."""
    place = _TOML_PLACE.fullmatch(text)
    if place is None:
        return message("network.toml", problem=text)
    problem: Message | str = place["problem"]
    prefix = "error.network.toml_problem."
    for key, english in catalog("en").items():
        pattern = re.escape(english).replace(re.escape("{detail}"), "(?P<detail>.+)")
        found = key.startswith(prefix) and re.fullmatch(pattern, place["problem"], re.S)
        if found:
            problem = message(key[len("error."):], detail=found.groupdict().get("detail"))
            break
    if place["line"] is None:
        return message("network.toml_end", problem=problem)
    return message("network.toml_at", problem=problem, line=place["line"], column=place["column"])


def _units(count: int) -> Message:
    return message("network.unit" if count == 1 else "network.units", count=count)


def _longest_key(text: str) -> Message | None:
    """For an oversized file or number: the key on its longest line, as a hint (``layer 2: b (line 5)``)."""
    lines = text.splitlines() or [text]
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", lines[longest][:200])
    if not match:
        return None
    layer = sum(1 for line in lines[:longest] if re.match(r"\s*\[\[\s*layer\s*\]\]", line))
    key = message("network.where.line", key=match.group(1), line=longest + 1)
    return _in_layer(layer + 1, key) if layer else key


def _no_unknown_keys(table: dict[str, Any], allowed: tuple[str, ...], where: Where | None) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            problem = (message("network.unknown_key_close", key=shown(key), close=close[0]) if close
                       else message("network.unknown_key", key=shown(key), allowed=", ".join(allowed)))
            raise InputError(problem, where)


def _choice(value: object, key: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise InputError(message("network.expected_name", choices=", ".join(allowed), kind=_kind(value)), key)
    if value not in allowed:
        softmax = key == "activation" and value == "softmax"
        raise InputError(message("network.softmax" if softmax else "network.unknown_choice", key=key,
                                 value=shown(value, 40), choices=", ".join(allowed)), key)
    return value


def _kind(value: object) -> Message:
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, str) and not isinstance(value, _Float):
        kind = "string"
    elif isinstance(value, list):
        kind = "list"
    elif isinstance(value, dict):
        kind = "table"
    elif isinstance(value, (int, _Float)):
        kind = "number"
    else:
        kind = "date"
    return message(f"network.kind.{kind}")


def _number(value: object, where: Where) -> Number:
    """An exact rational from a TOML integer or float; rejects NaN, inf, non-numbers and extreme values."""
    if isinstance(value, bool) or not isinstance(value, (int, _Float)):
        raise InputError(message("network.expected_number", kind=_kind(value)), where)
    if isinstance(value, _Float):
        text = value.replace("_", "")
        if text.lstrip("+-") in ("nan", "inf"):
            raise InputError(message("network.not_finite", value=text), where)
        if len(text) > 100:
            raise InputError(message("network.number_chars", limit=100), where)
        exact = Fraction(text)
        if exact.denominator > 10 ** MAX_DECIMALS:
            raise InputError(message("network.decimals", value=text, limit=MAX_DECIMALS), where)
    else:
        exact = Fraction(value)
    if abs(exact) > MAX_MAGNITUDE:
        raise InputError(message("network.magnitude", value=shown(value, 30)), where)
    return sympy.Rational(exact.numerator, exact.denominator)


def _vector(value: object, where: Where) -> Vector:
    if not isinstance(value, list):
        raise InputError(message("network.expected_list", kind=_kind(value)), where)
    if not value:
        raise InputError(message("network.is_empty"), where)
    if len(value) > MAX_UNITS:
        raise InputError(message("network.too_many_entries", entries=len(value), limit=MAX_UNITS), where)
    return tuple(_number(v, message("network.where.entry", where=where, index=k)) for k, v in enumerate(value, 1))


def _matrix(value: object, where: Where) -> tuple[Vector, ...]:
    if not isinstance(value, list) or (value and not all(isinstance(r, list) for r in value)):
        kind = _kind(value) if not isinstance(value, list) else message("network.kind.numbers")
        raise InputError(message("network.expected_rows", kind=kind), where)
    if not value:
        raise InputError(message("network.is_empty"), where)
    if len(value) > MAX_UNITS:
        raise InputError(message("network.too_many_rows", rows=len(value), limit=MAX_UNITS), where)
    rows = []
    for j, row in enumerate(value, 1):
        if not row:
            raise InputError(message("network.row_empty", row=j), where)
        if len(row) > MAX_UNITS:
            raise InputError(message("network.row_too_long", row=j, entries=len(row), limit=MAX_UNITS), where)
        if j > 1 and len(row) != len(value[0]):
            raise InputError(message("network.row_length", row=j, entries=len(row), first=len(value[0])), where)
        rows.append(tuple(_number(v, message("network.where.cell", where=where, row=j, column=i))
                          for i, v in enumerate(row, 1)))
    return tuple(rows)


def _samples(value: object, key: str) -> tuple[list[Vector], bool]:
    """One sample (a list of numbers) or a batch (a non-empty list of lists of the same length)."""
    if not isinstance(value, list):
        raise InputError(message("network.expected_samples", kind=_kind(value)), key)
    if not value:
        raise InputError(message("network.is_empty"), key)
    if all(isinstance(v, list) for v in value):
        if len(value) > MAX_SAMPLES:
            raise InputError(message("network.too_many_samples", samples=len(value), limit=MAX_SAMPLES), key)
        samples = []
        for n, sample in enumerate(value, 1):
            vec = _vector(sample, message("network.where.sample", where=key, sample=n))
            if samples and len(vec) != len(samples[0]):
                raise InputError(message("network.sample_length", sample=n, values=len(vec),
                                         first=len(samples[0])), key)
            samples.append(vec)
        return samples, True
    if any(isinstance(v, list) for v in value):
        raise InputError(message("network.mixed"), key)
    return [_vector(value, key)], False


def _probabilities(targets: list[Vector], batched: bool) -> None:
    """Cross-entropy with a softmax output needs each sample's targets to be a probability vector."""
    def refuse(problem: Message, sample: int) -> InputError:
        return InputError(message("network.in_sample", sample=sample, problem=problem) if batched else problem,
                          "target")

    for n, sample in enumerate(targets, 1):
        for k, t in enumerate(sample, 1):
            if t < 0:
                raise refuse(message("network.negative_target", unit=k, value=number_text(t)), n)
        total = sum(sample, sympy.Integer(0))
        if total != 1:
            raise refuse(message("network.target_sum", total=number_text(total)), n)
