#!/usr/bin/env python3
"""The performance benchmark of issue 7: one run, one table of ratios, JSON in bench/results.json.

    python bench/run.py            # about 5–10 minutes (the naive side is capped at 120 s of CPU per network)
    python bench/run.py --quick    # about a minute: smaller grid for the timings, naive side capped at 10 s
    python bench/run.py --build    # the gallery build only (section 5)

What is measured (every ratio in the same run, on the same machine):

1. **Operation counts**, backward / forward, with ``sympy.count_ops``:
   forward = Σ over non-leaf nodes of count_ops(what the node computes: its rule's forward expression, so σ(z) is
   1/(1 + e^−z) and softmax_k(z) is e^{z_k}/Σ_j e^{z_j}, not one opaque function call as the walk-through writes
   them: a vector op written as one call would make any gradient look expensive);
   backward = Σ over every backward step and input of count_ops(contribution) — the contribution is
   ``local × upstream``, so it contains the local gradient, which is therefore not counted a second time — plus one
   addition for every extra reader of a node whose gradient is a sum (fan-out).
   Scenarios use their `Derivation`. Networks (L ∈ {3, 4, 6, 8} layers counted as the material does, n ∈ {2, 4, 8}
   units in every layer, sigmoid, ½-SSE, one sample) are written as the equivalent *scalar program*
   (``z2_1 = w2_1_1*x_1 + … + b2_1; a2_1 = sigmoid(z2_1); …; C = 1/2*((a3_1 - t_1)**2 + …)``) and go through
   `derive.parse.parse_program` and `derive.backward.derive` (a symbolic walk). derive.network's δ blocks are not
   used for this ratio: they hold numbers (matrices evaluated at the file's point), not expressions to count.
2. **Derivation + LaTeX time** against the naive way: ``sympy.diff`` of the fully substituted loss (every z and a
   substituted, sigmoid written as 1/(1 + exp(−z)), every weight, bias, input and target a symbol) with respect to
   every weight and bias, then ``sympy.latex`` of each gradient, in a child process capped at ``--cap`` seconds of
   CPU (reported "> cap"; a network larger in both L and n than one that hit the cap is not run and is reported
   "> cap" too). derive's side is ``derive explain --network`` done in-process: load the TOML, derive, check,
   render LaTeX (median of several runs). The scalar-program route (parse, symbolic walk, self-check, LaTeX) is
   timed as well (full run only) and shown beside it.
3. **Growth** time(L = 8) / time(L = 4) at n = 4 for the network route: measured in-process after a warm-up, so
   import time is not in either number (median of 7).
4. **Start-up** (``--startup`` alone: about two minutes): wall and CPU time of ``python -m derive show
   linear-model``, ``derive explain "(x + y) * z" --at x=-2,y=5,z=-4`` (its page read back by the truth loop),
   ``derive list`` and ``derive --version``, each against ``python -c "import sympy"`` run just before it, median of
   5 each (7 with ``--startup``; issue 14's goals: show at most 1.3×, explain under 2×; derive's per-user cache
   warm, and for show once more with it empty), the largest entries of ``python -X importtime -m derive show
   linear-model``, and whether ``derive list`` and ``derive --version`` load SymPy, Jinja, Markdown or matplotlib
   (they must not).

5. **The gallery build** (``--build``, issue 13; about 3 minutes on a quiet machine): ``derive build --no-pdf`` into
   a new folder, the same again with nothing changed, ``derive build`` with PDFs into a new folder (TeX's own font
   caches warmed by one lualatex run first; derive's own cache is empty), the same again with nothing changed, and
   ``derive list`` / ``--version``; then a full build into another new folder with derive's per-user cache and the
   figure cache warm, whose every file (PDFs included) must be byte-identical to the first full build's, made with
   both caches off (``identical``); each one's wall time and CPU time (user + sys of it and every process it ran,
   TeX included) beside the wall time of ``python -c "import sympy"`` run just before it. The full build runs its
   TeX engines through stand-ins (`timed_engines`: a bash script per engine, a few milliseconds each) that record
   every engine run, so the table also gives the runs per document and the CPU seconds per run by engine and kind
   of document: on a shared machine the wall times are noisy, the CPU per engine run much less so.

6. **Verify** (``--verify``, issue 16; under a minute): CPU and wall time of ``python -m derive verify
   bench/verify-20-claims.md`` (20 claims on a two-layer network, all holding) against ``python -c "import sympy"``,
   run alternately, median of 7 each, byte-code and per-user caches warm; the goal is at most 2x.

Times are CPU seconds of the process doing the work (``time.process_time``) unless marked "wall": the machine may
be shared, and CPU time is what the work costs. The load average is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OPS_GRID = [(L, n) for L in (3, 4, 6, 8) for n in (2, 4, 8)]
TIME_GRID_FULL = [(L, n) for L in (3, 4, 5, 6, 8) for n in (2, 4, 8)]
TIME_GRID_QUICK = [(3, 2), (3, 4), (4, 2), (4, 4), (5, 4), (8, 4)]
NAIVE_MEMORY = 8 * 1024 ** 3  # address-space limit of each naive child process

GOAL_OPS = 3.0
GOAL_SPEEDUP = 50.0
GOAL_GROWTH = 2.8
GOAL_STARTUP = 1.3  # issue 14 (issue 7 asked for 2.0)
GOAL_VERIFY = 2.0  # issue 16: derive verify on a 20-claim document against import sympy
VERIFY_DOCUMENT = ROOT / "bench" / "verify-20-claims.md"


# --- the networks --------------------------------------------------------------------------------------------------

def network_program(L: int, n: int) -> str:
    """The scalar program of a sigmoid network with L layers (input layer = 1) of n units and the ½-SSE loss."""
    lines = []
    for layer in range(2, L + 1):
        previous = [f"x_{i}" if layer == 2 else f"a{layer - 1}_{i}" for i in range(1, n + 1)]
        for j in range(1, n + 1):
            total = " + ".join(f"w{layer}_{j}_{i}*{a}" for i, a in enumerate(previous, start=1))
            lines.append(f"z{layer}_{j} = {total} + b{layer}_{j}")
            lines.append(f"a{layer}_{j} = sigmoid(z{layer}_{j})")
    lines.append("C = 1/2*(" + " + ".join(f"(a{L}_{j} - t_{j})**2" for j in range(1, n + 1)) + ")")
    return "\n".join(lines) + "\n"


def network_toml(L: int, n: int) -> str:
    """The same network as a TOML file with reproducible pseudo-random weights."""
    rng = random.Random(1000 * L + n)

    def vector(low: float, high: float) -> str:
        return "[" + ", ".join(f"{rng.uniform(low, high):.2f}" for _ in range(n)) + "]"

    lines = ['activation = "sigmoid"', 'loss = "sse"', "learning_rate = 0.5",
             f"input = {vector(0, 1)}", f"target = {vector(0, 1)}"]
    for _ in range(2, L + 1):
        lines += ["[[layer]]", "W = [" + ", ".join(vector(-1, 1) for _ in range(n)) + "]", f"b = {vector(-1, 1)}"]
    return "\n".join(lines) + "\n"


def parameters(L: int, n: int) -> int:
    return (L - 1) * (n * n + n)


# --- 1. operation counts -------------------------------------------------------------------------------------------

def operation_counts(derivation) -> dict:
    import sympy

    from derive.graph import operand_exprs
    from derive.rules import RULES
    forward = sum(sympy.count_ops(RULES[node.op].forward(operand_exprs(node), node.params))
                  for node in derivation.graph.nodes if node.op != "leaf")
    local = sum(sympy.count_ops(term.local) for step in derivation.steps for term in step.terms)
    contributions = sum(sympy.count_ops(term.contribution) for step in derivation.steps for term in step.terms)
    fan_in = sum(max(len(g.parts) - 1, 0) for g in derivation.gradients.values())
    backward = contributions + fan_in
    return {"nodes": len(derivation.graph.nodes), "forward_ops": forward, "backward_ops": backward,
            "local_ops": local, "contribution_ops": contributions, "fan_in_additions": fan_in,
            "ratio": backward / forward}


def scenario_counts() -> dict[str, dict]:
    from derive.scenarios import SCENARIOS, build
    rows = {}
    for name in SCENARIOS:
        walk = build(name)
        rows[name] = operation_counts(walk.derivation)
    return rows


def network_counts(grid) -> dict[str, dict]:
    from derive.backward import derive
    from derive.parse import parse_program
    rows = {}
    for L, n in grid:
        derivation = derive(parse_program(network_program(L, n)))
        rows[f"L={L} n={n}"] = {"L": L, "n": n, **operation_counts(derivation)}
    return rows


# --- 2. derive against naive sympy.diff --------------------------------------------------------------------------

class _Capped(BaseException):
    pass


def naive_child(L: int, n: int, cap: float) -> None:
    """In a child process: build the fully substituted loss, differentiate, print LaTeX; one JSON line out."""
    import sympy
    x = [sympy.Symbol(f"x_{i}", real=True) for i in range(1, n + 1)]
    t = [sympy.Symbol(f"t_{i}", real=True) for i in range(1, n + 1)]
    params, a = [], x
    for layer in range(2, L + 1):
        W = [[sympy.Symbol(f"w{layer}_{j}_{i}", real=True) for i in range(1, n + 1)] for j in range(1, n + 1)]
        b = [sympy.Symbol(f"b{layer}_{j}", real=True) for j in range(1, n + 1)]
        params += [w for row in W for w in row] + b
        a = [1 / (1 + sympy.exp(-(sympy.Add(*[W[j][i] * a[i] for i in range(n)]) + b[j]))) for j in range(n)]
    loss = sympy.Rational(1, 2) * sympy.Add(*[(a[j] - t[j]) ** 2 for j in range(n)])

    def on_prof(signum, frame):
        raise _Capped

    signal.signal(signal.SIGPROF, on_prof)
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    signal.setitimer(signal.ITIMER_PROF, cap)
    result: dict = {"L": L, "n": n}
    try:
        gradients = [sympy.diff(loss, p) for p in params]
        result["diff_cpu"] = time.process_time() - start_cpu
        latex_chars = sum(len(sympy.latex(g)) for g in gradients)
        signal.setitimer(signal.ITIMER_PROF, 0)
        result.update(cpu=time.process_time() - start_cpu, wall=time.perf_counter() - start_wall,
                      latex_chars=latex_chars)
    except _Capped:
        result.update(capped=True, cpu=time.process_time() - start_cpu, wall=time.perf_counter() - start_wall)
        print(json.dumps(result), flush=True)
        return
    except MemoryError:
        signal.setitimer(signal.ITIMER_PROF, 0)
        result.update(memory=True, cpu=time.process_time() - start_cpu)
        print(json.dumps(result), flush=True)
        return
    ops_start = time.process_time()
    result["ops"] = sum(sympy.count_ops(g) for g in gradients)
    result["count_ops_cpu"] = time.process_time() - ops_start
    print(json.dumps(result), flush=True)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (NAIVE_MEMORY, NAIVE_MEMORY))


def naive(L: int, n: int, cap: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--naive", str(L), str(n), "--cap", str(cap)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=4 * cap + 120,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return {"L": L, "n": n, "capped": True, "note": "killed by the wall-clock backstop"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"L": L, "n": n, "failed": True, "memory": "MemoryError" in done.stderr, "note": tail[:200]}
    return json.loads(lines[-1])


def naive_all(grid, cap: float, workers: int = 2) -> dict[tuple[int, int], dict]:
    """Every naive run, smallest first, two at a time. A network at least as large in both L and n as one that hit
    the cap is reported capped without running (the work grows with both), and it waits while such a smaller
    network is still running, so that no CPU is spent on a run whose outcome is already known."""
    import threading
    order = sorted(grid, key=lambda c: c[1] ** c[0])
    results: dict[tuple[int, int], dict] = {}
    running: set[tuple[int, int]] = set()
    changed = threading.Condition()

    def smaller(config: tuple[int, int], other: tuple[int, int]) -> bool:
        return other != config and other[0] <= config[0] and other[1] <= config[1]

    def one(config: tuple[int, int]) -> None:
        L, n = config
        with changed:
            changed.wait_for(lambda: not any(smaller(config, r) for r in running))
            capped_by = [c for c, r in results.items() if smaller(config, c) and (r.get("capped") or r.get("memory"))]
            if capped_by:
                results[config] = {"L": L, "n": n, "capped": True,
                                   "inferred_from": f"L={capped_by[0][0]} n={capped_by[0][1]}"}
                return
            running.add(config)
        try:
            result = naive(L, n, cap)
        finally:
            with changed:
                running.discard(config)
                results[config] = result if "result" in locals() else {"L": L, "n": n, "failed": True}
                changed.notify_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, order))
    return results


def _median_time(function, repeats: int) -> dict:
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return {"cpu": statistics.median(cpu), "wall": statistics.median(wall), "repeats": repeats}


def network_route(L: int, n: int):
    """What ``derive explain --network FILE --format latex`` does after reading the file."""
    from derive.networks import explain_text
    from derive.present.render import render
    text = network_toml(L, n)

    def run() -> None:
        render(explain_text(text, f"L{L}n{n}.toml"), "latex", "en")
    return run


def scalar_route(L: int, n: int):
    """What ``derive explain @PROGRAM --format latex`` does after reading the file (symbolic, checked)."""
    from derive.api import explain
    source = network_program(L, n)

    def run() -> None:
        explain(source).render("latex", "en")
    return run


def timed_with_limit(function, limit: float) -> dict:
    """One run with a CPU-time limit (SIGPROF); ``{"capped": True}`` past it."""
    def on_prof(signum, frame):
        raise _Capped
    previous = signal.signal(signal.SIGPROF, on_prof)
    c, w = time.process_time(), time.perf_counter()
    signal.setitimer(signal.ITIMER_PROF, limit)
    try:
        function()
        signal.setitimer(signal.ITIMER_PROF, 0)
        return {"cpu": time.process_time() - c, "wall": time.perf_counter() - w}
    except _Capped:
        return {"capped": True, "cpu": time.process_time() - c}
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


# --- 4. start-up ---------------------------------------------------------------------------------------------------

def _child_env() -> dict[str, str]:
    """The children's environment: this checkout importable, and byte-code caches written, as an installed package
    has them (with ``PYTHONDONTWRITEBYTECODE`` set, every run would compile derive's modules again, while SymPy's
    come compiled from its install)."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _wall(command: list[str], extra_env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**_child_env(), **(extra_env or {})}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def loaded_modules(arguments: list[str]) -> set[str]:
    """Every module ``python -m derive ARGUMENTS`` imports (from ``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "derive", *arguments], cwd=ROOT,
                          env=_child_env(), capture_output=True, text=True, check=True)
    return {match.group(4) for match in map(_IMPORT_LINE.match, done.stderr.splitlines()) if match}


def listing_imports() -> dict[str, list[str]]:
    """Which of `NOT_FOR_LISTING` ``derive list`` and ``derive --version`` load (the goal: none)."""
    return {" ".join(arguments): sorted(m for m in NOT_FOR_LISTING if m in loaded_modules(arguments))
            for arguments in (["list"], ["--version"])}


def _wall_and_cpu(command: list[str], extra_env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + sys) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _wall(command, extra_env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


COLD_REPEATS = 3


def cold_cache_cpu(command: list[str]) -> float:
    """The median CPU time of ``command`` with an empty per-user cache (`derive.usercache`), as the first run after
    an install or after a change of the templates or catalogs: it parses and compiles what later runs read."""
    with tempfile.TemporaryDirectory(prefix="derive-bench-cache-") as folder:
        return statistics.median(_wall_and_cpu(command, {"DERIVE_CACHE_DIR": os.path.join(folder, str(k))})[1]
                                 for k in range(COLD_REPEATS))


STARTUP_COMMANDS = {
    "show linear-model": ["show", "linear-model"],
    "explain (x + y) * z": ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4"],  # with the truth loop
    "list": ["list"],
    "--version": ["--version"],
}
"""The commands timed against ``import sympy``: issue 14's goals are ``show linear-model`` ≤ 1.3× and ``explain``
(its page read back by the truth loop) < 2×; ``list`` and ``--version`` load no SymPy at all."""
GOAL_EXPLAIN = 2.0


def startup(repeats: int) -> dict:
    """Each of `STARTUP_COMMANDS` against ``import sympy``, run alternately (each command's run right after a run of
    ``import sympy``, so that a change in load hits both): the medians of wall time and, steadier on a shared
    machine, of CPU time; with the per-user cache warm, as every run after the first is, and (``show``, CPU only)
    with it empty. The top-level keys keep ``show linear-model``'s figures."""
    derive = [sys.executable, "-m", "derive"]
    sympy_only = [sys.executable, "-c", "import sympy"]
    for arguments in STARTUP_COMMANDS.values():
        _wall(derive + arguments)  # warm the byte-code caches and derive's per-user cache
    _wall(sympy_only)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in STARTUP_COMMANDS}
    sympy_runs: list[tuple[float, float]] = []
    for _ in range(repeats):
        for name, arguments in STARTUP_COMMANDS.items():
            sympy_runs.append(_wall_and_cpu(sympy_only))
            runs[name].append(_wall_and_cpu(derive + arguments))
    sympy_wall = statistics.median(w for w, _ in sympy_runs)
    sympy_cpu = statistics.median(c for _, c in sympy_runs)
    commands = {}
    for name, measured in runs.items():
        wall, cpu = statistics.median(w for w, _ in measured), statistics.median(c for _, c in measured)
        commands[name] = {"wall": wall, "cpu": cpu, "ratio": wall / sympy_wall, "ratio_cpu": cpu / sympy_cpu,
                          "wall_all": [w for w, _ in measured], "cpu_all": [c for _, c in measured]}
    show = commands["show linear-model"]
    return {"derive_show": show["wall"], "import_sympy": sympy_wall,
            "derive_show_all": show["wall_all"], "import_sympy_all": [w for w, _ in sympy_runs],
            "ratio": show["ratio"], "derive_show_cpu": show["cpu"], "import_sympy_cpu": sympy_cpu,
            "ratio_cpu": show["ratio_cpu"], "commands": commands,
            "derive_show_cold_cache_cpu": cold_cache_cpu(derive + STARTUP_COMMANDS["show linear-model"]),
            "load": os.getloadavg()}


