"""`equilearn irt calibrate` and `equilearn irt score`: item calibration and ability scoring from files.

calibrate: PATH (any loader format) -> calibration JSON {"model", "loglik", "aic", "bic", "n_iter",
"converged", "items": [{"item_id", "a", "b", "c", "se_a", "se_b", "se_c"}], ...}.
score: PATH + calibration JSON -> one row per student (student_id, theta, se, n_responses, extreme)
as CSV (to --out, else stdout). Model-level ValueErrors become DataError/ConfigError messages.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.loading import FORMAT_NAMES, add_loader_options, loader_options
from engine.cli.output import write_json
from engine.cli.progress import progress_bar
from engine.distributed import add_engine_options, resolve_engine
from engine.errors import ConfigError, DataError
from engine.jsonfile import read_json

if TYPE_CHECKING:  # numpy, polars and models.irt (scipy) are imported by the commands that run, not for --help
    import polars as pl

    from models.irt import ItemBank, Quadrature
    from models.irt.calibration import Calibration

MODELS = ("rasch", "1pl", "2pl", "3pl")  # models.irt.mstep.MODELS (a test checks they agree)
SCORER_NAMES = ("eap", "map", "mle")  # the keys of `scorers()`
MAX_PRINTED_WARNINGS = 20


def scorers() -> dict[str, Any]:
    """Ability estimators by `--method` name."""
    from models.irt import eap, map_estimate, mle  # noqa: PLC0415

    return {"eap": eap, "map": map_estimate, "mle": mle}


def register(sub: argparse._SubParsersAction) -> None:
    irt = sub.add_parser("irt", help="item response theory: calibrate items, score abilities").add_subparsers(dest="irt_command", required=True)
    cal = irt.add_parser("calibrate", help="fit Rasch/1PL/2PL/3PL item parameters by marginal maximum likelihood (EM)")
    cal.add_argument("path", help="response data (file or folder)")
    cal.add_argument("--format", required=True, choices=FORMAT_NAMES)
    cal.add_argument("--model", default="2pl", choices=MODELS)
    cal.add_argument("--prior-a", nargs=2, type=float, metavar=("MEANLOG", "SDLOG"), help="lognormal prior on slopes")
    cal.add_argument("--prior-b", nargs=2, type=float, metavar=("MEAN", "SD"), help="normal prior on difficulties")
    cal.add_argument("--prior-c", nargs=2, type=float, metavar=("ALPHA", "BETA"), help="beta prior on c (3PL default 5 17)")
    cal.add_argument("--anchors", help="calibration JSON whose items stay fixed (fixed-item calibration of new items)")
    cal.add_argument("--points", type=int, default=61, help="quadrature points on [-6, 6]")
    cal.add_argument("--max-iter", type=int, default=2000)
    cal.add_argument("--tol", type=float, default=1e-5, help="largest parameter change at convergence")
    cal.add_argument("--standard-errors", default="auto", choices=["auto", "observed", "crossprod", "none"])
    cal.add_argument("--out", help="write the calibration JSON here")
    add_engine_options(cal)
    add_loader_options(cal)
    cal.set_defaults(handler=run_calibrate)

    sc = irt.add_parser("score", help="ability estimates for a response file against a saved calibration")
    sc.add_argument("path", help="response data (file or folder)")
    sc.add_argument("--format", required=True, choices=FORMAT_NAMES)
    sc.add_argument("--calibration", required=True, help="calibration JSON from `irt calibrate`")
    sc.add_argument("--method", default="eap", choices=SCORER_NAMES)
    sc.add_argument("--out", help="write the CSV here (default: stdout)")
    add_loader_options(sc)
    sc.set_defaults(handler=run_score)


def _responses(path: str, fmt: str, options: dict | None = None) -> pl.DataFrame:
    from engine.data import load  # noqa: PLC0415

    dataset = load(path, fmt, **(options or {}))
    frame = dataset.responses
    frame = frame() if callable(frame) else frame
    if frame.height == 0:
        raise DataError(f"{path}: no responses to calibrate or score")
    return frame


def read_calibration(path: str) -> Calibration:
    """Load a calibration JSON; missing file -> NotFoundError, malformed -> DataError naming the field."""
    from models.irt.calibration import Calibration  # noqa: PLC0415

    payload = read_json(path, "calibration file", hint="expected the output of `equilearn irt calibrate`")
    try:
        return Calibration.from_dict(payload)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: malformed calibration: {exc}") from None


def run_calibrate(args: argparse.Namespace) -> int:
    from models.irt import Priors, Quadrature, ResponseData, calibrate  # noqa: PLC0415
    from models.irt.calibration import DEFAULT_C_PRIOR  # noqa: PLC0415

    try:
        priors = None
        if args.prior_a or args.prior_b or args.prior_c:
            c = args.prior_c or (DEFAULT_C_PRIOR if args.model == "3pl" else None)
            priors = Priors(args.prior_a and tuple(args.prior_a), args.prior_b and tuple(args.prior_b), c and tuple(c))
        quadrature = Quadrature.normal(args.points)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    anchors = read_calibration(args.anchors).bank if args.anchors else None
    options = {"model": args.model, "priors": priors, "quadrature": quadrature, "anchors": anchors,
               "max_iter": args.max_iter, "tol": args.tol, "standard_errors": args.standard_errors}
    engine = resolve_engine(args.engine)
    loader = loader_options(args, args.format)
    frame = None if engine == "ray" and _partition_folder(args) else _responses(args.path, args.format, loader)
    try:
        # total: --max-iter, an upper bound (EM stops once converged; the ETA is the longest it can take)
        with progress_bar(f"irt calibrate {args.model}", total=args.max_iter, unit="iter") as bar:
            options["callback"] = lambda n_iter, _: bar.count(n_iter)
            if engine == "ray":
                result = _calibrate_on_ray(args, frame, loader.get("columns"), options)
            else:
                data = ResponseData.from_arrays(frame["student_id"], frame["item_id"], frame["correct"])
                result = calibrate(data, **options)
            bar.finish()
    except ValueError as exc:
        raise DataError(f"{args.path}: {exc}") from None
    for warning in result.warnings[:MAX_PRINTED_WARNINGS]:
        print(f"warning: {warning}", file=sys.stderr)
    if len(result.warnings) > MAX_PRINTED_WARNINGS:
        print(f"warning: ... and {len(result.warnings) - MAX_PRINTED_WARNINGS} more item warnings (all listed under "
              "'warnings' in the output JSON)", file=sys.stderr)
    payload = result.to_dict()
    if frame is not None:  # a partition folder read by the workers keeps the items sorted by id
        payload["items"] = in_file_order(payload["items"], "item_id", frame["item_id"])
    write_json(payload, args.out)
    return 0


def _partition_folder(args: argparse.Namespace) -> bool:
    """--format generic on a folder of Parquet files: partitions the Ray workers read themselves."""
    from engine.distributed.partitions import is_partition_folder  # noqa: PLC0415

    return args.format == "generic" and is_partition_folder(args.path)


def _calibrate_on_ray(args: argparse.Namespace, frame: pl.DataFrame | None, columns: dict[str, str] | None,
                      options: dict[str, Any]) -> Calibration:
    """Calibrate on Ray (one worker per cluster CPU): `frame` is put in the object store split by student;
    without a frame the workers read the folder's Parquet partitions (the driver never holds the log)."""
    from engine.distributed.cluster import cluster_cpus, ray_session  # noqa: PLC0415 - imports ray
    from engine.distributed.irt import calibrate_on_ray  # noqa: PLC0415

    with ray_session(args.ray_address) as ray:
        result, pool = calibrate_on_ray(frame if frame is not None else args.path, ray, cluster_cpus(ray),
                                        columns=columns, **options)
        pool.shutdown()
    return result


