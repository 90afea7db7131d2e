"""The dataset factory: D4RL-style datasets collected by the project's own behavior policies.

Reference: D4RL (Fu et al. 2020) §5: random = uniform actions; medium = a SAC policy at ~1/3
of expert return; medium-replay = the replay buffer up to that point; expert = the trained
policy; medium-expert = medium and expert concatenated.
Why medium-replay is regenerated: shipping replay buffers costs megabytes per env, so the
medium checkpoint carries a few fp16 policy snapshots from its training run and medium-replay
re-collects each training segment with the snapshot that opened it (uniform actions for the
warm-up), in the segment's original proportion. Its provenance says so.
Data is collected with stochastic actions in N_ENVS seeded envs stepped in lockstep, with one
batched numpy policy call per step (no torch in the loop); same seed, same data.
Why numpy: at a batch of a few envs a torch call is mostly dispatch and intra-op threading
overhead, which dominated ``compose data make`` (figures in compose/bench/PROFILE.md).
"""

from __future__ import annotations

import importlib.metadata
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compose.data.arrays import TransitionArrays
from compose.data.errors import DatasetError
from compose.envs.reference import (
    D4RL_REF_SCORES,
    ENV_IDS,
    PENDULUM_REF_SCORES,
    env_id_for,
)

BEHAVIOR_DIR = Path(__file__).parent / "behavior_policies"
QUALITIES = ("random", "medium", "medium-replay", "expert", "medium-expert")
DEFAULT_SIZE = {"hopper": 200_000, "halfcheetah": 200_000, "walker2d": 200_000, "pendulum": 2_000}
N_ENVS = 8  # envs stepped together: one policy call per 8 transitions

PolicyFn = Callable[[np.ndarray], np.ndarray]


def factory_id(env: str, quality: str) -> str:
    """``compose/<env>/<quality>-v0``."""
    return f"compose/{env}/{quality}-v0"


def parse_factory_id(dataset_id: str) -> tuple[str, str] | None:
    """(env, quality) if ``dataset_id`` is one the factory can make, else None."""
    parts = dataset_id.split("/")
    if len(parts) != 3 or parts[0] != "compose" or not parts[2].endswith("-v0"):
        return None
    env, quality = parts[1], parts[2][: -len("-v0")]
    return (env, quality) if env in ENV_IDS and quality in QUALITIES else None


@dataclass
class _Episode:
    """One finished episode of one env: states [T+1, do] (final state included)."""

    start: int  # lockstep step at which its first action was taken (orders episodes)
    env: int
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool


