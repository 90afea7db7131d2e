"""Run compose and OfflineRL-Kit side by side at one budget (issue #15 part 2).

For each recipe (mopo, mobile) x task x seed it runs

* compose: ``compose run recipes/<algo>.yaml`` with the budget as ``--set`` (model updates N
  as ``model_learner.max_updates``, policy steps M, evaluation every E with K episodes), one
  thread, no model cache (every run fits and times its own model), no Aim tracking, one
  checkpoint at the end;
* OfflineRL-Kit: ``run_offlinerlkit.py`` (in the reference venv) with every hyperparameter
  taken from the same resolved recipe (:func:`driver_flags`), on the qlearning export of the
  same dataset (``export_qlearning.py``, made here when missing).

The recipe values are the ones both systems run with (settings.md lists them side by side);
a recipe value the driver cannot express stops the script with the field named, instead of
running two different algorithms. Outputs: OUT/compose/<run>/summary.json and
OUT/offlinerlkit/<run>/result.json, run = <algo>__<env>-<quality>__s<seed>; a run whose
output exists is skipped (re-run the same command to resume a killed batch).
``python experiments/parity/table.py OUT`` makes the table and the plot.

    PYTHONPATH=$PWD python experiments/parity/compare.py --algos mopo --tasks \
        compose/halfcheetah/medium-v0 --seeds 0 --model-updates 500 --steps 1000 \
        --eval-every 500 --eval-episodes 2 --out runs/parity/tiny [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
DEFAULT_REF_PYTHON = "/work/ref/.venv/bin/python"


class Mismatch(ValueError):
    """A recipe value the OfflineRL-Kit driver cannot run (names the field)."""


def _need(tree: dict[str, Any], path: str, expected: Any) -> None:
    node: Any = tree
    for part in path.split("."):
        node = node[part]
    if node != expected:
        raise Mismatch(
            f"{path} = {node!r}: OfflineRL-Kit's classes only run {expected!r}; "
            f"set it with --set {path}={json.dumps(expected)} for a parity run"
        )


def driver_flags(r: dict[str, Any], algo: str) -> list[str]:
    """run_offlinerlkit.py flags carrying the resolved recipe ``r`` (``Recipe.model_dump``).

    Fixed structure of the reference classes is checked (``_need``); every tunable value is
    passed. MOBILE's beta is passed as beta * gamma: OfflineRL-Kit's ``compute_lcb`` takes the
    std of the next-state Q backups without gamma, our ``bellman_inconsistency`` (VIPO Eq. 20)
    with it, so beta * gamma gives the same penalty.
    """
    dyn, ml, ro, tr = r["dynamics"], r["model_learner"], r["rollout"], r["train"]
    pol, cri, ao = r["policy"], r["critic"], r["actor_objective"]
    for path, value in [
        ("dynamics.type", "gaussian_ensemble"),
        ("dynamics.activation", "swish"),
        ("dynamics.spectral_norm", False),
        ("dynamics.learn_reward", True),
        ("dynamics.max_logvar_init", 0.5),
        ("dynamics.min_logvar_init", -10.0),
        ("model_learner.type", "mle"),
        ("model_learner.holdout", 1000),
        ("model_learner.improvement", 0.01),
        ("model_learner.sampling", "bootstrap"),
        ("model_learner.loss_scale", "mbpo"),
        ("model_learner.aux_losses", []),
        ("rollout.actions", "policy"),
        ("policy.type", "tanh_gaussian"),
        ("policy.activation", "relu"),
        ("policy.log_std_min", -5.0),
        ("policy.log_std_max", 2.0),
        ("critic.aux_losses", []),
        ("actor.aux_losses", []),
        ("actor_objective.type", "sac"),
        ("policy_pretrain.steps", 0),
        ("train.actor_warmup", 0),
    ]:
        _need(r, path, value)
    if cri["hidden"] != pol["hidden"]:
        raise Mismatch(
            f"critic.hidden {cri['hidden']} != policy.hidden {pol['hidden']}: "
            "the reference scripts use one --hidden-dims for both"
        )
    if r["eval"]["final_episodes"] not in (None, r["eval"]["episodes"]):
        raise Mismatch("eval.final_episodes differs from eval.episodes: the driver evaluates alike")
    flags = [
        "--n-ensemble",
        dyn["members"],
        "--n-elites",
        dyn["elites"],
        "--dynamics-hidden-dims",
        *dyn["hidden"],
        "--dynamics-weight-decay",
        *dyn["weight_decay"],
        "--logvar-loss-coef",
        dyn["logvar_bound_weight"],
        "--dynamics-lr",
        ml["lr"],
        "--model-batch-size",
        ml["batch_size"],
        "--model-patience",
        ml["patience"],
        "--model-updates",
        ml["max_updates"] or 0,
        "--hidden-dims",
        *pol["hidden"],
        "--actor-lr",
        r["actor"]["lr"],
        "--critic-lr",
        cri["lr"],
        "--gamma",
        tr["gamma"],
        "--tau",
        tr["tau"],
        "--batch-size",
        tr["batch_size"],
        "--auto-alpha",
        str(ao["auto_alpha"]).lower(),
        "--alpha",
        ao["alpha"],
        "--alpha-lr",
        ao["alpha_lr"],
        "--real-ratio",
        ro["real_ratio"],
        "--rollout-freq",
        ro["every"],
        "--rollout-batch-size",
        ro["batch_size"],
        "--rollout-length",
        ro["length"],
        "--model-retain-epochs",
        ro["retain"],
        "--lr-schedule",
        "none",  # ours has no actor-lr schedule (the scripts: cosine)
        "--eval-episodes",
        r["eval"]["episodes"],
    ]
    if ml["max_epochs"] is not None:
        flags += ["--model-max-epochs", ml["max_epochs"]]
    if ao["target_entropy"] != "auto":
        flags += ["--target-entropy", ao["target_entropy"]]
    ct = r["critic_target"]
    if algo == "mopo":
        _need(r, "critic_target.type", "sac")
        _need(r, "critic_target.backup_entropy", True)  # SACPolicy's target is always soft
        _need(r, "reward_shaper.type", "uncertainty_penalty")
        _need(r, "reward_shaper.uncertainty.type", "max_aleatoric")
        _need(r, "reward_shaper.uncertainty.members", "all")
        _need(r, "reward_shaper.uncertainty.include_reward", True)
        if cri["num_critics"] != 2:
            raise Mismatch(f"critic.num_critics = {cri['num_critics']}: MOPOPolicy has 2 critics")
        flags += ["--penalty-coef", r["reward_shaper"]["penalty"]]
    elif algo == "mobile":
        _need(r, "critic_target.type", "penalized_sac")
        _need(r, "reward_shaper.type", "none")
        _need(r, "critic_target.uncertainty.type", "bellman_inconsistency")
        _need(r, "critic_target.uncertainty.members", "elites")
        _need(r, "critic_target.uncertainty.unbiased", True)
        flags += [
            "--num-q-ensemble",
            cri["num_critics"],
            "--num-samples",
            ct["uncertainty"]["samples"],
            "--penalty-coef",
            ct["beta"] * tr["gamma"],
            "--deterministic-backup",
            str(not ct["backup_entropy"]).lower(),
        ]
    else:
        raise Mismatch(f"algo {algo!r}: the driver runs mopo and mobile")
    return [str(f) for f in flags]


def budget_overrides(args: argparse.Namespace, task: str, seed: int) -> list[str]:
    """The ``--set`` overrides of one parity run (budget, data, seed, runtime)."""
    sets = [
        f"dataset.id={task}",
        f"seed={seed}",
        f"train.steps={args.steps}",
        f"eval.every={args.eval_every}",
        f"eval.episodes={args.eval_episodes}",
        f"checkpoint.every={args.steps}",  # one checkpoint, at the end (the driver writes none)
        f"runtime.threads={args.threads}",
        "runtime.model_cache=null",
        "runtime.device=cpu",
    ]
    if args.model_updates:
        sets.append(f"model_learner.max_updates={args.model_updates}")
    return sets + list(args.set)


def resolved(algo: str, sets: list[str]) -> dict[str, Any]:
    """Our recipe resolved with ``sets`` (all defaults filled in), as ``compose run`` uses it."""
    from compose.recipe import load_recipe

    return load_recipe(str(ROOT / "recipes" / f"{algo}.yaml"), sets).recipe.model_dump(mode="json")


def run_name(algo: str, task: str, seed: int) -> str:
    """``mopo__halfcheetah-medium__s0`` for compose/halfcheetah/medium-v0."""
    parts = task.split("/")
    short = f"{parts[-2]}-{parts[-1].rsplit('-v', 1)[0]}" if len(parts) >= 2 else parts[-1]
    return f"{algo}__{short}__s{seed}"


def export_path(task: str) -> Path:
    """Where the driver looks for the task's export (its default ``--data``)."""
    return ROOT / "runs" / "parity" / "data" / task.replace("/", "__")


