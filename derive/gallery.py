"""``derive build``: every scenario × format × language into one folder, byte-identical on every run."""
from __future__ import annotations

from pathlib import Path
from typing import TextIO

from .cli import write_atomic
from .render import EXTENSIONS, LANGUAGES
from .scenarios import SCENARIOS, build


GALLERY_FORMATS = ("markdown", "json")


def gallery_files() -> list[tuple[str, str, str]]:
    """(scenario, format, language) for every file of the gallery; json is language-neutral."""
    return [(s, f, lang) for s in SCENARIOS for f in GALLERY_FORMATS for lang in (LANGUAGES if f != "json" else ("en",))]


def relative_path(scenario: str, fmt: str, lang: str) -> str:
    if fmt == "json":
        return f"{scenario}/{scenario}.json"
    suffix = "-slides" if fmt == "beamer" else ""
    return f"{scenario}/{lang}{suffix}.{EXTENSIONS[fmt]}"


FIGURE = "graph.svg"


def build_gallery(out: Path, progress: TextIO | None = None, pdf: bool = True) -> list[Path]:
    from .render import attachments, render
    written = []
    walks = {}
    jobs = gallery_files()
    for number, (scenario, fmt, lang) in enumerate(jobs, 1):
        walk = walks.get(scenario) or walks.setdefault(scenario, build(scenario))
        path = out / relative_path(scenario, fmt, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render(walk, fmt, lang, figure_href=FIGURE)
        for name, data in attachments(walk, fmt, FIGURE).items():
            if path.parent / name not in written:
                write_atomic(path.parent / name, data)
                written.append(path.parent / name)
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
        if progress is not None:
            progress.write(f"[{number}/{len(jobs)}] {path}\n")
    return written
