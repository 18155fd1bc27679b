"""Optimisers: every number agrees with torch.optim (float64), bad settings are exit 2, the walk-through shows and
checks every line, the JSON carries the state, and the optimizers scenario's plot is byte-for-byte reproducible."""
from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys

import jsonschema
import pytest
import sympy

from conftest import ROOT, require_module
from derive import optimizers
from derive.api import explain, scenario
from derive.backward import derive
from derive.cli import main
from derive.errors import CheckFailure, InputError
from derive.present.jsonout import schema
from derive.optimizers import DEFAULTS, NAMES, STATE_NAMES, configure, optimize
from derive.parse import parse_number, parse_program
from derive.present.plots import draw, plot_files
from derive.present.render import render

STEPS = 5


def close(got: float, expected: float) -> bool:
    """The acceptance tolerance of the optimiser issue."""
    return abs(got - expected) <= 1e-12 + 1e-9 * abs(expected)


# --- the problems, each written twice: as a derive program and as a torch function ---------------------------------

def _toast(p, torch):
    return 0.5 * (p["w"] * 2.0 - 4.0) ** 2


def _linear(p, torch):
    return (5.0 - (p["w"] * 2.0 + p["b"])) ** 2


def _bowl(p, torch):
    return 0.5 * (0.1 * p["x"] ** 2 + 2.0 * p["y"] ** 2)


def _neuron(p, torch):
    return 0.5 * (torch.sigmoid(p["w"] * 1.5 + p["b"]) - 1.0) ** 2


def _flat_in_w(p, torch):
    return (p["w"] * 0.0 + p["b"] - 1.0) ** 2


def _zero_weights(p, torch):
    return (p["w2"] * (p["w1"] * 1.0) - 1.0) ** 2


PROBLEMS = {
    # name: (program, point, wrt, the same loss written for torch)
    "toast": ("y = w*x; r = y - t; q = r**2; E = 1/2*q", {"x": "2", "t": "4", "w": "1"}, ("w",), _toast),
    "linear-model": ("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t", {"x": "2", "w": "3", "b": "1", "y_": "5"},
                     ("w", "b"), _linear),
    "bowl": ("p = x**2; q = y**2; r = a*p; s = b*q; u = r + s; f = 1/2*u", {"x": "-7", "y": "2", "a": "0.1", "b": "2"},
             ("x", "y"), _bowl),
    "sigmoid-neuron": ("z = w*x + b; a = sigmoid(z); r = a - t; E = 1/2*r**2",
                       {"w": "0.5", "x": "1.5", "b": "-0.2", "t": "1"}, ("w", "b"), _neuron),
    # a gradient of exactly 0 at every step: for w (x = 0) beside a moving b, and for two weights started at 0
    "zero-gradient": ("p = w*x; y = p + b; r = y - t; E = r*r", {"w": "0.5", "x": "0", "b": "0", "t": "1"},
                      ("w", "b"), _flat_in_w),
    "zero-weights": ("h = w1*x; y = w2*h; r = y - t; E = r*r", {"w1": "0", "w2": "0", "x": "1", "t": "1"},
                     ("w1", "w2"), _zero_weights),
}

SETTINGS = {
    # optimiser: [defaults apart from lr, then every hyper-parameter changed]
    "sgd": [{"lr": "0.05"}, {"lr": "0.3"}],
    "momentum": [{"lr": "0.05"}, {"lr": "0.02", "momentum": "0.5"}],
    "adagrad": [{"lr": "0.1"}, {"lr": "0.5", "eps": "0.001", "lr_decay": "0.1", "initial_accumulator_value": "0.5"}],
    "rmsprop": [{"lr": "0.01"}, {"lr": "0.05", "alpha": "0.9", "eps": "0.001"}],
    "adam": [{"lr": "0.1"}, {"lr": "0.2", "beta1": "0.8", "beta2": "0.99", "eps": "0.001"}],
}

CASES = [(problem, name, i) for problem in PROBLEMS for name in NAMES for i in range(len(SETTINGS[name]))]


def torch_optimizer(torch, name: str, params, values: dict[str, str]):
    h = {k: float(v) for k, v in values.items()}
    lr = h.pop("lr")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, foreach=False)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=h.get("momentum", 0.9), foreach=False)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, foreach=False, **h)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=False, **h)
    betas = (h.pop("beta1", 0.9), h.pop("beta2", 0.999))
    return torch.optim.Adam(params, lr=lr, betas=betas, foreach=False, **h)


