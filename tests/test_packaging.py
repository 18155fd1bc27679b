"""The wheel carries templates, catalogs and the schema: an installed derive works outside the checkout."""
from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from derive.files import SVG_MARK

from conftest import ROOT


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with derive installed from a wheel of the checkout (non-editable); returns its bin folder.
    The venv sees the system's packages (sympy, jinja2, …) so that nothing is downloaded."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    build_dir = tmp_path_factory.mktemp("src")
    # copy the tracked sources, so that no build/ or egg-info is left in the checkout
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file() and not name.startswith("output/"):
            (build_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (build_dir / name).write_bytes((ROOT / name).read_bytes())
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(build_dir)], check=True, cwd=build_dir)
    (wheel,) = wheels.glob("derive-*.whl")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    str(wheel)],
                   check=True, cwd=wheels)
    return venv / "bin"


def test_installed_show_outside_checkout(installed, tmp_path):
    result = subprocess.run([str(installed / "derive"), "show", "toast"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "0.72" in result.stdout
    where = subprocess.run([str(installed / "python"), "-c", "import derive; print(derive.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where, "the test must exercise the installed copy, not the checkout"


def test_installed_draws_the_graph_without_graphviz(installed, tmp_path):
    """The README's main job on a plain machine: no Graphviz (nor TeX) on PATH, only the venv's own programs."""
    env = dict(os.environ, PATH=str(installed))
    assert shutil.which("dot", path=env["PATH"]) is None
    result = subprocess.run([str(installed / "derive"), "show", "toast", "-o", "notes.md"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "](notes.svg)" in (tmp_path / "notes.md").read_text(encoding="utf-8")
    svg = (tmp_path / "notes.svg").read_bytes()
    assert svg.startswith(SVG_MARK.encode() + b"\n<svg ")
    assert svg == (ROOT / "output" / "toast" / "graph.svg").read_bytes()  # the same figure as the checkout's


def test_installed_build_matches_committed_gallery(installed, tmp_path):
    out = tmp_path / "gallery"
    result = subprocess.run([str(installed / "derive"), "build", "--out", str(out), "--no-pdf"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert_same_text_files(out, ROOT / "output")


TEXT_SUFFIXES = {".md", ".json", ".tex", ".html", ".svg"}


def text_files(folder: Path) -> set[str]:
    """The gallery's text files (not the build's own records in .cache/, which git ignores)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in TEXT_SUFFIXES
            and ".cache" not in p.relative_to(folder).parts}


def assert_same_text_files(built: Path, committed: Path) -> None:
    names = text_files(built)
    assert names == text_files(committed), "the committed output/ lists other files: run `derive build`"
    _, mismatch, errors = filecmp.cmpfiles(built, committed, sorted(names), shallow=False)
    assert not mismatch and not errors, f"output/ is out of date (run `derive build`): {mismatch[:5]}"


def test_wheel_is_typed_licensed_and_classified(installed, tmp_path):
    code = ("import importlib.metadata as m, json; d = m.distribution('derive'); print(json.dumps({'files': "
            "[str(f) for f in d.files], 'classifiers': d.metadata.get_all('Classifier'), 'license': "
            "d.metadata['License'], 'requires': d.requires}))")
    info = json.loads(subprocess.run([str(installed / "python"), "-c", code], cwd=tmp_path, capture_output=True,
                                     text=True, check=True).stdout)
    assert "derive/py.typed" in info["files"]
    # setuptools ≥ 77 puts licence files under .dist-info/licenses/ (PEP 639), older ones beside METADATA
    assert any(f.endswith((".dist-info/LICENSE", ".dist-info/licenses/LICENSE")) for f in info["files"])
    assert info["license"] == "MIT" and "License :: OSI Approved :: MIT License" in info["classifiers"]
    assert "Typing :: Typed" in info["classifiers"] and "Framework :: Jupyter" in info["classifiers"]
    assert not any(r.split(";")[0].lower().startswith(("ipython", "ipykernel", "nbconvert")) for r in info["requires"]
                   if "extra ==" not in r), "IPython must stay optional at run time"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
