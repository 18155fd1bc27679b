"""The built-in scenarios' pages that the tests have read back (the truth loop), recorded by content hash.

`derive show` prints a page whose hash is recorded without reading it back again, so that it stays fast; any other
page (user templates, a catalog changed since the record) is read back as `derive explain`'s pages are. The record
is written by ``python tests/record_checked_pages.py``, which re-reads every page first, and a test fails when the
record and the pages differ.
"""
from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

RECORD = Path(__file__).with_name("checked-pages.sha256")


def page_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def recorded_hashes() -> frozenset[str]:
    """The hashes in the record (``sha256sum`` layout: hash, two spaces, the page's gallery path)."""
    try:
        lines = RECORD.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.split()[0] for line in lines if line.strip())


def is_recorded(text: str) -> bool:
    """True when this exact page was read back, and held, when the record was written."""
    return page_hash(text) in recorded_hashes()


def record_lines(pages: dict[str, str]) -> str:
    """The record's text for pages by gallery path (sorted, so the record is deterministic)."""
    return "".join(f"{page_hash(text)}  {path}\n" for path, text in sorted(pages.items()))
