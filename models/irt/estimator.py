"""`IRT`: the scikit-learn-style estimator over response frames (the `models.base` protocol).

`fit(responses)` calibrates the items from a long frame or a person x item matrix (numpy, polars or
pandas; see `models.irt.matrix`); `item_table()` lists a, b, c with standard errors in the input's item
order; `predict_proba(responses)` predicts each row from the bank
and the student's EAP computed from that student's *earlier* rows only (sequential, no look-ahead);
`initial_state` / `update` / `ability` give the constant-time online posterior; `to_dict` /
`from_dict` round-trip through JSON. Items the bank has not seen get the bank's mean (a, b, c).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import numpy as np
import polars as pl

from models.base import Hyperparameters, check_fitted, check_format
from models.irt.ability import OnlineAbility
from models.irt.bank import ItemBank
from models.irt.calibration import DEFAULT_C_PRIOR, Calibration, calibrate
from models.irt.data import ResponseData, binary_responses
from models.irt.estep import log_tables
from models.irt.matrix import long_responses
from models.irt.priors import Priors
from models.irt.quadrature import DEFAULT_BOUNDS, DEFAULT_POINTS, Quadrature
from models.irt.table import item_table

PREDICT_CHUNK = 50_000  # rows per block of the (rows x nodes) cumulative log-likelihood


class IRT(Hyperparameters):
    """Dichotomous IRT (rasch | 1pl | 2pl | 3pl) fitted by MML-EM.

    Hyperparameters: `model`; priors `prior_a` (lognormal meanlog, sdlog), `prior_b` (normal mean,
    sd), `prior_c` (beta alpha, beta; the 3PL defaults to (5, 17)); quadrature `n_points` on
    `bounds`; EM `max_iter`, `tol`; `standard_errors` auto | observed | crossprod | none.
    """

    format_version = 1

    def __init__(
        self, model: str = "2pl", prior_a: tuple[float, float] | None = None, prior_b: tuple[float, float] | None = None,
        prior_c: tuple[float, float] | None = None, n_points: int = DEFAULT_POINTS,
        bounds: tuple[float, float] = DEFAULT_BOUNDS, max_iter: int = 2000, tol: float = 1e-5, standard_errors: str = "auto",
    ) -> None:
        self.model = model
        self.prior_a, self.prior_b, self.prior_c = prior_a, prior_b, prior_c
        self.n_points, self.bounds = n_points, bounds
        self.max_iter, self.tol, self.standard_errors = max_iter, tol, standard_errors

    def _priors(self) -> Priors | None:
        if self.prior_a is None and self.prior_b is None and self.prior_c is None:
            return None
        c = self.prior_c if self.prior_c is not None else (DEFAULT_C_PRIOR if self.model == "3pl" else None)
        return Priors(self.prior_a, self.prior_b, c)

    def _quadrature(self) -> Quadrature:
        return Quadrature.normal(self.n_points, self.bounds)

    def fit(self, responses: Any, anchors: ItemBank | None = None,
            callback: Callable[[int, int], None] | None = None) -> Self:
        """Calibrate from a long frame with `student_id`, `item_id`, `correct` (0/1), or from a person x item
        matrix of 0 / 1 / missing: a 2-D numpy array (NaN = missing; items `item_0`, ...), a polars or pandas
        DataFrame (items = columns; an optional `student_id` column names the rows).
        `callback(n_iter, max_iter)` is called after each EM step (progress reports only)."""
        converted = long_responses(responses)
        responses, self.item_order_ = converted.responses, converted.item_order
        data = ResponseData.from_arrays(responses["student_id"], responses["item_id"], responses["correct"])
        self.calibration_: Calibration = calibrate(
            data, self.model, self._priors(), self._quadrature(), anchors, self.max_iter, self.tol, self.standard_errors,
            callback=callback,
        )
        self.bank_ = self.calibration_.bank
        return self

    def item_table(self) -> pl.DataFrame:
        """One row per item in the input's order (a matrix's columns; a long frame's first appearances):
        `item`, the estimated parameters among a, b, c and their standard errors `se_a`, `se_b`, `se_c`
        (null where not estimated), as mirt's `coef(fit, IRTpars = TRUE, SE = TRUE)`."""
        check_fitted(self, "bank_")
        return item_table(self.bank_, self.model, getattr(self, "item_order_", None))

    # --- parameters of arbitrary items --------------------------------------------------------
    def item_parameters(self, item_ids: pl.Series | np.ndarray | list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, c) per given item id, shape (R,) each; unseen or inestimable items get the bank means."""
        check_fitted(self, "bank_")
        bank = self.bank_
        pos = bank.codes(item_ids)
        ok = pos >= 0
        ok[ok] = bank.usable[pos[ok]]
        a0, b0, c0 = bank.default_item()
        a = np.where(ok, bank.a[np.maximum(pos, 0)], a0)
        b = np.where(ok, bank.b[np.maximum(pos, 0)], b0)
        c = np.where(ok, bank.c[np.maximum(pos, 0)], c0)
        return a, b, c

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        """P(correct) per row from the EAP of the student's earlier rows (by `seq` when present)."""
        check_fitted(self, "bank_")
        n = responses.height
        if n == 0:
            return np.zeros(0)
        order_cols = ["student_id", "seq"] if "seq" in responses.columns else ["student_id"]
        frame = responses.select(order_cols + ["item_id", "correct"]).with_row_index("__row")
        frame = frame.sort(order_cols, maintain_order=True)
        y = binary_responses(frame["correct"]).astype(np.int64)
        a, b, c = self.item_parameters(frame["item_id"])
        student = frame["student_id"].cast(pl.Utf8).to_numpy()
        new_student = np.ones(n, dtype=bool)
        new_student[1:] = student[1:] != student[:-1]
        quad = self._quadrature()
        q = quad.nodes
        out = np.empty(n)
        carry = quad.log_weights.copy()  # log posterior of the student in progress at the chunk start
        for start in range(0, n, PREDICT_CHUNK):
            sl = slice(start, min(start + PREDICT_CHUNK, n))
            table = log_tables(-a[sl] * b[sl], a[sl], c[sl], q)  # (2m, K): wrong rows, then right rows
            m = sl.stop - sl.start
            rows = np.arange(m) + m * y[sl]
            step = table[rows]  # (m, K) log-likelihood of each row's own response
            cum = np.cumsum(step, axis=0)
            before = cum - step  # sum over earlier rows of this chunk
            # restart at each new student: subtract the running sum at the student's first row
            starts = new_student[sl].copy()
            first = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
            base = before[first]
            log_post = before - base
            continuing = ~np.cumsum(starts).astype(bool)  # rows of the student carried over from the last chunk
            log_post[continuing] += carry[None, :] - quad.log_weights[None, :]
            log_post += quad.log_weights[None, :]
            log_post -= log_post.max(axis=1, keepdims=True)
            w = np.exp(log_post)
            theta = (w @ q) / w.sum(axis=1)
            out_rows = frame["__row"].to_numpy()[sl]
            out[out_rows] = c[sl] + (1.0 - c[sl]) / (1.0 + np.exp(-a[sl] * (theta - b[sl])))
            last = log_post[-1] + step[-1]
            carry = last - last.max()
        return out

    # --- online -------------------------------------------------------------------------------
    def initial_state(self) -> np.ndarray:
        """Cold-start log posterior over the quadrature nodes, shape (K,)."""
        return self._quadrature().log_weights.copy()

    def _online(self) -> tuple[OnlineAbility, dict[str, tuple[float, float, float]], tuple[float, float, float]]:
        """The online updater and an item-id -> (a, b, c) dict, built once per fitted bank (O(1) updates)."""
        cached = getattr(self, "_online_cache", None)
        if cached is not None and cached[0] is self.bank_:
            return cached[1]
        bank = self.bank_
        ids = [str(i) for i in bank.item_ids]
        a, b, c = self.item_parameters(np.asarray(ids, dtype=object))
        table = {i: (float(x), float(y), float(z)) for i, x, y, z in zip(ids, a, b, c)}
        built = (OnlineAbility(self._quadrature()), table, bank.default_item())
        self._online_cache = (bank, built)
        return built

    def update(self, state: np.ndarray, response: dict[str, Any]) -> np.ndarray:
        """Add one response ({"item_id", "correct"}) to a student's posterior; O(K)."""
        check_fitted(self, "bank_")
        online, table, default = self._online()
        a, b, c = table.get(str(response["item_id"]), default)
        return online.update(state, a, b, c, response["correct"])

    def ability(self, state: np.ndarray) -> tuple[float, float]:
        """(EAP, posterior SD) of a state."""
        check_fitted(self, "bank_")
        return self._online()[0].summary(state)

    # --- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "bank_")
        return {
            "model": "irt",
            "format_version": self.format_version,
            "params": {
                "model": self.model, "prior_a": self.prior_a, "prior_b": self.prior_b, "prior_c": self.prior_c,
                "n_points": self.n_points, "bounds": list(self.bounds), "max_iter": self.max_iter, "tol": self.tol,
                "standard_errors": self.standard_errors,
            },
            "calibration": self.calibration_.to_dict(),
            "item_order": getattr(self, "item_order_", None),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> IRT:
        check_format(payload, "irt", cls.format_version)
        p = dict(payload["params"])
        for k in ("prior_a", "prior_b", "prior_c"):
            p[k] = tuple(p[k]) if p.get(k) is not None else None
        p["bounds"] = tuple(p["bounds"])
        est = cls(**p)
        est.calibration_ = Calibration.from_dict(payload["calibration"])
        est.bank_ = est.calibration_.bank
        if payload.get("item_order") is not None:
            est.item_order_ = [str(i) for i in payload["item_order"]]
        return est


def knowledge_tracing_irt() -> IRT:
    """The configuration `equilearn kt evaluate --models irt` uses: a Rasch model with a N(0, 2^2)
    prior on difficulties, so items answered by few students (all right or all wrong) still get a
    finite, shrunken difficulty; standard errors are skipped (not needed for prediction)."""
    return IRT(model="rasch", prior_b=(0.0, 2.0), standard_errors="none")
