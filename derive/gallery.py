"""``derive build``: every scenario, example network and verification example in every format and language,
written atomically into one folder, byte-identical on every run, with an ``index.html`` linking everything."""
from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from .files import write_atomic
from .render import EXTENSIONS, FORMATS, LANGUAGES, shipped_folder

FIGURE = "graph.svg"
NETWORK_EXAMPLES = ("design-example", "batch-sigmoid-sse", "relu-cross-entropy")


@dataclass(frozen=True)
class Document:
    group: str  # the index groups documents by this name (a scenario, "network-…", "verify-…")
    fmt: str
    lang: str | None  # None: language-neutral (JSON)
    path: str  # relative to the gallery folder
    render: Callable[[], tuple[str, dict[str, bytes]]]  # text, and the files it needs beside it


def _document_path(folder: str, fmt: str, lang: str | None) -> str:
    if fmt == "json":
        return f"{folder}/{folder.rsplit('/', 1)[-1]}.json"
    suffix = "-slides" if fmt == "beamer" else ""
    return f"{folder}/{lang}{suffix}.{EXTENSIONS[fmt]}"


def _languages(fmt: str) -> tuple[str | None, ...]:
    return (None,) if fmt == "json" else LANGUAGES


def relative_path(scenario: str, fmt: str, lang: str | None) -> str:
    """Where a scenario's document sits in the gallery: ``toast/en.md``, ``toast/ja-slides.tex``,
    ``toast/toast.json``."""
    return _document_path(scenario, fmt, lang)


def gallery_files() -> list[tuple[str, str, str | None]]:
    """(scenario, format, language) of every scenario document of the gallery; JSON is language-neutral."""
    from .scenarios import SCENARIOS
    return [(name, fmt, lang) for name in SCENARIOS for fmt in FORMATS for lang in _languages(fmt)]


def scenario_documents() -> list[Document]:
    from .render import attachments, render
    from .scenarios import build
    cache: dict = {}

    def job(name: str, fmt: str, lang: str | None) -> Callable[[], tuple[str, dict[str, bytes]]]:
        def run() -> tuple[str, dict[str, bytes]]:
            walk = cache.get(name) or cache.setdefault(name, build(name))
            return render(walk, fmt, lang or "en", figure_href=FIGURE), attachments(walk, fmt, FIGURE)
        return run

    return [Document(name, fmt, lang, relative_path(name, fmt, lang), job(name, fmt, lang))
            for name, fmt, lang in gallery_files()]


def network_documents() -> list[Document]:
    from .networks import explain_text
    cache: dict = {}

    def job(stem: str, fmt: str, lang: str | None) -> Callable[[], tuple[str, dict[str, bytes]]]:
        def run() -> tuple[str, dict[str, bytes]]:
            if stem not in cache:
                text = (shipped_folder("examples") / "networks" / f"{stem}.toml").read_text(encoding="utf-8")
                cache[stem] = explain_text(text, f"{stem}.toml")
            return cache[stem].render(fmt, lang or "en"), {}
        return run

    return [Document(f"network-{stem}", fmt, lang, _document_path(f"networks/{stem}", fmt, lang), job(stem, fmt, lang))
            for stem in NETWORK_EXAMPLES for fmt in FORMATS for lang in _languages(fmt)]


VERIFY_FORMATS = ("markdown", "latex", "html", "json")


def verify_documents() -> list[Document]:
    """The verification examples: the study material's own slip, its corrected version, and two more."""
    from .verify import example_documents, render_report, verify_text
    reports: dict = {}

    def job(stem: str, text: str, fmt: str, lang: str | None) -> Callable[[], tuple[str, dict[str, bytes]]]:
        def run() -> tuple[str, dict[str, bytes]]:
            report = reports.get(stem) or reports.setdefault(stem, verify_text(text))
            return render_report(report, fmt, lang or "en"), {}
        return run

    return [Document(f"verify-{stem}", fmt, lang, _document_path(f"verify/{stem}", fmt, lang),
                     job(stem, text, fmt, lang))
            for stem, text in example_documents() for fmt in VERIFY_FORMATS for lang in _languages(fmt)]


