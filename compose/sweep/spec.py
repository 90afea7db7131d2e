"""Sweep specifications: recipes x datasets x seeds x a grid of ``--set`` values, expanded.

A spec comes from a YAML file (``compose sweep SPEC.yaml``) or from the command line
(``compose sweep RECIPE... --seeds 0 1 --grid path=v1,v2``). Both give a :class:`SweepSpec`;
:func:`expand` turns it into one :class:`RunPlan` per run (its run directory, its overrides)
and :func:`validate` loads every expanded recipe with :func:`compose.recipe.load_recipe`
before anything runs, so a typo in a grid path fails the sweep at once, not hours later.

Spec file (every key but ``runs``/``recipes`` optional)::

    out: runs/sweeps/rambo_romi        # DIR (CLI --out wins)
    seeds: [0, 1, 2]
    datasets: [compose/hopper/medium-v0]   # sets dataset.id (omit: the recipe's own)
    steps: 30000                       # train.steps (as compose run --steps)
    quick: false                       # compose run --quick
    jobs: 2
    batch_seeds: false                 # true: each grid point's seeds in one process (compose
                                       # run --seeds: DIR/<label>-<grid key>-seeds/seed_<s>)
    set: [eval.episodes=5]             # overrides for every run
    recipes: [mopo, mobile]            # each crossed with the top-level grid
    grid: {rollout.length: [1, 5]}
    runs:                              # and/or entries with their own label, grid and sets
      - {recipe: rambo, grid: {model_learner.aux_losses.0.weight: [0, 3.0e-4]}}
      - {recipe: ampl, label: ampl_nw, set: [model_learner.weighted=false], seeds: [0]}

Why labels: an ablation is the same recipe with other overrides; the label names its run
directories (``DIR/<label>-<grid key>-s<seed>``) and its rows in ``compose sweep table``.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunPlan", "SpecError", "SweepEntry", "SweepSpec", "expand", "load_spec", "validate"]


class SpecError(Exception):
    """A sweep spec or its command-line form is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class SweepEntry:
    """One recipe (with a label, a grid and overrides of its own) inside a sweep."""

    recipe: str
    label: str
    grid: dict[str, list[Any]] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    seeds: tuple[int, ...] | None = None


@dataclass
class SweepSpec:
    """A whole sweep, before expansion."""

    entries: list[SweepEntry]
    seeds: list[int] = field(default_factory=lambda: [0])
    datasets: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    steps: int | None = None
    quick: bool = False
    jobs: int = 1
    out: Path | None = None
    batch_seeds: bool = False


