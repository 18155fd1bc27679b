"""The per-user cache (`derive.usercache`) and its two users, the message catalogs and the compiled templates: an
entry is found again, a changed source finds none, and no state of the cache folder (empty, damaged, unwritable,
turned off) changes a byte of any output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from derive import locales, usercache
from derive.locales import catalog, catalog_files
from derive.locales.sources import merged
from derive.present import templating
from derive.present.render import render
from derive.present.templating import CompiledTemplates, make_environment, templates_root

from conftest import scenario_page, scenario_walk

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(usercache.ENV_FOLDER, str(folder))
    return folder


def entries(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.glob(f"{kind}-*")) if folder.is_dir() else []


# --- the folder -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("environment, expected", [
    ({"DERIVE_CACHE_DIR": "/somewhere/else"}, "/somewhere/else"),
    ({"DERIVE_CACHE_DIR": ""}, None),
    ({"XDG_CACHE_HOME": "/xdg"}, "/xdg/derive"),
    ({"XDG_CACHE_HOME": "relative", "HOME": "/home/someone"}, "/home/someone/.cache/derive"),
    ({"HOME": "/home/someone"}, "/home/someone/.cache/derive"),
])
def test_the_folder_follows_the_environment(monkeypatch, environment, expected):
    for name in ("DERIVE_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert usercache.folder() == (None if expected is None else Path(expected))


def test_an_entry_is_read_back_and_a_missing_one_is_none(cache):
    assert usercache.read("kind", "key") is None
    usercache.write("kind", "key", b"\x00bytes")
    assert usercache.read("kind", "key") == b"\x00bytes"
    assert [p.name for p in cache.iterdir()] == ["kind-key"]  # no temporary file left behind
    assert os.stat(cache).st_mode & 0o777 == 0o700


def test_digest_separates_its_parts():
    assert usercache.digest("ab", "c") != usercache.digest("a", "bc")
    assert usercache.digest("ab", "c") == usercache.digest(b"ab", b"c")


def test_an_unwritable_folder_is_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(usercache.ENV_FOLDER, str(blocker / "cache"))
    usercache.write("kind", "key", b"data")  # quietly nothing
    assert usercache.read("kind", "key") is None


# --- the catalogs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_cached_catalog_is_the_parsed_catalog(cache, lang):
    parsed = merged(lang, catalog_files(lang))
    catalog.cache_clear()
    try:
        first = catalog(lang)  # parsed, then stored
        [entry] = entries(cache, "catalog")
        catalog.cache_clear()
        second = catalog(lang)  # read from the entry
        assert list(first.items()) == list(second.items()) == list(parsed.items())  # order too
        assert json.loads(entry.read_text(encoding="utf-8")) == parsed
    finally:
        catalog.cache_clear()


def test_the_catalog_entry_is_used_and_a_damaged_one_is_not(cache):
    catalog.cache_clear()
    try:
        catalog("en")
        [entry] = entries(cache, "catalog")
        entry.write_text(json.dumps({"title.explain": "from the cache"}), encoding="utf-8")
        catalog.cache_clear()
        assert catalog("en") == {"title.explain": "from the cache"}  # the entry is what is read
        for damaged in (b"{not json", b"\xff\xfe", b"[1, 2]"):
            entry.write_bytes(damaged)
            catalog.cache_clear()
            assert catalog("en") == merged("en", catalog_files("en"))
    finally:
        catalog.cache_clear()


def test_a_changed_catalog_file_or_merger_gets_a_new_entry(cache, monkeypatch):
    catalog.cache_clear()
    try:
        catalog("en")
        sources = catalog_files("en")
        changed = [(name, data + b'\n[extra]\nkey = "added"\n') if name == "toast.toml" else (name, data)
                   for name, data in sources]
        monkeypatch.setattr(locales, "catalog_files", lambda lang: changed)
        catalog.cache_clear()
        assert catalog("en")["extra.key"] == "added" and len(entries(cache, "catalog")) == 2
        merger = Path(locales.__file__).with_name("sources.py")
        real_files = locales.resources.files
        monkeypatch.setattr(locales.resources, "files", lambda package: _Edited(real_files(package), merger))
        catalog.cache_clear()
        catalog("en")
        assert len(entries(cache, "catalog")) == 3  # the same files merged by other code: not the old entry
    finally:
        catalog.cache_clear()


class _Edited:
    """A package's resources with one file read as if edited (a comment appended)."""

    def __init__(self, folder, edited: Path) -> None:
        self.folder, self.edited = folder, edited

    def joinpath(self, name: str):
        if name == self.edited.name:
            return _EditedFile(self.edited)
        return self.folder.joinpath(name)


class _EditedFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read_bytes(self) -> bytes:
        return self.path.read_bytes() + b"# edited\n"


# --- the compiled templates ----------------------------------------------------------------------------------------

