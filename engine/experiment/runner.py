"""`run_experiment`: train and evaluate every configured model under the KT protocol and log it all to MLflow.

One MLflow run per experiment (experiment `equilearn-experiments` by default) holding:
- params: the config (seed, data, models, folds), the split, the code version; tag `data_fingerprint`;
- metrics `<model>.<metric>` on the test responses (auc, rmse, logloss, accuracy, ece), `cv.<model>.<metric>.
  {mean,sd,ci_low,ci_high}` with k-fold CV, `group.<column>.<value>.<model>.<metric>` per roster group of at
  least `min_group_size` students, and timings under `time.` (the only values that change between runs);
- artifacts: `config.toml`, `results.md` (the table), `results.json`, `curves.json`, `calibration.svg`,
  `roc.svg`, `models/<model>.json` (the fitted parameters, loadable with the class's from_dict) and, with
  `mlflow.log_models`, a pyfunc per model under `model-<name>` (JSON parameters, no pickles).
Same config and seed => the same metrics (timings aside).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import polars as pl

from engine.config import Settings
from engine.errors import DataError
from engine.evaluation.metrics import score
from engine.evaluation.protocol import protocol_split, sort_sequential
from engine.evaluation.zoo import make_model
from engine.experiment.annotations import published_cells, selection_lines
from engine.experiment.caveats import caveat_lines, split_checks
from engine.experiment.config import ExperimentConfig, model_names
from engine.experiment.crossval import cross_validate
from engine.experiment.data import fingerprint, load_dataset
from engine.experiment.plots import calibration_svg, curves, roc_svg
from engine.fairness.groups import MISSING_LABEL, GroupSpec, plan_suppression

log = logging.getLogger(__name__)


class Progress:
    """One-line progress on stderr ("[3/8] fit pfa ... 12s") for long steps; silent when disabled."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.total, self.enabled, self.stream, self.done = total, enabled, stream or sys.stderr, 0
        self.start = time.perf_counter()

    def step(self, text: str) -> None:
        self.done += 1
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            width = 24
            filled = int(width * min(self.done, self.total) / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {text[:50]:<50} {elapsed:5.0f}s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


@dataclass
class ExperimentResult:
    run_id: str
    experiment_id: str
    name: str
    metrics: dict[str, dict[str, float]]  # model -> test metrics
    cv: dict[str, Any] | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)
    registered: dict[str, str] | None = None
    markdown: str = ""


def seeded_model(name: str, seed: int) -> Any:
    """A fresh zoo model with `random_state` set to the experiment seed when it has one."""
    model = make_model(name)
    if hasattr(model, "random_state"):
        model.random_state = seed
    return model


def _key(text: str) -> str:
    """A value safe inside an MLflow metric key (letters, digits, _ - . / and space are allowed)."""
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", str(text))


