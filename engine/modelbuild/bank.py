"""The item bank of a built model set: the catalog's items calibrated on the log by `models.irt` (MML-EM).

Priors keep estimates finite and shrink items with little data toward the population: slopes lognormal
(meanlog 0, sdlog 0.5; median a = 1), difficulties N(0, 2^2), the 3PL's c Beta(5, 17). Items with fewer
than `min_responses` responses are left out of the calibration altogether and keep the catalog's
parameters (a = 1, b = 0, c = 0 when the catalog gives none, which is also the priors' centre): with so
little data even a shrunk estimate mostly reflects noise. Catalog items the log never mentions keep theirs
too. The served engine applies the bank to the items it holds (`engine.mastery.adapters.IRTAbility`).
A log in which no item has `min_responses` responses (a large catalog and a short log: 18,000 answers spread over 900
items leave about 20 per item) calibrates nothing: the bank is empty (`BankFit.model` None), every item keeps the
catalog's parameters and the set's abilities are on the catalog's own scale (`served_ability`: a N(0, 1) population,
the engine's default), so the rest of the build (skill model, forgetting, the learning law) is still fitted and served;
the build's diagnostics say so.
Holding the low-data items fixed as anchors (`models.irt` supports it) was not chosen: anchors fix the
scale, a handful of responses would fix it badly, and a catalog without IRT parameters has nothing to anchor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.catalog import Catalog
from engine.data.steering import has_steered, unsteered
from engine.errors import ConfigError, DataError
from engine.mastery import AbilityModel, GridEAP
from engine.mastery.adapters import irt_ability
from engine.modelbuild.fitting import LOCAL, Fitter

MIN_RESPONSES = 30
PRIOR_A = (0.0, 0.5)
PRIOR_B = (0.0, 2.0)
MODELS = ("rasch", "1pl", "2pl", "3pl")


@dataclass(frozen=True)
class BankFit:
    """The fitted `models.irt.IRT` and per-item accounting against the catalog."""

    model: object | None  # models.irt.IRT; None when no item had enough responses to calibrate (module docstring)
    counts: pl.DataFrame  # item_id, n (responses in the log), for every catalog item
    calibrated: tuple[str, ...]  # items whose served parameters come from the calibration
    low_data: tuple[str, ...]  # in the log, fewer than min_responses: keep the catalog's parameters
    absent: tuple[str, ...]  # catalog items with no response in the log
    inestimable: tuple[str, ...]  # calibrated but without a finite estimate (all right/wrong): catalog's parameters


def item_counts(catalog: Catalog, responses: pl.DataFrame) -> pl.DataFrame:
    """(item_id, n) for every catalog item, in catalog order (n = 0 for items absent from the log)."""
    counts = responses.group_by("item_id").agg(pl.len().alias("n"))
    frame = pl.DataFrame({"item_id": list(catalog.item_ids)}, schema={"item_id": pl.Utf8})
    return frame.join(counts, on="item_id", how="left", maintain_order="left").with_columns(
        pl.col("n").fill_null(0).cast(pl.Int64))


def calibration_answers(responses: pl.DataFrame, min_responses: int = MIN_RESPONSES) -> tuple[pl.DataFrame, str | None]:
    """The answers the bank is calibrated on, and a note when the log marks steered answers (`engine.data.steering`):
    the unsteered answers when at least one item has `min_responses` of them, else every answer."""
    if not has_steered(responses):
        return responses, None
    rest = unsteered(responses)
    most = int(rest.group_by("item_id").len()["len"].max() or 0) if rest.height else 0
    if most >= min_responses:
        return rest, (f"item bank: calibrated on the {rest.height} answers the adaptive policy did not choose, of "
                      f"{responses.height} (engine.data.steering)")
    return responses, (f"item bank: no item has {min_responses} answers the adaptive policy did not choose (most: {most}), "
                       "so it is calibrated on every answer, steered ones too (engine.data.steering)")


def fit_bank(catalog: Catalog, responses: pl.DataFrame, model: str = "2pl", min_responses: int = MIN_RESPONSES,
             prior_a: tuple[float, float] = PRIOR_A, prior_b: tuple[float, float] = PRIOR_B,
             standard_errors: str = "auto", fit: Fitter = LOCAL, tol: float | None = None) -> BankFit:
    """Calibrate the catalog's items on `responses` (catalog items only; correct 0/1) (module docstring);
    `fit` runs the calibration (in this process by default, or e.g. on Ray: `engine.modelbuild.fitting`); `tol`: the EM's
    convergence tolerance (None: `models.irt`'s), looser for a quick comparison of models."""
    from models.irt import IRT  # noqa: PLC0415 - models.irt loads numba kernels

    if model not in MODELS:
        raise ConfigError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if min_responses < 1:
        raise ConfigError(f"--min-item-responses must be at least 1, got {min_responses}")
    counts = item_counts(catalog, responses)
    enough = counts.filter(pl.col("n") >= min_responses)["item_id"]
    partial = responses.filter(~pl.col("correct").is_in([0.0, 1.0]))
    if partial.height:
        shown = "; ".join(f"student {r['student_id']!r}, item {r['item_id']!r}, seq {r['seq']}: {r['correct']:g}"
                          for r in partial.head(3).iter_rows(named=True))
        raise DataError(f"the item bank is dichotomous IRT: every score must be 0 or 1; {partial.height} answer(s) are "
                        f"partial scores ({shown}); round them, or give a log of right/wrong answers")
    low = counts.filter((pl.col("n") > 0) & (pl.col("n") < min_responses))["item_id"].to_list()
    absent = counts.filter(pl.col("n") == 0)["item_id"].to_list()
    if enough.len() == 0:  # nothing to calibrate: the catalog's parameters on its own scale (module docstring)
        return BankFit(None, counts, (), tuple(low), tuple(absent), ())
    fitted = responses.filter(pl.col("item_id").is_in(enough.implode()))
    try:
        irt = fit(IRT(model=model, prior_a=None if model in ("rasch", "1pl") else prior_a, prior_b=prior_b,
                      standard_errors=standard_errors, **({} if tol is None else {"tol": tol})), fitted)
    except ValueError as exc:
        raise DataError(f"item calibration failed: {exc}") from None
    bank = irt.bank_
    usable = np.asarray(bank.usable)
    ids = [str(i) for i in bank.item_ids]
    return BankFit(irt, counts, tuple(i for i, ok in zip(ids, usable) if ok), tuple(low), tuple(absent),
                   tuple(i for i, ok in zip(ids, usable) if not ok))


def served_ability(bank: BankFit, catalog: Catalog) -> tuple[AbilityModel, Catalog]:
    """The ability model a set serves from `bank` and the catalog with the item parameters it serves: the calibration's
    population and items, or, when nothing was calibrated, a N(0, 1) population on the catalog's own parameters."""
    if bank.model is None:
        return GridEAP(), catalog
    ability = irt_ability(bank.model)
    return ability, ability.apply_to(catalog)


def uncalibrated_note(bank: BankFit, min_responses: int) -> str | None:
    """The diagnostics' line for a bank that calibrated nothing (None otherwise)."""
    if bank.model is not None:
        return None
    most = int(bank.counts["n"].max() or 0)
    return (f"item bank: no catalog item has {min_responses} or more responses in the log (most: {most}), so none is "
            "calibrated: every item keeps the catalog's parameters and abilities are on the catalog's scale (a N(0, 1) "
            "population); build again once items have that many answers, or lower --min-item-responses")
