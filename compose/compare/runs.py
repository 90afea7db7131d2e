"""Finished runs read back for comparison, from whatever a user points at.

An argument of ``compose compare`` is one of:

- a run directory (``summary.json``; its ``recipe.yaml`` gives the resolved recipe),
- a seed batch (``seeds.json`` and ``seed_<s>/``) or a sweep directory (``sweep.json``, read
  through :func:`compose.sweep.table.collect_rows`, so a sweep's labels and grid values
  name its runs), or any folder whose children (or grandchildren) are run directories,
- an Aim repo (a folder holding ``.aim``): every run with the params a compose run records
  (``recipe_name``, ``dataset``, ``seed``, the recipe's sections) and the metric's series,
- a JSON file written by ``compose sweep table --json`` (one row per run): only the final
  score is there, so final = last evaluation and best is unknown.

Each run becomes a :class:`RunRecord`: its evaluations of the chosen metric as (step, value)
pairs, its dataset, its budget (policy steps done) and its resolved recipe (for ``--by``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose.recipe.composition import value_at
from compose.train.run_dir import RECIPE, SUMMARY

__all__ = ["CompareInputError", "RunRecord", "collect_runs", "field_value"]


class CompareInputError(ValueError):
    """An argument that names no runs, or runs that cannot be read (exit 2)."""


@dataclass
class RunRecord:
    """One finished (or unfinished) run as the comparison sees it."""

    name: str
    source: str
    label: str
    recipe: str | None
    dataset: str | None
    seed: int | None
    steps: int | None
    status: str
    evals: list[tuple[int, float]] = field(default_factory=list)
    tree: dict[str, Any] | None = None
    history: bool = True

    @property
    def values(self) -> list[float]:
        """The metric's evaluations in step order."""
        return [v for _, v in self.evals]


def field_value(record: RunRecord, path: str) -> Any:
    """The value at dotted ``path`` of the run's resolved recipe (``recipe`` and ``label`` too).

    ``recipe`` is the sweep label (with grid values) where a sweep named the run, else the
    recipe name; ``name`` is the recipe's own name.
    """
    if path == "recipe":
        return record.label
    if path in ("dataset", "dataset.id"):
        return record.dataset
    if path == "seed":
        return record.seed
    node: Any = record.tree
    if node is None:
        raise CompareInputError(
            f"--by {path}: run {record.name} ({record.source}) has no resolved recipe to read it from"
        )
    try:
        return value_at(node, path)
    except KeyError:
        return None


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _evals_of(summary: dict[str, Any], metric: str) -> list[tuple[int, float]]:
    out = []
    for ev in summary.get("evals") or []:
        v = _finite(ev.get(metric))
        if v is not None:
            out.append((int(ev.get("step", len(out))), v))
    return out