def collect(
    env_id: str,
    policy: PolicyFn | None,
    n_transitions: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    n_envs: int = N_ENVS,
) -> tuple[TransitionArrays, np.ndarray]:
    """Roll ``policy`` (None: uniform actions) in ``n_envs`` envs for ``n_transitions`` steps.

    The envs step in lockstep with one batched policy call per step. New episodes start until
    ``n_transitions`` steps are collected; running episodes then finish. Episodes are ordered
    by (start step, env) and kept whole until the budget, whose last episode is cut to fit
    (marked a timeout, like the end of D4RL's buffers); episodes that reach the env's
    ``max_episode_steps`` are timeouts, episodes that fail are terminals.
    Returns the transitions (episodes contiguous) and the returns of the kept whole episodes.
    Why this order: it keeps whole episodes without favouring short ones (an episode's start
    does not depend on its length), and at most one episode is cut, as in a one-env buffer.
    """
    import gymnasium as gym

    spec = gym.spec(env_id)
    max_steps = int(spec.max_episode_steps or 1000)
    # Why unwrapped: TimeLimit/OrderEnforcing cost a Python frame each per step; the time
    # limit is applied below with the spec's max_episode_steps, exactly as TimeLimit does.
    envs = [gym.make(env_id, disable_env_checker=True).unwrapped for _ in range(n_envs)]
    rng = np.random.default_rng(seed)
    low = envs[0].action_space.low.astype(np.float32)
    high = envs[0].action_space.high.astype(np.float32)
    do, da = envs[0].observation_space.shape[0], low.shape[0]
    buf_obs = np.zeros((n_envs, max_steps + 1, do))
    buf_act = np.zeros((n_envs, max_steps, da), dtype=np.float32)
    buf_rew = np.zeros((n_envs, max_steps))
    t_env = np.zeros(n_envs, dtype=np.int64)  # steps taken in each env's running episode
    ep_start = np.zeros(n_envs, dtype=np.int64)
    episodes: list[_Episode] = []
    collected, step = 0, 0
    try:
        for i, env in enumerate(envs):
            buf_obs[i, 0] = env.reset(seed=seed * 1000 + i)[0]
        active = list(range(n_envs))
        while active:
            idx = np.asarray(active)
            obs = buf_obs[idx, t_env[idx]]
            if policy is None:
                action = rng.uniform(low, high, size=(len(idx), da)).astype(np.float32)
            else:
                action = np.clip(policy(obs), low, high).astype(np.float32)
            still, full = [], collected + len(active) >= n_transitions
            for j, i in enumerate(active):
                t = t_env[i]
                nxt, rew, term, _, _ = envs[i].step(action[j])
                buf_act[i, t], buf_rew[i, t], buf_obs[i, t + 1] = action[j], rew, nxt
                t_env[i] = t = t + 1
                trunc = t >= max_steps and not term
                if term or trunc:
                    episodes.append(
                        _Episode(
                            int(ep_start[i]),
                            i,
                            buf_obs[i, : t + 1].copy(),
                            buf_act[i, :t].copy(),
                            buf_rew[i, :t].copy(),
                            bool(term),
                            bool(trunc),
                        )
                    )
                    if full:
                        continue  # budget reached: no new episode in this env
                    buf_obs[i, 0] = envs[i].reset()[0]
                    t_env[i], ep_start[i] = 0, step + 1
                still.append(i)
            done_now = min(len(active), max(n_transitions - collected, 0))
            collected += len(active)
            step += 1
            if full:  # drain: stop running episodes that the budget cuts anyway
                for i in _beyond_budget(episodes, still, ep_start, t_env, n_transitions):
                    t = t_env[i]
                    episodes.append(
                        _Episode(
                            int(ep_start[i]),
                            i,
                            buf_obs[i, : t + 1].copy(),
                            buf_act[i, :t].copy(),
                            buf_rew[i, :t].copy(),
                            False,
                            False,
                        )
                    )
                    still.remove(i)
            active = still
            if progress is not None and done_now:
                progress(done_now)
    finally:
        for env in envs:
            env.close()
    return _assemble(episodes, n_transitions, do, da)


def _beyond_budget(
    episodes: list[_Episode],
    running: list[int],
    ep_start: np.ndarray,
    t_env: np.ndarray,
    n: int,
) -> list[int]:
    """Envs whose running episode already has every step the budget will keep of it.

    In (start, env) order an episode keeps min(length, n - steps before it); the steps before
    it can only grow while earlier episodes run, so once (steps before it so far) + (its
    steps so far) >= n, running it longer adds nothing to the dataset.
    """
    items = [(e.start, e.env, len(e.rewards), -1) for e in episodes]
    items += [(int(ep_start[i]), i, int(t_env[i]), i) for i in running]
    items.sort()
    stop, before = [], 0
    for _, _, length, env in items:
        if env >= 0 and before + length >= n:
            stop.append(env)
        before += length
    return stop


def _assemble(
    episodes: list[_Episode], n: int, do: int, da: int
) -> tuple[TransitionArrays, np.ndarray]:
    """Whole episodes in (start, env) order up to ``n`` transitions; the last one cut to fit."""
    episodes = sorted(episodes, key=lambda e: (e.start, e.env))
    kept, total = [], 0
    for ep in episodes:
        if total >= n:
            break
        kept.append(ep)
        total += len(ep.rewards)
    if not kept:
        empty = np.zeros((0, do))
        return TransitionArrays(
            empty,
            np.zeros((0, da), np.float32),
            np.zeros(0),
            empty,
            np.zeros(0, np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, bool),
        ), np.zeros(0)
    lengths = np.array([len(e.rewards) for e in kept])
    lengths[-1] -= total - n  # the budget cuts the last kept episode
    ends = np.cumsum(lengths)
    starts = np.zeros(n, dtype=bool)
    starts[ends - lengths] = True
    terminals = np.zeros(n, dtype=np.float32)
    timeouts = np.zeros(n, dtype=np.float32)
    # cut by the budget, or stopped early by the drain (then its length is exactly the budget's)
    cut = total > n or not (kept[-1].terminated or kept[-1].truncated)
    for k, ep in enumerate(kept):
        last = ends[k] - 1
        if k == len(kept) - 1 and cut:
            timeouts[last] = 1.0
        else:
            terminals[last], timeouts[last] = float(ep.terminated), float(ep.truncated)
    arrays = TransitionArrays(
        obs=np.concatenate([e.obs[:m] for e, m in zip(kept, lengths, strict=True)]),
        actions=np.concatenate([e.actions[:m] for e, m in zip(kept, lengths, strict=True)]),
        rewards=np.concatenate([e.rewards[:m] for e, m in zip(kept, lengths, strict=True)]),
        next_obs=np.concatenate([e.obs[1 : m + 1] for e, m in zip(kept, lengths, strict=True)]),
        terminals=terminals,
        timeouts=timeouts,
        episode_starts=starts,
    )
    whole = kept[:-1] if cut else kept
    return arrays, np.array([e.rewards.sum() for e in whole])


