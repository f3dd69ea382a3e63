"""The classic logistic learner models as feature sets: IRT-as-LR, AFM, PFA and Best-LR.

In the formulas, s is the student, i the item, K(i) the item's skills, and counts are over the student's
earlier responses only.

- `IRTLR` (Gervet et al. 2020's "IRT", their `-i` features): logit P = b0 + sum_{k in K(i)} alpha_k + beta_i,
  an item difficulty written as its skills' mean difficulty plus the item's own deviation (both
  L2-penalized, so an item seen a few times in training shrinks toward its skills, and an item never seen
  gets its skills' difficulty). Item-only columns (`skill_backoff=False`) are Gervet's exact features;
  on the assistments09 split they give AUC 0.686 against 0.691 with the backoff, because ~17.7k items
  are seen only a handful of times each. There is no student term: test students are unseen in
  training, so the student ability is the population mean; this is the item-difficulty part of Rasch.
- `AFM` (Cen, Koedinger & Junker 2006): logit P = b0 + sum_{k in K(i)} (beta_k + gamma_k * T_sk), with
  T_sk the number of earlier attempts on skill k. The original per-student proficiency theta_s is left
  out for the same reason (unseen test students would get the mean, 0).
- `PFA` (Pavlik, Cen & Koedinger 2009): logit P = b0 + sum_k (beta_k + gamma_k * f(S_sk) + rho_k * f(F_sk)),
  with S / F the earlier successes / failures on skill k and f(x) = log(1 + x) as in Gervet et al. 2020.
  With `recency` = r (default 0.5) each skill also gets recency-weighted success and failure sums
  (the answer j steps back weighs r**(j-1)), as in R-PFA (Galyardt & Goldin 2015), which weights recent
  answers more; `recency=None` is the classic model. On the assistments09 split: 0.714 classic, 0.724
  with recency.
- `BestLR` (Gervet et al. 2020, features `-i -s -ic -sc -tc -w -a`): item and skill one-hots, plus
  log(1 + x) of earlier attempts and wins on the same item, on each skill of the item (one coefficient
  per skill) and in total. Their `-tw` time windows are omitted: assistments09 has no timestamps (all 0),
  where every window holds the whole history and the window columns would only repeat the counts.
"""

from __future__ import annotations

from typing import ClassVar

from models.logistic.design import FeatureSet
from models.logistic.estimator import NEWTON, LogisticKT


class IRTLR(LogisticKT):
    """Item difficulties only (Gervet et al.'s IRT as logistic regression); see the module docstring."""

    model_name: ClassVar[str] = "irt-lr"

    def __init__(self, C: float = 1.0, solver: str = NEWTON, max_iter: int = 1000, tol: float = 1e-6, skill_backoff: bool = True) -> None:
        super().__init__(C=C, solver=solver, max_iter=max_iter, tol=tol)
        self.skill_backoff = skill_backoff

    def feature_set(self) -> FeatureSet:
        return FeatureSet(onehot=("item", "skill") if self.skill_backoff else ("item",))


class AFM(LogisticKT):
    """Additive Factor Model without the student term; see the module docstring."""

    model_name: ClassVar[str] = "afm"

    def feature_set(self) -> FeatureSet:
        return FeatureSet(onehot=("skill",), per_skill=("skill_attempts",), transform="identity")


class PFA(LogisticKT):
    """Performance Factors Analysis with per-skill success and failure counts; see the module docstring."""

    model_name: ClassVar[str] = "pfa"

    def __init__(self, C: float = 1.0, solver: str = NEWTON, max_iter: int = 1000, tol: float = 1e-6, recency: float | None = 0.5) -> None:
        super().__init__(C=C, solver=solver, max_iter=max_iter, tol=tol)
        self.recency = recency

    def feature_set(self) -> FeatureSet:
        if self.recency is None:
            return FeatureSet(onehot=("skill",), per_skill=("skill_wins", "skill_fails"))
        return FeatureSet(
            onehot=("skill",),
            per_skill=("skill_wins", "skill_fails", "skill_wins_r0", "skill_fails_r0"),
            decays=(float(self.recency),),
        )


class BestLR(LogisticKT):
    """Best-LR of Gervet et al. (2020); see the module docstring."""

    model_name: ClassVar[str] = "best-lr"

    def feature_set(self) -> FeatureSet:
        return FeatureSet(
            onehot=("item", "skill"),
            scalar=("item_attempts", "item_wins", "total_attempts", "total_wins"),
            per_skill=("skill_attempts", "skill_wins"),
        )
