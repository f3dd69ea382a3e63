"""The fixed quadrature over theta on which marginal likelihoods and posteriors are computed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

DEFAULT_POINTS = 61
DEFAULT_BOUNDS = (-6.0, 6.0)


@dataclass(frozen=True)
class Quadrature:
    """Equally spaced nodes with the log of a discretized normal ability prior (weights sum to 1).

    `nodes` and `log_weights` have shape (K,). `mean` and `sd` describe the prior the weights came from.
    """

    nodes: np.ndarray
    log_weights: np.ndarray
    mean: float = 0.0
    sd: float = 1.0

    @classmethod
    def normal(
        cls, n_points: int = DEFAULT_POINTS, bounds: tuple[float, float] = DEFAULT_BOUNDS, mean: float = 0.0, sd: float = 1.0
    ) -> Quadrature:
        """Nodes on `bounds` weighted by the N(mean, sd^2) density, renormalized over the grid."""
        if n_points < 3:
            raise ValueError(f"quadrature needs at least 3 points, got {n_points}")
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise ValueError(f"quadrature bounds must be increasing, got {bounds}")
        if not (np.isfinite(mean) and np.isfinite(sd) and sd > 0):
            raise ValueError(f"ability prior needs a finite mean and sd > 0, got mean={mean}, sd={sd}")
        nodes = np.linspace(lo, hi, int(n_points))
        return cls(nodes, normal_log_weights(nodes, mean, sd), float(mean), float(sd))

    def with_prior(self, mean: float, sd: float) -> Quadrature:
        """Same nodes, new normal prior."""
        return Quadrature(self.nodes, normal_log_weights(self.nodes, mean, sd), float(mean), float(sd))

    @property
    def bounds(self) -> tuple[float, float]:
        return float(self.nodes[0]), float(self.nodes[-1])


def normal_log_weights(nodes: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """log of N(mean, sd^2) evaluated at `nodes`, normalized so the weights sum to one."""
    log_density = -0.5 * ((nodes - mean) / sd) ** 2
    return log_density - logsumexp(log_density)
