"""`equilearn` command line: one module per command group, each with a `register(subparsers)`.

Errors the engine raises on purpose (`EquilearnError`) print as one clear message and exit 1 (data
problems) or 2 (usage); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from engine.config import disable_telemetry
from engine.errors import ConfigError, EquilearnError, NotFoundError

# Command-group modules; each defines register(subparsers). Add new groups here, one line each.
COMMAND_MODULES = [
    "engine.cli.data",
    "engine.cli.kt",
    "engine.cli.demo",
    "engine.cli.audit",
    "engine.cli.recommend",
    "engine.cli.simulate",
    "engine.cli.experiment",
    "engine.cli.keys",
    "engine.cli.serve",
    "engine.cli.irt",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="equilearn", description="Adaptive learning with equity built in.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, NotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EquilearnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
