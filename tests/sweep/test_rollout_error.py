"""experiments/romi/rollout_error.py: episode segments and the open-loop error on a known model."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import torch

from tests.helpers.runs import ROOT


def _module():  # type: ignore[no-untyped-def]
    path = Path(ROOT) / "experiments" / "romi" / "rollout_error.py"
    spec = importlib.util.spec_from_file_location("rollout_error", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _episodes(lengths: list[int]) -> SimpleNamespace:
    """Two 1-d episodes s_{t+1} = s_t + a_t, concatenated."""
    obs, act, nxt, starts, term = [], [], [], [], []
    for ep, n in enumerate(lengths):
        s = torch.tensor([float(10 * ep)])
        for t in range(n):
            a = torch.tensor([0.5])
            obs.append(s)
            act.append(a)
            s = s + a
            nxt.append(s)
            starts.append(t == 0)
            term.append(float(t == n - 1))
    return SimpleNamespace(
        obs=torch.stack(obs),
        actions=torch.stack(act),
        next_obs=torch.stack(nxt),
        terminals=torch.tensor(term),
        timeouts=torch.zeros(len(obs)),
        episode_starts=torch.tensor(starts),
    )


class _Shifted:
    """A 2-member 'model' predicting s + a + bias_e (bias 0 and 0.1); both elites."""

    elites = torch.tensor([0, 1])

    def predict(self, obs: torch.Tensor, actions: torch.Tensor) -> SimpleNamespace:
        bias = torch.tensor([0.0, 0.1]).view(
            2, *([1] * (obs.dim() - 1 if obs.dim() == 3 else obs.dim()))
        )
        o = obs if obs.dim() == 3 else obs.unsqueeze(0).expand(2, -1, -1)
        a = actions if actions.dim() == 3 else actions.unsqueeze(0).expand(2, -1, -1)
        delta = a + bias
        return SimpleNamespace(mean=torch.cat([delta, torch.zeros_like(o[..., :1])], -1), members=2)


def test_segments_stay_inside_one_episode() -> None:
    mod = _module()
    data = _episodes([5, 4])
    assert mod.segment_starts(data, 3).tolist() == [0, 1, 2, 5, 6]
    assert mod.segment_starts(data, 5).tolist() == [0]
    assert mod.segment_starts(data, 6).tolist() == []


def test_open_loop_error_grows_with_the_bias() -> None:
    mod = _module()
    data = _episodes([6])
    errs = mod.rollout_errors(_Shifted(), data, torch.tensor([0, 1]), 3, "mean", torch.ones(1))
    # member 0 is exact, member 1 is off by 0.1 k after k steps: mean over elites (0 + (0.1k)^2)/2
    expected = [(0.1 * k) ** 2 / 2 for k in (1, 2, 3)]
    assert all(abs(a - b) < 1e-6 for a, b in zip(errs["mse"], expected, strict=True))
