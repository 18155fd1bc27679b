"""The file policy (derive/files.py) and the template sandbox (derive/present/templating.py), for what the corpus cannot
express: permissions (monkeypatched, since root reads and writes through any mode bits), closed standard input, an
ASCII-only stdout, a read-only HOME, fsync before rename, stale temporary files, the render clock.

Device nodes are made with mknod inside tmp_path (never the real /dev); the tests that need them are skipped where
mknod is not permitted."""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from derive import files
from derive.present import templating
from derive.cli import main
from derive.errors import MAX_SHOWN, shown


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derive: error: "), err
    return lines[0]


def device(path: Path, minor: int) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("mknod is not permitted here")
    return path


def deny(monkeypatch, below: Path) -> None:
    """os.open of anything under ``below`` fails with EACCES, as for a user without the permission (root is
    never refused by mode bits, so chmod cannot show this in CI)."""
    real_open = os.open

    def guarded(path, flags, *args, **kwargs):
        if str(os.fspath(path)).startswith(str(below)):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", guarded)


def derive_process(*argv: str, **options) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **options.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "derive", *argv], capture_output=True, env=env,
                          **{"timeout": 300, **options})


# --- error lines -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [("plain", "plain"), ("a\nb", "a\\nb"), ("tab\there", "tab\\there"),
                                           ("\x1b[31mred", "\\x1b[31mred"), ("日本語", "日本語")])
def test_shown_is_one_printable_line(text, expected):
    assert shown(text) == expected


def test_shown_keeps_both_ends_within_the_limit():
    text = "start-" + "x" * 500_000 + "-end"
    quoted = shown(text)
    assert len(quoted) == MAX_SHOWN and quoted.startswith("start-") and quoted.endswith("-end") and "…" in quoted


def test_a_huge_toml_key_gives_a_short_line(tmp_path, capsys):
    network = tmp_path / "key.toml"
    network.write_text("k" * 500_000 + " = 1\n")
    code, _, err = run(capsys, "explain", "--network", str(network))
    assert code == 2
    line = one_error(err)
    assert "unknown key 'kkk" in line and len(line) < 600


def test_a_newline_in_an_output_name_stays_on_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "show", "toast", "-o", str(tmp_path / "a\nb" / "x.md"))
    assert code == 2 and "a\\nb does not exist" in one_error(err)


# --- inputs ------------------------------------------------------------------------------------------------------

def test_an_unreadable_at_file_is_named(tmp_path, monkeypatch, capsys):
    source = tmp_path / "locked.txt"
    source.write_text("x*y")
    deny(monkeypatch, source)
    code, _, err = run(capsys, "explain", f"@{source}")
    assert code == 2 and f"cannot read {source}: permission denied" in one_error(err)


def test_an_at_file_in_an_unsearchable_folder_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "p.txt").write_text("x*y")
    deny(monkeypatch, tmp_path / "closed")
    code, _, err = run(capsys, "verify", str(tmp_path / "closed" / "p.txt"))
    assert code == 2 and "p.txt: permission denied" in one_error(err)


@pytest.mark.parametrize("argv", [["explain", "-"], ["verify", "-"], ["explain", "--network", "-"]])
def test_closed_stdin_is_an_input_error(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "stdin", None)  # what Python sets for `derive explain - <&-`
    code, _, err = run(capsys, *argv)
    assert code == 2 and "cannot read standard input: it is closed" in one_error(err)


def test_closed_stdin_in_a_real_process():
    done = derive_process("explain", "-", stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode().strip() == "derive: error: cannot read standard input: it is closed"


def test_verify_of_a_fifo_returns_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    done = derive_process("verify", str(tmp_path / "pipe"), timeout=60)
    assert done.returncode == 2 and b"not a regular file" in done.stderr


# --- templates ---------------------------------------------------------------------------------------------------

def template(tmp_path: Path, text: str | bytes, name: str = "markdown/walkthrough.md.j2") -> Path:
    path = tmp_path / "t" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return tmp_path / "t"


@pytest.mark.parametrize("payload", [
    "{{ cycler.__init__.__globals__.os.popen('touch pwned').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__['os'].popen('touch pwned').read() }}",
])
def test_a_template_cannot_run_commands(tmp_path, monkeypatch, capsys, payload):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "show", "toast", "--templates", str(template(tmp_path, payload)))
    assert code == 2 and "unsafe" in one_error(err) and out == ""
    assert not (tmp_path / "pwned").exists()


