"""The project's exceptions, each mapped to an exit code by the CLI."""


class DeriveError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = 3


class InputError(DeriveError):
    """Bad input or usage: one clear line for the user (exit 2)."""

    exit_code = 2


class CheckFailure(DeriveError):
    """A derivation disagreed with an independent oracle: a bug, never rendered (exit 3)."""

    exit_code = 3
