"""The command line: reads input, writes files atomically, maps errors to exit codes. Nothing else."""
from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import re
import sys
import threading
from typing import Sequence

from . import __version__, files
from .errors import MAX_SHOWN, DeriveError, InputError, Message, message, shown
from .locales import catalog
from .scenarios import SCENARIOS, build

from .present.formats import LANGUAGES, SUFFIXES, formats_for
from .present.lecture import ASPECTS, FRAGMENT_PACKAGES, PAPERS, THEMES

MAX_INPUT_BYTES = 128 * 1024

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
Allowed: numbers, names (letters, digits, '_'), + - * / and ^ or ** (also − × · ÷ ² ³ √), products without *
(2x, 3(x+1), (x+y)z), unary minus, parentheses, definitions f(x) = ..., and the functions exp log ln sqrt sin cos
tanh sigmoid relu; e^x is the exponential unless e is given in --at. LaTeX works too: '\\frac{1}{1+e^{-x}}'.
'-' reads the input from stdin, '@PATH' from a file.

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
         "path": "-o", "source": "EXPR_OR_PROGRAM", "user_templates": "--templates", "explain": "'derive explain'",
         "fmt": "--format", "body_only": "--body-only", "steps": "--steps", "theme": "--theme", "aspect": "--aspect",
         "paper": "--paper", "pdf": "--pdf", "figure": "--figure"}
"""The command line's spelling of the Python API's parameters that messages name (`InputError.worded`)."""
SHELLS = ("bash", "zsh", "tcsh")


def error_text(exc: DeriveError, lang: str = "en") -> str:
    """An error as the command line says it: in ``lang``, naming its options where the API names parameters."""
    return exc.render(lang, FLAGS.get)


ARGPARSE_PROBLEMS = tuple((re.compile(pattern), key) for pattern, key in (
    (r"argument (?P<argument>\S+): (?P<problem>.+)", "argument"),
    (r"invalid choice: (?P<value>.+) \(choose from (?P<choices>.+)\)", "invalid_choice"),
    (r"invalid (?P<type>\w+) value: (?P<value>.+)", "invalid_value"),
    (r"expected one argument", "one_value"),
    (r"expected at most one argument", "at_most_one_value"),
    (r"expected at least one argument", "some_values"),
    (r"expected (?P<count>\d+) arguments?", "count_values"),
    (r"unrecognized arguments: (?P<arguments>.+)", "unrecognized"),
    (r"the following arguments are required: (?P<arguments>.+)", "required"),
    (r"one of the arguments (?P<arguments>.+) is required", "one_required"),
    (r"not allowed with argument (?P<other>.+)", "exclusive"),
    (r"ignored explicit argument (?P<value>.+)", "no_value"),
    (r"ambiguous option: (?P<option>\S+) could match (?P<matches>.+)", "ambiguous"),
))
"""argparse's English descriptions of a usage error (Python 3.11 to 3.13) and the ``error.cli.argparse`` key that
words each in every language; a group is a part kept as argparse wrote it (an option's name, the user's value)."""


def usage_problem(text: str) -> Message | str:
    """argparse's description of a usage error as a catalog message, or argparse's own text for one not listed."""
    for pattern, key in ARGPARSE_PROBLEMS:
        match = pattern.fullmatch(text)
        if match:
            # " ".join(split()): an expression-like argument arrives with the space that kept it from argparse
            parts: dict[str, object] = {name: " ".join(value.split()) for name, value in match.groupdict().items()}
            if "problem" in parts:
                parts["problem"] = usage_problem(str(parts["problem"]))
            return message(f"cli.argparse.{key}", **parts)
    return text


def requested_language(argv: Sequence[str]) -> str:
    """The language asked for with ``--lang``/``-l`` (``--lang=ja``, ``-lja``, an abbreviation such as ``--la``),
    read before argparse, whose usage errors come before its result: the last known one, else English."""
    lang = "en"
    for arg, following in zip(argv, [*argv[1:], None]):
        if arg == "--":
            break
        option, equals, value = arg.partition("=")
        if len(option) >= 3 and "--lang".startswith(option):
            asked = value if equals else following
        elif arg.startswith("-l"):
            asked = arg[2:].removeprefix("=") or following
        else:
            continue
        lang = asked if asked in LANGUAGES else lang
    return lang


