"""Run OfflineRL-Kit's MOPO or MOBILE on a qlearning export of our dataset (issue #15).

The reference implementation runs, not a copy of it: this script imports OfflineRL-Kit's own
classes (``EnsembleDynamicsModel``/``EnsembleDynamics``, ``MOPOPolicy``/``MOBILEPolicy``,
``ActorProb``/``TanhDiagGaussian``/``Critic``/``MLP``, ``ReplayBuffer``, ``StandardScaler``,
its termination functions and ``MBPolicyTrainer._evaluate``) from a separate venv
(experiments/parity/README.md says how to obtain and install it) and wires them the way its
``run_example/run_mopo.py`` / ``run_mobile.py`` do, with three replacements:

* data: the ``.npz`` written by ``export_qlearning.py`` (the rows ``compose run`` trains on),
  not ``d4rl``;
* environment: Gymnasium v5 (HalfCheetah-v5, Walker2d-v5, Hopper-v5) behind the old gym API
  (:class:`OldGymApi`: ``reset() -> obs``, ``step() -> (obs, r, done, info)``, ``done`` =
  terminated or truncated, as old gym's ``TimeLimit`` reported it), episode ``k`` of every
  evaluation seeded ``seed + 10000 + k`` as ``compose run`` seeds its evaluation envs, and
  the normalized score 100 (R - R_min) / (R_max - R_min) with the reference returns compose
  uses (the export's ``ref_min_score``/``ref_max_score``, from ``compose/envs/reference.py``);
* loops: the policy phase is a small loop of ours over the reference's ``policy.rollout`` and
  ``policy.learn`` (what ``MBPolicyTrainer.train`` does per step) so that evaluation runs
  every ``--eval-every`` steps, the real/model split is ``round(batch * real_ratio)`` real
  rows like compose's, and the optional cosine actor-lr schedule steps every 1000 steps as in
  the reference scripts (whose epochs are 1000 steps). The model phase is the reference's
  ``EnsembleDynamics.train`` (``--model-updates 0``: its stopping rule), or, with a budget of
  N gradient updates, a loop of ours over its ``learn``/``validate``/``update_save``/
  ``select_elites`` with the same rule, stopping after exactly N updates like compose's
  ``model_learner.max_updates``.

Every hyperparameter is a flag; the defaults are the reference scripts' (run_mopo.py,
run_mobile.py); ``compare.sh`` passes the values of our recipe (see settings.md).
Writes OUT/result.json (settings, model-phase metrics, evaluations, at each evaluation the
last update's losses and alpha and the last rollout round's penalized model-reward mean,
wall-clock seconds per phase) and OUT/evals.csv (step, return, normalized score).

    /work/ref/.venv/bin/python \
        experiments/parity/run_offlinerlkit.py --algo mopo --task compose/halfcheetah/medium-v0 \
        --seed 0 --model-updates 500 --steps 1000 --eval-every 500 --eval-episodes 2 \
        --threads 1 --out runs/parity/offlinerlkit/mopo-halfcheetah-s0
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def use_gym_shim() -> None:
    """Put ``gym_shim`` on sys.path when old gym is absent (OfflineRL-Kit imports it for hints)."""
    try:
        import gym  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(HERE / "gym_shim"))


#: The reference scripts' defaults (run_example/run_mopo.py, run_mobile.py), per algorithm.
REFERENCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "mopo": {"penalty_coef": 2.5, "lr_schedule": "cosine"},
    "mobile": {"penalty_coef": 1.5, "lr_schedule": "cosine"},
}


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags; every hyperparameter defaults to the reference script's value."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", choices=sorted(REFERENCE_DEFAULTS), required=True)
    p.add_argument(
        "--task", required=True, help="our dataset id, e.g. compose/halfcheetah/medium-v0"
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="export path without suffix (default runs/parity/data/<task with / as __>)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, required=True)
    # budget
    p.add_argument(
        "--model-updates",
        type=int,
        default=0,
        help="model gradient updates (0: the reference's own stopping rule, no cap)",
    )
    p.add_argument(
        "--model-max-epochs", type=int, default=None, help="cap on model epochs (run_mobile: 30)"
    )
    p.add_argument("--model-patience", type=int, default=5, help="max_epochs_since_update")
    p.add_argument(
        "--steps",
        type=int,
        default=3_000_000,
        help="policy gradient steps (epoch x step_per_epoch)",
    )
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--eval-episodes", type=int, default=10)
    # dynamics
    p.add_argument("--n-ensemble", type=int, default=7)
    p.add_argument("--n-elites", type=int, default=5)
    p.add_argument("--dynamics-hidden-dims", type=int, nargs="*", default=[200, 200, 200, 200])
    p.add_argument(
        "--dynamics-weight-decay",
        type=float,
        nargs="*",
        default=[2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4],
    )
    p.add_argument("--dynamics-lr", type=float, default=1e-3)
    p.add_argument("--model-batch-size", type=int, default=256)
    p.add_argument("--holdout-ratio", type=float, default=0.2, help="holdout = min(ratio N, 1000)")
    p.add_argument("--logvar-loss-coef", type=float, default=0.01)
    # policy
    p.add_argument("--hidden-dims", type=int, nargs="*", default=[256, 256])
    p.add_argument("--actor-lr", type=float, default=1e-4)
    p.add_argument("--critic-lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=0.005)
    p.add_argument(
        "--alpha",
        type=float,
        default=1.0,
        help="initial alpha (the scripts: log alpha = 0, alpha 1, when auto)",
    )
    p.add_argument("--auto-alpha", type=_bool, default=True)
    p.add_argument("--alpha-lr", type=float, default=1e-4)
    p.add_argument("--target-entropy", type=float, default=None, help="default -dim(A)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--real-ratio", type=float, default=0.05)
    p.add_argument("--rollout-freq", type=int, default=1000)
    p.add_argument("--rollout-batch-size", type=int, default=50000)
    p.add_argument("--rollout-length", type=int, default=1)
    p.add_argument("--model-retain-epochs", type=int, default=5)
    p.add_argument("--penalty-coef", type=float, default=None, help="MOPO lambda / MOBILE beta")
    p.add_argument(
        "--lr-schedule",
        choices=["none", "cosine"],
        default=None,
        help="actor lr: cosine over the run, stepped every 1000 steps (the scripts)",
    )
    p.add_argument("--num-q-ensemble", type=int, default=2, help="MOBILE critics")
    p.add_argument("--num-samples", type=int, default=10, help="MOBILE next-state samples")
    p.add_argument(
        "--deterministic-backup", type=_bool, default=True, help="MOBILE: no entropy in target"
    )
    args = p.parse_args(argv)
    for key, value in REFERENCE_DEFAULTS[args.algo].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.data is None:
        args.data = Path("runs/parity/data") / args.task.replace("/", "__")
    for name in ("steps", "eval_every", "eval_episodes", "threads"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.steps % args.eval_every:
        p.error(f"--steps ({args.steps}) must be a multiple of --eval-every ({args.eval_every})")
    return args


class OldGymApi:
    """A Gymnasium env behind the old gym API that OfflineRL-Kit's evaluation calls.

    ``reset()`` returns the observation; ``step(a)`` returns (obs, reward, done, info) with
    done = terminated or truncated (old gym's TimeLimit set done at the limit).
    :meth:`begin_evaluation` restarts the episode counter so every evaluation sees the same
    start states: episode k is reset with seed ``seed + k`` (compose: ``run seed + 10000 + k``).
    """

    def __init__(self, env_id: str, seed: int, ref_min: float, ref_max: float) -> None:
        import gymnasium

        self.env = gymnasium.make(env_id)
        self.seed = seed
        self.ref_min, self.ref_max = ref_min, ref_max
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self.episode = 0
        self.returns: list[float] = []
        self._ret = 0.0

    def begin_evaluation(self) -> None:
        """Start a new evaluation: episode seeds restart at ``seed``."""
        self.episode = 0
        self.returns = []

    def reset(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self.seed + self.episode)
        self.episode += 1
        self._ret = 0.0
        return obs

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._ret += float(reward)
        done = bool(terminated or truncated)
        if done:
            self.returns.append(self._ret)
        return obs, float(reward), done, info

    def get_normalized_score(self, ret: float) -> float:
        """(R - R_min) / (R_max - R_min), D4RL's convention (the trainer multiplies by 100)."""
        return (ret - self.ref_min) / (self.ref_max - self.ref_min)


class NullLogger:
    """The few methods of OfflineRL-Kit's Logger its classes call; prints only ``log`` lines.

    Why: the reference Logger writes TensorBoard files and a folder tree per run; the driver
    records what it needs itself (result.json).
    """

    def __init__(self, out: Path) -> None:
        self.model_dir = str(out / "model")
        self.checkpoint_dir = str(out / "checkpoint")
        os.makedirs(self.model_dir, exist_ok=True)
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        self.last: dict[str, float] = {}

    def log(self, text: str) -> None:
        print(text, flush=True)

    def logkv(self, key: str, value: float) -> None:
        self.last[key] = float(value)

    def logkv_mean(self, key: str, value: float) -> None:
        self.last[key] = float(value)

    def set_timestep(self, step: int) -> None:
        pass

    def dumpkvs(self, exclude: Any = None) -> None:
        pass

    def close(self) -> None:
        pass


def load_export(path: Path, task: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The export's arrays (float32; rewards/terminals [N]) and its metadata; checks the id."""
    meta = json.loads(path.with_suffix(".json").read_text())
    if meta["dataset_id"] != task:
        raise SystemExit(
            f"run_offlinerlkit: {path} holds {meta['dataset_id']!r}, not --task {task!r}"
        )
    with np.load(path.with_suffix(".npz")) as npz:
        data = {
            k: npz[k]
            for k in ("observations", "actions", "next_observations", "rewards", "terminals")
        }
    return data, meta


def train_model_capped(
    dynamics: Any, data: dict[str, np.ndarray], args: argparse.Namespace
) -> dict[str, Any]:
    """The reference's model fit (EnsembleDynamics.train's rule) stopped after N updates.

    Same split (min(ratio N, 1000) holdout), input scaler fit on the training split,
    bootstrap indices drawn once and reordered every epoch, the 1% improvement rule per
    member with ``update_save``, patience ``--model-patience``, elites by best holdout loss;
    the gradient steps are the reference's ``learn`` on slices of each epoch's rows, so the
    last epoch may be partial (as compose's ``model_learner.max_updates``).
    """
    import torch

    model = dynamics.model
    inputs, targets = dynamics.format_samples_for_training(data)
    n = inputs.shape[0]
    n_hold = min(int(n * args.holdout_ratio), 1000)
    split = torch.utils.data.random_split(range(n), (n - n_hold, n_hold))
    train_idx, hold_idx = split[0].indices, split[1].indices
    x, y = inputs[train_idx], targets[train_idx]
    hx, hy = inputs[hold_idx], targets[hold_idx]
    dynamics.scaler.fit(x)
    x, hx = dynamics.scaler.transform(x), dynamics.scaler.transform(hx)
    members, n_train, bs = model.num_ensemble, x.shape[0], args.model_batch_size
    rows = np.random.randint(n_train, size=[members, n_train])
    best = [1e10] * members
    updates = epochs = since = 0
    while updates < args.model_updates:
        batches = min(math.ceil(n_train / bs), args.model_updates - updates)
        take = rows[:, : batches * bs]
        dynamics.learn(x[take], y[take], bs, args.logvar_loss_coef)
        updates += batches
        epochs += 1
        losses = dynamics.validate(hx, hy)
        rows = np.take_along_axis(
            rows, np.argsort(np.random.uniform(size=rows.shape), axis=-1), axis=-1
        )
        improved = [i for i in range(members) if (best[i] - losses[i]) / best[i] > 0.01]
        for i in improved:
            best[i] = losses[i]
        if improved:
            model.update_save(improved)
            since = 0
        else:
            since += 1
        if since >= args.model_patience or (
            args.model_max_epochs and epochs >= args.model_max_epochs
        ):
            break
    elites = dynamics.select_elites(best)
    model.set_elites(elites)
    model.load_save()
    model.eval()
    return {
        "updates": updates,
        "epochs": epochs,
        "elites": sorted(int(e) for e in elites),
        "holdout_mse_raw": float(np.sort(best)[: model.num_elites].mean()),
    }


def build(args: argparse.Namespace, meta: dict[str, Any], env: OldGymApi) -> tuple[Any, Any, Any]:
    """(dynamics, policy, lr scheduler) wired as run_mopo.py / run_mobile.py wire them."""
    import torch
    from offlinerlkit.dynamics import EnsembleDynamics
    from offlinerlkit.modules import ActorProb, Critic, EnsembleDynamicsModel, TanhDiagGaussian
    from offlinerlkit.nets import MLP
    from offlinerlkit.policy import MOBILEPolicy, MOPOPolicy
    from offlinerlkit.utils.scaler import StandardScaler
    from offlinerlkit.utils.termination_fns import get_termination_fn

    obs_dim, act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
    max_action = float(env.action_space.high[0])
    actor_backbone = MLP(input_dim=obs_dim, hidden_dims=args.hidden_dims)
    dist = TanhDiagGaussian(
        latent_dim=actor_backbone.output_dim,
        output_dim=act_dim,
        unbounded=True,
        conditioned_sigma=True,
        max_mu=max_action,
    )
    actor = ActorProb(actor_backbone, dist, args.device)
    actor_optim = torch.optim.Adam(actor.parameters(), lr=args.actor_lr)
    scheduler = None
    if args.lr_schedule == "cosine":  # the scripts: T_max = epochs of 1000 steps
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            actor_optim, max(args.steps // 1000, 1)
        )
    if args.auto_alpha:
        target_entropy = args.target_entropy if args.target_entropy is not None else -float(act_dim)
        args.target_entropy = target_entropy
        log_alpha = torch.full((1,), math.log(args.alpha), requires_grad=True, device=args.device)
        alpha: Any = (target_entropy, log_alpha, torch.optim.Adam([log_alpha], lr=args.alpha_lr))
    else:
        alpha = args.alpha
    model = EnsembleDynamicsModel(
        obs_dim=obs_dim,
        action_dim=act_dim,
        hidden_dims=args.dynamics_hidden_dims,
        num_ensemble=args.n_ensemble,
        num_elites=args.n_elites,
        weight_decays=args.dynamics_weight_decay,
        device=args.device,
    )
    dynamics = EnsembleDynamics(
        model,
        torch.optim.Adam(model.parameters(), lr=args.dynamics_lr),
        StandardScaler(),
        get_termination_fn(task=meta["env_id"].lower()),
        penalty_coef=args.penalty_coef if args.algo == "mopo" else 0.0,
    )

    def critic() -> Any:
        return Critic(MLP(input_dim=obs_dim + act_dim, hidden_dims=args.hidden_dims), args.device)

    if args.algo == "mopo":
        c1, c2 = critic(), critic()
        policy = MOPOPolicy(
            dynamics,
            actor,
            c1,
            c2,
            actor_optim,
            torch.optim.Adam(c1.parameters(), lr=args.critic_lr),
            torch.optim.Adam(c2.parameters(), lr=args.critic_lr),
            tau=args.tau,
            gamma=args.gamma,
            alpha=alpha,
        )
    else:
        critics = torch.nn.ModuleList([critic() for _ in range(args.num_q_ensemble)])
        policy = MOBILEPolicy(
            dynamics,
            actor,
            critics,
            actor_optim,
            torch.optim.Adam(critics.parameters(), lr=args.critic_lr),
            tau=args.tau,
            gamma=args.gamma,
            alpha=alpha,
            penalty_coef=args.penalty_coef,
            num_samples=args.num_samples,
            deterministic_backup=args.deterministic_backup,
            max_q_backup=False,
        )
    return dynamics, policy, scheduler


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Model phase, policy phase with periodic evaluation; returns (and writes) the result."""
    use_gym_shim()
    import torch
    from offlinerlkit.buffer import ReplayBuffer
    from offlinerlkit.policy_trainer import MBPolicyTrainer

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    data, meta = load_export(args.data, args.task)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    env = OldGymApi(
        meta["env_id"], args.seed + 10_000, meta["ref_min_score"], meta["ref_max_score"]
    )
    dynamics, policy, scheduler = build(args, meta, env)
    obs_shape, act_dim = (int(meta["obs_dim"]),), int(meta["act_dim"])
    real = ReplayBuffer(
        len(data["observations"]), obs_shape, np.float32, act_dim, np.float32, args.device
    )
    real.load_dataset(data)
    fake = ReplayBuffer(
        args.rollout_batch_size * args.rollout_length * args.model_retain_epochs,
        obs_shape,
        np.float32,
        act_dim,
        np.float32,
        args.device,
    )
    logger = NullLogger(args.out)

    # model phase
    t0 = time.perf_counter()
    if args.model_updates > 0:
        model_metrics = train_model_capped(dynamics, real.sample_all(), args)
    else:
        dynamics.train(
            real.sample_all(),
            logger,
            max_epochs=args.model_max_epochs,
            max_epochs_since_update=args.model_patience,
            batch_size=args.model_batch_size,
            logvar_loss_coef=args.logvar_loss_coef,
        )
        model_metrics = {
            "elites": sorted(int(e) for e in dynamics.model.elites.tolist()),
            "holdout_mse_raw": logger.last.get("loss/dynamics_holdout_loss"),
        }
    model_s = time.perf_counter() - t0
    print(f"model phase: {model_metrics} in {model_s:.1f} s", flush=True)

    # policy phase; evaluation by the reference trainer's own _evaluate
    evaluator = MBPolicyTrainer(
        policy,
        env,
        real,
        fake,
        logger,
        (args.rollout_freq, args.rollout_batch_size, args.rollout_length),
        eval_episodes=args.eval_episodes,
    )
    n_real = int(round(args.batch_size * args.real_ratio))  # compose's split (the trainer: int())
    n_fake = args.batch_size - n_real
    evals: list[dict[str, float]] = []
    diagnostics: list[dict[str, float]] = []
    eval_s = rollout_s = 0.0
    t_policy = time.perf_counter()
    policy.train()
    for step in range(args.steps):
        if step % args.rollout_freq == 0:
            t_r = time.perf_counter()
            starts = real.sample(args.rollout_batch_size)["observations"].cpu().numpy()
            transitions, rollout_info = policy.rollout(starts, args.rollout_length)
            fake.add_batch(**transitions)
            rollout_s += time.perf_counter() - t_r
        losses = policy.learn({"real": real.sample(n_real), "fake": fake.sample(n_fake)})
        done = step + 1
        if scheduler is not None and done % 1000 == 0:
            scheduler.step()
        if done % args.eval_every == 0:
            t_e = time.perf_counter()
            env.begin_evaluation()
            info = evaluator._evaluate()
            policy.train()
            returns = np.asarray(info["eval/episode_reward"], dtype=np.float64)
            scores = 100.0 * np.array([env.get_normalized_score(r) for r in returns])
            evals.append(
                {
                    "step": done,
                    "return": float(returns.mean()),
                    "return_std": float(returns.std()),
                    "normalized_score": float(scores.mean()),
                    "normalized_score_std": float(scores.std()),
                }
            )
            # the last update's losses/alpha and the last rollout round's (penalized) model reward
            diagnostics.append(
                {
                    "step": done,
                    **{k: float(v) for k, v in losses.items()},
                    "rollout_reward_mean": float(rollout_info["reward_mean"]),
                    "rollout_transitions": int(rollout_info["num_transitions"]),
                }
            )
            eval_s += time.perf_counter() - t_e
            print(
                f"step {done}: return {returns.mean():.1f}, score {scores.mean():.1f}", flush=True
            )
    policy_total_s = time.perf_counter() - t_policy
    result = {
        "system": "offlinerlkit",
        "algo": args.algo,
        "task": args.task,
        "seed": args.seed,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "real_rows_per_batch": n_real,
        "dataset_fingerprint": meta["fingerprint"],
        "model": model_metrics,
        "evals": evals,
        "diagnostics": diagnostics,
        "wall": {
            "model_s": model_s,
            "policy_s": policy_total_s - eval_s,
            "rollout_s": rollout_s,
            "eval_s": eval_s,
            "total_s": time.perf_counter() - t_start,
        },
        "torch": torch.__version__,
        "threads": args.threads,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    with open(args.out / "evals.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(evals[0]) if evals else ["step"])
        writer.writeheader()
        writer.writerows(evals)
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    args = parse_args(argv)
    if not args.data.with_suffix(".npz").is_file():
        print(
            f"run_offlinerlkit: no export at {args.data}.npz; run export_qlearning.py first",
            file=sys.stderr,
        )
        return 2
    result = run(args)
    print(
        json.dumps(
            {"wall": result["wall"], "final": result["evals"][-1] if result["evals"] else None}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
