"""derive: backpropagation as step-by-step derivations that are correct by construction."""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["explain", "scenario", "network", "verify_text", "verify_file", "__version__"]


def __getattr__(name: str):
    # the API is imported on first use so that `derive --version` and `derive list` start fast
    if name in ("explain", "scenario", "network", "Result"):
        from . import api
        return getattr(api, name)
    if name in ("verify_text", "verify_file"):  # `derive.verify` is the module; these are its entry points
        from . import verify
        return verify.verify_text if name == "verify_text" else verify.verify_path
    raise AttributeError(name)