@dataclass(frozen=True)
class RunPlan:
    """One expanded run: what ``compose run`` is called with, and where it writes."""

    name: str
    label: str
    recipe: str
    seed: int
    dataset: str | None
    grid: dict[str, Any]
    overrides: tuple[str, ...]
    run_dir: Path

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (``sweep.json`` stores one per run)."""
        out = asdict(self)
        out["run_dir"] = str(self.run_dir)
        out["overrides"] = list(self.overrides)
        return out


def _label_of(recipe: str) -> str:
    return Path(recipe).stem if recipe.endswith((".yaml", ".yml")) else recipe


def _value_text(value: Any) -> str:
    """A grid value as ``--set`` text (YAML flow syntax for lists and mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", text).strip("_") or "x"


def grid_key(grid: dict[str, Any]) -> str:
    """``leaf=value`` per grid path joined by ``_`` (full dotted paths when leaves clash)."""
    leaves = [p.rsplit(".", 1)[-1] for p in grid]
    use_full = len(set(leaves)) != len(leaves)
    parts = [
        f"{p if use_full else leaf}={_value_text(v)}"
        for (p, v), leaf in zip(grid.items(), leaves, strict=True)
    ]
    return _slug("_".join(parts))


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """``path=v1,v2,...`` -> (path, values); values are parsed as plain YAML scalars (the
    recipe loader's rules: a tag such as ``!!python/name`` is an error, never an object)."""
    from compose.recipe.errors import RecipeError
    from compose.recipe.loader import parse_value

    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise SpecError([f"--grid {text!r}: expected PATH=V1,V2,... (e.g. rollout.length=1,5)"])
    parsed: list[Any] = []
    for v in values.split(","):
        try:
            parsed.append(parse_value(v.strip(), f"--grid {text}").data)
        except RecipeError as exc:
            raise SpecError(
                [f"--grid {text!r}: value {v.strip()!r}: {p.message}" for p in exc.problems]
            ) from None
    return path.strip(), parsed


def load_spec(path: Path) -> SweepSpec:
    """Read a spec YAML file with the recipe loader (plain data only, size and alias limits)."""
    from compose.recipe.errors import RecipeError
    from compose.recipe.loader import load_file

    try:
        data = load_file(Path(path)).data
    except RecipeError as exc:
        raise SpecError([f"cannot read the sweep spec: {p}" for p in exc.problems]) from None
    return spec_from_dict(data, where=str(path))


_TOP_KEYS = {
    "out",
    "seeds",
    "datasets",
    "steps",
    "quick",
    "jobs",
    "set",
    "recipes",
    "grid",
    "runs",
    "batch_seeds",
}
_ENTRY_KEYS = {"recipe", "label", "grid", "set", "seeds"}


def _grid(value: Any, where: str, problems: list[str]) -> dict[str, list[Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: grid must be a mapping of path -> list of values")
        return {}
    out: dict[str, list[Any]] = {}
    for path, values in value.items():
        vals = values if isinstance(values, list) else [values]
        if not vals:
            problems.append(f"{where}: grid.{path} has no values")
        out[str(path)] = vals
    return out


def _strings(value: Any, where: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: expected a list of strings like 'path=value'")
        return []
    return list(value)


def spec_from_dict(data: Any, where: str = "spec") -> SweepSpec:
    """Build a :class:`SweepSpec` from a parsed YAML mapping; every problem at once."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError([f"{where}: a sweep spec must be a mapping (see compose sweep --help)"])
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append(f"{where}: unknown key '{key}'; allowed: {', '.join(sorted(_TOP_KEYS))}")
    top_grid = _grid(data.get("grid"), where, problems)
    entries = [SweepEntry(str(r), _label_of(str(r)), top_grid) for r in (data.get("recipes") or [])]
    for i, item in enumerate(data.get("runs") or []):
        at = f"{where}: runs[{i}]"
        if isinstance(item, str):
            item = {"recipe": item}
        if not isinstance(item, dict) or "recipe" not in item:
            problems.append(f"{at}: expected a mapping with a 'recipe'")
            continue
        for key in sorted(set(item) - _ENTRY_KEYS):
            problems.append(f"{at}: unknown key '{key}'; allowed: {', '.join(sorted(_ENTRY_KEYS))}")
        recipe = str(item["recipe"])
        own_seeds = item.get("seeds")
        if own_seeds is not None and (
            not isinstance(own_seeds, list)
            or not own_seeds
            or not all(isinstance(x, int) for x in own_seeds)
        ):
            problems.append(f"{at}: seeds must be a non-empty list of integers")
            own_seeds = None
        entries.append(
            SweepEntry(
                recipe,
                str(item.get("label") or _label_of(recipe)),
                {**top_grid, **_grid(item.get("grid"), at, problems)},
                tuple(_strings(item.get("set"), at, problems)),
                tuple(own_seeds) if own_seeds else None,
            )
        )
    if not entries:
        problems.append(f"{where}: no runs: give 'recipes: [...]' and/or 'runs: [...]'")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) or not seeds:
        problems.append(f"{where}: seeds must be a non-empty list of integers")
        seeds = [0]
    datasets = data.get("datasets") or []
    batch_seeds = data.get("batch_seeds", False)
    if not isinstance(batch_seeds, bool):
        problems.append(f"{where}: batch_seeds must be true or false (got {batch_seeds!r})")
        batch_seeds = False
    spec = SweepSpec(
        entries=entries,
        seeds=list(seeds),
        datasets=[str(d) for d in datasets],
        overrides=_strings(data.get("set"), where, problems),
        steps=data.get("steps"),
        quick=bool(data.get("quick", False)),
        jobs=data.get("jobs", 1),
        out=Path(data["out"]) if data.get("out") else None,
        batch_seeds=batch_seeds,
    )
    problems += check_numbers(spec)
    if problems:
        raise SpecError(problems)
    return spec


def check_numbers(spec: SweepSpec) -> list[str]:
    """Problems with jobs, steps and labels (things load_recipe cannot see)."""
    problems = []
    if not isinstance(spec.jobs, int) or spec.jobs < 1:
        problems.append(f"jobs must be an integer >= 1 (got {spec.jobs!r})")
    if spec.steps is not None and (not isinstance(spec.steps, int) or spec.steps < 0):
        problems.append(f"steps must be an integer >= 0 (got {spec.steps!r})")
    labels = [
        (e.label, tuple(sorted((k, str(v)) for k, v in e.grid.items())), e.overrides)
        for e in spec.entries
    ]
    seen: dict[str, tuple[Any, ...]] = {}
    for label, grid, overrides in labels:
        if label in seen and seen[label] != (grid, overrides):
            problems.append(
                f"label '{label}' names two different entries (their run directories would clash); "
                "give each entry its own 'label:'"
            )
        seen[label] = (grid, overrides)
    return problems


def expand(spec: SweepSpec, out: Path) -> list[RunPlan]:
    """Every run of the sweep, in a stable order (entry, dataset, grid point, seed)."""
    plans: list[RunPlan] = []
    names: set[str] = set()
    for entry in spec.entries:
        paths = list(entry.grid)
        points = list(itertools.product(*(entry.grid[p] for p in paths))) if paths else [()]
        for dataset in spec.datasets or [None]:
            for point in points:
                grid = dict(zip(paths, point, strict=True))
                for seed in entry.seeds or spec.seeds:
                    parts = [entry.label]
                    if len(spec.datasets) > 1 and dataset is not None:
                        parts.append(_slug(dataset.replace("/", "-")))
                    if grid:
                        parts.append(grid_key(grid))
                    parts.append(f"s{seed}")
                    name = "-".join(parts)
                    if name in names:
                        continue  # the same run listed twice
                    names.add(name)
                    sets = list(spec.overrides) + list(entry.overrides)
                    if dataset is not None:
                        sets.append(f"dataset.id={dataset}")
                    sets += [f"{p}={_value_text(v)}" for p, v in grid.items()]
                    sets.append(f"seed={seed}")
                    run_dir = out / name
                    if spec.batch_seeds:  # the batch's directory holds seed_<s>/ per seed
                        run_dir = out / "-".join([*parts[:-1], "seeds"]) / f"seed_{seed}"
                    plans.append(
                        RunPlan(
                            name,
                            entry.label,
                            entry.recipe,
                            seed,
                            dataset,
                            grid,
                            tuple(sets),
                            run_dir,
                        )
                    )
    return plans


def run_overrides(spec: SweepSpec, plan: RunPlan) -> list[str]:
    """The ``--set`` list of a run as ``compose run`` applies it (profile, sets, steps)."""
    extra = list(plan.overrides)
    if spec.steps is not None:
        extra.append(f"train.steps={spec.steps}")
    return extra


def validate(
    spec: SweepSpec,
    plans: list[RunPlan],
    plugins: Any = None,
    resolved: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[str], dict[str, int]]:
    """Load every expanded recipe as ``compose run`` would.

    Returns (the problems, each prefixed by its run's name; each valid run's ``train.steps``).
    ``resolved``, when given, receives each valid run's :func:`run_facts` (what an engine
    needs to place the run: threads, device, tracking, dataset).

    Why every run and not one per entry: a grid value can be invalid for one recipe only
    (a field that exists in rambo's learner but not in romi's).
    """
    from compose.recipe import RecipeError, load_recipe
    from compose.recipe.profiles import applicable

    problems: list[str] = []
    steps: dict[str, int] = {}
    seen: dict[
        tuple[str, tuple[str, ...]], tuple[list[str], int | None, dict[str, Any] | None]
    ] = {}
    for plan in plans:
        extra = run_overrides(spec, plan)
        key = (plan.recipe, tuple(o for o in extra if not o.startswith("seed=")))
        if key in seen:  # same recipe and overrides up to the seed: same answer, said once
            found, n, facts = seen[key]
            if n is not None:
                steps[plan.name] = n
            if resolved is not None and facts is not None:
                resolved[plan.name] = facts
            continue
        found = []
        n = None
        facts = None
        try:
            profile: list[str] = []
            if spec.quick:
                base = load_recipe(plan.recipe, list(plan.overrides), plugins=plugins)
                profile = applicable("quick", base.recipe)
            recipe = load_recipe(plan.recipe, profile + extra, plugins=plugins).recipe
            n = int(recipe.train.steps)
            steps[plan.name] = n
            facts = run_facts(recipe)
            if resolved is not None:
                resolved[plan.name] = facts
        except RecipeError as exc:
            found = exc.lines()
        seen[key] = (found, n, facts)
        where = (
            plan.name if len(spec.seeds) == 1 else f"{plan.name.rsplit('-s', 1)[0]} (every seed)"
        )
        problems += [f"{where}: {p}" for p in found]
    return problems, steps


def run_facts(recipe: Any) -> dict[str, Any]:
    """What an engine needs to place a loaded recipe's run (JSON-safe).

    ``threads`` (``runtime.threads``, None: unset), ``device``, ``track_backend``,
    ``track_repo`` and ``dataset`` (the dataset slot's config as a dict).
    """
    dataset = recipe.dataset
    dumped = dataset.model_dump(mode="json") if hasattr(dataset, "model_dump") else {}
    return {
        "threads": recipe.runtime.threads,
        "device": recipe.runtime.device,
        "track_backend": recipe.track.backend,
        "track_repo": recipe.track.repo,
        "dataset": {"source": getattr(dataset, "source", None), **dumped},
    }
