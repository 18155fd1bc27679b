"""Exercise sheets: a checked walk-through with some members of its equation chains left blank, and the key.

`make_sheet(walk, blanks, seed)` is a pure function: it reads the chains of the walk-through (the very strings a
walk-through shows: the chain-rule products of the backward steps, the gradients collected and the update
lines) and picks ``blanks`` of them with ``random.Random(seed)``, then one member of each chosen chain
after its left side. So the question (the left side) is never blank, and no chain has two blanks: a student can
always follow the chain from its question to the next given member. Blanks are numbered in reading order.

`render_exercise(walk, sheet, fmt, lang, key=...)` renders the worksheet or its answer key through
``templates/<format>/exercise.*.j2``. The worksheet is the walk-through's context (`derive.present.context`) with each
chosen member replaced by an empty numbered box; the key shows each blanked chain whole, its answer boxed. Every
formula is still `derive.notation` output; this module only puts boxes in place of members.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import DeriveError, InputError, message, shown
from ..locales import catalog
from ..notation import SIGNIFICANT_DIGITS, chain_latex
from ..scenarios import build
from .context import build_context
from .bindings import scope
from .prose import Math, say
from .formats import FORMATS as REGISTRY
from .formats import LANGUAGES, check_choice, formats_for
from .templating import fill, tidy
from .tex import chain_members, math_width, tex_context
from .questions import Question, Words, questions

if TYPE_CHECKING:
    from ..walkthrough import Walkthrough

FORMATS = formats_for("exercise")
DEFAULT_BLANKS = 5
DEFAULT_SEED = 1
MAX_SEED = 2 ** 63 - 1

# The empty box of blank k (width in em, chosen from the answer's estimated width so that a handwritten answer
# fits) and the boxed answer of the key. Markdown: plain amsmath that MathJax, KaTeX and TeX all read (the
# number stands under the box, where it cannot be taken for an exponent or an index); LaTeX: the worksheet's blank
# is the macro templates/latex/exercise.tex.j2 defines, the key's answer the same amsmath as Markdown's (the key is
# read back by derive verify, which reads standard notation only).
BOXED_ANSWER = r"\underset{{({k})}}{{\boxed{{{answer}}}}}"
BLANK = {"markdown": r"\underset{{({k})}}{{\boxed{{\phantom{{{zeros}}}}}}}", "latex": r"\dvblank{{{k}}}{{{em}}}"}
ANSWER = {"markdown": BOXED_ANSWER, "latex": BOXED_ANSWER}
BOX_EM = (3, 5, 8, 12, 16, 20, 24)
"""Widths of the empty boxes in em: each blank gets the smallest that holds its answer with room to spare."""


@dataclass(frozen=True)
class Place:
    """Where a chain sits in the walk-through's context: ``steps[index]`` (``terms[term]``'s ``product``),
    ``gradients[index]`` (``equation``) or ``updates[index]`` (``lines[term]``)."""

    section: str  # "steps", "gradients" or "updates"
    index: int
    term: int | None
    part: str  # "product", "equation" or "line"


@dataclass(frozen=True)
class Chain:
    place: Place
    members: tuple[str, ...]  # printed by derive.notation; members[0] is the question

    @property
    def latex(self) -> str:
        return chain_latex(list(self.members))


@dataclass(frozen=True)
class Blank:
    number: int  # 1, 2, ... in reading order
    chain: Chain
    member: int  # index into chain.members, at least 1

    @property
    def answer(self) -> str:
        return self.chain.members[self.member]

    @property
    def kind(self) -> str:
        """``number`` when the answer is arithmetic on numbers only, else ``expression``."""
        return "expression" if _SYMBOLIC.search(_COMMANDS.sub(" ", self.answer)) else "number"


@dataclass(frozen=True)
class Sheet:
    """The blanks of one worksheet: everything the worksheet and its key need besides the walk-through."""

    scenario: str
    seed: int
    blanks: tuple[Blank, ...]
    available: int  # chains that could take a blank (the cap of --blanks)
    questions: tuple[Question, ...] = ()  # questions that test understanding, answered in the key


_COMMANDS = re.compile(r"\\(?:cdot|left|right|frac|times|dfrac|tfrac)\b|\\[,;!]")
_SYMBOLIC = re.compile(r"[A-Za-z\\]")


def parse_count(text: object) -> int:
    """``--blanks``: a whole number of at least 1 (a `str` from the command line, or an `int`)."""
    value = _whole(text)
    if value is None or value < 1:
        raise InputError(message("exercise.blanks", value=shown(text)), "--blanks")
    return value


def parse_seed(text: object) -> int:
    """``--seed``: a whole number from 0 to `MAX_SEED`."""
    value = _whole(text)
    if value is None or not 0 <= value <= MAX_SEED:
        raise InputError(message("exercise.seed", value=shown(text)), "--seed")
    return value


def _whole(text: object) -> int | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, str) and re.fullmatch(r"[+-]?[0-9]{1,20}", text.strip()):
        return int(text.strip())
    return None


def walk_chains(context: dict[str, Any]) -> Iterator[Chain]:
    """The chains of a walk-through's context (`derive.present.context.build_context`) in reading order. The output's
    own upstream gradient (∂f/∂f = 1) is the walk's starting point, not a question, and is left out."""
    for i, step in enumerate(context["steps"]):
        for j, term in enumerate(step["terms"]):
            yield Chain(Place("steps", i, j, "product"), tuple(chain_members(term["product"])))
    for i, gradient in enumerate(context["gradients"]):
        yield Chain(Place("gradients", i, None, "equation"), tuple(chain_members(gradient["equation"])))
    for i, update in enumerate(context["updates"]):
        for j, line in enumerate(update["lines"]):
            yield Chain(Place("updates", i, j, "line"), tuple(chain_members(line["latex"])))


