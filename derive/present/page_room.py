"""The room a TeX document gives its figures, from the page the lecturer chose: the article's paper (``--paper``)
or the slides' aspect ratio (``--aspect``).

A graph figure is drawn at the largest scale that fits its room, and its labels print at their TikZ size times that
scale; so the room must be the chosen page's, or a figure fitted to A4 prints smaller on letter (shorter: a
landscape figure page is narrower) and a figure fitted to a 16:9 slide runs off a 4:3 one. Every size here is in cm
and follows from the page's size and the margins the templates set (``geometry``'s 25 mm in the article, Beamer's
own 1 cm at each side of a slide).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PAPER_CM = {"a4": (21.0, 29.7), "letter": (21.59, 27.94)}
"""``--paper`` → the sheet's width and height."""

SLIDE_CM = {"16:9": (16.0, 9.0), "4:3": (12.8, 9.6)}
"""``--aspect`` → the Beamer page's width and height (``aspectratio=169`` / ``43``)."""

ARTICLE_MARGIN_CM = 2.5  # geometry's margin=25mm (templates/latex/walkthrough.tex.j2, network.tex.j2)
CAPTION_CM = 3.7  # what a figure's caption and the float's spacing take of the text's height
ROTATED_CAPTION_CM = 1.4  # what the caption takes of a landscape figure page's height (the text's width)
ROTATED_OVERHANG_CM = 0.35  # a landscape figure may reach so far into each margin (\makebox[\linewidth])
SHEET_EDGE_CM = 1.25  # a landscape figure that is readable in no other room may reach this close to the sheet's edge
LINE_SLACK_CM = 0.2  # a figure in the text stays this much narrower than the line

SLIDE_MARGIN_CM = 1.0  # Beamer's left and right margins
SLIDE_HEAD_CM = 0.14  # Beamer's \textheight is the page's height less 4 pt (head and foot of the plain look)
SLIDE_AVAIL = 0.84  # \dvavail of templates/beamer/macros.tex.j2: the part of \textheight under a frame title


@dataclass(frozen=True)
class ArticleRoom:
    """An article's room for a figure: in the text (``width`` × ``height``, the caption left out) and on a page of
    its own turned a quarter (``rotated_width`` × ``rotated_height``: the text's height and width); ``edge_width``:
    how wide such a page's figure may be when it is readable in neither room (the sheet less `SHEET_EDGE_CM` at each
    side: a short sheet, as letter is, has less text height than A4)."""

    width: float
    height: float
    rotated_width: float
    rotated_height: float
    edge_width: float


@dataclass(frozen=True)
class SlideRoom:
    """A slide's room: the text's ``width`` and the height under a frame title (``height``, as ``\\dvavail``)."""

    width: float
    height: float


def article_room(paper: str | None = None) -> ArticleRoom:
    """The room of an article on ``paper`` (a key of `PAPER_CM`; None: A4)."""
    sheet_width, sheet_height = PAPER_CM[paper or "a4"]
    text_width, text_height = sheet_width - 2 * ARTICLE_MARGIN_CM, sheet_height - 2 * ARTICLE_MARGIN_CM
    return ArticleRoom(round(text_width - LINE_SLACK_CM, 2), round(text_height - CAPTION_CM, 2),
                       round(text_height + 2 * ROTATED_OVERHANG_CM, 2), round(text_width - ROTATED_CAPTION_CM, 2),
                       round(sheet_height - 2 * SHEET_EDGE_CM, 2))


def slide_room(aspect: str | None = None) -> SlideRoom:
    """The room of a slide of ``aspect`` (a key of `SLIDE_CM`; None: 16:9); the height rounded down to a mm."""
    page_width, page_height = SLIDE_CM[aspect or "16:9"]
    avail = SLIDE_AVAIL * (page_height - SLIDE_HEAD_CM)
    return SlideRoom(round(page_width - 2 * SLIDE_MARGIN_CM, 2), math.floor(round(10 * avail, 6)) / 10)
