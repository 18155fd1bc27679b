"""Compile a generated .tex file with the real TeX engine its first line names, reproducibly.

``compile_pdf(tex_path)`` runs pdflatex or lualatex (``-interaction=nonstopmode -halt-on-error``) in a temporary
directory, as many times as the log asks (at most `MAX_RUNS`; see `rerun_needed`), and moves the PDF into place
atomically. The
output depends only on the .tex file and the TeX installation: ``SOURCE_DATE_EPOCH=0 FORCE_SOURCE_DATE=1`` fix
every date, and the trailer ``/ID`` (which LuaTeX derives from the output path) is pinned by a wrapper that
``\\input``s the unchanged document, so the .tex file itself stays clean.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import DeriveError, InputError, message
from ..files import write_atomic
from .formats import TEX_ENGINES

MAX_RUNS = 3
DEBIAN_PACKAGES = {"latexmk": "latexmk", "pdflatex": "texlive-latex-base", "lualatex": "texlive-luatex",
                   "pdftoppm": "poppler-utils"}
"""The Debian/Ubuntu package of each tool ``--pdf`` and ``--figure`` run (named when the tool is missing)."""
_LATEXMK_ENGINE = {"pdflatex": "-pdf", "lualatex": "-pdflua"}
TIMEOUT = 300  # seconds for one run of the engine
_FIRST_LINE = re.compile(r"^%\s*!\s*TEX\s+(?:TS-)?program\s*=\s*(\S+)\s*$", re.IGNORECASE)
_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|Rerun LaTeX|run LaTeX again", re.IGNORECASE)
_NEW_LABELS = re.compile(r"Label\(s\) may have changed\.\s+Rerun to get cross-references right\.")
_UNDEFINED = re.compile(r"There were undefined references|Reference `[^']*' on page \S+ undefined", re.IGNORECASE)
_ZERO_ID = "<" + "0" * 32 + ">"
_PIN_ID = {  # what the wrapper says before \input-ing the document
    "pdflatex": r"\pdftrailerid{" + "0" * 32 + "}",
    "lualatex": r"\pdfvariable trailerid {[" + _ZERO_ID + _ZERO_ID + "]}",
}
_OVERFULL = re.compile(r"^Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)(.*)$", re.MULTILINE)


class EngineMissing(DeriveError):
    """The TeX engine a document needs is not installed (the gallery warns and goes on; a lone compilation is
    a usage problem the user fixes by installing it, exit 2)."""

    exit_code = 2


class CompileError(DeriveError):
    """The engine stopped with an error; the message quotes the log's first error."""

    exit_code = 3

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class Compiled:
    """A successful compilation: where the PDF went, the log of the last run, and what it cost."""

    pdf: Path
    log: str
    engine: str
    runs: int
    seconds: float

    def overfull(self, wider_than: float = 0.0) -> list[tuple[float, str]]:
        """``Overfull \\hbox`` warnings of the log wider than ``wider_than`` points: (points, where)."""
        return overfull_boxes(self.log, wider_than)


def engine_for(tex_text: str) -> str:
    """The engine named by the first line (``% !TEX program = pdflatex``); a `DeriveError` when there is none."""
    first = tex_text.split("\n", 1)[0].strip()
    match = _FIRST_LINE.match(first)
    if not match:
        raise DeriveError("the .tex file does not name its engine on its first line "
                          "(expected '% !TEX program = pdflatex' or '% !TEX program = lualatex')")
    engine = match.group(1).lower()
    if engine not in TEX_ENGINES:
        raise DeriveError(f"unsupported TeX engine '{engine}' (supported: {', '.join(TEX_ENGINES)})")
    return engine


def engine_available(engine: str) -> bool:
    return shutil.which(engine) is not None


def overfull_boxes(log: str, wider_than: float = 0.0) -> list[tuple[float, str]]:
    """Every ``Overfull \\hbox (Xpt too wide)`` of a TeX log with X > ``wider_than``."""
    return [(float(m.group(1)), m.group(2).strip()) for m in _OVERFULL.finditer(log)
            if float(m.group(1)) > wider_than]


def rerun_needed(log: str, runs: int, reads_back: bool = True) -> bool:
    """Whether the log of run number ``runs`` asks for another run.

    A document that typesets nothing it reads back from its auxiliary files (``reads_back=False``: no references,
    contents, total page or frame counts, navigation bars) ignores one request: LaTeX's "Label(s) may have changed"
    after the first run, which only says that the labels it wrote (every Beamer frame is one) were not in the .aux
    it started without. Nothing read them, so a second run would give the same bytes; it still runs when the first
    met an undefined reference, or when anything else asks for a rerun (a longtable's widths, outlines)."""
    if not _RERUN.search(log):
        return False
    if reads_back or runs > 1 or _UNDEFINED.search(log):
        return True
    return bool(_RERUN.search(_NEW_LABELS.sub("", log)))


