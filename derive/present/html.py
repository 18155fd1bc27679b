"""HTML: one self-contained page per walk-through, and the gallery's ``index.html``.

The page is the Markdown walk-through run through Python-Markdown. Maths is converted to MathML at build time
(latex2mathml), so the page needs no script, no CDN and no network when it is read:

1. the Markdown is rendered by the ``markdown`` templates, with a sentinel where the graph goes;
2. every ``$$…$$`` and ``$…$`` outside code is lifted out into a placeholder (letters and digits only, which no
   Markdown rule touches) and converted to MathML, which is checked to be well-formed XML;
3. Python-Markdown runs with raw HTML switched off, so prose is always escaped;
4. the graph sentinel and the walk-through's plots (``walk.images``) become inline SVG (plots with their caption),
   the graph inside its step-through (`stepthrough_html`); the placeholders are put back (display maths as a
   horizontally scrollable block; inside an attribute, the LaTeX as text), and tables are wrapped so that they
   scroll sideways on a phone;
5. the page shell ``html/page.html.j2`` (autoescaped) places the body and inlines ``html/style.css`` and, on a page
   with a step-through, ``html/stepthrough.js`` (a few kilobytes of its own, no library: the page still needs no
   network, and reads in full without the script).

Everything is deterministic: the same walk-through gives the same bytes.
"""
from __future__ import annotations

import html
import itertools
import json
import re
import xml.etree.ElementTree as ElementTree
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple

from markupsafe import Markup

from ..errors import DeriveError
from ..locales import catalog
from ..scenarios import SCENARIOS
from .context import backward_context, shown_nodes
from .figure_svg import svg_for
from .block_figure import vector_svg
from .blocks import vector_name
from .formats import FIGURE_SENTINEL
from .stepthrough import step_data
from .templating import fill, page_asset, stylesheet
from .plots import plot_files

if TYPE_CHECKING:
    from ..walkthrough import Walkthrough

INDEX_TEMPLATE = "html/index.html.j2"
STEPTHROUGH_TEMPLATE = "html/stepthrough.html.j2"
STEPTHROUGH_SCRIPT = "html/stepthrough.js"
STATES_TEMPLATE = "markdown/stepthrough.md.j2"
STATE_SEPARATOR = "derivestatez"  # letters only: no Markdown rule touches it
MIN_FIGURE_SCALE = 0.55  # on a phone the graph shrinks down to this scale, then scrolls sideways (without a script)
LEGIBLE_SCALE = 0.8  # the step-through shows the whole graph down to this scale, else the current node's part of it

# Code (fenced blocks and inline spans) is matched first so that a `$` inside it stays text.
_SEGMENTS = re.compile(
    r"(?P<fence>^(?P<ticks>`{3,}|~{3,})[^\n]*\n.*?^(?P=ticks)[ \t]*$)"
    r"|(?P<code>(?P<bt>`+)(?:(?!\n\s*\n).)+?(?P=bt))"  # a code span never crosses a blank line
    r"|(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$"
    r"|(?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$",
    re.DOTALL | re.MULTILINE)
_TOKEN = "derivemath{:05d}z"
_TOKEN_RE = re.compile(r"derivemath(\d{5})z")
_DIRECTIVE = re.compile(r"<!--[ \t]*derive:[^\n]*?-->")
_NOTE = "derivenote{:05d}z"
_NOTE_RE = re.compile(r"derivenote(\d{5})z")
_NOTES_PARAGRAPH = re.compile(r"<p>((?:derivenote\d{5}z\s*)+)</p>")


class MathError(DeriveError):
    """LaTeX that latex2mathml cannot turn into well-formed MathML (a bug in what we print: exit 3)."""

    exit_code = 3


# --- maths --------------------------------------------------------------------------------------------------------

_DOUBLE_STRUCK_SPECIAL = {"C": "\u2102", "H": "\u210d", "N": "\u2115", "P": "\u2119", "Q": "\u211a",
                          "R": "\u211d", "Z": "\u2124"}