def documents() -> list[Document]:
    return scenario_documents() + network_documents() + verify_documents()


def build_gallery(out: Path, progress: TextIO | None = None, pdf: bool = True) -> list[Path]:
    """Write the gallery; returns the files written. SIGTERM is turned into an interruption, so that an
    interrupted build still leaves every file old or new and no temporary files behind."""
    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _build(out, progress, pdf)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _build(out: Path, progress: TextIO | None, pdf: bool) -> list[Path]:
    out = out.resolve()  # the TeX engine reports absolute paths
    docs = documents()
    bar = Progress(len(docs), progress)
    written: list[Path] = []
    index: list[tuple[str, str, str | None, str]] = []
    tex_files: list[Path] = []
    for doc in docs:
        text, beside = doc.render()
        target = out / doc.path
        target.parent.mkdir(parents=True, exist_ok=True)
        for name, data in beside.items():
            if target.parent / name not in written:
                write_atomic(target.parent / name, data)
                written.append(target.parent / name)
        write_atomic(target, text.encode("utf-8"))
        written.append(target)
        index.append((doc.group, doc.fmt, doc.lang, doc.path))
        if doc.fmt in ("latex", "beamer"):
            tex_files.append(target)
            # listed whether or not this run compiles it: the index, like every text file, is the same with
            # --no-pdf (the committed output/ is built so) as after a full build
            index.append((doc.group, "beamer-pdf" if doc.fmt == "beamer" else "pdf", doc.lang,
                          str(Path(doc.path).with_suffix(".pdf"))))
        bar.step(doc.path)
    if pdf:
        written += [compiled for compiled in _compile_all(tex_files, bar) if compiled is not None]
    from .html import build_index
    write_atomic(out / "index.html", build_index(index).encode("utf-8"))
    written.append(out / "index.html")
    bar.done()
    return written


def _compile_all(tex_files: list[Path], bar: "Progress") -> list[Path | None]:
    """Compile every .tex with the engine its first line names, two at a time; a missing engine is one warning
    and no PDFs from it, not a failure."""
    from .pdf import compile_pdf, engine_available, engine_for
    engines = {tex: engine_for(tex.read_text(encoding="utf-8")) for tex in tex_files}
    missing = sorted({e for e in engines.values() if not engine_available(e)})
    for engine in missing:
        bar.warn(f"{engine} is not installed: the PDFs it would make are skipped "
                 "(scripts/install-test-deps.sh installs TeX Live)")
    bar.restart(len(tex_files), "PDF")

    def one(tex: Path) -> Path | None:
        if engines[tex] in missing:
            return None
        result = compile_pdf(tex)
        bar.step(str(result.name))
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, tex_files))


class Progress:
    """A progress bar on a terminal; plain lines otherwise (logs, CI)."""

    def __init__(self, total: int, stream: TextIO | None, label: str = "build") -> None:
        self.stream, self.total, self.count, self.label = stream, total, 0, label
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def restart(self, total: int, label: str) -> None:
        self.done()
        self.total, self.count, self.label = total, 0, label

    def step(self, what: str) -> None:
        self.count += 1
        if self.stream is None:
            return
        if self.tty:
            filled = 30 * self.count // max(self.total, 1)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} "
                              f"{what[:40]:<40}")
        else:
            self.stream.write(f"[{self.count}/{self.total}] {what}\n")
        self.stream.flush()

    def warn(self, message: str) -> None:
        if self.stream is not None:
            self.stream.write(("\n" if self.tty else "") + f"derive: warning: {message}\n")

    def done(self) -> None:
        if self.tty and self.stream is not None and self.count:
            self.stream.write("\n")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()
