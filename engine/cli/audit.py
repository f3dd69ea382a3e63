"""`equilearn audit ...`: fairness audits of items (DIF), models, recommendations and outcomes, and the gate.

    equilearn audit dif PATH --format wide --group-col Gender --focal 1 [--method mh|logistic] --out dif.json \\
        [--blocked-out blocked.json]   # class C items -> the recommender's blocked_items
    equilearn audit model --data preds.csv --format predictions --roster roster.csv \\
        --groups gender,disability,gender*disability --report model.html --out model.json
    equilearn audit recommendations --data served.csv --roster roster.csv --groups gender --out recs.json
    equilearn audit outcomes --data outcomes.csv --roster roster.csv --groups gender --out outcomes.json
    equilearn audit gate --policy policy.toml --audit model.json --audit recs.json   # exit 0 PASS, 1 FAIL, 2 INSUFFICIENT

Tables are read from CSV, TSV or Parquet (by extension); `NA` and `?` cells are read as missing. Every
audit command writes the full JSON result to --out (or stdout), optional HTML/Markdown reports, and
exits 0 once the audit ran; `audit gate` turns stored results into an exit code for deployment.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.loading import FORMAT_NAMES
from engine.cli.progress import fit_with_progress, progress_bar
from engine.distributed import add_engine_options, resolve_engine
from engine.errors import ConfigError, DataError, NotFoundError
from engine.jsonfile import check_text_table, read_json, table_error

if TYPE_CHECKING:  # polars and the fairness package (scipy, sklearn) are imported only when an audit runs
    import polars as pl

    from engine.fairness.gate import Policy

NULLS = ["", "NA", "?"]
# Models audited on a response log: the zoo's, plus the logistic learner models (those use each student's
# earlier responses: Best-LR = item and skill difficulty + counts of earlier attempts and successes).
LOGISTIC_MODELS = {"irt-lr": "IRTLR", "afm": "AFM", "pfa": "PFA", "best-lr": "BestLR"}
DEFAULT_AUDITED_MODEL = "best-lr"
SUCCESS_THRESHOLDS = {"oulad": 0.4}  # OULAD scores are 0-100; the Open University pass mark is 40


def read_table(path: str | Path) -> pl.DataFrame:
    """A CSV/TSV/Parquet file as a frame (`NA` and `?` are missing values)."""
    import polars as pl  # noqa: PLC0415

    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"file {file} not found")
    if file.suffix.lower() in (".parquet", ".pq"):
        try:
            return pl.read_parquet(file)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ConfigError(f"{file}: not a readable Parquet file ({type(exc).__name__}); expected a Parquet table") from None
    check_text_table(file)
    first = file.open(encoding="utf-8", errors="replace").readline()
    separator = "\t" if file.suffix.lower() in (".tsv", ".tab") or "\t" in first else ","
    try:
        return pl.read_csv(file, separator=separator, null_values=NULLS, infer_schema_length=10_000)
    except pl.exceptions.PolarsError as exc:
        raise DataError(table_error(file, exc, separator)) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", help="gate policy TOML (default: the packaged default policy)")
    parser.add_argument("--min-group-size", type=int, help="override the policy's minimum group size")
    parser.add_argument("--out", help="write the full JSON result here (stdout gets a summary)")
    parser.add_argument("--report", help="write the HTML report here")
    parser.add_argument("--markdown", help="write the Markdown report here")
    parser.add_argument("--model-version", help="the model (set) version this audit is about")
    parser.add_argument("--store", action="store_true", help="also keep the result under EQUILEARN_HOME/reports/audits")
    parser.add_argument("--mlflow", action="store_true", help="also log the result to MLflow")


def _grouped(parser: argparse.ArgumentParser, fmt: list[str]) -> None:
    parser.add_argument("--data", required=True, help="input table")
    parser.add_argument("--format", default=fmt[0], choices=fmt)
    parser.add_argument("--roster", help="student_id + group columns (default: the group columns of --data)")
    parser.add_argument("--groups", required=True, help="comma-separated group columns; '*' joins an intersection, e.g. gender,disability,gender*disability")
    parser.add_argument("--bootstrap", type=int, help="bootstrap resamples (default: the policy's)")
    parser.add_argument("--seed", type=int, help="random seed (default: the policy's)")


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="fairness audits and the serving gate").add_subparsers(dest="audit_command", required=True)

    dif = audit.add_parser("dif", help="differential item functioning (Mantel-Haenszel or logistic regression)")
    dif.add_argument("path")
    dif.add_argument("--format", default="wide", choices=sorted({"wide", *FORMAT_NAMES}),
                     help="wide: the table as it is (one row per student, 0/1 item columns, the group column); "
                          "other formats are loaded as response logs, groups from --roster or the format's roster")
    dif.add_argument("--group-col", "--group", dest="group_col", required=True)
    dif.add_argument("--focal", required=True, help="focal group value(s), comma-separated for several")
    dif.add_argument("--reference", help="reference value (default: everyone else, or the largest other group)")
    dif.add_argument("--roster", help="student_id + group column, for response-log formats")
    dif.add_argument("--method", default="mh", choices=["mh", "logistic"])
    dif.add_argument("--type", dest="dif_type", default="both", choices=["both", "uniform", "nonuniform"], help="logistic only")
    dif.add_argument("--items", help="comma-separated item columns (default: every 0/1 column)")
    dif.add_argument("--exclude", default="", help="comma-separated columns that are not items")
    dif.add_argument("--match", default="score", choices=["score", "rest"])
    dif.add_argument("--purify", action="store_true")
    dif.add_argument("--adjust", default="none", choices=["none", "holm", "bh", "bonferroni"])
    dif.add_argument("--alpha", type=float, default=0.05)
    dif.add_argument("--blocked-out", help="write {\"blocked_items\": [...]} here: class C items for the recommender's "
                                           "blocked_items setting (withheld until reviewed)")
    _common(dif)
    dif.set_defaults(handler=run_dif)

    model = audit.add_parser("model", help="accuracy, calibration, ABROCA and identity-predictiveness by group")
    _grouped(model, ["predictions", *FORMAT_NAMES])
    model.add_argument("--model", default=DEFAULT_AUDITED_MODEL,
                       help="data formats: the model fitted on training students and audited on test students, whose "
                            "responses it predicts one by one from their earlier ones (a `kt evaluate` model name, or "
                            f"one of {', '.join(LOGISTIC_MODELS)}; default {DEFAULT_AUDITED_MODEL})")
    model.add_argument("--test-fraction", type=float, default=0.2, help="data formats without a split: share of test students")
    model.add_argument("--success-threshold", type=float,
                       help="data formats: outcome = 1 when the score (correct, 0-1) is at least this, else 0; default "
                            "for oulad 0.4 (the Open University pass mark, 40/100), else the scores as they are")
    model.add_argument("--y-col", default="correct")
    model.add_argument("--p-col", default="p")
    model.add_argument("--student-col", default="student_id")
    model.add_argument("--mastery-col", help="boolean column: mastery declared when the item was served")
    model.add_argument("--split-col", help="column of the predictions whose values split the mean residual by group "
                       "(e.g. whether the answer was the student's first on its skill); described, not gated "
                       "(--format predictions)")
    model.add_argument("--permutations", type=int, help="ABROCA permutations (default: the policy's)")
    model.add_argument("--folds", type=int, default=5, help="student folds of the identity-predictiveness test")
    add_engine_options(model, parquet_folders=False)  # data formats: the model's fit and its test predictions; the audit runs here
    _common(model)
    model.set_defaults(handler=run_model)

    recs = audit.add_parser("recommendations", help="exposure of advanced material within mastery bands, by group")
    _grouped(recs, ["served"])
    _common(recs)
    recs.set_defaults(handler=run_recommendations)

    outcomes = audit.add_parser("outcomes", help="learning gain by group and prior-achievement quartile")
    _grouped(outcomes, ["outcomes", *FORMAT_NAMES])
    outcomes.add_argument("--window", type=int, default=10, help="log formats: responses at each end forming pre and post")
    _common(outcomes)
    outcomes.set_defaults(handler=run_outcomes)

    gate = audit.add_parser("gate", help="evaluate a policy on stored audit results; exit 0 PASS, 1 FAIL, 2 INSUFFICIENT_EVIDENCE")
    gate.add_argument("--policy", help="gate policy TOML (default: the packaged default policy)")
    gate.add_argument("--audit", action="append", required=True, help="an audit result JSON (repeat for several)")
    gate.add_argument("--out", help="write the gate result JSON here")
    gate.set_defaults(handler=run_gate)


# ---------------------------------------------------------------- helpers
# Command-line overrides of policy settings that the policy file bounds: flag -> (policy field, the policy
# key, the smallest allowed value). The floor is the one `engine.fairness.gate.parse_policy` applies to the
# policy file, so an override can never reach a value the file itself would be refused for.
BOUNDED_OVERRIDES = {"--min-group-size": ("min_group_size", "privacy.min_group_size", 1),
                     "--bootstrap": ("n_bootstrap", "statistics.n_bootstrap", 1),
                     "--permutations": ("n_permutations", "statistics.n_permutations", 1)}


def _check_overrides(overrides: dict[str, Any]) -> None:
    """ConfigError (exit 2) naming the flag and the allowed range when an override is below the policy's floor."""
    for flag, (name, key, floor) in BOUNDED_OVERRIDES.items():
        if name in overrides and overrides[name] < floor:
            raise ConfigError(f"{flag} must be an integer of at least {floor} (as the policy's {key}), got {overrides[name]}")


