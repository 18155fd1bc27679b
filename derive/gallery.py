"""``derive build``: every scenario, example network and verification example in every format and language,
written atomically into one folder, byte-identical on every run, with an ``index.html`` linking everything."""
from __future__ import annotations

import heapq
import itertools
import multiprocessing
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from . import buildcache
from .files import make_folder, shipped_folder, write_atomic
from .networks import explain_text
from .present.formats import FORMATS, LANGUAGES, TEX_ENGINES, gallery_formats
from .present.html import build_index
from .present import pdf as tex_pdf
from .present.render import attachments, render
from .present.tex import own_definitions
from .present.texfigures import ENGINE, externalized, figure_document
from .scenarios import SCENARIOS, build
from .verify import example_documents, verify_text
from .verify import ClaimCache
from .verify.pages import PageDoesNotHold, check_page

FIGURE = "graph.svg"
DIAGRAM = "network.svg"  # a network's diagram beside its Markdown
NETWORK_EXAMPLES = ("design-example", "batch-sigmoid-sse", "relu-cross-entropy")
REREAD_FORMATS = {"markdown": "markdown", "html": "markdown", "latex": "latex", "beamer": "beamer"}
"""The formats of a page read back, each by the document that is read: the HTML page's maths is its Markdown's."""


@dataclass(frozen=True)
class Document:
    group: str  # the index groups documents by this name (a scenario, "network-…", "verify-…")
    fmt: str
    lang: str | None  # None: language-neutral (JSON)
    path: str  # relative to the gallery folder
    render: Callable[[], tuple[str, dict[str, bytes]]]  # text, and the files it needs beside it


def _document_path(folder: str, fmt: str, lang: str | None) -> str:
    chosen = FORMATS[fmt]
    if chosen.language_neutral:
        return f"{folder}/{folder.rsplit('/', 1)[-1]}.{chosen.extension}"
    return f"{folder}/{lang}{chosen.file_suffix}.{chosen.extension}"


def _languages(fmt: str) -> tuple[str | None, ...]:
    return (None,) if FORMATS[fmt].language_neutral else tuple(LANGUAGES)


def relative_path(scenario: str, fmt: str, lang: str | None) -> str:
    """Where a scenario's document sits in the gallery: ``toast/en.md``, ``toast/ja-slides.tex``,
    ``toast/toast.json``."""
    return _document_path(scenario, fmt, lang)


def gallery_files() -> list[tuple[str, str, str | None]]:
    """(scenario, format, language) of every scenario document of the gallery; JSON is language-neutral."""
    return [(name, fmt, lang) for name in SCENARIOS for fmt in gallery_formats("walkthrough")
            for lang in _languages(fmt)]


def _render_checked(document, fmt: str, lang: str | None, figure: str, page_path: Callable[[str], str],
                    checked: set[tuple[str, str | None]], claims: ClaimCache) -> str:
    """``document`` rendered; when the document is re-read, the page read back for ``fmt`` (see `REREAD_FORMATS`;
    ``page_path(format)`` names it) is checked by the truth loop first, once per build, with one claim cache per
    document (its article, slides and Markdown share most equations). Raises `PageDoesNotHold`."""
    text = render(document, fmt, lang or "en", figure_href=figure)
    read = REREAD_FORMATS.get(fmt)
    if document.reread and read is not None and (read, lang) not in checked:
        page = text if read == fmt else render(document, read, lang or "en", figure_href=figure)
        check_page(page, page_path(read), own_definitions, claims)
        checked.add((read, lang))
    return text