def verify_speed(repeats: int) -> dict:
    """``derive verify bench/verify-20-claims.md`` (20 claims, all holding) against ``import sympy``, run alternately
    as `startup` does: medians of wall and CPU time, byte-code and per-user caches warm."""
    verify = [sys.executable, "-m", "derive", "verify", str(VERIFY_DOCUMENT)]
    sympy_only = [sys.executable, "-c", "import sympy"]
    _wall(verify), _wall(sympy_only)
    verify_runs, sympy_runs = [], []
    for _ in range(repeats):
        verify_runs.append(_wall_and_cpu(verify))
        sympy_runs.append(_wall_and_cpu(sympy_only))
    verify_cpu, sympy_cpu = (statistics.median(c for _, c in runs) for runs in (verify_runs, sympy_runs))
    verify_wall, sympy_wall = (statistics.median(w for w, _ in runs) for runs in (verify_runs, sympy_runs))
    return {"verify_cpu": verify_cpu, "import_sympy_cpu": sympy_cpu, "ratio_cpu": verify_cpu / sympy_cpu,
            "verify_wall": verify_wall, "import_sympy_wall": sympy_wall, "ratio_wall": verify_wall / sympy_wall,
            "claims": VERIFY_DOCUMENT.read_text(encoding="utf-8").count("$$\\frac{\\partial"), "repeats": repeats,
            "load": os.getloadavg()}


