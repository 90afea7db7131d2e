"""Meta tests: the framework's promises that no single unit test would notice breaking.

- validating a recipe never imports torch;
- every hook is documented and exercised by some test;
- every component kind has a contract module and, once used, a built-in.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from compose.hookspecs import ComposeHookSpecs
from compose.registry import KINDS

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

_CHECK = """
import sys
sys.path.insert(0, {plugin_dir!r})
from pathlib import Path
import testplugin
from compose.plugins import load_plugins
from compose.recipe import RecipeError, load_recipe
loaded = load_recipe({recipe!r}, ["critic.lr=1e-4"],
                     plugins=load_plugins(extra=[("testplugin", testplugin)], entry_points=False))
assert loaded.recipe.name
real = load_plugins()
for path in sorted(Path({recipes!r}).glob("*.yaml")):
    try:
        load_recipe(path, plugins=real)
    except RecipeError:
        pass  # validity is tests/recipes' business; here only imports matter
heavy = sorted(m for m in ("torch", "gymnasium", "mujoco", "minari", "aim") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def test_validation_does_not_import_torch() -> None:
    code = _CHECK.format(
        plugin_dir=str(TESTS / "recipes"),
        recipe=str(TESTS / "recipes" / "valid" / "child.yaml"),
        recipes=str(ROOT / "recipes"),
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")][-1]
    assert "torch" not in line.split("=", 1)[1].split(","), line


def _hooks() -> list[str]:
    return [
        n
        for n, _ in inspect.getmembers(ComposeHookSpecs, inspect.isfunction)
        if n.startswith("compose_")
    ]


def _implemented_hooks() -> set[str]:
    """Hook names that a test module implements in code: a function of that name, or a
    keyword argument of that name (``SimpleNamespace(compose_x=hookimpl(...))``).

    Parsed, not grepped: a hook named only in a comment or a string does not count.
    """
    me = Path(__file__).resolve()
    names: set[str] = set()
    for path in TESTS.rglob("*.py"):
        if path.resolve() == me:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
    return names


def test_there_are_hooks() -> None:
    assert len(_hooks()) >= 3


@pytest.mark.parametrize("hook", _hooks())
def test_hook_is_documented(hook: str) -> None:
    doc = inspect.getdoc(getattr(ComposeHookSpecs, hook)) or ""
    assert len(doc.split()) >= 5, f"hook {hook} needs a docstring saying when it is called"


@pytest.mark.parametrize("hook", _hooks())
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    assert hook in _implemented_hooks(), f"no test implements hook {hook}"


#: Kinds whose runtime contract lives outside compose/kinds (dataset sources: compose.data).
_CONTRACT_ELSEWHERE = {"dataset": ROOT / "compose" / "data" / "__init__.py"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_kind_has_a_contract_module(kind: str) -> None:
    path = _CONTRACT_ELSEWHERE.get(kind, ROOT / "compose" / "kinds" / f"{kind}.py")
    assert path.is_file(), f"kind {kind} has no contract module ({path.relative_to(ROOT)})"
    text = path.read_text()
    assert text.lstrip().startswith(('"""', "'''")), f"{path.name} needs a module docstring"


@pytest.mark.parametrize("kind", list(KINDS))
def test_used_kind_has_a_builtin(kind: str) -> None:
    from compose.plugins import load_plugins

    specs = load_plugins().registry.specs(kind)
    if not specs:
        pytest.skip(f"no {kind} component registered yet")
    assert any(s.origin == "compose-rl" for s in specs), (
        f"kind {kind} is only provided by plugins: {[s.origin for s in specs]}"
    )


def _imports_a_test_module(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            last = (node.module or "").rsplit(".", 1)[-1]
            if node.level > 0 or (
                (node.module or "").startswith("tests.") and last.startswith(("test_", "conftest"))
            ):
                return True
    return False


def test_test_modules_do_not_import_each_other() -> None:
    offenders = {
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if p.resolve() != Path(__file__).resolve() and _imports_a_test_module(p)
    }
    assert not offenders, f"{sorted(offenders)}: import shared helpers from tests/helpers/"


def test_no_sys_path_insert_in_tests() -> None:
    """The repository root is on pytest's path; helpers are imported as ``tests.helpers.*``.

    The root conftest alone puts the torch-free test plugin's folder on the path (it is
    loaded by module name, as an installed plugin would be).
    """
    allowed = {TESTS / "conftest.py"}
    offenders = []
    for path in TESTS.rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "insert"
                and ast.unparse(node.func.value) == "sys.path"
            ):
                offenders.append(str(path.relative_to(TESTS)))
    assert not offenders, offenders