def scenario_documents() -> list[Document]:
    cache: dict = {}
    checked: dict[str, set[tuple[str, str | None]]] = {}
    claims: dict[str, ClaimCache] = {}

    def job(name: str, fmt: str, lang: str | None) -> Callable[[], tuple[str, dict[str, bytes]]]:
        def run() -> tuple[str, dict[str, bytes]]:
            walk = cache.get(name) or cache.setdefault(name, build(name))
            text = _render_checked(walk, fmt, lang, FIGURE, lambda read: relative_path(name, read, lang),
                                   checked.setdefault(name, set()), claims.setdefault(name, ClaimCache()))
            return text, attachments(walk, fmt, FIGURE)
        return run

    return [Document(name, fmt, lang, relative_path(name, fmt, lang), job(name, fmt, lang))
            for name, fmt, lang in gallery_files()]


def network_documents() -> list[Document]:
    cache: dict = {}
    checked: dict[str, set[tuple[str, str | None]]] = {}
    claims: dict[str, ClaimCache] = {}

    def job(stem: str, fmt: str, lang: str | None) -> Callable[[], tuple[str, dict[str, bytes]]]:
        def run() -> tuple[str, dict[str, bytes]]:
            if stem not in cache:
                text = (shipped_folder("examples") / "networks" / f"{stem}.toml").read_text(encoding="utf-8")
                cache[stem] = explain_text(text, f"{stem}.toml")
            net = cache[stem]
            text = _render_checked(net, fmt, lang, DIAGRAM,
                                   lambda read: _document_path(f"networks/{stem}", read, lang),
                                   checked.setdefault(stem, set()), claims.setdefault(stem, ClaimCache()))
            return text, attachments(net, fmt, DIAGRAM)
        return run

    return [Document(f"network-{stem}", fmt, lang, _document_path(f"networks/{stem}", fmt, lang), job(stem, fmt, lang))
            for stem in NETWORK_EXAMPLES for fmt in gallery_formats("network") for lang in _languages(fmt)]


def verify_documents() -> list[Document]:
    """The verification examples: the study material's own slip, its corrected version, and two more."""
    reports: dict = {}

    def job(stem: str, text: str, fmt: str, lang: str | None) -> Callable[[], tuple[str, dict[str, bytes]]]:
        def run() -> tuple[str, dict[str, bytes]]:
            report = reports.get(stem) or reports.setdefault(stem, verify_text(text))
            return render(report, fmt, lang or "en"), {}
        return run

    return [Document(f"verify-{stem}", fmt, lang, _document_path(f"verify/{stem}", fmt, lang),
                     job(stem, text, fmt, lang))
            for stem, text in example_documents() for fmt in gallery_formats("report") for lang in _languages(fmt)]


def documents() -> list[Document]:
    return scenario_documents() + network_documents() + verify_documents()


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


def build_gallery(out: Path, progress: TextIO | None = None, pdf: bool = True, jobs: int = 1) -> BuildSummary:
    """Write the gallery (only what changed since the last build into ``out``; see `derive.buildcache`), compiling
    each .tex as soon as it is written. With ``jobs`` > 1, ``jobs`` processes (this one and ``jobs - 1`` workers)
    render the folders, costliest first (see `_Workers`; the files are written in the same order either way).
    SIGTERM is turned into an interruption, so that an interrupted build still leaves every file old or new and no
    temporary files behind."""
    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _build(out, progress, pdf, jobs)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _write_if_changed(path: Path, data: bytes, known: bool = True) -> bool:
    """Write ``path`` atomically unless it already holds ``data`` and the folder is ``known`` (a build of derive's
    recorded it: a folder without a record, such as a fresh clone's output/, is written in full, so that every file
    in it is one this build wrote); whether it was written."""
    try:
        if known and path.read_bytes() == data:
            return False
    except OSError:
        pass
    make_folder(path.parent, "--out")
    write_atomic(path, data)
    return True


def _source_folders() -> list[Path]:
    return [Path(__file__).resolve().parent] + [shipped_folder(name) for name in ("templates", "examples")]


