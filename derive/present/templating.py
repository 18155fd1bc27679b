"""The Jinja side of rendering, safe for templates from someone else (``--templates DIR``).

- Every environment is a `jinja2.sandbox.SandboxedEnvironment`: no attribute starting with ``_`` (so no
  ``cycler.__init__.__globals__`` or ``''.__class__.__mro__``), no unsafe callables, ranges of at most 100,000.
- Numbers and repetitions that would make one C call run for minutes or fill the memory are refused: ``**`` with
  an exponent beyond 1000 (or a result beyond 10,000 digits), ``*`` of a string or list beyond 10^6 items, integer
  arguments beyond 10^6 to calls and filters, and format strings with widths of 7 digits or more.
- A render stops after `RENDER_SECONDS` (SIGALRM, main thread) or `MAX_OUTPUT_CHARS` characters.
- Template files are read by `FolderLoader`: regular files only, UTF-8, at most 1 MiB, and a symbolic link only if
  it stays inside the folder (a link to /etc/passwd is refused, not printed).
- Compiled templates are kept in the per-user cache (`CompiledTemplates`), keyed by the source and by everything
  that shapes the compiled code, so that a start does not compile them again; the output is the same either way.

Every failure of a user's template is an `InputError` naming the file and the line (`template_error`).
"""
from __future__ import annotations

import functools
from functools import lru_cache
import marshal
import math
import os
import re
import types
from pathlib import Path
from typing import Any, Callable, Mapping

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from markupsafe import Markup

from .. import usercache
from ..clock import time_limit
from ..errors import DeriveError, InputError, Message, message, shown
from ..files import decode, read_file, shipped_folder

RENDER_SECONDS = 10.0
MAX_OUTPUT_CHARS = 64 * 1024 ** 2
MAX_TEMPLATE_BYTES = 1024 ** 2
MAX_ARGUMENT = 10 ** 6
MAX_EXPONENT = 1000
MAX_POWER_DIGITS = 10_000
_WIDE_FORMAT = re.compile(r"\d{7,}")


class RenderTimeout(Exception):
    """A template ran longer than `RENDER_SECONDS`."""


class OutputTooLarge(Exception):
    """A template wrote more than `MAX_OUTPUT_CHARS`."""


class TemplateLimit(SecurityError):
    """A sandbox limit a template ran into, as a catalog sentence (English in ``str()``, as Jinja shows it)."""

    def __init__(self, sentence: Message) -> None:
        super().__init__(sentence.render("en"))
        self.sentence = sentence


def _refuse_large(values: Any) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise TemplateLimit(message("template.number", number=shown(value, 20), limit=MAX_ARGUMENT))


def _refuse_wide_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise TemplateLimit(message("template.format_width"))


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 1


