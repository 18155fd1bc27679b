"""The project's exceptions, each mapped to an exit code by the CLI.

An `InputError` is either a ready sentence (English) or a `Message`: a key of the ``error`` catalogs
(``derive/locales/<lang>/errors.toml``) and the values of its placeholders. ``str()`` gives English, the language
of the Python API; the CLI calls ``render(lang, option)`` for its ``--lang`` and its own option names.

Messages speak the Python API's language: ``parameter`` names the argument a message is about (``at``, ``step``;
``"at x"`` for one entry of it) and the message starts with it; other arguments are mentioned in backticks
(``give every leaf a value in `at` ``). The CLI words the same message with its options instead (``--at``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .locales import catalog

_MENTION = re.compile(r"`([a-z_]+)`")

Spelling = Callable[[str], "str | None"]
"""How a front end spells an API parameter (the CLI: its option), or None to keep the API's name."""


class DeriveError(Exception):
    """Base class; ``exit_code`` is what the CLI returns."""

    exit_code = 3

    def render(self, lang: str = "en", option: Spelling | None = None) -> str:
        return str(self)


@dataclass(frozen=True)
class Message:
    """A catalog sentence not yet put into words: ``key`` under ``error.`` and its placeholders' values (a value
    may itself be a `Message`, rendered in the same language)."""

    key: str
    args: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str) -> str:
        values = {name: value.render(lang) if isinstance(value, Message) else value for name, value in self.args}
        return catalog(lang)[f"error.{self.key}"].format(**values)


def message(key: str, /, **args: object) -> Message:
    return Message(key, tuple(args.items()))


class Localized(Exception):
    """An exception whose text is a ready sentence (English) or a `Message` that renders in any language, about the
    API parameter ``parameter`` (or none)."""

    def __init__(self, text: str | Message, parameter: str | Message | None = None) -> None:
        self.message = text if isinstance(text, Message) else None
        self.sentence = text if isinstance(text, str) else None
        self.parameter = parameter
        super().__init__(self.render())

    @classmethod
    def of(cls, key: str, /, **args: object):
        return cls(message(key, **args))

    def render(self, lang: str = "en", option: Spelling | None = None) -> str:
        """The message in ``lang`` with every parameter spelled by ``option`` (default: the API's names)."""
        def spell(name: str, default: str) -> str:
            return (option(name) if option is not None else None) or default

        text = self.message.render(lang) if self.message is not None else self.sentence
        text = _MENTION.sub(lambda m: spell(m[1], m[0]), text)
        if self.parameter is None:
            return text
        if isinstance(self.parameter, Message):  # a thing named in the catalogs' words (``number``), not a parameter
            return f"{self.parameter.render(lang)}: {text}"
        name, _, entry = self.parameter.partition(" ")
        return f"{spell(name, name)}{' ' + entry if entry else ''}: {text}"

    def as_message(self) -> Message | str:
        """What to put in another message: the `Message` (rendered in its language), else the sentence."""
        return self.message if self.message is not None else str(self)

    def whole(self) -> Message | str:
        """The message with its parameter in front (``layer 2: W: is empty``), to be put in another message; a
        parameter is kept as the API names it."""
        if self.message is None or self.parameter is None:
            return self.as_message()
        return message("located", where=self.parameter, problem=self.message)

    @classmethod
    def within(cls, where: str | Message, exc: "Localized"):
        """``exc`` about ``where`` (a file, a document), in every language: ``where: exc``."""
        return cls(message("located", where=where, problem=exc.whole()))


class InputError(Localized, DeriveError, ValueError):
    """Bad input or usage: one clear line for the user (exit 2). Either ``InputError("sentence", parameter)`` or
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