def _build(out_given: Path, progress: TextIO | None, pdf: bool, jobs: int = 1) -> BuildSummary:
    out = out_given.resolve()  # the TeX engine reports absolute paths
    docs = documents()
    old = buildcache.load(out)
    known = bool(old.documents)
    new = buildcache.Manifest(buildcache.inputs_digest(_source_folders()))
    tex_docs = [doc for doc in docs if FORMATS[doc.fmt].tex]
    bar = Progress(len(docs) + (len(tex_docs) if pdf else 0), progress)
    written: dict[Path, None] = {}  # ordered sets: a plot beside the .tex is written once, seen four times
    unchanged: dict[Path, None] = {}
    index: list[tuple[str, str, str | None, str]] = []
    pdfs = _PdfQueue(out, old, new, unchanged, bar) if pdf else None
    stale: dict[str, list[str]] = {}
    failed: list[PageDoesNotHold] = []
    for doc in docs:
        if not old.fresh_document(out, doc.path, new.inputs):
            stale.setdefault(doc.group, []).append(doc.path)
    workers = _Workers(stale, jobs) if jobs > 1 and len(stale) > 1 else None
    try:
        for doc in docs:
            if pdfs is not None and pdfs.group != doc.group:
                pdfs.flush(doc.group)  # the folder's .tex files are all written: compile them
            if old.fresh_document(out, doc.path, new.inputs):
                entry = old.documents[doc.path]
                unchanged.update(dict.fromkeys(out / name for name in (doc.path, *entry["beside"])))
                bar.step(doc.path, "unchanged")
            else:
                try:
                    text, beside = workers.result(doc) if workers is not None else doc.render()
                except PageDoesNotHold as exc:  # the truth loop: this page is not written, the others are
                    failed.append(exc)
                    bar.step(doc.path, "not written: a printed relation does not hold")
                    continue
                folder = Path(doc.path).parent
                data = {**{(folder / name).as_posix(): content for name, content in beside.items()},
                        doc.path: text.encode("utf-8")}  # the files beside first: the document refers to them
                for name, content in data.items():
                    if out / name not in written:
                        (written if _write_if_changed(out / name, content, known) else unchanged)[out / name] = None
                entry = {"sha": buildcache.digest(data.pop(doc.path)),
                         "beside": {name: buildcache.digest(content) for name, content in data.items()}}
                bar.step(doc.path)
            new.documents[doc.path] = entry
            index.append((doc.group, doc.fmt, doc.lang, doc.path))
            if FORMATS[doc.fmt].tex:
                pdf_path = str(Path(doc.path).with_suffix(".pdf"))
                # listed whether or not this run compiles it: the index, like every text file, is the same with
                # --no-pdf (the committed output/ is built so) as after a full build
                index.append((doc.group, "beamer-pdf" if doc.fmt == "beamer" else "pdf", doc.lang, pdf_path))
                if pdfs is not None:
                    pdfs.add(doc, pdf_path, entry)
        if pdfs is not None:
            pdfs.flush(None)
            written.update(dict.fromkeys(pdfs.finish()))
    finally:
        if workers is not None:
            workers.close()
        if pdfs is not None:
            pdfs.close()
    (written if _write_if_changed(out / "index.html", build_index(index).encode("utf-8"), known) else unchanged)[
        out / "index.html"] = None
    if pdfs is None:  # what the last full build knew about the PDFs stays true as long as their sources are the same
        new.pdfs = old.pdfs
    buildcache.save(out, new)
    bar.done()
    compiled = {out / path for path in new.pdfs if pdfs is not None}
    summary = BuildSummary(out_given / "index.html", tuple(written), tuple(p for p in unchanged if p not in written),
                           tuple(pdfs.skipped if pdfs is not None else ()), tuple(p for p in written if p in compiled),
                           tuple(p for p in unchanged if p in compiled))
    for line in summary.lines():
        bar.say(line)
    if failed:  # every other document is written; the first page that does not hold is named (exit 3)
        raise failed[0]
    return summary


