"""Training beyond one process: the same sufficient-statistic steps as the local engine, mapped over
student partitions on Ray workers and reduced at the driver (see docs/scale.md).

Nothing here imports Ray at import time: `cluster.ray_session` imports it when a command asks for
`--engine ray`, so the service and `equilearn --help` never load it. The models expose the per-partition
steps as plain functions (`models.irt.em.EMProblem.expected_counts`); this package only moves data.
"""

from __future__ import annotations

import argparse
import os

from engine.errors import ConfigError

ENGINES = ("local", "ray")
ENGINE_VARIABLE = "EQUILEARN_ENGINE"


def resolve_engine(flag: str | None, environ: dict[str, str] | None = None) -> str:
    """The engine a command runs on: `--engine` when given, else `EQUILEARN_ENGINE`, else "local"."""
    env = os.environ if environ is None else environ
    value = flag if flag is not None else env.get(ENGINE_VARIABLE, "local")
    value = value.strip().lower()
    if value not in ENGINES:
        source = "--engine" if flag is not None else ENGINE_VARIABLE
        raise ConfigError(f"{source}={value!r} is not an engine; choose one of {', '.join(ENGINES)}")
    return value


def add_engine_options(parser: argparse.ArgumentParser, parquet_folders: bool = True) -> None:
    """--engine / --ray-address on a fitting command (the distributed engine gives the local engine's numbers);
    `parquet_folders`: the command's workers read a --format generic folder of Parquet files themselves."""
    group = parser.add_argument_group("where it runs")
    group.add_argument("--engine", choices=ENGINES, default=None,
                       help="local (one process) or ray (E-steps on Ray workers, partitioned by student); "
                            f"default: ${ENGINE_VARIABLE}, else local")
    folders = " With --format generic, a folder of Parquet files split by student is read by the workers" if parquet_folders else ""
    group.add_argument("--ray-address", default=None,
                       help="an existing Ray cluster (e.g. auto or ray://head:10001); default: start a local one with "
                            f"2 CPUs.{folders}")
