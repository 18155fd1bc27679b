"""The README opens with the two set-up commands, and CI runs the second one exactly."""
from __future__ import annotations

import re

from conftest import ROOT


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)][:2]


def test_readme_starts_with_two_commands():
    main_job, tests = setup_commands()
    assert "derive build" in main_job and "pip install" in main_job
    assert "pytest" in tests and "install-test-deps" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == setup_commands()[1]