def group_metrics(test: pl.DataFrame, predictions: dict[str, np.ndarray], roster: pl.DataFrame,
                  groups: tuple[str, ...], min_size: int) -> list[dict[str, Any]]:
    """Test metrics per roster group. A group with fewer than `min_size` test students is suppressed, and so
    is a further group wherever the hidden ones could be worked out from the shown groups and the overall
    figures (engine.fairness.groups.plan_suppression); a suppressed row carries no count and no metric."""
    rows: list[dict[str, Any]] = []
    joined = test.select("student_id").with_row_index("_row").join(
        roster.select("student_id", *groups), on="student_id", how="left").sort("_row")
    labels = joined.select(pl.col("student_id").cast(pl.Utf8),
                           *[pl.col(c).cast(pl.Utf8).fill_null(MISSING_LABEL) for c in groups])
    hidden = plan_suppression(labels.unique(), [GroupSpec((c,)) for c in groups], min_size, student_col="student_id")
    y = test["correct"].to_numpy()
    for column in groups:
        values = labels[column].to_numpy()
        sizes = dict(labels.group_by(column).agg(pl.col("student_id").n_unique().alias("n")).iter_rows())
        for value in sorted(sizes):
            if (None, column, value) in hidden:
                rows.append({"group": column, "value": value, "suppressed": True})
                continue
            mask = values == value
            row: dict[str, Any] = {"group": column, "value": value, "students": sizes[value], "responses": int(mask.sum())}
            for name, p in predictions.items():
                row[name] = score(y[mask], p[mask])
            rows.append(row)
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def results_markdown(config: ExperimentConfig, split_source: str, n_train: int, n_test: int, metrics: dict[str, dict[str, float]],
                     cv: dict[str, Any] | None, run_id: str, command: str,
                     timings: dict[str, dict[str, float]] | None = None, groups: list[dict[str, Any]] | None = None,
                     caveats: list[str] | None = None, selections: dict[str, dict[str, Any]] | None = None) -> str:
    """The experiment's table in Markdown (also what BENCHMARKS.md is assembled from): the split's caveats above
    the table, the comparable published figure per row (`[published]`, footnotes from `[notes]`), and how any
    validation-chosen configuration was chosen below it."""
    timings = timings or {}
    lines = [f"# KT experiment `{config.name}`", "", f"Reproduce: `{command}`", "",
             f"Data: `{config.raw.get('data', {}).get('path', config.data_format)}` ({config.data_format}), split {split_source}, "
             f"{n_train} train / {n_test} test responses, seed {config.seed}. MLflow run `{run_id}`.", ""]
    if config.description:
        lines[2:2] = [config.description, ""]
    lines += [f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s) shared with other jobs, load average "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) when the table was written; Python "
              f"{platform.python_version()}. Seconds are wall time of one run.", ""]
    for paragraph in caveats or []:
        lines += [paragraph, ""]
    ranked = sorted(metrics.items(), key=lambda kv: -(kv[1]["auc"] if math.isfinite(kv[1]["auc"]) else -1))
    annotated = bool(config.published or config.notes)
    published, footnotes = published_cells([n for n, _ in ranked], config.published, config.notes)
    header = "| model | AUC | RMSE | log-loss | accuracy | ECE | fit s | predict s |" + (" comparable published AUC |" if annotated else "")
    lines += [header, "|---" * header.count(" |") + "|"]
    for name, m in ranked:
        t = timings.get(name, {})
        lines.append(f"| {name} | {_fmt(m['auc'])} | {_fmt(m['rmse'])} | {_fmt(m['logloss'])} | {_fmt(m['accuracy'])} | "
                     f"{_fmt(m['ece'])} | {t.get('fit', float('nan')):.2f} | {t.get('predict', float('nan')):.2f} |"
                     + (f" {published[name]} |" if annotated else ""))
    if footnotes:
        lines += ["", "Notes on the published figures (compare a model only with a figure measured the same way, on the "
                  "same files and split):", "", *footnotes]
    chosen = selection_lines(selections or {})
    if chosen:
        lines += ["", *chosen]
    if groups:
        shown = [n for n in metrics if any(n in r for r in groups)]
        lines += ["", f"Test AUC by roster group (groups with fewer than {config.min_group_size} test students are suppressed, "
                  "with a further group where the shown figures would give them away):", "",
                  "| group | value | students | " + " | ".join(shown) + " |", "|---|---|---|" + "---|" * len(shown)]
        for r in groups:
            cells = ["suppressed" if r.get("suppressed") else _fmt(r[n]["auc"]) for n in shown]
            lines.append(f"| {r['group']} | {r['value']} | {r.get('students', 'suppressed')} | " + " | ".join(cells) + " |")
    if cv:
        pct = round(100 * cv["confidence"])
        lines += ["", f"{cv['k']}-fold cross-validation by student (all responses; mean and {pct}% t-interval over folds):", "",
                  "| model | AUC | RMSE | log-loss |", "|---|---|---|---|"]
        ranked = sorted(cv["summary"].items(), key=lambda kv: -(kv[1]["auc"]["mean"] if math.isfinite(kv[1]["auc"]["mean"]) else -1))
        for name, s in ranked:
            cells = [f"{_fmt(s[m]['mean'])} [{_fmt(s[m]['ci_low'])}, {_fmt(s[m]['ci_high'])}]" for m in ("auc", "rmse", "logloss")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_experiment(config: ExperimentConfig, settings: Settings | None = None, progress: bool = False,
                   command: str | None = None) -> ExperimentResult:
    """Run the experiment described by `config` and log it to MLflow; returns the run id and the tables."""
    import mlflow

    from engine.fairness.tracking import json_safe
    from engine.registry.store import code_version, connect, experiment_id

    names = model_names(config)
    command = command or f"equilearn experiment run {config.source}"
    steps = len(names) * (1 + config.cv_folds) + 2
    bar = Progress(steps, progress)
    bar.step("load data")
    dataset = load_dataset(config)
    split = protocol_split(dataset, config.test_fraction, config.seed)
    train, test = sort_sequential(split.train), sort_sequential(split.test)
    checks = split_checks(train, test)
    data_fp = fingerprint(config)
    _, settings = connect(settings)
    exp_id = experiment_id(config.mlflow_experiment, settings)
    y = test["correct"].to_numpy()
    metrics: dict[str, dict[str, float]] = {}
    predictions: dict[str, np.ndarray] = {}
    fitted: dict[str, Any] = {}
    timings: dict[str, dict[str, float]] = {}
    try:
        with mlflow.start_run(experiment_id=exp_id, run_name=config.name) as run:
            mlflow.set_tags({"data_fingerprint": data_fp, "code_version": code_version(), "config": config.source,
                             "dataset": dataset.name, "split": split.source})
            mlflow.log_params({**config.params(), "models": ",".join(names), "split": split.source,
                               "n_train": train.height, "n_test": test.height,
                               "n_train_students": train["student_id"].n_unique(), "n_test_students": test["student_id"].n_unique()})
            if config.source.endswith(".toml"):
                mlflow.log_text(Path(config.source).read_text(), "config.toml")
            for name in names:
                bar.step(f"fit + predict {name}")
                model = seeded_model(name, config.seed)
                t0 = time.perf_counter()
                try:
                    model.fit(train)
                    t1 = time.perf_counter()
                    p = np.asarray(model.predict_proba(test), dtype=float)
                except (ValueError, TypeError, KeyError) as exc:  # the model cannot use this data (e.g. partial credit)
                    raise DataError(f"model {name!r} failed on the data of {config.source}: {type(exc).__name__}: {exc}. "
                                    "Leave it out (models.names or --models) or transform the data") from exc
                t2 = time.perf_counter()
                if p.shape != (test.height,) or not np.all(np.isfinite(p)):
                    raise RuntimeError(f"{name}: predict_proba returned {p.shape} values (need {test.height} finite)")
                metrics[name], predictions[name], fitted[name] = score(y, p), p, model
                mlflow.log_metrics({f"{name}.{k}": v for k, v in metrics[name].items() if math.isfinite(v)})
                mlflow.log_metrics({f"time.{name}.fit_seconds": t1 - t0, f"time.{name}.predict_seconds": t2 - t1})
                timings[name] = {"fit": t1 - t0, "predict": t2 - t1}
                mlflow.log_dict({"zoo_model": name, "params": model.to_dict()}, f"models/{name}.json")
            per_model = {n: curves(y, p) for n, p in predictions.items()}
            mlflow.log_dict(json_safe(per_model), "curves.json")
            mlflow.log_text(calibration_svg(per_model), "calibration.svg")
            mlflow.log_text(roc_svg(per_model), "roc.svg")
            groups: list[dict[str, Any]] = []
            if config.groups and dataset.roster is not None:
                groups = group_metrics(test, predictions, dataset.roster, config.groups, config.min_group_size)
                for row in groups:
                    for name in names:
                        if name in row:
                            mlflow.log_metrics({f"group.{_key(row['group'])}.{_key(row['value'])}.{name}.{k}": v
                                                for k, v in row[name].items() if math.isfinite(v)})
                mlflow.log_dict(json_safe({"min_group_size": config.min_group_size, "rows": groups}), "groups.json")
            cv = None
            if config.cv_folds:
                cv = cross_validate(sort_sequential(dataset.responses), names, lambda n: seeded_model(n, config.seed),
                                    config.cv_folds, config.seed, config.confidence,
                                    on_fold=lambda i, n: bar.step(f"cv fold {i + 1}/{config.cv_folds} {n}"))
                for name, summary in cv["summary"].items():
                    mlflow.log_metrics({f"cv.{name}.{m}.{stat}": s[stat] for m, s in summary.items()
                                        for stat in ("mean", "sd", "ci_low", "ci_high") if math.isfinite(s[stat])})
                mlflow.log_dict(json_safe(cv), "cv.json")
            selections = {n: m.selection_.to_dict() for n, m in fitted.items() if getattr(m, "selection_", None) is not None}
            mlflow.log_dict(json_safe({"split_checks": checks.to_dict(), "selections": selections}), "checks.json")
            markdown = results_markdown(config, split.source, train.height, test.height, metrics, cv, run.info.run_id, command,
                                        timings, groups, caveat_lines(checks), selections)
            mlflow.log_text(markdown, "results.md")
            mlflow.log_dict(json_safe({"metrics": metrics, "cv": cv, "groups": groups}), "results.json")
            if config.log_models:
                from engine.registry.pyfunc import log_zoo_model

                for name, model in fitted.items():
                    log_zoo_model(name, model, artifact_name=f"model-{_key(name)}")
            bar.step("logged to MLflow")
    finally:
        bar.close()
    registered = _register(config, metrics, fitted, data_fp, settings, dataset.responses) if config.register_name else None
    return ExperimentResult(run.info.run_id, exp_id, config.name, metrics, cv, groups, registered, markdown)


RESEARCH_ONLY = ("registered a research model only; the service serves model sets built by `equilearn model build` "
                 "(add register.catalog to register a servable set built from this experiment's data)")


def _register(config: ExperimentConfig, metrics: dict[str, dict[str, float]], fitted: dict[str, Any], data_fp: str,
              settings: Settings, responses: pl.DataFrame) -> dict[str, str]:
    """Register the chosen KT model (best test AUC by default). Without `register.catalog` it is a research model
    set with the one component `kt`, which the service ignores (`RESEARCH_ONLY` says so). With a catalog, the set
    is servable: every served component built by `engine.modelbuild.build_model_set` from the experiment's
    responses against that catalog (as `equilearn model build` does), with the chosen model kept as component
    `kt` for reference (not served). Either way it is registered unaudited: `equilearn model audit`, then
    `equilearn model promote`."""
    from engine.registry import register_model_set
    from engine.registry.pyfunc import zoo_payload

    if config.register_model == "best":
        name = max(metrics, key=lambda n: metrics[n]["auc"] if math.isfinite(metrics[n]["auc"]) else -1.0)
    else:
        name = config.register_model
    if name not in fitted:
        from engine.errors import ConfigError

        raise ConfigError(f"{config.source}: register.model {name!r} is not among the models run ({', '.join(fitted)})")
    set_name = config.register_name or config.name
    if config.register_catalog is not None:
        from dataclasses import replace

        from engine.catalog import load_catalog
        from engine.modelbuild import build_model_set, register_built_set

        built, _ = build_model_set(load_catalog(config.register_catalog), responses, predictor="auto", seed=config.seed,
                                   name=set_name, source=f"experiment {config.name}")
        built = replace(built, components={**built.components, "kt": zoo_payload(name, fitted[name])})
        ms = register_built_set(set_name, built, settings)
        message = (f"registered a servable model set {ms.name!r} version {ms.version}, built as `equilearn model build` "
                   f"builds it from this experiment's data and register.catalog (its {name!r} model is kept as component "
                   f"'kt', not served); audit it: equilearn model audit {ms.name} {ms.version}")
        return {"name": ms.name, "version": ms.version, "kt_model": name, "servable": "true",
                "content_sha256": ms.content_sha256, "message": message}
    ms = register_model_set(set_name, {"kt": zoo_payload(name, fitted[name])}, data_fp, settings,
                            params={"experiment": config.name, "kt_model": name, "seed": config.seed,
                                    **{f"test_{k}": v for k, v in metrics[name].items()}})
    return {"name": ms.name, "version": ms.version, "kt_model": name, "servable": "false",
            "message": f"{RESEARCH_ONLY} ({ms.name!r} version {ms.version}, component 'kt': {name})"}


def result_json(result: ExperimentResult) -> dict[str, Any]:
    return {"run_id": result.run_id, "experiment_id": result.experiment_id, "name": result.name, "metrics": result.metrics,
            "cv": None if result.cv is None else result.cv["summary"], "registered": result.registered}

