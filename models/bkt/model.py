"""Bayesian Knowledge Tracing (Corbett & Anderson 1995) per skill, fitted by EM with random restarts.

Variants (all off by default, combinable):
- `forgets=True`: a per-skill forget probability (P(L -> U) between opportunities), as pyBKT's `forgets`.
- `item_params=True`: KT-IDEM (Pardos & Heffernan 2011): guess and slip per (skill, item) pair; an item
  not seen in training uses its skill's count-weighted mean guess/slip.
- `prior_groups="col"`: multiprior: one initial-mastery prior per (skill, value of column `col`), e.g. a
  placement-test band. The column must describe prior knowledge, never a demographic attribute.

Parameters stay in the identifiable box: every probability in [1e-6, 1 - 1e-6], and guess <= max_guess,
slip <= max_slip (default just under 0.5), which rules out the mirror solution where "learned" means
"answers wrong". See docs/bkt.md for the choices on multi-skill items and bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numba
import numpy as np
import polars as pl

from models.base import Hyperparameters, check_fitted, check_format
from models.bkt import kernels
from models.bkt.data import ROW, Sequences, build_sequences, ordered_pairs

log = logging.getLogger(__name__)

_LO = 1e-6
_PARAMS = ("prior", "learn", "forget", "guess", "slip")


def skill_class_table(counts: np.ndarray, label: str) -> pl.DataFrame:
    """The class table when each skill is its own class (no KT-IDEM items, no prior groups).

    counts: (K,) pairs (emission classes) or sequences (prior classes) per skill; `label` is the empty
    item_id or __group column those tables carry.
    """
    n_k = counts.size
    return pl.DataFrame({"__class": np.arange(n_k, dtype=np.uint32), "__code": np.arange(n_k), label: [""] * n_k, "n": counts},
                        schema={"__class": pl.UInt32, "__code": pl.Int64, label: pl.Utf8, "n": pl.UInt32})


class BKT(Hyperparameters):
    """Per-skill BKT. `fit(responses)` runs Baum-Welch EM for every skill and restart in parallel (numba).

    Hyperparameters:
        forgets: fit a forget probability per skill (else forget = 0).
        item_params: KT-IDEM guess/slip per (skill, item).
        prior_groups: name of a student-level column whose values get their own prior per skill.
        n_restarts: random starting points per skill; the highest log-likelihood wins (pyBKT default 5).
        max_iter, tol: EM stops after max_iter iterations or when a skill's log-likelihood changes by less
            than tol (absolute, as pyBKT).
        max_guess, max_slip: upper bounds (exclusive of 0.5 by default) keeping the model identifiable.
        min_responses: skills with fewer training responses take the pooled (median) parameters.
        random_state: seed of the starting points.
    """

    model_name = "bkt"
    format_version = 1

    def __init__(
        self,
        forgets: bool = False,
        item_params: bool = False,
        prior_groups: str | None = None,
        n_restarts: int = 5,
        max_iter: int = 100,
        tol: float = 1e-3,
        max_guess: float = 0.4999,
        max_slip: float = 0.4999,
        min_responses: int = 10,
        random_state: int | None = 0,
    ) -> None:
        self.forgets = forgets
        self.item_params = item_params
        self.prior_groups = prior_groups
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.max_guess = max_guess
        self.max_slip = max_slip
        self.min_responses = min_responses
        self.random_state = random_state

    # ---- fitting ------------------------------------------------------------------------------------
    def fit(self, responses: pl.DataFrame) -> Self:
        """Fit every skill present in `responses` (canonical columns; any row order, sorted by `seq` inside)."""
        self._check_params()
        pairs = ordered_pairs(self._with_group(responses))
        if pairs.height == 0:
            raise ValueError("BKT.fit: no response carries a skill id; BKT needs skill_ids")
        seqs = build_sequences(pairs)
        n_no_skill = responses.height - pairs[ROW].n_unique()
        if n_no_skill:
            log.warning("BKT.fit: %d response(s) have no skill id; they are not used (predicted with the mean)", n_no_skill)
        n_k = len(seqs.skills)
        emis, skill_emis, emis_table = self._emission_classes(seqs)
        seq_prior, skill_prior, prior_table = self._prior_classes(seqs, pairs)
        init = self._starting_points(n_k, emis_table.height, prior_table.height)
        counts = np.diff(seqs.seq_start)
        skill_n = np.bincount(seqs.seq_skill, weights=counts, minlength=n_k)
        obs, emis, seq_start, seq_prior, seq_weight, skill_seq = kernels.unique_sequences(
            seqs.obs, emis, seqs.seq_start, seq_prior, seqs.seq_skill, n_k)
        order = np.argsort(-np.diff(seq_start[skill_seq]), kind="stable").astype(np.int64)  # most work first
        with numba.parallel_chunksize(1):  # hand skills out one at a time: sizes vary 1000-fold
            ll, iters = kernels.em_fit_all(
                obs, emis, seq_start, seq_prior, seq_weight, skill_seq, skill_emis, skill_prior, order,
                init["prior"], init["learn"], init["forget"], init["guess"], init["slip"],
                bool(self.forgets), int(self.max_iter), float(self.tol), _LO, float(self.max_guess), float(self.max_slip),
            )
        # the kernel has overwritten each starting point in `init` with its fitted values
        return self._set_fitted(seqs.skills, skill_n, ll, iters, init, emis_table, prior_table,
                                float(responses["correct"].mean()), int(n_no_skill))

    def _set_fitted(
        self, skills: list[str], skill_n: np.ndarray, ll: np.ndarray, iters: np.ndarray, fitted: dict[str, np.ndarray],
        emis_table: pl.DataFrame, prior_table: pl.DataFrame, global_mean: float, n_no_skill: int,
    ) -> Self:
        """The fitted state from every restart's EM result: best restart per skill, class weighting, pooling.

        Shared by the local fit and the partitioned one (engine.distributed.bkt), so both finish alike.
        ll, iters: (R, K); `fitted`: the restarts' fitted parameters (shapes of `_starting_points`).
        """
        n_k = len(skills)
        best = np.argmax(ll, axis=0)  # (K,) winning restart per skill
        pick_k = lambda a: a[best, np.arange(n_k)]  # noqa: E731
        self.skills_ = skills
        self.n_responses_ = skill_n.astype(np.int64)
        self.loglik_ = pick_k(ll)
        self.n_iter_ = pick_k(iters)
        self.learn_ = pick_k(fitted["learn"])
        self.forget_ = pick_k(fitted["forget"])
        e_skill = emis_table["__code"].to_numpy()
        e_guess = fitted["guess"][best[e_skill], np.arange(e_skill.size)]
        e_slip = fitted["slip"][best[e_skill], np.arange(e_skill.size)]
        e_n = emis_table["n"].to_numpy().astype(float)
        self.guess_ = np.bincount(e_skill, e_guess * e_n, n_k) / np.bincount(e_skill, e_n, n_k)
        self.slip_ = np.bincount(e_skill, e_slip * e_n, n_k) / np.bincount(e_skill, e_n, n_k)
        p_skill = prior_table["__code"].to_numpy()
        p_val = fitted["prior"][best[p_skill], np.arange(p_skill.size)]
        p_n = prior_table["n"].to_numpy().astype(float)
        self.prior_ = np.bincount(p_skill, p_val * p_n, n_k) / np.bincount(p_skill, p_n, n_k)
        self.item_guess_slip_ = (
            {"skill": e_skill.tolist(), "item": emis_table["item_id"].to_list(), "guess": e_guess.tolist(), "slip": e_slip.tolist(),
             "n": e_n.astype(np.int64).tolist()}
            if self.item_params else None
        )
        self.group_prior_ = (
            {"skill": p_skill.tolist(), "group": prior_table["__group"].to_list(), "prior": p_val.tolist()}
            if self.prior_groups else None
        )
        self._pool_sparse_skills()
        self.global_mean_ = global_mean
        self.n_no_skill_ = n_no_skill
        self.__dict__.pop("_lookup", None)
        return self

    def _check_params(self) -> None:
        if self.n_restarts < 1 or self.max_iter < 1:
            raise ValueError("BKT: n_restarts and max_iter must be >= 1")
        if not (0 < self.max_guess < 1 and 0 < self.max_slip < 1):
            raise ValueError("BKT: max_guess and max_slip must be in (0, 1); keep them below 0.5 for identifiability")

    def _with_group(self, responses: pl.DataFrame) -> pl.DataFrame:
        """Copy the multiprior column (as text) into `__group` so it travels with each response."""
        if not self.prior_groups:
            return responses
        if self.prior_groups not in responses.columns:
            from models.errors import ConfigError

            raise ConfigError(f"BKT(prior_groups={self.prior_groups!r}): the responses have no such column")
        return responses.with_columns(pl.col(self.prior_groups).cast(pl.Utf8).fill_null("").alias("__group"))

    def _emission_classes(self, seqs: Sequences) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
        """Guess/slip class of each pair: its skill, or its (skill, item) for KT-IDEM; classes ordered by skill."""
        n_k = len(seqs.skills)
        if not self.item_params:  # one class per skill: the class is the skill code
            table = skill_class_table(np.bincount(seqs.pair_skill, minlength=n_k), "item_id")
            return seqs.pair_skill, np.arange(n_k + 1, dtype=np.int64), table
        frame = pl.DataFrame({"__code": seqs.pair_skill, "item_id": seqs.item()})
        table = frame.group_by("__code", "item_id").agg(pl.len().alias("n")).sort("__code", "item_id").with_row_index("__class")
        emis = frame.join(table, on=["__code", "item_id"], how="left", maintain_order="left")["__class"].to_numpy().astype(np.int64)
        skill_emis = np.searchsorted(table["__code"].to_numpy(), np.arange(n_k + 1)).astype(np.int64)
        return emis, skill_emis, table

    def _prior_classes(self, seqs: Sequences, pairs: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
        """Prior class of each sequence: its skill, or its (skill, student group) for multiprior."""
        n_k = len(seqs.skills)
        if not self.prior_groups:  # one class per skill: the class is the skill code
            table = skill_class_table(np.bincount(seqs.seq_skill, minlength=n_k), "__group")
            return seqs.seq_skill, np.arange(n_k + 1, dtype=np.int64), table
        groups = pairs.group_by("student_id").agg(pl.col("__group").first())
        group = (
            pl.DataFrame({"student_id": seqs.seq_student}, schema={"student_id": pl.Utf8})
            .join(groups, on="student_id", how="left", maintain_order="left")["__group"].to_numpy()
        )
        frame = pl.DataFrame({"__code": seqs.seq_skill, "__group": group}, schema={"__code": pl.Int64, "__group": pl.Utf8})
        table = frame.group_by("__code", "__group").agg(pl.len().alias("n")).sort("__code", "__group").with_row_index("__class")
        seq_prior = frame.join(table, on=["__code", "__group"], how="left", maintain_order="left")["__class"].to_numpy().astype(np.int64)
        skill_prior = np.searchsorted(table["__code"].to_numpy(), np.arange(n_k + 1)).astype(np.int64)
        return seq_prior, skill_prior, table

    def _starting_points(self, n_k: int, n_e: int, n_p: int) -> dict[str, np.ndarray]:
        """Random starting points with a leading restart axis, drawn like pyBKT's (learn, guess < 0.4, slip < 0.3).

        Prior: restarts 0, 2, 4, ... start near 0 (Beta(1, 100), pyBKT's effective start), the others
        uniform on (0, 1). On builder_train this mix reached a higher training log-likelihood than either
        kind alone (3 seeds each), and it makes the fit less dependent on the seed.
        """
        rng = np.random.default_rng(self.random_state)
        r = self.n_restarts
        clip = lambda a, hi=1 - _LO: np.clip(a, _LO, hi)  # noqa: E731
        prior = rng.uniform(0, 1, (r, n_p))
        prior[0::2] = rng.beta(1, 100, prior[0::2].shape)
        return {
            "prior": clip(prior),
            "learn": clip(rng.uniform(0, 0.4, (r, n_k))),
            "forget": clip(rng.uniform(0, 0.4, (r, n_k))) if self.forgets else np.zeros((r, n_k)),
            "guess": clip(rng.uniform(0, 0.4, (r, n_e)), self.max_guess),
            "slip": clip(rng.uniform(0, 0.3, (r, n_e)), self.max_slip),
        }

    def _pool_sparse_skills(self) -> None:
        """Append the pooled parameters (median over well-supported skills) used for sparse and unknown skills."""
        ok = self.n_responses_ >= self.min_responses
        if not ok.any():
            ok = np.ones_like(ok)
        sparse = np.flatnonzero(~ok)
        self.sparse_skills_ = [self.skills_[k] for k in sparse]
        if sparse.size:
            log.info("BKT: %d skill(s) with < %d responses use pooled parameters", sparse.size, self.min_responses)
        for name in _PARAMS:
            values = getattr(self, f"{name}_")
            pooled = float(np.median(values[ok]))
            values = values.copy()
            values[sparse] = pooled
            setattr(self, f"{name}_", np.append(values, pooled))
        if self.item_params:  # sparse skills' item classes fall back to the pooled skill values too
            sparse_set = set(sparse.tolist())
            keep = [i for i, k in enumerate(self.item_guess_slip_["skill"]) if k not in sparse_set]
            self.item_guess_slip_ = {key: [vals[i] for i in keep] for key, vals in self.item_guess_slip_.items()}
        if self.prior_groups:
            sparse_set = set(sparse.tolist())
            keep = [i for i, k in enumerate(self.group_prior_["skill"]) if k not in sparse_set]
            self.group_prior_ = {key: [vals[i] for i in keep] for key, vals in self.group_prior_.items()}

    # ---- batch prediction ---------------------------------------------------------------------------
    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        """P(correct) for each row from the fitted parameters and that student's earlier rows only.

        Every student starts from the prior of each skill. A row tagged with several skills gets the mean
        of its skills' predictions; a row with no skill gets the training correct rate; a skill unseen in
        training uses the pooled parameters (and is still traced from the student's responses).
        """
        p_correct, _, _, seqs = self._forward(responses)
        n = responses.height
        total = np.bincount(seqs.row, weights=p_correct, minlength=n)
        count = np.bincount(seqs.row, minlength=n)
        out = np.full(n, self.global_mean_)
        has = count > 0
        out[has] = total[has] / count[has]
        return out

    def mastery(self, responses: pl.DataFrame) -> pl.DataFrame:
        """P(learned) per (student, skill) after all of the student's responses (ready for the next one)."""
        _, final, _, seqs = self._forward(responses)
        return pl.DataFrame({"student_id": seqs.seq_student, "skill_id": seqs.seq_skill_name, "p_learned": final},
                            schema={"student_id": pl.Utf8, "skill_id": pl.Utf8, "p_learned": pl.Float64})

    def _forward(self, responses: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, Sequences]:
        check_fitted(self, "learn_")
        pairs = ordered_pairs(self._with_group(responses))
        seqs = build_sequences(pairs, self.skills_)
        if seqs.obs.size and (seqs.pair_skill == len(self.skills_)).any():
            unknown = pairs.filter(~pl.col("skill").is_in(self.skills_))["skill"].unique().to_list()
            log.info("BKT: %d skill(s) unseen in training use pooled parameters: %s", len(unknown), unknown[:10])
        # unknown skills (code K) share the pooled row; each is still its own sequence
        seq_code = seqs.seq_skill
        guess = self.guess_[seqs.pair_skill]
        slip = self.slip_[seqs.pair_skill]
        if self.item_params and self.item_guess_slip_["item"]:
            table = pl.DataFrame(
                {"__code": self.item_guess_slip_["skill"], "item_id": self.item_guess_slip_["item"],
                 "g": self.item_guess_slip_["guess"], "s": self.item_guess_slip_["slip"]},
                schema={"__code": pl.Int64, "item_id": pl.Utf8, "g": pl.Float64, "s": pl.Float64},
            )
            look = pl.DataFrame({"__code": seqs.pair_skill, "item_id": seqs.item()}, schema={"__code": pl.Int64, "item_id": pl.Utf8})
            found = look.join(table, on=["__code", "item_id"], how="left", maintain_order="left")
            guess = found["g"].fill_null(pl.Series(guess)).to_numpy()
            slip = found["s"].fill_null(pl.Series(slip)).to_numpy()
        prior = self.prior_[seq_code]
        if self.prior_groups and self.group_prior_["group"]:
            groups = pairs.group_by("student_id").agg(pl.col("__group").first())
            table = pl.DataFrame(
                {"__code": self.group_prior_["skill"], "__group": self.group_prior_["group"], "p": self.group_prior_["prior"]},
                schema={"__code": pl.Int64, "__group": pl.Utf8, "p": pl.Float64},
            )
            look = (
                pl.DataFrame({"student_id": seqs.seq_student, "__code": seq_code}, schema={"student_id": pl.Utf8, "__code": pl.Int64})
                .join(groups, on="student_id", how="left", maintain_order="left")
                .join(table, on=["__code", "__group"], how="left", maintain_order="left")
            )
            prior = look["p"].fill_null(pl.Series(prior)).to_numpy()
        p_correct, final, final_u = kernels.forward_predict(
            seqs.obs, seqs.seq_start, np.ascontiguousarray(prior, dtype=float),
            self.learn_[seq_code], self.forget_[seq_code], np.ascontiguousarray(guess, dtype=float), np.ascontiguousarray(slip, dtype=float),
        )
        return p_correct, final, final_u, seqs

    # ---- online -------------------------------------------------------------------------------------
    def _table(self) -> dict[str, Any]:
        """Plain-Python lookups for the online path (built once per fitted model)."""
        if "_lookup" not in self.__dict__:
            params = {name: getattr(self, f"{name}_").tolist() for name in _PARAMS}
            items = {}
            if self.item_params:
                t = self.item_guess_slip_
                items = {(k, i): (g, s) for k, i, g, s in zip(t["skill"], t["item"], t["guess"], t["slip"])}
            groups = {}
            if self.prior_groups:
                t = self.group_prior_
                groups = {(k, g): p for k, g, p in zip(t["skill"], t["group"], t["prior"])}
            self._lookup = {"index": {s: k for k, s in enumerate(self.skills_)}, "params": params, "items": items, "groups": groups}
        return self._lookup

    def initial_state(self, prior_group: str | None = None) -> dict[str, Any]:
        """A new student: no skill traced yet (each starts at its prior when first met). JSON-ready.

        `p_learned[skill]` is P(learned) before the next response; `p_unlearned[skill]` is its complement
        kept separately so that values within 1e-16 of 1 stay exact (see kernels.py).
        """
        check_fitted(self, "learn_")
        return {"p_learned": {}, "p_unlearned": {}, "group": prior_group}

    def _state_of(self, state: Mapping[str, Any], skill: str, k: int) -> tuple[float, float]:
        known = state["p_learned"].get(skill)
        if known is not None:
            p_u = state.get("p_unlearned", {}).get(skill)
            return float(known), (1.0 - float(known)) if p_u is None else float(p_u)
        t = self._table()
        group = state.get("group")
        if group is not None and (k, str(group)) in t["groups"]:
            p_l = t["groups"][(k, str(group))]
        else:
            p_l = t["params"]["prior"][k]
        return p_l, 1.0 - p_l

    def _emission(self, k: int, item_id: str) -> tuple[float, float]:
        t = self._table()
        found = t["items"].get((k, item_id)) if t["items"] else None
        return found if found is not None else (t["params"]["guess"][k], t["params"]["slip"][k])

    def mastery_of(self, state: Mapping[str, Any], skill: str) -> float:
        """P(learned) of `skill` for the student in `state` (its prior when the skill was never practised)."""
        check_fitted(self, "learn_")
        k = self._table()["index"].get(skill, len(self.skills_))
        return self._state_of(state, skill, k)[0]

    def predict_next(self, state: Mapping[str, Any], item_id: str, skill_ids: Sequence[str]) -> float:
        """P(correct) on `item_id` tagged `skill_ids` (mean over its skills; training mean when it has none)."""
        check_fitted(self, "learn_")
        index = self._table()["index"]
        out = []
        for skill in dict.fromkeys(skill_ids):
            k = index.get(skill, len(self.skills_))
            p_l, p_u = self._state_of(state, skill, k)
            g, s = self._emission(k, item_id)
            out.append(p_l * (1.0 - s) + p_u * g)
        return sum(out) / len(out) if out else self.global_mean_

    def update(self, state: dict[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        """Add one response (`item_id`, `skill_ids`, `correct`) to `state` in place and return it. O(skills)."""
        check_fitted(self, "learn_")
        t = self._table()
        index, params = t["index"], t["params"]
        item_id, c = str(response["item_id"]), float(response["correct"])
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"BKT.update: correct must be in [0, 1], got {c!r}")
        for skill in dict.fromkeys(response["skill_ids"]):
            k = index.get(skill, len(self.skills_))
            p_l, p_u = self._state_of(state, skill, k)
            g, s = self._emission(k, item_id)
            num_l = p_l * (c * (1.0 - s) + (1.0 - c) * s)
            num_u = p_u * (c * g + (1.0 - c) * (1.0 - g))
            z = num_l + num_u
            learn, forget = params["learn"][k], params["forget"][k]
            state["p_learned"][skill] = (num_l * (1.0 - forget) + num_u * learn) / z
            state.setdefault("p_unlearned", {})[skill] = (num_l * forget + num_u * (1.0 - learn)) / z
        return state

    # ---- serialization ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Versioned JSON-ready dict: hyperparameters, skills, per-skill parameters (last entry = pooled)."""
        check_fitted(self, "learn_")
        return {
            "model": self.model_name,
            "format_version": self.format_version,
            "params": self.get_params(),
            "skills": list(self.skills_),
            **{name: getattr(self, f"{name}_").tolist() for name in _PARAMS},
            "n_responses": self.n_responses_.tolist(),
            "loglik": self.loglik_.tolist(),
            "n_iter": self.n_iter_.tolist(),
            "sparse_skills": list(self.sparse_skills_),
            "item_guess_slip": self.item_guess_slip_,
            "group_prior": self.group_prior_,
            "global_mean": self.global_mean_,
            "n_no_skill": self.n_no_skill_,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> BKT:
        check_format(dict(payload), cls.model_name, cls.format_version)
        model = cls(**payload["params"])
        model.skills_ = [str(s) for s in payload["skills"]]
        for name in _PARAMS:
            values = np.asarray(payload[name], dtype=float)
            if values.shape != (len(model.skills_) + 1,):
                raise ValueError(f"bkt: {name} has {values.size} values for {len(model.skills_)} skills (+1 pooled)")
            setattr(model, f"{name}_", values)
        model.n_responses_ = np.asarray(payload["n_responses"], dtype=np.int64)
        model.loglik_ = np.asarray(payload["loglik"], dtype=float)
        model.n_iter_ = np.asarray(payload["n_iter"], dtype=np.int64)
        model.sparse_skills_ = list(payload["sparse_skills"])
        model.item_guess_slip_ = payload["item_guess_slip"]
        model.group_prior_ = payload["group_prior"]
        model.global_mean_ = float(payload["global_mean"])
        model.n_no_skill_ = int(payload["n_no_skill"])
        return model


def bkt_forget() -> BKT:
    """BKT with a forget probability per skill (pyBKT's `forgets=True`)."""
    return BKT(forgets=True)


def bkt_idem() -> BKT:
    """KT-IDEM: BKT with guess/slip per (skill, item)."""
    return BKT(item_params=True)
