"""``compose data ...``: list, inspect, make, import datasets; train behavior policies.

Mounted by the CLI owner as ``compose data``; also runnable as ``python -m compose.cli.data``.
Why: heavy imports (torch, minari, gymnasium) happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click


@click.group("data")
def data() -> None:
    """Offline datasets: list, info, make (factory), import-d4rl, train-behavior."""


@data.command("train-behavior")
@click.argument("env")
@click.option("--seed", default=0, show_default=True, help="Seed of env, networks and sampling.")
@click.option("--steps", default=300_000, show_default=True, help="Max env steps.")
@click.option("--hidden", default="256,256", show_default=True, help="Hidden sizes.")
@click.option("--eval-every", default=5_000, show_default=True)
@click.option("--learning-starts", default=5_000, show_default=True)
@click.option("--max-minutes", type=float, default=None, help="Stop after this wall time.")
@click.option(
    "--out", default=None, help="Output folder (default: the shipped behavior_policies folder)."
)
@click.option(
    "--until",
    type=click.Choice(["expert", "medium"]),
    default="expert",
    show_default=True,
    help="medium: stop as soon as the medium policy is saved (writes only <env>_medium.pt).",
)
def train_behavior(
    env: str,
    seed: int,
    steps: int,
    hidden: str,
    eval_every: int,
    learning_starts: int,
    max_minutes: float | None,
    out: str | None,
    until: str,
) -> None:
    """Train SAC behavior policies for ENV; writes <env>_medium.pt and <env>_expert.pt."""
    import torch

    from compose.data.behavior.sac import SACConfig, train_sac
    from compose.data.factory import BEHAVIOR_DIR

    torch.set_num_threads(1)
    cfg = SACConfig(
        env=env,
        seed=seed,
        total_steps=steps,
        hidden=tuple(int(h) for h in hidden.split(",")),
        eval_every=eval_every,
        learning_starts=learning_starts,
    )
    command = "compose data " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if until == "medium":
        _train_until_medium(cfg, command, max_minutes, out or str(BEHAVIOR_DIR))
        return
    summary = train_sac(
        cfg, out or BEHAVIOR_DIR, command=command, log=click.echo, max_minutes=max_minutes
    )
    for kind in ("medium", "expert"):
        if kind in summary:
            m = summary[kind]
            click.echo(
                f"{kind}: return {m['eval_return']:.1f} normalized {m['normalized_score']:.1f} "
                f"at {m['env_steps']} steps"
            )
    click.echo(f"total {summary['seconds']:.0f}s")


def _train_until_medium(cfg: Any, command: str, max_minutes: float | None, out: str) -> None:
    """Train until the medium policy is saved; copy only ``<env>_medium.pt`` into ``out``.

    Why a temporary folder: ``train_sac`` keeps rewriting a half-trained ``<env>_expert.pt``
    until it stops, which must never replace a real expert checkpoint in ``out``.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from compose.data.behavior.sac import train_sac
    from compose.envs.reference import env_id_for, short_env_name

    name = short_env_name(env_id_for(cfg.env)) or cfg.env
    with tempfile.TemporaryDirectory(prefix="compose-behavior-") as tmp:
        train_sac(
            cfg,
            tmp,
            command=command,
            log=click.echo,
            max_minutes=max_minutes,
            stop_after_medium=True,
        )
        made = Path(tmp) / f"{name}_medium.pt"
        if not made.is_file():
            click.echo(
                f"error: no medium policy after {cfg.total_steps} steps (target not reached)",
                err=True,
            )
            sys.exit(1)
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy2(made, Path(out) / made.name)
    click.echo(f"wrote {Path(out) / made.name}")


