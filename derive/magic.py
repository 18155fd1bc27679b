"""The ``%%derive`` cell magic, registered by ``%load_ext derive`` (IPython is never imported by derive itself).

    %%derive --at x=-2,y=5,z=-4
    (x + y) * z

The cell is an expression or a program (``--at``, ``--wrt``, ``--step``, ``--optimizer`` as on the command line),
or with ``--network`` the TOML text of a network; ``--lang ja`` shows it in Japanese. The cell's value is the
result (`derive.api.Result`), which the notebook shows as HTML.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from .api import explain, network
from .errors import InputError, message

OPTIONS = ("at", "wrt", "step", "optimizer", "lang")


class _Parser(argparse.ArgumentParser):
    def error(self, problem: str) -> None:  # type: ignore[override]
        raise InputError(message("magic.usage", problem=problem, options=", ".join(f"--{o}" for o in OPTIONS)),
                         "%%derive")


def parse_line(line: str) -> argparse.Namespace:
    """The options of the magic's first line."""
    parser = _Parser(prog="%%derive", add_help=False)
    for option in OPTIONS:
        parser.add_argument(f"--{option}")
    parser.add_argument("--network", action="store_true")
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise InputError(message("magic.options", problem=str(exc)), "%%derive") from None
    return parser.parse_args(words)


def run_cell(line: str, cell: str):
    """The result of one ``%%derive`` cell."""
    args = parse_line(line)
    lang = args.lang or "en"
    if args.network:
        given = [f"--{name}" for name in OPTIONS[:-1] if getattr(args, name) is not None]
        if given:
            raise InputError(message("magic.network_option", option=given[0]), "%%derive")
        return network(cell if "\n" in cell else cell + "\n", lang=lang)
    return explain(cell, at=args.at, wrt=args.wrt, step=args.step, optimizer=args.optimizer, lang=lang)


def register(ipython) -> None:
    """Register ``%%derive`` with a running IPython; bad input is one line (no traceback) in the cell's output."""
    def derive(line: str, cell: str):
        try:
            return run_cell(line, cell)
        except InputError as exc:
            print(f"derive: error: {exc}", file=sys.stderr)
            return None

    ipython.register_magic_function(derive, magic_kind="cell", magic_name="derive")
