"""The README shows what ships: its recipe example is the shipped recipe, no outside files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _subset(part: Any, whole: Any, path: str = "") -> list[str]:
    """Where ``part`` differs from ``whole`` (mappings may omit keys; the rest is equal)."""
    if isinstance(part, dict) and isinstance(whole, dict):
        out: list[str] = []
        for key, value in part.items():
            if key not in whole:
                out.append(f"{path}{key}: not in the shipped recipe")
            else:
                out += _subset(value, whole[key], f"{path}{key}.")
        return out
    return [] if part == whole else [f"{path.rstrip('.')}: {part!r} != {whole!r}"]


def test_recipe_example_matches_the_shipped_recipe() -> None:
    block = re.search(r"```yaml\n(# (recipes/\S+\.yaml).*?\n.*?)```", README, re.S)
    assert block is not None, "the README's recipe example names its file"
    yaml = YAML(typ="safe", pure=True)
    shown, shipped = yaml.load(block.group(1)), yaml.load((ROOT / block.group(2)).read_text())
    assert _subset(shown, shipped) == []


def test_no_reference_to_files_outside_the_repository() -> None:
    for ref in re.findall(r"`([\w./-]+\.(?:md|py|yaml|txt|json))`", README):
        assert (ROOT / ref).exists() or not ref.startswith(("shared/", "/", "..")), ref
    assert "shared/" not in README and "/work/" not in README


def test_show_prints_the_hash_only_with_the_flag() -> None:
    for line in README.splitlines():
        if "compose show" in line and ("hash" in line or "sha256" in line):
            assert "--hash" in line, line
    assert "(`--hash` adds its sha256" in README


def test_run_dry_run_imports_no_torch() -> None:
    """Printing a recipe needs no torch (it is most of compose run --dry-run's start-up)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from compose.cli import main\n"
        "try:\n"
        "    main(['run', sys.argv[1], '--dry-run'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    env = dict(os.environ, COMPOSE_EXTRA_PLUGINS="testplugin", COMPOSE_NO_ENTRY_POINTS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "recipes"), str(ROOT)])
    valid = ROOT / "tests" / "recipes" / "valid" / "full.yaml"
    out = subprocess.run(
        [sys.executable, "-c", code, str(valid)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
