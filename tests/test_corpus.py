"""The hostile-input corpus (tests/corpus/): every case through `derive.cli.main(argv)` in-process under a CPU-time
limit, and a sample of 20 as real subprocesses under `resource.setrlimit` (address space and CPU).

For every case: the expected exit code; for exit 2 exactly one line on stderr, starting ``derive: error:`` and
containing the expected fragment; no traceback; nothing on stdout; no file created in the (empty) working folder,
into which ``-o`` points; nothing executed (the payloads would create a file named ``pwned`` there).

Where the cases come from (see tests/corpus/manifest.toml for the conventions):

- ``manifest.toml``: command lines, standard input and generated data (1 MB stdin, 10^5 operations, 10,000-level
  nesting, 10^4 ``--at`` pairs, 5,000-digit numbers, binary bytes, …);
- ``expressions/*.txt`` and ``programs/*.txt`` (first line ``# expect: EXIT FRAGMENT``): each as ``@FILE``, on stdin
  and, when it is text without NUL, as the argument itself;
- ``documents/*`` (``<!-- expect: … -->`` or ``% expect: …``) for ``derive verify``, as a file and on stdin;
- ``network/*.toml`` (``# expect: FRAGMENT``, exit 2) for ``derive explain --network``, as a file and on stdin;
- ``verify/hostile.toml`` (the verify helper's table) for ``derive verify``.

A second line ``# corpus: subprocess`` (or ``process = "subprocess"`` in the manifest) runs a case only as a real
subprocess: its input would hang the test process inside a single C call (a huge integer power) or exhaust its
memory, and only a separate process can be limited and killed.
"""
from __future__ import annotations

import io
import os
import re
import resource
import signal
import stat
import subprocess
import threading
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT
from derive.cli import main

CORPUS = ROOT / "tests" / "corpus"
DEFAULT_CPU_SECONDS = 5.0  # per case, in-process (CPU time, so that a loaded machine does not cause failures)
SUBPROCESS_MEMORY = 1024 ** 3  # RLIMIT_AS of each subprocess: 1 GiB
SUBPROCESS_CPU_SECONDS = 10  # RLIMIT_CPU of each subprocess (SIGXCPU, then SIGKILL)
SUBPROCESS_WALL_SECONDS = 120
SUBPROCESS_SAMPLE = 20
SUBPROCESS_MAX_RSS = 500 * 1024 ** 2  # peak resident memory of each subprocess (ru_maxrss of the child)
MAX_ERROR_LINE = 1200  # characters of the one stderr line (user text in it is quoted at most 200 at a time)
MAX_RSS_GROWTH = 1024 ** 3  # in-process: the high-water mark may not grow by more than this in one case
PAYLOAD = "pwned"  # what the code-execution payloads would create in the working folder


@dataclass
class Case:
    id: str
    argv: list[str]
    exit: int
    message: str
    stdin: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # written into the inputs folder before the run
    output: bool = True  # add -o WORK/out.md after the command
    process: str = "both"  # "both", "in-process" (NUL in argv), "subprocess"
    cpu_seconds: float = DEFAULT_CPU_SECONDS
    line: int | None = None  # verify: the message must name this line
    setup: list[dict] = field(default_factory=list)  # entries made before the run (see `make_entry`)


# --- reading the corpus ------------------------------------------------------------------------------------------

def generate(spec: object) -> bytes:
    """A manifest generator: a string, or a table {parts} | {format, count, sep} (format gets {i} and {j} = i + 1)
    | {repeat, times}, each with an optional prefix and suffix and encoding (utf-8, latin-1, utf-16)."""
    if isinstance(spec, str):
        return spec.encode("utf-8")
    assert isinstance(spec, dict), spec
    if "parts" in spec:
        body = "".join(text * times for text, times in spec["parts"])
    elif "format" in spec:
        body = spec.get("sep", "").join(spec["format"].format(i=i, j=i + 1) for i in range(spec["count"]))
    else:
        body = spec.get("repeat", "") * spec.get("times", 0)
    text = spec.get("prefix", "") + body + spec.get("suffix", "")
    encoding = spec.get("encoding", "utf-8")
    return text.encode(encoding)


def manifest_cases() -> list[Case]:
    cases = []
    for entry in tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["case"]:
        files = {}
        if "file" in entry:
            files[entry.get("file_name", "input.txt")] = generate(entry["file"])
        gen = generate(entry["gen"]).decode("utf-8") if "gen" in entry else None
        argv = [a.replace("{gen}", gen) if gen is not None else a for a in entry["argv"]]
        cases.append(Case(
            id=f"manifest:{entry['name']}", argv=argv, exit=entry["exit"], message=entry.get("message", ""),
            stdin=generate(entry["stdin"]) if "stdin" in entry else None, files=files,
            output=entry.get("output", True), process=entry.get("process", "both"),
            cpu_seconds=entry.get("timeout", DEFAULT_CPU_SECONDS), setup=entry.get("setup", [])))
    return cases