class Sandbox(SandboxedEnvironment):
    """A sandboxed environment whose arithmetic and calls are bounded in size."""

    intercepted_binops = frozenset({"**", "*", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and isinstance(left, (int, float)):
            if abs(right) > MAX_EXPONENT or (abs(left) > 1 and abs(right) * math.log10(abs(left)) > MAX_POWER_DIGITS):
                raise TemplateLimit(message("template.power", base=shown(left, 20), exponent=shown(right, 20)))
        if operator == "*" and isinstance(left, int) != isinstance(right, int):
            count = left if isinstance(left, int) else right
            if isinstance(count, int) and abs(count) * max(_size(left), _size(right)) > MAX_ARGUMENT:
                raise TemplateLimit(message("template.repetition", limit=MAX_ARGUMENT))
        if operator == "%":
            _refuse_wide_format(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _refuse_large([*args, *kwargs.values()])
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        if isinstance(getattr(method, "__self__", None), str) and getattr(method, "__name__", "").startswith("format"):
            _refuse_wide_format(method.__self__)
        return super().call(__context, __obj, *args, **kwargs)


def _bounded_filter(name: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _refuse_large([*args, *kwargs.values()])
        if name == "format" and args:
            _refuse_wide_format(args[-1] if isinstance(args[-1], str) else args[0])
        return function(*args, **kwargs)
    return bounded


class FolderLoader(jinja2.BaseLoader):
    """Templates from one folder: regular files, UTF-8, at most `MAX_TEMPLATE_BYTES`, links only within it."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = os.path.realpath(folder)

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = jinja2.loaders.split_template_path(template)  # refuses '..'
        path = os.path.join(self.folder, *pieces)
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.folder]) != self.folder:
            raise InputError(message("template.link_out", path=shown(path), target=shown(real)), "user_templates")
        data = read_file(real, MAX_TEMPLATE_BYTES)
        if len(data) > MAX_TEMPLATE_BYTES:
            raise InputError(message("template.too_large", path=shown(path), limit=MAX_TEMPLATE_BYTES // 1024),
                             "user_templates")
        modified = os.stat(real).st_mtime_ns
        return decode(data, path), path, lambda: _mtime(real) == modified


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's bytecode cache on `derive.usercache`: a template's compiled code under a digest of its source, its
    name and file, and everything else the code depends on (``shape``: Jinja's version and the environment's
    class, options, filters, tests and intercepted operators). A miss or a damaged entry compiles the template."""

    KIND = "jinja"

    def __init__(self, shape: str) -> None:
        self.shape = shape

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return usercache.digest(self.shape, name, filename or "")

    def get_source_checksum(self, source: str) -> str:
        return usercache.digest(source)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = usercache.read(self.KIND, usercache.digest(bucket.key, bucket.checksum))
        if data is None:
            return
        try:
            code = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return
        if isinstance(code, types.CodeType):
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        usercache.write(self.KIND, usercache.digest(bucket.key, bucket.checksum), marshal.dumps(bucket.code))


def make_environment(folders: list[str], **options: Any) -> Sandbox:
    """A sandbox reading templates from ``folders`` in order, its compiled templates cached per user."""
    env = Sandbox(loader=jinja2.ChoiceLoader([FolderLoader(folder) for folder in folders]), **options)
    env.bytecode_cache = CompiledTemplates(repr((
        jinja2.__version__, type(env).__module__, type(env).__qualname__, sorted(options.items()),
        sorted(env.filters), sorted(env.tests), sorted(env.intercepted_binops), sorted(env.intercepted_unops))))
    return env


def render_bounded(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """The template's text, stopped after `RENDER_SECONDS` or `MAX_OUTPUT_CHARS`."""
    pieces: list[str] = []
    batch: list[str] = []  # joined every few thousand pieces: a list of small strings costs ~50 bytes a piece
    size = 0
    with time_limit(RENDER_SECONDS, RenderTimeout):
        for piece in template.generate(context):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise OutputTooLarge()
            batch.append(piece)
            if len(batch) >= 4096:
                pieces.append("".join(batch))
                batch.clear()
    return "".join(pieces) + "".join(batch)


def template_error(exc: BaseException, name: str, user_folder: str) -> InputError | None:
    """The input error for an exception raised while loading or running a template of ``user_folder``, or None
    when it was raised in one of the package's templates (a bug, kept as it is)."""
    place = _template_place(exc, name)
    if place is None or not os.path.realpath(place[0]).startswith(os.path.realpath(user_folder) + os.sep):
        if not isinstance(exc, (RenderTimeout, OutputTooLarge, jinja2.TemplateSyntaxError)):
            return None
        place = place or (name, None)
    where = (message("template.place_line", file=shown(place[0]), line=place[1]) if place[1]
             else message("template.place", file=shown(place[0])))
    if isinstance(exc, RenderTimeout):
        problem = message("template.timeout", seconds=f"{RENDER_SECONDS:g}")
    elif isinstance(exc, RecursionError):
        problem = message("template.recursion")
    elif isinstance(exc, TemplateLimit):
        problem = exc.sentence
    elif isinstance(exc, jinja2.TemplateError) and exc.message:
        problem = message("template.jinja", problem=shown(exc.message))
    elif isinstance(exc, OutputTooLarge):
        problem = message("template.output_too_large", limit=MAX_OUTPUT_CHARS // 1024 ** 2)
    else:
        problem = message("template.exception", kind=type(exc).__name__, problem=shown(str(exc) or "-"))
    return InputError(message("located", where=where, problem=problem), "user_templates")


def _template_place(exc: BaseException, name: str) -> tuple[str, int | None] | None:
    """(file, line) of a template error: from a syntax error itself, else from the innermost template frame of the
    traceback, where Jinja puts the template's own file and line."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return exc.filename or name, exc.lineno
    place, tb = None, exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename.endswith(".css"):
            place = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return place


# --- the environments of derive's documents ---------------------------------------------------------------------

def templates_root() -> Path:
    return shipped_folder("templates")


@lru_cache(maxsize=16)
def environment(user_templates: str | None = None, tex: bool = False, html: bool = False) -> Sandbox:
    """A strict, sandboxed Jinja environment: a user's folder first, then the package's; LaTeX-friendly delimiters
    for .tex (``\\VAR{…}``, ``\\BLOCK{…}``, ``\\#{…}``) so that braces never clash; autoescaping for HTML pages."""
    folders = [user_templates] if user_templates else []
    options: dict[str, Any] = dict(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=html)
    if tex:
        options.update(block_start_string=r"\BLOCK{", block_end_string="}", variable_start_string=r"\VAR{",
                       variable_end_string="}", comment_start_string=r"\#{", comment_end_string="}",
                       line_statement_prefix="%%", line_comment_prefix="%#", trim_blocks=True,
                       lstrip_blocks=True)
    return make_environment([*folders, str(templates_root())], **options)


def fill(name: str, context: Mapping[str, Any], user_templates: str | None = None, tex: bool = False,
         html: bool = False) -> str:
    """The template ``name`` filled in, bounded in time and size; a failure in a template of the user's folder is
    an input error naming the file and line (one in the package's templates is a bug and keeps its traceback)."""
    template = None
    try:
        template = environment(user_templates, tex, html).get_template(name)
        return render_bounded(template, context)
    except DeriveError:
        raise
    except Exception as exc:
        where = template.filename if template is not None and template.filename else name
        error = template_error(exc, where, user_templates) if user_templates else None
        if error is None:
            raise
        raise error from None


def stylesheet(user_templates: str | None = None) -> str:
    """The HTML pages' CSS (``html/style.css``, the user's if their folder has one)."""
    return page_asset("html/style.css", user_templates)


def page_asset(name: str, user_templates: str | None = None) -> str:
    """A file that an HTML page inlines as it is (``html/style.css``, ``html/stepthrough.js``), the user's if their
    folder has one."""
    env = environment(user_templates, html=True)
    source, _, _ = env.loader.get_source(env, name)
    return Markup(source.strip() + "\n")


def tidy(text: str) -> str:
    """Collapse runs of blank lines left by template control blocks; end with one newline."""
    lines, blank = [], 0
    for line in text.splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