def _policy(args: argparse.Namespace) -> Policy:
    """The policy file (or the default) with any command-line overrides applied, checked as the file is."""
    from engine.fairness.gate import load_policy

    policy = load_policy(args.policy)
    overrides: dict[str, Any] = {}
    if getattr(args, "min_group_size", None) is not None:
        overrides["min_group_size"] = args.min_group_size
    if getattr(args, "bootstrap", None) is not None:
        overrides["n_bootstrap"] = args.bootstrap
    if getattr(args, "seed", None) is not None:
        overrides["random_state"] = args.seed
    if getattr(args, "permutations", None) is not None:
        overrides["n_permutations"] = args.permutations
    _check_overrides(overrides)
    return replace(policy, **overrides) if overrides else policy


def _write_json(payload: dict[str, Any], path: str | None) -> None:
    from engine.fairness.tracking import json_safe

    text = json.dumps(json_safe(payload), indent=2)
    if not path:
        print(text)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n")


def _finish(payload: dict[str, Any], args: argparse.Namespace) -> int:
    from engine.fairness.report import write_reports
    from engine.fairness.tracking import log_audit_mlflow, store_audit

    _write_json(payload, args.out)
    write_reports(payload, html=args.report, markdown=args.markdown)
    if args.store:
        print(f"stored: {store_audit(payload)}", file=sys.stderr)
    if args.mlflow:
        print(f"MLflow run: {log_audit_mlflow(payload)}", file=sys.stderr)
    if args.out:
        summary = {"audit": payload["audit"], "status": payload["status"], "check_status": payload["check_status"],
                   "findings": payload["findings"], "out": args.out}
        print(json.dumps(summary, indent=2))
    return 0


