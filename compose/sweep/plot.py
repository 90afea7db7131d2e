"""``compose sweep plot``: metric series of a sweep's runs, read back from Aim, as one PNG.

Each run's Aim run hash is in its ``summary.json``; the series are read with Aim's own SDK
(the repo is indexed for that run first, as ``aim up`` would). One subplot per metric, one
line per run; runs that differ only by seed share a colour (the grid group), so the spread
over seeds is visible. matplotlib is the optional ``plots`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compose.sweep.table import collect_rows, grid_text

__all__ = ["plot_metrics", "read_series"]


def read_series(
    repo_dir: Path | str, run_hash: str, names: list[str]
) -> dict[str, tuple[list[int], list[float]]]:
    """``{metric: (steps, values)}`` of one Aim run (missing metrics are left out)."""
    import aim
    from aim.sdk.index_manager import RepoIndexManager

    repo = aim.Repo(str(repo_dir))
    RepoIndexManager.get_index_manager(repo).index(run_hash)
    run = repo.get_run(run_hash)
    if run is None:
        raise LookupError(f"Aim run {run_hash} is not in {repo_dir}")
    out: dict[str, tuple[list[int], list[float]]] = {}
    wanted = set(names)
    for metric in run.metrics():
        if metric.name in wanted and metric.name not in out:
            steps, (values,) = metric.data.view("val").items_list()
            out[metric.name] = ([int(s) for s in steps], [float(v) for v in values])
    return out


def _repo_of(out: Path) -> str:
    try:
        plan = json.loads((out / "sweep.json").read_text())
        return str(plan.get("track_repo") or out / "aim")
    except (OSError, ValueError):
        return str(out / "aim")


def plot_metrics(
    out: Path,
    metrics: list[str],
    target: Path,
    *,
    repo: str | None = None,
    json_path: Path | None = None,
) -> dict[str, Any]:
    """Draw ``metrics`` of every run of the sweep in ``out`` into ``target`` (PNG).

    Returns ``{"runs": [...], "missing": [...]}``: per run its group, seed and series; runs
    without a hash or without the metric are listed under ``missing`` with the reason.
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - the extra is installed in the project venv
        raise RuntimeError(
            "compose sweep plot needs matplotlib: pip install 'compose-rl[plots]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    repo_dir = repo or _repo_of(out)
    rows = collect_rows(out)
    data: list[dict[str, Any]] = []
    missing: list[str] = []
    for row in rows:
        if not row["aim_run_hash"]:
            missing.append(
                f"{row['name']}: no Aim run hash (status {row['status']}, or --no-track)"
            )
            continue
        try:
            series = read_series(repo_dir, row["aim_run_hash"], metrics)
        except Exception as exc:  # one unreadable run does not stop the plot
            missing.append(f"{row['name']}: {type(exc).__name__}: {exc}")
            continue
        for name in metrics:
            if name not in series:
                missing.append(f"{row['name']}: no metric {name}")
        group = f"{row['label']} {grid_text(row['grid'])}".replace(" -", "")
        data.append({"name": row["name"], "group": group, "seed": row["seed"], "series": series})

    groups = sorted({d["group"] for d in data})
    colours = {
        g: plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")(i % 20)
        for i, g in enumerate(groups)
    }
    fig, axes = plt.subplots(len(metrics), 1, figsize=(8, 3.2 * len(metrics)), squeeze=False)
    for ax, name in zip(axes[:, 0], metrics, strict=True):
        labelled: set[str] = set()
        for d in data:
            if name not in d["series"]:
                continue
            steps, values = d["series"][name]
            label = d["group"] if d["group"] not in labelled else None
            labelled.add(d["group"])
            ax.plot(steps, values, color=colours[d["group"]], label=label, alpha=0.85, lw=1.2)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if labelled:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    result = {"repo": repo_dir, "metrics": metrics, "runs": data, "missing": missing}
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=2))
    return result
