"""What the LaTeX article and the Beamer slides need beyond the common context.

`tex_context` adds: the engine (first line of the document), the preamble pieces of that engine, the TikZ
figures of the computational graph (from `derive.present.figures`), the overlay plan of the backward walk for Beamer, and
two helpers the templates call: ``esc`` (`escape_prose`: catalog prose made safe for LaTeX, ``$…$`` maths left
untouched) and ``rows`` (`align_rows`: a printed chain ``a = b = c`` as the rows of an ``align*``).

Nothing here builds maths: every formula still comes from `derive.notation` through `derive.present.context`; this module
only splits printed chains at their top-level ``=`` and escapes prose.
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

from ..notation import chain_latex, latex, name_latex
from ..locales import catalog
from .context import figure_note
from .figure_fit import LEAST_SCALE, fit_scale, natural_size, neighbourhood, overview_tikz, wrap_starts
from .block_figure import block_layout
from .figures import TIKZ_DEFINITIONS, TIKZ_PREAMBLE, layout, to_tikz
from .formats import LANGUAGES
from .lecture import PLAIN, TexOptions, check_step_numbers
from .page_room import ArticleRoom, SlideRoom, article_room, slide_room
from .tex_prose import MATH_CHARS, TEXT_CHARS, document_head, escape_code, escape_prose, preamble  # noqa: F401
from .templating import environment, tidy

if TYPE_CHECKING:
    from ..backward import Derivation
    from ..walkthrough import Walkthrough
    from .figures import Layout

STEPS_PER_FRAME = 6
"""Backward steps on one Beamer frame (each step is one overlay); more steps continue on the next frame."""

TERMS_PER_SLIDE = 1
"""Inputs of one step shown on one overlay; a step with more inputs takes several overlays (the text keeps its
size: nothing on a step's slides is shrunk to fit)."""

ROWS_PER_TABLE_FRAME = 9
"""Rows of the node table on one slide."""

BIG_GRAPH_NODES = 15
"""Graphs with more nodes get more of the slide in the backward walk, and the steps' text gets shorter."""

CHANGES_PER_FRAME = 5
"""Parameter updates on one slide (each appears on its own overlay)."""

LONG_TABLE_ROWS = 36
"""Article tables with more rows than this become ``longtable`` (which may break across pages, but needs a second
run); node tables with short definitions go side by side first."""

GRADIENTS_PER_FRAME = 5
"""Gradient equations on one slide of the 'gradients collected' frames."""

# --- prose: in `derive.present.tex_prose` (a verification report needs only that), offered here too ---------------

# --- chains ---------------------------------------------------------------------------------------------------------

ARTICLE_EM = 38.0
"""Room for a displayed formula in the article, in em (16 cm of A4 at 11 pt, less a margin)."""

SLIDE_EM = 33.0
"""Room for a displayed formula on a slide, in em (14 cm at 11 pt, less a margin)."""



def chain_members(chain: str) -> list[str]:
    """A printed chain ``a = b = c`` split at its top-level ``=`` (outside braces and ``\\left…\\right``)."""
    members, depth, start, i = [], 0, 0, 0
    while i < len(chain):
        if chain.startswith("\\left", i) and not chain[i + 5:i + 6].isalpha():
            depth, i = depth + 1, i + 5
        elif chain.startswith("\\right", i) and not chain[i + 6:i + 7].isalpha():
            depth, i = depth - 1, i + 6
        elif chain[i] == "\\":
            i += 2  # an escaped character or the first letter of a command; "\{" must not count
        elif chain[i] == "{":
            depth, i = depth + 1, i + 1
        elif chain[i] == "}":
            depth, i = depth - 1, i + 1
        elif chain[i] == "=" and depth == 0:
            members.append(chain[start:i].strip())
            start = i = i + 1
        else:
            i += 1
    members.append(chain[start:].strip())
    return members


def align_rows(chain: str, budget: float = ARTICLE_EM) -> str:
    """The rows of an ``align*`` (or ``aligned``) for a chain: ``a &= b \\\\ &= c``, one member per row; a member
    wider than ``budget`` (in em, estimated) continues on further rows, broken before a top-level ``+``/``−``
    (or ``·`` when it has none), each continuation indented by a quad."""
    members = chain_members(chain)
    if len(members) == 1:
        return "&" + " \\\\\n  &\\quad ".join(_break(members[0], budget))
    first, *rest = members
    room = max(budget - math_width(first) - 1.5, budget / 3)
    rows = []
    for member in rest:
        pieces = _break(member, room)
        rows.append("&= " + pieces[0])
        rows += ["&\\quad " + piece for piece in pieces[1:]]
    return first + " " + " \\\\\n  ".join(rows)


def _break(member: str, room: float) -> list[str]:
    """``member`` cut into lines no wider than ``room`` (estimated), at top-level binary operators; each line
    after the first starts with its operator (as ``{}+ …`` so that TeX keeps the binary spacing)."""
    if math_width(member) <= room:
        return [member]
    for operators in ((" + ", " - "), (" \\cdot ",)):
        cuts = _top_level(member, operators)
        if cuts:
            break
    else:
        return [member]
    terms, start = [], 0
    for cut in cuts:
        terms.append(member[start:cut].strip())
        start = cut
    terms.append(member[start:].strip())
    lines = [terms[0]]
    for term in terms[1:]:
        if math_width(lines[-1] + " " + term) <= room:
            lines[-1] += " " + term
        else:
            lines.append("{}" + term)
    return lines


def _top_level(text: str, operators: tuple[str, ...]) -> list[int]:
    """Positions of ``operators`` (binary: not at the start) outside braces and ``\\left…\\right``."""
    cuts, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("\\left", i) and not text[i + 5:i + 6].isalpha():
            depth, i = depth + 1, i + 5
        elif text.startswith("\\right", i) and not text[i + 6:i + 7].isalpha():
            depth, i = depth - 1, i + 6
        elif text[i] == "\\" and not any(text.startswith(op, i) for op in operators):
            i += 2
        elif text[i] in "{":
            depth, i = depth + 1, i + 1
        elif text[i] in "}":
            depth, i = depth - 1, i + 1
        else:
            op = next((op for op in operators if text.startswith(op, i)), None)
            if op and depth == 0 and text[:i].strip():
                cuts.append(i)
                i += len(op)
            else:
                i += 1
    return cuts


# Rough widths in em of what the printer writes, enough to decide where a long chain must break.
_WIDTHS = {"cdot": 0.78, "times": 0.78, "div": 0.78, "pm": 0.78, "odot": 0.78, "partial": 0.57, "quad": 1.0,
           "qquad": 2.0, ",": 0.17, ";": 0.28, ":": 0.22, "!": -0.17, " ": 0.33, "leftarrow": 1.55,
           "to": 1.55, "sum": 1.45, "prod": 1.45, "log": 1.3, "ln": 0.9, "exp": 1.6, "sin": 1.3, "cos": 1.4,
           "tanh": 2.0, "ldots": 1.3, "cdots": 1.3, "dots": 1.3, "infty": 1.0, "mathbb": 0.0, "left": 0.0,
           "right": 0.0, "displaystyle": 0.0, "tfrac": 0.0, "dfrac": 0.0, "frac": 0.0, "top": 0.78, "in": 1.2,
           "leq": 1.3, "geq": 1.3, "le": 1.3, "ge": 1.3, "approx": 1.3, "equiv": 1.3, "ne": 1.3, "neq": 1.3}
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|(\s+)|(.)", re.S)


def math_width(latex: str) -> float:
    """An estimate, in em of the surrounding font, of how wide TeX sets ``latex`` in display style."""
    tokens = [m for m in _TOKEN.finditer(latex)]
    width, _ = _group_width(tokens, 0, 1.0, until_close=False)
    return width


def _group_width(tokens, i: int, scale: float, until_close: bool) -> tuple[float, int]:
    total = 0.0
    while i < len(tokens):
        command, space, char = tokens[i].groups()
        i += 1
        if space:
            continue
        if char == "}":
            if until_close:
                return total, i
            continue
        if char == "{":
            w, i = _group_width(tokens, i, scale, True)
            total += w
        elif char in ("^", "_"):
            w, i = _argument_width(tokens, i, scale * 0.7)
            total += w
        elif command in ("frac", "tfrac", "dfrac"):
            numerator, i = _argument_width(tokens, i, scale)
            denominator, i = _argument_width(tokens, i, scale)
            total += max(numerator, denominator) + 0.24 * scale
        elif command in ("mathrm", "operatorname", "text", "mathit", "mathbf", "textrm"):
            w, i = _argument_width(tokens, i, scale)
            total += w * 0.95 + (0.17 * scale if command == "operatorname" else 0)
        elif command in ("left", "right", "big", "Big", "bigl", "bigr"):
            total += 0.45 * scale
            if i < len(tokens):
                i += 1  # the delimiter itself
        elif command is not None:
            total += _WIDTHS.get(command, 0.6) * scale
        elif char in "=<>":
            total += 1.33 * scale
        elif char in "+-":
            total += 1.22 * scale
        elif char in "()[]|":
            total += 0.39 * scale
        elif char in ",;":
            total += 0.45 * scale
        elif char == "'":
            total += 0.3 * scale
        elif char == "&":
            continue
        else:
            total += 0.52 * scale
    return total, i


def _argument_width(tokens, i: int, scale: float) -> tuple[float, int]:
    while i < len(tokens) and tokens[i].group(2):
        i += 1
    if i >= len(tokens):
        return 0.0, i
    command, _, char = tokens[i].groups()
    if char == "{":
        return _group_width(tokens, i + 1, scale, True)
    return (_WIDTHS.get(command, 0.6) if command else 0.52) * scale, i + 1


# --- slide pages ----------------------------------------------------------------------------------------------------

SLIDE_LINES = 14.5
"""Lines of 11 pt text a slide holds below its title (the templates shrink a page that still overflows)."""

_MATH = re.compile(r"(?<!\\)\$((?:[^$\\]|\\.)+?)\$")


def text_lines(text: str, lang: str, chars_per_line: float = 68.0) -> float:
    """An estimate of the lines a paragraph of catalog prose takes on a slide (CJK characters count double)."""
    width = 0.0
    position = 0
    for match in _MATH.finditer(text):
        width += _text_units(text[position:match.start()])
        width += 2.0 * math_width(match.group(1)) * (1.6 if "\\frac" in match.group(1) else 1.0)
        position = match.end()
    width += _text_units(text[position:])
    return max(1.0, -(-width // chars_per_line))


def _text_units(text: str) -> float:
    return sum(2.0 if ord(c) >= 0x2E80 else 1.0 for c in text)


def block_lines(block: dict[str, Any], lang: str) -> float:
    """An estimate of the lines a section block (text, equation or table of `derive.present.context`) takes on a slide."""
    if block["kind"] == "text":
        return text_lines(block["text"], lang) + 0.3
    if block["kind"] == "equation":
        tall = "\\frac" in block["latex"] or "\\sum" in block["latex"]
        rows = 1 if math_width(block["latex"]) <= SLIDE_EM else align_rows(block["latex"], SLIDE_EM).count("\\\\") + 1
        return rows * (2.0 if tall else 1.4) + 0.4
    if block["kind"] == "table":
        cells = [block["header"], *block["rows"]]
        return sum(1.6 if any("\\frac" in str(c) for c in row) else 1.1 for row in cells) + 0.6
    if block["kind"] == "image":
        return 11.0  # a plot takes most of a slide
    return 2.0


def slide_pages(blocks: list[dict[str, Any]], lang: str, budget: float = SLIDE_LINES) -> list[list[dict[str, Any]]]:
    """Blocks packed in order onto as few slides as the estimate allows; a text block that introduces the next
    block (ends with ':') stays with it: both go on the next slide when they do not fit on this one, and what it
    introduces never starts a slide of its own (the slide shrinks instead), so no slide holds a lead-in alone."""
    pages: list[list[dict[str, Any]]] = [[]]
    used = 0.0
    introduced = False  # the previous block introduces this one
    for i, block in enumerate(blocks):
        height = block_lines(block, lang)
        lead_in = block["kind"] == "text" and block["text"].rstrip().endswith((":", "\uff1a")) and i + 1 < len(blocks)
        if lead_in:
            height += block_lines(blocks[i + 1], lang)  # keep an introduction with what it introduces
        if pages[-1] and used + height > budget and not introduced:
            pages.append([])
            used = 0.0
        pages[-1].append(block)
        used += block_lines(block, lang)
        introduced = lead_in
    return pages


# --- figures --------------------------------------------------------------------------------------------------------

STEP_GRAPH_CM = 3.2  # the room of the graph on a backward step's slide; the step's text has the rest
FRAME_GRAPH_CM = 6.2  # the room of a graph on a slide of its own
OVERVIEW_CM = 3.4  # the width of the whole graph's overview beside a neighbourhood
STACKED_OVERVIEW_CM = 0.9  # its height above a neighbourhood, on a slide too narrow for the two side by side
NEIGHBOURHOOD_SCALE = 1.0  # every neighbourhood at least so large: labels at 8 pt, names at 10 pt (larger when the
NEIGHBOURHOOD_CM = 4.5  # step's room allows); the most a neighbourhood may take (a node read by three others)
GROWN_CM = 2.4  # a neighbourhood is drawn larger than its least scale only up to this height
WRAP_LANES = 3  # the most edges a graph's bands are joined by
SLIDES, ARTICLE = slide_room(), article_room()  # the gallery's pages: 16:9 slides, A4 articles
Room = ArticleRoom | SlideRoom


@dataclasses.dataclass(frozen=True)
class Picture:
    """How a document draws a derivation's graph: at ``scale``, wrapped at ``starts``; ``whole``: False when the
    graph is too big for a slide at a readable size, so each step shows its node's neighbourhood beside a
    text-free overview (drawn at ``overview``); ``rotated``: on a page of its own, turned a quarter (an article's
    graph too wide for the text's width at a readable size)."""
    scale: float  # of the whole graph, or of every neighbourhood (one size on every step)
    starts: tuple[int, ...] = (0,)
    whole: bool = True
    overview: float = 0.0
    rotated: bool = False
    beside: float = 0.0  # the width a neighbourhood may grow into (up to GROWN_CM): beside the overview, or the
    # slide's whole width below it (``stacked``)
    stacked: bool = False  # the overview above the neighbourhood (a slide too narrow for both side by side)


def slide_picture(lay: "Layout", room: SlideRoom = SLIDES) -> Picture:
    """Whole at a readable size when the graph fits the step slides' room so, else by neighbourhoods."""
    scale = fit_scale(natural_size(lay), room.width, STEP_GRAPH_CM)
    if scale >= LEAST_SCALE:
        return Picture(scale)
    starts = wrap_starts(lay, 2 * room.width)
    sizes = [natural_size(neighbourhood(lay, n.id)) for n in lay.nodes if n.kind != "const"]
    widest, tallest = max(w for w, _ in sizes), max(h for _, h in sizes)
    beside = round(room.width - OVERVIEW_CM - 0.6, 2)
    stacked = widest * NEIGHBOURHOOD_SCALE > beside  # a narrow slide: the overview goes above the neighbourhood
    overview_room = (room.width, STACKED_OVERVIEW_CM) if stacked else (OVERVIEW_CM, STEP_GRAPH_CM)
    overview = min(fit_scale(natural_size(lay, starts), *overview_room), 0.3)
    near_width = room.width if stacked else beside
    scale = fit_scale((widest, tallest), near_width, NEIGHBOURHOOD_CM, NEIGHBOURHOOD_SCALE)
    return Picture(scale, starts, False, overview, beside=near_width, stacked=stacked)


def article_picture(lay: "Layout", room: ArticleRoom = ARTICLE) -> Picture:
    """The first way, from the plainest, that prints the article's figure at a readable size: on the text's width
    (a chain wrapped into bands), on a rotated page of its own (whole, or wrapped into bands joined by a few
    edges), on the text's width wrapped so, or on a rotated page reaching into the margins; when none does, the
    largest of them."""
    text, rotated = (room.width, room.height), (room.rotated_width, room.rotated_height)
    edge = room.edge_width, room.rotated_height
    tried = []
    for (width, height), lanes, turned in ((text, 1, False), (rotated, 1, True), (rotated, WRAP_LANES, True),
                                           (text, WRAP_LANES, False), (edge, 1, True), (edge, WRAP_LANES, True)):
        tried.append(banded_picture(lay, width, height, lanes, turned))
        if tried[-1].scale >= LEAST_SCALE:
            return tried[-1]
    return max(tried, key=lambda p: p.scale)


def banded_picture(lay: "Layout", width: float, height: float, lanes: int = 1, rotated: bool = False) -> Picture:
    """The scale (at most 1) and wrapping into bands (joined by at most ``lanes`` edges) that print a graph
    largest in ``width`` × ``height`` cm."""
    best = Picture(fit_scale(natural_size(lay), width, height, 1.0), rotated=rotated)
    for band in (2 * width, 1.5 * width, 1.25 * width, width, 0.9 * width, 0.8 * width):
        starts = wrap_starts(lay, band, lanes)
        if starts != (0,):
            scale = fit_scale(natural_size(lay, starts), width, height, 1.0)
            best = max(best, Picture(scale, starts, rotated=rotated), key=lambda p: p.scale)
    return best


def _lean(lay: "Layout") -> "Layout":
    """Labels not shown left out instead of drawn invisibly (for the Beamer overlays, whose bounding box the
    templates pin to the complete graph's; TikZ time grows with labels)."""
    return dataclasses.replace(
        lay, nodes=tuple(n if n.gradient_shown else dataclasses.replace(n, total=None) for n in lay.nodes),
        edges=tuple(e if e.gradient_shown else dataclasses.replace(e, gradient=None) for e in lay.edges))


def _tikz(derivation: "Derivation", picture: Picture, highlight: str | None = None,
          shown: Iterable[str] | None = None, lean: bool = False, fresh: frozenset[str] = frozenset()) -> str:
    """A TikZ picture of the graph, drawn as ``picture`` says."""
    lay = layout(derivation, highlight=highlight, shown_gradients=None if shown is None else set(shown), fresh=fresh)
    return _picture_tikz(_lean(lay) if lean else lay, picture)


def _picture_tikz(lay: "Layout", picture: Picture) -> str:
    if not picture.whole:
        return overview_tikz(lay, None, picture.overview, picture.starts)
    return to_tikz(lay, scale=picture.scale, starts=picture.starts).rstrip("\n")


def _step_tikz(derivation: "Derivation", picture: Picture, node: str, known: set[str],
               fresh: frozenset[str]) -> tuple[str, str]:
    """A backward step's pictures: the graph (or the node's neighbourhood) and, for a big graph, the overview."""
    if picture.whole:
        return _tikz(derivation, picture, highlight=node, shown=known, lean=True, fresh=fresh), ""
    lay = layout(derivation, highlight=node, shown_gradients=known, fresh=fresh)
    node_id = next(n.id for n in lay.nodes if n.name == node)
    near = neighbourhood(lay, node_id)
    scale = max(picture.scale, fit_scale(natural_size(near), picture.beside, GROWN_CM))
    return (to_tikz(_lean(near), scale=scale).rstrip("\n"),
            overview_tikz(lay, node_id, picture.overview, picture.starts))


def _alone(lay: "Layout", room: Room) -> Picture:
    """How a graph is drawn on its own: in an article as large as the text allows; on a slide whole when it is
    readable so, else as a text-free overview (the slides' tables give its values)."""
    if isinstance(room, ArticleRoom):
        return article_picture(lay, room)
    scale = fit_scale(natural_size(lay), room.width, FRAME_GRAPH_CM)
    if scale >= LEAST_SCALE:
        return Picture(scale)
    starts = wrap_starts(lay, 2 * room.width)
    return Picture(0.0, starts, False, fit_scale(natural_size(lay, starts), room.width, FRAME_GRAPH_CM, 1.0))


def _vector_picture(lay: "Layout", room: Room) -> Picture:
    """The vector-form graph has few nodes and carries its own labels: wrapped into bands rather than shown as a
    text-free overview."""
    if isinstance(room, ArticleRoom):
        return article_picture(lay, room)
    banded = banded_picture(lay, room.width, FRAME_GRAPH_CM)
    return banded if banded.scale >= LEAST_SCALE else _alone(lay, room)


def page_room(fmt: str, options: TexOptions = PLAIN) -> Room:
    """The room of the page a document of ``fmt`` prints its figures on: the slide of ``options.aspect`` or the
    article's ``options.paper``."""
    return slide_room(options.aspect) if fmt == "beamer" else article_room(options.paper)


def _figures(walk: "Walkthrough", note: str | None, room: Room) -> dict[str, Any]:
    """The TikZ pictures; ``note`` (LaTeX) stands in for each when the graph is too large to draw. ``rotated``
    says which of them go on a rotated page of their own (an article's big graphs)."""
    d = walk.derivation
    if note is not None:
        return {"drawn": False, "whole": True, "stacked": False, "forward": note, "start": (note, ""), "full": note,
                "updates": [note] * len(walk.updates), "vector": None,
                "rotated": {"forward": False, "full": False, "vector": False, "updates": [False] * len(walk.updates),
                            "any": False}}
    lay = layout(d)
    steps = article_picture(lay, room) if isinstance(room, ArticleRoom) else slide_picture(lay, room)
    alone = _alone(lay, room)
    full = steps if steps.whole else alone
    updates = [(u.derivation, _alone(layout(u.derivation), room)) for u in walk.updates]
    vector = block_layout(d)  # a batch: the same graph in vector form
    vector_picture = None if vector is None else _vector_picture(vector, room)
    rotated = {"forward": alone.rotated, "full": full.rotated,
               "vector": vector_picture is not None and vector_picture.rotated,
               "updates": [picture.rotated for _, picture in updates]}
    return {
        "drawn": True,
        "whole": steps.whole,
        "stacked": steps.stacked,
        "forward": _tikz(d, alone, shown=()),
        "start": _step_tikz(d, steps, d.output, {d.output}, frozenset({d.output})),
        "full": _tikz(d, full),
        "updates": [_tikz(derivation, picture) for derivation, picture in updates],
        "vector": None if vector_picture is None else _picture_tikz(vector, vector_picture),
        "rotated": rotated | {"any": any(rotated["updates"]) or any(v is True for v in rotated.values())},
    }


def overlay_plan(derivation: "Derivation", note: str | None = None, shown: frozenset[str] | None = None,
                 chosen: frozenset[int] | None = None, room: SlideRoom = SLIDES) -> list[dict[str, Any]]:
    """The Beamer slides of the backward walk, in order, grouped into frames.

    Each frame is ``{"slides": [...], "start": bool}``; the first frame opens with the start slide (overlay 1, only
    ∂f/∂f = 1 in red). Backward step k (``context["steps"][k-1]``) is overlay k + 1 of its frame when the frames
    hold every step; a step with more than `TERMS_PER_SLIDE` inputs spreads over several overlays. Each slide is
    ``{"overlay", "step" (0-based index into context["steps"]), "terms" (indices into its terms), "part",
    "parts", "figure", "known"}``: ``figure`` is the graph with the step's node highlighted and, in red, the
    gradient of every node in ``known``: those known once the step is done (a gradient is known when every node
    that reads the value has been processed, so a value that fans out turns red when its sum is complete).
    ``chosen`` (0-based indices into context["steps"]; None: all) are the steps given slides; the others are
    summarised elsewhere, and the gradients they find are known on the later slides all the same.
    """
    out = derivation.output
    readers = derivation.graph.consumers()
    picture = slide_picture(layout(derivation), room) if note is None else None
    processed: set[str] = set()
    frames: list[dict[str, Any]] = [{"start": True, "slides": []}]
    overlay = 1
    steps = [s for s in derivation.steps if shown is None or s.node in shown]  # as context["steps"] lists them
    before = {out}
    given = 0  # steps given slides so far
    for k, step in enumerate(steps):
        processed.add(step.node)
        if chosen is not None and k not in chosen:
            continue
        if given and given % STEPS_PER_FRAME == 0:
            frames.append({"start": False, "slides": []})
            overlay = 0
        given += 1
        known = {out} | {name for name, rs in readers.items() if rs and all(r in processed for r in rs)}
        fresh = frozenset(known - before)
        before = known
        figure = (note, "") if picture is None else _step_tikz(derivation, picture, step.node, known, fresh)
        count = sum(1 for t in step.terms if shown is None or t.input in shown)
        chunks = [list(range(i, min(i + TERMS_PER_SLIDE, count))) for i in range(0, max(count, 1), TERMS_PER_SLIDE)]
        for part, terms in enumerate(chunks, 1):
            overlay += 1
            frames[-1]["slides"].append({"overlay": overlay, "step": k, "terms": terms, "part": part,
                                         "parts": len(chunks), "figure": figure, "known": sorted(known),
                                         "fresh": sorted(fresh)})
    for number, frame in enumerate(frames, 1):
        frame["number"], frame["of"] = number, len(frames)
    return frames


def _definitions(derivation: "Derivation") -> list[str]:
    return [chain_latex([name_latex(n.name), latex(derivation.definitions[n.name])]) for n in derivation.graph.nodes
            if n.op != "leaf"]


SMALL_EM_PER_LINE = 36.0  # ems of \small maths in a 16:9 slide's line (14 cm), less a little


def slide_ems(room: SlideRoom) -> tuple[float, float]:
    """The room of a displayed formula and of ``\\small`` maths on a slide of ``room``, in em (`SLIDE_EM` and
    `SMALL_EM_PER_LINE` are a 16:9 slide's)."""
    return SLIDE_EM * room.width / SLIDES.width, SMALL_EM_PER_LINE * room.width / SLIDES.width


def term_columns(terms: list[dict[str, Any]], shown: list[int],
                 line_em: float = SMALL_EM_PER_LINE) -> tuple[float, float]:
    """How a step slide's table of the terms ``shown`` is laid out: the widths (fractions of the line) of the
    local-gradient and product columns when both fit on one line side by side (the inputs' column takes 0.06);
    ``(0, 0)`` when they do not: then each term is stacked, local gradient and product each on a line of its own
    (the local gradient ∂node/∂input names the input). ``line_em``: the ems of ``\\small`` maths in the line."""
    local = max((math_width(terms[i]["local"]) for i in shown), default=0.0) / line_em + 0.03
    product = max((math_width(terms[i]["product"]) for i in shown), default=0.0) / line_em + 0.03
    if 0.06 + max(local, 0.22) + product > 0.98:
        return 0.0, 0.0
    local = round(max(local, 0.22), 2)
    return local, round(0.92 - local, 2)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


# --- the context ----------------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def own_definitions(user_templates: str | None = None) -> tuple[str, ...]:
    """The blocks of macro definitions derive's own article and slides (a walk-through's or a network's) carry in
    their preamble, exactly as the templates write them (``user_templates``: a user's folder first, for the truth
    loop on a page made with it): `derive verify` passes them over on derive's pages (`derive.verify.own_tex`),
    and refuses every other definition."""
    macros = r'\BLOCK{import "latex/macros.tex.j2" as m}\BLOCK{import "beamer/macros.tex.j2" as b}'
    blocks = [macros + r'\VAR{m.definitions("latex")}', macros + r'\VAR{m.definitions("beamer")}',
              macros + r'\VAR{b.definitions()}', macros + r'\VAR{b.stacked_definitions()}',
              macros + r'\VAR{m.rotated_figure_definitions()}',
              macros + r'\VAR{m.network_definitions("latex")}', macros + r'\VAR{m.network_definitions("beamer")}']
    rendered = [environment(user_templates, tex=True).from_string(block).render() for block in blocks]
    lines = [preamble(lang, fmt) for lang in LANGUAGES for fmt in ("latex", "beamer")]
    return tuple(sorted({tidy(text).strip("\n") for text in rendered + lines + [TIKZ_PREAMBLE] if text.strip()}))


def omitted_runs(count: int, chosen: frozenset[int] | None) -> dict[int, list[int]]:
    """The steps not in ``chosen`` (0-based, of ``count``) in runs of consecutive ones, by the index of each run's
    first step: where the article puts the table that sums them up."""
    runs: dict[int, list[int]] = {}
    first = None
    for k in range(count):
        if chosen is None or k in chosen:
            first = None
            continue
        if first is None:
            first = k
        runs.setdefault(first, []).append(k)
    return runs


def tex_context(walk: "Walkthrough", lang: str, fmt: str, options: TexOptions = PLAIN) -> dict[str, Any]:
    """Extra context for the ``latex`` and ``beamer`` templates (see the module's docstring); ``options.steps``
    chooses the backward steps shown in full (``chosen_steps``, 0-based), the others are summed up in tables
    (``omitted_runs``: each run of consecutive ones by its first index)."""
    d = walk.derivation
    shown = walk.fold.shown if walk.fold is not None else None
    count = sum(1 for step in d.steps if shown is None or step.node in shown)
    chosen = check_step_numbers(options, count)
    t = catalog(lang)
    note = figure_note(d, lang)
    note = None if note is None else r"\emph{" + escape_prose(note) + "}"
    slide_em, small_em = slide_ems(slide_room(options.aspect))
    context: dict[str, Any] = {
        **document_head(lang, fmt),
        "tikz_preamble": TIKZ_PREAMBLE.rstrip("\n"),
        "tikz_definitions": TIKZ_DEFINITIONS.rstrip("\n"),
        "esc": escape_prose,
        "code": escape_code,
        "rows": align_rows,
        "slide_em": slide_em,
        "members": chain_members,
        "chunks": chunks,
        "term_columns": lambda terms, shown: term_columns(terms, shown, small_em),
        "pages": lambda blocks: slide_pages(list(blocks), lang),
        "figures": _figures(walk, note, page_room(fmt, options)),
        "long_table_rows": LONG_TABLE_ROWS,
        "short_definitions": all(math_width(x) <= 26 for x in _definitions(d)),
        "narrow_definitions": all(math_width(x) <= 11 for x in _definitions(d)),
        "source_lines": [line.strip() for line in re.split(r"[;\n]", walk.source) if line.strip()],
        "tex_title": escape_prose(t.get(f"scenario.{walk.name}.title", t["title.explain"])),
        "label_prefix": walk.name + "-",  # frames' labels differ between decks \input into one document
        "chosen_steps": chosen,
        "omitted_runs": omitted_runs(count, chosen),
        "omitted_steps": [k for k in range(count) if chosen is not None and k not in chosen],
    }
    if fmt == "beamer":
        context["backward_frames"] = overlay_plan(d, note, shown, chosen, slide_room(options.aspect))
        context["rows_per_table_frame"] = ROWS_PER_TABLE_FRAME
        context["gradients_per_frame"] = GRADIENTS_PER_FRAME
        context["changes_per_frame"] = CHANGES_PER_FRAME
        big = len(d.graph.nodes) > BIG_GRAPH_NODES
        context["compact_steps"] = big
        context["node_table_columns"] = 2 if all(
            math_width(latex) <= 14 for latex in _definitions(d)) and len(d.graph.nodes) > ROWS_PER_TABLE_FRAME else 1
    return context

