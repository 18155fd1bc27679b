"""Reproducible builds and safe writes.

- ``derive build --no-pdf`` twice gives byte-identical trees;
- an interrupted build (SIGINT, SIGTERM) leaves every file either as it was before the build, or exactly as a
  complete build writes it — never half-written — and no temporary files (``.NAME.XXXX.tmp``);
- ``-o`` with a render error (a broken user template) or a failing write leaves no file and no temporary file, and
  an existing file unchanged.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from derive.cli import main
from derive.errors import InputError
from derive.files import write_atomic

OLD_MARK = b"old build\n"  # prefixed to every file of the "previous" gallery, so that old and new always differ


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def temporary_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*.tmp"))


def test_build_twice_is_byte_identical(gallery, tmp_path, capsys):
    second = tmp_path / "second"
    assert main(["build", "--out", str(second), "--no-pdf"]) == 0
    capsys.readouterr()
    first_tree, second_tree = tree(gallery), tree(second)
    assert sorted(first_tree) == sorted(second_tree)
    different = [name for name in first_tree if first_tree[name] != second_tree[name]]
    assert different == [], f"{len(different)} files differ between two builds, e.g. {different[:5]}"
    assert len(first_tree) > 100
    assert temporary_files(second) == []


def _previous_build(gallery: Path, folder: Path) -> dict[str, bytes]:
    """A 'previous' gallery in ``folder``: every file of a complete build with different bytes, a few files missing
    (the previous build did not have them) and one file the new build does not write."""
    old = {}
    for index, (name, data) in enumerate(sorted(tree(gallery).items())):
        if index % 7 == 3:
            continue
        old[name] = OLD_MARK + data
    old["stale/notes.md"] = b"a file of an older build\n"
    for name, data in old.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return old


def _interrupt_build(out: Path, signum: int, after: int) -> tuple[int, str, int]:
    """Run ``python -m derive build --out OUT --no-pdf``, send ``signum`` once ``after`` documents are written
    (the progress lines on stderr say so); return (exit code, stderr, documents written before the signal)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "derive", "build", "--out", str(out), "--no-pdf"],
                               cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen, lines = 0, []
    deadline = time.monotonic() + 120
    try:
        assert process.stderr is not None
        while time.monotonic() < deadline:
            line = process.stderr.readline().decode("utf-8", "replace")
            if not line:
                break
            lines.append(line)
            if line.startswith("["):
                seen = int(line[1:].split("/", 1)[0])
                if seen >= after:
                    process.send_signal(signum)
                    break
        rest = process.communicate(timeout=120)[1].decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, "".join(lines) + rest, seen


@pytest.mark.parametrize("signum,after", [(signal.SIGINT, 5), (signal.SIGTERM, 40)], ids=["SIGINT", "SIGTERM"])
def test_interrupted_build_leaves_old_or_new_files(gallery, tmp_path, signum, after):
    out = tmp_path / "output"
    out.mkdir()
    old = _previous_build(gallery, out)
    new = tree(gallery)
    code, stderr, seen = _interrupt_build(out, signum, after)
    assert seen >= after, f"the build ended before {after} documents were written:\n{stderr[-2000:]}"
    assert code == 130, f"exit {code} after {signal.Signals(signum).name}:\n{stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "derive: interrupted" in stderr
    assert temporary_files(out) == [], "temporary files left behind"
    after_tree = tree(out)
    unknown = sorted(set(after_tree) - set(old) - set(new))
    assert unknown == [], f"files that neither build has: {unknown[:10]}"
    torn = [name for name, data in after_tree.items() if data != old.get(name) and data != new.get(name)]
    assert torn == [], f"files neither old nor new (half-written?): {torn[:10]}"
    rewritten = [name for name, data in after_tree.items() if name in new and data == new[name]]
    assert rewritten, "no file was rewritten before the signal"
    assert len(rewritten) < len(new), "the whole gallery was written: the signal came too late to test anything"
    assert all(name in after_tree for name in old), "the interrupted build deleted files of the previous one"


