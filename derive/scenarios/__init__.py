"""The built-in scenarios of the study material, each a module with ``build() -> Walkthrough``."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from ..errors import InputError, shown

if TYPE_CHECKING:  # `derive list` reads SCENARIOS without importing SymPy
    from ..walkthrough import Walkthrough

SCENARIOS = ("toast", "linear-model", "sigmoid-sse", "softmax-cross-entropy", "delta-recurrence", "activations", "optimizers", "vanishing-gradients")


def build(name: str) -> Walkthrough:
    if name not in SCENARIOS:
        raise InputError.of("choice.scenario", name=shown(name), choices=", ".join(SCENARIOS))
    return import_module(f"{__name__}.{name.replace('-', '_')}").build()