def _fail(exc: Exception) -> None:
    """Print a data error for people (no traceback) and exit 2 (bad input data)."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@data.command("list")
def list_cmd() -> None:
    """List the datasets in the local Minari store, and the ones the factory can make."""
    from compose.data import minari_io
    from compose.data.factory import BEHAVIOR_DIR, QUALITIES
    from compose.envs.reference import ENV_IDS

    local = minari_io.list_local()
    click.echo(f"local Minari store: {minari_io.store_root()}")
    for dataset_id in local:
        meta = minari_io.read_metadata(dataset_id)
        click.echo(
            f"  {dataset_id:40s} {meta.get('total_steps', '?'):>9} steps "
            f"{meta.get('total_episodes', '?'):>6} episodes"
        )
    if not local:
        click.echo("  (empty)")

    def has(env: str, kinds: tuple[str, ...]) -> bool:
        return all((BEHAVIOR_DIR / f"{env}_{k}.pt").is_file() for k in kinds)

    needs = {
        "random": (),
        "medium": ("medium",),
        "medium-replay": ("medium",),
        "expert": ("expert",),
        "medium-expert": ("medium", "expert"),
    }
    makeable = [
        f"compose/{e}/{q}-v0"
        for e in ENV_IDS
        for q in QUALITIES
        if f"compose/{e}/{q}-v0" not in local and has(e, needs[q])
    ]
    click.echo("makeable with the shipped behavior policies (`compose data make ENV QUALITY`,")
    click.echo("or made on first use):")
    click.echo("  " + (", ".join(makeable) or "(none)"))


@data.command("info")
@click.argument("dataset_id")
@click.option("--env", "env_id", default=None, help="Gymnasium id, for a .hdf5 file path.")
def info_cmd(dataset_id: str, env_id: str | None) -> None:
    """Size, episodes, return statistics, reference scores and provenance of a dataset.

    DATASET_ID is a Minari id, or a D4RL .hdf5 path together with --env.
    """
    from compose.data.errors import DatasetError
    from compose.data.sources import D4RLHdf5Source, MinariSource

    try:
        if dataset_id.endswith((".hdf5", ".h5")):
            if env_id is None:
                raise DatasetError(f"{dataset_id}: a D4RL file needs --env ID (e.g. Hopper-v5)")
            loaded = D4RLHdf5Source(path=dataset_id, env_id=env_id).load()
        else:
            loaded = MinariSource(id=dataset_id).load()
    except DatasetError as exc:
        _fail(exc)
        return
    info = loaded.info
    rows = [
        ("dataset", info.dataset_id),
        ("source", info.source),
        ("env", info.env_id),
        ("obs / act dim", f"{info.obs_dim} / {info.act_dim}"),
        ("transitions", f"{info.n_transitions}"),
        ("episodes", f"{info.n_episodes}"),
        ("terminals / timeouts", f"{int(loaded.terminals.sum())} / {int(loaded.timeouts.sum())}"),
        (
            "return mean±std [min, max]",
            f"{info.return_mean:.1f} ± {info.return_std:.1f} "
            f"[{info.return_min:.1f}, {info.return_max:.1f}]",
        ),
        ("reference scores", f"{info.ref_min_score} .. {info.ref_max_score} ({info.ref_source})"),
    ]
    norm = info.normalized(info.return_mean)
    if norm is not None:
        rows.append(("normalized return mean", f"{norm:.1f}"))
    behavior = (info.metadata.get("compose") or {}).get("behavior")
    if behavior:
        rows.append(("behavior policies", str(behavior)))
    rows.append(("provenance", info.provenance))
    for key, value in rows:
        click.echo(f"{key:28s} {value}")


@data.command("make")
@click.argument("env", type=click.Choice(["hopper", "halfcheetah", "walker2d", "pendulum"]))
@click.argument(
    "quality",
    type=click.Choice(["random", "medium", "medium-replay", "expert", "medium-expert"]),
)
@click.option("--seed", default=0, show_default=True)
@click.option("--size", type=int, default=None, help="Transitions per behavior policy.")
@click.option(
    "--id", "dataset_id", default=None, help="Dataset id (default compose/ENV/QUALITY-v0)."
)
@click.option("--policy-dir", default=None, help="Folder of <env>_<kind>.pt behavior policies.")
def make_cmd(
    env: str,
    quality: str,
    seed: int,
    size: int | None,
    dataset_id: str | None,
    policy_dir: str | None,
) -> None:
    """Make a D4RL-style dataset with the project's behavior policies, into the Minari store."""
    import time

    from compose.data.errors import DatasetError
    from compose.data.factory import make_dataset

    t0 = time.time()
    try:
        made = make_dataset(
            env, quality, seed=seed, size=size, dataset_id=dataset_id, policy_dir=policy_dir
        )
    except DatasetError as exc:
        _fail(exc)
        return
    click.echo(f"made {made} in {time.time() - t0:.0f}s")


@data.command("import-d4rl")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env_id", required=True, help="Gymnasium id, e.g. Hopper-v5.")
@click.option("--id", "dataset_id", default=None, help="Minari id (default d4rl/<file stem>-v0).")
def import_d4rl_cmd(file: str, env_id: str, dataset_id: str | None) -> None:
    """Convert a D4RL-layout .hdf5 FILE into a Minari dataset in the local store."""
    from compose.data.errors import DatasetError
    from compose.data.importing import import_d4rl

    try:
        made = import_d4rl(file, env_id, dataset_id)
    except DatasetError as exc:
        _fail(exc)
        return
    click.echo(f"imported {file} as {made}")


if __name__ == "__main__":
    data()