class _Workers:
    """The stale folders rendered by ``jobs - 1`` worker processes and by this process itself, costliest first
    (`FOLDER_SECONDS`), so that no process is left with a long folder at the end while the other is idle. Each
    worker is handed one folder at a time, the costliest no process has taken, when it is done with the last (a
    thread per worker waits for it); the build writes the documents in gallery order, and whenever the folder it
    writes next is not rendered yet, this process takes the costliest folder left and renders it itself (the
    workers start up, importing SymPy and the rest, while it does). Every file is still written by this process
    alone, so an interruption leaves no half-written file."""

    def __init__(self, stale: dict[str, list[str]], jobs: int) -> None:
        self.stale = stale
        self.waiting = costliest_first(stale)  # the folders no process has taken yet
        self.lock = threading.Lock()
        self.folders: dict[str, Future] = {group: Future() for group in stale}
        self.pool = ProcessPoolExecutor(max_workers=jobs - 1, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(jobs - 1):
            threading.Thread(target=self._feed_worker, daemon=True).start()

    def _take(self) -> str | None:
        with self.lock:
            return self.waiting.pop(0) if self.waiting else None

    def _feed_worker(self) -> None:
        """On a thread of its own: one worker's folders, one at a time, until none is left or the pool is shut."""
        while (group := self._take()) is not None:
            try:
                rendered = self.pool.submit(render_folder, group, tuple(self.stale[group])).result()
            except BaseException as error:  # handed to whoever waits for the folder, as the pool does
                self.folders[group].set_exception(error)
                return
            self.folders[group].set_result(rendered)

    def result(self, doc: Document) -> tuple[str, dict[str, bytes]]:
        folder = self.folders[doc.group]
        while not folder.done() and (group := self._take()) is not None:
            self.folders[group].set_result(render_folder(group, tuple(self.stale[group])))
        found = folder.result()[doc.path]
        if isinstance(found, PageDoesNotHold):
            raise found
        return found

    def close(self) -> None:
        with self.lock:
            self.waiting.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)


def costliest_first(stale: dict[str, list[str]]) -> list[str]:
    """The folders ``stale`` costliest first (`FOLDER_SECONDS`); equal costs in gallery order."""
    return sorted(stale, key=lambda group: -FOLDER_SECONDS.get(group, UNKNOWN_FOLDER_SECONDS))


FOLDER_SECONDS = {"vanishing-gradients": 3.6, "delta-recurrence": 3.1, "optimizers": 2.0,
                  "softmax-cross-entropy": 1.7, "sigmoid-sse": 1.3, "activations": 1.3,
                  "network-relu-cross-entropy": 1.0, "network-design-example": 0.8,
                  "network-batch-sigmoid-sse": 0.8, "toast": 0.5, "linear-model": 0.4}
"""CPU seconds of rendering each folder of the gallery with its truth loop (measured one folder at a time in one
process); only the order they give matters: the build renders the costliest first. Every scenario and example
network is listed (tests/test_gallery.py checks it); a folder not listed, a verification example's, counts as
`UNKNOWN_FOLDER_SECONDS`."""
UNKNOWN_FOLDER_SECONDS = 0.1


def render_folder(group: str, paths: tuple[str, ...]) -> dict[str, tuple[str, dict[str, bytes]] | PageDoesNotHold]:
    """The documents ``paths`` of one folder of the gallery, rendered (in a worker process, or in the build's own);
    a page that does not hold is given as its failure, and the folder's other documents are rendered."""
    return {doc.path: _rendered(doc) for doc in documents() if doc.group == group and doc.path in paths}


def _rendered(doc: Document) -> tuple[str, dict[str, bytes]] | PageDoesNotHold:
    try:
        return doc.render()
    except PageDoesNotHold as exc:
        return exc


