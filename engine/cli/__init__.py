"""`equilearn` command line: one module per command group, each with a `register(subparsers)`.

Errors the engine raises on purpose (`EquilearnError`) print as one clear message and exit 1 (data
problems) or 2 (usage); anything else is a bug and keeps its traceback.

Start-up is lazy: `equilearn --help` imports no command module, and `equilearn CMD ...` imports only the
module that defines CMD (`COMMANDS`); the others appear as placeholders with their one-line help. The
heavy libraries (scikit-learn, scipy, MLflow) are imported by the commands that use them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

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


# Every top-level command: the module that registers it and its one-line help (as that module gives it).
# A test checks this table against what the modules register.
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("engine.cli.data", "inspect and validate datasets"),
    "kt": ("engine.cli.kt", "knowledge tracing: evaluate and fit models"),
    "demo": ("engine.cli.demo", "generate the demo response set, validate it and evaluate every model"),
    "audit": ("engine.cli.audit", "fairness audits and the serving gate"),
    "recommend": ("engine.cli.recommend", "top-k explained recommendations for one student"),
    "mtss": ("engine.cli.recommend", "flag students for tier 2/3 support and allocate interventions under capacity"),
    "simulate": ("engine.cli.simulate", "compare policies on simulated learners (learning gain, gaps, advanced offers)"),
    "experiment": ("engine.cli.experiment", "run experiments from TOML configs and compare MLflow runs"),
    "model": ("engine.cli.experiment", "the model-set registry"),
    "keys": ("engine.cli.keys", "create, list and revoke API keys for the service"),
    "serve": ("engine.cli.serve", "run the HTTP API (docs at /docs)"),
    "demo-serve": ("engine.cli.serve", "train + register the demo model set, create a key, seed a student, serve"),
    "irt": ("engine.cli.irt", "item response theory: calibrate items, score abilities"),
}


def _base_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog="equilearn", description="Adaptive learning with equity built in.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser, parser.add_subparsers(dest="command", required=True)


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every command module imported and registered."""
    parser, sub = _base_parser()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _command(argv: list[str]) -> str | None:
    """The command word of `argv` (its first word that is not an option), or None (`equilearn --help`)."""
    for word in argv:
        if word in ("-v", "--verbose"):
            continue
        return None if word.startswith("-") else word
    return None


def parser_for(argv: list[str]) -> argparse.ArgumentParser:
    """A parser that can parse `argv`, importing only the module of its command; every other command is a
    placeholder with its help line. An unknown command gets the full parser (and argparse's error)."""
    command = _command(argv)
    if command is not None and command not in COMMANDS:
        return build_parser()
    parser, sub = _base_parser()
    if command is not None:
        importlib.import_module(COMMANDS[command][0]).register(sub)
        if command not in sub.choices:  # the table is out of date: be correct rather than fast
            return build_parser()
    for name, (_, help_text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


INTERNAL_ERROR = 70  # sysexits' EX_SOFTWARE: an unexpected exception (1: data error or FAIL, 2: usage or INSUFFICIENT)


def main(argv: list[str] | None = None) -> int:
    disable_telemetry()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser_for(argv).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, NotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EquilearnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception:  # a bug, not a verdict: its own exit code, so a script can tell it from an audit's FAIL (1)
        traceback.print_exc()
        print(f"internal error (a bug in equilearn, please report it with the traceback above); exit {INTERNAL_ERROR}",
              file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
