"""Which features a logistic learner model uses, and how they become a sparse design matrix.

A `FeatureSet` names the columns; a `Layout` fixes them against the training vocabularies (items and
skills seen in `fit`) and builds either the sparse matrix for a whole frame or, for online use, the
(column, value) pairs of one response from a student's running counts. Both paths compute the same
numbers, so batch and online predictions agree.

Column blocks, in this order:
- `onehot`: "item" (one column per training item) and/or "skill" (one per skill; an item with k skills
  has k ones). Items or skills unseen in training get no column (their effect is 0, i.e. average).
- `scalar`: one column per `total_*` / `item_*` statistic (see `features.py`).
- `per_skill`: one column per (statistic, skill); a response fills the columns of its item's skills.
- `skill_sum`: one column per statistic, summed over the item's skills (a coefficient shared by skills).
- `extra`: named columns that a subclass computes itself (e.g. an Elo logit), taken as they are.
Counts are passed through `transform` first: "log1p" (log(1 + x), Gervet et al. 2020) or "identity".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from models.logistic.features import SKILL, stat_names

TRANSFORMS = ("log1p", "identity")


def vocabulary_index(values: pl.Series, index: Mapping[str, int]) -> np.ndarray:
    """Vocabulary index of each value, -1 when unseen in training."""
    table = pl.DataFrame({"v": list(index), "i": list(index.values())}, schema={"v": pl.Utf8, "i": pl.Int64})
    joined = pl.DataFrame({"v": values.cast(pl.Utf8)}).join(table, on="v", how="left", maintain_order="left")
    return joined["i"].fill_null(-1).to_numpy()


@dataclass(frozen=True)
class FeatureSet:
    """The feature columns of one logistic model (see the module docstring for the blocks)."""

    onehot: tuple[str, ...] = ()
    scalar: tuple[str, ...] = ()
    per_skill: tuple[str, ...] = ()
    skill_sum: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    decays: tuple[float, ...] = ()
    transform: str = "log1p"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        bad_onehot = [k for k in self.onehot if k not in ("item", "skill")]
        if bad_onehot:
            raise ValueError(f"onehot entries must be 'item' or 'skill', got {bad_onehot}")
        if any(not 0.0 <= r < 1.0 for r in self.decays):
            raise ValueError(f"decay rates must lie in [0, 1), got {self.decays}")
        known = stat_names(self.decays)
        bad_scalar = [s for s in self.scalar if s.split("_", 1)[0] not in ("total", "item") or s.split("_", 1)[-1] not in known]
        bad_skill = [s for s in (*self.per_skill, *self.skill_sum) if not s.startswith("skill_") or s[len("skill_") :] not in known]
        if bad_scalar or bad_skill:
            raise ValueError(f"unknown statistic(s) {bad_scalar + bad_skill}; known per scope: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> FeatureSet:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload.items()})


def apply_transform(values: np.ndarray, transform: str) -> np.ndarray:
    return np.log1p(values) if transform == "log1p" else values


@dataclass
class Layout:
    """Column positions of a `FeatureSet` over fixed item and skill vocabularies (sorted id lists)."""

    features: FeatureSet
    items: list[str]
    skills: list[str]
    item_index: dict[str, int] = field(init=False, repr=False)
    skill_index: dict[str, int] = field(init=False, repr=False)
    offsets: dict[str, int] = field(init=False)
    n_columns: int = field(init=False)

    def __post_init__(self) -> None:
        self.item_index = {v: i for i, v in enumerate(self.items)}
        self.skill_index = {v: i for i, v in enumerate(self.skills)}
        sizes: list[tuple[str, int]] = []
        f = self.features
        sizes += [(f"onehot:{k}", len(self.items) if k == "item" else len(self.skills)) for k in f.onehot]
        sizes += [(f"scalar:{s}", 1) for s in f.scalar]
        sizes += [(f"per_skill:{s}", len(self.skills)) for s in f.per_skill]
        sizes += [(f"skill_sum:{s}", 1) for s in f.skill_sum]
        sizes += [(f"extra:{s}", 1) for s in f.extra]
        self.offsets = {}
        position = 0
        for name, size in sizes:
            self.offsets[name] = position
            position += size
        self.n_columns = position

    def column_names(self) -> list[str]:
        """Readable name of every column (for inspecting coefficients)."""
        names = [""] * self.n_columns
        for block, start in self.offsets.items():
            kind, stat = block.split(":", 1)
            if kind == "onehot":
                vocab = self.items if stat == "item" else self.skills
                names[start : start + len(vocab)] = [f"{stat}={v}" for v in vocab]
            elif kind == "per_skill":
                names[start : start + len(self.skills)] = [f"{stat}[{v}]" for v in self.skills]
            else:
                names[start] = f"{kind}:{stat}"
        return names

    # ---- batch --------------------------------------------------------------------------------
    def matrix(
        self,
        item_ids: pl.Series,
        history: pl.DataFrame,
        skills: pl.DataFrame,
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> sp.csr_matrix:
        """Design matrix (n_responses x n_columns) from `response_history` and `skill_history` tables.

        `item_ids` and `history` are aligned with the responses; `skills` has one row per
        (response position `pos`, `skill_id`).
        """
        n = history.height
        f = self.features
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        skill_col = vocabulary_index(skills[SKILL], self.skill_index)
        known_skill = skill_col >= 0
        skill_pos = skills["pos"].to_numpy()[known_skill]
        skill_col = skill_col[known_skill]
        for kind in f.onehot:
            if kind == "item":
                col = vocabulary_index(item_ids, self.item_index)
                keep = col >= 0
                rows.append(np.flatnonzero(keep))
                cols.append(self.offsets["onehot:item"] + col[keep])
                vals.append(np.ones(int(keep.sum())))
            else:
                rows.append(skill_pos)
                cols.append(self.offsets["onehot:skill"] + skill_col)
                vals.append(np.ones(skill_pos.size))
        for stat in f.scalar:
            rows.append(np.arange(n))
            cols.append(np.full(n, self.offsets[f"scalar:{stat}"]))
            vals.append(apply_transform(history[stat].to_numpy(), f.transform))
        for stat in f.per_skill:
            rows.append(skill_pos)
            cols.append(self.offsets[f"per_skill:{stat}"] + skill_col)
            vals.append(apply_transform(skills[stat].to_numpy()[known_skill], f.transform))
        for stat in f.skill_sum:
            # summed over all of the item's skills, known or not: the statistic needs no vocabulary
            rows.append(skills["pos"].to_numpy())
            cols.append(np.full(skills.height, self.offsets[f"skill_sum:{stat}"]))
            vals.append(apply_transform(skills[stat].to_numpy(), f.transform))
        for name in f.extra:
            if extra is None or name not in extra:
                raise ValueError(f"extra feature {name!r} was not supplied")
            rows.append(np.arange(n))
            cols.append(np.full(n, self.offsets[f"extra:{name}"]))
            vals.append(np.asarray(extra[name], dtype=float))
        if not rows:
            return sp.csr_matrix((n, self.n_columns))
        matrix = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, self.n_columns)
        )
        return matrix.tocsr()  # duplicate (row, col) entries, e.g. skill_sum over several skills, are summed

    # ---- online -------------------------------------------------------------------------------
    def row(
        self,
        item_id: str,
        skill_ids: Sequence[str],
        stats: Mapping[str, Mapping[str, float]],
        extra: Mapping[str, float] | None = None,
    ) -> tuple[list[int], list[float]]:
        """(columns, values) of one response, from `stats[scope][stat]` with scope in
        {"total", "item"} and one scope per skill id (keyed by the skill id itself)."""
        f = self.features
        cols: list[int] = []
        vals: list[float] = []
        skills = list(dict.fromkeys(skill_ids))
        known = [(s, self.skill_index[s]) for s in skills if s in self.skill_index]
        for kind in f.onehot:
            if kind == "item" and item_id in self.item_index:
                cols.append(self.offsets["onehot:item"] + self.item_index[item_id])
                vals.append(1.0)
            elif kind == "skill":
                cols += [self.offsets["onehot:skill"] + j for _, j in known]
                vals += [1.0] * len(known)
        transform = np.log1p if f.transform == "log1p" else float
        for stat in f.scalar:
            scope, name = stat.split("_", 1)
            cols.append(self.offsets[f"scalar:{stat}"])
            vals.append(float(transform(stats[scope][name])))
        for stat in f.per_skill:
            name = stat[len("skill_") :]
            cols += [self.offsets[f"per_skill:{stat}"] + j for _, j in known]
            vals += [float(transform(stats[s][name])) for s, _ in known]
        for stat in f.skill_sum:
            name = stat[len("skill_") :]
            cols.append(self.offsets[f"skill_sum:{stat}"])
            vals.append(float(sum(transform(stats[s][name]) for s in skills)))
        for name in f.extra:
            if extra is None or name not in extra:
                raise ValueError(f"extra feature {name!r} was not supplied")
            cols.append(self.offsets[f"extra:{name}"])
            vals.append(float(extra[name]))
        return cols, vals