def test_a_template_linked_to_a_file_outside_is_not_printed(tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret\n")
    folder = tmp_path / "t" / "markdown"
    folder.mkdir(parents=True)
    (folder / "walkthrough.md.j2").symlink_to(secret)
    code, out, err = run(capsys, "show", "toast", "--templates", str(tmp_path / "t"))
    assert code == 2 and "symbolic link out of the templates folder" in one_error(err)
    assert "the secret" not in out + err


def test_a_link_within_the_folder_is_followed(tmp_path, capsys):
    folder = template(tmp_path, "{{ title }}\n", "markdown/mine.md.j2")
    (folder / "markdown" / "walkthrough.md.j2").symlink_to("mine.md.j2")
    code, out, _ = run(capsys, "show", "toast", "--templates", str(folder))
    assert code == 0 and out.startswith("The toast-baking robot")


def test_an_unreadable_template_is_named(tmp_path, monkeypatch, capsys):
    folder = template(tmp_path, "{{ title }}")
    deny(monkeypatch, folder / "markdown" / "walkthrough.md.j2")
    code, _, err = run(capsys, "show", "toast", "--templates", str(folder))
    assert code == 2 and "walkthrough.md.j2: permission denied" in one_error(err)


@pytest.mark.parametrize("text,fragment", [
    ("{{ title }}\n{{ 1 / 0 }}", "walkthrough.md.j2, line 2: ZeroDivisionError: division by zero"),
    ("\n\n{{ 1 + 'a' }}", "walkthrough.md.j2, line 3: TypeError"),
    (b"ok\n\xff\xfe", "walkthrough.md.j2, line 2: not UTF-8 text"),
    ("{% for i in range(10**12) %}x{% endfor %}", "line 1: the number 1000000000000 is too large"),
])
def test_errors_inside_a_template_name_file_and_line(tmp_path, capsys, text, fragment):
    code, _, err = run(capsys, "show", "toast", "--templates", str(template(tmp_path, text)))
    assert code == 2 and fragment in one_error(err)


def test_a_template_that_runs_too_long_is_stopped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(templating, "RENDER_SECONDS", 0.5)
    folder = template(tmp_path, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    code, _, err = run(capsys, "show", "toast", "--templates", str(folder))
    assert code == 2 and "walkthrough.md.j2" in one_error(err) and "ran for more than 0.5 s" in err


def test_the_package_templates_render_in_the_sandbox(capsys):
    for fmt in ("markdown", "latex", "beamer", "html"):
        code, out, _ = run(capsys, "show", "linear-model", "--format", fmt, "--lang", "ja")
        assert code == 0 and len(out) > 1000


# --- outputs -----------------------------------------------------------------------------------------------------

def test_a_null_device_stays_a_device(tmp_path, capsys):
    null = device(tmp_path / "null", 3)
    assert run(capsys, "show", "toast", "-o", str(null))[0] == 0
    assert stat.S_ISCHR(null.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no null.svg beside a device


def test_a_full_device_is_no_space(tmp_path, capsys):
    full = device(tmp_path / "full", 7)
    code, _, err = run(capsys, "show", "toast", "-o", str(full))
    assert code == 2 and f"cannot write {full}: no space left on device" in one_error(err)
    assert stat.S_ISCHR(full.stat().st_mode)


def test_stdout_through_a_proc_link_keeps_the_link(tmp_path):
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    done = derive_process("show", "toast", "-f", "json", "-o", str(link))
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout == derive_process("show", "toast", "-f", "json").stdout
    assert link.is_symlink()


def test_a_link_is_written_through(tmp_path, capsys):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    assert run(capsys, "show", "toast", "-f", "json", "-o", str(tmp_path / "link.json"))[0] == 0
    assert (tmp_path / "link.json").is_symlink() and '"schema_version"' in (tmp_path / "real.json").read_text()


def test_the_verified_document_is_not_overwritten(tmp_path, capsys):
    document = tmp_path / "d.md"
    document.write_bytes((ROOT / "examples" / "verify" / "sigmoid-sse-slip.md").read_bytes())
    before = document.read_bytes()
    code, _, err = run(capsys, "verify", str(document), "-o", str(document))
    assert code == 2 and "d.md is the input file" in one_error(err)
    assert document.read_bytes() == before


def test_a_foreign_svg_is_kept_and_derives_own_is_replaced(tmp_path, capsys):
    foreign = tmp_path / "notes.svg"
    foreign.write_text("<svg>mine</svg>")
    code, _, err = run(capsys, "show", "toast", "-o", str(tmp_path / "notes.md"))
    assert code == 2 and "notes.svg exists and was not written by derive" in one_error(err)
    assert foreign.read_text() == "<svg>mine</svg>" and not (tmp_path / "notes.md").exists()
    foreign.unlink()
    assert run(capsys, "show", "toast", "-o", str(tmp_path / "notes.md"))[0] == 0
    assert files.SVG_MARK in foreign.read_text()
    assert run(capsys, "show", "toast", "-o", str(tmp_path / "notes.md"))[0] == 0  # derive's own: replaced


@pytest.mark.parametrize("fmt,plot", [("markdown", "vanishing-gradients-plot.svg"),
                                      ("latex", "vanishing-gradients-plot.pdf")])
def test_a_foreign_plot_is_kept(tmp_path, capsys, fmt, plot):
    (tmp_path / plot).write_bytes(b"someone else's")
    code, _, err = run(capsys, "show", "vanishing-gradients", "-f", fmt, "-o", str(tmp_path / "v.x"))
    assert code == 2 and f"{plot} exists and was not written by derive" in one_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == [plot] and (tmp_path / plot).read_bytes() == b"someone else's"


@pytest.mark.parametrize("argv,folder", [
    (["show", "toast", "-o", "{tmp}/d"], "d"),
    (["show", "toast", "-o", "{tmp}/notes.md"], "notes.md"),
    (["exercise", "toast", "-o", "{tmp}/s.md"], "s-key.md"),
])
def test_every_target_is_checked_before_any_is_written(tmp_path, capsys, argv, folder):
    (tmp_path / folder).mkdir()
    code, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2 and f"{folder} is a folder" in one_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder]


def test_a_document_named_like_its_figure_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "show", "toast", "-o", str(tmp_path / "notes.svg"))
    assert code == 2 and "notes.svg would be written twice" in one_error(err) and list(tmp_path.iterdir()) == []


def test_build_out_empty_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "build", "--no-pdf", "--out", "")
    assert code == 2 and "--out: an empty name" in one_error(err) and list(tmp_path.iterdir()) == []


