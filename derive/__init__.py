"""derive: backpropagation as step-by-step derivations that are correct by construction.

``derive.explain(...)``, ``derive.scenario(name)``, ``derive.network(...)``, ``derive.verify_text(text)``; the
exceptions `InputError` (bad input, a `ValueError`), `CheckFailure` (a failed self-check: a bug) and their base
`DeriveError`. In IPython, ``%load_ext derive`` adds the ``%%derive`` cell magic.
"""
from __future__ import annotations

from .errors import CheckFailure, DeriveError, InputError

__version__ = "0.1.0"
__all__ = ["explain", "scenario", "network", "verify_text", "verify_file", "Result", "NetworkResult",
           "DeriveError", "InputError", "CheckFailure", "__version__"]


def __getattr__(name: str):
    # the API is imported on first use so that `derive --version` and `derive list` start fast
    if name in ("explain", "scenario", "network", "Result"):
        from . import api
        return getattr(api, name)
    if name == "NetworkResult":
        from .networks.backprop import NetworkResult
        return NetworkResult
    if name in ("verify_text", "verify_file"):  # `derive.verify` is the module; these are its entry points
        from . import verify
        return verify.verify_text if name == "verify_text" else verify.verify_path
    raise AttributeError(name)


def load_ipython_extension(ipython) -> None:
    """``%load_ext derive``: registers the ``%%derive`` cell magic (IPython is needed only here)."""
    from .magic import register
    register(ipython)