def commands(args: argparse.Namespace) -> list[tuple[str, Path, list[str]]]:
    """(label, output marker, argv) of every run, compose first per (algo, task, seed)."""
    out: list[tuple[str, Path, list[str]]] = []
    compose_cli = str(Path(sys.executable).parent / "compose")
    for algo in args.algos:
        for task in args.tasks:
            for seed in args.seeds:
                name = run_name(algo, task, seed)
                sets = budget_overrides(args, task, seed)
                flags = driver_flags(resolved(algo, sets), algo)
                if "compose" in args.systems:
                    run_dir = args.out / "compose" / name
                    argv = [
                        compose_cli,
                        "run",
                        f"recipes/{algo}.yaml",
                        "--no-track",
                        "--run-dir",
                        str(run_dir),
                    ]
                    for s in sets:
                        argv += ["--set", s]
                    out.append((f"compose {name}", run_dir / "summary.json", argv))
                if "offlinerlkit" in args.systems:
                    run_dir = args.out / "offlinerlkit" / name
                    argv = [
                        args.ref_python,
                        str(HERE / "run_offlinerlkit.py"),
                        "--algo",
                        algo,
                        "--task",
                        task,
                        "--data",
                        str(export_path(task)),
                        "--seed",
                        str(seed),
                        "--steps",
                        str(args.steps),
                        "--eval-every",
                        str(args.eval_every),
                        "--threads",
                        str(args.threads),
                        "--out",
                        str(run_dir),
                        *flags,
                    ]
                    out.append((f"offlinerlkit {name}", run_dir / "result.json", argv))
    return out


