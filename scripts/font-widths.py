#!/usr/bin/env python3
"""Print the advance-width table of derive/present/mathtext.py: for every character a figure label can hold, the wider of
DejaVu Serif Book and Italic (fonts that matplotlib ships), in thousandths of an em. Run it only to extend the
table: the table is data, so that a figure never depends on the fonts of the machine that draws it."""
from pathlib import Path

import matplotlib
from matplotlib.ft2font import FT2Font, LoadFlags

GREEK = "αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΥΦΨΩ"
CHARS = "".join(map(chr, range(32, 127))) + "\u2212\u00b7\u00d7\u00f7\u2202\u221a\u2032\u2217\u2299\u2190\u221e" + GREEK

fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def widths(style: str) -> list[int]:
    font = FT2Font(str(fonts / f"{style}.ttf"))
    return [round(1000 * font.load_char(ord(c), flags=LoadFlags.NO_SCALE).horiAdvance / font.units_per_EM)
            for c in CHARS]


print(f"_CHARS = {CHARS!r}")
print(f"_WIDTHS = {tuple(map(max, widths('DejaVuSerif'), widths('DejaVuSerif-Italic')))}")
