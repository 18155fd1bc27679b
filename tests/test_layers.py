"""The layered package (issue 14): every module of derive/ is parsed with ``ast`` and its imports are held to
the layer table below. Zero exceptions are listed; a violation names the file, the line and the imported name.

Checks: (a) no import from a higher layer, and the three model packages do not import each other; (b) no import
cycle between modules, even within a layer; (c) no import inside a function or method, except in cli.py and of the
optional third-party tools in DEFERRABLE; (d) no private name (``_x``) taken from another derive module; (e) every
module sits in a layer (and every entry of the table still names a module or package).

Imports under ``if TYPE_CHECKING:`` are dependencies too (a type from a higher layer is an upward arrow) and count
like any other; they sit at module level, so (c) never sees them. Only import statements are read, not
``importlib.import_module``.

The checker is run on synthetic module trees as well (the ``test_checker_*`` tests), so that each check is shown to
catch what it should.
"""
from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "derive"

Layers = Sequence[tuple[str, Sequence[str]]]

# Lowest first. An entry is a module (``errors`` for errors.py), a package with everything in it (``present``), or
# ``__init__``/``__main__`` for the package's own files. A module may import from its own layer or lower ones.
LAYERS: Layers = (
    ("base", ("errors", "notation", "files", "clock", "usercache", "locales")),
    ("rules", ("rules", "syntax_tree", "latex_grammar")),
    ("engine", ("graph", "input_syntax", "parse", "latex_input", "sympy_input", "backward", "check", "optimizers",
                "walkthrough")),
    ("models", ("scenarios", "networks", "verify")),
    ("present", ("present",)),
    ("front", ("api", "documents", "gallery", "buildcache", "magic", "cli", "verify_run", "__init__", "__main__")),
)
APART = ("scenarios", "networks", "verify")
"""Entries of one layer that must not import each other (the models are built on the engine, side by side)."""

DEFERRABLE = frozenset({"matplotlib", "markdown", "latex2mathml", "jinja2", "markupsafe", "lark", "torch", "IPython",
                        "shtab", "numpy"})
"""Optional third-party tools that may be imported inside a function, where start-up time matters."""
DEFERRING_MODULES = ("cli",)
"""Entries whose functions may import anything (the CLI imports a command's code only when it runs)."""


# ---------------------------------------------------------------------------------------------------------------
# Reading a package


@dataclass(frozen=True)
class Import:
    """One imported name (or module) of one import statement."""

    importer: str  # dotted module name of the file holding the statement
    file: str  # its path, relative to the folder holding the package
    line: int
    target: str  # the dotted module the name comes from (the module itself for ``import m`` or a submodule)
    name: str  # the name as written after ``import``, or the module path for ``import a.b``
    module: bool  # the name is a module (``import a.b``, or ``from a import b`` of a submodule b)
    deferred: bool  # inside a function or method



@dataclass(frozen=True)
class Access:
    """``module._name``: an attribute of an imported module of the package, read in another module."""

    importer: str
    file: str
    line: int
    target: str
    name: str


@dataclass(frozen=True, repr=False)
class Tree:
    """A package's modules (dotted name -> file), its packages, and every import statement in it."""

    root: Path  # the folder holding the package
    package: str
    modules: dict[str, Path]
    packages: frozenset[str]
    imports: tuple[Import, ...]
    accesses: tuple[Access, ...]

    def __repr__(self) -> str:
        return f"<Tree {self.package}: {len(self.modules)} modules, {len(self.imports)} imports>"

    def internal(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    def internal_imports(self) -> Iterator[Import]:
        return (i for i in self.imports if self.internal(i.target))


def read_tree(package_dir: Path) -> Tree:
    """Parse every ``.py`` file under ``package_dir`` (the package's folder; its name is the package's name)."""
    package = package_dir.name
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(package_dir, f): f for f in files}
    packages = frozenset(module_name(package_dir, f.parent / "__init__.py") for f in files)
    imports: list[Import] = []
    accesses: list[Access] = []
    for name, path in modules.items():
        reader = _Reader(name, path.name == "__init__.py", str(path.relative_to(package_dir.parent)),
                         set(modules) | packages)
        reader.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        imports += reader.imports
        accesses += reader.accesses
    return Tree(package_dir.parent, package, modules, packages, tuple(imports), tuple(accesses))


