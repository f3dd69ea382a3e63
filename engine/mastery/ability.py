"""Online IRT ability: EAP on a fixed quadrature grid with a Gaussian summary kept per student.

Each response updates (mean, sd) by assumed-density filtering: the current N(mean, sd^2 + drift^2)
is evaluated on the grid, multiplied by the 3PL likelihood of the response, and summarized again by
its posterior mean (EAP) and SD. `drift` lets the estimate follow a learner whose ability grows; with
drift 0 and one response this is the exact EAP under a normal prior.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import ConfigError

LOGIT_CLIP = 30.0


def irt_p_correct(theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """3PL P(correct) = c + (1 - c) sigmoid(a (theta - b)); arguments broadcast."""
    z = np.clip(a * (theta - b), -LOGIT_CLIP, LOGIT_CLIP)
    return c + (1.0 - c) / (1.0 + np.exp(-z))


def irt_information(theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """3PL Fisher information a^2 (P - c)^2 Q / ((1 - c)^2 P); equals a^2 P Q when c = 0."""
    p = irt_p_correct(theta, a, b, c)
    return a**2 * (p - c) ** 2 * (1.0 - p) / ((1.0 - c) ** 2 * np.maximum(p, 1e-12))


class GridEAP:
    """`AbilityModel` with a N(prior_mean, prior_sd^2) population prior and a quadrature grid."""

    def __init__(self, prior_mean: float = 0.0, prior_sd: float = 1.0, drift: float = 0.05,
                 grid_points: int = 81, grid_halfwidth: float = 6.0, min_sd: float = 0.05) -> None:
        if not prior_sd > 0 or drift < 0 or grid_points < 11 or not min_sd > 0:
            raise ConfigError("GridEAP needs prior_sd > 0, drift >= 0, grid_points >= 11 and min_sd > 0")
        self.prior_mean, self.prior_sd, self.drift, self.min_sd = float(prior_mean), float(prior_sd), float(drift), float(min_sd)
        self.grid_points, self.grid_halfwidth = int(grid_points), float(grid_halfwidth)
        self.grid = np.linspace(prior_mean - grid_halfwidth, prior_mean + grid_halfwidth, grid_points)
        self.version = f"grid-eap/1:N({self.prior_mean:g},{self.prior_sd:g}),drift={self.drift:g}"

    def to_component(self) -> dict[str, Any]:
        """JSON-ready settings (`MasteryEngine.to_components`); `GridEAP(**params)` rebuilds it."""
        return {"kind": "grid-eap", "params": {
            "prior_mean": self.prior_mean, "prior_sd": self.prior_sd, "drift": self.drift,
            "grid_points": self.grid_points, "grid_halfwidth": self.grid_halfwidth, "min_sd": self.min_sd}}

    def update(self, mean: np.ndarray, sd: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
               correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mean, sd), each (n,); shapes of all arguments (n,)."""
        grid = self.grid[None, :]
        spread = np.sqrt(np.asarray(sd, dtype=float) ** 2 + self.drift**2)[:, None]
        log_prior = -0.5 * ((grid - np.asarray(mean, dtype=float)[:, None]) / spread) ** 2
        p = np.clip(irt_p_correct(grid, a[:, None], b[:, None], c[:, None]), 1e-12, 1 - 1e-12)
        y = np.asarray(correct, dtype=float)[:, None]
        log_post = log_prior + y * np.log(p) + (1.0 - y) * np.log1p(-p)
        w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        post_mean = (w * grid).sum(axis=1)
        post_sd = np.sqrt(np.maximum((w * (grid - post_mean[:, None]) ** 2).sum(axis=1), 0.0))
        return post_mean, np.maximum(post_sd, self.min_sd)

    def p_correct(self, theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return irt_p_correct(theta, a, b, c)

    def information(self, theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return irt_information(theta, a, b, c)
