"""Error messages come from the catalogs (issue 13): no `InputError` is raised with a ready English sentence, every
catalog key the code names exists in en and ja with the placeholders the code fills, and a bad input through the
command line gives exactly one line on stderr, in the language of ``--lang``, with exit 2."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import derive
from derive.cli import main
from derive.locales import catalog

PACKAGE = Path(derive.__file__).parent
ERROR_CLASSES = {"InputError", "UsageError"}
SENTENCE_BUILDERS = {"message", "of"}  # message("key", …), InputError.of("key", …)
KANA = re.compile(r"[\u3040-\u30ff]")
ENGLISH_RUN = re.compile(r"(?<![\w'-])[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}(?![\w'-])")


def _calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                found.append((f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", node))
    return found


CALLS = _calls()


def _name(call: ast.Call) -> str | None:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)


def _is_sentence(node: ast.expr) -> bool:
    """A literal sentence: a str constant, an f-string, or text joined from them."""
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return True
    if isinstance(node, ast.BinOp):
        return _is_sentence(node.left) or _is_sentence(node.right)
    if isinstance(node, ast.IfExp):
        return _is_sentence(node.body) or _is_sentence(node.orelse)
    return False


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_scan_sees_sentences():
    """The detector below is not vacuous: it flags each form a literal sentence can take."""
    for source in ('InputError("bad")', 'InputError(f"bad {x}", "at")', 'UsageError("a" + b)',
                   'InputError("a" if c else "b")'):
        assert _is_sentence(ast.parse(source, mode="eval").body.args[0]), source
    for source in ('InputError(message("k"))', "InputError(exc.as_message(), p)", "InputError(problem, where)"):
        assert not _is_sentence(ast.parse(source, mode="eval").body.args[0]), source


def test_no_error_is_raised_with_a_literal_sentence():
    sentences = [where for where, call in CALLS
                 if _name(call) in ERROR_CLASSES and call.args and _is_sentence(call.args[0])]
    assert sentences == [], "InputError with an English sentence instead of a catalog key: " + ", ".join(sentences)


def _keyed_calls() -> list[tuple[str, str, set[str] | None]]:
    """(place, key, the placeholder names given or None when ``**`` hides them) of every catalog sentence the code
    builds with a constant key."""
    keyed = []
    for where, call in CALLS:
        if _name(call) in SENTENCE_BUILDERS and call.args and isinstance(call.args[0], ast.Constant) \
                and isinstance(call.args[0].value, str):
            given = None if any(k.arg is None for k in call.keywords) else {k.arg for k in call.keywords}
            keyed.append((where, call.args[0].value, given))
    return keyed


KEYED = _keyed_calls()


def test_the_code_names_many_keys():
    assert len({key for _, key, _ in KEYED}) > 150


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_key_exists_with_the_placeholders_the_code_fills(lang):
    texts = catalog(lang)
    problems = []
    for where, key, given in KEYED:
        text = texts.get(f"error.{key}")
        if text is None:
            problems.append(f"{where}: error.{key} missing from {lang}")
        elif given is not None and not _fields(text) <= given:
            problems.append(f"{where}: error.{key} needs {sorted(_fields(text) - given)}")
    assert problems == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_keys_built_from_a_prefix_exist(lang):
    """Keys the code builds from a prefix (``network.kind.{kind}``, ``os.{key}``): every entry the code can reach."""
    from derive.files import _OS_REASONS
    from derive.networks.load import TOP_KEYS
    texts = catalog(lang)
    wanted = [f"error.os.{key}" for key in _OS_REASONS.values()]
    wanted += [f"error.network.kind.{kind}" for kind in ("boolean", "string", "list", "table", "number", "date")]
    wanted += [f"error.network.hint.{key}" for key in TOP_KEYS if key != "leaky_slope"]
    wanted += [f"error.optimizer.range_{kind}" for kind in ("at_least", "at_most", "below")]
    assert [key for key in wanted if key not in texts] == []


# --- through the command line --------------------------------------------------------------------------------

BAD_TOML = {
    "missing-key": ('activation = "sigmoid"\nloss = "sse"\n', "missing key 'learning_rate'",
                    "キー 'learning_rate' がありません"),
    "w-columns": ('activation = "sigmoid"\nloss = "sse"\nlearning_rate = 0.1\ninput = [1, 2]\ntarget = [1]\n'
                  '[[layer]]\nW = [[1, 2, 3]]\nb = [0]\n', "layer 2: W has 3 columns but layer 1 (the input) has 2 units",
                  "第 2 層: W は 3 列ですが、第 1 層（入力層）には 2 個のユニットがあります"),
    "cell": ('activation = "sigmoid"\nloss = "sse"\nlearning_rate = 0.1\ninput = [1]\ntarget = [1]\n'
             '[[layer]]\nW = [["a"]]\nb = [0]\n', "layer 2: W row 1, column 1: expected a number, got a string",
             "第 2 層の W の 1 行 1 列: 数を書いてください（文字列が書かれています）"),
    "empty": ("\n", "the network file is empty", "ネットワークのファイルが空です"),
    "toml": ("a = \n", "not valid TOML: Invalid value (at line 1, column 5)",
             "TOML として正しくありません（1 行 5 列目）：値が正しくありません"),
}


def _prepare(tmp: Path) -> None:
    """The files the cases read."""
    (tmp / "latin1.txt").write_bytes(b"x*y\n\xe9\n")
    (tmp / "empty.md").write_text("", encoding="utf-8")
    (tmp / "nul.md").write_bytes(b"x\n\x00")
    for folder, text in (("power", "# {{ title }}\n{{ 10 ** 100000 }}\n"),
                         ("loop", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}\n")):
        (tmp / folder / "markdown").mkdir(parents=True)
        (tmp / folder / "markdown" / "walkthrough.md.j2").write_text(text, encoding="utf-8")
    for name, (text, _, _) in BAD_TOML.items():
        (tmp / f"{name}.toml").write_text(text, encoding="utf-8")


def _cases(tmp: Path) -> list[tuple[list[str], str, str]]:
    """(argv, English fragment, Japanese fragment) of bad inputs, each with a message of its own."""
    point = ["explain", "x*y", "--at", "x=1,y=2"]
    cases = [
        (["explain", "x*y", "--at", "x=1"], "--at: no value for 'y'", "--at: 'y' の値がありません"),
        (["explain", "x*y", "--at", "x"], "--at: expected NAME=VALUE, got 'x'", "名前=値 の形で書いてください"),
        (["explain", "x*y", "--at", "x=1,y=2,x=3"], "'x' is given twice", "'x' が 2 回指定されています"),
        (["explain", "x*y", "--at", "x=1,y=2,z=3"], "'z' is not a leaf of the graph",
         "'z' はグラフの葉ノードではありません"),
        (["explain", "x*y", "--at", "x=a,y=2"], "--at x: 'a' is not a number", "'a' は数ではありません"),
        (["explain", "x*y", "--wrt", "z"], "--wrt: 'z' is not a leaf", "--wrt: 'z' はグラフの葉ノードではありません"),
        (point + ["--step", "lr=0"], "--step: lr must be positive, got 0", "lr は正の数にしてください"),
        (point + ["--step", "steps=2"], "the learning rate lr=VALUE is required", "学習率 lr=値 が必要です"),
        (point + ["--step", "lr=1,steps=0"], "steps must be a whole number from 1 to",
         "steps は 1 から"),
        (point + ["--step", "lr=1,beta1=0.9"], "'beta1' is a setting of --optimizer adam",
         "'beta1' は --optimizer adam の設定です"),
        (point + ["--optimizer", "adam"], "--optimizer adam needs the learning rate",
         "--optimizer adam には学習率 lr=値 が必要です"),
        (point + ["--optimizer", "adam", "--step", "lr=1,beta2=1"], "beta2 must be at least 0 and below 1, got 1",
         "beta2 は 0 以上 1 未満にしてください"),
        (point + ["--optimizer", "rmsprop", "--step", "lr=1,ruby=1"], "unknown key 'ruby' for --optimizer rmsprop",
         "--optimizer rmsprop に 'ruby' という項目はありません"),
        (["explain", "x*y+x*y+x*y", "--at", "x=1,y=2", "--step", "lr=0.001,steps=1000"],
         "--step: steps × operations is at most 4000; got 1000 × 5 = 5000 (take at most 800 steps on this graph)",
         "--step: ステップ数 × 演算の数は 4000 までです。1000 × 5 = 5000 になっています（このグラフでは 800 ステップまでにしてください）"),
        (["explain", "log(x)", "--at", "x=-1"], "is not a finite real number at the given point",
         "が有限の実数になりません"),
        (["explain", "@" + str(tmp / "missing.txt")], "no such file or directory",
         "そのようなファイルやフォルダはありません"),
        (["explain", "@" + str(tmp)], "it is a folder, not a file", "ファイルではなくフォルダです"),
        (["explain", "@" + str(tmp / "latin1.txt")], "line 2: not UTF-8 text (byte 4)",
         "の 2 行目が UTF-8 のテキストではありません（4 バイト目）"),
        (["explain", "x", "-o", str(tmp) + "/"], "is not a file name (it names a folder)",
         "はファイル名ではありません（フォルダを指しています）"),
        (["explain", "x", "-o", str(tmp / "no" / "out.md")], "does not exist", "がありません"),
        (["explain", "x", "--templates", str(tmp / "missing")], "--templates: ", "はフォルダではありません"),
        (["explain", "x", "--network", str(tmp / "empty.toml")], "takes no EXPR_OR_PROGRAM",
         "--network には EXPR_OR_PROGRAM を付けられません"),
        (["show", "toast", "--templates", str(tmp / "power")],
         "walkthrough.md.j2, line 2: 10 ** 100000 is too large for a template",
         "walkthrough.md.j2 の 2 行目: 10 ** 100000 はテンプレートで扱うには大きすぎます"),
        (["show", "toast", "--templates", str(tmp / "loop")], "the template recurses too deeply",
         "テンプレートの再帰が深すぎます"),
        (["show", "nope"], "unknown scenario 'nope'", "'nope' というシナリオはありません"),
        (["show", "sigmoid-sse", "--optimizer", "adam"], "apply only to", "を使えるのは"),
        (["show", "toast", "--optimizer", "adam", "--step", "lr=1"], "keeps the scenario's learning rate",
         "本文に書かれた学習率"),
        (["exercise", "toast", "--blanks", "0"], "--blanks: expected a whole number of at least 1",
         "--blanks: 1 以上の整数にしてください"),
        (["exercise", "toast", "--seed", "-1"], "--seed: expected a whole number", "--seed: 0 から 2**63 - 1"),
        (["verify", str(tmp / "empty.md")], "the document is empty", "文書が空です"),
        (["verify", str(tmp / "nul.md")], "nul.md, line 2: the document contains NUL bytes",
         "nul.md の 2 行目: 文書に NUL バイトが含まれています"),
        (["verify", str(tmp / "missing.md")], "cannot read", "を読めません"),
        (["verify", str(tmp / "nul.md"), "--time-limit", "0"], "--time-limit must be between",
         "--time-limit は 0 秒より長く"),
    ]
    cases += [(["explain", "--network", str(tmp / f"{name}.toml")], en, ja) for name, (_, en, ja) in BAD_TOML.items()]
    return cases + USAGE_CASES


USAGE_CASES = [  # argparse's own errors, which come before --lang is parsed
    (["explain", "x", "--bogus"], "unrecognized arguments: --bogus (see 'derive --help')",
     "--bogus は使えない引数です（'derive --help' を見てください）"),
    (["show"], "the following arguments are required: SCENARIO (see 'derive show --help')",
     "SCENARIO を指定してください（'derive show --help' を見てください）"),
    (["show", "toast", "--format", "pdf"], "argument --format/-f: invalid choice: 'pdf' (choose from 'markdown', ",
     "--format/-f: 'pdf' は選べません。'markdown', 'latex', 'beamer', 'html', 'json' のどれかにしてください"),
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'", "COMMAND: 'frobnicate' は選べません"),
    (["explain", "x", "--at"], "argument --at: expected one argument", "--at: 値を 1 つ指定してください"),
    (["verify", "notes.md", "--time-limit", "soon"], "argument --time-limit: invalid float value: 'soon'",
     "--time-limit: 'soon' は float の値として読めません"),
    (["show", "toast", "-q", "-v"], "argument -v/--verbose: not allowed with argument -q/--quiet",
     "-v/--verbose: -q/--quiet と一緒には使えません"),
    (["exercise", "toast", "--key=yes"], "argument --key: ignored explicit argument 'yes'",
     "--key: 値 'yes' は付けられません"),
    (["--ver"], "ambiguous option: --ver could match --version, --verbose",
     "--ver は --version, --verbose のどれを指すのか決まりません（略さずに書いてください）"),
]


CASE_COUNT = len(_cases(Path("/nonexistent")))


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("index", range(CASE_COUNT))
def test_bad_input_is_one_line_in_the_language_asked_for(index, lang, tmp_path, capsys):
    _prepare(tmp_path)
    argv, english, japanese = _cases(tmp_path)[index]
    code = main(argv + ["--lang", lang])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("derive: error: ")
    line = err[len("derive: error: "):-1]
    if lang == "ja":
        assert japanese in line
        assert KANA.search(line), line
        quoted = re.sub(r"'[^']*'|\"[^\"]*\"|" + re.escape(str(tmp_path)) + r"\S*", "", line)
        assert ENGLISH_RUN.findall(quoted) == [], line
    else:
        assert english in line
        assert not KANA.search(line), line


def test_the_same_error_in_the_api_speaks_english_and_names_parameters():
    with pytest.raises(derive.InputError) as info:
        derive.explain("x*y", at="x=1")
    assert str(info.value) == "at: no value for 'y' (give every leaf a value, or leave out `at` for a symbolic walk)"
    assert info.value.render("ja").startswith("at: 'y' の値がありません")


@pytest.mark.parametrize("text", ["a = ", "a = 1\na = 2", 'a = "x', "[x", "a = [1,", "a = {b=1", "a = 1 2", "[[x]",
                                  'a = "\\q"', "a = 1979-05-32", "x", "a = {b=1, b=2}", "a = 1\n[a]", "a = \"\\uD800\""])
def test_toml_syntax_errors_are_told_in_japanese(text):
    """tomllib's English descriptions each have a catalog entry: the Japanese line keeps none of their words."""
    from derive.networks.load import load_network
    with pytest.raises(derive.InputError) as info:
        load_network(text + "\n", "net.toml")
    english, japanese = str(info.value), info.value.render("ja")
    assert english.startswith("net.toml: not valid TOML: "), english
    assert japanese.startswith("net.toml: TOML として正しくありません"), japanese
    assert ENGLISH_RUN.findall(re.sub(r"'[^']*'", "", japanese)) == [], japanese


