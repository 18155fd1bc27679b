"""``derive build``: every scenario, example network and verification example in every format and language,
written atomically into one folder, byte-identical on every run, with an ``index.html`` linking everything."""
from __future__ import annotations

import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from . import buildcache
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
    from .network import explain_text
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


INSTALL_HINTS = {"pdflatex": "install TeX Live: texlive-latex-extra (scripts/install-test-deps.sh)",
                 "lualatex": "install texlive-luatex and texlive-lang-japanese (scripts/install-test-deps.sh)"}


@dataclass(frozen=True)
class BuildSummary:
    """What a build did: files whose bytes changed, files already as the build would write them (taken from the
    last build or re-rendered to the same bytes), and PDFs skipped with the reason."""

    index: Path  # the gallery's index.html, as the user named the folder
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...]
    compiled: tuple[Path, ...] = ()  # the documents' PDFs compiled by this build (also in written)
    kept: tuple[Path, ...] = ()  # the documents' PDFs whose sources had not changed (also in unchanged)

    def lines(self) -> list[str]:
        out = [f"{len(self.written)} files written, {len(self.unchanged)} unchanged"]
        if self.compiled or self.kept:
            out[0] += f"; {len(self.compiled)} PDFs compiled, {len(self.kept)} up to date"
        reasons: dict[str, int] = {}
        for _, reason in self.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        out += [f"skipped {count} PDFs: {reason}" for reason, count in sorted(reasons.items())]
        out.append(f"open {self.index}")
        return out


def build_gallery(out: Path, progress: TextIO | None = None, pdf: bool = True) -> BuildSummary:
    """Write the gallery (only what changed since the last build into ``out``; see `derive.buildcache`), compiling
    each .tex as soon as it is written. SIGTERM is turned into an interruption, so that an interrupted build still
    leaves every file old or new and no temporary files behind."""
    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _build(out, progress, pdf)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``path`` atomically unless it already holds ``data``; whether it was written."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return True


def _source_folders() -> list[Path]:
    return [Path(__file__).resolve().parent] + [shipped_folder(name) for name in ("templates", "examples")]


def _build(out_given: Path, progress: TextIO | None, pdf: bool) -> BuildSummary:
    out = out_given.resolve()  # the TeX engine reports absolute paths
    docs = documents()
    old = buildcache.load(out)
    new = buildcache.Manifest(buildcache.inputs_digest(_source_folders()))
    tex_docs = [doc for doc in docs if doc.fmt in ("latex", "beamer")]
    bar = Progress(len(docs) + (len(tex_docs) if pdf else 0), progress)
    written: dict[Path, None] = {}  # ordered sets: a plot beside the .tex is written once, seen four times
    unchanged: dict[Path, None] = {}
    skipped: list[tuple[Path, str]] = []
    index: list[tuple[str, str, str | None, str]] = []
    compiling: list[tuple[str, str, Future]] = []
    engines: dict[str, bool] = {}
    pool = ThreadPoolExecutor(max_workers=2) if pdf else None
    try:
        for doc in docs:
            if old.fresh_document(out, doc.path, new.inputs):
                entry = old.documents[doc.path]
                unchanged.update(dict.fromkeys(out / name for name in (doc.path, *entry["beside"])))
                bar.step(doc.path, "unchanged")
            else:
                text, beside = doc.render()
                folder = Path(doc.path).parent
                data = {**{(folder / name).as_posix(): content for name, content in beside.items()},
                        doc.path: text.encode("utf-8")}  # the files beside first: the document refers to them
                for name, content in data.items():
                    if out / name not in written:
                        (written if _write_if_changed(out / name, content) else unchanged)[out / name] = None
                entry = {"sha": buildcache.digest(data.pop(doc.path)),
                         "beside": {name: buildcache.digest(content) for name, content in data.items()}}
                bar.step(doc.path)
            new.documents[doc.path] = entry
            index.append((doc.group, doc.fmt, doc.lang, doc.path))
            if doc.fmt in ("latex", "beamer"):
                pdf_path = str(Path(doc.path).with_suffix(".pdf"))
                # listed whether or not this run compiles it: the index, like every text file, is the same with
                # --no-pdf (the committed output/ is built so) as after a full build
                index.append((doc.group, "beamer-pdf" if doc.fmt == "beamer" else "pdf", doc.lang, pdf_path))
                if pool is not None:
                    _schedule_pdf(out, doc, pdf_path, entry, old, new, pool, engines, compiling, unchanged,
                                  skipped, bar)
        for pdf_path, source, future in compiling:
            new.pdfs[pdf_path] = {"source": source, "sha": buildcache.digest(future.result().read_bytes())}
            written[out / pdf_path] = None
    finally:
        if pool is not None:  # after an error or an interruption: no new compilations, the running ones end
            pool.shutdown(wait=False, cancel_futures=True)
    from .html import build_index
    (written if _write_if_changed(out / "index.html", build_index(index).encode("utf-8")) else unchanged)[
        out / "index.html"] = None
    if not pdf:  # what the last full build knew about the PDFs stays true as long as their sources are the same
        new.pdfs = old.pdfs
    buildcache.save(out, new)
    bar.done()
    pdfs = {out / path for path in new.pdfs if pdf}
    summary = BuildSummary(out_given / "index.html", tuple(written), tuple(p for p in unchanged if p not in written),
                           tuple(skipped), tuple(p for p in written if p in pdfs),
                           tuple(p for p in unchanged if p in pdfs))
    for line in summary.lines():
        bar.say(line)
    return summary