def concat(parts: list[TransitionArrays]) -> TransitionArrays:
    """Concatenate transition sets (each starts a fresh episode)."""
    return TransitionArrays(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in (
                "obs",
                "actions",
                "rewards",
                "next_obs",
                "terminals",
                "timeouts",
                "episode_starts",
            )
        )
    )


def _policy_fn(state_dict: dict[str, Any], config: dict[str, Any], seed: int) -> PolicyFn:
    """The checkpoint's stochastic policy as a numpy function (no torch in the collection loop)."""
    from compose.data.behavior.policy import BehaviorPolicy

    policy = BehaviorPolicy(**config)
    policy.load_state_dict(state_dict)
    policy.eval()
    return policy.numpy_sampler(seed)


def load_behavior(env: str, kind: str, policy_dir: Path) -> tuple[dict[str, Any], Path]:
    """The raw checkpoint dict of ``<env>_<kind>.pt`` (weights_only), and its path."""
    import torch

    path = Path(policy_dir) / f"{env}_{kind}.pt"
    if not path.is_file():
        raise DatasetError(
            f"dataset compose/{env}/...: no {kind} behavior policy at {path}; train one with "
            f"`compose data train-behavior {env}` (writes {env}_medium.pt and {env}_expert.pt)"
        )
    return torch.load(path, map_location="cpu", weights_only=True), path


def _behavior_record(ckpt: dict[str, Any], path: Path) -> dict[str, Any]:
    keys = (
        "kind",
        "env_steps",
        "eval_return",
        "normalized_score",
        "train_seconds",
        "command",
        "below_target",
    )
    return {"checkpoint": path.name, **{k: ckpt["meta"].get(k) for k in keys}}


def make_arrays(
    env: str,
    quality: str,
    seed: int,
    size: int,
    policy_dir: Path,
    progress: Callable[[int], None] | None = None,
) -> tuple[TransitionArrays, np.ndarray, list[dict[str, Any]]]:
    """Collect one quality's transitions; returns (arrays, episode returns, behavior records)."""
    env_id = env_id_for(env)
    if quality == "random":
        arrays, rets = collect(env_id, None, size, seed, progress)
        return arrays, rets, [{"kind": "uniform random actions"}]
    if quality in ("medium", "expert"):
        ckpt, path = load_behavior(env, quality, policy_dir)
        fn = _policy_fn(ckpt["state_dict"], ckpt["config"], seed)
        arrays, rets = collect(env_id, fn, size, seed, progress)
        return arrays, rets, [_behavior_record(ckpt, path)]
    if quality == "medium-expert":
        a1, r1, b1 = make_arrays(env, "medium", seed, size, policy_dir, progress)
        a2, r2, b2 = make_arrays(env, "expert", seed + 1, size, policy_dir, progress)
        return concat([a1, a2]), np.concatenate([r1, r2]), b1 + b2
    if quality == "medium-replay":
        ckpt, path = load_behavior(env, "medium", policy_dir)
        snaps = ckpt.get("snapshots") or []
        if not snaps:
            raise DatasetError(
                f"dataset compose/{env}/medium-replay-v0: {path.name} carries no training "
                "snapshots, so its replay data cannot be regenerated; retrain with "
                f"`compose data train-behavior {env}`"
            )
        warmup = int(ckpt["meta"].get("sac_config", {}).get("learning_starts", 0))
        bounds = [warmup] + [int(s["env_steps"]) for s in snaps]
        total = max(bounds[-1], 1)
        parts, rets = [], []
        seg_bounds = [0, *bounds]
        # segment k covers steps (seg_bounds[k], seg_bounds[k+1]]: uniform actions during the
        # warm-up, then the latest snapshot taken at or before the segment's start
        policies: list[dict[str, Any] | None] = [None] + [
            snaps[max(k - 2, 0)]["state_dict"] for k in range(1, len(seg_bounds) - 1)
        ]
        sizes = [
            int(round(size * (b - a) / total))
            for a, b in zip(seg_bounds, seg_bounds[1:], strict=False)
        ]
        sizes[-1] += size - sum(sizes)
        for k, n in enumerate(sizes):
            if n <= 0:
                continue
            sd = policies[k]
            fn = (
                None
                if sd is None
                else _policy_fn({key: v.float() for key, v in sd.items()}, ckpt["config"], seed + k)
            )
            a, r = collect(env_id, fn, n, seed + k, progress)
            parts.append(a)
            rets.append(r)
        record = _behavior_record(ckpt, path)
        record["snapshot_env_steps"] = bounds[1:]
        record["segment_sizes"] = sizes
        return concat(parts), np.concatenate(rets), [record]
    raise DatasetError(f"unknown quality {quality!r}; expected one of: {', '.join(QUALITIES)}")


