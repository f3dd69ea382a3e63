"""`equilearn kt evaluate` (the knowledge-tracing protocol over named models) and `equilearn kt fit`
(fit one named model and save it as versioned JSON)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from engine.cli.loading import FORMAT_NAMES, add_loader_options, loader_options
from engine.cli.output import write_json
from engine.cli.progress import fit_with_progress, progress_bar
from engine.distributed import add_engine_options, resolve_engine
from engine.errors import ConfigError, DataError

# The loaders (polars), the model zoo and the protocol (scikit-learn, scipy) are imported by the commands that
# run, not to build the parser (`equilearn kt --help` stays fast).
MODELS_HELP = "comma-separated model names (a wrong name lists every model), e.g. baseline-mean,bkt,pfa,irt"


def register(sub: argparse._SubParsersAction) -> None:
    kt = sub.add_parser("kt", help="knowledge tracing: evaluate and fit models").add_subparsers(dest="kt_command", required=True)
    ev = kt.add_parser("evaluate", help="fit on train students, predict test responses sequentially, report metrics")
    ev.add_argument("--data", required=True, help="dataset path")
    ev.add_argument("--format", required=True, choices=FORMAT_NAMES)
    ev.add_argument("--models", default="baseline-mean,baseline-item", help=MODELS_HELP)
    ev.add_argument("--test-fraction", type=float, default=0.2, help="student share for test when the data has no split")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", help="write the result JSON here")
    add_engine_options(ev, parquet_folders=False)
    add_loader_options(ev)
    ev.set_defaults(handler=run_evaluate)

    fit = kt.add_parser("fit", help="fit one model and save it as JSON (load it back with the model's from_dict)")
    fit.add_argument("--data", required=True, help="dataset path")
    fit.add_argument("--format", required=True, choices=FORMAT_NAMES)
    fit.add_argument("--model", required=True, help="one model name (a wrong name lists every model)")
    fit.add_argument("--out", required=True, help="where to write the fitted model's JSON")
    fit.add_argument(
        "--responses", choices=("train", "all"), default="train",
        help="fit on the protocol's training students only (default) or on every response, test included",
    )
    fit.add_argument("--test-fraction", type=float, default=0.2, help="student share for test when the data has no split")
    fit.add_argument("--seed", type=int, default=0)
    add_engine_options(fit, parquet_folders=False)
    add_loader_options(fit)
    fit.set_defaults(handler=run_fit)


def run_evaluate(args: argparse.Namespace) -> int:
    from engine.data import load  # noqa: PLC0415 - heavy (see the imports)
    from engine.evaluation.protocol import evaluate  # noqa: PLC0415
    from engine.evaluation.zoo import parse_model_names  # noqa: PLC0415

    names = parse_model_names(args.models)  # fail on a bad name before loading anything
    if resolve_engine(args.engine) == "ray":
        from engine.distributed.evaluate import check_names  # noqa: PLC0415

        check_names(names)  # refuse a model that cannot fit on Ray before loading anything
        dataset = load(args.data, args.format, **loader_options(args, args.format))
        result = _evaluate_on_ray(dataset, names, args)
    else:
        dataset = load(args.data, args.format, **loader_options(args, args.format))
        with progress_bar("kt evaluate", total=2 * len(names), unit="step") as bar:
            try:
                result = evaluate(dataset, names, test_fraction=args.test_fraction, seed=args.seed, progress=bar.update)
            except ValueError as exc:  # a model that cannot use this data (e.g. BKT without skill ids)
                raise DataError(f"{args.data}: {bar.description}: {exc}") from None
    write_json(result, args.out)
    return 0


def _evaluate_on_ray(dataset: Any, names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """The protocol with fits and predictions on a Ray cluster (one partition worker per cluster CPU)."""
    from engine.distributed.cluster import cluster_cpus, ray_session  # noqa: PLC0415 - imports ray
    from engine.distributed.evaluate import evaluate_on_ray  # noqa: PLC0415

    with progress_bar("kt evaluate", total=2 * len(names), unit="step") as bar, ray_session(args.ray_address) as ray:
        try:
            return evaluate_on_ray(dataset, names, ray, cluster_cpus(ray), test_fraction=args.test_fraction,
                                   seed=args.seed, progress=bar.update)
        except ValueError as exc:  # a model that cannot use this data (e.g. BKT without skill ids)
            raise DataError(f"{args.data}: {bar.description}: {exc}") from None


def run_fit(args: argparse.Namespace) -> int:
    import polars as pl  # noqa: PLC0415 - heavy (see the imports)

    from engine.data import load  # noqa: PLC0415
    from engine.evaluation.protocol import protocol_split, sort_sequential  # noqa: PLC0415
    from engine.evaluation.zoo import make_model, parse_model_names  # noqa: PLC0415

    names = parse_model_names(args.model)
    if len(names) != 1:
        raise ConfigError(f"--model takes one name, got {len(names)}: {', '.join(names)}")
    on_ray = resolve_engine(args.engine) == "ray"
    if on_ray:
        from engine.distributed.kt import ray_family  # noqa: PLC0415

        ray_family(make_model(names[0]))  # refuse a model that cannot fit on Ray before loading anything
    dataset = load(args.data, args.format, **loader_options(args, args.format))
    split = protocol_split(dataset, args.test_fraction, args.seed)
    responses = split.train if args.responses == "train" else pl.concat([split.train, split.test], how="diagonal_relaxed")
    model = make_model(names[0])
    t0 = time.perf_counter()
    try:
        if on_ray:
            _fit_on_ray(model, sort_sequential(responses), args.ray_address, f"kt fit {names[0]}")
        else:
            fit_with_progress(model, sort_sequential(responses), f"kt fit {names[0]}")
    except ValueError as exc:  # a model that cannot use this data (e.g. BKT without skill ids)
        raise DataError(f"{args.data}: {names[0]}: {exc}") from None
    seconds = time.perf_counter() - t0
    payload = model.to_dict()
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload) + "\n")
    write_json(
        {"model": names[0], "dataset": dataset.name, "responses": args.responses, "n_responses": responses.height,
         "fit_seconds": round(seconds, 3), "out": str(path)},
        None,
    )
    return 0


def _fit_on_ray(model: Any, responses: Any, address: str | None, description: str) -> None:
    """Fit on a Ray cluster (one partition worker per cluster CPU), with the same progress bar."""
    from engine.distributed.cluster import cluster_cpus, ray_session  # noqa: PLC0415 - imports ray
    from engine.distributed.kt import fit_on_ray  # noqa: PLC0415

    with progress_bar(description, unit="step") as bar, ray_session(address) as ray:
        fit_on_ray(model, responses, ray, cluster_cpus(ray), callback=lambda done, total: bar.update(done, total))
        bar.finish()


def load_model(payload: dict[str, Any]) -> Any:
    """Rebuild a fitted model from the JSON written by `kt fit` (dispatch on its `model` field)."""
    from engine.evaluation.zoo import MODELS  # noqa: PLC0415 - heavy (see the imports)

    stored = payload.get("model")
    for name, factory in MODELS.items():
        cls = type(factory())
        if getattr(cls, "model_name", name) == stored and hasattr(cls, "from_dict"):
            return cls.from_dict(payload)
    raise ConfigError(f"no model in the zoo reads a serialized {stored!r} model; available: {', '.join(sorted(MODELS))}")