def fresh_environment(**options):
    """An environment with no templates in memory, as at a new start (`templating.environment` keeps one)."""
    env = make_environment([str(templates_root())], **options)
    compiled: list[str] = []
    compile_source = env.compile

    def counting(source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return compile_source(source, name, filename, *args, **kwargs)

    env.compile = counting
    return env, compiled


MACROS = "markdown/macros.md.j2"


def test_a_compiled_template_is_stored_and_used(cache):
    env, compiled = fresh_environment(keep_trailing_newline=True)
    first = env.get_template(MACROS)
    assert compiled == [MACROS] and len(entries(cache, "jinja")) == 1
    env, compiled = fresh_environment(keep_trailing_newline=True)
    again = env.get_template(MACROS)
    assert compiled == []  # loaded, not compiled
    assert again.filename == first.filename and sorted(again.module.__dict__) == sorted(first.module.__dict__)
    env, compiled = fresh_environment(keep_trailing_newline=True, trim_blocks=True)  # other options, other code
    env.get_template(MACROS)
    assert compiled == [MACROS] and len(entries(cache, "jinja")) == 2


@pytest.mark.parametrize("damage", [b"", b"not marshal data", b"\xe3" + b"\x00" * 40, b"N"])  # b"N": marshal None
def test_a_damaged_template_entry_is_compiled_again(cache, damage):
    env, _ = fresh_environment()
    env.get_template(MACROS)
    [entry] = entries(cache, "jinja")
    entry.write_bytes(damage)
    env, compiled = fresh_environment()
    env.get_template(MACROS)
    assert compiled == [MACROS]


def test_the_key_holds_the_source_and_the_shape():
    one, other = CompiledTemplates("shape one"), CompiledTemplates("shape two")
    assert one.get_cache_key("a.j2", "/t/a.j2") != other.get_cache_key("a.j2", "/t/a.j2")
    assert one.get_cache_key("a.j2", "/t/a.j2") != one.get_cache_key("a.j2", "/u/a.j2")
    assert one.get_source_checksum("{{ x }}") != one.get_source_checksum("{{ y }}")


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "json"])
@pytest.mark.parametrize("state", ["empty", "warm", "off", "unwritable"])
def test_no_state_of_the_cache_changes_a_document(tmp_path, monkeypatch, fmt, state):
    expected = scenario_page("toast", "en", fmt)
    folder = tmp_path / "cache"
    if state == "off":
        folder = ""
    elif state == "unwritable":
        (tmp_path / "file").write_text("")
        folder = tmp_path / "file" / "cache"
    monkeypatch.setenv(usercache.ENV_FOLDER, str(folder))
    catalog.cache_clear()
    templating.environment.cache_clear()
    try:
        if state == "warm":
            render(scenario_walk("toast"), fmt, "en")
            catalog.cache_clear()
            templating.environment.cache_clear()
        assert render(scenario_walk("toast"), fmt, "en") == expected
    finally:
        catalog.cache_clear()
        templating.environment.cache_clear()


def test_a_command_writes_nothing_into_the_package(tmp_path):
    """``derive show`` with the cache in its default place (``$XDG_CACHE_HOME/derive``) fills that folder and
    leaves the package's folders as they were."""
    package_files = lambda: {p for p in (ROOT / "derive").rglob("*") if "__pycache__" not in p.parts}  # noqa: E731
    before = package_files()
    environment = {k: v for k, v in os.environ.items() if k != usercache.ENV_FOLDER}
    environment["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    for _ in range(2):  # the second run reads what the first one stored
        done = subprocess.run([sys.executable, "-m", "derive", "show", "toast"], capture_output=True, timeout=120,
                              cwd=tmp_path, env=environment)
        assert done.returncode == 0 and done.stdout == scenario_page("toast", "en").encode("utf-8")
    assert package_files() == before
    stored = {p.name.split("-")[0] for p in (tmp_path / "xdg" / "derive").iterdir()}
    assert stored == {"catalog", "jinja"}


def test_a_cached_catalog_needs_no_toml_parser(tmp_path):
    """The TOML parser (`derive.locales.SOURCES`) is loaded only when the cache has no entry for the files."""
    script = ("import sys; from derive.locales import catalog; text = catalog('en')['title.explain']; "
              "print(text, 'tomllib' in sys.modules, 'derive.locales.sources' in sys.modules)")
    environment = {**os.environ, usercache.ENV_FOLDER: str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                           env=environment).stdout.split() for _ in range(2)]
    title = catalog("en")["title.explain"].split()
    assert runs == [title + ["True", "True"], title + ["False", "False"]]


def test_the_latex_parser_comes_back_from_the_cache_and_survives_damage(cache):
    """The LALR tables (0.3 s to build) are cached; a cached, a damaged and a missing entry parse alike."""
    from derive import latex_grammar
    from derive.verify.syntax import parse_member
    text = r"\frac{\partial E}{\partial y} \cdot \left(y - t\right) \cdot x"

    def parsed():
        latex_grammar._parser.cache_clear()
        parse_member.cache_clear()  # each distinct member is parsed once per process: ask the parser again
        return parse_member(text)

    fresh = parsed()
    entries = [p for p in Path(cache).iterdir() if p.name.startswith("lark-")]
    assert len(entries) == 1
    assert parsed() == fresh  # from the cache
    entries[0].write_bytes(b"not a parser")
    assert parsed() == fresh  # damaged: made again, and stored again
    assert entries[0].read_bytes() != b"not a parser"
    latex_grammar._parser.cache_clear()
