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


MAX_SHOWN = 200
"""Characters of user text an error line may echo."""


def shown(text: object, limit: int = MAX_SHOWN) -> str:
    """User text as an error line may quote it: one line (line breaks and other control characters escaped), at
    most ``limit`` characters (the middle cut out, so that both ends stay recognisable)."""
    line = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text)[:4 * limit + 8])
    if len(line) <= limit and len(str(text)) <= 4 * limit + 8:
        return line
    head = (limit - 1) * 2 // 3
    tail_source = str(text)[-(limit - head):]
    tail = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in tail_source)
    return line[:head] + "…" + tail[-(limit - head - 1):]
