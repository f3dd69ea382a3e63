"""`equilearn --help` and every subcommand's `--help` stay fast (issue 16: within 1 s): building the parser imports
no scientific, data or server library. Timing a subprocess on a shared machine is flaky, so the test checks
what matters instead: the modules loaded in a fresh interpreter after every `--help` of a command."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Never for --help: the numerical stack and the server.
HEAVY = ("sklearn", "scipy", "mlflow", "statsmodels", "numba", "fastapi", "uvicorn", "rich")
# Not for --help either (together ~0.5-1 s of start-up on a busy machine) ...
DATA = ("polars", "numpy", "pyarrow", "pandas", "sqlalchemy", "psycopg")
# ... except where the module that registers the command imports them, and it is not this change's to edit:
# engine/cli/experiment.py registers `--format` choices from `engine.data.FORMATS` (the loaders: polars, numpy;
# `engine.cli.loading.FORMAT_NAMES` would do), engine/cli/keys.py imports engine.store (SQLAlchemy, polars) at
# the top. Remove an entry once its module imports lazily.
STILL_SLOW: dict[str, set[str]] = {}


def _help_commands() -> dict[str, list[list[str]]]:
    """Every `--help` argv, grouped by top-level command: the command and each of its subcommands."""
    from engine.cli import COMMANDS, build_parser

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
        out = [[*prefix, "--help"]]
        for action in parser._actions:  # noqa: SLF001
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                for name, child in action.choices.items():
                    out += walk(child, [*prefix, name])
        return out

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    assert set(sub.choices) == set(COMMANDS)
    return {name: walk(parser, [name]) for name, parser in sub.choices.items()}


COMMANDS = _help_commands()


def _loaded_after(argvs: list[list[str]]) -> set[str]:
    code = ("import sys, io, contextlib\nfrom engine.cli import main\n"
            f"for argv in {argvs!r}:\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "        try:\n            main(argv)\n        except SystemExit as exc:\n"
            "            assert exc.code == 0, (argv, exc.code)\n"
            "    assert 'usage: equilearn' in out.getvalue(), argv\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_top_level_help_imports_nothing_heavy() -> None:
    loaded = _loaded_after([["--help"], ["-v", "--help"]])
    assert not loaded & {*HEAVY, *DATA}, sorted(loaded & {*HEAVY, *DATA})


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_help_of_a_command_imports_nothing_heavy(command: str) -> None:
    loaded = _loaded_after(COMMANDS[command])
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert not loaded & set(DATA) - STILL_SLOW.get(command, set()), sorted(loaded & set(DATA))


def test_the_help_only_name_lists_match_the_engine() -> None:
    """The names the parsers list without importing the engine are the engine's names."""
    from engine.cli import irt, loading, simulate
    from engine.data import FORMATS
    from engine.simulate import DEFAULT_GROUPS, POLICIES, SIMULATORS
    from models.irt.mstep import MODELS

    assert loading.FORMAT_NAMES == tuple(sorted(FORMATS))
    assert irt.MODELS == tuple(MODELS) and irt.SCORER_NAMES == tuple(sorted(irt.scorers()))
    assert simulate.POLICY_NAMES == tuple(POLICIES) and simulate.SIMULATOR_NAMES == tuple(sorted(SIMULATORS))
    assert simulate.DEFAULT_GROUPS_TEXT == ",".join(f"{g.name}:{g.share}:{g.opportunity_shift}" for g in DEFAULT_GROUPS)
    from engine.cli import keys
    from engine.store.keys import SCOPES

    assert keys.SCOPE_NAMES == tuple(SCOPES)