def test_build_after_an_interruption_completes(gallery, tmp_path, capsys):
    """What an interrupted build leaves is a good starting point: building again gives the complete gallery."""
    out = tmp_path / "output"
    out.mkdir()
    old = _previous_build(gallery, out)
    code, stderr, _ = _interrupt_build(out, signal.SIGINT, 10)
    assert code == 130, stderr[-2000:]
    assert main(["build", "--out", str(out), "--no-pdf"]) == 0
    capsys.readouterr()
    final, expected = tree(out), tree(gallery)
    assert {name: data for name, data in final.items() if name in expected} == expected
    assert set(final) - set(expected) == {"stale/notes.md"} and final["stale/notes.md"] == old["stale/notes.md"]
    assert temporary_files(out) == []


# --- -o: render errors and failing writes ----------------------------------------------------------------------

@pytest.fixture()
def broken_templates(tmp_path) -> Path:
    folder = tmp_path / "templates"
    (folder / "markdown").mkdir(parents=True)
    (folder / "markdown" / "walkthrough.md.j2").write_text("{{ no_such_variable }}\n", encoding="utf-8")
    (folder / "latex").mkdir()
    (folder / "latex" / "walkthrough.tex.j2").write_text("\\BLOCK{ for }\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("argv", [
    ["show", "toast"],
    ["explain", "x*y", "--at", "x=1,y=2"],
    ["explain", "x*y", "--at", "x=1,y=2", "--format", "latex"],
], ids=["show-markdown", "explain-markdown", "explain-latex"])
def test_render_error_with_output_leaves_no_file(argv, broken_templates, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("walk.tex" if "latex" in argv else "walk.md")
    code = main([*argv, "--templates", str(broken_templates), "-o", str(target)])
    captured = capsys.readouterr()
    assert code in (2, 3), captured.err
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err, captured.err
    assert list(out.iterdir()) == [], f"files left: {[p.name for p in out.iterdir()]}"


def test_render_error_keeps_the_existing_file(broken_templates, tmp_path, capsys):
    target = tmp_path / "walk.md"
    target.write_bytes(b"the previous walk-through\n")
    code = main(["show", "toast", "--templates", str(broken_templates), "-o", str(target)])
    capsys.readouterr()
    assert code in (2, 3)
    assert target.read_bytes() == b"the previous walk-through\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["templates", "walk.md"]


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()], ids=["OSError", "KeyboardInterrupt"])
def test_write_atomic_cleans_up_when_the_rename_fails(failure, tmp_path, monkeypatch):
    target = tmp_path / "walk.md"
    target.write_bytes(b"old\n")

    def fail(src, dst):
        raise failure
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(InputError if isinstance(failure, OSError) else type(failure)):  # an OSError is exit 2
        write_atomic(target, b"new\n" * 1000)
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.md"]


def test_write_atomic_cleans_up_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "walk.md"
    real_write = os.write

    def failing(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "write", failing)
    with pytest.raises(InputError, match="walk.md: no space left on device"):
        write_atomic(target, b"new\n" * 1000)
    assert list(tmp_path.iterdir()) == []


def test_written_files_get_the_usual_permissions(tmp_path, capsys):
    """Written through a temporary file (created 0600), but ending as ``open()`` would leave it."""
    mask = os.umask(0o022)
    os.umask(mask)
    assert main(["show", "toast", "-o", str(tmp_path / "walk.md")]) == 0
    capsys.readouterr()
    for written in ("walk.md", "walk.svg"):
        assert (tmp_path / written).stat().st_mode & 0o777 == 0o666 & ~mask, written


def test_output_through_the_cli_replaces_the_file_whole(tmp_path, capsys):
    """-o over an existing file: the new text, nothing of the old one, no temporary file."""
    target = tmp_path / "walk.md"
    target.write_bytes(b"x" * 1_000_000)
    assert main(["show", "toast", "-o", str(target)]) == 0
    capsys.readouterr()
    text = target.read_bytes()
    assert not text.startswith(b"x") and b"xxxx" not in text
    assert temporary_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.md", "walk.svg"]