def module_name(package_dir: Path, path: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class _Reader(ast.NodeVisitor):
    """Collects the imports of one module: resolved (relative ones too), with where they sit."""

    def __init__(self, module: str, is_package: bool, file: str, known: set[str]) -> None:
        self.module, self.file, self.known = module, file, known
        self.here = module if is_package else module.rpartition(".")[0]  # what "from . import" names
        self.functions = 0
        self.imports: list[Import] = []
        self.accesses: list[Access] = []
        self.bound: dict[str, str] = {}  # local name -> module of the package it stands for

    def _add(self, node: ast.stmt, target: str, name: str, module: bool) -> None:
        self.imports.append(Import(self.module, self.file, node.lineno, target, name, module, self.functions > 0))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name, alias.name, True)
            if alias.asname:
                self.bound[alias.asname] = alias.name
            else:
                top = alias.name.partition(".")[0]
                self.bound[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in self.known:
                self._add(node, submodule, alias.name, True)
                self.bound[alias.asname or alias.name] = submodule
            else:
                self._add(node, base, alias.name, False)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        module = self._module_of(node.value)
        if module is not None:
            dotted = f"{module}.{node.attr}"
            if dotted not in self.known:
                self.accesses.append(Access(self.module, self.file, node.lineno, module, node.attr))
        self.generic_visit(node)

    def _module_of(self, node: ast.expr) -> str | None:
        """The module of the package an expression such as ``api`` or ``derive.api`` stands for, if it is one."""
        if isinstance(node, ast.Name):
            return self.bound.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self._module_of(node.value)
            if parent is not None and f"{parent}.{node.attr}" in self.known:
                return f"{parent}.{node.attr}"
        return None


# ---------------------------------------------------------------------------------------------------------------
# The checks; each returns its violations as lines of text (empty: none)


def _lines(found: list[tuple[Import, str]]) -> list[str]:
    """One line per import statement and note: ``file:line: importer imports a, b from target (note)``."""
    names: dict[tuple[str, int, str, str, str], list[str]] = {}
    for i, note in found:
        names.setdefault((i.file, i.line, i.importer, i.target, note), []).append(i.name)
    lines = []
    for (file, line, importer, target, note), imported in names.items():
        what = target if imported == [target] else f"{', '.join(imported)} from {target}"
        lines.append(f"{file}:{line}: {importer} imports {what}" + (f" ({note})" if note else ""))
    return lines


def entry_of(tree: Tree, module: str) -> str:
    """The layer-table entry a module belongs to: the first part of its name inside the package."""
    if module == tree.package:
        return "__init__"
    return module[len(tree.package) + 1:].split(".")[0]


def layer_of(tree: Tree, module: str, layers: Layers) -> int | None:
    entry = entry_of(tree, module)
    return next((rank for rank, (_, entries) in enumerate(layers) if entry in entries), None)


def upward_imports(tree: Tree, layers: Layers, apart: Sequence[str] = ()) -> list[str]:
    """(a) imports from a higher layer, and imports between entries that must stay apart."""
    found: list[tuple[Import, str]] = []
    for i in tree.internal_imports():
        low, high = layer_of(tree, i.importer, layers), layer_of(tree, i.target, layers)
        if low is None or high is None:
            continue  # an unplaced module is reported by unplaced_modules
        entries = {entry_of(tree, i.importer), entry_of(tree, i.target)}
        if high > low:
            found.append((i, f"{layers[high][0]} is above {layers[low][0]}"))
        elif len(entries) == 2 and entries <= set(apart):
            found.append((i, f"{', '.join(apart)} do not import each other"))
    return _lines(found)


def import_cycles(tree: Tree) -> list[str]:
    """(b) every strongly connected set of modules: one shortest cycle, then every import between its members."""
    edges: dict[str, dict[str, list[Import]]] = {m: {} for m in tree.modules}
    for i in tree.internal_imports():
        if i.target in tree.modules and i.target != i.importer:
            edges[i.importer].setdefault(i.target, []).append(i)
    found = []
    for component in _strongly_connected({m: sorted(t) for m, t in edges.items()}):
        if len(component) < 2:
            continue
        members = set(component)
        cycle = _shortest_cycle(min(component), {m: [t for t in edges[m] if t in members] for m in members})
        found.append(f"cycle of {len(component)} modules: {' -> '.join(cycle)}; the imports that close it:")
        for importer in sorted(members):
            closing = sorted((i for target in edges[importer] if target in members for i in edges[importer][target]),
                             key=lambda i: i.line)
            found += ["  " + line for line in _lines([(i, "") for i in closing])]
    return found


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph[successor])))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(start: str, graph: dict[str, list[str]]) -> list[str]:
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node]):
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    raise AssertionError(f"{start} is on no cycle")