def torch_run(torch, problem: str, name: str, values: dict[str, str]):
    """Per step: the parameters, the loss at them, and each parameter's state in derive's names."""
    _, point, wrt, loss = PROBLEMS[problem]
    params = {leaf: torch.tensor(float(parse_number(point[leaf], leaf)), dtype=torch.float64, requires_grad=True)
              for leaf in wrt}
    optimizer = torch_optimizer(torch, name, list(params.values()), values)
    beta1, beta2 = float(values.get("beta1", 0.9)), float(values.get("beta2", 0.999))
    trace = []
    for t in range(1, STEPS + 1):
        optimizer.zero_grad()
        loss(params, torch).backward()
        optimizer.step()
        with torch.no_grad():
            after = float(loss(params, torch))
        state = {}
        for leaf, p in params.items():
            s = optimizer.state[p]
            if name == "momentum":
                state[leaf] = {"v": float(s["momentum_buffer"])}
            elif name == "adagrad":
                state[leaf] = {"s": float(s["sum"])}
            elif name == "rmsprop":
                state[leaf] = {"s": float(s["square_avg"])}
            elif name == "adam":
                m, v = float(s["exp_avg"]), float(s["exp_avg_sq"])
                state[leaf] = {"m": m, "v": v, "m_hat": m / (1 - beta1 ** t), "v_hat": v / (1 - beta2 ** t)}
        trace.append(({leaf: float(p.detach()) for leaf, p in params.items()}, after, state))
    return trace


def derive_run(problem: str, name: str, values: dict[str, str]):
    program, point, wrt, _ = PROBLEMS[problem]
    graph = parse_program(program)
    derivation = derive(graph, {n: parse_number(v, n) for n, v in point.items()}, wrt)
    return optimize(derivation, configure(name, {**values, "steps": str(STEPS)}))


@pytest.fixture(scope="module")
def torch():
    return require_module("torch")


@pytest.mark.parametrize("problem,name,variant", CASES, ids=[f"{p}-{n}-{i}" for p, n, i in CASES])
def test_matches_torch_optim(torch, problem, name, variant):
    values = SETTINGS[name][variant]
    expected = torch_run(torch, problem, name, values)
    updates = derive_run(problem, name, values)
    assert len(updates) == STEPS
    for update, (params, loss, state) in zip(updates, expected):
        for leaf, value in params.items():
            got = float(update.derivation.point[leaf])
            assert close(got, value), f"step {update.step}: {leaf} = {got}, torch {value}"
        assert close(float(update.derivation.output_value), loss), f"step {update.step}: loss"
        if STATE_NAMES[name]:
            assert set(update.state) == set(params)
            for leaf, names in state.items():
                assert set(update.state[leaf]) == set(names) == set(STATE_NAMES[name])
                for key, value in names.items():
                    got = float(update.state[leaf][key])
                    assert close(got, value), f"step {update.step}: {key} of {leaf} = {got}, torch {value}"
        else:
            assert update.state is None


def test_torch_defaults_are_ours(torch):
    """The defaults a user gets without naming a key are exactly torch.optim's."""
    def default(cls, key):
        return inspect.signature(cls.__init__).parameters[key].default

    theirs = {
        "momentum": {"momentum": 0.9},  # torch's SGD default is 0; the issue fixes 0.9 for "momentum" (no dampening)
        "adagrad": {k: default(torch.optim.Adagrad, k) for k in ("eps", "lr_decay", "initial_accumulator_value")},
        "rmsprop": {k: default(torch.optim.RMSprop, k) for k in ("alpha", "eps")},
        "adam": dict(zip(("beta1", "beta2"), default(torch.optim.Adam, "betas")), eps=default(torch.optim.Adam, "eps")),
    }
    assert default(torch.optim.SGD, "dampening") == 0 and default(torch.optim.SGD, "nesterov") is False
    for name, expected in theirs.items():
        ours = {k: float(parse_number(v, k)) for k, v in DEFAULTS[name]}
        assert ours == expected, name


def test_steps_with_irrational_values_carry_30_digit_floats():
    updates = derive_run("toast", "adagrad", {"lr": "0.1"})
    w = updates[2].derivation.point["w"]
    assert isinstance(w, sympy.Float) and w._prec >= 95  # 30 decimal digits
    assert updates[0].changes[0][3].is_Float  # 1 + 0.4/(4 + 1e-10): not a short decimal, shown as a float
    sgd = derive_run("toast", "sgd", {"lr": "0.1"})
    assert sgd[0].derivation.output_value == sympy.Rational(72, 100)  # plain decimals stay exact