def finished(marker: Path) -> bool:
    """A compose summary with status finished, or a driver result.json."""
    if not marker.is_file():
        return False
    if marker.name == "summary.json":
        return json.loads(marker.read_text()).get("status") == "finished"
    return True


def ensure_exports(tasks: list[str]) -> None:
    """Make the factory dataset (compose's loader does) and its qlearning export if missing."""
    sys.path.insert(0, str(HERE))
    from export_qlearning import export

    for task in tasks:
        path = export_path(task)
        if not path.with_suffix(".npz").is_file():
            meta = export(task, path)
            print(f"exported {task}: {meta['n_transitions']} rows -> {path}.npz", flush=True)


def main(argv: list[str] | None = None) -> int:
    """CLI: run (or with --dry-run print) every parity run."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algos", nargs="+", default=["mopo", "mobile"], choices=["mopo", "mobile"])
    p.add_argument(
        "--tasks",
        nargs="+",
        default=["compose/halfcheetah/medium-v0", "compose/walker2d/medium-v0"],
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument(
        "--model-updates", type=int, required=True, help="N (0: both stopping rules, no cap)"
    )
    p.add_argument("--steps", type=int, required=True, help="M policy steps")
    p.add_argument("--eval-every", type=int, required=True, help="E")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--systems",
        nargs="+",
        default=["compose", "offlinerlkit"],
        choices=["compose", "offlinerlkit"],
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="extra recipe override, applied to compose AND carried to the driver",
    )
    p.add_argument("--out", type=Path, required=True, help="e.g. runs/parity/m30k-p100k")
    p.add_argument("--ref-python", default=os.environ.get("PARITY_REF_PYTHON", DEFAULT_REF_PYTHON))
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = p.parse_args(argv)
    if args.steps % args.eval_every:
        p.error("--steps must be a multiple of --eval-every")
    try:
        runs = commands(args)
    except Mismatch as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for label, _, cmd in runs:
            print(f"# {label}\n{shlex.join(cmd)}")
        return 0
    ensure_exports(args.tasks)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": str(args.threads),
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    failures = 0
    for label, marker, cmd in runs:
        if finished(marker):
            print(f"skip {label} (done)", flush=True)
            continue
        marker.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with open(marker.parent / "parity.log", "w") as log:
            log.write(shlex.join(cmd) + "\n")
            log.flush()
            code = subprocess.call(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        print(
            f"{label}: exit {code} in {time.perf_counter() - t0:.0f} s (log {marker.parent}/parity.log)",
            flush=True,
        )
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