def deferred_imports(tree: Tree, deferring: Sequence[str] = (), deferrable: frozenset[str] = frozenset()) -> list[str]:
    """(c) imports inside a function or method, outside the ``deferring`` modules, of anything but ``deferrable``."""
    return _lines([(i, "inside a function") for i in tree.imports
                   if i.deferred and entry_of(tree, i.importer) not in deferring
                   and (tree.internal(i.target) or i.target.partition(".")[0] not in deferrable)])


def private_imports(tree: Tree) -> list[str]:
    """(d) a private name of one module used in another: imported, reached as ``module._name``, or a private
    module imported from outside its own package."""
    found: list[tuple[Import, str]] = []
    for i in tree.internal_imports():
        if i.target == i.importer:
            continue
        if not i.module and _private(i.name):
            found.append((i, "a private name"))
        elif _private_module_outside(i.target, i.importer):
            found.append((i, "a private module, imported from outside its package"))
    return _lines(found) + [f"{a.file}:{a.line}: {a.importer} uses the private {a.target}.{a.name}"
                            for a in tree.accesses
                            if tree.internal(a.target) and _private(a.name) and a.target != a.importer]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_module_outside(target: str, importer: str) -> bool:
    """``target`` is (inside) a private module ``p._m``, and ``importer`` is not in package ``p``."""
    parts = target.split(".")
    for depth, part in enumerate(parts):
        if _private(part):
            owner = ".".join(parts[:depth])
            return not (importer == owner or importer.startswith(owner + "."))
    return False


def unplaced_modules(tree: Tree, layers: Layers) -> list[str]:
    """(e) modules in no layer."""
    return [f"{path.relative_to(tree.root)}: {module} is in no layer (add it to LAYERS)"
            for module, path in tree.modules.items() if layer_of(tree, module, layers) is None]


def stale_entries(tree: Tree, layers: Layers) -> list[str]:
    """Entries of the table that name no module or package (left behind by a move)."""
    present = {entry_of(tree, m) for m in tree.modules}
    return [f"LAYERS names {entry} ({name}), which is not in {tree.package}/"
            for name, entries in layers for entry in entries if entry not in present]


# ---------------------------------------------------------------------------------------------------------------
# derive itself


@pytest.fixture(scope="module")
def derive_tree() -> Tree:
    return read_tree(ROOT / PACKAGE)


CHECKS = {  # id: (what a violation is, the check on derive)
    "upward": ("(a) imports from a higher layer, or between models", lambda tree: upward_imports(tree, LAYERS, APART)),
    "cycles": ("(b) lines on import cycles", import_cycles),
    "deferred": ("(c) imports inside functions",
                 lambda tree: deferred_imports(tree, DEFERRING_MODULES, DEFERRABLE)),
    "private": ("(d) private names taken from another module", private_imports),
    "unplaced": ("(e) modules outside the layer table, or stale entries",
                 lambda tree: unplaced_modules(tree, LAYERS) + stale_entries(tree, LAYERS)),
}


@pytest.mark.parametrize("check", CHECKS)
def test_derive_holds_the_layers(derive_tree, check):
    what, find = CHECKS[check]
    violations = find(derive_tree)
    assert not violations, f"{len(violations)} {what}:\n" + "\n".join(violations)


def test_the_reader_sees_the_whole_package(derive_tree):
    """Guards the checks above against passing on an empty or misread tree."""
    assert len(derive_tree.modules) >= 40
    assert {"derive", "derive.cli", "derive.present.render", "derive.verify"} <= set(derive_tree.modules)
    assert "derive.present" in derive_tree.packages  # a folder without __init__.py is still a package
    graph_imports = {(i.target, i.name) for i in derive_tree.imports if i.importer == "derive.graph"}
    assert ("derive.rules", "RULES") in graph_imports and ("derive.errors", "InputError") in graph_imports


