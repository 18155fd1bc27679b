"""The project's exceptions, each mapped to an exit code by the CLI."""
from __future__ import annotations

import re
from typing import Callable

_MENTION = re.compile(r"`([a-z_]+)`")


class DeriveError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = 3


class InputError(DeriveError, ValueError):
    """Bad input or usage: one clear line for the user (exit 2).

    Messages speak the Python API's language: ``parameter`` names the argument the message is about (``at``,
    ``step``; ``"at x"`` for one entry of it) and ``str()`` starts with it; other arguments are mentioned in
    backticks (``give every leaf a value in `at` ``). The CLI words the same message with its options instead
    (``--at``), through `worded`."""

    exit_code = 2

    def __init__(self, message: str, parameter: str | None = None) -> None:
        self.message = message
        self.parameter = parameter
        super().__init__(self.worded())

    def worded(self, option: Callable[[str], str | None] | None = None) -> str:
        """The message as the API says it, or with every parameter spelled by ``option`` (the CLI: its flag;
        ``None`` keeps the API's spelling)."""
        def spell(name: str, default: str) -> str:
            return (option(name) if option is not None else None) or default

        text = _MENTION.sub(lambda m: spell(m[1], m[0]), self.message)
        if self.parameter is None:
            return text
        name, _, entry = self.parameter.partition(" ")
        return f"{spell(name, name)}{' ' + entry if entry else ''}: {text}"


class CheckFailure(DeriveError):
    """A derivation disagreed with an independent oracle: a bug, never rendered (exit 3)."""

    exit_code = 3
