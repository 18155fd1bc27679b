"""What the last ``derive build`` into a folder wrote, so that the next one rebuilds only what changed.

The manifest (``<out>/.cache/build.json``) records, for every document of the gallery, the SHA-256 of the file and
of the files written beside it, and for every PDF the digest of what it was compiled from; all of it under one
digest of the build's inputs (derive's version and every source, template, catalog and example it ships). A
document is taken as it is only when the inputs digest is the same and every file it names still has the recorded
bytes; a PDF only when its .tex, the files beside it and the engine are the same and the PDF is the recorded one.
The manifest only decides what to skip: a skipped file is byte for byte what rebuilding it would write, because
the build is deterministic. A missing or unreadable manifest means: rebuild everything.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from . import __version__
from .files import write_atomic

FOLDER = ".cache"
MANIFEST = "build.json"
FORMAT = 2  # 2: a PDF including a plot no longer names the folder it was built in (earlier PDFs did)
# the files whose bytes `inputs_digest` covers (templates/ holds .j2, .css, .js)
SOURCE_SUFFIXES = {".py", ".j2", ".toml", ".json", ".css", ".js", ".md", ".txt", ".tex"}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str | None:
    """The SHA-256 of a file, None when it does not exist (or is not a file)."""
    try:
        return digest(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def inputs_digest(folders: Iterable[Path]) -> str:
    """One digest of derive's version and every source file under ``folders`` (names and bytes, in a fixed
    order): any change to code, templates, catalogs or examples changes it."""
    h = hashlib.sha256(f"derive {__version__}\n".encode())
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()
                           and "__pycache__" not in p.parts):
            h.update(f"{path.relative_to(folder).as_posix()}\n".encode())
            h.update(digest(path.read_bytes()).encode())
    return h.hexdigest()


def pdf_source_digest(engine: str, tex_digest: str, beside: Mapping[str, str]) -> str:
    """What a PDF is compiled from: the engine, the .tex file and the files beside it that it includes."""
    parts = [engine, tex_digest] + [f"{name}={sha}" for name, sha in sorted(beside.items())]
    return digest("\n".join(parts).encode())


@dataclass
class Manifest:
    inputs: str = ""
    documents: dict[str, dict] = field(default_factory=dict)  # path → {"sha": …, "beside": {path: sha}}
    pdfs: dict[str, dict] = field(default_factory=dict)  # path → {"source": …, "sha": …}

    def fresh_document(self, out: Path, path: str, inputs: str) -> bool:
        """The document and every file beside it are on disk exactly as the last build with these inputs wrote
        them."""
        entry = self.documents.get(path)
        if self.inputs != inputs or entry is None:
            return False
        return all(file_digest(out / name) == sha for name, sha in {path: entry["sha"], **entry["beside"]}.items())

    def fresh_pdf(self, out: Path, path: str, source: str) -> bool:
        entry = self.pdfs.get(path)
        return entry is not None and entry["source"] == source and file_digest(out / path) == entry["sha"]

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "inputs": self.inputs, "documents": self.documents,
                           "pdfs": self.pdfs}, indent=1, sort_keys=True) + "\n"


def load(out: Path) -> Manifest:
    try:
        data = json.loads((out / FOLDER / MANIFEST).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return Manifest()
        return Manifest(str(data["inputs"]), dict(data["documents"]), dict(data["pdfs"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Manifest()


def save(out: Path, manifest: Manifest) -> None:
    (out / FOLDER).mkdir(exist_ok=True)
    write_atomic(out / FOLDER / MANIFEST, manifest.to_json().encode("utf-8"))