def _format_from_output(args: argparse.Namespace) -> None:
    """Without --format, the format -o's file name asks for (notes.html: html; notes.tex: a LaTeX article), as
    `Result.save` does; any other name (or none) gets the command's default."""
    if "format_choices" not in vars(args) or args.format is not None:
        return
    named = SUFFIXES.get(os.path.splitext(args.output or "")[1].lower())
    args.format = named if named in args.format_choices else args.format_default


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, instead of argparse's usage dump
        raise UsageError.of("cli.usage", problem=usage_problem(message), prog=self.prog)


def _add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str] = formats_for("walkthrough"),
                        default: str = "markdown") -> None:
    named = ", ".join(sorted({suffix for suffix, fmt in SUFFIXES.items() if fmt in formats and fmt != default}))
    parser.add_argument("--format", "-f", choices=formats, help=f"output format (default: the one -o's name asks "
                        f"for, {named}; else {default})")
    parser.set_defaults(format_choices=tuple(formats), format_default=default)
    parser.add_argument("--lang", "-l", choices=tuple(LANGUAGES), default="en",
                        help="language of the prose (default en)")
    parser.add_argument("-o", "--output", metavar="PATH", help="write to PATH (atomically) instead of stdout")
    parser.add_argument("--templates", metavar="DIR", help="a folder of templates used before the package's own")


LECTURE_EPILOG = f"""\
for lecturers (--format latex or beamer):
  --body-only writes a fragment to \\input after \\begin{{document}} of your own document (Beamer slides into a
  beamer document), whose preamble needs
{"".join("    " + line + chr(10) for line in FRAGMENT_PACKAGES)}\
  and, for English, derive's font lines (\\usepackage[T1]{{fontenc}}, lmodern, textcomp), for --lang ja
  \\usepackage{{luatexja}} and lualatex; the fragment's first lines list them. Every slide has a label named after
  the scenario and its section, or a backward frame's first step: \\againframe{{toast-forward}},
  \\againframe{{sigmoid-sse-step-7}}.
  --pdf compiles with latexmk and the engine the .tex file names (pdflatex; lualatex for ja) and writes PATH.pdf
  beside -o PATH.tex. --figure pdf typesets the graph's TikZ picture alone (pdflatex, class standalone); --figure
  png rasterises that PDF with pdftoppm (poppler-utils).

examples:
  derive show toast --format beamer --theme Madrid --aspect 4:3 --steps 1-3,5 -o toast.tex --pdf
  derive show linear-model --format latex --paper letter --body-only -o lm-body.tex
  derive show toast --figure png -o toast-graph.png
"""


