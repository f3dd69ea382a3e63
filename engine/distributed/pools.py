"""Pools of partition workers: the same `map(method, *args)` over workers in this process or on Ray.

`InlinePool` runs the workers one after the other here (tests; the reference that a partitioned run
reduces to); `RayPool` runs each worker as a Ray actor, one CPU each, and resolves every call in
parallel. Both can count the bytes that cross between driver and workers (pickled arguments and
results), which is what a real cluster moves over the network per step.
"""

from __future__ import annotations

import pickle
import resource
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports kilobytes): what every partition worker reports."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class Traffic:
    """Bytes sent to and received from the workers since the last `reset()` (counted only when on)."""

    def __init__(self, on: bool = False) -> None:
        self.on, self.sent, self.received = on, 0, 0

    def reset(self) -> None:
        self.sent = self.received = 0

    def count(self, args: tuple, n_workers: int, results: Sequence[Any]) -> None:
        if self.on:
            self.sent += len(pickle.dumps(args, protocol=5)) * n_workers
            self.received += sum(len(pickle.dumps(r, protocol=5)) for r in results)


class InlinePool:
    """Workers called in turn in this process."""

    def __init__(self, workers: Sequence[Any], measure: bool = False) -> None:
        self.workers = list(workers)
        self.traffic = Traffic(measure)

    def __len__(self) -> int:
        return len(self.workers)

    def map(self, method: str, *args: Any) -> list[Any]:
        results = [getattr(w, method)(*args) for w in self.workers]
        self.traffic.count(args, len(self.workers), results)
        return results


class RayPool:
    """Workers as Ray actors (one CPU each); a worker's ValueError comes back as a plain ValueError."""

    def __init__(self, ray: ModuleType, actors: Sequence[Any], measure: bool = False) -> None:
        self.ray, self.actors = ray, list(actors)
        self.traffic = Traffic(measure)

    @classmethod
    def start(cls, ray: ModuleType, worker_class: type, worker_args: Sequence[tuple], measure: bool = False) -> RayPool:
        """One actor of `worker_class` per argument tuple (a top-level ObjectRef argument arrives resolved)."""
        remote = ray.remote(num_cpus=1)(worker_class)
        return cls(ray, [remote.remote(*args) for args in worker_args], measure)

    def __len__(self) -> int:
        return len(self.actors)

    def map(self, method: str, *args: Any) -> list[Any]:
        shared = [self.ray.put(a) if _is_array_like(a) else a for a in args]  # one copy in the object store
        try:
            results = self.ray.get([getattr(actor, method).remote(*shared) for actor in self.actors])
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ValueError):
                raise ValueError(str(cause)) from None
            raise
        self.traffic.count(args, len(self.actors), results)
        return results

    def shutdown(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "__array__") and getattr(value, "nbytes", 0) > 100_000


def unfitted_copy(model: Any) -> Any:
    """An unfitted model with `model`'s hyperparameters (what a worker needs to build its rows or steps)."""
    return type(model)(**model.get_params(deep=False))


def inline_partitions(worker: type, parts: Sequence[Any], extra: Callable[[], tuple[Any, ...]] = tuple) -> InlinePool:
    """One `worker(name, part, *extra())` per part, all in this process (`extra` is called once per worker)."""
    return InlinePool([worker(f"partition {k} of {len(parts)}", part, *extra()) for k, part in enumerate(parts)])


def fit_on_ray_partitions(ray: ModuleType, worker: type, parts: Sequence[Any], fit: Callable[[RayPool], Any],
                          measure: bool = False, extra: Callable[[], tuple[Any, ...]] = tuple) -> tuple[Any, RayPool]:
    """Start one actor per part (each part put in the object store), run `fit(pool)`; returns its result and the
    pool (traffic counts, workers' memory; call `pool.shutdown()` when done). The pool is shut down if the fit fails."""
    inputs = [(f"partition {k} of {len(parts)}", ray.put(part), *extra()) for k, part in enumerate(parts)]
    pool = RayPool.start(ray, worker, inputs, measure)
    try:
        return fit(pool), pool
    except BaseException:
        pool.shutdown()
        raise
