"""`equilearn recommend` (top-k for one student, for inspection) and `equilearn mtss` (flag + allocate).

`--state` is a mastery-state file written by `MasteryEngine.save_states` (.json), or a response log
(.csv with student_id, item_id, correct and optionally seq and an ISO `timestamp`) replayed through the
mastery engine. `--catalog` defaults to the demo catalog. `recommend` for a student the state file does not
hold, or without `--state`, starts from a new student's state: the list is placement questions.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.output import write_json
from engine.errors import ConfigError, DataError, NotFoundError
from engine.jsonfile import check_text_table, read_text, table_error

if TYPE_CHECKING:  # numpy, polars, the catalog, mastery and recommender are imported to run, not for --help
    from engine.catalog import Catalog
    from engine.mastery import MasteryBatch, MasteryEngine, MasteryState
    from engine.recommend import RecommenderConfig


def _ids(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def _common(parser: argparse.ArgumentParser, state_required: bool = True) -> None:
    parser.add_argument("--catalog", help="catalog bundle (folder, .toml or .json); default: the demo catalog")
    parser.add_argument("--state", required=state_required, help="mastery states (.json) or a response log (.csv) to replay"
                        + ("" if state_required else "; without it (or for a student it does not hold): a new student"))
    parser.add_argument("--now", type=float, help="current time in days (default: each student's latest response)")
    parser.add_argument("--assigned", help="comma-separated skill ids the teacher assigned")
    parser.add_argument("--out", help="also write the JSON here")


def register(sub: argparse._SubParsersAction) -> None:
    rec = sub.add_parser("recommend", help="top-k explained recommendations for one student")
    _common(rec, state_required=False)
    rec.add_argument("--student", required=True, help="student id in the state file (others: placement questions)")
    rec.add_argument("-k", type=int, default=5, help="how many recommendations (default 5)")
    rec.add_argument("--pin", help="comma-separated resource ids to pin first")
    rec.add_argument("--block", help="comma-separated resource ids never to recommend")
    rec.add_argument("--seed", type=int, default=0, help="seed of the policy's random choices")
    rec.add_argument("--config", help="recommender settings as JSON (RecommenderConfig.to_dict() keys, e.g. "
                     '{"target_success": 0.7, "blocked_items": ["i1"]}); a file path or the JSON text')
    rec.set_defaults(handler=run_recommend)
    mtss = sub.add_parser("mtss", help="flag students for tier 2/3 support and allocate interventions under capacity")
    _common(mtss)
    mtss.set_defaults(handler=run_mtss)


def load_states(engine: MasteryEngine, path: str) -> MasteryBatch:
    """States from a .json state file, or by replaying a .csv response log."""
    import polars as pl  # noqa: PLC0415

    p = Path(path)
    if not p.exists():
        raise NotFoundError(f"state file not found: {p}")
    if p.suffix == ".json":
        return engine.load_states(p)
    if p.suffix != ".csv":
        raise ConfigError(f"--state must be a .json state file or a .csv response log, got {p.name}")
    check_text_table(p, "response log (--state)", "comma-separated text with student_id, item_id, correct")
    try:
        log = pl.read_csv(p, schema_overrides={"student_id": pl.Utf8, "item_id": pl.Utf8})
    except pl.exceptions.PolarsError as exc:
        raise DataError(table_error(p, exc)) from None
    missing = [c for c in ("student_id", "item_id", "correct") if c not in log.columns]
    if missing:
        raise DataError(f"{p}: response log lacks column(s) {', '.join(missing)}")
    if "seq" not in log.columns:
        log = log.with_columns(pl.int_range(pl.len()).over("student_id").alias("seq"))
    if "timestamp" in log.columns and log.schema["timestamp"] == pl.Utf8:
        log = log.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC", strict=False))
    return engine.replay(log.with_columns(pl.col("correct").cast(pl.Float64)))


def _now(args: argparse.Namespace, batch: MasteryBatch, row: int | None = None) -> float | None:
    import numpy as np  # noqa: PLC0415

    if args.now is not None:
        return args.now
    t = float(batch.last_time[row]) if row is not None else float(np.nanmax(batch.last_time)) if np.isfinite(batch.last_time).any() else math.nan
    return t if math.isfinite(t) else None


def _setup(args: argparse.Namespace) -> tuple[Catalog, MasteryEngine, MasteryBatch]:
    from engine.catalog import load_catalog  # noqa: PLC0415
    from engine.mastery import MasteryEngine  # noqa: PLC0415

    catalog = load_catalog(args.catalog)
    engine = MasteryEngine(catalog)
    return catalog, engine, load_states(engine, args.state)


def _student(args: argparse.Namespace) -> tuple[Catalog, MasteryEngine, MasteryState, float | None, bool]:
    """(catalog, engine, state, now, known): the student's state from `--state`, or a new student's state
    (placement) when there is no `--state` or it does not hold the student."""
    from engine.catalog import load_catalog  # noqa: PLC0415
    from engine.mastery import MasteryEngine  # noqa: PLC0415

    catalog = load_catalog(args.catalog)
    engine = MasteryEngine(catalog)
    batch = load_states(engine, args.state) if args.state else None
    if batch is None or args.student not in batch.student_ids:
        return catalog, engine, engine.new_state(args.student), args.now, False
    row = batch.row_of(args.student)
    return catalog, engine, batch.state(row), _now(args, batch, row), True


def _config(text: str | None) -> RecommenderConfig | None:
    """RecommenderConfig from a JSON file or JSON text (None: the defaults)."""
    from engine.recommend import RecommenderConfig  # noqa: PLC0415

    if not text:
        return None
    if text.lstrip().startswith("{"):
        raw = text
    elif Path(text).is_file():
        raw = read_text(text, "--config file", "a recommender config in JSON")
    else:
        raise NotFoundError(f"--config file not found: {text}")
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ConfigError("--config must be a JSON object of recommender settings")
    return RecommenderConfig.from_dict(payload)


def run_recommend(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415

    from engine.mastery import MasteryBatch  # noqa: PLC0415
    from engine.recommend import Recommender, TeacherConstraints  # noqa: PLC0415
    from engine.recommend.placement import needs_placement  # noqa: PLC0415

    if args.k <= 0:
        raise ConfigError(f"-k must be a positive integer, got {args.k}")
    catalog, engine, state, now, known = _student(args)
    constraints = TeacherConstraints(_ids(args.assigned), _ids(args.pin), _ids(args.block))
    recommender = Recommender(engine, _config(args.config))
    recs = recommender.recommend(state, args.k, now=now, constraints=constraints, rng=np.random.default_rng(args.seed))
    placement = bool(needs_placement(MasteryBatch.stack([state]))[0])
    write_json({"student_id": args.student, "catalog": f"{catalog.name}/v{catalog.version}", "now": now,
                "known_student": known, "n_responses": state.n_responses, "placement": placement,
                "recommendations": [r.to_dict() for r in recs]}, args.out)
    return 0


def run_mtss(args: argparse.Namespace) -> int:
    from engine.recommend.interventions import allocate, flag_students  # noqa: PLC0415

    catalog, engine, batch = _setup(args)
    flags = flag_students(engine, batch, now=_now(args, batch), assigned_skills=_ids(args.assigned))
    result = allocate(flags, catalog.interventions)
    write_json({
        "catalog": f"{catalog.name}/v{catalog.version}", "students": len(batch), "flagged": len(flags),
        "assignments": [a.__dict__ for a in result.assignments],
        "waitlist": [{"student_id": f.student_id, "recommended_tier": f.recommended_tier, "reason": f.reason} for f in result.waitlist],
        "remaining_capacity": result.remaining_capacity,
    }, args.out)
    return 0