def _styled(char: str, variant: str) -> str:
    """A letter or digit as its Unicode mathematical alphanumeric (Chromium ignores ``mathvariant``)."""
    if variant == "double-struck":
        if char in _DOUBLE_STRUCK_SPECIAL:
            return _DOUBLE_STRUCK_SPECIAL[char]
        bases = (0x1D538, 0x1D552, 0x1D7D8)
    else:  # bold
        bases = (0x1D400, 0x1D41A, 0x1D7CE)
    if "A" <= char <= "Z":
        return chr(bases[0] + ord(char) - ord("A"))
    if "a" <= char <= "z":
        return chr(bases[1] + ord(char) - ord("a"))
    if "0" <= char <= "9":
        return chr(bases[2] + ord(char) - ord("0"))
    return char


def _restyle(match: re.Match) -> str:
    tag, variant, text = match.group(1), match.group(2), match.group(3)
    return f"<{tag}>" + "".join(_styled(c, variant) for c in text) + f"</{tag}>"


_FENCE = re.compile(r"\\(left|right)\s*(\\[{}|]|\\[A-Za-z]+|[^\s\\])")
_TALL = re.compile(r"\\(frac|dfrac|tfrac|cfrac|begin|sum|prod|int|oint|sqrt|binom|over|underbrace|overbrace|boxed)"
                   r"(?![A-Za-z])")


def _plain_fences(latex: str) -> str:
    """``\\left( … \\right)`` around one line of maths as plain ``( … )``: browsers draw the stretched forms of
    some maths fonts (Latin Modern Math) with wide side bearings, ``2 · ( b + x )``; TeX would not stretch there."""
    pairs, stack = [], []
    for match in _FENCE.finditer(latex):
        if match.group(1) == "left":
            stack.append(match)
        elif stack:
            pairs.append((stack.pop(), match))
    drop: list[tuple[int, int, str]] = []
    for left, right in pairs:
        if "." in (left.group(2), right.group(2)) or _TALL.search(latex, left.end(), right.start()):
            continue
        drop += [(left.start(), left.end(), left.group(2)), (right.start(), right.end(), right.group(2))]
    for start, end, delimiter in sorted(drop, reverse=True):
        latex = latex[:start] + delimiter + latex[end:]
    return latex


# A minus right after an operator, a relation or an opening bracket is a sign (``s = −y``): MathML would space
# it as a binary operator because it is not the first child of its row.
_CLOSING = r"&#x00029;|\]|&#x0007D;|\}|&#x0007C;|\|"
_UNARY_MINUS = re.compile(r"(<mo(?: [^>]*)?>(?!" + _CLOSING + r")[^<]*</mo>|<mrow>)<mo>&#x02212;</mo>")


def _merge_upright(match: re.Match) -> str:
    letters = re.findall(r'<mi mathvariant="normal">([^<]*)</mi>', match.group(0))
    return '<mi mathvariant="normal">' + "".join(letters) + "</mi>"