def _roster(args: argparse.Namespace) -> pl.DataFrame | None:
    return read_table(args.roster) if args.roster else None


# ---------------------------------------------------------------- handlers
def _dataset_roster(args: argparse.Namespace, dataset_roster: pl.DataFrame | None) -> pl.DataFrame:
    """--roster when given, else the roster the loader found; a clear error when neither exists."""
    if args.roster:
        return read_table(args.roster)
    if dataset_roster is None:
        raise ConfigError(f"--format {args.format} gives no group columns; pass --roster (student_id + group columns)")
    return dataset_roster


def _wide_from_long(args: argparse.Namespace) -> pl.DataFrame:
    """Canonical responses pivoted to one row per student (first attempt per item), joined to the roster."""
    import polars as pl  # noqa: PLC0415

    from engine.data import load

    dataset = load(args.path, args.format)
    roster = _dataset_roster(args, dataset.roster)
    if args.group_col not in roster.columns:
        raise ConfigError(f"unknown group column {args.group_col!r}; roster columns are: {', '.join(roster.columns)}")
    first = dataset.responses.sort(["student_id", "seq"]).unique(subset=["student_id", "item_id"], keep="first", maintain_order=True)
    wide = first.pivot(on="item_id", index="student_id", values="correct")
    return wide.join(roster.select(pl.col("student_id").cast(pl.Utf8), args.group_col),
                     on="student_id", how="left").drop("student_id")