def make_dataset(
    env: str,
    quality: str,
    seed: int = 0,
    size: int | None = None,
    dataset_id: str | None = None,
    policy_dir: str | Path | None = None,
    progress: bool = True,
) -> str:
    """Collect and write ``compose/<env>/<quality>-v0`` to the local Minari store; return its id.

    ``size`` transitions per behavior policy (medium-expert has 2 x size; medium-replay
    defaults to the medium policy's training env steps, like D4RL's buffer). The metadata's
    ``compose`` entry records reference scores, behavior policies and their returns, the
    seed, the command and the project version.
    """
    from compose.data import minari_io

    if env not in ENV_IDS:
        raise DatasetError(f"unknown env {env!r}; expected one of: {', '.join(ENV_IDS)}")
    if quality not in QUALITIES:
        raise DatasetError(f"unknown quality {quality!r}; expected one of: {', '.join(QUALITIES)}")
    dataset_id = dataset_id or factory_id(env, quality)
    policy_dir = Path(policy_dir) if policy_dir else BEHAVIOR_DIR
    if size is None and quality == "medium-replay":
        # D4RL: the replay buffer *up to* the medium policy, so as many steps as it trained
        size = int(load_behavior(env, "medium", policy_dir)[0]["meta"]["env_steps"])
    size = size or DEFAULT_SIZE[env]
    total = 2 * size if quality == "medium-expert" else size
    t0 = time.time()
    if progress:
        from rich.console import Console

        from compose.train.progress import RunProgress

        done = [0]
        with RunProgress(
            Console(stderr=True), total, 0, f"making {dataset_id}", unit="transitions"
        ) as bar:

            def advance(n: int) -> None:
                done[0] += n
                bar.update(done[0])

            arrays, rets, behavior = make_arrays(env, quality, seed, size, policy_dir, advance)
    else:
        arrays, rets, behavior = make_arrays(env, quality, seed, size, policy_dir)
    ref = D4RL_REF_SCORES.get(env, PENDULUM_REF_SCORES)
    version = importlib.metadata.version("compose-rl")
    behavior_mean = float(rets.mean()) if len(rets) else None
    how = {
        "random": "uniform random actions",
        "medium-replay": "the project's SAC training snapshots up to its medium policy "
        "(re-collected, not the literal replay buffer)",
    }.get(quality, f"stochastic actions of the project's own SAC {quality} behavior policy")
    scores = "; ".join(
        f"{b['checkpoint']}: eval return {b['eval_return']:.1f} "
        f"(normalized {b['normalized_score']:.1f}) after {b['env_steps']} SAC steps"
        + (" — BELOW the medium target" if b.get("below_target") else "")
        for b in behavior
        if b.get("eval_return") is not None
    )
    provenance = (
        f"compose dataset factory {dataset_id}: {quality} data in {env_id_for(env)} "
        f"(Gymnasium MuJoCo) from {how}, seed {seed}; not D4RL and not Minari's mujoco datasets"
        + (f"; behavior {scores}" if scores else "")
    )
    meta = {
        "provenance": provenance,
        "env": env,
        "quality": quality,
        "seed": seed,
        "size": len(arrays),
        "ref_min_score": ref.min_score,
        "ref_max_score": ref.max_score,
        "ref_source": ref.source,
        "behavior": behavior,
        "behavior_return_mean": behavior_mean,
        "behavior_episodes_completed": int(len(rets)),
        "command": "compose data " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if "data" in sys.argv
        else f"make_dataset({env!r}, {quality!r}, seed={seed}, size={size})",
        "compose_version": version,
        "collect_seconds": round(time.time() - t0, 1),
    }
    minari_io.write_minari(
        dataset_id,
        arrays,
        env_id_for(env),
        ref.min_score,
        ref.max_score,
        description=provenance,
        algorithm_name=f"compose-sac-{quality}",
        extra_metadata=meta,
    )
    return dataset_id