def compile_tex(tex_path: str | os.PathLike, engine: str | None = None, *,
                pdf_path: str | os.PathLike | None = None, text: str | None = None,
                beside: Mapping[str, Path] | None = None, reads_back: bool = True) -> Compiled:
    """Compile ``tex_path`` into ``pdf_path`` (default: beside it, ``.pdf``) and return the PDF's path and log.

    ``engine`` defaults to the one the file's first line names. ``text`` is compiled instead of the file's own
    (the gallery's documents with their pictures taken from a figure PDF), with the files ``beside`` (name →
    path) copied next to it and found there first, so that the PDF does not depend on where they were.
    ``reads_back=False`` says the document typesets nothing from its own auxiliary files (`rerun_needed`): one
    run, where LaTeX would ask for a second that changes no byte. Raises `EngineMissing` when the engine is not
    installed and `CompileError` when it fails.
    """
    source = Path(tex_path).resolve()
    own = text is None
    text = source.read_text(encoding="utf-8") if text is None else text
    engine = engine or engine_for(text)
    if engine not in TEX_ENGINES:
        raise DeriveError(f"unsupported TeX engine '{engine}' (supported: {', '.join(TEX_ENGINES)})")
    program = shutil.which(engine)
    if program is None:
        raise EngineMissing(f"compiling {source.name} needs '{engine}', which is not installed "
                            f"({TEX_ENGINES[engine].packages})")
    target = Path(pdf_path) if pdf_path is not None else source.with_suffix(".pdf")
    # the work folder first: a file copied there from ``beside`` is recorded in the PDF as ./NAME (pdfTeX's
    # /PTEX.FileName), not by the path of the folder the document was written to
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1",
               TEXINPUTS=os.pathsep.join((".", str(source.parent), os.environ.get("TEXINPUTS", ""))))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="derive-tex-") as tmp:
        work = Path(tmp)
        if own:
            shutil.copyfile(source, work / "document.tex")
        else:
            (work / "document.tex").write_text(text, encoding="utf-8")
        for name, path in (beside or {}).items():  # in the work folder: the name the PDF records stays the same
            shutil.copyfile(path, work / name)
        command = [program, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
                   "-jobname=document", _PIN_ID[engine] + r"\input{document.tex}"]
        log, runs = "", 0
        while runs < MAX_RUNS:
            runs += 1
            try:
                result = subprocess.run(command, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                        capture_output=True, timeout=TIMEOUT, check=False)
            except subprocess.TimeoutExpired as error:
                raise CompileError(f"{engine} did not finish {source.name} within {TIMEOUT} s") from error
            log_file = work / "document.log"
            log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else \
                result.stdout.decode("utf-8", "replace")
            if result.returncode != 0 or not (work / "document.pdf").exists():
                raise CompileError(f"{engine} failed on {source.name}: {first_error(log)}", log)
            if not rerun_needed(log, runs, reads_back):
                break
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, (work / "document.pdf").read_bytes())
    return Compiled(target, log, engine, runs, time.monotonic() - started)


def compile_pdf(tex_path: str | os.PathLike, engine: str | None = None, *,
                pdf_path: str | os.PathLike | None = None) -> Path:
    """Compile ``tex_path`` with ``engine`` (default: the one its first line names); the PDF's path.
    `compile_tex` gives the log as well."""
    return compile_tex(tex_path, engine, pdf_path=pdf_path).pdf


def first_error(log: str) -> str:
    """The first error of a TeX log (``file:line: message`` or ``! message``) and the line after it."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+: ", line):
            return " ".join(part.strip() for part in lines[i:i + 2] if part.strip())[:500]
    return (lines[-1] if lines else "no log").strip()[:500]


def require_tool(tool: str) -> str:
    """The path of ``tool``; an input error (exit 2) naming its Debian package when it is not installed."""
    path = shutil.which(tool)
    if path is None:
        raise InputError(message("lecture.tool_missing", tool=tool,
                                 install=f"apt-get install {DEBIAN_PACKAGES[tool]}"))
    return path


def latexmk_pdf(text: str, beside: Mapping[str, bytes] | None = None, name: str = "document") -> bytes:
    """The PDF of a whole document, compiled by latexmk with the engine its first line names (as often as latexmk
    sees fit), in a temporary folder holding ``beside`` (file name → bytes: plots). Dates are fixed and the trailer
    ``/ID`` pinned as in `compile_tex`, so the same text gives the same bytes. ``name`` is the document's in
    messages."""
    engine = engine_for(text)
    latexmk = require_tool("latexmk")
    require_tool(engine)
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    with tempfile.TemporaryDirectory(prefix="derive-latexmk-") as tmp:
        work = Path(tmp)
        (work / "document.tex").write_text(text, encoding="utf-8")
        for file, data in (beside or {}).items():
            (work / file).write_bytes(data)
        command = [latexmk, _LATEXMK_ENGINE[engine], "-interaction=nonstopmode", "-halt-on-error",
                   "-file-line-error", "-quiet", f"-usepretex={_PIN_ID[engine]}", "document.tex"]
        try:
            result = subprocess.run(command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                    timeout=MAX_RUNS * TIMEOUT, check=False)
        except subprocess.TimeoutExpired as error:
            raise CompileError(f"latexmk did not finish {name} within {MAX_RUNS * TIMEOUT} s") from error
        log_file, pdf = work / "document.log", work / "document.pdf"
        log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
        if result.returncode != 0 or not pdf.exists():
            raise CompileError(f"{engine} failed on {name}: {first_error(log)}", log)
        return pdf.read_bytes()