def _fitted_predictions(args: argparse.Namespace) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Fit `--model` on training students of a response log, predict the test students sequentially.

    The model sees responses only; the roster (groups) is joined afterwards, for the audit alone.
    """
    import polars as pl  # noqa: PLC0415

    from engine.data import load
    from engine.evaluation.protocol import protocol_split, sort_sequential

    model = _make_model(args.model)
    on_ray = resolve_engine(args.engine) == "ray"
    if on_ray:
        from engine.distributed.kt import ray_family

        ray_family(model)  # refuse a model that cannot fit on Ray before loading anything
    dataset = load(args.data, args.format)
    threshold = args.success_threshold if args.success_threshold is not None else SUCCESS_THRESHOLDS.get(args.format)
    if threshold is not None and not 0 < threshold <= 1:
        raise ConfigError(f"--success-threshold must be in (0, 1], got {threshold}")
    split = protocol_split(dataset, args.test_fraction, args.seed or 0)
    train, test = sort_sequential(split.train), sort_sequential(split.test)
    if threshold is not None:  # the model learns and predicts success, not the raw score
        success = (pl.col("correct") >= threshold).cast(pl.Float64)
        train, test = train.with_columns(success), test.with_columns(success)
    try:
        if on_ray:
            p = _fit_and_predict_on_ray(model, train, test, args.ray_address, f"audit model: fit {args.model}")
        else:
            fit_with_progress(model, train, f"audit model: fit {args.model}")
            p = model.predict_proba(test)
    except ValueError as exc:  # a model that cannot use this data (e.g. BKT without skill ids)
        raise DataError(f"{args.data}: {args.model}: {exc}") from None
    predictions = test.select("student_id", "correct").with_columns(pl.Series("p", p, dtype=pl.Float64).clip(0.0, 1.0))
    info = {"model": args.model, "outcome": f"correct >= {threshold}" if threshold is not None else "correct",
            "split": split.source, "n_train": train.height, "n_test": test.height}
    return predictions, _dataset_roster(args, dataset.roster), info


def _fit_and_predict_on_ray(model: Any, train: pl.DataFrame, test: pl.DataFrame, address: str | None,
                            description: str) -> Any:
    """The model's Ray fit and its test predictions partitioned by student (one worker per cluster CPU)."""
    from engine.distributed.cluster import cluster_cpus, ray_session  # imports ray
    from engine.distributed.evaluate import fit_and_predict_on_ray

    with progress_bar(description, unit="step") as bar, ray_session(address) as ray:
        p = fit_and_predict_on_ray(model, train, test, ray, cluster_cpus(ray), callback=lambda done, total: bar.update(done, total))
        bar.finish()
    return p


def _make_model(name: str) -> Any:
    """A `kt evaluate` model by name, else one of the logistic learner models (models.logistic)."""
    from engine.evaluation.zoo import MODELS, make_model

    if name in MODELS:
        return make_model(name)
    if name not in LOGISTIC_MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted({*MODELS, *LOGISTIC_MODELS}))}")
    import models.logistic as logistic

    return getattr(logistic, LOGISTIC_MODELS[name])()


def run_dif(args: argparse.Namespace) -> int:
    from engine.fairness.item_audit import audit_items
    from engine.fairness.results import assemble

    policy = _policy(args)
    table = read_table(args.path) if args.format == "wide" else _wide_from_long(args)
    audit = audit_items(
        table, args.group_col, [f.strip() for f in args.focal.split(",") if f.strip()], reference=args.reference,
        items=[c.strip() for c in args.items.split(",")] if args.items else None,
        exclude=[c.strip() for c in args.exclude.split(",") if c.strip()], method=args.method, dif_type=args.dif_type,
        match=args.match, purify=args.purify, alpha=args.alpha, adjust=args.adjust, min_group_size=policy.min_group_size)
    payload = assemble(audit, policy, model_version=args.model_version,
                       data={"path": str(args.path), "format": args.format, "n_students": audit.n_students})
    if args.blocked_out:
        from engine.fairness.blocklist import blocklist_document

        _write_json(blocklist_document(payload), args.blocked_out)
    return _finish(payload, args)