def _tree_of(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RECIPE
    if not path.is_file():
        return None
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(path.read_text())
    except (OSError, YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _from_row(row: dict[str, Any], metric: str) -> RunRecord:
    """A run of ``compose sweep table``'s rows, with its summary when the run is on disk."""
    from compose.sweep.local import read_summary
    from compose.sweep.table import grid_text

    run_dir = Path(row["run_dir"])
    summary = read_summary(run_dir) or {}
    tree = _tree_of(run_dir)
    grid = row.get("grid") or {}
    label = row["label"] + ("" if not grid else f" {grid_text(grid)}")
    seed = row.get("seed")
    if seed is None and tree is not None:
        seed = tree.get("seed")
    return RunRecord(
        name=row["name"],
        source=str(run_dir),
        label=label,
        recipe=row.get("recipe"),
        dataset=row.get("dataset"),
        seed=seed,
        steps=row.get("steps"),
        status=row["status"],
        evals=_evals_of(summary, metric),
        tree=tree,
    )


def _run_dirs_below(folder: Path) -> list[Path]:
    """Run directories among ``folder``'s children and grandchildren (seed batches)."""
    found = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if (child / SUMMARY).is_file():
            found.append(child)
        elif child.name not in ("aim", ".aim"):
            found += sorted(g for g in child.iterdir() if (g / SUMMARY).is_file())
    return found


def _from_folder(folder: Path, metric: str) -> list[RunRecord]:
    from compose.sweep.table import SWEEP_FILE, collect_rows

    if (folder / SUMMARY).is_file():
        dirs = [folder]
    elif (folder / SWEEP_FILE).is_file():
        return [_from_row(row, metric) for row in collect_rows(folder)]
    else:
        dirs = _run_dirs_below(folder)
    records = []
    for run_dir in dirs:
        s = json.loads((run_dir / SUMMARY).read_text())
        tree = _tree_of(run_dir)
        records.append(
            RunRecord(
                name=run_dir.name,
                source=str(run_dir),
                label=str(s.get("name")),
                recipe=s.get("name"),
                dataset=s.get("dataset_id"),
                seed=(tree or {}).get("seed"),
                steps=s.get("steps"),
                status=str(s.get("status", "?")),
                evals=_evals_of(s, metric),
                tree=tree,
            )
        )
    return records


def _is_aim_repo(folder: Path) -> bool:
    return (folder / ".aim").is_dir() or (folder.name == ".aim" and (folder / "meta").is_dir())


def _from_aim(folder: Path, metric: str) -> list[RunRecord]:
    """Every run of an Aim repo (indexed first, as ``aim up`` does), with the metric's series."""
    import aim
    from aim.sdk.index_manager import RepoIndexManager

    root = folder.parent if folder.name == ".aim" else folder
    repo = aim.Repo(str(root))
    indexer = RepoIndexManager.get_index_manager(repo)
    records = []
    hashes = sorted(repo.list_all_runs())  # the chunk folders on disk
    # Index every run before reading any: the read-only index is opened at the first read
    # and does not see what is indexed after it.
    for run_hash in hashes:
        indexer.index(run_hash)
    for run_hash in hashes:
        run = aim.Run(run_hash, repo=repo, read_only=True)
        params = run[...] or {}
        evals: list[tuple[int, float]] = []
        for m in run.metrics():
            if m.name == metric and not evals:
                steps, (values,) = m.data.view("val").items_list()
                evals = [
                    (int(s), float(v))
                    for s, v in zip(steps, values, strict=True)
                    if _finite(v) is not None
                ]
        tree = params.get("recipe") if isinstance(params.get("recipe"), dict) else None
        name = params.get("recipe_name") or (tree or {}).get("name") or run.experiment
        dataset = params.get("dataset") or {}
        records.append(
            RunRecord(
                name=run_hash,
                source=f"{root} (Aim run {run_hash})",
                label=str(name),
                recipe=name,
                dataset=dataset.get("id") if isinstance(dataset, dict) else None,
                seed=params.get("seed"),
                steps=params.get("steps"),
                status=str(params.get("status") or ("running" if run.active else "?")),
                evals=evals,
                tree=tree,
            )
        )
    return records


def _from_json(path: Path) -> list[RunRecord]:
    """Rows of ``compose sweep table --json`` (ungrouped): final scores only."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CompareInputError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and "score" in r and "seed" in r for r in rows
    ):
        raise CompareInputError(
            f"{path}: not the rows of 'compose sweep table DIR --json F' (without --group)"
        )
    from compose.sweep.table import grid_text

    out = []
    for r in rows:
        grid = r.get("grid") or {}
        score = _finite(r.get("score"))
        out.append(
            RunRecord(
                name=str(r.get("name")),
                source=str(path),
                label=r["label"] + ("" if not grid else f" {grid_text(grid)}"),
                recipe=r.get("recipe"),
                dataset=r.get("dataset"),
                seed=r.get("seed"),
                steps=r.get("steps"),
                status=str(r.get("status")),
                evals=[] if score is None else [(int(r.get("steps") or 0), score)],
                history=False,
            )
        )
    return out


def collect_runs(targets: list[str], metric: str) -> list[RunRecord]:
    """Every run named by ``targets`` (see the module doc), in argument order."""
    records: list[RunRecord] = []
    for target in targets:
        path = Path(target)
        if path.is_file() and path.suffix == ".json":
            found = _from_json(path)
        elif not path.is_dir():
            raise CompareInputError(
                f"{target}: no such run directory, sweep directory, Aim repo or table JSON"
            )
        elif _is_aim_repo(path):
            found = _from_aim(path, metric)
        else:
            found = _from_folder(path, metric)
        if not found:
            raise CompareInputError(
                f"{target}: no runs found (expected summary.json in it or in its sub-folders, "
                "sweep.json, or an Aim repo)"
            )
        records += found
    return records