# ---------------------------------------------------------------------------------------------------------------
# The checker on synthetic trees: each check catches what it should, and nothing else

TOY_LAYERS: Layers = (("low", ("base", "util", "models_a", "models_b")), ("mid", ("engine",)),
                      ("top", ("front", "__init__")))


def make_tree(root: Path, files: dict[str, str]) -> Tree:
    """A package ``pkg`` under ``root`` from {relative path: source}; returns it read."""
    for relative, source in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return read_tree(root / "pkg")


CLEAN = {
    "__init__.py": "from .front import run\n",
    "base.py": "import json\n\nVALUE = 1\n",
    "util.py": "from .base import VALUE\nfrom . import base\n",
    "engine/__init__.py": "from .core import step\n",
    "engine/core.py": "from ..base import VALUE\nfrom ..util import VALUE as V\n\ndef step():\n    return VALUE\n",
    "engine/extra.py": "from . import core\nfrom .core import step\nimport pkg.base\n\nX = pkg.base.VALUE\n",
    "front.py": ("from typing import TYPE_CHECKING\nfrom .engine import step\nfrom .engine.core import step as s\n"
                 "if TYPE_CHECKING:\n    from .base import VALUE\n\ndef run():\n    import numpy\n    return step()\n"),
    "models_a/__init__.py": "from ._helpers import helper\n",
    "models_a/_helpers.py": "def helper():\n    return 1\n",
    "models_b/__init__.py": "from ..base import VALUE\n",
}


def test_checker_passes_a_clean_tree(tmp_path):
    tree = make_tree(tmp_path, CLEAN)
    assert upward_imports(tree, TOY_LAYERS, ("models_a", "models_b")) == []
    assert import_cycles(tree) == []
    assert deferred_imports(tree, (), frozenset({"numpy"})) == []
    assert private_imports(tree) == []
    assert unplaced_modules(tree, TOY_LAYERS) == []
    assert stale_entries(tree, TOY_LAYERS) == []


@pytest.mark.parametrize("relative, source, target", [
    ("base.py", "from .engine import step\n", "pkg.engine"),  # from a package's __init__
    ("base.py", "from .engine.core import step\n", "pkg.engine.core"),
    ("base.py", "from . import front\n", "pkg.front"),  # a module named by ``from . import``
    ("base.py", "import pkg.front\n", "pkg.front"),  # absolute
    ("base.py", "from pkg.engine import core\n", "pkg.engine.core"),
    ("models_a/__init__.py", "from ..engine import core\n", "pkg.engine.core"),  # two dots, from a package
    ("engine/core.py", "from .. import run\n", "pkg"),  # the name from pkg/__init__.py, a higher layer
    ("engine/core.py", "from ..front import run\n", "pkg.front"),
    ("util.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .front import run\n", "pkg.front"),
    ("util.py", "def later():\n    from .front import run\n", "pkg.front"),
])
def test_checker_finds_an_upward_import(tmp_path, relative, source, target):
    tree = make_tree(tmp_path, {**CLEAN, relative: CLEAN.get(relative, "") + source})
    found = upward_imports(tree, TOY_LAYERS)
    line = CLEAN.get(relative, "").count("\n") + source.count("\n")
    assert len(found) == 1 and found[0].startswith(f"pkg/{relative}:{line}: "), found
    assert f" from {target} (" in found[0] or found[0].endswith(f" imports {target} (top is above low)")
    assert "is above" in found[0]


def test_checker_keeps_apart_entries_apart(tmp_path):
    tree = make_tree(tmp_path, {**CLEAN, "models_b/__init__.py": "from ..models_a import helper\n"})
    assert upward_imports(tree, TOY_LAYERS) == []  # same layer: fine by the order alone
    assert upward_imports(tree, TOY_LAYERS, ("models_a", "models_b")) == [
        "pkg/models_b/__init__.py:1: pkg.models_b imports helper from pkg.models_a (models_a, models_b do not "
        "import each other)"]


