"""Write derive/verify/checked-pages.sha256: every built-in scenario page the truth loop covers, read back first.

Run it after a change to a scenario's pages (tests/test_truth_loop.py fails until the record matches):
    python tests/record_checked_pages.py
"""
from __future__ import annotations

from derive.present.render import render
from derive.present.tex import own_definitions
from derive.scenarios import SCENARIOS, build
from derive.verify.pages import check_page
from derive.verify.recorded import RECORD, record_lines

LANGUAGES = ("en", "ja")
FORMATS = {"markdown": ".md", "latex": ".tex", "beamer": "-slides.tex"}  # what `show` prints, by its gallery name


def checked_pages() -> dict[str, str]:
    """Gallery path → Markdown page, for every page of a scenario read back; raises at the first that fails."""
    pages = {}
    for name in SCENARIOS:
        walk = build(name)
        if walk.reread:
            for lang in LANGUAGES:
                for fmt, suffix in FORMATS.items():
                    path, page = f"{name}/{lang}{suffix}", render(walk, fmt, lang)
                    check_page(page, path, own_definitions)
                    pages[path] = page
    return pages


if __name__ == "__main__":
    RECORD.write_text(record_lines(checked_pages()), encoding="ascii")
    print(f"wrote {RECORD}")
