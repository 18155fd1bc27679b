"""derive: backpropagation as step-by-step derivations that are correct by construction.

``derive.explain(...)``, ``derive.scenario(name)``, ``derive.network(...)``, ``derive.verify_text(text)``,
``derive.verify_file(path)``, each returning a `Result`; the exceptions `InputError` (bad input, a `ValueError`),
`CheckFailure` (a failed self-check: a bug) and their base `DeriveError`. In IPython, ``%load_ext derive`` adds the
``%%derive`` cell magic.
"""
from __future__ import annotations

from importlib import import_module

from .errors import CheckFailure, DeriveError, InputError

__version__ = "0.1.0"
__all__ = ["explain", "scenario", "network", "verify_text", "verify_file", "Result", "NetworkResult",
           "DeriveError", "InputError", "CheckFailure", "__version__"]

LAZY = {"explain": "derive.api", "scenario": "derive.api", "network": "derive.api", "Result": "derive.api",
        "verify_text": "derive.api", "verify_file": "derive.api", "NetworkResult": "derive.networks.backprop"}
"""The API's names and the modules that hold them, loaded on first use so that `derive --version` and `derive list`
start without SymPy (PEP 562)."""


def __getattr__(name: str) -> object:
    if name not in LAZY:
        raise AttributeError(name)
    return getattr(import_module(LAZY[name]), name)


def __dir__() -> list[str]:
    """The module's names with the lazy ones, so that ``dir(derive)`` and a notebook's tab completion offer them."""
    return sorted(set(globals()) | set(LAZY))


def load_ipython_extension(ipython) -> None:
    """``%load_ext derive``: registers the ``%%derive`` cell magic (IPython is needed only here)."""
    import_module("derive.magic").register(ipython)