_EXPECT = re.compile(r"expect:\s*(\d+)\s?(.*?)\s*(?:-->)?\s*$")


def _header(path: Path) -> tuple[int, str, str, str | None]:
    """(exit, fragment, process) from the first lines of a corpus file."""
    lines = path.read_bytes().split(b"\n", 3)
    match = _EXPECT.search(lines[0].decode("utf-8"))
    assert match, f"{path}: the first line must be '# expect: EXIT FRAGMENT'"
    process = "both"
    for extra in lines[1:3]:
        text = extra.decode("utf-8", "replace")
        if re.match(r"^(#|%|<!--)\s*corpus:\s*subprocess", text):
            process = "subprocess"
    return int(match.group(1)), match.group(2), process


def source_cases() -> list[Case]:
    """expressions/ and programs/: as @FILE, on stdin, and as the argument itself."""
    cases = []
    for folder in ("expressions", "programs"):
        for path in sorted((CORPUS / folder).glob("*.txt")):
            code, fragment, process = _header(path)
            data = path.read_bytes()
            stem = f"{folder}/{path.stem}"
            common = dict(exit=code, message=fragment, process=process)
            cases.append(Case(f"{stem}@file", ["explain", f"@{path}"], **common))
            if process != "subprocess":
                cases.append(Case(f"{stem}@stdin", ["explain", "-"], stdin=data, **common))
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            arg_process = "in-process" if "\x00" in text and process == "both" else process
            if process == "subprocess":
                continue  # one real process is enough for a case that can only run in one
            cases.append(Case(f"{stem}@argv", ["explain", text], **{**common, "process": arg_process}))
    return cases


def document_cases() -> list[Case]:
    cases = []
    for path in sorted((CORPUS / "documents").iterdir()):
        code, fragment, process = _header(path)
        common = dict(exit=code, message=fragment, process=process)
        cases.append(Case(f"documents/{path.name}@file", ["verify", str(path)], **common))
        cases.append(Case(f"documents/{path.name}@stdin", ["verify", "-"], stdin=path.read_bytes(), **common))
    return cases


def network_cases() -> list[Case]:
    cases = []
    for path in sorted((CORPUS / "network").glob("*.toml")):
        data = path.read_bytes()
        first = data.split(b"\n", 1)[0].decode("ascii")
        assert first.startswith("# expect: "), path
        fragment = first[len("# expect: "):]
        cases.append(Case(f"network/{path.name}@file", ["explain", "--network", str(path)], 2, fragment))
        cases.append(Case(f"network/{path.name}@stdin", ["explain", "--network", "-"], 2, fragment, stdin=data))
    return cases


def hostile_verify_cases() -> list[Case]:
    table = tomllib.loads((CORPUS / "verify" / "hostile.toml").read_text(encoding="utf-8"))["case"]
    return [Case(f"verify/hostile.toml:{entry['name']}", ["verify", "{file}"], entry.get("exit", 2), entry["message"],
                 files={"input.md": entry["doc"].encode("utf-8")}, line=entry.get("line")) for entry in table]


CASES = manifest_cases() + source_cases() + document_cases() + network_cases() + hostile_verify_cases()
IN_PROCESS = [c for c in CASES if c.process in ("both", "in-process")]


SUBPROCESS_PICKS = (  # besides the subprocess-only cases: code execution, big and binary input, each entry point
    "expressions/exec-import-system@argv", "expressions/exec-open-write@stdin", "expressions/exec-eval@file",
    "manifest:explain-1mb-stdin", "manifest:explain-binary-stdin", "manifest:explain-parentheses-10000",
    "manifest:explain-unary-minus-chain-stdin", "manifest:at-10000-pairs-not-leaves",
    "manifest:explain-number-1e999999", "documents/write18.tex@file", "verify/hostile.toml:write18",
    "network/nul-byte.toml@stdin", "manifest:show-output-unwritable",
    "manifest:io-template-cycler-popen", "manifest:io-template-output-bomb", "manifest:io-verify-fifo",
    "manifest:io-output-null-device-kept", "manifest:io-output-full-device-no-space",
    "manifest:io-error-line-toml-key-500k", "manifest:io-output-symlink-written-through")


