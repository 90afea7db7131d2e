"""``compose compare --plot``: learning curves (IQM and its interval band per group) and, for
more than two groups, the aggregate interval plot (final and best IQM with their 95% CIs).

A group's curve uses the evaluation steps that all its runs have (runs of one budget and one
``eval.every`` share them all). matplotlib is the optional ``plots`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from compose import stats
from compose.compare.report import Comparison

__all__ = ["group_curve", "plot_comparison"]


def group_curve(
    members: list[Any], reps: int = stats.REPS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """(steps, IQM, low, high) over the steps every run of the group evaluated at."""
    runs = [dict(m.evals) for m in members if m.history]
    if not runs:
        return None
    common = sorted(set.intersection(*(set(r) for r in runs)))
    if not common:
        return None
    by_task: dict[str, list[list[float]]] = {}
    for m, r in zip([m for m in members if m.history], runs, strict=True):
        by_task.setdefault(str(m.dataset), []).append([r[s] for s in common])
    value, low, high = stats.iqm_curve(
        [np.array(v) for v in by_task.values()], reps=reps, seed=seed
    )
    return np.array(common), value, low, high


def plot_comparison(result: Comparison, target: Path) -> list[str]:
    """Write the PNG; returns notes (groups without a curve)."""
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError("--plot needs matplotlib: pip install 'compose-rl[plots]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notes: list[str] = []
    curves = {
        g["group"]: group_curve(result.members[g["group"]], reps=result.reps) for g in result.groups
    }
    for name, curve in curves.items():
        if curve is None:
            notes.append(f"{name}: no learning curve (no evaluation history or no common steps)")
    has_curves = any(c is not None for c in curves.values())
    # the interval plot for > 2 groups, and alone when no run has an evaluation history
    aggregate = len(result.groups) > 2 or not has_curves
    panels = int(has_curves) + int(aggregate)
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), squeeze=False)
    cmap = plt.get_cmap("tab10" if len(result.groups) <= 10 else "tab20")
    if has_curves:
        ax = axes[0, 0]
        for i, g in enumerate(result.groups):
            curve = curves[g["group"]]
            if curve is None:
                continue
            steps, value, low, high = curve
            colour = cmap(i % 20)
            ax.plot(
                steps,
                value,
                color=colour,
                lw=1.6,
                label=f"{g['group']} (n={g['runs']})",
                marker="o" if len(steps) < 12 else None,
                ms=3,
            )
            if low is not None and high is not None:
                ax.fill_between(steps, low, high, color=colour, alpha=0.2, lw=0)
        ax.set_xlabel("policy step")
        ax.set_ylabel(f"{result.metric} (IQM, 95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if aggregate:
        _interval_plot(axes[0, panels - 1], result, cmap)
    fig.tight_layout()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return notes


def _interval_plot(ax: Any, result: Comparison, cmap: Any) -> None:
    """One row per group: the final IQM (dot) with its interval (bar), best IQM as a ring."""
    names = [g["group"] for g in result.groups]
    y = np.arange(len(names))[::-1]
    for yi, (i, g) in zip(y, enumerate(result.groups), strict=True):
        colour = cmap(i % 20)
        f = g["final"]
        if f["low"] is not None:
            ax.plot(
                [f["low"], f["high"]],
                [yi, yi],
                color=colour,
                lw=6,
                alpha=0.5,
                solid_capstyle="butt",
            )
        ax.plot([f["value"]], [yi], "o", color=colour, ms=6)
        b = g.get("best")
        if b is not None:
            ax.plot([b["value"]], [yi], "o", mfc="none", mec=colour, ms=8)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel(f"final {result.metric}: IQM and 95% CI (ring: best IQM)")
    ax.grid(axis="x", alpha=0.3)