def in_file_order(records: list[dict], key: str, column: pl.Series) -> list[dict]:
    """`records` ordered as their `key` first appears in `column` (the input file), not sorted as text
    (where "10" comes before "9"); records whose key is not in the file keep their order, last."""
    import polars as pl  # noqa: PLC0415

    first = {str(v): i for i, v in enumerate(column.cast(pl.Utf8).unique(maintain_order=True).to_list())}
    return sorted(records, key=lambda r: first.get(str(r[key]), len(first)))


def score_frame(frame: pl.DataFrame, bank: ItemBank, method: str, quadrature: Quadrature | None = None) -> pl.DataFrame:
    """Ability per student of `frame` (student_id, theta, se, n_responses, n_unknown_items, extreme), one row
    per student in the order of their first response in `frame`.

    Responses to items the bank does not hold (or could not estimate) are left out and counted in
    `n_unknown_items`; a student with no usable response gets the prior (EAP/MAP) or null (MLE).
    """
    import numpy as np  # noqa: PLC0415
    import polars as pl  # noqa: PLC0415

    from models.irt.data import binary_responses, encode  # noqa: PLC0415

    correct = binary_responses(frame["correct"])
    student, students = encode(frame["student_id"], "student_id")
    item = bank.codes(frame["item_id"])
    usable = item >= 0
    usable[usable] = bank.usable[item[usable]]
    n_students = len(students)
    est = scorers()[method](bank, student[usable], item[usable], correct[usable], n_students, quadrature)
    table = pl.DataFrame({
        "student_id": students.astype(str),
        "theta": est.theta,
        "se": est.se,
        "n_responses": np.bincount(student[usable], minlength=n_students),
        "n_unknown_items": np.bincount(student[~usable], minlength=n_students),
        "extreme": est.extreme,
    })
    # one row per student in the order students first appear in `frame` (not sorted as text: 1, 10, 100, 2)
    order = frame.select(pl.col("student_id").cast(pl.Utf8).unique(maintain_order=True))
    return order.join(table, on="student_id", how="left", maintain_order="left")


def run_score(args: argparse.Namespace) -> int:
    from models.irt import Quadrature  # noqa: PLC0415

    calibration = read_calibration(args.calibration)
    frame = _responses(args.path, args.format, loader_options(args, args.format))
    try:
        table = score_frame(frame, calibration.bank, args.method, Quadrature.normal().with_prior(calibration.latent_mean, calibration.latent_sd))
    except ValueError as exc:
        raise DataError(f"{args.path}: {exc}") from None
    unknown = int(table["n_unknown_items"].sum())
    if unknown:
        print(f"warning: {unknown} response(s) to items not in the calibration were left out", file=sys.stderr)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.write_csv(args.out)
    else:
        sys.stdout.write(table.write_csv())
    return 0
