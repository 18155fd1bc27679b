"""derive: backpropagation as step-by-step derivations that are correct by construction."""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["explain", "scenario", "network", "__version__"]


def __getattr__(name: str):
    # the API is imported on first use so that `derive --version` and `derive list` start fast
    if name in ("explain", "scenario", "network", "Result"):
        from . import api
        return getattr(api, name)
    raise AttributeError(name)
