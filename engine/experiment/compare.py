"""`compare_runs`: one table of test metrics (and CV intervals) for several experiment runs, model by model."""

from __future__ import annotations

import math
from typing import Any

from engine.config import Settings
from engine.errors import NotFoundError

METRICS = ("auc", "rmse", "logloss", "accuracy", "ece")


def compare_runs(run_ids: list[str], settings: Settings | None = None) -> list[dict[str, Any]]:
    """One row per (run, model): run id, experiment name, data fingerprint, seed, test metrics, CV AUC mean and CI."""
    from mlflow.exceptions import MlflowException

    from engine.registry.store import connect

    client, _ = connect(settings)
    rows: list[dict[str, Any]] = []
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except MlflowException:
            raise NotFoundError(f"no MLflow run {run_id!r} in {client.tracking_uri}") from None
        params, metrics = run.data.params, run.data.metrics
        models = [m for m in params.get("models", "").split(",") if m]
        if not models:
            raise NotFoundError(f"run {run_id} is not an experiment run (it has no 'models' param)")
        for model in models:
            row: dict[str, Any] = {"run_id": run_id, "experiment": params.get("name", run.info.run_name), "model": model,
                                   "seed": params.get("seed"), "data": run.data.tags.get("data_fingerprint", "")[:19]}
            row.update({m: metrics.get(f"{model}.{m}") for m in METRICS})
            for stat in ("mean", "ci_low", "ci_high"):
                row[f"cv_auc_{stat}"] = metrics.get(f"cv.{model}.auc.{stat}")
            rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4f}"
    return str(value)


def format_table(rows: list[dict[str, Any]], markdown: bool = False) -> str:
    """The rows as an aligned text table (or Markdown); CV AUC shown as mean [low, high] when present."""
    header = ["run", "experiment", "model", "seed", *METRICS, "cv auc [CI]"]
    body = []
    for r in rows:
        cv = "-" if r["cv_auc_mean"] is None else f"{_cell(r['cv_auc_mean'])} [{_cell(r['cv_auc_ci_low'])}, {_cell(r['cv_auc_ci_high'])}]"
        body.append([r["run_id"][:8], r["experiment"], r["model"], _cell(r["seed"]), *(_cell(r[m]) for m in METRICS), cv])
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(b) + " |" for b in body]) + "\n"
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(b) for b in body]) + "\n"