def chain_text(context: dict[str, Any], place: Place) -> str:
    """The printed chain at ``place`` of a context."""
    if place.section == "steps":
        step = context["steps"][place.index]
        return step["terms"][place.term][place.part]
    if place.section == "gradients":
        return context["gradients"][place.index]["equation"]
    return context["updates"][place.index]["lines"][place.term]["latex"]


def _set_chain(context: dict[str, Any], place: Place, text: str) -> None:
    """Replace the chain at ``place``, copying only the dictionaries on the way (the rest stays shared)."""
    if place.section == "steps":
        steps = context["steps"] = list(context["steps"])
        step = steps[place.index] = dict(steps[place.index])
        terms = step["terms"] = list(step["terms"])
        terms[place.term] = dict(terms[place.term], **{place.part: text})
    elif place.section == "gradients":
        gradients = context["gradients"] = list(context["gradients"])
        gradients[place.index] = dict(gradients[place.index], equation=text)
    else:
        updates = context["updates"] = list(context["updates"])
        update = updates[place.index] = dict(updates[place.index])
        lines = update["lines"] = list(update["lines"])
        lines[place.term] = dict(lines[place.term], latex=text)


def make_sheet(walk: "Walkthrough", blanks: int = DEFAULT_BLANKS, seed: int = DEFAULT_SEED) -> Sheet:
    """Choose the blanks of a worksheet: ``blanks`` chains (capped at the number there are) drawn with
    ``random.Random(seed)``, one member after the left side of each. Deterministic for a given walk, count and
    seed; no global random state, no dependence on hash order."""
    count, seed = parse_count(blanks), parse_seed(seed)
    # The maths of a context is the same in every language (tests check it); the first language's is used.
    context = build_context(walk, next(iter(LANGUAGES)))
    candidates = [c for c in walk_chains(context)  # a chain that the split would not give back is left whole
                  if len(c.members) > 1 and c.latex == chain_text(context, c.place)]
    if not candidates:
        raise InputError.of("exercise.no_chain", scenario=walk.name)
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(candidates)), min(count, len(candidates))))
    picked = tuple(Blank(k, candidates[i], rng.randrange(1, len(candidates[i].members)))
                   for k, i in enumerate(chosen, 1))
    return Sheet(walk.name, seed, picked, len(candidates), questions(walk, seed))


def box_em(answer: str) -> int:
    """The width in em of the empty box for ``answer``: the smallest of `BOX_EM` with a third to spare."""
    need = math.ceil(math_width(answer) * 1.3 + 1)
    return next((em for em in BOX_EM if em >= need), BOX_EM[-1])


def blank_marker(fmt: str, blank: Blank) -> str:
    em = box_em(blank.answer)
    return BLANK[fmt].format(k=blank.number, em=em, zeros="0" * (2 * em))


def answer_marker(fmt: str, blank: Blank) -> str:
    return ANSWER[fmt].format(k=blank.number, answer=blank.answer)


def _with(blank: Blank, member: str) -> str:
    members = list(blank.chain.members)
    members[blank.member] = member
    return chain_latex(members)