def _add_lecture_options(parser: argparse.ArgumentParser) -> None:
    """The lecturer's controls of a LaTeX article or Beamer deck (checked by derive.present.lecture, whose messages
    come in the language of --lang; hence no argparse choices)."""
    group = parser.add_argument_group("lecture", "controls of the LaTeX article and the Beamer slides")
    group.add_argument("--body-only", action="store_true", help="a fragment to \\input: no preamble, no "
                       "\\begin{document}, no title (the packages it needs are listed below and in its first lines)")
    group.add_argument("--steps", metavar="LIST", help="the backward steps shown in full, e.g. 1-3,5; the others "
                       "are summed up in a table (node, rule, upstream gradient)")
    group.add_argument("--theme", metavar="NAME", help=f"slides: a Beamer theme, one of {', '.join(THEMES)} (its "
                       "own footline is kept; default: derive's plain slides)")
    group.add_argument("--aspect", metavar="RATIO", help=f"slides: {' or '.join(ASPECTS)} (default 16:9)")
    group.add_argument("--paper", metavar="SIZE", help=f"article: {' or '.join(PAPERS)} (default a4)")
    group.add_argument("--pdf", action="store_true", help="also compile -o PATH.tex to PATH.pdf with latexmk "
                       "(both written atomically)")
    group.add_argument("--figure", metavar="FORMAT", help="write only the computational graph, as svg, pdf or png "
                       "(pdf and png need -o)")


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
    listing.add_argument("--lang", "-l", choices=tuple(LANGUAGES), default="en")

    show = commands.add_parser("show", help="the walk-through of a built-in scenario",
                               description="Render the walk-through of a built-in scenario.",
                               epilog="examples:\n  derive show toast\n  derive show linear-model --lang ja -o lm.md"
                                      "\n\n" + LECTURE_EPILOG,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("scenario", metavar="SCENARIO", help="a name from 'derive list'")
    show.add_argument("--optimizer", choices=OPTIMIZERS, help="toast, linear-model: make the scenario's update "
                      "with this optimiser (its learning rate stays the scenario's)")
    show.add_argument("--step", metavar="KEY=VALUE,...", help="with --optimizer: steps=N and the optimiser's "
                      "hyper-parameters")
    _add_output_options(show)
    _add_lecture_options(show)

    explain = commands.add_parser("explain", help="the walk-through of your own expression or program",
                                  description="Walk an expression or a program of assignments backwards.",
                                  epilog=EXPLAIN_EPILOG + "\n" + LECTURE_EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
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
    _add_lecture_options(explain)

    # --- exercise: worksheets with blanks and their answer keys (derive/present/exercise.py) ---
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
    _add_output_options(exercise, formats_for("exercise"))
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
    _add_output_options(verify, formats=formats_for("report"), default="text")
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
    argv = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in argv
    lang = requested_language(argv)  # argparse's own errors come before its result
    try:
        parser = build_parser()
        args = parser.parse_args(_expression_not_option(argv, parser))
        lang = getattr(args, "lang", lang)
        _format_from_output(args)
        if args.print_completion is not None:
            return _print_completion(parser, args.print_completion)
        if args.command is None:
            raise UsageError.of("cli.no_command")
        return _COMMANDS[args.command](args)
    except (DeriveError, RecursionError, MemoryError) as exc:
        error = exc if isinstance(exc, DeriveError) else InputError.of("cli.too_large")
        _error_line(f"error: {error_text(error, lang)}")
        return error.exit_code
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    except KeyboardInterrupt:
        _error_line(message("cli.interrupted").render(lang))
        return 130
    except Exception as exc:  # a bug: short message, traceback only with --debug
        if debug:
            raise
        _error_line(message("cli.internal", error=f"{type(exc).__name__}: {exc}").render(lang))
        return 3


def _expression_not_option(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``derive explain '-x*y'``: an argument of explain that starts with a minus sign and is none of its options
    (nor the value of one) is the expression; a leading space, which the expression reader skips, keeps argparse
    from taking it for an option."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "explain" not in argv or any(a in commands.choices for a in argv[:argv.index("explain")]):
        return argv
    options = commands.choices["explain"]._option_string_actions
    out, after_option = argv[:argv.index("explain") + 1], False
    for arg in argv[len(out):]:
        option = options.get(arg.split("=", 1)[0]) or options.get(arg[:2])
        is_expression = arg.startswith("-") and len(arg) > 1 and arg != "--" and option is None and not after_option
        out.append(" " + arg if is_expression else arg)
        after_option = option is not None and option.nargs is None and "=" not in arg and arg in options
    return out


def _error_line(message: str) -> None:
    """One line on stderr whatever a message holds (each quote of user text is already `shown`; this bounds the
    whole line too)."""
    try:
        print(f"derive: {shown(message, 5 * MAX_SHOWN)}", file=sys.stderr)
    except (OSError, ValueError, AttributeError):  # no stderr to report on
        pass


GC_YOUNG_THRESHOLD = 250_000
"""The cyclic garbage collector's first-generation threshold in a command's own process (Python's default is 700).
A command allocates in one burst (imports, classes, SymPy expressions) and reference counting frees nearly all of
it, so young collections only walk live objects again: ``derive show`` allocates about 110,000 tracked objects and
``derive explain`` with the truth loop about 130,000 (``import sympy`` alone 87,000), and collecting them every
10,000 cost 20–25 ms, 6 % of ``import sympy``. Below this threshold such a command never collects (and `leave`
skips the teardown, whose own collection would walk them all once); a longer one
(a large program, the gallery) collects every 250,000 allocations, the same work per object as with a smaller
threshold, and its peak memory is unchanged (measured: a 200-node program with three steps, ``derive verify``, the
gallery build). Callers of `main` in their own process keep their settings."""


def main_entry() -> None:
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    leave(main())


def leave(code: int) -> None:
    """End the command's process with ``code`` without tearing the interpreter down: freeing every module and
    object one by one at exit (SymPy's classes, caches and expressions) costs as much CPU time as a fifth of
    ``import sympy`` and changes nothing outside the process. What a normal exit would still do is done first:
    the ``atexit`` functions run and both streams are flushed. While another thread runs (Python would wait for
    it), or when a stream cannot be flushed (Python would report it and exit 120), the exit is the normal one."""
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def _print_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    try:
        import shtab
    except ImportError:
        raise InputError.of("cli.shtab") from None
    sys.stdout.write(shtab.complete(parser, shell=shell))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    summaries = {name: catalog(args.lang)[f"scenario.{name}.summary"] for name in SCENARIOS}
    if args.format == "json":
        text = json.dumps([{"name": n, "summary": s} for n, s in summaries.items()], ensure_ascii=False, indent=2)
    else:
        width = max(map(len, SCENARIOS))
        text = "\n".join(f"{name.ljust(width)}  {summary}" for name, summary in summaries.items())
    _emit(text + "\n", None)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    # what derive.api.scenario does, without loading the API's networks and verification (start-up time)
    walk = build(args.scenario)
    if args.optimizer is not None or args.step is not None:
        from .walkthrough import rerun
        walk = rerun(walk, args.optimizer, args.step)
    _publish(walk, args)
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    if args.network is not None:
        return _explain_network(args)
    if args.source is None:
        raise UsageError.of("cli.no_source")
    # what derive.api.explain does, without loading the API's networks and figures (start-up time)
    from .walkthrough import explain_source
    _publish(explain_source(read_source(args.source), at=args.at, wrt=args.wrt, step=args.step,
                            optimizer=args.optimizer), args, _input_paths(args.source))
    return 0


def _explain_network(args: argparse.Namespace) -> int:
    given = [flag for flag, value in (("EXPR_OR_PROGRAM", args.source), ("--at", args.at), ("--wrt", args.wrt),
                                      ("--step", args.step), ("--optimizer", args.optimizer)) if value is not None]
    if given:
        raise UsageError.of("cli.network_option", option=given[0])
    from .networks import explain_file, explain_text
    from .networks.load import MAX_TEXT_BYTES
    if args.network == "-":
        result = explain_text(read_source("-", MAX_TEXT_BYTES), "<stdin>")
    else:
        result = explain_file(args.network)
    _publish(result, args, [args.network])
    return 0


# --- exercise ---
def _cmd_exercise(args: argparse.Namespace) -> int:
    from .present.exercise import exercise, key_path, render_exercise
    _check_output(args.output)
    walk, sheet = exercise(args.scenario, args.blanks, args.seed)
    templates = _templates(args)
    answers = (render_exercise(walk, sheet, args.format, args.lang, key=True, user_templates=templates)
               if args.key or args.output is not None else None)  # written only with --key or -o
    if walk.reread and answers is not None:
        from .verify.pages import check_page  # the truth loop: the key's every answer, read back as printed
        check_page(answers, "the answer key", lambda: _own_definitions(args))
    if args.key or args.output is None or files.is_stream(args.output):  # a device gets what stdout would
        _wrote([_emit(answers if args.key else render_exercise(walk, sheet, args.format, args.lang,
                                                               user_templates=templates), args.output)], args)
        return 0
    worksheet = render_exercise(walk, sheet, args.format, args.lang, user_templates=templates)
    files.write_outputs([files.Output(args.output, worksheet.encode("utf-8")),
                         files.Output(key_path(args.output), answers.encode("utf-8"))])
    _wrote([args.output, key_path(args.output)], args)
    return 0
# --- end of exercise ---


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify_run import run_verify
    if not 0 < args.time_limit <= 600:
        raise UsageError.of("cli.time_limit")
    _check_output(args.output)
    output, code, message = run_verify(args.file, args.format, args.lang, time_limit=args.time_limit,
                                user_templates=_templates(args))
    if message is not None:
        _error_line(f"error: {message}")
    if output is not None:
        if code == 2:
            _emit(output, None)  # the JSON error object; nothing is written to -o
        else:
            _wrote([_emit(output, args.output, [args.file] if args.file != "-" else [])], args)
    return code


def _cmd_build(args: argparse.Namespace) -> int:
    from .gallery import build_gallery
    out = files.make_folder(args.out, "--out")
    # this process and a worker render the folders (this one also writes them, and TeX compiles beside); the
    # summary ends the progress on stderr
    build_gallery(out, progress=None if args.quiet else sys.stderr, pdf=not args.no_pdf,
                  jobs=min(2, os.cpu_count() or 1))
    return 0


_COMMANDS = {"list": _cmd_list, "show": _cmd_show, "explain": _cmd_explain, "verify": _cmd_verify,
             "exercise": _cmd_exercise, "build": _cmd_build}


def _templates(args: argparse.Namespace) -> str | None:
    if args.templates is None:
        return None
    try:
        folder = os.path.isdir(args.templates) and os.path.realpath(args.templates)
    except (OSError, ValueError):
        folder = None
    if not folder:
        raise InputError(message("template.not_folder", folder=shown(args.templates)), "user_templates")
    return folder


def read_source(source: str, limit: int = MAX_INPUT_BYTES) -> str:
    """The expression itself, stdin for '-', or a file for '@PATH'; capped (128 KiB by default) and UTF-8."""
    if source == "-":
        data, origin = files.read_stdin(limit), "stdin"
    elif source.startswith("@"):
        data, origin = files.read_file(source[1:], limit), source[1:]
    else:
        return source
    if len(data) > limit:
        raise InputError.of("file.too_large", origin=shown(origin), limit=limit)
    return files.decode(data, origin)


def _input_paths(source: str) -> list[str]:
    return [source[1:]] if source.startswith("@") else []


def _check_output(output: str | None) -> None:
    if output is not None:
        files.check_name(output)


READ_BACK = {"markdown": "markdown", "html": "markdown", "latex": "latex", "beamer": "beamer"}
"""The formats the truth loop reads back, each by the document it reads (an HTML page's maths is its Markdown's)."""


def _publish(document, args: argparse.Namespace, inputs: Sequence[str] = ()) -> None:
    """Render and write by the output policy (`derive.documents.save`: a Markdown file gets its graph as
    ``NAME.svg`` beside it, plots go beside the document too), or to stdout; then say what was written and, with
    --verbose, what was checked."""
    from .present.lecture import tex_options
    options = tex_options(body_only=args.body_only, steps=args.steps, theme=args.theme, aspect=args.aspect,
                          paper=args.paper)
    if args.figure is not None:
        _publish_figure(document, args, options, inputs)
    elif args.output is None:
        from .present.render import render
        if args.pdf:
            raise InputError(message("lecture.pdf_output"), "pdf")
        page = _read_back(document, args, options)
        _emit(page if page is not None else render(document, args.format, args.lang, user_templates=_templates(args),
                                                   options=options), None)
    else:
        from .documents import save
        checked_as_written = READ_BACK.get(args.format) == args.format and not options.body_only
        if not checked_as_written:  # an HTML page or a fragment: the document it is made from is read back
            _read_back(document, args, options)
        _wrote(save(document, args.output, args.format, args.lang, _templates(args), inputs, "-o", options=options,
                    pdf=args.pdf, check=(lambda text: _read_back(document, args, options, text))
                    if checked_as_written else None), args)
    if args.verbose:
        print(f"derive: {_checked(document, args.lang)}", file=sys.stderr)


def _own_definitions(args: argparse.Namespace) -> tuple[str, ...]:
    """derive's own TeX definitions (loaded only when a LaTeX page is read back: start-up time)."""
    from .present.tex import own_definitions
    return own_definitions(_templates(args))


def _read_back(document, args: argparse.Namespace, options, written: str | None = None) -> str | None:
    """The truth loop: a page is read back by derive's own verifier before anything is written (an HTML page is made
    from the same Markdown; a --body-only fragment is read in its whole document, the same maths under derive's
    preamble). ``written``: the page itself as `derive.documents.save` rendered it for -o (read as it is, not
    rendered again). `show` skips the reading for a page the tests have read back and recorded
    (`derive.verify.recorded`: pages as `show` prints them, so a Markdown file's page, which links its graph, is
    looked up as printed), so that it stays fast. Returns the page checked when it is the very text asked for (to
    print it without rendering it again), else None."""
    if not getattr(document, "reread", False) or args.format not in READ_BACK:
        return None
    import dataclasses
    from .present.render import render
    from .verify.recorded import is_recorded
    whole = dataclasses.replace(options, body_only=False)
    page = written
    if page is None or args.command == "show" and not is_recorded(page):
        page = render(document, READ_BACK[args.format], args.lang, user_templates=_templates(args), options=whole)
    if args.command != "show" or not is_recorded(page):
        from .verify.pages import check_page
        check_page(page, "the walk-through", lambda: _own_definitions(args))
    return page if READ_BACK[args.format] == args.format and not options.body_only else None


def _publish_figure(document, args: argparse.Namespace, options, inputs: Sequence[str]) -> None:
    """--figure: the graph alone, to -o (SVG also to stdout); the document's own options make no sense with it."""
    from .present.standalone import check_figure_format, figure_bytes
    kind = check_figure_format(args.figure)
    others = [FLAGS[name] for name in options.given()] + (["--pdf"] if args.pdf else [])
    if others:
        raise InputError(message("lecture.figure_alone", option=others[0]), "figure")
    if args.output is None:
        if kind != "svg":
            raise InputError(message("lecture.figure_binary", kind=kind.upper()), "figure")
        _emit(figure_bytes(document, kind).decode("utf-8"), None)
        return
    from .documents import save_figure
    _wrote([str(save_figure(document, args.output, kind, inputs, "-o"))], args)


def _checked(document, lang: str) -> str:
    texts = catalog(lang)
    report = getattr(document, "report", None)  # a walk-through's checks (a network's are its `check`)
    if report is None:
        check = document.check
        return texts[f"cli.network_checked.{check.oracle}"].format(compared=check.compared)
    where = texts["cli.at_given_point" if report.at_given_point else "cli.at_random_point"]
    return texts[f"cli.checked.{report.oracle}"].format(locals=report.locals_checked,
                                                         gradients=report.gradients_checked, where=where)


def _wrote(paths: Sequence[str | None], args: argparse.Namespace) -> None:
    """One line on stderr naming every file written (suppressed by --quiet; a device or FIFO got what standard
    output would, and is not named either)."""
    written = [str(p) for p in paths if p is not None and not files.is_stream(str(p))]
    if written and not args.quiet:
        texts = catalog(args.lang)
        print(f"derive: {texts['cli.wrote'].format(paths=texts['punct.list_separator'].join(written))}",
              file=sys.stderr)


def _emit(text: str, output: str | None, inputs: Sequence[str] = ()) -> str | None:
    """To a file by the output policy, or to stdout as UTF-8 whatever its encoding (documents are UTF-8); returns
    the path written."""
    if output is not None:
        files.write_outputs([files.Output(output, text.encode("utf-8"))], inputs)
        return output
    try:
        stream = getattr(sys.stdout, "buffer", None)
        if stream is None:
            sys.stdout.write(text)
        else:
            sys.stdout.flush()
            stream.write(text.encode("utf-8"))
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError) as exc:
        _abandon_stdout()
        why = files.reason(exc) if isinstance(exc, OSError) else message("os.closed")
        raise InputError.of("file.stdout", reason=why) from None
    return None


def _abandon_stdout() -> None:
    """After a failed write (a closed pipe) Python would fail again flushing stdout at exit: point it nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