def test_build_into_an_unwritable_folder_is_named(tmp_path, monkeypatch, capsys):
    out = tmp_path / "gallery"
    out.mkdir()
    deny(monkeypatch, out)
    code, _, err = run(capsys, "build", "--no-pdf", "--out", str(out))
    assert code == 2 and f"cannot write {out}/" in one_error(err) and "permission denied" in err


def test_a_trailing_slash_names_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "show", "toast", "-o", "newdir/")
    assert code == 2 and "is not a file name" in one_error(err) and list(tmp_path.iterdir()) == []


def test_a_255_character_name_is_written_and_300_is_refused(tmp_path, capsys):
    name = "n" * 250 + ".json"
    assert run(capsys, "show", "toast", "-f", "json", "-o", str(tmp_path / name))[0] == 0
    assert (tmp_path / name).read_text().startswith("{")
    code, _, err = run(capsys, "show", "toast", "-f", "json", "-o", str(tmp_path / ("n" * 300)))
    assert code == 2 and "file name too long" in one_error(err) and len(one_error(err)) < 300


def test_the_temporary_file_is_synced_before_the_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(f"fsync {stat.S_ISREG(os.fstat(fd).st_mode)}"),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    files.write_atomic(tmp_path / "x.json", b"{}")
    assert events[:2] == ["fsync True", "replace"] and (tmp_path / "x.json").read_bytes() == b"{}"


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path):
    stale = tmp_path / ".derive-abcd1234.tmp"
    earlier = tmp_path / ".x.json.k2j4h5g6.tmp"  # the pattern of earlier versions
    live = tmp_path / ".derive-live0000.tmp"
    for path in (stale, earlier, live):
        path.write_text("partial")
    holder = os.open(live, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # a write in progress in another process holds its lock
    try:
        files.write_atomic(tmp_path / "x.json", b"{}")
    finally:
        os.close(holder)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "x.json"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    target.write_text("old")

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"] and target.read_text() == "old"


# --- standard streams and matplotlib -----------------------------------------------------------------------------

def test_japanese_on_an_ascii_stdout_is_utf8():
    done = derive_process("show", "toast", "--lang", "ja", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0 and done.stderr == b""
    assert "トースト" in done.stdout.decode("utf-8")


def test_a_read_only_home_prints_no_matplotlib_warning(tmp_path):
    (tmp_path / "file").write_text("")
    env = {"HOME": str(tmp_path / "file" / "home"), "MPLCONFIGDIR": "", "XDG_CONFIG_HOME": "",
           "XDG_CACHE_HOME": ""}
    done = derive_process("show", "vanishing-gradients", "-o", str(tmp_path / "v.md"), env=env)
    assert done.returncode == 0 and done.stderr.decode().startswith("derive: wrote ")  # the one line -o says
    assert done.stderr.decode().count("\n") == 1
    assert files.SVG_MARK in (tmp_path / "vanishing-gradients-plot.svg").read_text()