def exercise_context(walk: "Walkthrough", sheet: Sheet, fmt: str, lang: str) -> dict[str, Any]:
    """The context of ``templates/<fmt>/exercise.*.j2``: the walk-through's own context with the blanks in
    place, plus ``exercise`` (the sheet's prose and its key)."""
    t = catalog(lang)
    context = build_context(walk, lang)
    if REGISTRY[fmt].tex:
        context.update(tex_context(walk, lang, fmt))
    for blank in sheet.blanks:
        if chain_text(context, blank.chain.place) != blank.chain.latex:
            raise DeriveError(f"internal error: the {lang} walk-through of '{walk.name}' does not hold the chain "
                              f"of blank {blank.number} ({blank.chain.latex!r})")
    key = []
    for blank in sheet.blanks:
        _set_chain(context, blank.chain.place, _with(blank, blank_marker(fmt, blank)))
        key.append({"number": blank.number, "where": _where(context, blank.chain.place, lang),
                    "chain": _with(blank, answer_marker(fmt, blank)),
                    "directives": _answer_directives(context, blank.chain.place, blank.number, walk.reread)})
    # The worksheet shows the setting but no pictures (plots of the scenario's extra sections may give answers).
    context["intro"] = [dict(s, blocks=[b for b in s["blocks"] if b["kind"] != "image"]) for s in context["intro"]]
    count = len(sheet.blanks)
    command = f"derive exercise {walk.name} --blanks {count} --seed {sheet.seed}"
    if lang != "en":
        command += f" --lang {lang}"
    if fmt != "markdown":
        command += f" --format {fmt}"
    context["exercise"] = {
        "questions": [dict(question_context(q, k, lang),
                           directives=scope(f"question-{k}", q.given) if walk.reread else [])
                      for k, q in enumerate(sheet.questions, 1)],
        "directives": context["directives"],
        "title": say(lang, "exercise.title", title=context["title"]),
        "key_title": say(lang, "exercise.key_title", title=context["title"]),
        "instructions": say(lang, "exercise.instructions", count=count, digits=SIGNIFICANT_DIGITS),
        "footer": say(lang, "exercise.footer", seed=sheet.seed, count=count),
        "key_intro": say(lang, "exercise.key_intro", seed=sheet.seed, count=count),
        "command": command,
        "check": t["exercise.key_check"] + t["punct.sentence_space"] + context["check"]["summary"],
        "key": key,
        "count": count,
        "seed": sheet.seed,
    }
    return context


def question_context(question: Question, number: int, lang: str) -> dict[str, Any]:
    """A question's sentence and its answer's, in ``lang`` (a `Words` placeholder is a catalog sentence)."""
    def filled(params) -> dict[str, object]:
        return {k: catalog(lang)[v] if isinstance(v, Words) else v for k, v in params}
    return {"number": number, "kind": question.kind,
            "text": say(lang, f"exercise.question.{question.kind}", **filled(question.ask)),
            "answer": say(lang, f"exercise.answer.{question.kind}{question.variant}", **filled(question.answer))}


def _answer_directives(context: dict[str, Any], place: Place, number: int, reread: bool) -> list[str]:
    """An answer's scope on the key: the walk's point, or an update's values before its step."""
    if not reread:
        return []
    if place.section == "updates":
        return context["updates"][place.index]["directives"]
    return scope(f"answer-{number}")


def _where(context: dict[str, Any], place: Place, lang: str) -> str:
    if place.section == "steps":
        return say(lang, "exercise.where.step", step=place.index + 1,
                   node=Math(context["steps"][place.index]["node_latex"]))
    if place.section == "gradients":
        return catalog(lang)["exercise.where.gradients"]
    if len(context["updates"]) > 1:
        return say(lang, "exercise.where.update_step", step=context["updates"][place.index]["step"])
    return catalog(lang)["exercise.where.update"]


def render_exercise(walk: "Walkthrough", sheet: Sheet, fmt: str = "markdown", lang: str = "en", *, key: bool = False,
                    user_templates: str | None = None) -> str:
    """The worksheet (``key=False``) or its answer key as a document in ``fmt`` (markdown or latex) and ``lang``."""
    check_choice("exercise", fmt, lang)
    context = exercise_context(walk, sheet, fmt, lang)
    context["is_key"] = key
    return tidy(fill(REGISTRY[fmt].templates["exercise"], context, user_templates, REGISTRY[fmt].tex))


def exercise(name: str, blanks: object = DEFAULT_BLANKS, seed: object = DEFAULT_SEED) -> tuple["Walkthrough", Sheet]:
    """A built-in scenario and the blanks of its worksheet (the command line's ``derive exercise``)."""
    count, seed_value = parse_count(blanks), parse_seed(seed)  # bad numbers fail before the scenario is built
    walk = build(name)
    return walk, make_sheet(walk, count, seed_value)


def key_path(path: str) -> str:
    """Where ``-o PATH`` puts the answer key: ``sheet.md`` → ``sheet-key.md``."""
    p = Path(path)
    return str(p.with_name(p.stem + "-key" + p.suffix))
