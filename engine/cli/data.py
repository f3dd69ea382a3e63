"""`equilearn data validate PATH --format F`: load, validate, summarize; exit 1 listing every problem."""

from __future__ import annotations

import argparse

from engine.cli.loading import FORMAT_NAMES, add_loader_options, loader_options
from engine.cli.output import write_json


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect and validate datasets").add_subparsers(dest="data_command", required=True)
    validate = data.add_parser("validate", help="load a dataset, check it against the canonical schema, print a summary")
    validate.add_argument("path")
    validate.add_argument("--format", required=True, choices=FORMAT_NAMES)
    validate.add_argument("--out", help="also write the summary JSON here")
    add_loader_options(validate)
    validate.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from engine.data import load  # noqa: PLC0415 - polars: imported to run, not to parse arguments

    dataset = load(args.path, args.format, **loader_options(args, args.format))  # raises DataValidationError with every problem
    summary = dataset.summary()
    summary["problems"] = []
    write_json(summary, args.out)
    return 0
