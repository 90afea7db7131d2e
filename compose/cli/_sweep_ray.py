"""``compose sweep --engine ray``: the CLI side of the Ray engine (compose/sweep/ray_engine.py).

Kept apart from ``compose/cli/sweep.py`` so the local path reads as before; nothing here
imports Ray until the sweep connects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from compose.sweep.local import SweepOutcome
from compose.sweep.spec import RunPlan, SweepSpec

__all__ = ["on_storage", "run_on_ray"]


def on_storage(spec: SweepSpec, storage: Path, out: Path | None, default_out: Path) -> Path:
    """Put the sweep on the shared storage; returns the sweep directory (absolute).

    The model cache moves to ``STORAGE/models`` (first in the overrides, so a
    ``runtime.model_cache`` the user sets still wins), recipe files named by a relative path
    become absolute (tasks run in other working directories), and the sweep directory is
    ``--out`` (made absolute) or ``STORAGE/sweeps/NAME``.
    """
    storage = storage.expanduser().absolute()
    spec.overrides = [f"runtime.model_cache={storage / 'models'}", *spec.overrides]
    spec.entries = [
        dataclasses.replace(e, recipe=str(Path(e.recipe).absolute()))
        if e.recipe.endswith((".yaml", ".yml")) and Path(e.recipe).is_file()
        else e
        for e in spec.entries
    ]
    return out.expanduser().absolute() if out is not None else storage / "sweeps" / default_out.name


def _aim_repos(
    plans: list[RunPlan], facts: dict[str, dict[str, Any]]
) -> tuple[set[str], list[str]]:
    """The aim:// servers the runs log to, and the runs that would log elsewhere."""
    repos: set[str] = set()
    local: list[str] = []
    for plan in plans:
        fact = facts.get(plan.name, {})
        if fact.get("track_backend") == "none":
            continue
        repo = str(fact.get("track_repo"))
        (repos.add(repo) if repo.startswith("aim://") else local.append(f"{plan.name} ({repo})"))
    return repos, local


def run_on_ray(
    spec: SweepSpec,
    plans: list[RunPlan],
    facts: dict[str, dict[str, Any]],
    planned_steps: dict[str, int],
    *,
    target: Path,
    storage: Path,
    address: str,
    retries: int,
    track: bool,
    dry_run: bool,
    fail: Callable[[list[str]], None],
    write_plan: Callable[..., None],
) -> SweepOutcome | None:
    """Check the Aim server and the cluster, then run the sweep on Ray (None on --dry-run)."""
    from compose.sweep.ray_engine import EngineError, check_aim_server, resources_of

    def echo(text: str) -> None:
        click.echo(text, err=True)

    storage = storage.expanduser().absolute()
    repos: set[str] = set()
    if track:
        repos, local = _aim_repos(plans, facts)
        if local:
            fail(
                [
                    f"a Ray sweep logs every run to one Aim server, but {local[0]} would log to a "
                    f"folder (runs on other nodes cannot share it); start `aim server --host HOST "
                    f"--port PORT --repo DIR` and give --set track.repo=aim://HOST:PORT "
                    f"(or --no-track)"
                ]
            )
    if dry_run:
        for plan in plans:
            cpus, gpus = resources_of(facts.get(plan.name, {}))
            click.echo(
                f"{plan.name}: {plan.recipe} [{cpus} CPU, {gpus} GPU] "
                + " ".join(f"--set {o}" for o in plan.overrides)
            )
        return None
    for repo in sorted(repos):
        try:
            version = check_aim_server(repo)
        except EngineError as exc:
            fail([str(exc)])
        echo(f"sweep: every run logs to the Aim server {repo} (Aim {version})")
    from compose.sweep.ray_engine import connect, run_ray

    try:
        resources = connect(address)
    except EngineError as exc:
        fail([str(exc)])
    import ray

    try:
        echo(
            f"sweep: Ray cluster {address}: {resources.get('CPU', 0):g} CPUs, "
            f"{resources.get('GPU', 0):g} GPUs; storage {storage}"
        )
        target.mkdir(parents=True, exist_ok=True)
        write_plan(target, spec, plans, track=track, engine="ray")
        env = {"MINARI_DATASETS_PATH": str(storage / "datasets")}
        try:
            return run_ray(
                spec,
                plans,
                facts=facts,
                track=track,
                env=env,
                planned_steps=planned_steps,
                retries=retries,
                echo=echo,
            )
        except EngineError as exc:
            fail(str(exc).splitlines())
    finally:
        ray.shutdown()
    return None
