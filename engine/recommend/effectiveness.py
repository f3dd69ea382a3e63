"""Observed effectiveness of each resource, with Thompson draws for exploration.

Outcome of one use of a resource: the residual of the follow-up answer on its skill, y - p, where p is
the predicted P(correct) made before the resource was used (positive = the student did better than
expected). Per resource a normal model with known noise variance: posterior mean
sum(residuals) / (n + prior_strength) (prior mean 0) and variance noise_var / (n + prior_strength).
Pooling over all students lets a new resource's value be learned quickly; the draws keep exploring
resources with few observations. The defaults (20 pseudo-observations, Bernoulli-sized noise 0.2) give
a prior SD of 0.1, the size of the differences between resources one can hope to detect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import ConfigError, DataError

FORMAT = "equilearn-resource-effectiveness"
FORMAT_VERSION = 1


class ResourceEffectiveness:
    """Sufficient statistics (count, residual sum) per resource (R,)."""

    def __init__(self, resource_ids: tuple[str, ...] | list[str], prior_strength: float = 20.0, noise_var: float = 0.2) -> None:
        if not prior_strength > 0 or not noise_var > 0:
            raise ConfigError("prior_strength and noise_var must be > 0")
        self.resource_ids = tuple(resource_ids)
        self.prior_strength, self.noise_var = float(prior_strength), float(noise_var)
        self.count = np.zeros(len(self.resource_ids))
        self.total = np.zeros(len(self.resource_ids))
        self.retired: list[str] = []  # ids in a loaded payload that the catalog no longer has (not loaded)

    def observe(self, resources: np.ndarray, residuals: np.ndarray) -> None:
        """Add outcomes: `resources` (n,) indices, `residuals` (n,) = follow-up answer minus its prediction."""
        r = np.asarray(resources, dtype=np.int64)
        e = np.asarray(residuals, dtype=float)
        if r.shape != e.shape or not np.all(np.isfinite(e)) or np.any(np.abs(e) > 1):
            raise DataError("effectiveness outcomes need matching shapes and residuals in [-1, 1]")
        np.add.at(self.count, r, 1.0)
        np.add.at(self.total, r, e)

    @property
    def mean(self) -> np.ndarray:
        return self.total / (self.count + self.prior_strength)

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.noise_var / (self.count + self.prior_strength))

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...] = (), columns: np.ndarray | None = None) -> np.ndarray:
        """Thompson draws of shape (*shape, R), or (*shape, C) for the resource indices `columns` only."""
        if columns is None:
            return self.mean + self.sd * rng.standard_normal((*shape, len(self.resource_ids)))
        return self.mean[columns] + self.sd[columns] * rng.standard_normal((*shape, len(columns)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "prior_strength": self.prior_strength,
            "noise_var": self.noise_var,
            "resources": {r: [float(n), float(t)] for r, n, t in zip(self.resource_ids, self.count, self.total) if n},
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any], resource_ids: tuple[str, ...] | list[str]) -> ResourceEffectiveness:
        if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"not a {FORMAT} v{FORMAT_VERSION} payload")
        out = cls(resource_ids, payload["prior_strength"], payload["noise_var"])
        index = {r: i for i, r in enumerate(out.resource_ids)}
        out.retired = sorted(r for r in payload["resources"] if r not in index)  # history of resources no longer in the catalog
        for r, (n, t) in payload["resources"].items():
            if r in index:
                out.count[index[r]], out.total[index[r]] = n, t
        return out