@lru_cache(maxsize=8192)
def latex_to_mathml(latex: str, display: bool = False) -> str:
    """MathML for one formula, adjusted for what browsers draw; raises `MathError` when it is not well-formed.

    ``aligned`` becomes ``align*`` (latex2mathml leaves a literal ``&`` in ``aligned``); ``\\boxed`` gives a
    ``menclose`` that the stylesheet draws a border around; ``\\mathbb``/``\\mathbf`` letters become Unicode
    mathematical alphanumerics; ``\\mathrm{word}`` and ``\\operatorname{word}`` become one upright identifier.
    The LaTeX is kept as an ``application/x-tex`` annotation (copy and paste, screen readers).
    """
    from latex2mathml.converter import convert

    source = latex.strip()
    prepared = re.sub(r"\\(begin|end)\{aligned\}", r"\\\1{align*}", source)
    prepared = _plain_fences(prepared)
    prepared = re.sub(r"(?<!\\)'", r"\\prime ", prepared)  # y' as y then ′, not ′ as a superscript of y
    try:
        mathml = convert(prepared, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises many kinds
        raise MathError(f"latex2mathml cannot convert {source!r}: {error}") from error
    mathml = re.sub(r'<(mi|mn) mathvariant="(double-struck|bold)">([^<]*)</\1>', _restyle, mathml)
    mathml = re.sub(r'(?:<mi mathvariant="normal">[^<]*</mi>){2,}', _merge_upright, mathml)
    mathml = re.sub(r"<mo>([A-Za-z]{2,})</mo>", r"<mi>\1</mi>", mathml)
    mathml = _UNARY_MINUS.sub(r'\1<mo form="prefix">&#x02212;</mo>', mathml)
    head, sep, rest = mathml.partition(">")
    body = rest[: -len("</math>")]
    mathml = (f"{head}{sep}<semantics>{body}"
              f'<annotation encoding="application/x-tex">{escape(source, quote=False)}</annotation>'
              "</semantics></math>")
    try:
        ElementTree.fromstring(mathml)
    except ElementTree.ParseError as error:
        raise MathError(f"latex2mathml gave malformed MathML for {source!r}: {error}") from error
    return mathml


def lift_math(text: str) -> tuple[str, list[tuple[str, bool]]]:
    """Replace every maths span outside code with a placeholder; return the text and ``[(latex, display)]``."""
    found: list[tuple[str, bool]] = []

    def replace(match: re.Match) -> str:
        if match.group("fence") is not None or match.group("code") is not None:
            return match.group(0)
        display = match.group("display") is not None
        found.append((match.group("display") if display else match.group("inline"), display))
        return _TOKEN.format(len(found) - 1)

    return _SEGMENTS.sub(replace, text), found


# --- Markdown -----------------------------------------------------------------------------------------------------

class Picture(NamedTuple):
    """An image drawn inline: its SVG, whether the alt text is its caption, and what holds the ``<figure>``
    (given the figure's HTML and its SVG's id; None: the figure stands alone)."""

    svg: str
    captioned: bool
    holder: Callable[[str, str], str] | None = None


SvgSource = Callable[[str], "Picture | None"]
"""For an image's ``src``: the `Picture` drawn in its place; None leaves the image."""


def markdown_to_html(text: str, images: SvgSource | None = None) -> str:
    """Python-Markdown with tables and fenced code, raw HTML and autolinks switched off, maths as MathML, and each
    image that ``images`` knows drawn as inline SVG."""
    import markdown

    notes: list[str] = []
    text = _DIRECTIVE.sub(lambda m: notes.append(m.group(0)) or _NOTE.format(len(notes) - 1), text)
    lifted, maths = lift_math(text)
    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    md.preprocessors.deregister("html_block")
    for pattern in ("html", "autolink", "automail"):
        md.inlinePatterns.deregister(pattern)
    body = md.convert(lifted)
    if images is not None:
        body = _place_images(body, images)

    def source(match: re.Match) -> str:  # inside an attribute: the LaTeX as text
        return escape(maths[int(match.group(1))][0])

    body = re.sub(r'="[^"]*"', lambda m: _TOKEN_RE.sub(source, m.group(0)), body)
    body = re.sub(r"<p>" + _TOKEN_RE.pattern + r"</p>",
                  lambda m: '<div class="math-display">' + latex_to_mathml(*maths[int(m.group(1))]) + "</div>", body)
    body = _TOKEN_RE.sub(lambda m: latex_to_mathml(*maths[int(m.group(1))]), body)
    body = body.replace("<table>", '<div class="table-wrap"><table>').replace("</table>", "</table></div>")
    # derive's directives stay HTML comments, where they were (a reader never sees them; `derive verify` does)
    body = _NOTES_PARAGRAPH.sub(lambda m: m.group(1).strip(), body)
    return _NOTE_RE.sub(lambda m: notes[int(m.group(1))], body) + "\n"


# --- figures and plots ---------------------------------------------------------------------------------------------

def inline_svg(svg: str, label: str, prefix: str) -> str:
    """An SVG file made fit to sit inside HTML: no XML prolog, doctype, comments or titles; every id prefixed (two
    drawings on one page must not share ids); its ``<style>`` rules scoped to itself (matplotlib writes a global
    ``*{…}``); labelled as an image; shrinking with the page down to `MIN_FIGURE_SCALE`."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    svg = re.sub(r"<title>[^<]*</title>", "", svg)  # the figure's caption and aria-label speak for it
    svg = re.sub(r"\n\s*\n", "\n", svg).strip()
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(\bhref="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    svg = re.sub(r"(<style[^>]*>)(.*?)(</style>)",
                 lambda m: m.group(1) + _scoped(m.group(2), prefix) + m.group(3), svg, flags=re.DOTALL)
    root = re.search(r"<svg\s[^>]*>", svg)
    if root is None:
        return svg
    width = re.search(r'\swidth="([\d.]+)(pt|px)?"', root.group(0))
    unit = (width.group(2) or "px") if width else ""
    # the stylesheet applies it on a phone only: wider screens scale the drawing to the column, never cut it off
    style = f' style="--min-width: {float(width.group(1)) * MIN_FIGURE_SCALE:.0f}{unit}"' if width else ""
    # the page's label and sizing replace the file's own (derive's graph carries both for standalone viewing)
    tag = re.sub(r'\s(?:role|aria-label|style)="[^"]*"', "", root.group(0))
    tag = tag.replace("<svg", f'<svg id="{prefix}" role="img" aria-label="{escape(label)}"{style}', 1)
    return svg[:root.start()] + tag + svg[root.end():]


def _scoped(css: str, prefix: str) -> str:
    """Each selector of simple CSS (no @-rules) limited to the drawing ``#prefix``."""
    def rule(match: re.Match) -> str:
        selectors = ", ".join(f"#{prefix} {sel.strip()}" for sel in match.group(1).split(","))
        return selectors + "{"
    return re.sub(r"([^{}]+)\{", rule, css)


def _place_images(body: str, images: SvgSource) -> str:
    def figure(match: re.Match) -> str:
        attributes = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        found = images(html.unescape(attributes.get("src", "")))
        if found is None:
            return match.group(0)
        alt = attributes.get("alt", "")  # escaped by Markdown; maths still as placeholders
        prefix = f"fig{next(numbers)}"
        caption = f"<figcaption>{alt}</figcaption>" if found.captioned and alt else ""
        kind = "plot" if found.captioned else "graph"
        drawn = f'<figure class="{kind}">{inline_svg(found.svg, html.unescape(alt), prefix)}{caption}</figure>'
        return drawn if found.holder is None else found.holder(drawn, prefix)

    numbers = itertools.count(1)
    return re.sub(r"<p><img ([^>]*?)\s*/?></p>", figure, body)


def image_source(walk: "Walkthrough", lang: str) -> SvgSource:
    """The walk-through's graph (in its step-through) and plots."""
    plots = {image.files[0]: image.plot for image in getattr(walk, "images", ())}

    def source(src: str) -> Picture | None:
        if src == FIGURE_SENTINEL:
            return Picture(svg_for(walk.derivation), False, lambda drawn, figure_id: stepthrough_html(
                walk, lang, drawn, figure_id))
        if src in plots:
            return Picture(plot_files(plots[src])[0], True)
        if src == vector_name(FIGURE_SENTINEL):
            vector = vector_svg(walk.derivation)
            return None if vector is None else Picture(vector, True)
        return None

    return source


def stepthrough_html(walk: "Walkthrough", lang: str, figure: str, figure_id: str) -> str:
    """The graph's ``<figure>`` with the controls, the states and the JSON island of its step-through: each state's
    title and body are what the walk-through prints for that backward step (``markdown/stepthrough.md.j2``,
    converted in one go), the data comes from `derive.present.stepthrough.step_data`."""
    text = fill(STATES_TEMPLATE, {**backward_context(walk, lang), "separator": STATE_SEPARATOR})
    pieces = re.split(f"<p>{STATE_SEPARATOR}</p>\n?", markdown_to_html(text))[1:]
    titles = [re.sub(r"^<p>(.*)</p>$", r"\1", title.strip(), flags=re.DOTALL) for title in pieces[::2]]
    panels = [{"title": Markup(title), "body": Markup(body.strip())}
              for title, body in zip(titles, pieces[1::2], strict=True)]
    data = json.dumps(step_data(walk.derivation, lang, shown_nodes(walk)), ensure_ascii=False, sort_keys=True)
    return fill(STEPTHROUGH_TEMPLATE, {
        "figure": Markup(figure), "id": f"{figure_id}-steps", "figure_id": figure_id, "legible": LEGIBLE_SCALE,
        "panels": panels,
        "data": Markup(data.replace("<", "\\u003c")),  # raw text inside <script>: no "</script>" can end it early
        "t": catalog(lang)}, html=True).strip()


# --- pages --------------------------------------------------------------------------------------------------------

def page(template: str, body: str, lang: str, title: str, user_templates: str | None = None, *,
         stepthrough: bool = False, **extra: Any) -> str:
    """An HTML page shell filled in: the body (already HTML), the title as plain text, the stylesheet inline and,
    when the body holds a step-through (`stepthrough_html`), its script."""
    script = page_asset(STEPTHROUGH_SCRIPT, user_templates) if stepthrough else ""
    context = dict(lang=lang, title=_plain(title), css=stylesheet(user_templates), body=Markup(body),
                   script=script, t=catalog(lang), **extra)
    return _tidy(fill(template, context, user_templates, html=True))


NOTEBOOK_CLASS = "derive-page"


def notebook_fragment(page_html: str) -> str:
    """A page from `page` as one element for a notebook's output (JupyterLab, VS Code, nbconvert): its
    ``<main>`` in a ``<div>`` that carries the page's language, and the page's stylesheet scoped to that
    ``<div>`` (``body`` and ``:root`` rules apply to it), so the notebook around it keeps its own style."""
    lang = re.search(r'<html lang="([^"]*)"', page_html)
    css = re.search(r"<head>.*?<style>(.*?)</style>", page_html, flags=re.DOTALL)
    main = re.search(r"<main\b.*</main>", page_html, flags=re.DOTALL)
    if main is None:  # a user's page template without <main>: its whole body
        main = re.search(r"<body[^>]*>(.*)</body>", page_html, flags=re.DOTALL)
    style = f"<style>\n{_page_scoped(css.group(1))}</style>\n" if css else ""
    lang_attribute = f' lang="{lang.group(1)}"' if lang else ""
    content = main.group(0) if main is not None and main.group(0).startswith("<main") else (
        main.group(1) if main is not None else page_html)
    return f'<div class="{NOTEBOOK_CLASS}"{lang_attribute}>\n{style}{content}\n</div>\n'


def _page_scoped(css: str) -> str:
    """Every selector of the page's stylesheet limited to the notebook's ``<div>``; ``:root``, ``html`` and
    ``body`` become the ``<div>`` itself; @-rule headers (``@media``) stay as they are."""
    scope = "." + NOTEBOOK_CLASS

    def selector(text: str) -> str:
        text = text.strip()
        replaced = re.sub(r"(?<![\w-])(:root|html|body)(?![\w-])", scope, text)
        return replaced if scope in replaced else f"{scope} {replaced}"

    def rule(match: re.Match) -> str:
        head = match.group(1)
        if head.strip().startswith("@") or not head.strip():
            return match.group(0)
        indent = head[:len(head) - len(head.lstrip())]
        return indent + ", ".join(selector(part) for part in head.split(",")) + " {"
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    return re.sub(r"([^{}]+?)\s*\{", rule, css)


def _plain(text: str) -> str:
    """Catalog text for places that cannot hold MathML (the ``<title>``): maths delimiters dropped."""
    return re.sub(r"(?<!\\)\$+", "", text)


def _strings(lang: str) -> Mapping[str, str]:
    """The catalog of ``lang``, falling back to English for keys it lacks (for the index and the shell)."""
    merged = dict(catalog("en"))
    if lang != "en":
        merged.update(catalog(lang))
    return merged


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"


# --- the gallery's index ------------------------------------------------------------------------------------------

class IndexEntry(NamedTuple):
    """One file of the gallery. ``fmt``: markdown, latex, beamer, html, json, svg, pdf (the article's PDF) or
    beamer-pdf (the slides' PDF); ``lang`` is None for language-neutral files (json, svg); ``path`` is relative to
    the index and uses ``/``."""

    scenario: str
    fmt: str
    lang: str | None
    path: str


FORMAT_ORDER = ("html", "markdown", "latex", "pdf", "beamer", "beamer-pdf", "json", "svg")


def group_command(group: str) -> str:
    """The command that writes a gallery group's document, run from the project's folder: ``derive show NAME`` for
    a scenario; the gallery's groups ``network-STEM`` and ``verify-STEM`` come from the shipped
    ``examples/networks/STEM.toml`` and ``examples/verify/STEM.md``."""
    kind, _, stem = group.partition("-")
    if kind == "network" and stem:
        return f"derive explain --network examples/networks/{stem}.toml"
    if kind == "verify" and stem:
        return f"derive verify examples/verify/{stem}.md"
    return f"derive show {group}"


def build_index(entries: Iterable[tuple[str, str, str | None, str]], lang: str = "en", *,
                user_templates: str | None = None) -> str:
    """``output/index.html``: every file of the gallery, grouped by scenario (in `SCENARIOS` order, then any
    other name alphabetically) with its title and summary, one row per language, relative links only."""
    t = _strings(lang)
    rows = [IndexEntry(*entry) for entry in entries]
    for row in rows:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", row.path) or row.path.startswith("/"):
            raise ValueError(f"index links must be relative paths, got {row.path!r}")
    order = {name: i for i, name in enumerate(SCENARIOS)}
    scenarios = sorted({r.scenario for r in rows}, key=lambda s: (order.get(s, len(order)), s))
    fmt_rank = {f: i for i, f in enumerate(FORMAT_ORDER)}

    def rank(row: IndexEntry) -> tuple:
        return (fmt_rank.get(row.fmt, len(fmt_rank)), row.fmt, row.path)

    groups = []
    for name in scenarios:
        mine = [r for r in rows if r.scenario == name]
        languages = sorted({r.lang for r in mine if r.lang is not None},
                           key=lambda code: (code != lang, code))
        per_language = []
        for code in languages:
            links = [{"label": t.get(f"html.format.{r.fmt}", r.fmt), "path": r.path, "fmt": r.fmt}
                     for r in sorted((r for r in mine if r.lang == code), key=rank)]
            per_language.append({"code": code, "label": t.get(f"html.language.{code}", code), "links": links})
        neutral = [{"label": t.get(f"html.format.{r.fmt}", r.fmt), "path": r.path, "fmt": r.fmt}
                   for r in sorted((r for r in mine if r.lang is None), key=rank)]
        groups.append({
            "name": name,
            "command": group_command(name),
            "title": _plain(t.get(f"scenario.{name}.title", name)),
            "summary": _plain(t.get(f"scenario.{name}.summary", "")),
            "languages": per_language,
            "neutral": neutral,
        })
    return _tidy(fill(INDEX_TEMPLATE, dict(lang=lang, t=t, groups=groups, css=stylesheet(user_templates)),
                      user_templates, html=True))