def test_checker_finds_cycles_within_a_layer_and_through_packages(tmp_path):
    tree = make_tree(tmp_path, {
        **CLEAN,
        "base.py": "from .util import X\n",  # base -> util -> base: both in the lowest layer
        "util.py": "X = 1\n\ndef f():\n    from . import base\n",  # deferred imports close cycles too
        "engine/__init__.py": "from .core import step\n",
        "engine/core.py": "from .extra import Y\n\ndef step():\n    pass\n",
        "engine/extra.py": "from . import step\nY = 1\n",  # extra -> engine (its __init__) -> core -> extra
    })
    found = import_cycles(tree)
    assert found == [
        "cycle of 2 modules: pkg.base -> pkg.util -> pkg.base; the imports that close it:",
        "  pkg/base.py:1: pkg.base imports X from pkg.util",
        "  pkg/util.py:4: pkg.util imports base from pkg.base",
        "cycle of 3 modules: pkg.engine -> pkg.engine.core -> pkg.engine.extra -> pkg.engine; the imports that "
        "close it:",
        "  pkg/engine/__init__.py:1: pkg.engine imports step from pkg.engine.core",
        "  pkg/engine/core.py:1: pkg.engine.core imports Y from pkg.engine.extra",
        "  pkg/engine/extra.py:1: pkg.engine.extra imports step from pkg.engine",
    ]


def test_checker_cycle_needs_a_real_loop(tmp_path):
    # a diamond is not a cycle; nor is a package whose __init__ imports a submodule that imports a sibling
    tree = make_tree(tmp_path, {**CLEAN, "util.py": "from . import base\n",
                                "engine/extra.py": "from .. import base, util\nfrom .core import step\n"})
    assert import_cycles(tree) == []


def test_checker_finds_imports_inside_functions(tmp_path):
    tree = make_tree(tmp_path, {
        **CLEAN,
        "util.py": ("import json\n\nclass C:\n    def method(self):\n        import numpy\n        from . import base\n"
                    "\n\nasync def g():\n    import json\n\n"
                    "def h():\n    def inner():\n        import matplotlib.pyplot\n"),
        "front.py": "def main():\n    from .engine import step\n    import json\n",
    })
    assert deferred_imports(tree, ("front",), frozenset({"numpy"})) == [
        "pkg/util.py:6: pkg.util imports base from pkg.base (inside a function)",
        "pkg/util.py:10: pkg.util imports json (inside a function)",
        "pkg/util.py:14: pkg.util imports matplotlib.pyplot (inside a function)",
    ]
    assert len(deferred_imports(tree, (), frozenset())) == 6  # numpy and front's two as well


def test_checker_finds_private_names(tmp_path):
    tree = make_tree(tmp_path, {
        **CLEAN,
        "base.py": "_SECRET = 1\nVALUE = 2\n__all__ = ['VALUE']\n",
        "util.py": ("from .base import _SECRET, VALUE, __all__\nfrom . import base\nimport pkg.base as b\n"
                    "import pkg\n\nX = base._SECRET + b._SECRET + pkg.base._SECRET + base.VALUE\n"),
        "engine/core.py": "from ..models_a._helpers import helper\n\ndef step():\n    pass\n",
        "engine/extra.py": "from ..models_a import _helpers\n",
    })
    assert private_imports(tree) == [
        "pkg/engine/core.py:1: pkg.engine.core imports helper from pkg.models_a._helpers (a private module, "
        "imported from outside its package)",
        "pkg/engine/extra.py:1: pkg.engine.extra imports _helpers from pkg.models_a._helpers (a private module, "
        "imported from outside its package)",
        "pkg/util.py:1: pkg.util imports _SECRET from pkg.base (a private name)",
        "pkg/util.py:6: pkg.util uses the private pkg.base._SECRET",
        "pkg/util.py:6: pkg.util uses the private pkg.base._SECRET",
        "pkg/util.py:6: pkg.util uses the private pkg.base._SECRET",
    ]


def test_checker_finds_unplaced_modules_and_stale_entries(tmp_path):
    tree = make_tree(tmp_path, {**CLEAN, "newcomer.py": "", "engine/inner.py": ""})
    assert unplaced_modules(tree, TOY_LAYERS) == ["pkg/newcomer.py: pkg.newcomer is in no layer (add it to LAYERS)"]
    gone = (*TOY_LAYERS, ("extra", ("removed",)))
    assert stale_entries(tree, gone) == ["LAYERS names removed (extra), which is not in pkg/"]
    assert upward_imports(make_tree(tmp_path / "b", {**CLEAN, "base.py": "from .newcomer import x\n",
                                                     "newcomer.py": ""}), TOY_LAYERS) == []
