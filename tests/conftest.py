"""Shared fixtures: tools that must exist under CI, and artefacts built once per test session."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE_COMMENT = re.compile(r"<!--.*?-->", re.S)
"""An HTML comment: on derive's pages the directives for `derive verify`, markup that no reader sees."""
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


_SESSION_CACHE: list[str] = []


def pytest_configure(config) -> None:
    """The per-user cache (`derive.usercache`) of the tests, and of the commands they run, is a folder of this
    session's own, so that the tests neither read nor fill the user's cache (a test may set its own)."""
    if "DERIVE_CACHE_DIR" not in os.environ:
        _SESSION_CACHE.append(tempfile.mkdtemp(prefix="derive-test-cache-"))
        os.environ["DERIVE_CACHE_DIR"] = _SESSION_CACHE[0]


def pytest_unconfigure(config) -> None:
    for folder in _SESSION_CACHE:
        shutil.rmtree(folder, ignore_errors=True)


def require_tool(name: str) -> str:
    """The path of an external tool. Missing: a failure under CI (never a silent skip), a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/install-test-deps.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_module(name: str):
    """Import a test dependency such as torch; missing is a failure under CI, a skip elsewhere."""
    try:
        return __import__(name)
    except ImportError:
        message = f"the Python package {name} is not installed (scripts/install-test-deps.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def gallery(tmp_path_factory) -> Path:
    """The gallery built once per session, in-process, for every test that looks at it."""
    from derive.cli import main
    out = tmp_path_factory.mktemp("gallery") / "output"
    assert main(["build", "--out", str(out), "--no-pdf"]) == 0
    return out


@lru_cache(maxsize=None)
def scenario_walk(name: str):
    """A built-in scenario's walk-through, built once per test session (tests only read it)."""
    from derive.scenarios import build
    return build(name)


@lru_cache(maxsize=None)
def scenario_page(name: str, lang: str, fmt: str = "markdown") -> str:
    """A built-in scenario's document, rendered once per test session."""
    from derive.present.render import render
    return render(scenario_walk(name), fmt, lang)