def _pick_sample() -> list[Case]:
    """Every subprocess-only case and the picks above, then an even spread over the rest, SUBPROCESS_SAMPLE in all."""
    by_id = {c.id: c for c in CASES}
    chosen = [c for c in CASES if c.process == "subprocess"] + [by_id[i] for i in SUBPROCESS_PICKS]
    rest = [c for c in CASES if c.process == "both" and c not in chosen]
    wanted = max(SUBPROCESS_SAMPLE - len(chosen), 0)
    step = max(len(rest) // max(wanted, 1), 1)
    return chosen + rest[::step][:wanted]


SAMPLE = _pick_sample()


# --- running a case ----------------------------------------------------------------------------------------------

def make_entry(entry: dict, work: Path, inputs: Path) -> None:
    """One ``setup`` entry: ``path`` under ``tmp/`` (the working folder, where ``-o`` points) or ``in/`` (the inputs
    folder), and ``kind``: ``file`` (``data``: a generator), ``dir``, ``fifo``, ``symlink`` (``target``, with
    placeholders), ``null``/``full``/``zero`` (a character device like /dev/null, /dev/full, /dev/zero, made with
    mknod inside the case's folder; the case is skipped where mknod is not permitted); ``mode``: chmod bits."""
    root, _, rest = entry["path"].partition("/")
    path = {"tmp": work, "in": inputs}[root] / rest
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = entry.get("kind", "file")
    if kind == "file":
        path.write_bytes(generate(entry.get("data", "")))
    elif kind == "dir":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        os.symlink(entry["target"].replace("{tmp}", str(work)).replace("{in}", str(inputs)), path)
    else:
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, {"null": 3, "zero": 5, "full": 7}[kind]))
        except PermissionError:
            pytest.skip("mknod is not permitted here")
    if "mode" in entry:
        path.chmod(entry["mode"])


