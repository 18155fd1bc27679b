"""The project's exceptions, each mapped to an exit code by the CLI.

An `InputError` is either a ready sentence (English) or a `Message`: a key of the ``error`` catalogs
(``derive/locales/<lang>/errors.toml``) and the values of its placeholders. ``str()`` gives English, the language
of the Python API; the CLI calls ``render(lang)`` for its ``--lang``.
"""
from __future__ import annotations

from dataclasses import dataclass


class DeriveError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = 3

    def render(self, lang: str) -> str:
        return str(self)


@dataclass(frozen=True)
class Message:
    """A catalog sentence not yet put into words: ``key`` under ``error.`` and its placeholders' values (a value
    may itself be a `Message`, rendered in the same language)."""

    key: str
    args: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str) -> str:
        from .locales import catalog
        values = {name: value.render(lang) if isinstance(value, Message) else value for name, value in self.args}
        return catalog(lang)[f"error.{self.key}"].format(**values)


def message(key: str, **args: object) -> Message:
    return Message(key, tuple(args.items()))


class Localized(Exception):
    """An exception whose text is a ready sentence (English) or a `Message` that renders in any language."""

    def __init__(self, text: str | Message) -> None:
        self.message = text if isinstance(text, Message) else None
        super().__init__(text.render("en") if isinstance(text, Message) else text)

    @classmethod
    def of(cls, key: str, **args: object):
        return cls(message(key, **args))

    def render(self, lang: str) -> str:
        return self.message.render(lang) if self.message is not None else str(self)

    def as_message(self) -> Message | str:
        """What to put in another message: the `Message` (rendered in its language), else the sentence."""
        return self.message if self.message is not None else str(self)


class InputError(Localized, DeriveError):
    """Bad input or usage: one clear line for the user (exit 2). Either ``InputError("sentence")`` or
    ``InputError.of("key", name=value, …)`` for a sentence the catalogs hold in every language."""

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