# --- argparse's errors and the CLI's own lines -----------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_argparse_problem_has_a_sentence_with_its_parts(lang):
    """The keys `usage_problem` builds from its table (not seen by the scan above): each exists, and its placeholders
    are the parts the pattern keeps."""
    from derive.cli import ARGPARSE_PROBLEMS
    texts = catalog(lang)
    for pattern, key in ARGPARSE_PROBLEMS:
        assert _fields(texts[f"error.cli.argparse.{key}"]) == set(pattern.groupindex), key


def test_a_problem_argparse_words_otherwise_is_kept_as_it_is():
    from derive.cli import usage_problem
    assert usage_problem("a problem argparse words in a way not listed") == "a problem argparse words in a way not listed"
    nested = usage_problem("argument --at: a problem argparse words in a way not listed")
    assert nested.render("ja") == "--at: a problem argparse words in a way not listed"


SCENARIO_MISSING_JA = "derive: error: SCENARIO を指定してください（'derive show --help' を見てください）\n"


@pytest.mark.parametrize("spelling, expected", [
    *((spelling, SCENARIO_MISSING_JA) for spelling in (["--lang", "ja"], ["--lang=ja"], ["-l", "ja"], ["-lja"],
                                                        ["-l=ja"], ["--la", "ja"])),
    (["--lang", "fr", "-l", "ja"], "derive: error: --lang/-l: 'fr' は選べません。'en', 'ja' のどれかにしてください"
                                   "（'derive show --help' を見てください）\n"),  # the last known language counts
])
def test_the_language_of_a_usage_error_is_read_in_every_spelling(spelling, expected, capsys):
    assert main(["show", *spelling]) == 2
    assert capsys.readouterr().err == expected


