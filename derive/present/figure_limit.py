"""Which graphs are drawn at all (apart from `derive.present.figures`, so that a document that only says whether a
graph follows need not load the layout and its printers: start-up time)."""
from __future__ import annotations

from ..backward import Derivation

MAX_FIGURE_NODES = 60  # a larger graph is not drawn: unreadable on a page, and the layout grows faster than linearly


def drawable(derivation: Derivation) -> bool:
    return len(derivation.graph.nodes) <= MAX_FIGURE_NODES
