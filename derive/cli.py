"""The command line: reads input, writes files atomically, maps errors to exit codes. Nothing else."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import DeriveError, InputError
from .files import write_atomic

MAX_INPUT_BYTES = 128 * 1024
from .render import FORMATS, LANGUAGES

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")  # derive.optimizers.NAMES (not imported: start-up)

EPILOG = """\
examples:
  derive list
  derive show linear-model --lang ja
  derive explain "(x + y) * z" --at x=-2,y=5,z=-4
  derive explain "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t" --at x=2,w=3,b=1,y_=5 --step lr=1.0
  echo "sigmoid(w*x + b)" | derive explain - --at w=0.5,x=2,b=-1 --format json
  derive build --out output

exit codes: 0 success, 1 verify found a wrong claim, 2 bad input or usage, 3 internal error (including a
failed self-check), 4 verify could not decide a claim within its limits
"""

EXPLAIN_EPILOG = """\
The input is one expression (output named f; its sub-expressions are named u1, u2, ... in the order they are
computed) or a program of assignments separated by ';' or newlines, the last one being the output.
Allowed: numbers, names (letters, digits, '_'), + - * / **, unary minus, parentheses, and the functions
exp log sqrt sin cos tanh sigmoid relu. '-' reads the input from stdin, '@PATH' from a file.

examples:
  derive explain "(x + y) * z" --at x=-2,y=5,z=-4
  derive explain "p = w*x; y = p + b; s = -y; t = s + y_; f = t*t" --at x=2,w=3,b=1,y_=5 --wrt w,b --step lr=0.1,steps=3
  derive explain @model.txt --at w=0.1,x=2 --format json -o walk.json
  derive explain "E = 1/2*(w*x - t)**2" --at w=1,x=2,t=4 --wrt w --optimizer adam --step lr=0.1,steps=3
"""

# --- exercise ---
EXERCISE_EPILOG = """\
Without -o the worksheet goes to stdout (with --key, the answer key instead). -o PATH writes the worksheet to PATH
and its answer key beside it, named PATH's stem + '-key' (sheet.md -> sheet-key.md); with --key, -o PATH writes
the key alone. Worksheet and key state their seed; the key also gives the command that makes both again.

examples:
  derive exercise toast
  derive exercise linear-model --blanks 8 --seed 3 -o sheet.md        # sheet.md and sheet-key.md
  derive exercise sigmoid-sse --lang ja --format latex -o ja.tex      # ja.tex and ja-key.tex
  derive exercise toast --seed 3 --key