# --- input errors: exit 2 -----------------------------------------------------------------------------------------

TOAST = ["explain", "y = w*x; r = y - t; q = r**2; E = 1/2*q", "--at", "x=2,t=4,w=1", "--wrt", "w"]


@pytest.mark.parametrize("name,key", [("sgd", "momentum"), ("momentum", "beta1"), ("adagrad", "alpha"),
                                      ("rmsprop", "lr_decay"), ("adam", "momentum"), ("adam", "betas")])
def test_unknown_key_is_exit_2_naming_key_and_allowed(capsys, name, key):
    code = main(TOAST + ["--optimizer", name, "--step", f"lr=0.1,{key}=0.5"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"'{key}'" in err and name in err
    assert "allowed: " + ", ".join(optimizers.allowed_keys(name)) in err


@pytest.mark.parametrize("argv,fragment", [
    (["--optimizer", "adam"], "lr=VALUE"),
    (["--optimizer", "adam", "--step", "steps=3"], "lr=VALUE"),
    (["--optimizer", "adam", "--step", "lr=0"], "lr must be positive"),
    (["--optimizer", "adam", "--step", "lr=0.1,beta1=1"], "beta1"),
    (["--optimizer", "adam", "--step", "lr=0.1,beta2=-0.1"], "beta2"),
    (["--optimizer", "rmsprop", "--step", "lr=0.1,alpha=1.5"], "alpha"),
    (["--optimizer", "momentum", "--step", "lr=0.1,momentum=-1"], "momentum"),
    (["--optimizer", "adagrad", "--step", "lr=0.1,eps=-1"], "eps"),
    (["--optimizer", "adagrad", "--step", "lr=0.1,steps=0"], "steps"),
    (["--optimizer", "adam", "--step", "lr=abc"], "not a number"),
    (["--optimizer", "nadam", "--step", "lr=0.1"], "invalid choice"),
    (["--step", "lr=0.1,momentum=0.9"], "--optimizer momentum"),
])
def test_bad_settings_are_exit_2(capsys, argv, fragment):
    code = main(TOAST + argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err


def test_optimizer_needs_a_point(capsys):
    code = main(["explain", "w*x", "--optimizer", "sgd", "--step", "lr=0.1"])
    assert code == 2 and "--at" in capsys.readouterr().err


def test_zero_over_zero_is_an_input_error():
    """eps = 0 and a zero gradient: torch would produce NaN; derive refuses with one line."""
    with pytest.raises(InputError, match="divides by zero"):
        explain("E = 1/2*(w - 1)**2", at="w=1", step="lr=0.1,eps=0", optimizer="rmsprop")


@pytest.mark.parametrize("argv,fragment", [
    (["show", "sigmoid-sse", "--optimizer", "adam"], "toast, linear-model"),
    (["show", "toast", "--optimizer", "adam", "--step", "lr=0.5"], "learning rate"),
    (["show", "toast", "--step", "steps=2"], "--optimizer"),
    (["show", "toast", "--optimizer", "adam", "--step", "alpha=0.9"], "'alpha'"),
])
def test_show_optimizer_errors(capsys, argv, fragment):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err


# --- what the walk-through shows ----------------------------------------------------------------------------------

def test_markdown_shows_gradient_state_update_and_loss():
    result = explain("y = w*x; r = y - t; q = r**2; E = 1/2*q", at="x=2,t=4,w=1", wrt="w",
                     step="lr=0.1,steps=2", optimizer="adam")
    text = result.to_markdown()
    assert text.count("Update with Adam") == 2
    for label in ("The gradient with respect to $w$", "The first moment", "The second moment",
                  "Bias correction of the first moment", "Bias correction of the second moment", "The update of $w$"):
        assert label in text
    assert r"{m}_{w} \leftarrow \beta_{1} \cdot {m}_{w} + \left(1 - \beta_{1}\right) \cdot {g}_{w}" in text
    assert r"= 0.9 \cdot 0 + \left(1 - 0.9\right) \cdot \left(-4\right) = -0.4" in text
    assert r"{\hat{v}}_{w} = \frac{{v}_{w}}{1 - \beta_{2}^{k}} = \frac{0.016}{1 - 0.999^{1}} = 16" in text
    assert "The output is now $E = 1.62$." in text  # the new loss after step 1
    ja = result.render("markdown", "ja")
    assert "バイアス補正" in ja and "Adam（適応的モーメント推定）による更新" in ja


@pytest.mark.parametrize("name,labels", [
    ("sgd", ["The update of $w$"]),
    ("momentum", ["At the first step the velocity", "The velocity: the previous velocity"]),
    ("adagrad", ["The sum of the squared gradients", "decayed by lr_decay"]),
    ("rmsprop", ["The running average of the squared gradients"]),
])
def test_each_optimizer_labels_its_state(name, labels):
    values = {"sgd": "lr=0.1", "momentum": "lr=0.1", "adagrad": "lr=0.1,lr_decay=0.5", "rmsprop": "lr=0.1"}[name]
    text = explain("E = 1/2*(w*x - t)**2", at="w=1,x=2,t=4", wrt="w", step=values + ",steps=2",
                   optimizer=name).to_markdown()
    for label in labels:
        assert label in text


def test_plain_descent_output_is_unchanged_by_the_optimizer_code():
    """No --optimizer: the update section reads exactly as before (heading and unlabelled lines)."""
    text = explain("y = w*x; r = y - t; q = r**2; E = 1/2*q", at="x=2,t=4,w=1", wrt="w", step="lr=0.1").to_markdown()
    assert "## Gradient-descent update\n\nEvery updated variable moves" in text
    assert r"w \leftarrow w - \eta \cdot \frac{\partial E}{\partial w} = 1 - 0.1 \cdot \left(-4\right) = 1.4" in text


def test_a_wrong_line_is_a_check_failure():
    update = derive_run("toast", "adam", {"lr": "0.1"})[0]
    line = next(l for l in update.optimizer.lines if l.numbers is not None)
    import dataclasses
    with pytest.raises(CheckFailure):
        optimizers.verify_line(dataclasses.replace(line, value=line.value + sympy.Rational(1, 10 ** 9)))


@pytest.mark.parametrize("fmt", ["markdown", "latex", "beamer", "html", "json"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_format_renders(fmt, lang):
    result = explain("p = w*x; y = p + b; s = -y; t = s + y_; f = t*t", at="x=2,w=3,b=1,y_=5", wrt="w,b",
                     step="lr=0.01,steps=2", optimizer="rmsprop")
    try:
        text = result.render(fmt, lang)
    except Exception as exc:  # the HTML page needs its converter; say which
        if fmt == "html" and isinstance(exc, ModuleNotFoundError):
            pytest.skip(f"html rendering needs {exc.name}")
        raise
    assert text.strip()


# --- JSON ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_json_state_validates_and_matches_the_engine(name):
    result = explain("z = w*x + b; a = sigmoid(z); r = a - t; E = 1/2*r**2", at="w=0.5,x=1.5,b=-0.2,t=1",
                     wrt="w,b", step={"lr": "0.1", "steps": "3"}, optimizer=name)
    data = json.loads(result.to_json())
    jsonschema.validate(data, schema())
    assert [u["step"] for u in data["updates"]] == [1, 2, 3]
    for update, json_update in zip(result.walkthrough.updates, data["updates"]):
        assert json_update["learning_rate"] == 0.1
        assert json_update["values"]["x"] == 1.5  # a leaf not updated keeps its value
        if not STATE_NAMES[name]:
            assert json_update["state"] is None
            continue
        assert set(json_update["state"]) == {"w", "b"}
        for leaf, names in json_update["state"].items():
            assert tuple(names) == STATE_NAMES[name]
            for key, value in names.items():
                assert value == float(update.state[leaf][key])


def test_schema_rejects_unknown_state_names():
    data = json.loads(explain("E = 1/2*(w - 1)**2", at="w=2", step="lr=0.1", optimizer="momentum").to_json())
    jsonschema.validate(data, schema())
    data["updates"][0]["state"]["w"]["velocity"] = 1.0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema())


def test_show_toast_with_each_optimizer(capsys):
    for name in NAMES:
        code = main(["show", "toast", "--optimizer", name, "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        data = json.loads(out)
        jsonschema.validate(data, schema())
        assert data["updates"][0]["learning_rate"] == 0.1  # the scenario's own η
        assert len(data["updates"]) == 1
    assert main(["show", "linear-model", "--optimizer", "adam", "--step", "steps=3,beta1=0.5"]) == 0
    assert "Update with Adam" in capsys.readouterr().out


def test_show_toast_sgd_equals_plain_numbers():
    plain = scenario("toast").walkthrough.updates[0]
    sgd = scenario("toast", optimizer="sgd").walkthrough.updates[0]
    assert plain.changes == sgd.changes and plain.derivation.values == sgd.derivation.values


# --- the optimizers scenario --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def optimizers_walk():
    from derive.scenarios import build
    return build("optimizers")


def test_scenario_numbers_come_from_the_runs(optimizers_walk):
    """The toast table's cells are the optimiser runs' values (and those match torch above)."""
    from derive.scenarios import optimizers as module
    from derive.walkthrough import Table
    table = next(b for s in optimizers_walk.extra for b in s.blocks if isinstance(b, Table))
    for column, name in enumerate(NAMES, 1):
        updates = derive_run("toast", name, {"lr": module.TOAST_LR})
        for update in updates:
            cell = table.rows[update.step][column]
            assert math.isclose(float(cell), float(update.derivation.point["w"]), rel_tol=1e-25, abs_tol=1e-25)


def test_scenario_json_and_markdown(optimizers_walk):
    jsonschema.validate(json.loads(render(optimizers_walk, "json")), schema())
    for lang in ("en", "ja"):
        text = render(optimizers_walk, "markdown", lang)
        assert "](optimizers-paths.svg)" in text
        assert text.count("| $20$ |") == 2  # the bowl's two tables reach step 20


def test_scenario_image(optimizers_walk):
    (image,) = optimizers_walk.images
    assert image.name == "optimizers-paths"
    svg, pdf = plot_files(image.plot)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert pdf.startswith(b"%PDF-")
    assert "<dc:date>" not in svg and b"/CreationDate" not in pdf and b"/ModDate" not in pdf
    assert b"/FontFile2" in pdf  # TrueType glyphs embedded


def test_plot_files_are_byte_identical_across_renders(optimizers_walk):
    again = _render_plot_in_process()
    assert again == plot_files(optimizers_walk.images[0].plot)


def _render_plot_in_process():
    from derive.scenarios.optimizers import BOWL, BOWL_LR, BOWL_POINT, BOWL_STEPS, BOWL_WRT, _plot, _runs
    from derive.scenarios.common import exact_point
    bowl = derive(parse_program(BOWL), exact_point(BOWL_POINT), BOWL_WRT)
    runs = _runs(bowl, BOWL_LR, BOWL_STEPS)
    return draw(_plot(bowl, {n: [bowl] + [u.derivation for u in runs[n]] for n in NAMES}))


def test_plot_files_are_byte_identical_across_processes(tmp_path, optimizers_walk):
    """Another interpreter with another hash seed writes the same bytes (the gallery's files)."""
    script = ("import sys, hashlib\n"
              "from derive.present.plots import new_figure, plot_svg_pdf, style\n"
              "with style():\n"
              "    f = new_figure(4, 3)\n"
              "    ax = f.add_subplot()\n"
              "    ax.contour([[0, 1], [1, 2]], levels=[0.5, 1.5])\n"
              "    ax.plot([0, 1], [1, 0], label='SGD'); ax.legend(); ax.set_xlabel('$x$')\n"
              "svg, pdf = plot_svg_pdf(f)\n"
              "sys.stdout.write(hashlib.sha256(svg.encode() + pdf).hexdigest())\n")
    digests = set()
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                              env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                   "MPLCONFIGDIR": str(tmp_path / f"mpl{seed}")}, timeout=300)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout)
    assert len(digests) == 1


def test_show_writes_plot_files_beside_the_document(tmp_path, optimizers_walk):
    """A fresh build through the CLI writes the same bytes as the module's build: the plot is deterministic."""
    (image,) = optimizers_walk.images
    svg, pdf = draw(image.plot)
    assert main(["show", "optimizers", "-o", str(tmp_path / "opt.md")]) == 0
    assert (tmp_path / "optimizers-paths.svg").read_text(encoding="utf-8") == svg
    assert main(["show", "optimizers", "--format", "latex", "-o", str(tmp_path / "opt.tex")]) == 0
    assert (tmp_path / "optimizers-paths.pdf").read_bytes() == pdf
