"""Connecting to Ray: an existing cluster (`--ray-address`) or a local one started for one command.

Ray is imported here, lazily, and only when a command runs with `--engine ray`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from engine.errors import ConfigError

LOCAL_CPUS = 2  # a local cluster's size when no address is given (this project's machines have 2 cores)
INSTALL_HINT = "install the optional extra: pip install -e '.[distributed]' (or pip install ray)"


def require_ray() -> ModuleType:
    """The `ray` module, or a ConfigError saying how to install it."""
    try:
        import ray  # noqa: PLC0415 - optional dependency, imported only for --engine ray
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray, which is not installed; {INSTALL_HINT}") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int = LOCAL_CPUS) -> Iterator[ModuleType]:
    """Yield `ray`, connected: to `address` when given, to the running session when there is one, else to
    a local cluster of `num_cpus` CPUs that is shut down on exit (a session this did not start is left up)."""
    ray = require_ray()
    started = False
    if not ray.is_initialized():
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if address:
                ray.init(address=address, **options)
            else:
                ray.init(num_cpus=num_cpus, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray cluster"
            raise ConfigError(f"cannot connect to {where}: {exc}") from None
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def cluster_cpus(ray: ModuleType) -> int:
    """CPUs the connected cluster offers (at least 1): the default number of partition workers."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