def _schedule_pdf(out: Path, doc: Document, pdf_path: str, entry: dict, old: "buildcache.Manifest",
                  new: "buildcache.Manifest", pool: ThreadPoolExecutor, engines: dict[str, bool],
                  compiling: list, unchanged: dict[Path, None], skipped: list[tuple[Path, str]], bar: "Progress") -> None:
    """Take the PDF from the last build when its sources are the same; else start compiling it now (two at a
    time, while the next documents are rendered); a missing engine skips it with the reason."""
    from .pdf import engine_available, engine_for
    tex = out / doc.path
    with tex.open(encoding="utf-8") as handle:
        engine = engine_for(handle.readline())
    beside = {name: sha for name, sha in entry["beside"].items() if name.endswith(".pdf")}
    source = buildcache.pdf_source_digest(engine, entry["sha"], beside)
    if old.fresh_pdf(out, pdf_path, source):
        new.pdfs[pdf_path] = old.pdfs[pdf_path]
        unchanged[out / pdf_path] = None
        bar.step(pdf_path, "unchanged")
        return
    if engine not in engines:
        engines[engine] = engine_available(engine)
    if not engines[engine]:
        skipped.append((out / pdf_path, f"{engine} not found, {INSTALL_HINTS[engine]}"))
        bar.step(pdf_path, f"skipped: {engine} not found")
        return

    def compile_one() -> Path:
        result = _compile_one(tex)
        bar.step(pdf_path)
        return result
    compiling.append((pdf_path, source, pool.submit(compile_one)))


def _compile_one(tex: Path) -> Path:
    from .pdf import compile_pdf
    return compile_pdf(tex)


class Progress:
    """A progress bar on a terminal; plain lines otherwise (logs, CI)."""

    def __init__(self, total: int, stream: TextIO | None, label: str = "build") -> None:
        self.stream, self.total, self.count, self.label = stream, total, 0, label
        self.lock = threading.Lock()  # PDFs finish on the compiling threads
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def step(self, what: str, note: str = "") -> None:
        """One more item done: ``what`` names it (``toast/ja.pdf``), ``note`` says why nothing was done."""
        with self.lock:
            self.count += 1
            if self.stream is None:
                return
            what = f"{what} ({note})" if note else what
            if self.tty:
                filled = 30 * self.count // max(self.total, 1)
                self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} "
                                  f"{what[:50]:<50}")
            else:
                self.stream.write(f"[{self.count}/{self.total}] {what}\n")
            self.stream.flush()

    def say(self, line: str) -> None:
        if self.stream is not None:
            self.stream.write(f"derive: {line}\n")

    def warn(self, message: str) -> None:
        if self.stream is not None:
            self.stream.write(("\n" if self.tty else "") + f"derive: warning: {message}\n")

    def done(self) -> None:
        if self.tty and self.stream is not None and self.count:
            self.stream.write("\n")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
