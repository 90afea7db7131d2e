"""Starting a run: what to resume, where the run lives, its lock and recipe, one seed or K.

What ``compose run`` does once it has parsed its arguments and loaded the recipe: the run
directory (:class:`compose.train.run_dir.RunDir`) is locked for the whole run, a new run
refuses to start over another one's files (unless told to overwrite them) and writes its
resolved recipe (per seed for a seed batch, ``RUN_DIR/seed_<s>/``), then one
:class:`~compose.train.loop.Trainer` or a :class:`~compose.train.seeds.batch.SeedBatchTrainer`
trains it. The CLI turns the errors raised here into messages and exit statuses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose.train.run_dir import CHECKPOINT, RunDir, RunDirError

__all__ = ["RunRequest", "claim_run_dir", "resume_source", "run_target", "start_run"]


@dataclass(frozen=True)
class RunRequest:
    """A run as asked for: the recipe as loaded (profile and ``--set`` applied), seeds, directory."""

    #: The recipe under its profile (:class:`compose.recipe.profiles.Profiled`).
    profiled: Any
    target: Path
    #: K seeds trained as one batch (None: the one seed of the recipe).
    seeds: Sequence[int] | None = None
    resume: bool = False
    overwrite: bool = False
    track: bool = True


def resume_source(resume_dir: Path, recipe: str | None) -> tuple[str, list[int] | None]:
    """The recipe to resume ``resume_dir`` with (``recipe``, else the run's own) and, for a
    seed batch, its seeds. Raises :class:`RunDirError` when there is nothing to resume.
    """
    resumed = RunDir(resume_dir)
    if resumed.is_batch():
        seeds = resumed.batch_seeds()
        missing = [s for s in seeds if not resumed.seed(s).has_checkpoint()]
        if missing:
            raise RunDirError(
                f"seeds {missing} of {resume_dir} have no {CHECKPOINT}; nothing to resume "
                "(resume the others one by one: compose run --resume "
                f"{resumed.seed(seeds[0]).path})"
            )
        return (recipe if recipe is not None else str(resumed.seed(seeds[0]).recipe)), seeds
    if not resumed.has_checkpoint():
        raise RunDirError(f"no {CHECKPOINT} in {resume_dir}; nothing to resume")
    return (recipe if recipe is not None else str(resumed.recipe)), None


def run_target(loaded: Any, resume_dir: Path | None, run_dir: Path | None) -> Path:
    """The run's directory: the one resumed, the one given, else ``runs/<name>-<stamp>``."""
    if resume_dir is not None:
        return resume_dir
    if run_dir is not None:
        return run_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(loaded.recipe.runtime.runs_dir) / f"{loaded.name}-{stamp}"


@contextmanager
def claim_run_dir(req: RunRequest, loaded: Any, per_seed: Sequence[Any]) -> Iterator[None]:
    """Lock the run directory (and every seed's) while the block runs; a new run first
    clears or refuses a previous run there and writes its resolved recipe(s).

    Raises :class:`RunDirError` for a directory in use or holding another run.
    """
    from compose.recipe import dump_resolved

    home = RunDir(req.target)
    seeds = list(req.seeds or [])
    dirs = [home, *(home.seed(s) for s in seeds)] if per_seed else [home]
    with ExitStack() as locks:
        for d in dirs:  # held until this process ends (the kernel drops them if it dies)
            locks.enter_context(d.locked())
        if not req.resume:
            if req.overwrite:
                home.clear()
            else:
                home.refuse_previous_run()
            if per_seed:
                for seed, one in zip(seeds, per_seed, strict=True):
                    home.seed(seed).write_recipe(dump_resolved(one.resolved))
            else:
                home.write_recipe(dump_resolved(loaded.resolved))
        yield


def start_run(req: RunRequest) -> None:
    """Train the recipe as ``req`` asks: one run, or ``req.seeds`` as one batch (each seed's
    recipe loaded from the same composition, ``seed`` set).

    Raises what loading a seed's recipe (:class:`~compose.recipe.RecipeError`), claiming
    the directory (:class:`RunDirError`) and training raise.
    """
    from compose.train.loop import RunOptions, train

    loaded = req.profiled.loaded
    per_seed = [
        req.profiled.again([f"seed={seed}", "seeds=null"]).loaded for seed in req.seeds or []
    ]
    opts = RunOptions(
        run_dir=req.target, track=req.track, resume=req.resume, profile=req.profiled.overrides
    )
    with claim_run_dir(req, loaded, per_seed):
        if per_seed:
            from compose.train.seeds.batch import train_seeds

            train_seeds(per_seed, opts)
        else:
            train(loaded, opts)