class _PdfQueue:
    """The PDFs of the build, a folder of the gallery at a time: each is taken from the last build when what it is
    compiled from is the same, else compiled (two at a time, while the next folders are rendered) once the
    folder's figure PDF is there (`derive.present.texfigures`); a missing engine skips it with the reason."""

    def __init__(self, out: Path, old: buildcache.Manifest, new: buildcache.Manifest,
                 unchanged: dict[Path, None], bar: "Progress") -> None:
        self.out, self.old, self.new, self.unchanged, self.bar = out, old, new, unchanged, bar
        self.pool = CostliestFirst(workers=2)
        self.group: str | None = None
        self.pending: list[tuple[Document, str, dict]] = []
        self.folders: list[Future] = []  # each gives the (pdf path, source digest, future) of its documents
        self.engines: dict[str, bool] = {}
        self.skipped: list[tuple[Path, str]] = []
        self.figures: set[str] = set()  # the figure PDFs this build's documents use

    def add(self, doc: Document, pdf_path: str, entry: dict) -> None:
        self.pending.append((doc, pdf_path, entry))

    def _available(self, engine: str) -> bool:
        if engine not in self.engines:
            self.engines[engine] = tex_pdf.engine_available(engine)
        return self.engines[engine]

    def flush(self, next_group: str | None) -> None:
        pending, self.pending, self.group = self.pending, [], next_group
        if not pending:
            return
        texts = [(self.out / doc.path).read_text(encoding="utf-8") for doc, _, _ in pending]
        figures = figure_document(texts) if self._available(ENGINE) else None
        if figures is not None:
            self.figures.add(figures.name)
        todo = []
        for (doc, pdf_path, entry), text in zip(pending, texts):
            engine = tex_pdf.engine_for(text)
            beside = {name: sha for name, sha in entry["beside"].items() if name.endswith(".pdf")}
            if figures is not None:
                beside["figures"] = buildcache.digest(figures.source.encode("utf-8"))
            source = buildcache.pdf_source_digest(engine, entry["sha"], beside)
            if self.old.fresh_pdf(self.out, pdf_path, source):
                self.new.pdfs[pdf_path] = self.old.pdfs[pdf_path]
                self.unchanged[self.out / pdf_path] = None
                self.bar.step(pdf_path, "unchanged")
            elif not self._available(engine):
                self.skipped.append((self.out / pdf_path, f"{engine} not found (install TeX Live, "
                                                          f"{TEX_ENGINES[engine].packages}; see the README's Requirements)"))
                self.bar.step(pdf_path, f"skipped: {engine} not found")
            else:
                included = {Path(name).name: self.out / name for name in beside if name.endswith(".pdf")}
                todo.append((doc, pdf_path, source, text, included))
        if todo:
            todo = [(doc, pdf_path, source, text if figures is None else externalized(text, figures), included)
                    for doc, pdf_path, source, text, included in todo]
            longest = max(tex_seconds(tex_pdf.engine_for(text), doc.fmt, text) for doc, _, _, text, _ in todo)
            first = 0.0 if figures is None else tex_seconds(ENGINE, "figures", figures.source)
            self.folders.append(self.pool.submit(first + longest, self._compile_folder, figures, todo))

    def _compile_folder(self, figures, todo: list) -> list[tuple[str, str, Future]]:
        """Runs on a compiling thread: the figure PDF (from the cache or compiled now), then the documents (each
        with its pictures taken from the figure PDF)."""
        beside = {}
        if figures is not None:
            cache = self.out / buildcache.FOLDER / "figures"
            cache.mkdir(parents=True, exist_ok=True)
            beside = {figures.name: cache / figures.name}
            if not beside[figures.name].is_file():
                _compile(cache / (figures.name[:-4] + ".tex"), figures.source, beside[figures.name], {})

        def one(doc: Document, pdf_path: str, text: str, included: dict[str, Path]) -> Path:
            """``included``: the PDFs written beside the document (plots), compiled from copies so that the PDF
            does not name the gallery's folder."""
            tex = self.out / doc.path
            result = _compile(tex, text if figures is not None else None, tex.with_suffix(".pdf"),
                              {**beside, **included})
            self.bar.step(pdf_path)
            return result
        return [(pdf_path, source, self.pool.submit(tex_seconds(tex_pdf.engine_for(text), doc.fmt, text), one, doc,
                                                     pdf_path, text, included))
                for doc, pdf_path, source, text, included in todo]

    def finish(self) -> list[Path]:
        """Wait for every compilation; drop the figure PDFs no document uses any more; the PDFs written."""
        done = []
        for folder in self.folders:
            for pdf_path, source, future in folder.result():
                self.new.pdfs[pdf_path] = {"source": source, "sha": buildcache.digest(future.result().read_bytes())}
                done.append(self.out / pdf_path)
        for stale in (self.out / buildcache.FOLDER / "figures").glob("dvfigures-*.pdf"):
            if stale.name not in self.figures:
                stale.unlink()
        return done

    def close(self) -> None:
        """After an error or an interruption: no new compilations; the running ones end."""
        self.pool.shutdown()


