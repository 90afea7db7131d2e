"""``compose data ...``: list, inspect, make, import datasets; train behavior policies.

Mounted by the CLI owner as ``compose data``; also runnable as ``python -m compose.cli.data``.
Why: heavy imports (torch, minari, gymnasium) happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import shlex
import sys

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
def train_behavior(
    env: str,
    seed: int,
    steps: int,
    hidden: str,
    eval_every: int,
    learning_starts: int,
    max_minutes: float | None,
    out: str | None,
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


if __name__ == "__main__":
    data()