@pytest.mark.parametrize("spelling", [[], ["--lang", "fr"], ["--", "--lang", "ja"], ["--lang"]])
def test_without_a_known_language_a_usage_error_is_english(spelling, capsys):
    assert main(["explain", "x", "--bogus", *spelling]) == 2
    err = capsys.readouterr().err
    assert err.startswith("derive: error: ") and err.count("\n") == 1 and not KANA.search(err), err


FAILURES = [  # what a command raised, the exit code, and the line in en and ja
    (RecursionError(), 2, "error: the input is too large or too deeply nested", "error: 入力が大きすぎるか、入れ子が深すぎます"),
    (MemoryError(), 2, "error: the input is too large or too deeply nested", "error: 入力が大きすぎるか、入れ子が深すぎます"),
    (RuntimeError("boom"), 3, "internal error: RuntimeError: boom (run with --debug for details)",
     "内部エラーです：RuntimeError: boom（詳しくは --debug を付けて実行してください）"),
    (KeyboardInterrupt(), 130, "interrupted", "中断しました"),
]


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("failure, code, english, japanese", FAILURES)
def test_failures_outside_the_catalog_errors_are_told_in_the_language(failure, code, english, japanese, lang,
                                                                       monkeypatch, capsys):
    def fail(name):
        raise failure

    monkeypatch.setattr("derive.cli.build", fail)
    assert main(["show", "toast", "--lang", lang]) == code
    assert capsys.readouterr() == ("", f"derive: {english if lang == 'en' else japanese}\n")


def test_what_was_written_and_checked_is_told_in_the_language(tmp_path, capsys):
    target = tmp_path / "a.json"
    argv = ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--format", "json", "-o", str(target), "-v"]
    assert main(argv + ["--lang", "ja"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"derive: {target} を書き出しました",
        "derive: 局所的な微分 4 個を sympy.diff と照合し、与えられた点で勾配 5 個を記号計算のオラクルと照合しました"]
    assert main(["explain", "relu(x)", "--at", "x=0", "-o", str(target), "-v"]) == 0
    assert capsys.readouterr().err.splitlines()[1] == ("derive: checked 0 local gradients against sympy.diff; the "
                                                       "gradients were not compared with an oracle at this point (a kink)")