"""
# --- end of exercise ---


class UsageError(InputError):
    pass


FLAGS = {"at": "--at", "wrt": "--wrt", "step": "--step", "optimizer": "--optimizer", "lang": "--lang",
         "path": "-o", "source": "EXPR_OR_PROGRAM", "user_templates": "--templates", "explain": "'derive explain'"}
"""The command line's spelling of the Python API's parameters that messages name (`InputError.worded`)."""
SHELLS = ("bash", "zsh", "tcsh")


def error_text(exc: DeriveError) -> str:
    return exc.worded(FLAGS.get) if isinstance(exc, InputError) else str(exc)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, instead of argparse's usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS) -> None:
    parser.add_argument("--format", "-f", choices=formats, default="markdown", help="output format (default markdown)")
    parser.add_argument("--lang", "-l", choices=LANGUAGES, default="en", help="language of the prose (default en)")
    parser.add_argument("-o", "--output", metavar="PATH", help="write to PATH (atomically) instead of stdout")
    parser.add_argument("--templates", metavar="DIR", help="a folder of templates used before the package's own")


def _add_chattiness(parser: argparse.ArgumentParser, default: object) -> None:
    """-q/-v before or after the command (after it, SUPPRESS keeps the command from resetting the value)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="print nothing on stderr but errors (no 'wrote …' line, no progress)")
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="show, explain: also say what was checked, and against which oracle")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="derive", description="Backpropagation as step-by-step derivations, checked at every step.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"derive {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--print-completion", choices=SHELLS, metavar="SHELL",
                        help=f"print a completion script for {', '.join(SHELLS)} and exit (bash: derive "
                             "--print-completion bash > ~/.local/share/bash-completion/completions/derive)")
    _add_chattiness(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    listing = commands.add_parser("list", help="list the built-in scenarios",
                                  description="List the built-in scenarios with one-line descriptions.")
    listing.add_argument("--format", "-f", choices=("text", "json"), default="text")
    listing.add_argument("--lang", "-l", choices=LANGUAGES, default="en")

    show = commands.add_parser("show", help="the walk-through of a built-in scenario",
                               description="Render the walk-through of a built-in scenario.",
                               epilog="examples:\n  derive show toast\n  derive show linear-model --lang ja -o lm.md",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("scenario", metavar="SCENARIO", help="a name from 'derive list'")
    show.add_argument("--optimizer", choices=OPTIMIZERS, help="toast, linear-model: make the scenario's update "
                      "with this optimiser (its learning rate stays the scenario's)")
    show.add_argument("--step", metavar="KEY=VALUE,...", help="with --optimizer: steps=N and the optimiser's "
                      "hyper-parameters")
    _add_output_options(show)

    explain = commands.add_parser("explain", help="the walk-through of your own expression or program",
                                  description="Walk an expression or a program of assignments backwards.",
                                  epilog=EXPLAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    explain.add_argument("source", metavar="EXPR_OR_PROGRAM", nargs="?",
                         help="the expression or program, '-' or '@PATH'")
    explain.add_argument("--network", metavar="FILE.toml", help="explain a layered network described in a TOML "
                         "file ('-' reads it from stdin) instead of an expression")
    explain.add_argument("--at", metavar="NAME=VALUE,...", help="a value for every leaf (decimals read exactly)")
    explain.add_argument("--wrt", metavar="NAME,...", help="the leaves to explain and update (default all)")
    explain.add_argument("--step", metavar="lr=VALUE[,steps=N]", help="gradient-descent steps on the --wrt leaves "
                         "(with --optimizer, its hyper-parameters too)")
    explain.add_argument("--optimizer", choices=OPTIMIZERS, help="update rule of torch.optim for the steps: sgd, "
                         "momentum (key momentum=0.9), adagrad (eps=1e-10, lr_decay=0, initial_accumulator_value=0), "
                         "rmsprop (alpha=0.99, eps=1e-8), adam (beta1=0.9, beta2=0.999, eps=1e-8); lr is required")
    _add_output_options(explain)

    # --- exercise: worksheets with blanks and their answer keys (derive/exercise.py) ---
    exercise = commands.add_parser("exercise", help="a worksheet with numbered blanks, and its answer key",
                                   description="A worksheet from a built-in scenario's checked walk-through: chosen "
                                   "members of its equation chains (local gradients, chain-rule products, numbers) "
                                   "become numbered boxes, and an answer key fills them in.",
                                   epilog=EXERCISE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    exercise.add_argument("scenario", metavar="SCENARIO", help="a name from 'derive list'")
    exercise.add_argument("--blanks", metavar="N", default="5", help="how many blanks (default 5); at most one "
                          "per equation chain, so N is capped at the number of chains")
    exercise.add_argument("--seed", metavar="S", default="1", help="a whole number from 0 that chooses the "
                          "blanks: the same seed gives the same sheet, byte for byte (default 1)")
    exercise.add_argument("--key", action="store_true", help="write the answer key instead of the worksheet")
    _add_output_options(exercise, ("markdown", "latex"))
    # --- end of exercise ---

    verify = commands.add_parser("verify", help="check the derivatives claimed in a Markdown or LaTeX file",
                                 description="Check every derivative a document claims, step by step, and report "
                                             "the first wrong step of each claim.",
                                 epilog="examples:\n  derive verify notes.md\n  derive verify chapter3.tex "
                                        "--format markdown --lang ja -o report.md\n\nexit codes: 0 every claim "
                                        "holds, 1 a claim is wrong, 2 the file cannot be read, 4 a claim could "
                                        "not be decided in time",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("file", metavar="FILE", help="a Markdown or LaTeX document ('-' reads stdin)")
    _add_output_options(verify, formats=("text", "markdown", "latex", "html", "json"))
    verify.set_defaults(format="text")
    verify.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS",
                        help="seconds per claim before it counts as undecided (default 10)")

    build = commands.add_parser("build", help="write the gallery: every scenario in every format and language",
                                description="Write every scenario × format × language to a folder, deterministically.",
                                epilog="examples:\n  derive build\n  derive build --out /tmp/gallery",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("--out", default="output", metavar="DIR", help="the gallery folder (default output)")
    build.add_argument("--no-pdf", action="store_true", help="skip compiling the .tex files to PDF")
    for command in commands.choices.values():
        _add_chattiness(command, argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (never raises for bad input)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.print_completion is not None:
            return _print_completion(parser, args.print_completion)
        if args.command is None:
            raise UsageError("no command given (see 'derive --help')")
        return _COMMANDS[args.command](args)
    except DeriveError as exc:
        print(f"derive: error: {error_text(exc)}", file=sys.stderr)
        return exc.exit_code
    except (RecursionError, MemoryError):
        print("derive: error: the input is too large or too deeply nested", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    except KeyboardInterrupt:
        print("derive: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: short message, traceback only with --debug
        if debug:
            raise
        print(f"derive: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 3


def main_entry() -> None:
    sys.exit(main())


def _print_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    try:
        import shtab
    except ImportError:
        raise InputError("shell completion needs the Python package shtab (pip install shtab)") from None
    sys.stdout.write(shtab.complete(parser, shell=shell))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    import json

    from .context import catalog
    from .scenarios import SCENARIOS
    summaries = {name: catalog(args.lang)[f"scenario.{name}.summary"] for name in SCENARIOS}
    if args.format == "json":
        print(json.dumps([{"name": n, "summary": s} for n, s in summaries.items()], ensure_ascii=False, indent=2))
    else:
        width = max(map(len, SCENARIOS))
        for name, summary in summaries.items():
            print(f"{name.ljust(width)}  {summary}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .api import scenario
    _publish(scenario(args.scenario, optimizer=args.optimizer, step=args.step), args)
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    if args.network is not None:
        return _explain_network(args)
    if args.source is None:
        raise UsageError("give an expression or program, or --network FILE.toml (see 'derive explain --help')")
    from .api import explain
    _publish(explain(read_source(args.source), at=args.at, wrt=args.wrt, step=args.step,
                     optimizer=args.optimizer), args)
    return 0


def _explain_network(args: argparse.Namespace) -> int:
    given = [flag for flag, value in (("EXPR_OR_PROGRAM", args.source), ("--at", args.at), ("--wrt", args.wrt),
                                      ("--step", args.step), ("--optimizer", args.optimizer)) if value is not None]
    if given:
        raise UsageError(f"--network takes no {given[0]}: the file gives the point and the learning rate")
    from .networks import explain_file, explain_text
    from .network_load import MAX_TEXT_BYTES
    if args.network == "-":
        result = explain_text(read_source("-", MAX_TEXT_BYTES), "<stdin>")
    else:
        result = explain_file(args.network)
    _publish(result, args)
    return 0


# --- exercise ---
def _cmd_exercise(args: argparse.Namespace) -> int:
    from .exercise import exercise, key_path, render_exercise
    walk, sheet = exercise(args.scenario, args.blanks, args.seed)
    templates = _templates(args)
    if args.key or args.output is None:
        _wrote([_emit(render_exercise(walk, sheet, args.format, args.lang, key=args.key, user_templates=templates),
                      args.output)], args)
        return 0
    worksheet = render_exercise(walk, sheet, args.format, args.lang, user_templates=templates)
    answers = render_exercise(walk, sheet, args.format, args.lang, key=True, user_templates=templates)
    _wrote([_emit(worksheet, args.output), _emit(answers, key_path(args.output))], args)
    return 0
# --- end of exercise ---


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import run
    if not 0 < args.time_limit <= 600:
        raise UsageError("--time-limit must be between 0 and 600 seconds")
    output, code, message = run(args.file, args.format, args.lang, time_limit=args.time_limit,
                                user_templates=_templates(args))
    if message is not None:
        print(f"derive: error: {message}", file=sys.stderr)
    if output is not None:
        if code == 2:
            sys.stdout.write(output)  # the JSON error object; nothing is written to -o
        else:
            _wrote([_emit(output, args.output)], args)
    return code


def _cmd_build(args: argparse.Namespace) -> int:
    from .gallery import build_gallery
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out: cannot make the folder {out}: {exc.strerror or exc}") from None
    build_gallery(out, progress=None if args.quiet else sys.stderr, pdf=not args.no_pdf)
    return 0


_COMMANDS = {"list": _cmd_list, "show": _cmd_show, "explain": _cmd_explain, "verify": _cmd_verify,
             "exercise": _cmd_exercise, "build": _cmd_build}


def _templates(args: argparse.Namespace) -> str | None:
    if args.templates is None:
        return None
    if not Path(args.templates).is_dir():
        raise InputError(f"--templates: {args.templates} is not a folder")
    return str(Path(args.templates).resolve())


def read_source(source: str, limit: int = MAX_INPUT_BYTES) -> str:
    """The expression itself, stdin for '-', or a file for '@PATH'; capped (128 KiB by default) and UTF-8."""
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
        origin = "stdin"
    elif source.startswith("@"):
        path = Path(source[1:])
        if not path.is_file():
            raise InputError(f"cannot read {source[1:]}: no such file")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
        origin = str(path)
    else:
        return source
    if len(data) > limit:
        raise InputError(f"{origin}: the input is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{origin}: the input is not UTF-8 text") from None


def _publish(result, args: argparse.Namespace) -> None:
    """Render and write (a Markdown file gets its graph as an SVG file beside it, ``NAME.svg``, and plots go
    beside the document too), then say what was written and, with --verbose, what was checked."""
    if args.output is None:
        _emit(result.render(args.format, args.lang, user_templates=_templates(args)), None)
    else:
        from .documents import save
        _wrote(save(result, args.output, args.format, args.lang, _templates(args)), args)
    if args.verbose:
        print(f"derive: {_checked(result)}", file=sys.stderr)


def _checked(result) -> str:
    walk = getattr(result, "walkthrough", None)
    if walk is None:  # a network
        check = result.check
        return f"checked {check.compared} values against the {check.oracle} oracle"
    report = walk.report
    where = "at the given point" if report.at_given_point else "at a random point"
    return (f"checked {report.locals_checked} local gradients against sympy.diff and {report.gradients_checked} "
            f"gradients against the {report.oracle} oracle {where}")


def _wrote(paths, args: argparse.Namespace) -> None:
    """One line on stderr naming every file written (suppressed by --quiet)."""
    written = [str(p) for p in paths if p is not None]
    if written and not args.quiet:
        print(f"derive: wrote {', '.join(written)}", file=sys.stderr)


def _emit(text: str, output: str | None) -> Path | None:
    """Text to stdout, or to the file ``output`` (atomically); returns the path written."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return None
    write_atomic(Path(output), text.encode("utf-8"))
    return Path(output)
