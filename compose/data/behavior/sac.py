"""Online SAC that trains the factory's behavior policies (D4RL's recipe for its datasets).

Reference: Haarnoja et al. 2018 (SAC with automatic temperature, target entropy -|A|);
hyperparameters and structure of CleanRL ``sac_continuous_action.py`` (lr 3e-4, batch 256,
gamma 0.99, tau 0.005, 5k uniform-random warm-up steps, one update per env step).
D4RL (Fu et al. 2020): "medium" = a policy trained to about 1/3 of expert return,
"expert" = the (best) fully trained policy.
Why: the twin critics are one 2-member :class:`EnsembleMLP` (one batched matmul per layer);
the replay buffer is preallocated tensors; with ``torch.set_num_threads(1)`` one CPU core
trains Hopper to "medium" in minutes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from compose.data.behavior.policy import BehaviorPolicy, save_policy
from compose.envs import evaluate
from compose.envs.reference import D4RL_REF_SCORES, PENDULUM_REF_SCORES, env_id_for, short_env_name
from compose.nn import EnsembleMLP, make_adam, soft_update_


@dataclass(frozen=True)
class SACConfig:
    """Settings of one behavior-policy training run (all recorded in the checkpoints)."""

    env: str
    seed: int = 0
    total_steps: int = 300_000
    learning_starts: int = 5_000
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4
    hidden: tuple[int, ...] = (256, 256)
    eval_every: int = 5_000
    eval_episodes: int = 5
    medium_fraction: float = 1.0 / 3.0
    snapshots: int = 5


def reference_scores(env: str) -> tuple[float, float, str]:
    """(ref_min, ref_max, source) for a short env name or Gymnasium id."""
    name = short_env_name(env_id_for(env))
    ref = D4RL_REF_SCORES.get(name or "", PENDULUM_REF_SCORES)
    return ref.min_score, ref.max_score, ref.source


def train_sac(
    cfg: SACConfig,
    out_dir: str | Path,
    command: str = "",
    log: Callable[[str], None] = print,
    max_minutes: float | None = None,
    stop_after_medium: bool = False,
) -> dict[str, Any]:
    """Train SAC on ``cfg.env``; write ``<env>_medium.pt`` and ``<env>_expert.pt`` to out_dir.

    The medium checkpoint is the first policy whose deterministic eval return reaches
    ``ref_min + medium_fraction * (ref_max - ref_min)``; it carries up to ``cfg.snapshots``
    earlier policies (for medium-replay). The expert checkpoint is the best-evaluated policy,
    rewritten on every improvement so an interrupted run still leaves one.
    ``stop_after_medium``: end the run right after the medium checkpoint is written (the
    expert checkpoint of that evaluation is not written).
    Returns a summary dict.
    """
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    out_dir = Path(out_dir)
    name = short_env_name(env_id_for(cfg.env)) or cfg.env
    env_id = env_id_for(cfg.env)
    env = gym.make(env_id)
    env.action_space.seed(cfg.seed)
    obs_dim = env.observation_space.shape[0]
    act_dim = env.action_space.shape[0]
    low, high = env.action_space.low, env.action_space.high
    ref_min, ref_max, ref_source = reference_scores(cfg.env)
    medium_target = ref_min + cfg.medium_fraction * (ref_max - ref_min)

    actor = BehaviorPolicy(obs_dim, act_dim, low.tolist(), high.tolist(), cfg.hidden)
    critic = EnsembleMLP(obs_dim + act_dim, 1, cfg.hidden, members=2, activation_name="relu")
    critic_target = copy.deepcopy(critic).requires_grad_(False)
    log_alpha = torch.zeros((), requires_grad=True)
    target_entropy = -float(act_dim)
    actor_opt = make_adam(actor.parameters(), lr=cfg.lr)
    critic_opt = make_adam(critic.parameters(), lr=cfg.lr)
    alpha_opt = make_adam([log_alpha], lr=cfg.lr)

    n = cfg.total_steps
    buf_obs = torch.zeros(n, obs_dim)
    buf_act = torch.zeros(n, act_dim)  # squashed actions in [-1, 1]
    buf_rew = torch.zeros(n)
    buf_next = torch.zeros(n, obs_dim)
    buf_done = torch.zeros(n)
    gen = torch.Generator().manual_seed(cfg.seed)

    def update() -> dict[str, float]:
        idx = torch.randint(0, size, (cfg.batch_size,), generator=gen)
        o, a, r, o2, d = buf_obs[idx], buf_act[idx], buf_rew[idx], buf_next[idx], buf_done[idx]
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            a2, logp2 = actor.sample(o2, generator=gen)
            q_next = critic_target(torch.cat([o2, a2], -1)).squeeze(-1).min(0).values
            y = r + cfg.gamma * (1.0 - d) * (q_next - alpha * logp2)
        q = critic(torch.cat([o, a], -1)).squeeze(-1)
        critic_loss = F.mse_loss(q, y.expand_as(q)) * 2
        critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_opt.step()
        a_pi, logp = actor.sample(o, generator=gen)
        q_pi = critic(torch.cat([o, a_pi], -1)).squeeze(-1).min(0).values
        actor_loss = (alpha * logp - q_pi).mean()
        actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        actor_opt.step()
        alpha_loss = -(log_alpha * (logp.detach() + target_entropy)).mean()
        alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        alpha_opt.step()
        soft_update_(critic_target, critic, cfg.tau)
        return {"critic_loss": critic_loss.item(), "alpha": alpha.item()}

    def meta(kind: str, step: int, ret: float) -> dict[str, Any]:
        return {
            "env": name,
            "env_id": env_id,
            "kind": kind,
            "env_steps": step,
            "eval_return": ret,
            "eval_episodes": cfg.eval_episodes,
            "normalized_score": 100.0 * (ret - ref_min) / (ref_max - ref_min),
            "ref_min_score": ref_min,
            "ref_max_score": ref_max,
            "ref_source": ref_source,
            "medium_target": medium_target,
            "train_seconds": time.time() - t0,
            "sac_config": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()
            },
            "command": command,
        }

    t0 = time.time()
    obs, _ = env.reset(seed=cfg.seed)
    size, ep_ret, best, medium_saved = 0, 0.0, -float("inf"), False
    snapshots: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"env": name}
    for step in range(1, n + 1):
        if step <= cfg.learning_starts:
            a_env = env.action_space.sample()
            a_sq = 2.0 * (a_env - low) / (high - low) - 1.0
        else:
            with torch.no_grad():
                a_sq_t, _ = actor.sample(
                    torch.as_tensor(obs, dtype=torch.float32)[None], generator=gen
                )
            a_sq = a_sq_t[0].numpy()
            a_env = low + (a_sq + 1.0) * 0.5 * (high - low)
        next_obs, reward, terminated, truncated, _ = env.step(a_env)
        buf_obs[size] = torch.as_tensor(obs)
        buf_act[size] = torch.as_tensor(a_sq)
        buf_rew[size] = float(reward)
        buf_next[size] = torch.as_tensor(next_obs)
        buf_done[size] = float(terminated)
        size += 1
        ep_ret += float(reward)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            ep_ret = 0.0
        if step > cfg.learning_starts:
            stats = update()
        if step % cfg.eval_every == 0:
            actor.eval()
            res = evaluate(
                lambda o: actor.act(o, deterministic=True),
                env_id,
                cfg.eval_episodes,
                seed=10_000 + step,
                ref_min_score=ref_min,
                ref_max_score=ref_max,
            )
            actor.train()
            ret = res.mean_return
            log(
                f"[{name}] step {step} eval_return {ret:.1f} (norm {res.normalized_mean:.1f}) "
                f"best {max(best, ret):.1f} elapsed {time.time() - t0:.0f}s "
                + (f"alpha {stats['alpha']:.3f}" if step > cfg.learning_starts else "")
            )
            if not medium_saved:
                snapshots.append(
                    {
                        "state_dict": copy.deepcopy(actor.state_dict()),
                        "env_steps": step,
                        "eval_return": ret,
                    }
                )
            if not medium_saved and ret >= medium_target:
                keep = np.linspace(0, len(snapshots) - 1, min(cfg.snapshots, len(snapshots)))
                snaps = [snapshots[int(round(i))] for i in keep]
                save_policy(out_dir / f"{name}_medium.pt", actor, meta("medium", step, ret), snaps)
                medium_saved = True
                summary["medium"] = meta("medium", step, ret)
                log(f"[{name}] saved medium policy at step {step} (return {ret:.1f})")
                if stop_after_medium:
                    break
            if ret > best:
                best = ret
                save_policy(out_dir / f"{name}_expert.pt", actor, meta("expert", step, ret))
                summary["expert"] = meta("expert", step, ret)
        if max_minutes is not None and time.time() - t0 > 60 * max_minutes:
            log(f"[{name}] stopping at step {step}: time budget of {max_minutes} min reached")
            break
    env.close()
    summary["seconds"] = time.time() - t0
    return summary
