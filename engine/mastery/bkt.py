"""Bayesian Knowledge Tracing from a per-skill parameter table, vectorized over students x skills.

`BKTParams` is the table (prior, learn, guess, slip, forget per skill) that a fitted BKT model's
`to_dict` can fill (see `engine.mastery.adapters`); `BKTSkillModel` does the online update:

    evidence:   P(L | correct) = P(L)(1 - slip) / (P(L)(1 - slip) + (1 - P(L)) guess)
                P(L | wrong)   = P(L) slip      / (P(L) slip      + (1 - P(L)) (1 - guess))
    transition: P(L') = P(L | obs)(1 - forget) + (1 - P(L | obs)) learn

A fractional score y in [0, 1] weighs the two likelihoods (y * correct + (1 - y) * wrong). An item with
several skills updates each of its skills as if observed for that skill alone (as pyBKT does when it
duplicates multi-skill rows).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem
from engine.mastery.item_evidence import ItemEvidence

PARAM_NAMES = ("prior", "learn", "guess", "slip", "forget")
DEFAULTS = {"prior": 0.3, "learn": 0.15, "guess": 0.2, "slip": 0.1, "forget": 0.0}
FORMAT = "equilearn-bkt-params"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BKTParams:
    """Per-skill BKT parameters, each an (S,) array aligned with `skill_ids`."""

    skill_ids: tuple[str, ...]
    prior: np.ndarray
    learn: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    forget: np.ndarray
    source: str = "defaults"

    def __post_init__(self) -> None:
        problems = []
        for name in PARAM_NAMES:
            values = np.asarray(getattr(self, name), dtype=float)
            if values.shape != (len(self.skill_ids),):
                raise ConfigError(f"BKT {name}: expected {len(self.skill_ids)} values, got shape {values.shape}")
            for s in np.flatnonzero(~((values >= 0) & (values <= 1))):
                problems.append(Problem(int(s) + 1, name, float(values[s]), f"skill {self.skill_ids[s]!r}: must be in [0, 1]"))
            object.__setattr__(self, name, values)
        bad = np.flatnonzero(self.guess + self.slip >= 1)
        problems += [Problem(int(s) + 1, "guess+slip", float(self.guess[s] + self.slip[s]),
                             f"skill {self.skill_ids[s]!r}: guess + slip must be < 1 or a correct answer would not be evidence of mastery")
                     for s in bad]
        if problems:
            raise DataValidationError(problems, source=f"BKT parameters ({self.source})")

    @classmethod
    def defaults(cls, skill_ids: tuple[str, ...] | list[str], **overrides: float) -> BKTParams:
        """The same parameters for every skill (DEFAULTS, with any overrides)."""
        values = {**DEFAULTS, **overrides}
        n = len(skill_ids)
        return cls(tuple(skill_ids), *(np.full(n, float(values[k])) for k in PARAM_NAMES), source="defaults")

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, skill_ids: tuple[str, ...] | list[str], source: str = "table") -> BKTParams:
        """Parameters from a table (skill_id + any of PARAM_NAMES), reordered to `skill_ids`.

        Skills missing from the table, or columns missing from it, take DEFAULTS; unknown skills are an error.
        """
        unknown = sorted(set(frame["skill_id"].to_list()) - set(skill_ids))
        if unknown:
            raise DataValidationError([Problem(None, "skill_id", u, "not a skill of the catalog") for u in unknown[:20]], source=source)
        order = pl.DataFrame({"skill_id": list(skill_ids)}).join(frame, on="skill_id", how="left", maintain_order="left")
        arrays = []
        for name in PARAM_NAMES:
            column = order[name].cast(pl.Float64) if name in order.columns else pl.Series([None] * len(skill_ids), dtype=pl.Float64)
            arrays.append(column.fill_null(DEFAULTS[name]).to_numpy())
        return cls(tuple(skill_ids), *arrays, source=source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "source": self.source,
            "skills": {s: {k: float(getattr(self, k)[i]) for k in PARAM_NAMES} for i, s in enumerate(self.skill_ids)},
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any], skill_ids: tuple[str, ...] | list[str] | None = None) -> BKTParams:
        if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"not a {FORMAT} v{FORMAT_VERSION} payload (got {payload.get('format')!r} v{payload.get('format_version')!r})")
        rows = [{"skill_id": s, **v} for s, v in payload["skills"].items()]
        ids = tuple(skill_ids) if skill_ids is not None else tuple(payload["skills"])
        return cls.from_frame(pl.DataFrame(rows), ids, source=str(payload.get("source", "dict")))

    def fingerprint(self) -> str:
        """Short hash of the parameter values: part of the model version reported with recommendations."""
        text = json.dumps(self.to_dict()["skills"], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def bkt_posterior(p: np.ndarray, correct: np.ndarray, guess: np.ndarray, slip: np.ndarray) -> np.ndarray:
    """P(learned | observation); arrays broadcast (e.g. p (n, S), correct (n, 1), guess (S,))."""
    like_right = p * (1.0 - slip) / (p * (1.0 - slip) + (1.0 - p) * guess)
    like_wrong = p * slip / (p * slip + (1.0 - p) * (1.0 - guess))
    return correct * like_right + (1.0 - correct) * like_wrong


def bkt_transition(p: np.ndarray, learn: np.ndarray, forget: np.ndarray) -> np.ndarray:
    """P(learned at the next opportunity) from P(learned now)."""
    return p * (1.0 - forget) + (1.0 - p) * learn


class BKTSkillModel:
    """`SkillModel` over a `BKTParams` table (see the module docstring for the update)."""

    def __init__(self, params: BKTParams, item_evidence: ItemEvidence | None = None) -> None:
        self.params = params
        self.item_evidence = item_evidence
        self.skill_ids = params.skill_ids
        items = "" if item_evidence is None else f":items={item_evidence.n_pairs}/prior_n={item_evidence.prior_n:g}"
        self.version = f"bkt-table/{FORMAT_VERSION}:{params.source}:{params.fingerprint()}{items}"

    def initial(self, n: int) -> np.ndarray:
        return np.broadcast_to(self.params.prior, (n, len(self.skill_ids))).copy()

    def update(self, p: np.ndarray, practiced: np.ndarray, correct: np.ndarray, items: np.ndarray | None = None,
               learn: np.ndarray | None = None) -> np.ndarray:
        """One response per row; with `items` (catalog indices) and an item table, each answer is weighed by
        its own item's guess and slip (`engine.mastery.item_evidence`), else by its skill's. `learn` (n, S)
        replaces the table's learn rates in the transition (the engine's rate for each student's step)."""
        y = np.asarray(correct, dtype=float).reshape(-1, 1)
        guess, slip = self._guess_slip(items)
        rate = self.params.learn if learn is None else learn
        after = bkt_transition(bkt_posterior(p, y, guess, slip), rate, self.params.forget)
        return np.where(practiced, after, p)

    def _guess_slip(self, items: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Guess and slip per skill, (S,), or with the item table per answered item, (n, S) (one row per item)."""
        guess, slip = self.params.guess, self.params.slip
        if self.item_evidence is None or items is None:
            return guess, slip
        guess_delta, slip_delta = self.item_evidence.for_items(np.asarray(items, dtype=np.int64))
        return guess + guess_delta, slip + slip_delta

    def p_correct_by_skill(self, p: np.ndarray) -> np.ndarray:
        return p * (1.0 - self.params.slip) + (1.0 - p) * self.params.guess

    def p_correct_on_items(self, p: np.ndarray, items: np.ndarray | slice, weights: np.ndarray) -> np.ndarray:
        """(N, m) P(correct) on each of `items`: the mean over the item's skills (`weights`, (S, I) for the
        whole catalog) of P(L)(1 - slip) + (1 - P(L)) guess, with the item's own guess and slip where the
        table has them."""
        out = self.p_correct_by_skill(p) @ weights[:, items]
        if self.item_evidence is not None:
            guess_delta, slip_delta = self.item_evidence.weighted(items, weights)
            out += (1.0 - p) @ guess_delta - p @ slip_delta
        return out

    def p_correct_on_pairs(self, p: np.ndarray, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(N,) P(correct) of row n on `items[n]`; `weights` as in `p_correct_on_items`."""
        guess, slip = self._guess_slip(items)
        return ((p * (1.0 - slip) + (1.0 - p) * guess) * weights[:, items].T).sum(axis=1)

    def learn_rates(self) -> np.ndarray:
        return self.params.learn

    def to_component(self) -> dict[str, Any]:
        """JSON-ready parameters (`MasteryEngine.to_components`); `BKTParams.from_dict` rebuilds them."""
        return {"kind": "bkt-table", "params": self.params.to_dict()}