def verify_section(results: dict, repeats: int = 7) -> list[tuple[str, str, str, str, str, str]]:
    """Issue 16's speed goal: `derive verify` on a 20-claim document within 2x `import sympy`."""
    measured = results["verify"] = verify_speed(repeats)
    return [(f"verify, 20 claims ({kind}, median of {repeats})", "derive verify / import sympy",
             f"{_seconds(measured['verify_' + kind])} / {_seconds(measured['import_sympy_' + kind])}",
             f"{measured['ratio_' + kind]:.2f}", f"<= {GOAL_VERIFY:g}", _yes(measured["ratio_" + kind] <= GOAL_VERIFY))
            for kind in ("wall", "cpu")]


def startup_section(results: dict, repeats: int = 5) -> list[tuple[str, str, str, str, str, str]]:
    """Section 4: the start-up ratios, the import tree of ``derive show``, and what ``list``/``--version`` load."""
    start = results["startup"] = startup(repeats)
    results["importtime"] = importtime(12)
    listing = results["listing_imports"] = listing_imports()
    goals = {"show linear-model": (GOAL_STARTUP, "<="), "explain (x + y) * z": (GOAL_EXPLAIN, "<")}
    rows = []
    for name, measured in start["commands"].items():
        goal, relation = goals.get(name, (None, ""))
        for kind, key, time_key, sympy_key in (("wall", "ratio", "wall", "import_sympy"),
                                               ("CPU", "ratio_cpu", "cpu", "import_sympy_cpu")):
            met = None if goal is None else (measured[key] <= goal if relation == "<=" else measured[key] < goal)
            rows.append((f"start-up ({kind}, median of {repeats})", f"{name} / import sympy",
                         f"{_seconds(measured[time_key])} / {_seconds(start[sympy_key])}", f"{measured[key]:.2f}",
                         f"{relation} {goal:g}" if goal is not None else "", _yes(met) if goal is not None else ""))
    rows += [
        (f"start-up, empty per-user cache (CPU, median of {COLD_REPEATS})", "show linear-model / import sympy",
         f"{_seconds(start['derive_show_cold_cache_cpu'])} / {_seconds(start['import_sympy_cpu'])}",
         f"{start['derive_show_cold_cache_cpu'] / start['import_sympy_cpu']:.2f}", "", ""),
        *((f"derive {command} loads", ", ".join(NOT_FOR_LISTING), ", ".join(loaded) or "none",
           str(len(loaded)), "0", _yes(not loaded)) for command, loaded in listing.items()),
    ]
    return rows


