"""Every value in a shipped recipe names its source in a trailing comment (issue #14).

The rule is :mod:`compose.recipe.sources`'s (the one ``compose show --sources`` reads):
every line on which a scalar or a flow collection starts carries ``# <source>``; the top-level
``name``, ``description``, ``extends`` and ``type:`` keys are exempt; a ``per_dataset`` or
``profiles`` table is covered by a comment on its key line or on the line directly above it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.recipe.sources import file_sources, missing_sources, trailing_comment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "recipes").glob("*.yaml")) + sorted(
    (ROOT / "plugins").glob("*/*/recipes/*.yaml")
)


def test_shipped_recipes_found() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"mbpo", "mopo", "mobile", "morel"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_value_has_a_source(path: Path) -> None:
    missing = missing_sources(path)
    assert not missing, "values without a source comment:\n" + "\n".join(
        f"{path.relative_to(ROOT)}:{m.line}: {m.path}" for m in missing
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_rule_flags_each_uncommented_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
# a recipe header (covers nothing)
name: r
description: exempt
extends: [mbpo]
seed: 0
dynamics:
  type: gaussian_ensemble
  members: 7                    # paper Table 1
  # a comment block above a value does not cover it
  elites: 5
rollout: {length: 5, real_ratio: 0.05}
critic: {lr: 3.0e-4}            # paper Table 2
critic_target: sac
actor:
  aux_losses:
    - {type: rollout_discriminator, weight: 1.0}   # Eq. 14
    - type: conservative_q
      weight: 1.0
url: "http://x/#frag"
""",
    )
    found = [(m.line, m.path) for m in missing_sources(path)]
    assert found == [
        (5, "seed"),
        (10, "dynamics.elites"),
        (11, "rollout"),
        (13, "critic_target"),
        (18, "actor.aux_losses.1.weight"),
        (19, "url"),
    ]


def test_tables_are_covered_by_their_key_or_the_line_above(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
name: r
# Table 4 of the paper
per_dataset:
  a/b-v0: {rollout.length: 1}
  c/d-v0:
    rollout.length: 2
profiles:                       # ours: CPU budget
  quick: {train.steps: 10}
""",
    )
    assert missing_sources(path) == []
    sources = file_sources(path)
    assert sources.source(4) == "Table 4 of the paper"
    assert sources.source(6) == "Table 4 of the paper"
    assert sources.source(8) == "ours: CPU budget"
    assert sources.table_of_line[6] == ("per_dataset", "c/d-v0")


def test_uncovered_table_flags_every_entry(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
name: r
x: 1                            # ours

per_dataset:
  a/b-v0: {rollout.length: 1}
  c/d-v0: {rollout.length: 2}   # its own source
  e/f-v0: {rollout.length: 3}
""",
    )
    assert [(m.line, m.path) for m in missing_sources(path)] == [
        (5, "per_dataset.a/b-v0"),
        (7, "per_dataset.e/f-v0"),
    ]


@pytest.mark.parametrize(
    ("line", "comment"),
    [
        ("a: 1  # MOPO Table 4", "MOPO Table 4"),
        ("a: 1", None),
        ("a: 1  #", None),
        ("a: b#c", None),
        ("a: 'x # y'", None),
        ('a: "x # y"  # real', "real"),
        ("a: {b: 'it''s'}  # ok", "ok"),
        ("# whole line", "whole line"),
        ("a: [1, 2]\t# tab", "tab"),
    ],
)
def test_trailing_comment(line: str, comment: str | None) -> None:
    assert trailing_comment(line) == comment