def prepare(case: Case, base: Path) -> tuple[list[str], Path, Path, dict]:
    """(argv, working folder, inputs folder, snapshot of both before the run)."""
    work, inputs = base / "work", base / "inputs"
    work.mkdir()
    inputs.mkdir()
    for name, data in case.files.items():
        (inputs / name).write_bytes(data)
    for entry in case.setup:
        make_entry(entry, work, inputs)
    file_path = str(inputs / next(iter(case.files), "input.txt"))
    argv = [a.replace("{tmp}", str(work)).replace("{corpus}", str(CORPUS)).replace("{file}", file_path)
            .replace("{in}", str(inputs)) for a in case.argv]
    if case.output and argv and argv[0] in ("explain", "show", "verify", "exercise"):
        argv = [argv[0], "-o", str(work / "out.md"), *argv[1:]]
    return argv, work, inputs, {"work": snapshot(work), "inputs": snapshot(inputs)}


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder`` by relative path: a regular file's bytes, a link's target, or its kind (never
    opening a FIFO or device, never following a link)."""
    found: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        name = str(path.relative_to(folder))
        if stat.S_ISREG(info.st_mode):
            found[name] = path.read_bytes() if info.st_mode & 0o444 else ("unreadable", info.st_size)
        elif stat.S_ISLNK(info.st_mode):
            found[name] = ("link", os.readlink(path))
        else:
            found[name] = (stat.S_IFMT(info.st_mode),)
    return found


REPORT_EXITS = (0, 1, 4)  # a document was read and reported on: every claim holds, one does not, or some were skipped


def check_outcome(case: Case, code: int, out: str, err: str, work: Path, inputs: Path, before: dict) -> None:
    assert "Traceback" not in err, f"{case.id}: traceback on stderr:\n{err[-2000:]}"
    assert not (work / PAYLOAD).exists(), f"{case.id}: the payload was executed"
    after = snapshot(work)
    if case.exit not in REPORT_EXITS:
        assert code == case.exit, f"{case.id}: exit {code}, expected {case.exit}; stderr: {err.strip()[:600]}"
        lines = err.strip().splitlines()
        assert len(lines) == 1, f"{case.id}: expected one line on stderr, got {len(lines)}: {err[:600]!r}"
        assert lines[0].startswith("derive: error: "), f"{case.id}: {lines[0][:300]!r}"
        assert case.message in lines[0], f"{case.id}: {case.message!r} not in {lines[0][:600]!r}"
        assert len(lines[0]) <= MAX_ERROR_LINE, f"{case.id}: the error line has {len(lines[0])} characters"
        if case.line is not None:
            assert f"line {case.line}" in lines[0], f"{case.id}: line {case.line} not named: {lines[0][:300]!r}"
        assert out == "", f"{case.id}: stdout is not empty: {out[:300]!r}"
        assert after == before["work"], f"{case.id}: the working folder changed: {sorted(after)}"
    else:
        assert code == case.exit, f"{case.id}: exit {code}, expected {case.exit}; stderr: {err.strip()[:600]}"
        assert all(line.startswith("derive: wrote ") for line in err.splitlines()), (  # -o says what it wrote
            f"{case.id}: stderr holds more than the written files: {err[:600]!r}")
        for name, was in before["work"].items():  # a device, FIFO, link or folder is never replaced by a file
            if not isinstance(was, bytes):
                assert type(after.get(name)) is type(was) and (isinstance(was, tuple) and was[0] != "link"
                                                                or after.get(name) == was), (
                    f"{case.id}: {name} was {was!r}, is now {str(after.get(name))[:80]!r}")
        assert not [n for n in after if ".tmp" in n], f"{case.id}: temporary files left: {sorted(after)}"
        if case.message:  # a report that skipped a relation says why
            assert case.message in (work / "out.md").read_text(encoding="utf-8"), f"{case.id}: {case.message!r}"
    assert snapshot(inputs) == before["inputs"], f"{case.id}: the inputs changed"


class CaseTimeout(BaseException):
    """Raised by SIGPROF when a case uses up its CPU time (a BaseException: nothing in derive may swallow it)."""


def _on_timeout(signum, frame):
    signal.setitimer(signal.ITIMER_PROF, 0.05)  # again, in case this one lands in a gc callback and is dropped
    raise CaseTimeout


def test_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)
    distinct_inputs = ({c.id.rsplit("@", 1)[0] for c in CASES})
    assert len(distinct_inputs) >= 200, len(distinct_inputs)
    entry_points = {c.argv[0] for c in CASES if c.argv}
    assert {"explain", "show", "list", "build", "verify", "exercise"} <= entry_points
    flags = {a for c in CASES for a in c.argv}
    assert {"--at", "--step", "--optimizer", "--wrt", "--network", "--format", "--lang", "-o", "--templates",
            "-"} <= flags
    assert len(SAMPLE) >= SUBPROCESS_SAMPLE


@pytest.mark.parametrize("case", IN_PROCESS, ids=[c.id for c in IN_PROCESS])
def test_in_process(case: Case, tmp_path, monkeypatch, capsys):
    argv, work, inputs, before = prepare(case, tmp_path)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(case.stdin or b""), encoding="utf-8"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    previous = signal.signal(signal.SIGPROF, _on_timeout)
    signal.setitimer(signal.ITIMER_PROF, case.cpu_seconds)
    try:
        code = main(argv)
    except CaseTimeout:
        code = None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
    captured = capsys.readouterr()
    assert code is not None, f"{case.id}: still running after {case.cpu_seconds} s of CPU time"
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    assert growth <= MAX_RSS_GROWTH, f"{case.id}: memory grew by {growth / 1024 ** 2:.0f} MiB"
    check_outcome(case, code, captured.out, captured.err, work, inputs, before)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY, SUBPROCESS_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (SUBPROCESS_CPU_SECONDS, SUBPROCESS_CPU_SECONDS + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024 ** 2, 64 * 1024 ** 2))


def _run_subprocess(case: Case, base: Path) -> tuple:
    """(case, exit code or None after the wall limit, stdout, stderr, work, inputs, snapshot, peak RSS in bytes):
    the child is reaped with wait4, whose rusage is the child's own (RUSAGE_CHILDREN would mix the four that run
    at once)."""
    base.mkdir()
    argv, work, inputs, before = prepare(case, base)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    (base / "stdin").write_bytes(case.stdin or b"")
    with open(base / "stdin", "rb") as stdin, open(base / "stdout", "wb") as stdout, \
            open(base / "stderr", "wb") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "derive", *argv], cwd=work, stdin=stdin, stdout=stdout,
                                 stderr=stderr, env=env, preexec_fn=_limits)
    overdue = threading.Event()
    timer = threading.Timer(SUBPROCESS_WALL_SECONDS, lambda: (overdue.set(), child.kill()))
    timer.start()
    _, status, usage = os.wait4(child.pid, 0)
    timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    code = None if overdue.is_set() else child.returncode
    read = lambda name: (base / name).read_bytes().decode("utf-8", "replace")  # noqa: E731
    return case, code, read("stdout"), read("stderr"), work, inputs, before, usage.ru_maxrss * 1024


@pytest.fixture(scope="module")
def subprocess_results(tmp_path_factory) -> dict[str, tuple]:
    """The sample, four processes at a time."""
    base = tmp_path_factory.mktemp("corpus-subprocess")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ic: _run_subprocess(ic[1], base / f"case{ic[0]}"), enumerate(SAMPLE)))
    return {r[0].id: r for r in results}


@pytest.mark.parametrize("case", SAMPLE, ids=[c.id for c in SAMPLE])
def test_subprocess(case: Case, subprocess_results):
    _, code, out, err, work, inputs, before, peak = subprocess_results[case.id]
    assert code is not None, f"{case.id}: still running after {SUBPROCESS_WALL_SECONDS} s"
    assert code >= 0, (f"{case.id}: killed by signal {-code} "
                       f"({'over its CPU limit' if -code in (signal.SIGXCPU, signal.SIGKILL) else 'crash'})")
    assert peak <= SUBPROCESS_MAX_RSS, f"{case.id}: peak memory {peak / 1024 ** 2:.0f} MiB"
    check_outcome(case, code, out, err, work, inputs, before)
