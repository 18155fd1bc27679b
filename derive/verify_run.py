"""What ``derive verify FILE`` does, minus the writing: read, check, render. Apart from `derive.api` so that the
command loads only the verifier and the renderer (issue 16's speed goal), not every document kind's code."""
from __future__ import annotations

from . import verify
from .errors import message, shown
from .files import read_stdin
from .present.formats import by_name
from .present.render import render

own_definitions = by_name("derive.present.tex", "own_definitions")  # loaded only for a page with derive's preamble


def run_verify(path: str, fmt: str = "text", lang: str = "en", *, time_limit: float = 10.0,
               user_templates: str | None = None) -> tuple[str | None, int, str | None]:
    """``(output, exit code, error line for stderr)``.

    The output is None when there is nothing to write (exit 2 in a format other than JSON); with ``--format json``
    an unreadable document still gives the error object."""
    if path == "-":
        report = verify.verify_bytes(read_stdin(verify.OWN_DOCUMENT_BYTES), time_limit=time_limit,
                                     trusted=own_definitions)
    else:
        report = verify.verify_path(path, time_limit=time_limit, trusted=own_definitions)
    stderr = None
    if report.error is not None:
        line = report.error.line
        where = message("file.line", name=shown(path), line=line) if line is not None else shown(path)
        stderr = message("located", where=where, problem=report.error.localized or report.error.message).render(lang)
        if fmt != "json":
            return None, 2, stderr
    return render(report, fmt, lang, user_templates=user_templates), report.exit_code, stderr
