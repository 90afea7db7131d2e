"""Export the long runs' evidence (issue #15 part 1): per-run records, one table, one plot.

Reads every run directory of a sweep (``compose sweep`` output), finished or still running:
a finished run's ``summary.json``, or the progress stored in a running run's newest
checkpoint (its evaluation series, step, wall time and model metrics; no weights are copied).
Writes, under ``--out``:

- ``runs/<run>.json``: status, steps, wall time, model-phase metrics, the evaluation series;
- ``table.md`` / ``table.json``: per run the first, final and best normalized score, the
  dataset's and the behavior policy's normalized scores, the first evaluation step at which
  the agent passed the behavior policy, steps, policy-phase rate and wall time;
- ``curves.png``: normalized score against policy steps, one panel per dataset, one line per
  run, with the dataset's and the behavior policy's scores as horizontal lines.

Usage (from the repository root, venv active)::

    python experiments/long/export.py runs/long/mopo --out experiments/long/mopo
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _progress_from_checkpoint(run: Path) -> dict[str, Any] | None:
    """Step, wall time, model metrics and evaluations from a running run's checkpoint."""
    ckpt = run / "checkpoint.pt"
    if not ckpt.is_file():
        return None
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    prog = state["progress"]
    return {
        "status": "running",
        "steps": int(state["step"]),
        "wall_time_s": float(prog["wall_time_s"]),
        "model_metrics": json.loads(prog["model_metrics"]),
        "evals": list(prog["eval_history"]),
        "dataset_id": state["meta"].get("dataset_id"),
    }


def _record(run: Path) -> dict[str, Any] | None:
    summary = run / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        if data.get("status") == "finished" or not (run / "checkpoint.pt").is_file():
            return data
    return _progress_from_checkpoint(run)


def _dataset_scores(dataset_id: str) -> tuple[float | None, float | None]:
    """(normalized mean return of the dataset, normalized score of its behavior policy)."""
    from compose.data.sources import MinariSource

    info = MinariSource(id=dataset_id).load().info
    behaviors = (info.metadata.get("compose") or {}).get("behavior") or []
    behavior = behaviors[0].get("normalized_score") if behaviors else None
    return info.normalized(info.return_mean), behavior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the sweep's output folder (runs/long/...)")
    parser.add_argument("--out", type=Path, required=True, help="folder under experiments/")
    args = parser.parse_args()

    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    scores: dict[str, tuple[float | None, float | None]] = {}
    for run in sorted(p for p in args.sweep.iterdir() if p.is_dir() and p.name != "aim"):
        rec = _record(run)
        if rec is None:
            continue
        evals = [e for e in rec.get("evals", []) if "eval/normalized_score" in e]
        keep = {
            k: rec.get(k)
            for k in (
                "status",
                "steps",
                "wall_time_s",
                "model_phase_s",
                "steps_per_s",
                "dataset_id",
                "model_metrics",
            )
        }
        keep["evals"] = [
            {
                "step": e["step"],
                "normalized_score": e["eval/normalized_score"],
                "return": e.get("eval/return"),
            }
            for e in evals
        ]
        (args.out / "runs" / f"{run.name}.json").write_text(json.dumps(keep, indent=2))
        dataset = rec.get("dataset_id") or ""
        if dataset and dataset not in scores:
            scores[dataset] = _dataset_scores(dataset)
        data_score, behavior = scores.get(dataset, (None, None))
        series = [e["eval/normalized_score"] for e in evals]
        passed = next(
            (
                e["step"]
                for e in evals
                if behavior is not None and e["eval/normalized_score"] > behavior
            ),
            None,
        )
        mm = rec.get("model_metrics") or {}
        rows.append(
            {
                "run": run.name,
                "dataset": dataset,
                "status": rec.get("status"),
                "steps": rec.get("steps"),
                "first": series[0] if series else None,
                "final": series[-1] if series else None,
                "best": max(series) if series else None,
                "dataset_score": data_score,
                "behavior_score": behavior,
                "passed_behavior_at": passed,
                "wall_h": (rec.get("wall_time_s") or 0) / 3600,
                "model_updates": mm.get("updates"),
                "model_holdout_mse": mm.get("holdout_mse"),
                "series": [(e["step"], e["eval/normalized_score"]) for e in evals],
            }
        )

    def f(v: Any, fmt: str = "{:.1f}") -> str:
        return "-" if v is None else fmt.format(v)

    lines = [
        "| run | status | steps | first | final | best | dataset | behavior | passed behavior at "
        "| model updates | holdout MSE | wall h |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['status']} | {r['steps']} | {f(r['first'])} | {f(r['final'])} "
            f"| {f(r['best'])} | {f(r['dataset_score'])} | {f(r['behavior_score'])} "
            f"| {f(r['passed_behavior_at'], '{:.0f}')} | {f(r['model_updates'], '{:.0f}')} "
            f"| {f(r['model_holdout_mse'], '{:.4f}')} | {f(r['wall_h'], '{:.2f}')} |"
        )
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    (args.out / "table.json").write_text(json.dumps(rows, indent=2))
    _plot(rows, args.out / "curves.png")
    print("\n".join(lines))


def _plot(rows: list[dict[str, Any]], target: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("no matplotlib: pip install -e '.[plots]' for the plot")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    if not datasets:
        return
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        mine = [r for r in rows if r["dataset"] == dataset]
        for r in mine:
            if r["series"]:
                steps, values = zip(*r["series"], strict=True)
                ax.plot(
                    steps,
                    values,
                    marker=".",
                    label=r["run"].split(dataset.replace("/", "-"))[-1] or r["run"],
                )
        if mine and mine[0]["dataset_score"] is not None:
            ax.axhline(mine[0]["dataset_score"], color="grey", ls="--", label="dataset")
        if mine and mine[0]["behavior_score"] is not None:
            ax.axhline(mine[0]["behavior_score"], color="black", ls=":", label="behavior policy")
        ax.set_title(dataset)
        ax.set_xlabel("policy steps")
        ax.set_ylabel("normalized score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