# --- 5. the gallery build (issue 13) ---------------------------------------------------------------------------------

BUILD_GOALS = {"full": 60.0, "nothing_changed": 2.0, "no_pdf": 8.0}  # wall seconds on 2 cores, quiet machine


def _measured(command: list[str], cwd: Path = ROOT, extra_env: dict[str, str] | None = None) -> dict:
    """Wall time and CPU time (user + sys of the process and everything it ran: TeX included) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env={**_child_env(), **(extra_env or {})}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summary = [line for line in done.stderr.splitlines() if line.startswith("derive: ")]
    return {"wall": wall, "cpu": cpu, "summary": summary}


ENGINES = ("pdflatex", "lualatex")
_ENGINE_WRAPPER = """#!/bin/bash
# bench/run.py's stand-in for {engine}: runs the real one (its output and exit status unchanged), then appends a
# line for the run: engine, work folder, wall, user and system seconds (bash's `time`), the document class
TIMEFORMAT=$'%3R\\t%3U\\t%3S'
measured=$(mktemp)
{{ time {real} "$@" 2>&3 ; }} 3>&2 2> "$measured"
status=$?
class=$(grep -m 1 -o 'documentclass.*' document.tex 2>/dev/null)
printf '%s\\t%s\\t%s\\t%s\\n' {engine} "$PWD" "$(tail -n 1 "$measured")" "$class" >> {log}
rm -f "$measured"
exit $status
"""


def timed_engines(folder: Path) -> tuple[dict[str, str], Path]:
    """Stand-ins for the TeX engines in ``folder`` (the environment that puts them first on PATH, and the file
    their lines go to), so that a build's every engine run is measured: a few milliseconds of bash each."""
    import shlex
    import shutil
    log = folder / "engine-runs.tsv"
    for engine in ENGINES:
        script = folder / engine
        script.write_text(_ENGINE_WRAPPER.format(engine=engine, real=shlex.quote(shutil.which(engine)),
                                                 log=shlex.quote(str(log))), encoding="utf-8")
        script.chmod(0o755)
    return {"PATH": str(folder) + os.pathsep + os.environ.get("PATH", "")}, log