def run_model(args: argparse.Namespace) -> int:
    from engine.fairness.model_audit import audit_model
    from engine.fairness.results import assemble

    policy = _policy(args)
    if args.split_col and args.format != "predictions":
        raise ConfigError(f"--split-col names a column of a predictions table (--format predictions); the {args.format} "
                          "format's predictions are made here and have no such column")
    if args.format == "predictions":
        predictions, roster, fitted = read_table(args.data), _roster(args), {}
    else:
        predictions, roster, fitted = _fitted_predictions(args)
    with progress_bar("audit model", unit="stage") as bar:
        audit = audit_model(
            predictions, args.groups, roster=roster, y_col=args.y_col, p_col=args.p_col, student_col=args.student_col,
            mastery_col=args.mastery_col, min_group_size=policy.min_group_size, n_boot=policy.n_bootstrap,
            n_permutations=policy.n_permutations, n_folds=args.folds, confidence=policy.confidence,
            random_state=policy.random_state, progress=bar.update, split_col=args.split_col)
    data = {"path": str(args.data), "format": args.format, "groups": args.groups,
            "n_students": audit.identity.n_students, "n_rows": audit.identity.n_rows, **fitted}
    return _finish(assemble(audit, policy, model_version=args.model_version, data=data), args)


def run_recommendations(args: argparse.Namespace) -> int:
    import polars as pl  # noqa: PLC0415

    from engine.fairness.recommendation_audit import audit_recommendations
    from engine.fairness.results import assemble

    policy = _policy(args)
    served = read_table(args.data)
    if "timestamp" in served.columns and served["timestamp"].dtype == pl.Utf8:
        served = served.with_columns(pl.col("timestamp").str.to_datetime(strict=False))
    roster = _roster(args)
    if roster is None:
        raise ConfigError("the served-recommendations table holds no group columns; give --roster (student_id + groups)")
    audit = audit_recommendations(served, roster, args.groups, min_group_size=policy.min_group_size,
                                  n_boot=policy.n_bootstrap, confidence=policy.confidence, random_state=policy.random_state)
    data = {"path": str(args.data), "groups": args.groups, "n_rows": audit.n_rows, "n_students": audit.n_students}
    return _finish(assemble(audit, policy, model_version=args.model_version, data=data), args)


def run_outcomes(args: argparse.Namespace) -> int:
    from engine.fairness.outcome_audit import audit_outcomes, outcomes_from_log
    from engine.fairness.results import assemble

    policy = _policy(args)
    left_out = 0
    if args.format == "outcomes":
        outcomes = read_table(args.data)
        roster = _roster(args) if args.roster else outcomes
    else:
        from engine.data import load

        dataset = load(args.data, args.format)
        outcomes, left_out = outcomes_from_log(dataset.responses, args.window)
        roster = _dataset_roster(args, dataset.roster)
    audit = audit_outcomes(outcomes, roster, args.groups, min_group_size=policy.min_group_size, n_boot=policy.n_bootstrap,
                           confidence=policy.confidence, random_state=policy.random_state, students_left_out=left_out)
    data = {"path": str(args.data), "groups": args.groups, "n_students": outcomes.height, "students_left_out": left_out}
    return _finish(assemble(audit, policy, model_version=args.model_version, data=data), args)


def run_gate(args: argparse.Namespace) -> int:
    from engine.fairness.gate import load_policy
    from engine.fairness.results import regate

    payloads = []
    for path in args.audit:
        payload = read_json(path, "audit result", ConfigError)
        if not isinstance(payload, dict) or "audit" not in payload or "evidence" not in payload:
            raise ConfigError(f"{path} is not an audit result (no 'audit'/'evidence'); write one with `equilearn audit ... --out`")
        payloads.append(payload)
    result = regate(payloads, load_policy(args.policy))
    _write_json(result.to_dict(), args.out)
    if args.out:
        print(json.dumps({"status": result.status, "check_status": result.check_status}, indent=2))
    return result.exit_code
