"""`derive verify` on derivations written out from textbooks and lecture notes (tests/textbooks/, issue 16).

Each ``NAME.md`` is a correct derivation as its source writes it and must be accepted (exit 0); ``NAME.slip.md``
is the same text with one realistic slip, which must fail (exit 1) at the manifest's claim line and step, named
with the manifest's slip kind. The cases not yet met are listed in ``OPEN`` (strict xfail: a case that starts to
pass fails the run until it is taken off the list); ``python tests/test_textbooks.py`` prints the counts.
"""
from __future__ import annotations

import io
import json
import sys
import tomllib
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "tests" / "textbooks"
CASES = tomllib.loads((FOLDER / "manifest.toml").read_text(encoding="utf-8"))["case"]

OPEN: dict[str, str] = {
}
"""``"NAME"`` (correct file) or ``"NAME.slip"`` → why derive does not meet it yet."""


def run_verify(path: Path) -> tuple[int, dict]:
    from derive.cli import main
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(["verify", str(path), "--format", "json"])
    return code, json.loads(buffer.getvalue())


def first_failure(data: dict) -> tuple[int, int, str] | None:
    """(claim line, step, slip kind) of the first false step, or None."""
    for claim in data.get("claims", ()):
        for step in claim["steps"]:
            if step["ok"] is False:
                return claim["line"], step["index"], step["slip_kind"]
    return None


def outcome(case: dict) -> dict[str, object]:
    """What derive does with both files of one case, for the test and the counts."""
    code, data = run_verify(FOLDER / f"{case['name']}.md")
    slip_code, slip_data = run_verify(FOLDER / f"{case['name']}.slip.md")
    failure = first_failure(slip_data)
    return {"accepted": code == 0, "false_alarm": code == 1, "correct_code": code, "correct_data": data,
            "slip_code": slip_code, "failure": failure,
            "caught": slip_code == 1 and failure is not None and failure[:2] == (case["line"], case["step"]),
            "named": failure is not None and failure[2] == case["slip"]}


def _marks(key: str):
    return [pytest.mark.xfail(strict=True, reason=OPEN[key])] if key in OPEN else []


def test_each_slip_file_differs_from_its_correct_file_in_one_line():
    for case in CASES:
        correct = (FOLDER / f"{case['name']}.md").read_text(encoding="utf-8").splitlines()
        slipped = (FOLDER / f"{case['name']}.slip.md").read_text(encoding="utf-8").splitlines()
        assert len(correct) == len(slipped)
        changed = [k + 1 for k, (a, b) in enumerate(zip(correct, slipped)) if a != b]
        assert changed == [case["line"]], case["name"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"], marks=_marks(c["name"])) for c in CASES])
def test_correct_derivation_is_accepted(case):
    code, data = run_verify(FOLDER / f"{case['name']}.md")
    assert code == 0, (data.get("error"), first_failure(data))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"], marks=_marks(c["name"] + ".slip")) for c in CASES])
def test_slip_is_caught_at_its_step_and_named(case):
    code, data = run_verify(FOLDER / f"{case['name']}.slip.md")
    assert code == 1, data.get("error")
    assert first_failure(data) == (case["line"], case["step"], case["slip"])


def counts() -> dict[str, int]:
    results = [outcome(case) for case in CASES]
    return {"pairs": len(CASES),
            "accepted as written": sum(r["accepted"] for r in results),
            "false alarms": sum(r["false_alarm"] for r in results),
            "correct files refused or undecided": sum(r["correct_code"] not in (0, 1) for r in results),
            "slips caught at the right step": sum(r["caught"] for r in results),
            "slips caught and named": sum(r["caught"] and r["named"] for r in results)}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if "-v" in sys.argv:
        for case in CASES:
            r = outcome(case)
            print(f"{case['name']:40} correct={r['correct_code']} "
                  f"{(r['correct_data'].get('error') or {}).get('message', '')[:70]!s:72} "
                  f"slip={r['slip_code']} {r['failure']} want {(case['line'], case['step'], case['slip'])}")
    for key, value in counts().items():
        print(f"{key}: {value}")