TEX_SECONDS = {("pdflatex", "figures"): (0.35, 0.022), ("pdflatex", "latex"): (0.2, 0.0023),
               ("pdflatex", "beamer"): (0.43, 0.013), ("lualatex", "latex"): (1.63, 0.0155),
               ("lualatex", "beamer"): (2.04, 0.025)}
"""CPU seconds of one TeX run by engine and kind of document: a start-up cost and a cost per KiB of the source
compiled (pictures taken from the figure PDF), fitted to every run of a full build (bench/run.py --build times
each); only the order they give matters."""


def tex_seconds(engine: str, kind: str, source: str) -> float:
    """About how long compiling ``source`` takes, to compile the longest first."""
    start, per_kib = TEX_SECONDS.get((engine, kind), (1.0, 0.03))
    return start + per_kib * len(source) / 1024


class CostliestFirst:
    """A pool of threads that runs the costliest task waiting first, not the oldest: the compilations of a build
    all wait within its first seconds (the text phase is short), and taking the long ones first keeps the build
    from ending on one long compilation with the other core idle. A task may submit more (a folder's figure PDF,
    then its documents)."""

    def __init__(self, workers: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.waiting: list[tuple[float, int, Future, Callable, tuple]] = []
        self.order = itertools.count()  # equal costs: the older first
        self.lock = threading.Lock()

    def submit(self, cost: float, task: Callable, *args: object) -> Future:
        future: Future = Future()
        with self.lock:
            heapq.heappush(self.waiting, (-cost, next(self.order), future, task, args))
        self.pool.submit(self._run_costliest)  # one run per task: each takes whichever task is costliest then
        return future

    def _run_costliest(self) -> None:
        with self.lock:
            _, _, future, task, args = heapq.heappop(self.waiting)
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(task(*args))
        except BaseException as error:  # handed to whoever waits on the future, as ThreadPoolExecutor does
            future.set_exception(error)

    def shutdown(self) -> None:
        """No new task starts; the running ones end."""
        with self.lock:
            for _, _, future, _, _ in self.waiting:
                future.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


READS_BACK = False
"""Whether the gallery's documents typeset anything read back from their own auxiliary files: they do not (no
references, contents, total frame count or navigation bars; tests/test_gallery.py checks their .tex), so each is
compiled in one run, where the Beamer decks' frame labels made LaTeX ask for a second that changed no byte."""


def _compile(tex: Path, text: str | None, pdf_path: Path, beside: dict[str, Path]) -> Path:
    """The one place the gallery runs TeX (the tests put a stand-in here)."""
    return tex_pdf.compile_tex(tex, text=text, pdf_path=pdf_path, beside=beside, reads_back=READS_BACK).pdf


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

    def done(self) -> None:
        if self.tty and self.stream is not None and self.count:
            self.stream.write("\n")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