def engine_runs(log: Path) -> dict:
    """What the stand-ins saw: runs and CPU seconds per engine and kind of document (a Beamer deck, an article, a
    folder's figure document), and how many documents took more than one run."""
    kinds: dict[str, dict] = {}
    per_document: dict[str, int] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        engine, work, wall, user, system, document_class = (line.split("\t") + [""])[:6]
        kind = "beamer" if "{beamer}" in document_class else "figures" if "{standalone}" in document_class \
            else "article"
        entry = kinds.setdefault(f"{engine} {kind}", {"runs": 0, "cpu": 0.0, "wall": 0.0})
        entry["runs"] += 1
        entry["cpu"] += float(user) + float(system)
        entry["wall"] += float(wall)
        per_document[work] = per_document.get(work, 0) + 1
    for entry in kinds.values():
        entry["cpu_per_run"] = entry["cpu"] / entry["runs"]
    return {"runs": sum(per_document.values()), "documents": len(per_document),
            "rerun_documents": sum(1 for runs in per_document.values() if runs > 1),
            "cpu": sum(entry["cpu"] for entry in kinds.values()), "kinds": dict(sorted(kinds.items()))}


def build_times(folder: Path) -> dict:
    """``derive build`` into new folders: ``--no-pdf``, with PDFs (TeX's own font caches warm: one lualatex run
    first), again with nothing changed; ``derive list`` and ``--version``; each beside ``import sympy`` measured
    just before it, so that the ratios hold on a loaded machine too."""
    import shutil
    derive = [sys.executable, "-m", "derive"]
    sympy_only = [sys.executable, "-c", "import sympy"]
    _wall(sympy_only)
    results: dict = {"cpus": os.cpu_count()}

    def side_by_side(name: str, command: list[str], extra_env: dict[str, str] | None = None) -> None:
        reference = _measured(sympy_only)
        measured = _measured(command, extra_env=extra_env)
        results[name] = {**measured, "import_sympy_wall": reference["wall"], "import_sympy_cpu": reference["cpu"],
                         "ratio_wall": measured["wall"] / reference["wall"]}
        print(f"  {name}: {measured['wall']:.1f} s wall, {measured['cpu']:.1f} s CPU "
              f"(import sympy {reference['wall']:.2f} s)", file=sys.stderr, flush=True)

    for sub in ("no-pdf", "full"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    side_by_side("list", derive + ["list"])
    side_by_side("version", derive + ["--version"])
    side_by_side("no_pdf", derive + ["build", "--no-pdf", "--out", str(folder / "no-pdf")])
    side_by_side("no_pdf_nothing_changed", derive + ["build", "--no-pdf", "--out", str(folder / "no-pdf")])
    if shutil.which("pdflatex") and shutil.which("lualatex"):
        subprocess.run(["lualatex", "-interaction=nonstopmode", "-output-directory", str(folder),
                        r"\documentclass{ltjsarticle}\begin{document}x\end{document}"], cwd=folder,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # TeX's font caches warm
        engines = folder / "engines"
        engines.mkdir()
        timed, log = timed_engines(engines)
        side_by_side("full", derive + ["build", "--out", str(folder / "full")], {**timed, "DERIVE_CACHE_DIR": ""})
        results["engine_runs"] = engine_runs(log)
        side_by_side("nothing_changed", derive + ["build", "--out", str(folder / "full")])
        results["figure_documents"] = len(list((folder / "full" / ".cache" / "figures").glob("*.pdf")))
        shutil.copytree(folder / "full" / ".cache" / "figures", folder / "cached" / ".cache" / "figures")
        side_by_side("full_cached", derive + ["build", "--out", str(folder / "cached")])
        results["identical"] = same_files(folder / "full", folder / "cached")
    return results


def same_files(built: Path, other: Path) -> dict:
    """Every file of two gallery builds compared byte for byte (their own caches left out): the full build made
    with derive's per-user cache off and no figure cache, and one into a new folder with both warm."""
    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and ".cache" not in p.relative_to(root).parts}
    one, two = files(built), files(other)
    return {"files": len(one), "pdfs": sum(name.endswith(".pdf") for name in one),
            "different": sorted(name for name in one.keys() | two.keys() if one.get(name) != two.get(name))}


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
DEFERRABLE = ("markdown", "latex2mathml", "matplotlib", "numpy", "torch", "lark", "derive.api", "derive.networks",
              "derive.networks.backprop", "derive.present.network", "derive.verify", "derive.verify.check",
              "derive.present.report", "derive.present.exercise", "derive.present.pdf", "derive.present.plots",
              "derive.gallery")
"""Modules `derive show linear-model` (Markdown on stdout) does not need: the network and verification models and
their presentation, the Python API, the HTML converters, plotting, PDF compilation, the gallery."""
NOT_FOR_LISTING = ("sympy", "jinja2", "markdown", "matplotlib")
"""What ``derive list`` and ``derive --version`` must not load."""


def importtime(top: int) -> dict:
    """The import tree of ``derive show linear-model``: the heaviest imports made by derive's own modules (each with
    the derive module that asked for it), the largest self times, and which deferrable modules were loaded."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "derive", "show", "linear-model"], cwd=ROOT,
                          env=_child_env(), capture_output=True, text=True, check=True)
    entries: list[dict] = []
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, total, indent, name = match.groups()
            entries.append({"module": name, "self_ms": int(own) / 1000, "cumulative_ms": int(total) / 1000,
                            "depth": (len(indent) - 1) // 2, "parent": None})
    # a module is printed after its imports, so its parent is the next entry one level up
    pending: dict[int, list[dict]] = {}
    for entry in entries:
        for child in pending.pop(entry["depth"] + 1, []):
            child["parent"] = entry["module"]
        pending.setdefault(entry["depth"], []).append(entry)
    by_derive = [e for e in entries if (e["parent"] or "").startswith("derive") or
                 (e["depth"] == 0 and e["module"] not in ("site", "encodings"))]
    loaded = {e["module"] for e in entries}
    return {"imported_by_derive": sorted(by_derive, key=lambda e: -e["cumulative_ms"])[:top],
            "largest_self": sorted(entries, key=lambda e: -e["self_ms"])[:top],
            "total_ms": sum(e["self_ms"] for e in entries),
            "deferrable_loaded": sorted(m for m in DEFERRABLE if m in loaded)}


# --- the run -------------------------------------------------------------------------------------------------------

def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import sympy
    return {"cpu": model or platform.processor(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "sympy": sympy.__version__, "platform": platform.platform(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3, 1)}


def _yes(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def run(quick: bool, cap: float, out: Path) -> dict:
    wall_start = time.perf_counter()
    results: dict = {"quick": quick, "cap_seconds": cap, "machine": machine(), "load_before": os.getloadavg()}
    rows: list[tuple[str, str, str, str, str, str]] = []  # metric, case, detail, measured, goal, met

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - wall_start:6.1f} s] {message}", file=sys.stderr, flush=True)

    # 2a. derive's timings first, alone on the machine
    grid = TIME_GRID_QUICK if quick else TIME_GRID_FULL
    say("derive timings (network route)")
    network_route(3, 2)()  # warm-up: lazy imports, template compilation
    derive_times = {c: _median_time(network_route(*c), 5) for c in grid}
    say("growth")
    growth_4 = _median_time(network_route(4, 4), 7)
    growth_8 = _median_time(network_route(8, 4), 7)
    scalar_times: dict = {}
    if not quick:
        say("derive timings (scalar-program route)")
        scalar_route(3, 2)()
        for c in grid:
            scalar_times[c] = timed_with_limit(scalar_route(*c), cap)
    # 2b. the naive children (CPU-capped, so their CPU times do not depend on what else runs) in the background,
    # while the operation counts (not timed) run here
    say(f"naive sympy.diff + latex in the background, capped at {cap:g} s CPU each")
    background = ThreadPoolExecutor(max_workers=1)
    naive_future = background.submit(naive_all, grid, cap)

    # 1. operation counts
    say("operation counts: scenarios")
    scenarios = scenario_counts()
    say("operation counts: networks")
    networks = network_counts(OPS_GRID)
    results["ops"] = {"scenarios": scenarios, "networks": networks}
    for case, row in list(scenarios.items()) + list(networks.items()):
        rows.append(("ops backward/forward", case, f"{row['backward_ops']}/{row['forward_ops']} ops, "
                     f"{row['nodes']} nodes", f"{row['ratio']:.2f}", f"<= {GOAL_OPS:g}",
                     _yes(row["ratio"] <= GOAL_OPS)))

    say("waiting for the naive runs")
    naive_times = naive_future.result()
    background.shutdown()
    results["speed"] = []
    for L, n in grid:
        d, s, v = derive_times[(L, n)], scalar_times.get((L, n)), naive_times[(L, n)]
        entry = {"L": L, "n": n, "parameters": parameters(L, n), "derive_network": d, "derive_scalar": s,
                 "naive": v}
        if v.get("capped") or v.get("memory") or v.get("failed"):
            entry["speedup_at_least"] = cap / d["cpu"]
            naive_text = "> cap" + (" (memory)" if v.get("memory") else "")
            measured, met = f"> {cap / d['cpu']:,.0f}x", True
        else:
            entry["speedup"] = v["cpu"] / d["cpu"]
            naive_text = f"{_seconds(v['cpu'])}, {v['ops']:,} ops"
            measured, met = f"{entry['speedup']:,.0f}x", entry["speedup"] >= GOAL_SPEEDUP
        results["speed"].append(entry)
        scalar_text = ""
        if s is not None:
            scalar_text = "; scalar route " + ("> cap" if s.get("capped") else _seconds(s["cpu"]))
        goal = (L, n) == (5, 4)
        rows.append(("naive / derive time", f"L={L} n={n}",
                     f"naive {naive_text}; derive {_seconds(d['cpu'])}{scalar_text}", measured,
                     f">= {GOAL_SPEEDUP:g}x" if goal else "", _yes(met) if goal else "-"))

    # 3. growth
    growth = growth_8["cpu"] / growth_4["cpu"]
    results["growth"] = {"L4": growth_4, "L8": growth_8, "ratio": growth}
    rows.append(("growth t(L=8)/t(L=4)", "n=4, network route",
                 f"{_seconds(growth_8['cpu'])} / {_seconds(growth_4['cpu'])}", f"{growth:.2f}",
                 f"<= {GOAL_GROWTH:g}", _yes(growth <= GOAL_GROWTH)))
    if scalar_times.get((8, 4)) and scalar_times.get((4, 4)) and not any(
            scalar_times[c].get("capped") for c in ((8, 4), (4, 4))):
        ratio = scalar_times[(8, 4)]["cpu"] / scalar_times[(4, 4)]["cpu"]
        results["growth"]["scalar_ratio"] = ratio
        rows.append(("growth t(L=8)/t(L=4)", "n=4, scalar route",
                     f"{_seconds(scalar_times[(8, 4)]['cpu'])} / {_seconds(scalar_times[(4, 4)]['cpu'])}",
                     f"{ratio:.2f}", "", "-"))

    # 4. start-up
    say("start-up")
    rows += startup_section(results)
    results["load_after"] = os.getloadavg()
    results["bench_wall_seconds"] = time.perf_counter() - wall_start

    print_report(results, rows)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nJSON: {out}")
    return results


def print_report(results: dict, rows) -> None:
    m = results["machine"]
    print(f"machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gib']} GiB; Python {m['python']}, "
          f"SymPy {m['sympy']}; {m['platform']}")
    print("load average (1, 5, 15 min): before " + ", ".join(f"{x:.2f}" for x in results["load_before"])
          + "; after " + ", ".join(f"{x:.2f}" for x in results["load_after"]))
    print(f"mode: {'quick' if results['quick'] else 'full'}; naive side capped at {results['cap_seconds']:g} s CPU; "
          "times are CPU seconds unless marked wall\n")
    print_rows(rows)
    print_importtime(results["importtime"])
    print(f"\nbenchmark wall time: {results['bench_wall_seconds']:.0f} s")


def print_rows(rows) -> None:
    header = ("metric", "case", "detail", "measured", "goal", "met")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def print_importtime(it: dict) -> None:
    print(f"\npython -X importtime -m derive show linear-model: {it['total_ms']:.0f} ms of imports in all")
    print("  heaviest imports made by derive's modules (cumulative ms, <- the importer):")
    for e in it["imported_by_derive"]:
        print(f"    {e['cumulative_ms']:7.1f}  {e['module']}" + (f"  <- {e['parent']}" if e["parent"] else ""))
    print("  largest self times (ms): " + ", ".join(f"{e['module']} {e['self_ms']:.0f}" for e in it["largest_self"]))
    print("  of the modules `derive show` should not need (DEFERRABLE), loaded here: "
          + (", ".join(it["deferrable_loaded"]) or "none"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: smaller timing grid, 10 s cap")
    parser.add_argument("--cap", type=float, help="CPU seconds allowed to each naive sympy.diff run "
                        "(default 120, or 10 with --quick)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json", help="the JSON file")
    parser.add_argument("--build", action="store_true", help="only the gallery-build figures (issue 13): "
                        "derive build with and without PDFs, and with nothing changed; a few minutes")
    parser.add_argument("--startup", action="store_true", help="only the start-up figures (section 4), merged into "
                        "the JSON file; under a minute")
    parser.add_argument("--verify", action="store_true", help="only the verify figure (issue 16): derive verify "
                        "on bench/verify-20-claims.md against import sympy, merged into the JSON file; under a minute")
    parser.add_argument("--naive", nargs=2, type=int, metavar=("L", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cap = args.cap if args.cap is not None else (10.0 if args.quick else 120.0)
    if args.naive:
        naive_child(*args.naive, cap)
        return 0
    if args.build:
        build_run(args.out)
        return 0
    if args.startup:
        startup_run(args.out)
        return 0
    if args.verify:
        verify_run(args.out)
        return 0
    run(args.quick, cap, args.out)
    return 0


def startup_run(out: Path) -> None:
    """``--startup``: section 4 alone, merged into the JSON file, and its rows and import tree."""
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    rows = startup_section(results, repeats=7)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print_rows(rows)
    print_importtime(results["importtime"])


def verify_run(out: Path) -> None:
    """``--verify``: the verify speed figure alone, merged into the JSON file under "verify", and its rows."""
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    rows = verify_section(results)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print_rows(rows)


def build_run(out: Path) -> None:
    """``--build``: the gallery-build figures alone, merged into the JSON file under "build", and their table."""
    with tempfile.TemporaryDirectory(prefix="derive-bench-") as tmp:
        load_before = os.getloadavg()
        build = build_times(Path(tmp))
        build["load_before"], build["load_after"] = load_before, os.getloadavg()
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    results["build"] = build
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print_build(build)


def print_build(build: dict) -> None:
    print(f"load average before {build['load_before'][0]:.2f}, after {build['load_after'][0]:.2f}; "
          f"{build['cpus']} CPUs")
    print("| measurement | wall | CPU (user+sys, TeX included) | × `import sympy` (wall) | goal |")
    print("|---|---|---|---|---|")
    goals = {"full": "≤ 60 s", "nothing_changed": "≤ 2 s", "no_pdf": "≤ 12 s (truth loop included)", "list": "no SymPy",
             "version": "no SymPy"}
    names = {"list": "`derive list`", "version": "`derive --version`", "no_pdf": "`derive build --no-pdf`, new folder",
             "no_pdf_nothing_changed": "`derive build --no-pdf`, nothing changed",
             "full": "`derive build` with PDFs, new folder", "nothing_changed": "`derive build`, nothing changed",
             "full_cached": "`derive build` with PDFs, new folder, caches warm"}
    for key, name in names.items():
        if key in build:
            m = build[key]
            print(f"| {name} | {m['wall']:.2f} s | {m['cpu']:.2f} s | {m['ratio_wall']:.1f} | {goals.get(key, '')} |")
    if "figure_documents" in build:
        print(f"figure documents compiled: {build['figure_documents']}")
    if "identical" in build:
        same = build["identical"]
        print(f"with and without the caches: {same['files']} files ({same['pdfs']} PDFs) compared, "
              f"{len(same['different'])} different{': ' + ', '.join(same['different']) if same['different'] else ''}")
    if "engine_runs" in build:
        runs = build["engine_runs"]
        print(f"TeX in the full build: {runs['runs']} engine runs for {runs['documents']} documents "
              f"({runs['rerun_documents']} run more than once), {runs['cpu']:.1f} s CPU")
        print("| engine, document | runs | CPU | CPU per run | wall per run |")
        print("|---|---|---|---|---|")
        for kind, entry in runs["kinds"].items():
            print(f"| {kind} | {entry['runs']} | {entry['cpu']:.1f} s | {entry['cpu_per_run']:.2f} s | "
                  f"{entry['wall'] / entry['runs']:.2f} s |")


if __name__ == "__main__":
    sys.exit(main())
