"""The command line, in-process through main(argv), plus a handful of real subprocesses."""
from __future__ import annotations

import atexit
import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from derive import cli
from derive.cli import main
from derive.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_text_and_json(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(SCENARIOS)
    code, out, _ = run(capsys, "list", "--format", "json")
    assert code == 0 and [e["name"] for e in json.loads(out)] == list(SCENARIOS)


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("derive ")


@pytest.mark.parametrize("argv", [["list"], ["list", "--lang", "ja", "--format", "json"], ["--version"]])
def test_list_and_version_do_not_import_sympy(argv):
    """Start-up: SymPy takes most of a second to import; listing the scenarios or the version needs none of it."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "derive", *argv], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip()
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "derive.cli" in imported
    assert not [name for name in imported if name.split(".")[0] in ("sympy", "mpmath")]


FORMAT_BACK_ENDS = ("derive.present.html", "derive.present.tex", "derive.present.figures", "derive.present.figure_svg",
                    "derive.present.plots", "markdown", "latex2mathml", "matplotlib")


def test_show_to_stdout_loads_no_other_format():
    """Start-up (issue 14): Markdown on stdout loads none of the back ends of HTML, TeX, the SVG graph or the plots;
    the dispatcher loads each when its format is first asked for."""
    script = ("import sys; from derive.cli import main; code = main(['show', 'linear-model']); "
              "print(' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("#")
    imported = set(result.stderr.split())
    assert {"derive.present.render", "derive.present.walkthrough", "jinja2"} <= imported
    assert not imported & set(FORMAT_BACK_ENDS)


def test_explain_to_stdout_loads_neither_the_api_nor_other_documents():
    """Start-up (issue 14): `derive explain` builds its walk-through with `walkthrough.explain_source`; the Python API
    and what only it needs (networks, saving to files, the figure, HTML and TeX back ends) stay unloaded."""
    script = ("import sys; from derive.cli import main; code = main(['explain', '(x + y) * z', '--at', "
              "'x=-2,y=5,z=-4']); print(' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("#")
    imported = set(result.stderr.split())
    assert {"derive.walkthrough", "derive.verify.pages"} <= imported  # the truth loop read the page back
    assert not imported & {"derive.api", "derive.networks", "derive.documents", *FORMAT_BACK_ENDS}


@pytest.mark.parametrize("argv", [["--help"], ["show", "--help"], ["explain", "--help"], ["build", "--help"],
                                  ["list", "--help"]])
def test_help_has_examples(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "usage:" in out
    if argv[0] != "list":
        assert "example" in out


def test_explain_at_point(capsys):
    code, out, err = run(capsys, "explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["value"] == -12
    assert {k: data["gradients"][k] for k in "xyz"} == {"x": -4, "y": -4, "z": 3}
    assert data["gradients"]["u1"] == -4


def test_explain_symbolic_has_no_numbers(capsys):
    code, out, err = run(capsys, "explain", "sigmoid(w*x + b)", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["value"] is None
    assert data["gradients"].pop("f") == 1  # ∂f/∂f = 1 needs no point
    assert all(v is None for v in data["gradients"].values())
    assert data["gradient_latex"]["w"]


def test_decimals_are_exact(capsys):
    code, out, err = run(capsys, "show", "toast", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["updates"][0]["output_value"] == 0.72
    code, out, _ = run(capsys, "explain", "x*y", "--at", "x=0.1,y=0.2")
    assert "0.02" in out and "0.020000" not in out


def test_stdin_and_file(capsys, monkeypatch, tmp_path):
    import io
    program = "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(program.encode())))
    code, out, err = run(capsys, "explain", "-", "--at", "x=2,w=3,b=1,y_=5", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["gradients"]["w"] == 8
    source = tmp_path / "model.txt"
    source.write_text(program.replace("; ", "\n") + "\n")
    code, out, err = run(capsys, "explain", f"@{source}", "--at", "x=2,w=3,b=1,y_=5", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["gradients"]["x"] == 12


def test_wrt_and_steps(capsys):
    code, out, err = run(capsys, "explain", "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t",
                         "--at", "x=2,w=3,b=1,y_=5", "--wrt", "w,b", "--step", "lr=0.1,steps=3", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["wrt"] == ["w", "b"]
    assert [u["step"] for u in data["updates"]] == [1, 2, 3]
    first = data["updates"][0]["values"]
    assert first == {"w": 3 - 0.1 * 8, "x": 2, "b": 1 - 0.1 * 4, "y_": 5}
    losses = [data["value"]] + [u["output_value"] for u in data["updates"]]
    assert losses == sorted(losses, reverse=True)


def test_output_file_written_atomically(capsys, tmp_path):
    target = tmp_path / "walk.md"
    code, out, err = run(capsys, "show", "toast", "-o", str(target))
    assert code == 0 and out == "", err
    assert target.read_text(encoding="utf-8").startswith("# ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.md", "walk.svg"]  # the graph beside it
    assert "](walk.svg)" in target.read_text(encoding="utf-8")
    assert err == f"derive: wrote {target}, {tmp_path / 'walk.svg'}\n"  # -o says what it wrote, the .svg too


@pytest.mark.parametrize("argv, written", [
    (["show", "vanishing-gradients", "--format", "latex", "-o", "{d}/v.tex"],
     ["v.tex", "vanishing-gradients-plot.pdf"]),
    (["explain", "--network", str(ROOT / "examples/networks/design-example.toml"), "-o", "{d}/n.md"],
     ["n.md", "n.svg"]),  # the network diagram beside it
    (["exercise", "toast", "-o", "{d}/sheet.md"], ["sheet.md", "sheet-key.md"]),
    (["verify", str(ROOT / "examples/verify/sigmoid-sse-slip.md"), "-o", "{d}/report.txt"], ["report.txt"]),
])
def test_every_output_file_is_reported_unless_quiet(capsys, tmp_path, argv, written):
    argv = [a.replace("{d}", str(tmp_path)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code in (0, 1) and out == ""
    names = [Path(p).name for p in err.removeprefix("derive: wrote ").strip().split(", ")]
    assert err.count("\n") == 1 and sorted(names) == sorted(written) == sorted(p.name for p in tmp_path.iterdir())
    for position in (0, 1):  # -q before or after the command
        quiet = argv[:position] + ["-q"] + argv[position:]
        code, out, err = run(capsys, *quiet)
        assert code in (0, 1) and out == "" and err == ""


def test_verbose_says_what_was_checked(capsys, tmp_path):
    code, out, err = run(capsys, "-v", "explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--format", "json",
                         "-o", str(tmp_path / "a.json"))
    assert code == 0 and out == ""
    assert err.splitlines() == [f"derive: wrote {tmp_path / 'a.json'}",
                                "derive: checked 4 local gradients against sympy.diff and 5 gradients against the "
                                "symbolic oracle at the given point"]
    code, out, err = run(capsys, "explain", "--network", str(ROOT / "examples/networks/design-example.toml"),
                         "--verbose", "--format", "json")
    assert code == 0 and json.loads(out)["schema_version"] == 1
    assert err.startswith("derive: checked ") and "oracle" in err
    code, _, err = run(capsys, "-q", "-v", "list")
    assert code == 2 and "not allowed with argument" in err


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o"), ("zsh", "#compdef derive"),
                                           ("tcsh", "complete derive")])
def test_shell_completion(capsys, shell, marker):
    code, out, err = run(capsys, "--print-completion", shell)
    assert code == 0 and err == "" and marker in out
    words = ("explain", "verify", "markdown") + (() if shell == "tcsh" else ("--network", "--optimizer", "momentum"))
    for word in words:  # shtab's tcsh script completes commands and choices only
        assert word in out, word
    if shell == "bash":
        check = subprocess.run(["bash", "-n"], input=out, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


BAD_ARGUMENTS = [
    (["explain", "x*y", "--at", "x=1"], "no value for 'y'"),
    (["explain", "x*y", "--at", "x=abc,y=1"], "not a number"),
    (["explain", "x*y", "--at", "x=nan,y=1"], "not a number"),
    (["explain", "x*y", "--at", "x=inf,y=1"], "not a number"),
    (["explain", "x*y", "--at", "x=1,y=2,z=3"], "'z' is not a leaf"),
    (["explain", "x*y", "--at", "x=1,x=2,y=1"], "given twice"),
    (["explain", "x*y", "--at", "x"], "expected NAME=VALUE"),
    (["explain", "x*y", "--at", ","], "expected NAME=VALUE"),
    (["explain", "x*y", "--at", "x=1,y=2", "--step", "lr=0.1,momentum=0.9"], "unknown key 'momentum'"),
    (["explain", "x*y", "--at", "x=1,y=2", "--step", "steps=2"], "learning rate lr=VALUE is required"),
    (["explain", "x*y", "--at", "x=1,y=2", "--step", "lr=-1"], "lr must be positive"),
    (["explain", "x*y", "--at", "x=1,y=2", "--step", "lr=0.1,steps=0"], "steps must be a whole number"),
    (["explain", "x*y", "--at", "x=1,y=2", "--step", "lr=0.1,steps=1e9"], "steps must be a whole number"),
    (["explain", "x*y", "--step", "lr=0.1"], "--step: needs a point: give every leaf a value with --at"),
    (["explain", "x*y", "--at", "x=1,y=2", "--wrt", "q"], "'q' is not a leaf"),
    (["explain", "x*y", "--format", "pdf"], "invalid choice"),
    (["explain", "x*y", "--lang", "fr"], "invalid choice"),
    (["explain", "log(x)", "--at", "x=-1"], "not a finite real number"),
    (["explain", "1/x", "--at", "x=0"], "not a finite real number"),
    (["explain", "sqrt(x)", "--at", "x=0"], "local gradient"),
    (["explain", "x**y", "--at", "x=2,y=100000000"], "larger than 1e+300"),
    (["explain", "@/nonexistent/file.txt"], "no such file"),
    (["show", "nope"], "unknown scenario 'nope'"),
    (["show", "toast", "-o", "/nonexistent/dir/x.md"], "does not exist"),
    (["show", "toast", "--templates", "/nonexistent"], "is not a folder"),
    (["frobnicate"], "invalid choice"),
    (["explain"], "give an expression or program"),
]


@pytest.mark.parametrize("argv,fragment", BAD_ARGUMENTS, ids=[" ".join(a)[:50] for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("derive: error: ") and fragment in lines[0], err
    assert "Traceback" not in err


def test_bad_expressions_through_main(capsys, tmp_path, monkeypatch):
    from test_parse import BAD_EXPRESSIONS
    monkeypatch.chdir(tmp_path)
    assert len(BAD_EXPRESSIONS) >= 40
    for text, fragment in BAD_EXPRESSIONS:
        path = tmp_path / "input.txt"
        path.write_text(text, encoding="utf-8")
        code, out, err = run(capsys, "explain", f"@{path}", "-o", str(tmp_path / "never.md"))
        assert code == 2, (text[:80], err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and fragment.lower() in lines[0].lower(), (text[:80], err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.txt"]


def test_binary_and_huge_stdin(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00x")))
    code, _, err = run(capsys, "explain", "-")
    assert code == 2 and "not UTF-8" in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x+" * 500_000 + b"x")))
    code, _, err = run(capsys, "explain", "-")
    assert code == 2 and "larger than" in err


SUBPROCESS_CASES = [
    (["explain", "__import__('os').system('touch pwned')"], 2, "not allowed"),
    (["explain", "(" * 10_000 + "x" + ")" * 10_000], 2, "nested too deeply"),
    (["explain", "x*y", "--at", "x=1"], 2, "no value"),
    (["show", "toast", "--format", "json"], 0, ""),
    (["list"], 0, ""),
]


@pytest.mark.parametrize("argv,code,fragment", SUBPROCESS_CASES, ids=[a[0] + str(i) for i, (a, _, _) in
                                                                        enumerate(SUBPROCESS_CASES)])
def test_real_subprocess(tmp_path, argv, code, fragment):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "derive", *argv], cwd=tmp_path, capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code:
        assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists()
    assert list(tmp_path.iterdir()) == []


BROKEN_TEMPLATES = [  # (file in the --templates folder, its text, format, command, what the message names)
    ("markdown/walkthrough.md.j2", "# {{ title }}\n{% if %}\n", "markdown", ["show", "toast"],
     "walkthrough.md.j2, line 2: Expected an expression"),
    ("markdown/walkthrough.md.j2", "# {{ title }}\n\n{{ no_such_key.x }}\n", "markdown", ["show", "toast"],
     "walkthrough.md.j2, line 3: 'no_such_key' is undefined"),
    ("latex/walkthrough.tex.j2", "\\VAR{no_such_key}\n", "latex", ["show", "toast"],
     "walkthrough.tex.j2, line 1: 'no_such_key' is undefined"),
    ("html/page.html.j2", "<p>\n{{ no_such_key }}\n", "html", ["show", "toast"],
     "page.html.j2, line 2: 'no_such_key' is undefined"),
    ("markdown/network.md.j2", "{% for %}\n", "markdown",
     ["explain", "--network", str(ROOT / "examples" / "networks" / "design-example.toml")], "network.md.j2, line 1"),
    ("markdown/verify.md.j2", "{{ 1 + }}\n", "markdown",
     ["verify", str(ROOT / "examples" / "verify" / "linear-model.md")], "verify.md.j2, line 1"),
]


@pytest.mark.parametrize("name, text, fmt, argv, fragment", BROKEN_TEMPLATES,
                         ids=[f"{name}-{fragment.split(': ')[-1][:20]}" for name, *_, fragment in BROKEN_TEMPLATES])
def test_a_broken_user_template_is_an_input_error(capsys, tmp_path, name, text, fmt, argv, fragment):
    folder = tmp_path / "templates"
    (folder / name).parent.mkdir(parents=True)
    (folder / name).write_text(text, encoding="utf-8")
    code, out, err = run(capsys, *argv, "--templates", str(folder), "--format", fmt, "-o", str(tmp_path / "out.x"))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derive: error: --templates: ") and fragment in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["templates"]


def test_the_entry_point_collects_young_garbage_less_often(monkeypatch):
    """Start-up (issue 14): the command's process raises the collector's first threshold; `main` alone does not."""
    calls = []
    monkeypatch.setattr(gc, "set_threshold", lambda *thresholds: calls.append(thresholds))
    cli.main(["--version"])
    assert calls == []
    monkeypatch.setattr(sys, "argv", ["derive", "--version"])
    monkeypatch.setattr(os, "_exit", _exit_as_system_exit)  # `leave` would end pytest's own process
    # and would run pytest's own exit functions now (torch's among them, which unregister its operators): the
    # process-level behaviour is tested in a process of its own below
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: None)
    with pytest.raises(SystemExit) as exit_:
        cli.main_entry()
    assert exit_.value.code == 0 and calls == [(cli.GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])]


NO_COLLECTION_SCRIPT = """\
import gc, sys
from derive import cli
gc.callbacks.append(lambda phase, info: phase == "start" and sys.stderr.write("collected\\n"))
sys.argv = ["derive", *sys.argv[1:]]
cli.main_entry()
"""


@pytest.mark.parametrize("argv", [["show", "linear-model"], ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4"]])
def test_a_short_command_never_collects_garbage(argv):
    """Start-up (issue 14): the objects of `derive show` and of `derive explain` with the truth loop stay below the
    first threshold, so the collector never walks them (at 10,000 it ran about ten times, 20–25 ms)."""
    result = subprocess.run([sys.executable, "-c", NO_COLLECTION_SCRIPT, *argv], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("#")
    assert "collected" not in result.stderr


def _exit_as_system_exit(code: int) -> None:
    raise SystemExit(code)


LEAVE_SCRIPT = """\
import atexit, sys
from derive import cli

class TornDown:
    def __del__(self):
        sys.stderr.write("torn down\\n")

kept = TornDown()  # freed only by the interpreter's teardown
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
sys.stdout.write("unflushed output")  # still in the buffer when leave() is called
cli.leave(int(sys.argv[1]))
"""


@pytest.mark.parametrize("code", [0, 2, 3])
def test_the_process_ends_without_tearing_the_interpreter_down(code):
    """Start-up (issue 14): a command's process exits with its code once its streams are flushed and its atexit
    functions have run, without freeing every object one by one (a fifth of ``import sympy``'s CPU time)."""
    result = subprocess.run([sys.executable, "-c", LEAVE_SCRIPT, str(code)], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == code
    assert result.stdout == "unflushed output"
    assert result.stderr == "atexit ran\n"  # no "torn down": the teardown was skipped


def test_leave_exits_normally_while_another_thread_runs(monkeypatch):
    """With a thread still running Python waits for it at exit; `leave` must not cut it off."""
    monkeypatch.setattr(os, "_exit", lambda code: pytest.fail("os._exit while a thread runs"))
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.leave(4)
    finally:
        release.set()
        worker.join()
    assert exit_.value.code == 4


@pytest.mark.parametrize("command", [["show", "toast"], ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4"],
                                     ["show", "nope"]])
def test_the_command_writes_what_main_returns(capsys, command):
    """The real process (which ends through `leave`) prints exactly what `main` prints in-process, with its code."""
    code, out, err = run(capsys, *command)
    result = subprocess.run([sys.executable, "-m", "derive", *command], capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    assert (result.returncode, result.stdout, result.stderr) == (code, out, err)
