"""`equilearn kt evaluate`: the knowledge-tracing evaluation protocol over named models."""

from __future__ import annotations

import argparse

from engine.cli.output import write_json
from engine.data import FORMATS, load
from engine.evaluation.protocol import evaluate
from engine.evaluation.zoo import MODELS, parse_model_names


def register(sub: argparse._SubParsersAction) -> None:
    kt = sub.add_parser("kt", help="knowledge tracing: evaluate and fit models").add_subparsers(dest="kt_command", required=True)
    ev = kt.add_parser("evaluate", help="fit on train students, predict test responses sequentially, report metrics")
    ev.add_argument("--data", required=True, help="dataset path")
    ev.add_argument("--format", required=True, choices=sorted(FORMATS))
    ev.add_argument("--models", default="baseline-mean,baseline-item", help=f"comma-separated: {', '.join(sorted(MODELS))}")
    ev.add_argument("--test-fraction", type=float, default=0.2, help="student share for test when the data has no split")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", help="write the result JSON here")
    ev.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    names = parse_model_names(args.models)  # fail on a bad name before loading anything
    result = evaluate(load(args.data, args.format), names, test_fraction=args.test_fraction, seed=args.seed)
    write_json(result, args.out)
    return 0
