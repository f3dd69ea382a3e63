"""`ParameterLayout`: where each free parameter sits in the flat vector that EM acceleration and the
standard errors work on.

Order: intercepts d of the free items; then slopes (one common slope for the 1PL, one per item for
2PL/3PL, none for Rasch); then g = logit(c) (3PL); then the latent mean and sd when they are estimated
(fixed-item calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.irt.mstep import ItemCoords


@dataclass(frozen=True)
class ParameterLayout:
    model: str
    n_free: int
    latent: bool

    @property
    def n_item_parameters(self) -> int:
        f = self.n_free
        return {"rasch": f, "1pl": f + 1 if f else 0, "2pl": 2 * f, "3pl": 3 * f}[self.model]

    @property
    def size(self) -> int:
        return self.n_item_parameters + (2 if self.latent else 0)

    def item_index(self) -> np.ndarray:
        """(F, 3) positions in the vector of each free item's (d, a, g); -1 where it is not a parameter."""
        f = self.n_free
        idx = np.full((f, 3), -1, dtype=np.int64)
        idx[:, 0] = np.arange(f)
        if self.model == "1pl" and f:
            idx[:, 1] = f
        elif self.model in ("2pl", "3pl"):
            idx[:, 1] = f + np.arange(f)
        if self.model == "3pl":
            idx[:, 2] = 2 * f + np.arange(f)
        return idx

    def pack(self, x: ItemCoords, mean: float, sd: float) -> np.ndarray:
        parts = [x.d]
        if self.model == "1pl" and self.n_free:
            parts.append(x.a[:1])
        elif self.model in ("2pl", "3pl"):
            parts.append(x.a)
        if self.model == "3pl":
            parts.append(x.g)
        if self.latent:
            parts.append(np.array([mean, sd]))
        return np.concatenate(parts).astype(float)

    def unpack(self, vector: np.ndarray, template: ItemCoords) -> tuple[ItemCoords, float, float]:
        """Coordinates of the free items (fixed parts such as the Rasch slope come from `template`)."""
        f = self.n_free
        d = vector[:f].copy()
        a = template.a.copy()
        if self.model == "1pl" and f:
            a[:] = vector[f]
        elif self.model in ("2pl", "3pl"):
            a = vector[f : 2 * f].copy()
        g = vector[2 * f : 3 * f].copy() if self.model == "3pl" else template.g.copy()
        mean, sd = (float(vector[-2]), float(vector[-1])) if self.latent else (0.0, 1.0)
        return ItemCoords(d, a, g), mean, sd

    def gather(self, item_grad: np.ndarray, common_slope: float = 0.0, latent_grad: np.ndarray | None = None) -> np.ndarray:
        """Flat gradient from per-item gradients (F, 3) over (d, a, g), summing a shared slope's terms."""
        out = np.zeros(self.size)
        idx = self.item_index()
        for j in range(3):
            used = idx[:, j] >= 0
            np.add.at(out, idx[used, j], item_grad[used, j])
        if self.model == "1pl" and self.n_free:
            out[self.n_free] += common_slope
        if self.latent and latent_grad is not None:
            out[-2:] = latent_grad
        return out
